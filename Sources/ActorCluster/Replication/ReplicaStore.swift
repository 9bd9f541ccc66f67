import Foundation

extension GroupCommitLog: Replication.Journal {}

extension Replication {
    /// Where a replica store writes its changes: appended in call order, durable when `append` returns.
    /// `GroupCommitLog` (the node's data directory) is the real one; a store without a journal keeps replicas in
    /// memory only — they survive the death of other nodes, not a restart of this one.
    public protocol Journal: Sendable {
        /// Appends one record; returns its sequence once it is durable. Records become durable in call order.
        func append(_ record: [UInt8]) async throws -> UInt64
        /// The sequence of the last record written.
        var lastSequence: UInt64 { get }
        /// Stores `state` as covering every record through `sequence`; a restart reads it and the records
        /// after it, and records it covers may be deleted.
        func writeSnapshot(through sequence: UInt64, _ state: [UInt8]) async throws
        /// Flushes and releases the journal (its files and the lock on its directory); later appends fail.
        func close() async throws
    }

    /// What a journal record holds: one stream's changes, in order.
    public struct JournalRecord: Codable, Sendable, Hashable {
        /// The stream; empty in a record of the store itself (`directoryComplete`).
        public var stream: String
        public var changes: [ReplicaLog.Change]
        /// In a record of the store itself: the node's stream directory became complete, or not
        /// (`ReplicaStore.directoryComplete`); nil in a stream's record.
        public var directoryComplete: Bool?

        public init(stream: String, changes: [ReplicaLog.Change], directoryComplete: Bool? = nil) {
            self.stream = stream
            self.changes = changes
            self.directoryComplete = directoryComplete
        }
    }

    /// A snapshot of a whole store.
    public struct StoreSnapshot: Codable, Sendable, Hashable {
        public struct Stream: Codable, Sendable, Hashable {
            public var name: String
            public var promised: Ballot
            /// The entries after the stream's snapshot (all of them when it has none).
            public var entries: [Entry]
            /// The stream's own snapshot (Raft §7); its bytes are in the store's snapshot directory
            /// (`FileSnapshotStorage`), not here. Nil in stores written before streams had snapshots.
            public var snapshot: SnapshotInfo?
            /// The replica's commit index (`ReplicaLog.commitIndex`); nil in stores written before it was kept.
            public var commitIndex: UInt64?
            /// The stream directory entry (`ReplicaLog.recorded`); nil when none, or in stores written before it was kept.
            public var recorded: Config?

            public init(name: String, promised: Ballot, entries: [Entry], snapshot: SnapshotInfo?, commitIndex: UInt64? = nil,
                        recorded: Config? = nil) {
                self.name = name
                self.promised = promised
                self.entries = entries
                self.snapshot = snapshot
                self.commitIndex = commitIndex
                self.recorded = recorded
            }
        }
        public var streams: [Stream]
        /// `ReplicaStore.directoryComplete`; nil when never decided, or in stores written before it was kept.
        public var directoryComplete: Bool?

        public init(streams: [Stream], directoryComplete: Bool? = nil) {
            self.streams = streams
            self.directoryComplete = directoryComplete
        }
    }

    /// One stream as this node's replica holds it (`/cluster/replicas`).
    public struct StreamSummary: Codable, Sendable, Hashable {
        public var stream: String
        public var lastIndex: UInt64
        public var commitIndex: UInt64
        public var promised: String
        /// Payload bytes of its entries.
        public var bytes: Int
        /// Why this replica's snapshot of the stream cannot be served (`ReplicaLog.snapshotDamage`), or nil.
        public var snapshotDamage: String?
        /// The committed replica set an owner last told this node of (the stream directory, `ReplicaLog.recorded`),
        /// as `host:port` addresses; nil when none.
        public var recordedSet: [String]?
    }

    /// Why a replica refused a request outright (not a protocol answer).
    public enum StoreError: WireError, Sendable, Hashable, CustomStringConvertible {
        public static var wireName: String { "cluster.Replication.StoreError" }

