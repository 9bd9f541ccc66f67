import Foundation

/// The owner's I/O shell for one replicated stream: drives a `Replication.Owner` with the monotonic clock,
/// sends its requests to the replicas' `Replicator`s, and turns its actions into results for callers.
///
/// Use: create it when the node starts owning the stream, `recover()` (returns the stream's committed
/// payloads, in order) — or `recoverState()` for a stream whose application compacts it (its snapshot, then the
/// payloads after it) — then `append` each change and answer only after it returns (the change is durable on
/// `W` replicas); `compact(through:snapshot:)` hands the stream a snapshot of the application's state (Raft §7)
/// so that neither this owner nor the replicas keep the entries it covers. `stop()` when the stream moves away.
public actor ReplicatedStream {
    public nonisolated let stream: String
    private let system: ClusterSystem
    private let settings: Replication.Settings
    private var owner: Replication.Owner
    private var pending: [Action] = []
    private var recovered: Recovered?
    private var recoveryWaiters: [CheckedContinuation<Recovered, any Error>] = []
    /// The owner's snapshot (`owner.snapshot`): where the pages replicas that need it are read from.
    private var snapshotSource: (any Replication.SnapshotSource)?
    /// Where recovery puts the snapshot pages it reads (the application's, else memory).
    private let snapshotSink: any Replication.SnapshotSink
    /// The snapshot recovery is reading: its info and the bytes so far (the owner machine checks their CRC-32C
    /// and hands out no page of a copy that does not match).
    private var fetching: (info: Replication.SnapshotInfo, received: Int)?
    private let snapshotErrors: Counter
    /// Replicas (and why) a recovery found unusable and this shell has logged.
    private var unusableLogged: Set<String> = []
    private var terminationWaiters: [CheckedContinuation<Replication.Failure, Never>] = []
    private var commitWaiters: [(index: UInt64, continuation: CheckedContinuation<UInt64, any Error>)] = []
    /// When each waiting append times out (`appendTimeoutMs` after it started), oldest first; one timer
    /// (`expiryTimer`) waits for the oldest, instead of a sleeping task per append (a dispatch timer each: 3 %
    /// of a node's CPU under intake load).
    private var appendDeadlines: [(index: UInt64, atNs: UInt64)] = []
    private var expiryTimer: Task<Void, Never>?
    private var terminal: Replication.Failure?
    private var timer: Task<Void, Never>?
    private var timerAt: UInt64?
    private var appendStarted: [UInt64: UInt64] = [:]
    /// Replicas whose last answer to a write (prepare, append with entries) was a storage refusal (a full disk,
    /// a failed journal), with the refusal; cleared by their next accepted write.
    private var storageRefusals: [NodeAddress: String] = [:]
    private let startedNs: UInt64
    private static let base = ContinuousClock.now
    private let appends: Counter
    private let appendSeconds: Histogram
    private let fencedTotal: Counter
    private let recoveries: Counter
    private let recoverySeconds: Histogram
    private let snapshotsTotal: Counter

    typealias Action = Replication.Owner.Action

    /// What recovery found: the application's snapshot (nil: the stream has none), the payloads of the
    /// committed entries after it in order (barriers excluded), and the index through which the two are the
    /// stream's state — a later `compact(through:snapshot:)` covers at least this.
    public struct Recovered: Sendable {
        /// The snapshot the state starts from, as the sink's `finish` returned it (nil: none).
        public var snapshot: (any Replication.SnapshotSource)?
        public var snapshotInfo: Replication.SnapshotInfo?
        public var payloads: [[UInt8]]
        public var index: UInt64
    }

    /// Starts recovery at once.
    /// - Parameters:
    ///   - round: the first ballot round to try (e.g. the placement epoch; a replica that promised more makes
    ///     the owner prepare again above it).
    ///   - replicas: the stream's replica set now (`ReplicaPlacement`).
    ///   - others: other reachable members, asked at recovery too (they may hold replicas from an earlier set).
    ///   - snapshotSink: where recovery streams the snapshot's pages (nil: into memory, `MemorySnapshot`).
    public init(stream: String, system: ClusterSystem, settings: Replication.Settings, round: UInt64,
                replicas: [NodeIdentity], others: [NodeIdentity], snapshotSink: (any Replication.SnapshotSink)? = nil) {
        self.stream = stream
        self.snapshotSink = snapshotSink ?? Replication.MemorySnapshot()
        self.system = system
        self.settings = settings
        let m = system.metrics
        appends = m.counter("replication_appends_total", help: "Entries appended by stream owners on this node and committed on a write quorum.")
        appendSeconds = m.histogram("replication_append_seconds", help: "From an owner's append to its commit on a write quorum.")
        fencedTotal = m.counter("replication_fenced_total", help: "Stream owners on this node fenced by a newer owner.")
        recoveries = m.counter("replication_recoveries_total", help: "Stream recoveries (handovers) completed on this node.")
        recoverySeconds = m.histogram("replication_recovery_seconds", help: "From an owner's start to serving (prepare, fetch, barrier committed).")
        snapshotsTotal = m.counter("replication_snapshots_total", help: "Snapshots stream owners on this node handed to their replicas (log compaction).")
        snapshotErrors = m.counter("replication_snapshot_errors_total", help: "Snapshots a recovering owner on this node could not store, pages of its own snapshot it could not read, and replicas whose snapshot copy it found unreadable or damaged.")
        startedNs = Self.nowNs()
        let (o, actions) = Replication.Owner.start(stream: stream, me: system.node, round: round, replicas: replicas,
                                                   others: others, settings: settings, nowNs: Self.nowNs())
        owner = o
        pending = actions
        Task { await self.flushInitial() }
    }

    private func flushInitial() { perform(pending); pending = [] }

    static func nowNs() -> UInt64 {
        let c = (ContinuousClock.now - base).components
        return UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds / 1_000_000_000))
    }

    /// The owner's phase name (`preparing`, `fetching`, `catchingUp`, `serving`, `fenced`, `stopped`).
    public var phase: String { owner.phase.name }
    public var ballot: Replication.Ballot { owner.ballot }
    public var commitIndex: UInt64 { owner.commitIndex }
    /// What a recovering owner waits for, in words (`Replication.Owner.waitingFor`), with the replicas that
    /// refuse to store anything and why.
    public var waitingFor: String? {
        let refusals = storageRefusals.keys.sorted { $0.description < $1.description }
            .map { "\($0) refuses: \(storageRefusals[$0]!)" }
        let parts = [owner.waitingFor].compactMap { $0 } + refusals
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// The replica set the owner writes to now.
    public var replicas: [NodeIdentity] { owner.replicas }

    /// Waits until the stream is recovered; returns its committed payloads in order (barriers excluded). For
    /// streams that are never compacted (a snapshot's entries are not among the payloads: use `recoverState`).
    ///
    /// - Throws: `Replication.Failure.fenced` (a newer owner holds it) or `.stopped`.
    public func recover() async throws -> [[UInt8]] {
        try await recoverState().payloads
    }

    /// Waits until the stream is recovered; returns its snapshot and the committed payloads after it.
    ///
    /// The state is handed out once (to the callers waiting when recovery ends, else to the first caller): later
    /// calls get the same `index` with no snapshot and no payloads, so the stream does not keep a second copy.
    ///
    /// - Throws: `Replication.Failure.fenced` (a newer owner holds it) or `.stopped`.
    public func recoverState() async throws -> Recovered {
        if let state = recovered {
            recovered = Recovered(snapshot: nil, payloads: [], index: state.index)
            return state
        }
        if let terminal { throw terminal }
        return try await withCheckedThrowingContinuation { recoveryWaiters.append($0) }
    }

    /// Entries the owner holds in memory (those after its snapshot).
    public var heldEntries: Int { owner.heldEntries }

    /// The index the owner's snapshot covers (0: none).
    public var snapshotIndex: UInt64 { owner.snapshotIndex }

    /// Log compaction (Raft §7): `snapshot` is the application's state after every entry through `index` — an
    /// index `append` returned (or `Recovered.index`), with no change after it in the state. The owner drops
    /// the entries it covers and installs it on the replicas in pages of `Settings.maxBatchBytes`; they then
    /// drop those entries too. Returns false (nothing changes) when not serving, `index` is not committed or
    /// not above the current snapshot, or `snapshot` is larger than `Settings.maxSnapshotBytes`.
    @discardableResult
    public func compact(through index: UInt64, snapshot: [UInt8]) -> Bool {
        compact(through: index, source: Replication.MemorySnapshot(snapshot))
    }

    /// `compact(through:snapshot:)` with the snapshot read from `source` page by page (a file: never held whole).
    @discardableResult
    public func compact(through index: UInt64, source: any Replication.SnapshotSource) -> Bool {
        guard terminal == nil, source.size <= settings.maxSnapshotBytes,
              let (_, actions) = owner.compact(through: index, size: source.size, checksum: source.checksum,
                                               nowNs: Self.nowNs()) else { return false }
        snapshotSource = source
        snapshotsTotal.increment()
        system.logger.info("replication.compacted", ["stream": stream, "through": index, "bytes": source.size])
        perform(actions)
        return true
    }

    /// Waits until the stream ends — fenced by a newer owner, or stopped — and returns why.
    public func terminated() async -> Replication.Failure {
        if let terminal { return terminal }
        return await withCheckedContinuation { terminationWaiters.append($0) }
    }

    /// Appends `payload` (not empty) and returns its index once `W` replicas hold it durably.
    ///
    /// - Throws: `Replication.Failure.notServing` (recovering, stopped), `.fenced`, `.stopped` (stopped before
    ///   the entry was committed: it may or may not be), `.appendTimedOut` (no write quorum within
    ///   `appendTimeoutMs`), `.replicasRefused` (too many replicas refuse to store it, e.g. full disks). After
    ///   the last three the entry may still be committed later: recover to learn what the stream holds.
    public func append(_ payload: [UInt8]) async throws -> UInt64 {
        if let terminal { throw terminal }
        guard let (index, actions) = owner.propose(payload, nowNs: Self.nowNs()) else {
            throw Replication.Failure.notServing(stream: stream, phase: owner.phase.name)
        }
        let now = Self.nowNs()
        appendStarted[index] = now
        appendDeadlines.append((index, now &+ UInt64(max(0, settings.appendTimeoutMs)) &* 1_000_000))
        armExpiry()
        return try await withCheckedThrowingContinuation { c in
            commitWaiters.append((index, c))
            perform(actions)
        }
    }

    /// Starts the expiry timer for the oldest append still waiting, unless it runs.
    private func armExpiry() {
        guard expiryTimer == nil, terminal == nil else { return }
        // Drop the deadlines of appends already answered (committed, expired or refused).
        let answered = appendDeadlines.prefix { appendStarted[$0.index] == nil }.count
        if answered > 0 { appendDeadlines.removeFirst(answered) }
        guard let first = appendDeadlines.first else { return }
        let now = Self.nowNs()
        let delay = first.atNs > now ? first.atNs - now : 0
        expiryTimer = Task { [weak self] in
            try? await Task.sleep(for: .nanoseconds(Int64(clamping: delay)))
            await self?.expireDue()
        }
    }

    /// Fails every waiting append whose deadline passed, then waits for the next one.
    private func expireDue() {
        expiryTimer = nil
        let now = Self.nowNs()
        let due = appendDeadlines.prefix { $0.atNs <= now }.map(\.index)
        appendDeadlines.removeFirst(due.count)
        for index in due { expire(index, afterMs: settings.appendTimeoutMs) }
        armExpiry()
    }

    private func expire(_ index: UInt64, afterMs: Int) {
        guard let at = commitWaiters.firstIndex(where: { $0.index == index }) else { return }
        let waiter = commitWaiters.remove(at: at)
        appendStarted[index] = nil
        system.logger.warning("replication.append_timed_out", ["stream": stream, "index": index, "ms": afterMs,
                                                               "replicas": owner.replicas.map(\.description).joined(separator: ",")])
        waiter.continuation.resume(throwing: Replication.Failure.appendTimedOut(stream: stream, index: index, afterMs: afterMs))
    }

    /// The replica set or the other members changed.
    public func update(replicas: [NodeIdentity], others: [NodeIdentity]) {
        feed(.replicasChanged(replicas: replicas, others: others))
    }

    /// Stops owning the stream: waiting callers get `Failure.stopped`.
    public func stop() {
        feed(.stop)
        finish(.stopped(stream: stream))
    }

    private func feed(_ input: Replication.Owner.Input) {
        perform(owner.handle(input, nowNs: Self.nowNs()))
    }

    private func perform(_ actions: [Action]) {
        for action in actions {
            switch action {
            case .sendSnapshot(let info, let offset, let maxBytes, let to):
                guard info == owner.snapshot, let source = snapshotSource, source.size == info.size, offset <= info.size else { continue }
                let chunk: [UInt8]
                do {
                    chunk = try source.read(offset: offset, count: min(info.size - offset, max(1, maxBytes)))
                } catch {
                    snapshotErrors.increment()
                    system.logger.error("replication.snapshot_unreadable", ["stream": stream, "error": "\(error)"])
                    continue
                }
                send(.installSnapshot(stream: stream, ballot: owner.ballot, info: info, offset: offset, chunk: chunk), to: to)
            case .snapshotPage(let info, let offset, let bytes):
                do {
                    if offset == 0 || fetching?.info != info {
                        try snapshotSink.begin(info)
                        fetching = (info, 0)
                    }
                    try snapshotSink.append(bytes)
                    fetching!.received += bytes.count
                    if fetching!.received == info.size {
                        // Complete: the owner's snapshot from now on (catching up may send it to lagging replicas).
                        snapshotSource = try snapshotSink.finish(info)
                        fetching = nil
                    }
                } catch {
                    snapshotErrors.increment()
                    system.logger.error("replication.snapshot_not_recovered", ["stream": stream, "error": "\(error)"])
                    fetching = nil
                    _ = owner.handle(.stop, nowNs: Self.nowNs())
                    finish(.notServing(stream: stream, phase: "recovering: the snapshot could not be stored (\(error))"))
                    return
                }
            case .send(let request, let to):
                send(request, to: to)
            case .ready(let snapshot, let entries):
                let payloads = entries.map(\.payload)
                fetching = nil
                let state = Recovered(snapshot: snapshot == nil ? nil : snapshotSource, snapshotInfo: snapshot, payloads: payloads,
                                      index: owner.commitIndex)
                recoveries.increment()
                recoverySeconds.observe(Double(Self.nowNs() &- startedNs) / 1e9)
                system.logger.info("replication.recovered", ["stream": stream, "ballot": "\(owner.ballot)",
                                                             "entries": payloads.count, "snapshot_bytes": snapshot?.size ?? 0,
                                                             "decided": owner.recoverySummary])
                // Handed out once — to the callers waiting, else to the first caller — and not kept here after.
                recovered = recoveryWaiters.isEmpty ? state : Recovered(snapshot: nil, snapshotInfo: nil, payloads: [], index: state.index)
                for w in recoveryWaiters { w.resume(returning: state) }
                recoveryWaiters = []
            case .committed(let through):
                var still: [(UInt64, CheckedContinuation<UInt64, any Error>)] = []
                let now = Self.nowNs()
                for (i, c) in commitWaiters {
                    if i <= through {
                        appends.increment()
                        if let at = appendStarted.removeValue(forKey: i) { appendSeconds.observe(Double(now &- at) / 1e9) }
                        c.resume(returning: i)
                    } else {
                        still.append((i, c))
                    }
                }
                commitWaiters = still
            case .sourceUnusable(let replica, let reason):
                if reason != "unreachable" { snapshotErrors.increment() }
                // Logged once per replica and reason: the owner asks again every request timeout while it waits.
                guard unusableLogged.insert("\(replica) \(reason)").inserted, unusableLogged.count <= 64 else { continue }
                system.logger.warning("replication.recovery_source_unusable", ["stream": stream, "replica": "\(replica)", "error": reason,
                                                                               "effect": "read from another replica holding as much, else prepare again"])
            case .fenced(let by):
                system.logger.warning("replication.fenced", ["stream": stream, "by": "\(by)"])
                fencedTotal.increment()
                finish(.fenced(stream: stream, by: by))
            }
        }
        armTimer()
    }

    private func send(_ request: Replication.Request, to: NodeIdentity) {
        let system = self.system
        let timeoutMs = settings.requestTimeoutMs
        Task {
            let input: Replication.Owner.Input
            do {
                let replicator = try Replicator.on(to, system: system)
                let reply = try await ClusterSystem.withCallTimeout(.milliseconds(timeoutMs)) {
                    try await replicator.handle(request)
                }
                input = .reply(reply, to: request, from: to)
                if Self.writes(request) { await self.storageAccepted(by: to) }
            } catch let refusal as Replication.StoreError where refusal.isStorageRefusal {
                input = .failed(request, to: to)
                await self.storageRefused(by: to, refusal)
            } catch {
                input = .failed(request, to: to)
            }
            self.feed(input)
        }
    }

    /// Requests that may write on the replica (and so may be refused for a full disk).
    private static func writes(_ request: Replication.Request) -> Bool {
        switch request {
        case .prepare: true
        case .append(_, _, _, _, let entries, _): !entries.isEmpty
        case .installSnapshot: true
        case .fetch, .fetchSnapshot, .record: false
        }
    }

    private func storageAccepted(by node: NodeIdentity) {
        if storageRefusals.removeValue(forKey: node.address) != nil {
            system.logger.info("replication.replica_stores_again", ["stream": stream, "replica": "\(node.address)"])
        }
    }

    /// A replica refused to store a write. When the replicas still able to store are fewer than `W`, appends
    /// waiting for a commit fail now (`Failure.replicasRefused`) rather than after `appendTimeoutMs`.
    private func storageRefused(by node: NodeIdentity, _ refusal: Replication.StoreError) {
        if storageRefusals[node.address] == nil {
            system.logger.warning("replication.replica_refuses", ["stream": stream, "replica": "\(node.address)", "error": "\(refusal)"])
        }
        storageRefusals[node.address] = "\(refusal)"
        let able = owner.replicas.filter { storageRefusals[$0.address] == nil }.count
        guard able < owner.writeQuorum, !commitWaiters.isEmpty else { return }
        let reasons = storageRefusals.keys.sorted { $0.description < $1.description }.map { "\($0): \(storageRefusals[$0]!)" }
        for (i, c) in commitWaiters {
            appendStarted[i] = nil
            c.resume(throwing: Replication.Failure.replicasRefused(stream: stream, reasons: reasons))
        }
        commitWaiters = []
    }

    private func finish(_ failure: Replication.Failure) {
        if terminal == nil { terminal = failure }
        for w in terminationWaiters { w.resume(returning: terminal ?? failure) }
        terminationWaiters = []
        for w in recoveryWaiters { w.resume(throwing: failure) }
        recoveryWaiters = []
        for (_, c) in commitWaiters { c.resume(throwing: failure) }
        commitWaiters = []
        appendStarted = [:]
        appendDeadlines = []
        expiryTimer?.cancel()
        expiryTimer = nil
        timer?.cancel()
        timer = nil
    }

    private func armTimer() {
        guard terminal == nil, let at = owner.nextWakeupNs else { return }
        if let t = timerAt, t <= at, timer != nil { return }
        timer?.cancel()
        let now = Self.nowNs()
        // Serving, the timer wakes at least every half heartbeat (an early tick acts on nothing not due): a reply
        // moves its replica's wake-up from the request timeout to the next heartbeat, earlier, and without the
        // horizon every reply cancelled the timer and started another (a task and a dispatch timer per round trip).
        var wake = at
        if case .serving = owner.phase {
            wake = min(at, now &+ UInt64(max(1, settings.heartbeatMs / 2)) * 1_000_000)
        }
        timerAt = wake
        let delay = wake > now ? wake - now : 0
        timer = Task { [weak self] in
            try? await Task.sleep(for: .nanoseconds(Int64(clamping: delay)))
            guard !Task.isCancelled, let self else { return }
            await self.fire()
        }
    }

    private func fire() {
        timer = nil
        timerAt = nil
        feed(.tick)
    }
}
