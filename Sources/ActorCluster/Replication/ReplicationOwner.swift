extension Replication {
    /// The owner's side of one stream, as a pure state machine: the shell feeds it inputs with the monotonic
    /// time (ns) and carries out the actions it returns; it never reads a clock or touches a socket.
    ///
    /// Phases:
    /// 1. `preparing`: the ballot is sent to every replica and to every other reachable member (`others`).
    ///    Once a majority of the replicas promised, it waits `recoveryGraceMs` (or until everyone asked
    ///    answered) and picks the most up-to-date log among all promises — highest last ballot, then highest
    ///    last index (Raft §5.4.1). A rejection means a replica promised a higher ballot: the owner prepares
    ///    again above it, at most `maxPrepareRounds` times, then reports `fenced`.
    /// 2. `fetching`: reads that log page by page.
    /// 3. `catchingUp`: appends a barrier entry in its own ballot and replicates; when the barrier is
    ///    committed, everything before it is (Raft §5.4.2), and the owner reports `ready` with the log.
    /// 4. `serving`: `propose` appends; an entry is committed when `W` replicas of the current set hold it
    ///    and it carries the owner's ballot (or precedes one that does).
    /// 5. `fenced` / `stopped`: terminal.
    ///
    /// One append is in flight per replica; entries proposed meanwhile go out together in the next one (a
    /// replica's group commit then makes them durable with one fsync).
    public struct Owner: Sendable {
        public enum Phase: Sendable, Hashable {
            case preparing, fetching, catchingUp, serving
            case fenced(by: Ballot)
            case stopped

            public var name: String {
                switch self {
                case .preparing: "preparing"
                case .fetching: "fetching"
                case .catchingUp: "catchingUp"
                case .serving: "serving"
                case .fenced: "fenced"
                case .stopped: "stopped"
                }
            }
        }

        /// What the shell feeds in.
        public enum Input: Sendable, Hashable {
            /// Any time; the machine checks its deadlines (call at `nextWakeupNs`).
            case tick
            /// `from` answered `request` with `reply`.
            case reply(Reply, to: Request, from: NodeIdentity)
            /// `request` to `to` could not be delivered or got no reply (unreachable, timeout, refused call).
            case failed(Request, to: NodeIdentity)
            /// The replica set (and the other members to ask at recovery) changed.
            case replicasChanged(replicas: [NodeIdentity], others: [NodeIdentity])
            /// The stream moved away: stop.
            case stop
        }

        /// What the shell carries out.
        public enum Action: Sendable, Hashable {
            case send(Request, to: NodeIdentity)
            /// Send `to` the page of the owner's snapshot `info` (which the application gave the shell with
            /// `compact`, or which recovery read) from `offset`, at most `maxBytes`: an
            /// `installSnapshot(stream, ballot, info, offset, chunk)` request (Raft §7 InstallSnapshot).
            case sendSnapshot(info: SnapshotInfo, offset: Int, maxBytes: Int, to: NodeIdentity)
            /// Recovery read a page of the stream's snapshot (`offset` 0: a snapshot starts afresh — drop any earlier
            /// pages); the shell keeps them for `ready`.
            case snapshotPage(info: SnapshotInfo, offset: Int, bytes: [UInt8])
            /// Recovery finished: the snapshot the stream starts from (nil: none; its bytes are the pages
            /// received), then the entries after it and before the barrier, in order (barriers excluded).
            case ready(snapshot: SnapshotInfo?, entries: [Entry])
            /// Every entry through `index` is committed.
            case committed(through: UInt64)
            /// A newer owner holds the stream; nothing more is written.
            case fenced(by: Ballot)
            /// Recovery could not read the stream from `replica` (why: unreachable, a snapshot it cannot serve, bytes
            /// that do not match their CRC-32C) and reads it from another replica that holds as much, if any (the
            /// shell logs and counts it).
            case sourceUnusable(NodeIdentity, reason: String)
        }

        private struct Progress: Sendable {
            var nextIndex: UInt64
            var matchIndex: UInt64 = 0
            /// When the request in flight was sent (ns); nil: none.
            var inFlightSince: UInt64?
            /// When the last request was sent or failed (ns), for heartbeats and retries.
            var lastSentNs: UInt64 = 0
            /// The owner's snapshot is being installed on this replica: the bytes it holds so far (Raft §7).
            var snapshotOffset: Int?
            /// When the snapshot page in flight was sent (ns); nil: none.
            var snapshotInFlightSince: UInt64?
            var snapshotLastSentNs: UInt64 = 0
        }

        public let stream: String
        public let me: NodeIdentity
        public let settings: Settings
        /// How many times a prepare is restarted above a rejecting ballot before giving up.
        public static let maxPrepareRounds = 5

        public private(set) var ballot: Ballot
        public private(set) var phase: Phase = .preparing
        public private(set) var replicas: [NodeIdentity]
        /// While the replica set changes (joint consensus, Raft §6): the previous set's reachable members, the
        /// write quorum of the previous set, and the index of the entry that records the new set. Until that
        /// entry is committed, an entry is committed only when `W` of the new set **and** `W` of the previous one
        /// hold it, and appends go to both sets — so no quorum of either set alone can form a view without it.
        /// The previous set is kept by address: a member restarted under a new uid acknowledges for its address.
        /// A recovering owner's barrier may need more than one earlier set (the set the stream last recorded
        /// and, while that one is not known committed, the set before it): each must hold it with its own quorum.
        private var joint: (sets: [(addresses: Set<NodeAddress>, quorum: Int)], configIndex: UInt64)?
        /// The previous sets' members in the current view (those gone cannot acknowledge).
        private var jointMembers: [NodeIdentity] {
            guard let joint else { return [] }
            let all = joint.sets.reduce(into: Set<NodeAddress>()) { $0.formUnion($1.addresses) }
            return Self.unique(replicas + others).filter { all.contains($0.address) }
        }
        /// Where appends go: the replica set, plus the previous one while joint.
        private var targets: [NodeIdentity] { Self.unique(replicas + jointMembers) }
        private var others: [NodeIdentity]
        private var promises: [NodeIdentity: (lastIndex: UInt64, lastBallot: Ballot, commit: UInt64)] = [:]
        /// Members whose promise said their stream directory is not complete yet (`DirectorySync`): they joined a
        /// running cluster and may not know the stream exists, so their promise never counts as "no such stream".
        private var incompleteDirectory: Set<NodeIdentity> = []
        /// The latest replica set any promise reported (`Config`): recovery needs a read quorum of it too.
        private var knownConfig: Config?
        /// The set recorded before `knownConfig` while no promise knows `knownConfig` committed: entries may have
        /// been committed by a quorum of it alone (an owner whose set change was not yet committed when it
        /// stopped), so recovery needs a read quorum of it too (`Reply.promised`'s `previousConfig`).
        private var knownPrevious: Config?
        /// A promise said `knownConfig` is committed (its `previousConfig` was nil).
        private var latestKnownCommitted = false
        private var prepareSent: [NodeIdentity: UInt64] = [:]
        private var quorumAtNs: UInt64?
        private var prepareRounds = 1
        private var fetchSource: NodeIdentity?
        private var fetchTarget: UInt64 = 0
        private var fetchSentNs: UInt64?
        /// Replicas this recovery could not read the stream from (unreachable, a snapshot they cannot serve or
        /// whose bytes do not match its CRC-32C), with why; cleared when it prepares again.
        private var unusableSources: [NodeIdentity: String] = [:]
        /// No replica holding the most up-to-date log could be read: prepare again at this time (ns).
        private var reprepareAtNs: UInt64?
        /// The fetch source's own snapshot cannot be read (damaged there) but its entries can: the snapshot is read
        /// from this other replica instead (`snapshotDonor`), which must hold one through at least
        /// `neededSnapshot.index` (and not beyond the log being read), then the entries after it from the source.
        private var snapshotDonor: NodeIdentity?
        private var neededSnapshot: SnapshotInfo?
        /// Replicas whose snapshot this recovery could not use, with why.
        private var snapshotUnusable: [NodeIdentity: String] = [:]
        /// The entries after `snapshot` (Raft §7: the prefix lives in the snapshot only).
        private var log: [Entry] = []
        /// The snapshot the owner's log starts after (the application's, or the one recovery read).
        public private(set) var snapshot: SnapshotInfo?
        /// Recovery is reading this snapshot and holds its first `received` bytes, whose CRC-32C is `checksum`.
        private var snapshotFetch: (info: SnapshotInfo, received: Int, checksum: UInt32)?
        private var barrierIndex: UInt64 = 0
        public private(set) var commitIndex: UInt64 = 0
        private var progress: [NodeIdentity: Progress] = [:]
        /// The latest replica set this owner recorded in the stream (its barrier, a later set change).
        private var latestRecorded: Config?
        /// The stream directory (`Request.record`): the latest recorded set once committed, which this owner tells
        /// every member in view — replicas, the other members, later joiners — so that a member that never held a
        /// replica still names it in its promises, and a recovering owner whose replicas hold nothing of the stream
        /// waits for a read quorum of that set instead of opening the stream empty.
        public private(set) var announced: Config?
        /// Per member address, the set it acknowledged recording (`Reply.recorded`).
        private var recordAcked: [NodeAddress: Config] = [:]
        /// Per member not yet acknowledging the set it is told, when a `record` was last sent (ns) and whether it is in
        /// flight.
        private var recordSent: [NodeIdentity: (atNs: UInt64, inFlight: Bool)] = [:]

        /// Starts a recovery with ballot `round@me` (the shell passes a round above any it knows of, e.g.
        /// the placement epoch). Returns the machine and the first actions (prepares).
        public static func start(stream: String, me: NodeIdentity, round: UInt64, replicas: [NodeIdentity],
                                 others: [NodeIdentity], settings: Settings, nowNs: UInt64) -> (Owner, [Action]) {
            var o = Owner(stream: stream, me: me, settings: settings, ballot: Ballot(round: min(max(1, round), Ballot.maxRound), node: me),
                          replicas: Self.unique(replicas), others: Self.unique(others.filter { !replicas.contains($0) }))
            let actions = o.sendPrepares(nowNs: nowNs)
            return (o, actions)
        }

        private init(stream: String, me: NodeIdentity, settings: Settings, ballot: Ballot, replicas: [NodeIdentity],
                     others: [NodeIdentity]) {
            self.stream = stream
            self.me = me
            self.settings = settings
            self.ballot = ballot
            self.replicas = replicas
            self.others = others
        }

        /// `live` filled up to `count` with members of `previous` (by address) that it lacks, in `previous`'s order:
        /// a replica set does not shrink because members are down (a node killed, then another: a set shrunk to
        /// two after the first could commit nothing once the second died, even with the first back), only when
        /// live members replace them. A kept member that is down acknowledges nothing; one restarted on its
        /// address is replaced by its new incarnation when the view reports it.
        static func filled(_ live: [NodeIdentity], keeping previous: [NodeIdentity], count: Int) -> [NodeIdentity] {
            guard live.count < count else { return live }
            var out = live
            var held = Set(live.map(\.address))
            for p in previous where out.count < count && held.insert(p.address).inserted { out.append(p) }
            return out
        }

        /// The replica set as recorded: addresses, sorted.
        static func addresses(_ nodes: [NodeIdentity]) -> [NodeAddress] { Set(nodes.map(\.address)).sorted() }

        private static func unique(_ nodes: [NodeIdentity]) -> [NodeIdentity] {
            var seen = Set<NodeIdentity>()
            return nodes.filter { seen.insert($0).inserted }
        }

        /// What a recovering owner still waits for, in words (nil when serving or terminal): the promises it
        /// has and needs from the replica set and from the replica set the stream last recorded.
        public var waitingFor: String? {
            switch phase {
            case .preparing:
                let fromReplicas = replicas.filter { promises[$0] != nil }.count
                var text = "promises from \(fromReplicas) of \(replicas.count) replicas (need \(settings.readQuorum(of: replicas.count)))"
                if let config = knownConfig {
                    let answered = Set(promises.keys.map(\.address))
                    let got = Set(config.members).filter { answered.contains($0) }.count
                    text += ", \(got) of the \(config.members.count) recorded replicas \(config.members.map(\.description).joined(separator: ",")) (need \(settings.readQuorum(of: config.members.count)))"
                    if let before = knownPrevious {
                        let got = Set(before.members).filter { answered.contains($0) }.count
                        text += ", \(got) of the \(before.members.count) replicas recorded before them \(before.members.map(\.description).joined(separator: ",")) (need \(settings.readQuorum(of: before.members.count)))"
                    }
                } else {
                    let asked = Set((replicas + others).map(\.address))
                    let complete = Set(promises.keys.filter { !incompleteDirectory.contains($0) }.map(\.address)).intersection(asked)
                    text += ", no recorded set named: \(complete.count) of \(asked.count) members answered with a complete stream directory (need \(asked.count / 2 + 1))"
                }
                return text
            case .fetching:
                let unusable = unusableSources.keys.sorted().map { "\($0): \(unusableSources[$0] ?? "")" }
                    + snapshotUnusable.keys.sorted().map { "\($0) (its snapshot): \(snapshotUnusable[$0] ?? "")" }
                let failed = unusable.isEmpty ? "" : "; could not read from \(unusable.joined(separator: "; "))"
                guard let source = fetchSource else {
                    return "no replica holding the stream through \(fetchTarget) could be read; preparing again" + failed
                }
                if let f = snapshotFetch {
                    return "reading the snapshot from \(snapshotDonor ?? source) (\(f.received) of \(f.info.size) bytes)" + failed
                }
                return "reading the log from \(source) (\(lastIndex) of \(fetchTarget) entries)" + failed
            case .catchingUp: return "a write quorum for its barrier (commit \(commitIndex) of \(barrierIndex))"
            case .serving, .fenced, .stopped: return nil
            }
        }

        /// How the last recovery decided, in words (for the log line of a finished recovery): each promise as
        /// `node lastIndex@lastBallot c=commit`, the recorded replica set it also needed, the replica it read from
        /// and how far.
        public var recoverySummary: String {
            let each = promises.sorted { $0.key < $1.key }.map { n, p in "\(n) \(p.lastIndex)@\(p.lastBallot) c=\(p.commit)" }
            func text(_ c: Config) -> String { c.members.map(\.description).joined(separator: ",") + " at \(c.index)@\(c.ballot)" }
            let recorded = knownConfig.map(text) ?? "none"
            let before = knownPrevious.map { "; and the set before it [\(text($0))]" } ?? ""
            return "promises [\(each.joined(separator: "; "))]; recorded set [\(recorded)]\(before); read from \(fetchSource.map { "\($0)" } ?? "-") through \(fetchTarget); barrier at \(barrierIndex)"
        }

        /// The last entry the owner's snapshot covers (0: none).
        public var snapshotIndex: UInt64 { snapshot?.index ?? 0 }

        /// The last entry's index (the snapshot's entries, the committed ones and those in flight).
        public var lastIndex: UInt64 { snapshotIndex + UInt64(log.count) }

        /// Entries the owner holds in memory: those after its snapshot.
        public var heldEntries: Int { log.count }

        private func entry(_ index: UInt64) -> Entry { log[Int(index - snapshotIndex - 1)] }

        /// The ballot of entry `index`, which is 0, the snapshot's or a held one.
        private func ballot(at index: UInt64) -> Ballot {
            if index == 0 { return .zero }
            if index == snapshotIndex, let snapshot { return snapshot.ballot }
            return entry(index).ballot
        }

        /// The application's snapshot through `index` (≤ `commitIndex`, above the current snapshot's): `size`
        /// bytes with CRC-32C `checksum`, which the shell holds from now on. The owner drops the entries it
        /// covers and installs it on every replica in pages (Raft §7; appends to replicas that hold the entries
        /// after it go on meanwhile). Returns the sends, or nil (nothing changes) when not serving or `index`
        /// is not committed or not above the current snapshot.
        public mutating func compact(through index: UInt64, size: Int, checksum: UInt32, nowNs: UInt64) -> (info: SnapshotInfo, actions: [Action])? {
            guard phase == .serving, index > snapshotIndex, index <= commitIndex, size >= 0 else { return nil }
            var config = snapshot?.config
            for i in stride(from: index, to: snapshotIndex, by: -1) {
                let e = entry(i)
                if let members = e.replicaSet { config = Config(members: members, ballot: e.ballot, index: e.index); break }
            }
            let info = SnapshotInfo(index: index, ballot: entry(index).ballot, config: config, size: size, checksum: checksum)
            log.removeFirst(Int(index - snapshotIndex))
            snapshot = info
            var actions: [Action] = []
            for r in targets.sorted() {
                guard var p = progress[r] else { continue }
                p.snapshotOffset = 0
                p.snapshotInFlightSince = nil
                progress[r] = p
                actions += sendSnapshotPage(to: r, nowNs: nowNs)
            }
            return (info, actions)
        }

        /// The write quorum for the current replica set.
        public var writeQuorum: Int { settings.quorum(of: replicas.count) }

        /// Appends `payload` (not empty) as the next entry. Returns its index and the sends, or nil when not
        /// serving (the caller reports `Failure.notServing`).
        public mutating func propose(_ payload: [UInt8], nowNs: UInt64) -> (index: UInt64, actions: [Action])? {
            guard phase == .serving, !payload.isEmpty else { return nil }
            let index = lastIndex + 1
            log.append(Entry(index: index, ballot: ballot, payload: payload))
            var actions: [Action] = []
            for r in targets where progress[r]?.inFlightSince == nil {
                actions += sendAppend(to: r, nowNs: nowNs)
            }
            return (index, actions)
        }

        public mutating func handle(_ input: Input, nowNs: UInt64) -> [Action] {
            switch phase {
            case .fenced, .stopped: return []
            default: break
            }
            switch input {
            case .stop:
                phase = .stopped
                return []
            case .tick:
                return onTick(nowNs: nowNs)
            case .replicasChanged(let r, let o):
                let before = Self.addresses(replicas)
                let previous = replicas
                replicas = Self.filled(Self.unique(r), keeping: previous, count: settings.replicas)
                let held = Set(replicas.map(\.address))
                others = Self.unique(o.filter { !held.contains($0.address) })
                var actions: [Action] = []
                if phase == .preparing {
                    for n in replicas + others where prepareSent[n] == nil { actions += sendPrepare(to: n, nowNs: nowNs) }
                    actions += maybeDecide(nowNs: nowNs)
                } else if phase == .catchingUp || phase == .serving {
                    // A new replica set is recorded in the stream (so later recoveries need a quorum of it), and
                    // committed jointly with the previous set (members of it that are gone cannot ack: the others must).
                    if phase == .serving && Self.addresses(replicas) != before {
                        let index = lastIndex + 1
                        log.append(Entry(index: index, ballot: ballot, payload: [], replicaSet: Self.addresses(replicas)))
                        latestRecorded = Config(members: Self.addresses(replicas), ballot: ballot, index: index)
                        let previousAddresses = Set(previous.map(\.address))
                        let old = joint?.sets ?? [(previousAddresses, settings.quorum(of: previousAddresses.count))]
                        joint = (old, index)
                    }
                    progress = progress.filter { targets.contains($0.key) }
                    for r in targets where progress[r] == nil { progress[r] = Progress(nextIndex: lastIndex + 1) }
                    for r in targets where progress[r]?.inFlightSince == nil { actions += sendAppend(to: r, nowNs: nowNs) }
                    actions += advanceCommit(nowNs: nowNs)
                }
                // Members that joined learn the stream's committed set; those gone are forgotten.
                let inView = Set(recordTargets)
                recordSent = recordSent.filter { inView.contains($0.key) }
                let addresses = Set(inView.map(\.address))
                recordAcked = recordAcked.filter { addresses.contains($0.key) }
                return actions + sendRecords(nowNs: nowNs)
            case .failed(let request, let to):
                guard request.ballot == ballot else { return [] }
                switch request {
                case .prepare:
                    // Resent by the tick after the request timeout.
                    return []
                case .fetch:
                    guard phase == .fetching, to == fetchSource else { return [] }
                    return chooseFetchSourceAfterFailure(of: to, reason: "unreachable", nowNs: nowNs)
                case .append:
                    if var p = progress[to] {
                        p.inFlightSince = nil
                        p.lastSentNs = nowNs
                        progress[to] = p
                    }
                    return []
                case .fetchSnapshot:
                    guard phase == .fetching else { return [] }
                    if to == snapshotDonor { return chooseSnapshotDonor(after: to, reason: "unreachable", nowNs: nowNs) }
                    guard to == fetchSource else { return [] }
                    return chooseFetchSourceAfterFailure(of: to, reason: "unreachable", nowNs: nowNs)
                case .installSnapshot(_, _, let info, _, _):
                    if var p = progress[to], info == snapshot {
                        p.snapshotInFlightSince = nil
                        p.snapshotLastSentNs = nowNs
                        progress[to] = p
                    }
                    return []
                case .record:
                    // Sent again after a heartbeat interval (`onTick`).
                    if recordSent[to] != nil { recordSent[to] = (nowNs, false) }
                    return []
                }
            case .reply(let reply, let request, let from):
                guard request.ballot == ballot else { return [] }
                if case .rejected(let promised) = reply { return onRejected(promised, nowNs: nowNs) }
                switch (request, reply) {
                case (.prepare, .promised(let lastIndex, let lastBallot, let commit, let config, let previousConfig, let complete)):
                    guard phase == .preparing else { return [] }
                    promises[from] = (lastIndex, lastBallot, commit)
                    if complete { incompleteDirectory.remove(from) } else { incompleteDirectory.insert(from) }
                    if let config, config.isNewer(than: knownConfig) {
                        knownConfig = config
                        knownPrevious = previousConfig
                        latestKnownCommitted = previousConfig == nil
                    } else if let config, config == knownConfig, !latestKnownCommitted {
                        if let previousConfig {
                            // The newest set any replica knows committed.
                            if previousConfig.isNewer(than: knownPrevious) { knownPrevious = previousConfig }
                        } else {
                            // A replica knows the latest set committed: the one before it no longer matters.
                            knownPrevious = nil
                            latestKnownCommitted = true
                        }
                    }
                    let decided = maybeDecide(nowNs: nowNs)
                    return decided + sendRecords(nowNs: nowNs)
                case (.fetch(_, _, let after, _), .entries(let page)):
                    return onFetched(page, after: after, from: from, nowNs: nowNs)
                case (.fetch(_, _, let after, _), .compacted(let info)):
                    guard phase == .fetching, from == fetchSource, after == lastIndex, info.index > lastIndex else { return [] }
                    fetchSentNs = nil
                    guard info.size <= settings.maxSnapshotBytes else {
                        return chooseFetchSourceAfterFailure(of: from, reason: "its snapshot of \(info.size) bytes is above the limit", nowNs: nowNs)
                    }
                    if snapshotFetch?.info != info { snapshotFetch = (info, 0, 0) }
                    return sendFetch(nowNs: nowNs)
                case (.fetchSnapshot(_, _, let index, let offset, _), .snapshotPage(let info, let at, let bytes)):
                    return onSnapshotPage(info: info, at: at, bytes: bytes, asked: (index, offset), from: from, nowNs: nowNs)
                case (.fetchSnapshot, .refused(let reason)):
                    guard phase == .fetching else { return [] }
                    if from == snapshotDonor { return chooseSnapshotDonor(after: from, reason: reason, nowNs: nowNs) }
                    guard from == fetchSource else { return [] }
                    return chooseFetchSourceAfterFailure(of: from, reason: reason, snapshotOnly: true, nowNs: nowNs)
                case (.installSnapshot(_, _, let info, _, _), .snapshotReceived(let received, let installed)):
                    guard var p = progress[from], info == snapshot, p.snapshotOffset != nil else { return [] }
                    p.snapshotInFlightSince = nil
                    if installed {
                        p.snapshotOffset = nil
                        p.matchIndex = max(p.matchIndex, info.index)
                        p.nextIndex = max(p.nextIndex, info.index + 1)
                        progress[from] = p
                        var actions = advanceCommit(nowNs: nowNs)
                        if progress[from].map({ $0.inFlightSince == nil }) == true { actions += sendAppend(to: from, nowNs: nowNs) }
                        return actions
                    }
                    p.snapshotOffset = max(0, min(received, info.size))
                    progress[from] = p
                    return sendSnapshotPage(to: from, nowNs: nowNs)
                case (.installSnapshot(_, _, let info, _, _), .refused):
                    // A damaged page: start the snapshot again (after a heartbeat interval).
                    guard var p = progress[from], info == snapshot else { return [] }
                    p.snapshotInFlightSince = nil
                    p.snapshotOffset = 0
                    p.snapshotLastSentNs = nowNs
                    progress[from] = p
                    return []
                case (.append(_, _, let prevIndex, _, let sent, _), .accepted(let match)):
                    guard var p = progress[from] else { return [] }
                    p.inFlightSince = nil
                    if match >= prevIndex + UInt64(sent.count), match <= lastIndex {
                        p.matchIndex = max(p.matchIndex, match)
                        p.nextIndex = max(p.nextIndex, match + 1)
                    }
                    progress[from] = p
                    var actions = advanceCommit(nowNs: nowNs)
                    if progress[from].map({ $0.nextIndex <= lastIndex }) == true {
                        actions += sendAppend(to: from, nowNs: nowNs)
                    }
                    return actions
                case (.record(_, _, let config), .recorded(let held)):
                    if held == config || held.isNewer(than: config) {
                        recordAcked[from.address] = config
                        recordSent[from] = nil
                    } else if recordSent[from] != nil {
                        recordSent[from] = (nowNs, false)
                    }
                    return []
                case (.append, .mismatch(let theirLast, let theirCommit)):
                    guard var p = progress[from] else { return [] }
                    p.inFlightSince = nil
                    p.nextIndex = min(p.nextIndex > 1 ? p.nextIndex - 1 : 1, min(theirLast, theirCommit) + 1)
                    progress[from] = p
                    return sendAppend(to: from, nowNs: nowNs)
                default:
                    return []
                }
            }
        }

        /// When the machine next needs a `tick` (monotonic ns), or nil.
        public var nextWakeupNs: UInt64? {
            let timeout = UInt64(settings.requestTimeoutMs) * 1_000_000
            let heartbeat = UInt64(settings.heartbeatMs) * 1_000_000
            var next: UInt64?
            func consider(_ t: UInt64) { next = min(next ?? t, t) }
            switch phase {
            case .preparing:
                // Only prepares still unanswered to members still asked: an answered one needs no resend, and a
                // deadline that `onTick` would not act on would wake the shell at once, again and again.
                // And members whose directory was incomplete: asked again, they may have read it since.
                for n in replicas + others where promises[n] == nil || incompleteDirectory.contains(n) {
                    if let at = prepareSent[n] { consider(at &+ timeout) }
                }
                if let q = quorumAtNs { consider(q &+ UInt64(settings.recoveryGraceMs) * 1_000_000) }
            case .fetching:
                if let f = fetchSentNs { consider(f &+ timeout) }
                if let at = reprepareAtNs { consider(at) }
            case .catchingUp, .serving:
                for (_, p) in progress {
                    if let since = p.inFlightSince { consider(since &+ timeout) } else { consider(p.lastSentNs &+ heartbeatInterval(p, heartbeat)) }
                    if p.snapshotOffset != nil {
                        if let since = p.snapshotInFlightSince { consider(since &+ timeout) } else { consider(p.snapshotLastSentNs &+ heartbeat) }
                    }
                }
            case .fenced, .stopped:
                return nil
            }
            // Only records not yet acknowledged are kept (none once every member has the set): nothing is built here,
            // which runs after every reply.
            if let config = directoryConfig {
                for (n, sent) in recordSent where recordAcked[n.address] != config {
                    consider(sent.atNs &+ (sent.inFlight ? timeout : heartbeat))
                }
            }
            return next
        }

        // MARK: - Stream directory

        /// Every member in view, the owner's node included: each is told the committed replica set.
        private var recordTargets: [NodeIdentity] { Self.unique(replicas + others + [me]) }

        /// The set members are told: the owner's own latest set once committed (`announced`); before that — while
        /// it recovers, or cannot (its only copy unreadable) — the latest set a promise reported with no fallback
        /// (known committed, or a stream's first set), so that members that join meanwhile learn of the stream too
        /// (breaker, 2026-12-01: new nodes joined a node whose office could not recover, and opened it empty once
        /// that node died). Nil when terminal, when none is known, or when the set carries a ballot above this owner's
        /// (a member was told it by a newer owner; this one will be fenced or prepare again above it).
        private var directoryConfig: Config? {
            switch phase {
            case .fenced, .stopped: return nil
            default:
                guard let config = announced ?? (latestKnownCommitted ? knownConfig : nil), config.ballot <= ballot else { return nil }
                return config
            }
        }

        /// `record`s of `directoryConfig` to members that have not acknowledged it, none in flight to them, and none
        /// sent within a heartbeat interval (a member that failed to answer is asked again then).
        private mutating func sendRecords(nowNs: UInt64) -> [Action] {
            guard let config = directoryConfig else { return [] }
            let heartbeat = UInt64(settings.heartbeatMs) * 1_000_000
            var actions: [Action] = []
            for n in recordTargets where recordAcked[n.address] != config {
                if let sent = recordSent[n], sent.inFlight || nowNs &- sent.atNs < heartbeat { continue }
                recordSent[n] = (nowNs, true)
                actions.append(.send(.record(stream: stream, ballot: ballot, config: config), to: n))
            }
            return actions
        }

        /// Members in view that have acknowledged the set they are told (`directoryConfig`), by address (status, tests).
        public var recordedBy: [NodeAddress] {
            guard let config = directoryConfig else { return [] }
            return recordAcked.filter { $0.value == config }.keys.sorted()
        }

        // MARK: - Recovery

        private mutating func sendPrepares(nowNs: UInt64) -> [Action] {
            (replicas + others).flatMap { sendPrepare(to: $0, nowNs: nowNs) }
        }

        private mutating func sendPrepare(to node: NodeIdentity, nowNs: UInt64) -> [Action] {
            prepareSent[node] = nowNs
            return [.send(.prepare(stream: stream, ballot: ballot), to: node)]
        }

        private mutating func onRejected(_ promised: Ballot, nowNs: UInt64) -> [Action] {
            guard promised > ballot else { return [] }
            if phase == .preparing && prepareRounds < Self.maxPrepareRounds && promised.round < Ballot.maxRound {
                // Most often a promise to the previous owner: prepare again above it.
                prepareRounds += 1
                ballot = Ballot(round: promised.round + 1, node: me)
                promises = [:]
                incompleteDirectory = []
                knownConfig = nil
                knownPrevious = nil
                latestKnownCommitted = false
                prepareSent = [:]
                quorumAtNs = nil
                return sendPrepares(nowNs: nowNs)
            }
            phase = .fenced(by: promised)
            return [.fenced(by: promised)]
        }

        private mutating func maybeDecide(nowNs: UInt64) -> [Action] {
            guard phase == .preparing else { return [] }
            guard hasReadQuorum else {
                // The quorum was lost again (the replica set changed, a newer recorded set came to light): the grace
                // period starts again once it is back.
                quorumAtNs = nil
                return []
            }
            if quorumAtNs == nil { quorumAtNs = nowNs }
            let asked = replicas + others
            let allAnswered = asked.allSatisfy { promises[$0] != nil }
            let graceOver = nowNs &- (quorumAtNs ?? nowNs) >= UInt64(settings.recoveryGraceMs) * 1_000_000
            guard allAnswered || graceOver else { return [] }
            // The most up-to-date log (Raft §5.4.1): highest last ballot, then highest last index.
            let best = promises.max { a, b in
                (a.value.lastBallot, a.value.lastIndex, b.key) < (b.value.lastBallot, b.value.lastIndex, a.key)
            }
            guard let best, best.value.lastIndex > 0 else { return beginCatchUp(nowNs: nowNs) }
            phase = .fetching
            fetchSource = best.key
            fetchTarget = best.value.lastIndex
            return sendFetch(nowNs: nowNs)
        }

        /// Promises from a read quorum of the replica set, and of the replica set the stream last recorded (or,
        /// with none recorded, from a majority of every member asked).
        private var hasReadQuorum: Bool {
            let fromReplicas = replicas.filter { promises[$0] != nil }.count
            guard fromReplicas >= settings.readQuorum(of: replicas.count) else { return false }
            // And a read quorum of the replica set the stream last recorded, counted by address (its members may
            // have restarted under new uids): a node that restarts alone, or with a minority of that set, waits.
            if let config = knownConfig {
                let answered = Set(promises.keys.map(\.address))
                for c in [config] + (knownPrevious.map { [$0] } ?? []) {
                    let members = Set(c.members)
                    guard members.filter({ answered.contains($0) }).count >= settings.readQuorum(of: members.count) else { return false }
                }
                return true
            }
            // No answer names a recorded set: the stream is new — or its first set is held only by members
            // that have not answered. A majority of every member asked must answer (the first set is
            // committed by such a majority too, `beginCatchUp`), so the two cannot miss each other. A member
            // whose directory is not complete (it joined after the set was recorded, and has not read the
            // directory yet) is not counted: its silence says nothing about the stream.
            // With nobody but this node asked (a stream of its own, e.g. a node-local queue), only this node can
            // have recorded the stream: its own answer counts whatever its directory says.
            let asked = Set((replicas + others).map(\.address))
            let counted = asked == [me.address] ? Array(promises.keys) : promises.keys.filter { !incompleteDirectory.contains($0) }
            let answered = Set(counted.map(\.address)).intersection(asked)
            return answered.count >= asked.count / 2 + 1
        }

        private mutating func sendFetch(nowNs: UInt64) -> [Action] {
            guard let source = fetchSource else { return [] }
            fetchSentNs = nowNs
            if let f = snapshotFetch {
                return [.send(.fetchSnapshot(stream: stream, ballot: ballot, index: f.info.index, offset: f.received,
                                             maxBytes: settings.maxBatchBytes), to: snapshotDonor ?? source)]
            }
            return [.send(.fetch(stream: stream, ballot: ballot, after: lastIndex, maxBytes: settings.maxBatchBytes), to: source)]
        }

        /// A page of the snapshot recovery reads (Raft §7). A page of another snapshot (the source compacted
        /// meanwhile, or another source) starts that one afresh; once complete, the owner's log starts after it.
        private mutating func onSnapshotPage(info: SnapshotInfo, at: Int, bytes: [UInt8], asked: (index: UInt64, offset: Int),
                                             from: NodeIdentity, nowNs: UInt64) -> [Action] {
            guard phase == .fetching, from == (snapshotDonor ?? fetchSource), let f = snapshotFetch, asked.index == f.info.index,
                  asked.offset == f.received else { return [] }
            fetchSentNs = nil
            var actions: [Action] = []
            if let needed = neededSnapshot, snapshotDonor == from, info != f.info {
                // A donor serves the snapshot it holds: usable when it covers at least what the source's did (the
                // source holds every entry after that) and no more than the log being read.
                guard info.index >= needed.index, info.index <= fetchTarget, info.size <= settings.maxSnapshotBytes, at == 0 else {
                    return chooseSnapshotDonor(after: from, reason: "its \(info) does not cover \(needed.index) … \(fetchTarget)", nowNs: nowNs)
                }
                snapshotFetch = (info, 0, 0)
            } else if info != f.info {
                // The source holds another snapshot (it compacted meanwhile, or the fetch moved to another source):
                // read that one from its start if it covers more than the log fetched so far, else fetch entries.
                snapshotFetch = nil
                guard info.index > lastIndex, info.size <= settings.maxSnapshotBytes, at == 0 else { return sendFetch(nowNs: nowNs) }
                snapshotFetch = (info, 0, 0)
            }
            guard at == snapshotFetch!.received, at + bytes.count <= info.size, !bytes.isEmpty || info.size == 0 else {
                return sendFetch(nowNs: nowNs)
            }
            let checksum = CRC32C.checksum(bytes, seed: snapshotFetch!.checksum)
            if at + bytes.count == info.size, checksum != info.checksum {
                // The source's copy is damaged (its bytes do not add up to the snapshot's CRC-32C): nothing of it is
                // used; the snapshot is read again, from its start, from another replica.
                let why = "its snapshot through \(info.index) does not match its CRC-32C"
                if from == snapshotDonor { return chooseSnapshotDonor(after: from, reason: why, nowNs: nowNs) }
                return chooseFetchSourceAfterFailure(of: from, reason: why, snapshotOnly: true, nowNs: nowNs)
            }
            snapshotFetch!.received += bytes.count
            snapshotFetch!.checksum = checksum
            actions.append(.snapshotPage(info: info, offset: at, bytes: bytes))
            if snapshotFetch!.received == info.size {
                // Entries it covers are committed: the log starts after it (read from the source, after a donor's).
                snapshotFetch = nil
                snapshotDonor = nil
                neededSnapshot = nil
                log = []
                snapshot = info
                commitIndex = max(commitIndex, info.index)
                if lastIndex >= fetchTarget { return actions + beginCatchUp(nowNs: nowNs) }
            }
            return actions + sendFetch(nowNs: nowNs)
        }

        private mutating func onFetched(_ page: [Entry], after: UInt64, from: NodeIdentity, nowNs: UInt64) -> [Action] {
            guard phase == .fetching, from == fetchSource, after == lastIndex, snapshotFetch == nil else { return [] }
            fetchSentNs = nil
            // Only a contiguous continuation is taken; a page that does not continue the log ends the fetch.
            var took = 0
            for e in page {
                guard e.index == lastIndex + 1, e.index > snapshotIndex else { break }
                log.append(e)
                took += 1
            }
            if lastIndex >= fetchTarget { return beginCatchUp(nowNs: nowNs) }
            if took == 0 {
                // The source promised entries through `fetchTarget` but no longer serves the next one: its log
                // changed since. Serving the shorter log would lose entries: read them elsewhere or prepare again.
                return chooseFetchSourceAfterFailure(of: from, reason: "its log no longer holds entry \(lastIndex + 1) of the \(fetchTarget) it promised",
                                                     nowNs: nowNs)
            }
            return sendFetch(nowNs: nowNs)
        }

        /// The fetch source failed (`reason`: unreachable, a snapshot it cannot serve, bytes that do not match their
        /// CRC-32C). Only a replica whose log ends at the same (ballot, index) holds the same entries (Raft §5.3 Log
        /// Matching), so the fetch moves to such a one not yet found unusable, reading any snapshot again from its
        /// start; a less up-to-date replica would lose entries, so with none left the owner waits a request
        /// timeout and prepares again (the promises then show who holds what) — it stays unavailable rather
        /// than serve a shorter log.
        private mutating func chooseFetchSourceAfterFailure(of failed: NodeIdentity, reason: String, snapshotOnly: Bool = false,
                                                            nowNs: UInt64) -> [Action] {
            guard let best = promises[failed] else { return [] }
            unusableSources[failed] = String(reason.prefix(300))
            fetchSentNs = nil
            let failedSnapshot = snapshotFetch?.info
            snapshotFetch = nil
            snapshotDonor = nil
            neededSnapshot = nil
            let note = Action.sourceUnusable(failed, reason: unusableSources[failed] ?? reason)
            let same = promises.filter { unusableSources[$0.key] == nil && $0.value.lastBallot == best.lastBallot && $0.value.lastIndex == best.lastIndex }
            if let next = same.keys.sorted().first {
                fetchSource = next
                return [note] + sendFetch(nowNs: nowNs)
            }
            if snapshotOnly, let needed = failedSnapshot, lastIndex < needed.index {
                // No other replica holds as much, but this one's entries after its snapshot are readable: its
                // snapshot may come from another replica whose snapshot covers at least as much (committed
                // entries are the same on every replica that holds them, Raft §5.3; the most up-to-date log holds
                // them all, §5.4.1), then the entries after it from this one.
                unusableSources[failed] = nil
                snapshotUnusable[failed] = String(reason.prefix(300))
                neededSnapshot = needed
                return [note] + chooseSnapshotDonor(after: nil, reason: nil, nowNs: nowNs)
            }
            fetchSource = nil
            reprepareAtNs = nowNs &+ UInt64(settings.requestTimeoutMs) * 1_000_000
            return [note]
        }

        /// Asks the next replica not yet found unusable for its snapshot (`neededSnapshot` at least), after `failed`
        /// (with why) could not give one; with none left, prepares again after a request timeout.
        private mutating func chooseSnapshotDonor(after failed: NodeIdentity?, reason: String?, nowNs: UInt64) -> [Action] {
            var actions: [Action] = []
            if let failed, let reason {
                snapshotUnusable[failed] = String(reason.prefix(300))
                actions.append(.sourceUnusable(failed, reason: reason))
            }
            fetchSentNs = nil
            snapshotFetch = nil
            snapshotDonor = nil
            guard let needed = neededSnapshot, let source = fetchSource,
                  let donor = promises.keys.filter({ $0 != source && snapshotUnusable[$0] == nil && unusableSources[$0] == nil }).sorted().first else {
                neededSnapshot = nil
                fetchSource = nil
                reprepareAtNs = nowNs &+ UInt64(settings.requestTimeoutMs) * 1_000_000
                return actions
            }
            snapshotDonor = donor
            snapshotFetch = (needed, 0, 0)
            return actions + sendFetch(nowNs: nowNs)
        }

        /// Back to `preparing` with a fresh round of promises (the fetch found no readable up-to-date replica).
        private mutating func prepareAgain(nowNs: UInt64) -> [Action] {
            phase = .preparing
            log = []
            snapshot = nil
            snapshotFetch = nil
            commitIndex = 0
            promises = [:]
            incompleteDirectory = []
            knownConfig = nil
            knownPrevious = nil
            latestKnownCommitted = false
            prepareSent = [:]
            quorumAtNs = nil
            fetchSource = nil
            fetchSentNs = nil
            unusableSources = [:]
            reprepareAtNs = nil
            snapshotDonor = nil
            neededSnapshot = nil
            snapshotUnusable = [:]
            return sendPrepares(nowNs: nowNs)
        }

        private mutating func beginCatchUp(nowNs: UInt64) -> [Action] {
            phase = .catchingUp
            if let config = knownConfig, replicas.count < settings.replicas {
                // Members of the recorded set that are down now stay in it (`filled`), reached at their address
                // (any incarnation) until the view reports them.
                let known = Self.unique(replicas + others + promises.keys.sorted())
                let recorded = config.members.map { a in known.first { $0.address == a } ?? NodeIdentity(address: a, uid: 0) }
                replicas = Self.filled(replicas, keeping: recorded, count: settings.replicas)
                let held = Set(replicas.map(\.address))
                others = others.filter { !held.contains($0.address) }
            }
            barrierIndex = lastIndex + 1
            log.append(Entry(index: barrierIndex, ballot: ballot, payload: [], replicaSet: Self.addresses(replicas)))
            latestRecorded = Config(members: Self.addresses(replicas), ballot: ballot, index: barrierIndex)
            // The stream last recorded another set: the barrier (the new set) is committed jointly with it. No set
            // recorded yet: jointly with a majority of every member asked, so that a later owner that finds no
            // recorded set (it asks such a majority) cannot miss this one.
            if let config = knownConfig {
                // And with the set before it while that one is not known committed (`previousConfig`).
                let mine = Set(Self.addresses(replicas))
                let earlier = ([config] + (knownPrevious.map { [$0] } ?? [])).map { Set($0.members) }.filter { $0 != mine }
                if !earlier.isEmpty {
                    joint = (earlier.map { ($0, settings.quorum(of: $0.count)) }, barrierIndex)
                }
            } else {
                let everyone = Set((replicas + others).map(\.address))
                joint = ([(everyone, everyone.count / 2 + 1)], barrierIndex)
            }
            var actions: [Action] = []
            for r in targets {
                // Start where the replica's committed prefix ends (it matches ours), or optimistic at the end.
                let start: UInt64
                if let p = promises[r] { start = min(p.lastIndex, p.commit, barrierIndex - 1) + 1 } else { start = barrierIndex }
                progress[r] = Progress(nextIndex: start)
                actions += sendAppend(to: r, nowNs: nowNs)
            }
            return actions + advanceCommit(nowNs: nowNs)
        }

        // MARK: - Replication

        private mutating func sendAppend(to node: NodeIdentity, nowNs: UInt64) -> [Action] {
            guard var p = progress[node] else { return [] }
            let next = max(1, min(p.nextIndex, lastIndex + 1))
            if next <= snapshotIndex {
                // The replica needs entries only the snapshot holds: install it first (Raft §7); its pages carry the
                // ballot, so the replica still learns of this owner.
                p.lastSentNs = nowNs
                if p.snapshotOffset == nil { p.snapshotOffset = 0 }
                progress[node] = p
                return p.snapshotInFlightSince == nil ? sendSnapshotPage(to: node, nowNs: nowNs) : []
            }
            let prevIndex = next - 1
            let prevBallot = ballot(at: prevIndex)
            var batch: [Entry] = []
            var used = 0
            var i = Int(next - snapshotIndex) - 1
            while i < log.count {
                let e = log[i]
                if !batch.isEmpty && used + e.payload.count > settings.maxBatchBytes { break }
                batch.append(e)
                used += e.payload.count
                i += 1
            }
            p.nextIndex = next
            p.inFlightSince = nowNs
            p.lastSentNs = nowNs
            progress[node] = p
            return [.send(.append(stream: stream, ballot: ballot, prevIndex: prevIndex, prevBallot: prevBallot,
                                  entries: batch, commitIndex: commitIndex), to: node)]
        }

        /// The next page of the owner's snapshot to `node`, if one is due and none is in flight.
        private mutating func sendSnapshotPage(to node: NodeIdentity, nowNs: UInt64) -> [Action] {
            guard let info = snapshot, var p = progress[node], let offset = p.snapshotOffset, p.snapshotInFlightSince == nil else { return [] }
            p.snapshotInFlightSince = nowNs
            p.snapshotLastSentNs = nowNs
            progress[node] = p
            return [.sendSnapshot(info: info, offset: offset, maxBytes: settings.maxBatchBytes, to: node)]
        }

        /// How long a replica with nothing in flight waits for a heartbeat: `heartbeatMs`.
        private func heartbeatInterval(_ p: Progress, _ heartbeat: UInt64) -> UInt64 {
            // Not stretched when idle: the heartbeat is also how a paused owner learns it was fenced, and until then it
            // answers reads from memory (a 5 s idle interval let a stale office answer "unknown case" in CI).
            heartbeat
        }

        private mutating func advanceCommit(nowNs: UInt64) -> [Action] {
            let w = writeQuorum
            var newCommit = commitIndex
            var i = lastIndex
            while i > commitIndex && i > snapshotIndex {
                let holders = replicas.filter { (progress[$0]?.matchIndex ?? 0) >= i }.count
                let jointHolders = joint.map { j in
                    j.sets.allSatisfy { set in
                        jointMembers.filter { set.addresses.contains($0.address) && (progress[$0]?.matchIndex ?? 0) >= i }.count >= set.quorum
                    }
                } ?? true
                if holders >= w && jointHolders && entry(i).ballot == ballot {
                    newCommit = i
                    break
                }
                i -= 1
            }
            guard newCommit > commitIndex else { return [] }
            commitIndex = newCommit
            if let j = joint, commitIndex >= j.configIndex {
                // The new set is committed on both: the previous one's members that left get nothing more.
                joint = nil
                progress = progress.filter { replicas.contains($0.key) }
            }
            var actions: [Action] = []
            if let recorded = latestRecorded, commitIndex >= recorded.index, announced != recorded {
                announced = recorded
                actions += sendRecords(nowNs: nowNs)
            }
            if phase == .catchingUp && commitIndex >= barrierIndex {
                phase = .serving
                actions.append(.ready(snapshot: snapshot, entries: log[..<Int(barrierIndex - snapshotIndex - 1)].filter { !$0.isBarrier }))
            }
            actions.append(.committed(through: commitIndex))
            return actions
        }

        private mutating func onTick(nowNs: UInt64) -> [Action] {
            let timeout = UInt64(settings.requestTimeoutMs) * 1_000_000
            let heartbeat = UInt64(settings.heartbeatMs) * 1_000_000
            var actions: [Action] = []
            switch phase {
            case .preparing:
                for n in replicas + others where promises[n] == nil || incompleteDirectory.contains(n) {
                    if let at = prepareSent[n], nowNs &- at >= timeout { actions += sendPrepare(to: n, nowNs: nowNs) }
                }
                actions += maybeDecide(nowNs: nowNs)
            case .fetching:
                if let at = reprepareAtNs {
                    if nowNs >= at { actions += prepareAgain(nowNs: nowNs) }
                } else if let at = fetchSentNs, nowNs &- at >= timeout { actions += sendFetch(nowNs: nowNs) }
                else if fetchSentNs == nil { actions += sendFetch(nowNs: nowNs) }
            case .catchingUp, .serving:
                for r in targets {
                    guard let p = progress[r] else { continue }
                    if let since = p.inFlightSince {
                        if nowNs &- since >= timeout { actions += sendAppend(to: r, nowNs: nowNs) }
                    } else if nowNs &- p.lastSentNs >= heartbeatInterval(p, heartbeat) {
                        actions += sendAppend(to: r, nowNs: nowNs)
                    }
                    guard let q = progress[r], q.snapshotOffset != nil else { continue }
                    if let since = q.snapshotInFlightSince {
                        if nowNs &- since >= timeout {
                            progress[r]!.snapshotInFlightSince = nil
                            actions += sendSnapshotPage(to: r, nowNs: nowNs)
                        }
                    } else if nowNs &- q.snapshotLastSentNs >= heartbeat {
                        actions += sendSnapshotPage(to: r, nowNs: nowNs)
                    }
                }
            case .fenced, .stopped:
                return actions
            }
            for (n, sent) in recordSent where sent.inFlight && nowNs &- sent.atNs >= timeout {
                recordSent[n] = (sent.atNs, false)
            }
            return actions + sendRecords(nowNs: nowNs)
        }
    }
}