        /// The store holds `limit` streams already (`Settings.maxStreams`).
        case tooManyStreams(limit: Int)
        /// A stream name is empty or longer than 256 bytes.
        case badStreamName(String)
        /// The store would hold more than `limit` bytes of entries (`Settings.maxStoredBytes`).
        case full(limit: Int)
        /// Writing the journal failed; the store refuses everything until the node restarts.
        case journalFailed(String)
        /// The file system of the journal has less than `reserveBytes` available (`DiskSpace`): this request
        /// was refused before it changed anything. Clears by itself once space is freed.
        case diskFull(availableBytes: Int, reserveBytes: Int)

        /// True for refusals that say the replica cannot store anything now (disk full, journal failed, store
        /// full): an owner that cannot reach a write quorum without such replicas fails its appends at once.
        public var isStorageRefusal: Bool {
            switch self {
            case .diskFull, .journalFailed, .full: true
            case .tooManyStreams, .badStreamName: false
            }
        }

        public var description: String {
            switch self {
            case .tooManyStreams(let l): "replica store holds its limit of \(l) streams"
            case .badStreamName(let s): "bad stream name \"\(s.prefix(40))\""
            case .full(let l): "replica store holds its limit of \(l) bytes"
            case .journalFailed(let why): "replica journal failed: \(why)"
            case .diskFull(let available, let reserve):
                "replica disk full: \(available) bytes available, below the reserve of \(reserve) bytes"
            }
        }
    }

