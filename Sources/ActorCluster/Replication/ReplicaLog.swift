extension Replication {
    /// One stream as a replica holds it: the highest ballot it promised, its snapshot (Raft §7: the application's
    /// state through `snapshot.index`, opaque bytes kept by its `SnapshotStorage`) and the entries after it (pure
    /// logic; the store persists each `Change` before the reply leaves, so an acknowledgement means durable).
    public struct ReplicaLog: Sendable, Hashable {
        public private(set) var promised: Ballot = .zero
        /// The snapshot this replica holds, if any: entries 1 … `snapshot.index` are only in it.
        public private(set) var snapshot: SnapshotInfo?
        /// The entries after the snapshot (`snapshotIndex + 1 …`).
        public private(set) var entries: [Entry] = []
        /// A snapshot being received (InstallSnapshot pages so far, their bytes in `storage`); installed once
        /// complete and its checksum matches. Not persisted: a replica that restarts starts it again from 0.
        public private(set) var pending: PendingSnapshot?
        /// How far this replica knows entries are committed (learned from owners; not persisted — after a
        /// restart it is the snapshot's index until the next append says more).
        public private(set) var commitIndex: UInt64 = 0
        /// Payload bytes of `entries` (the snapshot's bytes are in `storage`, not counted).
        public private(set) var payloadBytes = 0
        /// The stream directory entry: the newest replica set an owner told this member is committed (`Request.record`),
        /// whether or not this member holds the stream's entries. Journaled (`Change.recorded`); named in promises
        /// when it is newer than the set the log records, so a recovering owner learns the stream exists — and
        /// which members hold it — even from members that never held a replica of it.
        public private(set) var recorded: Config?
        /// The largest snapshot accepted, in bytes.
        public let maxSnapshotBytes: Int
        /// Where the snapshot's bytes are (injected: memory in tests, a file per stream in a store on disk).
        public var storage: any SnapshotStorage
        /// The last error of `storage` (a page not written, a snapshot not readable), for the store to log and
        /// count; cleared by `takeStorageError()`.
        public private(set) var storageError: String?
        /// Why the installed snapshot's bytes cannot be served (its file missing or short at open, a read that
        /// failed, bytes whose CRC-32C does not match `snapshot.checksum`), or nil. Such a replica keeps its
        /// `snapshot` and entries — its promise still tells a recovering owner truly how far the stream goes, so
        /// that the owner never takes a shorter log for the whole one — but it refuses to serve the snapshot and
        /// acknowledges no append (it answers `mismatch` from 0) until an owner installs a snapshot again or
        /// sends the log from its first entry. Not persisted: found again at the next open or read.
        public private(set) var snapshotDamage: String?
        /// CRC-32C of the installed snapshot's bytes served so far, in order from offset 0 (a recovering owner
        /// reads it page by page): the page that ends it is compared with `snapshot.checksum`.
        private var servedCheck: (index: UInt64, offset: Int, checksum: UInt32)?
        /// Position in `entries` of the last entry that records a replica set (derived, kept in step by every change
        /// of `entries`): `latestConfig` was a backward scan on every append, linear in the entries since the last
        /// compaction (1.4 % of a replay's CPU).
        private var configPosition: Int?

        /// A snapshot whose pages are arriving: how many bytes `storage` holds, and their CRC-32C so far.
        public struct PendingSnapshot: Codable, Sendable, Hashable {
            public var info: SnapshotInfo
            public var received: Int
            public var checksum: UInt32
        }

        public init(maxSnapshotBytes: Int = Settings().maxSnapshotBytes, storage: any SnapshotStorage = MemorySnapshotStorage()) {
            self.maxSnapshotBytes = maxSnapshotBytes
            self.storage = storage
        }

        public static func == (a: ReplicaLog, b: ReplicaLog) -> Bool {
            a.promised == b.promised && a.snapshot == b.snapshot && a.entries == b.entries && a.pending == b.pending
                && a.commitIndex == b.commitIndex && a.payloadBytes == b.payloadBytes && a.snapshotDamage == b.snapshotDamage
                && a.recorded == b.recorded
        }

        public func hash(into h: inout Hasher) {
            h.combine(promised); h.combine(snapshot); h.combine(entries); h.combine(commitIndex)
        }

        /// The installed snapshot's bytes, read whole from `storage` (tests, tools; empty when none or unreadable).
        public var snapshotBytes: [UInt8] {
            guard let snapshot else { return [] }
            return (try? storage.read(snapshot, offset: 0, count: snapshot.size)) ?? []
        }

        /// Returns and clears `storageError`.
        public mutating func takeStorageError() -> String? {
            defer { storageError = nil }
            return storageError
        }

        /// What must be made durable before a reply is sent.
        public enum Change: Codable, Sendable, Hashable {
            case promise(Ballot)
            /// Drop entries from `from` on (if any), then append `entries` (which start at `from`).
            case write(from: UInt64, entries: [Entry])
            /// The pending snapshot `info` is complete: install it (Raft §7: keep the entries after `info.index`
            /// when the log holds `info.index` with `info.ballot`, else drop the whole log).
            case snapshotInstalled(SnapshotInfo)
            /// Drop the snapshot and every entry (a replica whose snapshot was damaged is repaired from an older
            /// snapshot or from the log's start: what follows in the journal rebuilds it).
            case reset
            /// Entries through this index are committed (this replica learned it from an owner's append). Journaled
            /// only when that first covers the latest recorded replica set — the one thing a restarted replica's
            /// commit index decides (`previousConfig`): without it a restarted replica reported the set before the
            /// latest one as the owner's fallback even when the latest was committed, and a chain of two set
            /// changes not yet committed then had no set that covered it.
            case committed(UInt64)
            /// An owner told this member that `Config` is the stream's committed replica set (`recorded`).
            case recorded(Config)
        }

        /// The last entry the snapshot covers (0: no snapshot).
        public var snapshotIndex: UInt64 { snapshot?.index ?? 0 }
        public var lastIndex: UInt64 { snapshotIndex + UInt64(entries.count) }

        /// The latest replica set recorded in the log (searched from the end: one is written at every takeover),
        /// else the one the snapshot carries.
        public var latestConfig: Config? {
            assert(configPosition == entries.lastIndex(where: { $0.replicaSet != nil }), "configPosition out of step")
            if let p = configPosition, let members = entries[p].replicaSet {
                return Config(members: members, ballot: entries[p].ballot, index: entries[p].index)
            }
            return snapshot?.config
        }
        public var lastBallot: Ballot { entries.last?.ballot ?? snapshot?.ballot ?? .zero }

        /// What a promise names: the newest replica set this member knows of — the log's latest, or the directory's
        /// (`recorded`) when that is newer — and, while the log's latest is not known committed, the set before it
        /// (`previousConfig(before:)`). A recorded set was committed when it was recorded, so it has no previous.
        public var promisedConfigs: (config: Config?, previous: Config?) {
            let latest = latestConfig
            if let recorded, recorded == latest || recorded.isNewer(than: latest) { return (recorded, nil) }
            return (latest, previousConfig(before: latest))
        }

        /// This member's stream-directory entry for the stream (`DirectoryEntry`): the newest replica set it knows
        /// committed — the recorded set, the latest in its log at or below `commitIndex`, or its snapshot's (a
        /// snapshot covers committed entries only). Nil when it knows none committed (a set still being committed
        /// is told to every member by its owner once it is, `Request.record`).
        public var directoryConfig: Config? {
            var best = recorded
            for e in entries.reversed() where e.index <= commitIndex {
                if let members = e.replicaSet {
                    let c = Config(members: members, ballot: e.ballot, index: e.index)
                    if c.isNewer(than: best) { best = c }
                    break
                }
            }
            if let c = snapshot?.config, c.isNewer(than: best) { best = c }
            return best
        }

        /// Keeps `config`, read from another member's stream directory (`DirectorySync`), as the stream's recorded
        /// set when it is newer than the one held. Unlike `Request.record` no ballot comes with it: it fences no
        /// owner and is refused by none. Returns the change to journal (none when nothing changed).
        public mutating func learn(_ config: Config) -> [Change] {
            guard config.isNewer(than: recorded), !config.members.isEmpty, config.members.count <= 1024 else { return [] }
            recorded = config
            return [.recorded(config)]
        }

        /// When this replica does not know `latest` committed (its index is above `commitIndex`): the newest
        /// replica set it knows committed (recorded at or below `commitIndex`, else the snapshot's) — an owner
        /// whose later set changes were not committed still committed with a quorum of that one; with none known
        /// (a replica restarted before it learned any set committed: the commit index it journals, `Change.committed`,
        /// covers no set), the set recorded just before `latest`. Nil when it
        /// knows `latest` committed, or holds no earlier set.
        public func previousConfig(before latest: Config?) -> Config? {
            guard let latest, latest.index > commitIndex else { return nil }
            for e in entries.reversed() where e.index <= commitIndex {
                if let members = e.replicaSet { return Config(members: members, ballot: e.ballot, index: e.index) }
            }
            if let c = snapshot?.config, c.index < latest.index { return c }
            for e in entries.reversed() where e.index < latest.index {
                if let members = e.replicaSet { return Config(members: members, ballot: e.ballot, index: e.index) }
            }
            return nil
        }

        /// The ballot of the entry at `index` (0: `.zero`; the snapshot's index: its ballot), nil when it is not
        /// held (beyond the log, or inside the snapshot).
        func ballot(at index: UInt64) -> Ballot? {
            if index == 0 { return .zero }
            if index == snapshotIndex { return snapshot?.ballot }
            guard index > snapshotIndex, index <= lastIndex else { return nil }
            return entries[Int(index - snapshotIndex - 1)].ballot
        }

        /// Applies a request; returns the reply and the changes to persist first (in order).
        public mutating func handle(_ request: Request) -> (Reply, [Change]) {
            let ballot = request.ballot
            if let problem = malformation(of: request) { return (.refused(reason: problem), []) }
            if ballot < promised { return (.rejected(promised: promised), []) }
            var changes: [Change] = []
            switch request {
            case .prepare:
                if ballot > promised {
                    promised = ballot
                    changes.append(.promise(ballot))
                }
                let (config, previous) = promisedConfigs
                return (.promised(lastIndex: lastIndex, lastBallot: lastBallot, commitIndex: commitIndex, config: config,
                                  previousConfig: previous), changes)
            case .record(_, _, let config):
                // Not a promise: recording a set does not stop an older owner's prepare (only a newer one does).
                if config.isNewer(than: recorded) {
                    recorded = config
                    changes.append(.recorded(config))
                }
                return (.recorded(recorded ?? config), changes)
            case .fetch(_, _, let after, let maxBytes):
                // Reading promises nothing and changes nothing.
                if let snapshot, after < snapshot.index { return (.compacted(snapshot), []) }
                return (.entries(page(after: after, maxBytes: maxBytes)), [])
            case .fetchSnapshot(_, _, let index, let offset, let maxBytes):
                guard let snapshot else { return (.refused(reason: "no snapshot"), []) }
                if let snapshotDamage {
                    return (.refused(reason: "snapshot through \(snapshot.index) damaged here: \(snapshotDamage)"), [])
                }
                let from = snapshot.index == index ? min(offset, snapshot.size) : 0
                let bytes: [UInt8]
                do {
                    bytes = try storage.read(snapshot, offset: from, count: max(1, maxBytes))
                } catch {
                    storageError = "\(error)"
                    markDamaged("unreadable: \(error)")
                    return (.refused(reason: "snapshot through \(snapshot.index) unreadable: \(error)"), [])
                }
                // Pages served in order from 0 are checked against the snapshot's CRC-32C as they pass: a flipped
                // bit is refused here (so the owner reads another replica) instead of being installed elsewhere.
                if from == 0 { servedCheck = (snapshot.index, 0, 0) }
                if var check = servedCheck, check.index == snapshot.index, check.offset == from {
                    check.checksum = CRC32C.checksum(bytes, seed: check.checksum)
                    check.offset += bytes.count
                    servedCheck = check
                    if check.offset >= snapshot.size {
                        servedCheck = nil
                        if check.checksum != snapshot.checksum || check.offset != snapshot.size {
                            let why = "its bytes do not match its CRC-32C"
                            storageError = "snapshot through \(snapshot.index): \(why)"
                            markDamaged(why)
                            return (.refused(reason: "snapshot through \(snapshot.index) damaged here: \(why)"), [])
                        }
                    }
                }
                return (.snapshotPage(info: snapshot, offset: from, bytes: bytes), [])
            case .installSnapshot(_, _, let info, let offset, let chunk):
                if ballot > promised {
                    promised = ballot
                    changes.append(.promise(ballot))
                }
                // Already covered (this snapshot or a later one): the log matches through `info.index`. A replica whose
                // snapshot is damaged takes any snapshot the owner sends: that is how it is repaired.
                if info.index <= snapshotIndex, snapshotDamage == nil {
                    return (.snapshotReceived(received: info.size, installed: true), changes)
                }
                if pending?.info != info {
                    guard offset == 0 else { return (.snapshotReceived(received: 0, installed: false), changes) }
                }
                let have = pending?.info == info ? pending!.received : 0
                guard offset == have else { return (.snapshotReceived(received: have, installed: false), changes) }
                do {
                    try storage.writePending(info, offset: offset, bytes: chunk)
                } catch {
                    storageError = "\(error)"
                    dropPending()
                    return (.refused(reason: "snapshot through \(info.index): page not stored (\(error))"), changes)
                }
                applyChunk(info: info, offset: offset, bytes: chunk)
                guard let p = pending, p.received == info.size else {
                    return (.snapshotReceived(received: pending?.received ?? 0, installed: false), changes)
                }
                guard p.checksum == info.checksum else {
                    dropPending()
                    return (.refused(reason: "snapshot through \(info.index): checksum mismatch"), changes)
                }
                do {
                    try storage.install(info)
                } catch {
                    storageError = "\(error)"
                    dropPending()
                    return (.refused(reason: "snapshot through \(info.index): not installed (\(error))"), changes)
                }
                if info.index < snapshotIndex || (info.index == snapshotIndex && info.ballot != snapshot?.ballot) {
                    // A repair from an older or another snapshot: the journal must not keep what this one replaces.
                    reset()
                    changes.append(.reset)
                }
                install(info)
                changes.append(.snapshotInstalled(info))
                return (.snapshotReceived(received: info.size, installed: true), changes)
            case .append(_, _, let prevIndex, let prevBallot, var new, let ownerCommit):
                if ballot > promised {
                    promised = ballot
                    changes.append(.promise(ballot))
                }
                if snapshotDamage != nil {
                    // Nothing is acknowledged on top of a snapshot that cannot be served: the owner is told to
                    // start from 0, i.e. to send its snapshot (or, without one, the log from its first entry).
                    guard prevIndex == 0, !new.isEmpty else { return (.mismatch(lastIndex: 0, commitIndex: 0), changes) }
                    reset()
                    changes.append(.reset)
                }
                guard prevIndex <= lastIndex else {
                    return (.mismatch(lastIndex: lastIndex, commitIndex: commitIndex), changes)
                }
                if prevIndex < snapshotIndex {
                    // Entries through the snapshot are committed and in it (committed entries are the same on every
                    // replica, Raft §5.3): only those after it are compared.
                    new.removeFirst(min(new.count, Int(snapshotIndex - prevIndex)))
                } else if prevIndex > 0, self.ballot(at: prevIndex) != prevBallot {
                    return (.mismatch(lastIndex: lastIndex, commitIndex: commitIndex), changes)
                }
                // Skip entries already held with the same ballot (a repeated or reordered append); truncate
                // at the first conflict (Raft §5.3); append the rest.
                var firstNew = new.count
                for (i, e) in new.enumerated() {
                    if e.index <= lastIndex, self.ballot(at: e.index) == e.ballot { continue }
                    firstNew = i
                    break
                }
                if firstNew < new.count {
                    let from = new[firstNew].index
                    if from <= commitIndex && from <= lastIndex {
                        // An entry this replica knows committed would be replaced: committed entries are the same
                        // in every later owner's log (Raft §5.4, Leader Completeness), so the owner recovered without
                        // them. Refused, so the entries survive for an owner that recovers them.
                        return (.refused(reason: "entry \(from) is committed here (commit index \(commitIndex)) and differs from the owner's"), changes)
                    }
                    let tail = Array(new[firstNew...])
                    replace(from: from, with: tail)
                    changes.append(.write(from: from, entries: tail))
                }
                let match = max(prevIndex + UInt64(request.appendCount), snapshotIndex)
                let knownBefore = commitIndex
                commitIndex = max(commitIndex, min(ownerCommit, match))
                if let latest = latestConfig?.index, knownBefore < latest, commitIndex >= latest {
                    changes.append(.committed(commitIndex))
                }
                return (.accepted(matchIndex: match), changes)
            }
        }

        private mutating func replace(from: UInt64, with new: [Entry]) {
            let start = Int(from - snapshotIndex - 1)
            if start < entries.count {
                payloadBytes -= entries[start...].reduce(0) { $0 + $1.payload.count }
                entries.removeSubrange(start..<entries.count)
                if let p = configPosition, p >= start { configPosition = entries.lastIndex { $0.replicaSet != nil } }
            }
            if let last = new.lastIndex(where: { $0.replicaSet != nil }) { configPosition = entries.count + last }
            entries.append(contentsOf: new)
            payloadBytes += new.reduce(0) { $0 + $1.payload.count }
        }

        private mutating func applyChunk(info: SnapshotInfo, offset: Int, bytes: [UInt8]) {
            if offset == 0 || pending?.info != info { pending = PendingSnapshot(info: info, received: 0, checksum: 0) }
            pending!.received += bytes.count
            pending!.checksum = CRC32C.checksum(bytes, seed: pending!.checksum)
        }

        /// Marks the installed snapshot as damaged (see `snapshotDamage`).
        mutating func markDamaged(_ why: String) {
            guard snapshot != nil else { return }
            snapshotDamage = why
            servedCheck = nil
        }

        /// Drops the snapshot and every entry (`Change.reset`).
        private mutating func reset() {
            snapshot = nil
            entries = []
            configPosition = nil
            payloadBytes = 0
            commitIndex = 0
            snapshotDamage = nil
            servedCheck = nil
        }

        private mutating func dropPending() {
            if pending != nil { storage.dropPending() }
            pending = nil
        }

        /// Installs snapshot `info` (its bytes are in `storage`; Raft §7): keeps the entries after `info.index` when
        /// the log holds it with `info.ballot`, else drops the whole log.
        private mutating func install(_ info: SnapshotInfo) {
            if info.index <= lastIndex, info.index >= snapshotIndex, ballot(at: info.index) == info.ballot {
                let drop = Int(info.index - snapshotIndex)
                payloadBytes -= entries[..<drop].reduce(0) { $0 + $1.payload.count }
                entries.removeFirst(drop)
                configPosition = configPosition.flatMap { $0 >= drop ? $0 - drop : nil }
            } else {
                payloadBytes -= entries.reduce(0) { $0 + $1.payload.count }
                entries = []
                configPosition = nil
            }
            snapshot = info
            pending = nil
            snapshotDamage = nil
            servedCheck = nil
            commitIndex = max(commitIndex, info.index)
        }

        /// Why `request` cannot be applied whatever the log holds, or nil: a round above `Ballot.maxRound`, entries
        /// that do not follow `prevIndex` one by one, an entry whose ballot is above the request's, a `prevIndex` or
        /// batch that would pass `Ballot.maxRound` entries, or a snapshot page that does not fit its snapshot.
        public func malformation(of request: Request) -> String? {
            if let problem = Self.malformation(of: request) { return problem }
            if case .installSnapshot(_, _, let info, _, _) = request, info.size > maxSnapshotBytes {
                return "snapshot of \(info.size) bytes above the limit of \(maxSnapshotBytes)"
            }
            return nil
        }

        /// `malformation(of:)` without the replica's snapshot size limit.
        public static func malformation(of request: Request) -> String? {
            guard request.ballot.round <= Ballot.maxRound else { return "ballot round above 2^62" }
            switch request {
            case .installSnapshot(_, let ballot, let info, let offset, let chunk):
                guard info.index >= 1, info.index <= Ballot.maxRound else { return "snapshot index out of range" }
                guard info.ballot <= ballot else { return "snapshot's ballot above the request's" }
                guard info.size >= 0, offset >= 0, offset <= info.size, chunk.count <= info.size - offset else {
                    return "snapshot page \(offset) + \(chunk.count) outside its \(info.size) bytes"
                }
                guard !chunk.isEmpty || info.size == 0 else { return "empty snapshot page" }
                return nil
            case .fetchSnapshot(_, _, _, let offset, _):
                return offset < 0 ? "negative snapshot offset" : nil
            case .append(_, let ballot, let prevIndex, let prevBallot, let entries, _):
                guard prevIndex <= Ballot.maxRound, UInt64(entries.count) <= Ballot.maxRound - prevIndex else {
                    return "index above 2^62"
                }
                guard prevBallot <= ballot else { return "previous entry's ballot above the request's" }
                for (i, e) in entries.enumerated() {
                    guard e.index == prevIndex + 1 + UInt64(i) else {
                        return "entry \(i) has index \(e.index), expected \(prevIndex + 1 + UInt64(i))"
                    }
                    guard e.ballot <= ballot else { return "entry \(e.index) has a ballot above the request's" }
                }
                return nil
            case .prepare, .fetch:
                return nil
            case .record(_, let ballot, let config):
                guard config.ballot <= ballot else { return "recorded set's ballot above the request's" }
                guard !config.members.isEmpty, config.members.count <= 1024 else { return "recorded set of \(config.members.count) members" }
                return config.index <= Ballot.maxRound ? nil : "index above 2^62"
            }
        }

        /// Entries after `after` (≥ `snapshotIndex`), at most `maxBytes` of payload but at least one.
        public func page(after: UInt64, maxBytes: Int) -> [Entry] {
            guard after < lastIndex, after >= snapshotIndex else { return [] }
            var out: [Entry] = []
            var used = 0
            for e in entries[Int(after - snapshotIndex)...] {
                if !out.isEmpty && used + e.payload.count > maxBytes { break }
                out.append(e)
                used += e.payload.count
            }
            return out
        }

        /// Replays a persisted change (at startup). Malformed changes (a write that would leave a gap, a snapshot
        /// page out of order, an install of an incomplete or damaged snapshot) are refused with `false` and
        /// change nothing.
        @discardableResult
        public mutating func restore(_ change: Change) -> Bool {
            switch change {
            case .promise(let b):
                promised = max(promised, b)
                return true
            case .write(let from, let new):
                guard from >= snapshotIndex + 1, from <= lastIndex + 1,
                      new.enumerated().allSatisfy({ $0.element.index == from + UInt64($0.offset) }) else { return false }
                replace(from: from, with: new)
                commitIndex = min(commitIndex, lastIndex)
                return true
            case .snapshotInstalled(let info):
                // The bytes were made durable in `storage` before this change was written.
                if info.index <= snapshotIndex { return true }
                install(info)
                return true
            case .reset:
                reset()
                return true
            case .committed(let index):
                commitIndex = max(commitIndex, min(index, lastIndex))
                return true
            case .recorded(let config):
                if config.isNewer(than: recorded) { recorded = config }
                return true
            }
        }

        /// Restores a stream from a store snapshot: promise, snapshot (its bytes in `storage`), entries after it.
        /// Returns false (and holds what fit) when the parts do not fit together.
        mutating func restore(promised: Ballot, snapshot: SnapshotInfo?, entries: [Entry], commitIndex committed: UInt64 = 0,
                              recorded: Config? = nil) -> Bool {
            self.promised = max(self.promised, promised)
            if let recorded, recorded.isNewer(than: self.recorded) { self.recorded = recorded }
            if let snapshot {
                self.snapshot = snapshot
                commitIndex = snapshot.index
            }
            if entries.isEmpty { return true }
            let ok = restore(.write(from: snapshotIndex + 1, entries: entries))
            commitIndex = max(commitIndex, min(committed, lastIndex))
            return ok
        }

    }
}

extension Replication.Request {
    /// Entries an append carries (0 for other requests).
    var appendCount: Int {
        if case .append(_, _, _, _, let entries, _) = self { return entries.count }
        return 0
    }
}