    /// The node's replicas of every stream it is asked to hold (pure logic in `ReplicaLog`; this actor
    /// orders requests and persists each change before it answers).
    public actor ReplicaStore {
        private var streams: [String: ReplicaLog] = [:]
        private var storedBytes = 0
        private let journal: (any Journal)?
        private var failure: String?
        /// Journal appends issued and not yet returned (compaction waits for none).
        private var appendsInFlight = 0
        private var drained: [CheckedContinuation<Void, Never>] = []
        /// Requests wait here while a snapshot is taken.
        private var gate: [CheckedContinuation<Void, Never>] = []
        private var recordsSinceSnapshot = 0
        public let maxStreams: Int
        public let maxStoredBytes: Int
        /// Records between snapshots of the whole store.
        public let snapshotEvery: Int
        private var metrics: (streams: Gauge, bytes: Gauge, requests: Counter, rejected: Counter,
                              diskAvailable: Gauge, diskFullRefusals: Counter)?
        /// Free space of the journal's file system (nil without a journal on disk).
        private var disk: DiskSpace?
        /// Why writes are refused now (the disk is below its reserve), or nil; cleared by the next admitted write.
        public private(set) var diskFullReason: String?
        private var logger: Logger?
        /// Journal appends issued (a ticket each) and the highest whose append returned: a reply that changed
        /// nothing waits until every append issued before it is durable, so a resent request is never
        /// acknowledged ahead of the fsync of the first.
        private var ticketsIssued: UInt64 = 0
        private var ticketsDurable: UInt64 = 0
        private var durableWaiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, Never>)] = []

        /// Why the store refuses every request (its journal failed), or nil.
        public var failureReason: String? { failure }

        /// Exports `replica_streams`, `replica_stored_bytes`, `replica_requests_total` and
        /// `replica_rejected_total` (requests refused for an older ballot), `replica_disk_available_bytes` and
        /// `replica_disk_full_refusals_total` (requests refused for a disk below its reserve) in `metrics`.
        public func export(to metrics: Metrics, logger: Logger? = nil) {
            if let logger { self.logger = logger }
            let m = (streams: metrics.gauge("replica_streams", help: "Replicated streams this node holds a replica of."),
                     bytes: metrics.gauge("replica_stored_bytes", help: "Payload bytes of the entries this node's replicas hold."),
                     requests: metrics.counter("replica_requests_total", help: "Owner requests answered by this node's replicas."),
                     rejected: metrics.counter("replica_rejected_total", help: "Owner requests refused for a ballot older than one promised (fencing)."),
                     diskAvailable: metrics.gauge("replica_disk_available_bytes", help: "Bytes available on the replica journal's file system (last reading)."),
                     diskFullRefusals: metrics.counter("replica_disk_full_refusals_total", help: "Owner requests refused because the journal's disk was below its free-space reserve."))
            m.streams.set(streams.count)
            if let available = disk?.availableBytes { m.diskAvailable.set(available) }
            m.bytes.set(storedBytes)
            self.metrics = m
        }
        private var compacting = false
        private var missingLogged = false

        /// - Parameters:
        ///   - snapshot: the newest snapshot read back from the journal, if any.
        ///   - records: the journal's records after it, in order (a record that does not decode, or a change
        ///     that does not fit the log, is skipped and counted in `restoreSkipped`).
        ///   - disk: the journal's file system, checked before each write (nil: not checked).
        ///   - snapshotDirectory: where each stream's snapshot is a file of its own (`FileSnapshotStorage`); nil:
        ///     in memory. A stream whose snapshot file is missing or has the wrong size keeps its log position but
        ///     is marked damaged (`ReplicaLog.snapshotDamage`, logged as `replica.snapshot_missing`): it never
        ///     serves the snapshot nor acknowledges appends until an owner sends a snapshot again, and a
        ///     recovering owner reads the stream from a replica that holds it whole.
        public init(journal: (any Journal)?, snapshot: [UInt8]? = nil, records: [[UInt8]] = [],
                    maxStreams: Int = 4096, maxStoredBytes: Int = 8 << 30, snapshotEvery: Int = 50_000,
                    disk: DiskSpace? = nil, snapshotDirectory: String? = nil) {
            self.journal = journal
            self.disk = disk
            self.maxStreams = maxStreams
            self.maxStoredBytes = maxStoredBytes
            self.snapshotEvery = snapshotEvery
            self.snapshotDirectory = snapshotDirectory
            var skipped = 0
            var restored: [String: ReplicaLog] = [:]
            var complete: Bool?
            func fresh(_ name: String) -> ReplicaLog {
                guard let snapshotDirectory else { return ReplicaLog() }
                return ReplicaLog(storage: FileSnapshotStorage(directory: snapshotDirectory, stream: name))
            }
            if let snapshot, let s = try? Wire.BinaryDecoder().decode(StoreSnapshot.self, from: snapshot) {
                complete = s.directoryComplete
                for stream in s.streams {
                    var log = fresh(stream.name)
                    if !log.restore(promised: stream.promised, snapshot: stream.snapshot, entries: stream.entries,
                                    commitIndex: stream.commitIndex ?? 0, recorded: stream.recorded) { skipped += 1 }
                    restored[stream.name] = log
                }
            } else if snapshot != nil {
                skipped += 1
            }
            for bytes in records {
                guard let r = try? Wire.BinaryDecoder().decode(JournalRecord.self, from: bytes) else { skipped += 1; continue }
                if r.stream.isEmpty {
                    if let c = r.directoryComplete { complete = c } else { skipped += 1 }
                    continue
                }
                var log = restored[r.stream] ?? fresh(r.stream)
                for c in r.changes where !log.restore(c) { skipped += 1 }
                restored[r.stream] = log
            }
            var missing: [String] = []
            if snapshotDirectory != nil {
                for (name, var log) in restored {
                    if let info = log.snapshot, let files = log.storage as? FileSnapshotStorage, files.fileSize(info) != info.size {
                        let found = files.fileSize(info).map { "\($0) bytes" } ?? "no file"
                        missing.append("\(name): \(files.path(of: info.index)) has \(found), expected \(info.size) bytes")
                        log.markDamaged("\(files.path(of: info.index)) has \(found), expected \(info.size) bytes")
                    }
                    log.storage.prune(keeping: log.snapshot)
                    restored[name] = log
                }
            }
            missingSnapshots = missing
            directoryComplete = complete
            streams = restored
            recordsSinceSnapshot = records.count
            storedBytes = restored.values.reduce(0) { $0 + $1.payloadBytes }
            restoreSkipped = skipped
        }

        /// Journal records or changes that could not be restored at start.
        public let restoreSkipped: Int
        /// Streams whose snapshot file was missing or damaged at start (each marked damaged, `ReplicaLog.snapshotDamage`).
        public let missingSnapshots: [String]
        /// Where each stream's snapshot is a file (nil: in memory).
        public let snapshotDirectory: String?
        /// Snapshot pages not stored or snapshots not readable (`replica_snapshot_errors_total`).
        public private(set) var snapshotErrors = 0

        /// Answers one owner request, after persisting what it changed.
        ///
        /// - Throws: `StoreError` (limits, a failed journal).
        public func handle(_ request: Request) async throws -> Reply {
            while compacting { await withCheckedContinuation { gate.append($0) } }
            if let failure { throw StoreError.journalFailed(failure) }
            let name = request.stream
            guard !name.isEmpty, name.utf8.count <= 256 else { throw StoreError.badStreamName(name) }
            let existed = streams[name] != nil
            if !existed {
                guard streams.count < maxStreams else { throw StoreError.tooManyStreams(limit: maxStreams) }
            }
            if case .append(_, _, _, _, let entries, _) = request {
                let adding = entries.reduce(0) { $0 + $1.payload.count }
                guard storedBytes + adding <= maxStoredBytes else { throw StoreError.full(limit: maxStoredBytes) }
            }
            // Refused before anything changes: a write that ran out of space after the change was applied in
            // memory would have to fail the whole store.
            if journal != nil, var d = disk {
                var writing = 0
                switch request {
                case .prepare, .record: writing = 256
                case .append(_, _, _, _, let entries, _) where !entries.isEmpty:
                    writing = entries.reduce(256) { $0 + $1.payload.count + 64 }
                case .installSnapshot(_, _, _, _, let chunk):
                    writing = 512 + chunk.count
                default: break
                }
                if writing > 0 {
                    let admitted = d.admit(writing)
                    disk = d
                    if let available = d.availableBytes { metrics?.diskAvailable.set(available) }
                    guard admitted else {
                        metrics?.diskFullRefusals.increment()
                        let error = StoreError.diskFull(availableBytes: d.availableBytes ?? 0, reserveBytes: d.reserveBytes)
                        if diskFullReason == nil { logger?.error("replica.disk_full", ["error": "\(error)", "path": d.path]) }
                        diskFullReason = "\(error)"
                        throw error
                    }
                    if diskFullReason != nil {
                        diskFullReason = nil
                        logger?.info("replica.disk_space_recovered", ["path": d.path])
                    }
                }
            }
            // Taken out of the table while it changes, so its entries are not copied (copy-on-write).
            var log = streams.removeValue(forKey: name)
                ?? snapshotDirectory.map { ReplicaLog(storage: FileSnapshotStorage(directory: $0, stream: name)) } ?? ReplicaLog()
            let oldBytes = log.payloadBytes
            var (reply, changes) = log.handle(request)
            if case .promised(let i, let b, let c, let config, let previous, _) = reply, directoryComplete == false {
                reply = .promised(lastIndex: i, lastBallot: b, commitIndex: c, config: config, previousConfig: previous,
                                  directoryComplete: false)
            }
            if let problem = log.takeStorageError() {
                snapshotErrors += 1
                logger?.error("replica.snapshot_storage_failed", ["stream": name, "error": problem])
            }
            if let metrics {
                metrics.requests.increment()
                if case .rejected = reply { metrics.rejected.increment() }
            }
            if case .refused(let reason) = reply, case .append = request {
                logger?.warning("replica.append_refused", ["stream": name, "ballot": "\(request.ballot)", "reason": reason])
            }
            // A request that changed nothing on a stream not held creates no stream.
            if existed || !changes.isEmpty { streams[name] = log }
            if changes.isEmpty, journal != nil, ticketsDurable < ticketsIssued {
                // What this reply vouches for may still be on its way to disk (a resent append): wait for it.
                let ticket = ticketsIssued
                await withCheckedContinuation { durableWaiters.append((ticket, $0)) }
                if let failure { throw StoreError.journalFailed(failure) }
            }
            if !changes.isEmpty {
                storedBytes += log.payloadBytes - oldBytes
                metrics?.streams.set(streams.count)
                metrics?.bytes.set(storedBytes)
                if journal != nil {
                    try await persist(JournalRecord(stream: name, changes: changes))
                    recordsSinceSnapshot += 1
                    if changes.contains(where: { switch $0 { case .snapshotInstalled, .reset: true; default: false } }) {
                        // The install (or reset) is durable in the journal: the snapshot it replaced may go.
                        if var l = streams[name] { l.storage.prune(keeping: l.snapshot); streams[name] = l }
                    }
                    if recordsSinceSnapshot >= snapshotEvery && !compacting {
                        Task { await self.compact() }
                    }
                }
            }
            return reply
        }

        /// Appends `record` to the journal and returns once it is durable (a reply that changed nothing waits for the
        /// appends issued before it, `ticketsDurable`; compaction waits for none in flight, `appendsInFlight`).
        ///
        /// - Throws: `StoreError.journalFailed`; the store then refuses every request until the node restarts.
        private func persist(_ record: JournalRecord) async throws {
            guard let journal else { return }
            appendsInFlight += 1
            ticketsIssued += 1
            let ticket = ticketsIssued
            defer {
                appendsInFlight -= 1
                if appendsInFlight == 0 {
                    for d in drained { d.resume() }
                    drained = []
                }
                // Appends return in issue order (the journal is ordered); a failure releases waiters too.
                ticketsDurable = max(ticketsDurable, ticket)
                let ready = durableWaiters.filter { $0.ticket <= ticketsDurable || failure != nil }
                durableWaiters.removeAll { $0.ticket <= ticketsDurable || failure != nil }
                for w in ready { w.continuation.resume() }
            }
            do {
                _ = try await journal.append(try Wire.BinaryEncoder().encode(record))
            } catch {
                if failure == nil {
                    logger?.error("replica.journal_failed", ["error": "\(error)",
                                                              "effect": "this node's replicas refuse every request until it restarts"])
                }
                failure = "\(error)"
                throw StoreError.journalFailed("\(error)")
            }
        }

        // MARK: The stream directory (`DirectorySync`)

        /// Whether this node's stream directory covers every stream its cluster had: true once it formed a cluster
        /// with it or read the directory from a majority of members after joining; false from when it joins a
        /// running cluster until then; nil for a store never told either (a new one). Journaled: a restart keeps it.
        /// While false, this node's promises say so (`Reply.promised(directoryComplete:)`).
        public private(set) var directoryComplete: Bool?

        /// Called before this store's node starts joining a cluster: a store never told whether its directory is
        /// complete (a new one) is not, until its node formed the cluster or read the directory
        /// (`DirectorySync`) — without this it answered promises as complete in the moments after its join.
        /// A write that fails still counts it incomplete here, in memory (the failure is logged).
        public func joiningCluster() async {
            guard directoryComplete == nil else { return }
            do {
                try await setDirectoryComplete(false)
            } catch {
                directoryComplete = false
                logger?.error("replica.directory_state_not_written", ["error": "\(error)"])
            }
        }

        /// Entries per directory page (a page of 512 names of ≤ 256 bytes stays far below the frame limit).
        public static let directoryPageEntries = 512

        /// Records whether the directory is complete, durably; nothing is written when it already says so.
        ///
        /// - Throws: `StoreError.journalFailed`, `StoreError.diskFull`.
        public func setDirectoryComplete(_ complete: Bool) async throws {
            while compacting { await withCheckedContinuation { gate.append($0) } }
            if let failure { throw StoreError.journalFailed(failure) }
            guard directoryComplete != complete else { return }
            try admit(bytes: 256)
            directoryComplete = complete
            try await persist(JournalRecord(stream: "", changes: [], directoryComplete: complete))
        }

        /// A page of this node's stream directory: the streams named above `after` (nil: from the first), in name
        /// order, each with the newest replica set known committed (`ReplicaLog.directoryConfig`; streams with none
        /// are left out), at most `limit` entries.
        public func directoryPage(after: String?, limit: Int = ReplicaStore.directoryPageEntries) -> DirectoryPage {
            let names = streams.keys.filter { after == nil || $0 > after! }.sorted()
            var entries: [DirectoryEntry] = []
            var next: String?
            for name in names {
                guard entries.count < max(1, limit) else { next = entries.last?.stream; break }
                if let config = streams[name]!.directoryConfig { entries.append(DirectoryEntry(stream: name, config: config)) }
            }
            return DirectoryPage(entries: entries, next: next, complete: directoryComplete != false)
        }

        /// Keeps each entry's set as its stream's recorded set where it is newer than the one held
        /// (`ReplicaLog.learn`), durably, before it returns. Entries with a bad name, or beyond the store's stream
        /// limit, are skipped. Returns how many sets were new here.
        ///
        /// - Throws: `StoreError.journalFailed`, `StoreError.diskFull`.
        @discardableResult
        public func learn(_ entries: [DirectoryEntry]) async throws -> Int {
            var learned = 0
            for entry in entries {
                while compacting { await withCheckedContinuation { gate.append($0) } }
                if let failure { throw StoreError.journalFailed(failure) }
                let name = entry.stream
                guard !name.isEmpty, name.utf8.count <= 256 else { continue }
                if streams[name] == nil, streams.count >= maxStreams { continue }
                var log = streams[name]
                    ?? snapshotDirectory.map { ReplicaLog(storage: FileSnapshotStorage(directory: $0, stream: name)) } ?? ReplicaLog()
                let changes = log.learn(entry.config)
                guard !changes.isEmpty else { continue }
                try admit(bytes: 256)
                streams[name] = log
                metrics?.streams.set(streams.count)
                learned += 1
                try await persist(JournalRecord(stream: name, changes: changes))
                recordsSinceSnapshot += 1
            }
            return learned
        }

        /// Refuses a write of about `bytes` while the journal's disk is below its reserve (`DiskSpace`).
        private func admit(bytes: Int) throws {
            guard journal != nil, var d = disk else { return }
            let admitted = d.admit(bytes)
            disk = d
            guard admitted else {
                metrics?.diskFullRefusals.increment()
                throw StoreError.diskFull(availableBytes: d.availableBytes ?? 0, reserveBytes: d.reserveBytes)
            }
        }

        /// Writes a snapshot of every stream and lets the journal drop the records it covers. Requests wait
        /// meanwhile (the snapshot must cover exactly the records written before it).
        public func compact() async {
            guard let journal, !compacting else { return }
            compacting = true
            defer {
                compacting = false
                for g in gate { g.resume() }
                gate = []
            }
            while appendsInFlight > 0 { await withCheckedContinuation { drained.append($0) } }
            let through = journal.lastSequence
            let snapshot = StoreSnapshot(streams: streams.keys.sorted().map { name in
                let log = streams[name]!
                return .init(name: name, promised: log.promised, entries: log.entries, snapshot: log.snapshot,
                             commitIndex: log.commitIndex, recorded: log.recorded)
            }, directoryComplete: directoryComplete)
            do {
                try await journal.writeSnapshot(through: through, try Wire.BinaryEncoder().encode(snapshot))
                recordsSinceSnapshot = 0
            } catch {
                // The journal itself still holds everything: keep serving, try again after as many records.
                recordsSinceSnapshot = 0
                logger?.warning("replica.snapshot_failed", ["error": "\(error)", "through": through])
            }
        }

        /// The journal's options: the log's defaults, with snapshots as large as the store may grow (8 GiB of
        /// entries plus their framing).
        public static var journalOptions: DurableLog.Options {
            var o = DurableLog.Options()
            o.maxSnapshotBytes = 10 << 30
            return o
        }

        /// Opens (or creates) the node's replica journal in `directory` and restores every stream from its
        /// newest snapshot and the records after it. A torn tail (a crash in the middle of a write) is
        /// truncated; what was truncated is in the returned report. Writes are refused with `StoreError.diskFull`
        /// while the directory's file system is below its free-space reserve (`DiskSpace`).
        ///
        /// - Throws: `DurabilityError` (locked by another process, corruption before the tail, I/O).
        public static func open(directory: String, options: DurableLog.Options = ReplicaStore.journalOptions,
                                metrics: Metrics? = nil, maxStreams: Int = 4096, maxStoredBytes: Int = 8 << 30,
                                snapshotEvery: Int = 50_000) async throws -> (ReplicaStore, DurableLog.RecoveryReport) {
            let (log, report) = try GroupCommitLog.open(directory: directory, options: options, metrics: metrics)
            let snapshot = try await log.latestSnapshot()
            var records: [[UInt8]] = []
            var next = (snapshot?.sequence ?? 0) + 1
            let first = try await log.firstSequence()
            next = max(next, first)
            // Bounded: each page advances `next` by at least one record.
            while next <= log.lastSequence {
                let page = try await log.read(from: next, maxBytes: 8 << 20)
                guard let last = page.last else { break }
                records += page.map(\.payload)
                next = last.sequence + 1
            }
            let snapshots = Self.snapshotDirectory(in: directory)
            try FileManager.default.createDirectory(atPath: snapshots, withIntermediateDirectories: true)
            let store = ReplicaStore(journal: log, snapshot: snapshot?.bytes, records: records, maxStreams: maxStreams,
                                     maxStoredBytes: maxStoredBytes, snapshotEvery: snapshotEvery,
                                     disk: DiskSpace(path: directory), snapshotDirectory: snapshots)
            return (store, report)
        }

        /// Closes the journal (`Journal.close`): the directory can be opened again, by this process or another.
        ///
        /// - Throws: the journal's error (`DurabilityError`).
        public func close() async throws { try await journal?.close() }

        /// Where a store whose journal is in `directory` keeps its streams' snapshot files.
        public static func snapshotDirectory(in directory: String) -> String { directory + "/snapshots" }

        /// Streams whose snapshot was missing at start (for the shell to log once it has a logger; later calls log
        /// nothing).
        public func logMissingSnapshots(_ logger: Logger) {
            guard !missingLogged else { return }
            missingLogged = true
            for m in missingSnapshots {
                logger.error("replica.snapshot_missing", ["detail": m, "effect": "the stream's replica keeps its log position but serves no snapshot and acknowledges no append until an owner sends the snapshot again; a recovering owner reads the stream from a replica that holds it whole"])
            }
        }

        /// The replica of `stream`, if held (tests, admin).
        public func log(of stream: String) -> ReplicaLog? { streams[stream] }

        /// Stream names held, with last index and promised ballot.
        /// Whether this store holds state a cluster gave the node at `address`: a stream whose promised ballot, last
        /// entry's ballot, latest replica set or recorded set names another address. A stream only this node ever
        /// held — its own local stream, written in its first moments before it formed or joined a cluster — is no
        /// cluster's state (breaker, 2026-12-03: a fresh seed killed 69 ms after start held its own intake queue
        /// and, restarted, waited for a cluster for ever).
        public func holdsClusterState(besides address: NodeAddress) -> Bool {
            streams.values.contains { log in
                for ballot in [log.promised, log.lastBallot] where ballot != .zero && ballot.node.address != address {
                    return true
                }
                return [log.latestConfig, log.recorded].contains { $0?.members.contains { $0 != address } ?? false }
            }
        }

        public func summary() -> [StreamSummary] {
            streams.keys.sorted().map { StreamSummary(stream: $0, lastIndex: streams[$0]!.lastIndex,
                                                      commitIndex: streams[$0]!.commitIndex,
                                                      promised: streams[$0]!.promised.description,
                                                      bytes: streams[$0]!.payloadBytes,
                                                      snapshotDamage: streams[$0]!.snapshotDamage,
                                                      recordedSet: streams[$0]!.recorded?.members.map(\.description)) }
        }
    }
}
