import Dispatch
import Synchronization

/// A `DurableLog` shared by concurrent appenders, with group commit: appends that arrive while a write + fsync is
/// running wait in a bounded queue and are written together as the next batch with ONE write and ONE fsync, so
/// under load the fsync cost is shared by every record of the batch (the classic database group commit). Each
/// `append` resumes only when its record is durable per the log's `FsyncPolicy` (`.always`: fdatasync'd).
///
/// The log lives on one serial `DispatchQueue`; every operation runs there. Memory: at most `maxPendingBytes` of
/// payloads wait, plus the batch being written. Cancelling an `append` does not withdraw its record.
public final class GroupCommitLog: Sendable {
    /// Batches written (one write and at most one fsync each) and records in them.
    public struct Counters: Sendable, Equatable {
        public var batches = 0
        public var records = 0
    }

    private struct Waiter {
        var payload: [UInt8]
        var continuation: CheckedContinuation<UInt64, any Error>
    }

    private struct State {
        var pending: [Waiter] = []
        var pendingBytes = 0
        /// A drain is queued or running on `queue`.
        var draining = false
        var closed = false
        var syncScheduled = false
        var counters = Counters()
    }

    /// The log's options (limits and fsync policy).
    public let options: DurableLog.Options
    /// Payload bytes allowed to wait for the next batch; above it `append` throws `.overloaded`. Default 64 MiB.
    public let maxPendingBytes: Int
    private let state = Mutex(State())
    private let queue: DispatchQueue
    /// Touched only on `queue`.
    nonisolated(unsafe) private let log: DurableLog
    private let last: Atomic<UInt64>

    /// Takes over `log` (it must not be used elsewhere afterwards).
    public init(_ log: sending DurableLog, maxPendingBytes: Int = 64 << 20, label: String = "durable-log") {
        options = log.options
        self.maxPendingBytes = maxPendingBytes
        last = Atomic(log.lastSequence)
        self.log = log
        queue = DispatchQueue(label: label)
    }

    /// `DurableLog.open(directory:options:metrics:)` wrapped for concurrent use; throws what it throws.
    public static func open(directory: String, options: DurableLog.Options = DurableLog.Options(), metrics: Metrics? = nil,
                            maxPendingBytes: Int = 64 << 20) throws -> (GroupCommitLog, DurableLog.RecoveryReport) {
        let (log, report) = try DurableLog.open(directory: directory, options: options, metrics: metrics)
        return (GroupCommitLog(log, maxPendingBytes: maxPendingBytes), report)
    }

    /// Appends one record and returns its sequence once it is durable per the fsync policy.
    /// - Throws: `.recordTooLarge` (above `maxRecordBytes`); `.overloaded(pendingBytes:limit:)` when the waiting
    ///   payloads would pass `maxPendingBytes` (a payload is always accepted into an empty queue); `.closed`; and,
    ///   for every record of the batch, what `DurableLog.append` threw (`.io`, `.failed`).
    public func append(_ payload: [UInt8]) async throws -> UInt64 {
        guard payload.count <= options.maxRecordBytes else {
            throw DurabilityError.recordTooLarge(bytes: payload.count, limit: options.maxRecordBytes)
        }
        return try await withCheckedThrowingContinuation { continuation in
            let refused: DurabilityError? = state.withLock { s in
                if s.closed { return .closed }
                if s.pendingBytes > 0 && s.pendingBytes + payload.count > maxPendingBytes {
                    return .overloaded(pendingBytes: s.pendingBytes, limit: maxPendingBytes)
                }
                s.pending.append(Waiter(payload: payload, continuation: continuation))
                s.pendingBytes += payload.count
                if !s.draining {
                    s.draining = true
                    // Queued under the lock, so a later `close()` is queued after it.
                    queue.async { self.drain() }
                }
                return nil
            }
            if let refused { continuation.resume(throwing: refused) }
        }
    }

    /// On `queue`: writes everything pending as one batch, again until nothing is pending.
    private func drain() {
        while true {
            let batch: [Waiter] = state.withLock { s in
                if s.pending.isEmpty {
                    s.draining = false
                    return []
                }
                defer {
                    s.pending = []
                    s.pendingBytes = 0
                }
                return s.pending
            }
            if batch.isEmpty { return }
            do {
                let range = try log.append(batch.map(\.payload))
                last.store(range.upperBound, ordering: .releasing)
                state.withLock { s in
                    s.counters.batches += 1
                    s.counters.records += batch.count
                }
                for (i, w) in batch.enumerated() { w.continuation.resume(returning: range.lowerBound + UInt64(i)) }
            } catch {
                for w in batch { w.continuation.resume(throwing: error) }
            }
            scheduleIntervalSync()
        }
    }

    /// On `queue`: under `.interval(ms)`, makes sure unsynced writes are fsynced `ms` later even if no append
    /// follows.
    private func scheduleIntervalSync() {
        guard case .interval(let ms) = options.fsync, log.hasUnsyncedWrites else { return }
        let schedule = state.withLock { s in
            if s.syncScheduled || s.closed { return false }
            s.syncScheduled = true
            return true
        }
        guard schedule else { return }
        queue.asyncAfter(deadline: .now() + .milliseconds(ms)) {
            let closed = self.state.withLock { s in
                s.syncScheduled = false
                return s.closed
            }
            if !closed { try? self.log.sync() }  // a failure turns the log `.failed`; the next append reports it
        }
    }

    /// Runs `body` on the queue with the log.
    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (DurableLog) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do { continuation.resume(returning: try body(self.log)) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Batches and records written so far.
    public var counters: Counters { state.withLock { $0.counters } }

    /// Payload bytes waiting for the next batch.
    public var pendingBytes: Int { state.withLock { $0.pendingBytes } }

    /// Tests: holds the queue (nothing queued runs) until `resumeForTesting()`.
    func suspendForTesting() { queue.suspend() }
    func resumeForTesting() { queue.resume() }

    /// The last durable-per-policy sequence (0 for an empty log). Updated after each batch; never blocks.
    public var lastSequence: UInt64 { last.load(ordering: .acquiring) }

    /// The first sequence still on disk (`DurableLog.firstSequence`).
    public func firstSequence() async throws -> UInt64 { try await onQueue { $0.firstSequence } }

    /// Records from `sequence`, at most `maxBytes` of payload (at least one record when one exists); see
    /// `DurableLog.read(from:maxBytes:_:)` for the errors. An empty result means nothing at or after `sequence`.
    public func read(from sequence: UInt64, maxBytes: Int) async throws -> [DurableLog.Record] {
        try await onQueue { log in
            var out: [DurableLog.Record] = []
            try log.read(from: sequence, maxBytes: maxBytes) { out.append(DurableLog.Record(sequence: $0, payload: $1)) }
            return out
        }
    }

    /// `DurableLog.writeSnapshot(through:_:)` on the queue (after every append queued before it).
    public func writeSnapshot(through sequence: UInt64, _ bytes: [UInt8]) async throws {
        try await onQueue { try $0.writeSnapshot(through: sequence, bytes) }
    }

    /// `DurableLog.latestSnapshot()` on the queue.
    public func latestSnapshot() async throws -> (sequence: UInt64, bytes: [UInt8])? {
        try await onQueue { try $0.latestSnapshot() }
    }

    /// Fsyncs unsynced writes now (`DurableLog.sync()`).
    public func sync() async throws { try await onQueue { try $0.sync() } }

    /// Refuses new appends (`.closed`), lets every append already accepted finish, then closes the log (fsync,
    /// files, lock). Idempotent. Throws what `DurableLog.close()` throws.
    public func close() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            state.withLock { s in
                s.closed = true
                queue.async {
                    do { try self.log.close(); continuation.resume() } catch { continuation.resume(throwing: error) }
                }
            }
        }
    }
}

extension DurableLog {
    /// One record: its sequence and payload.
    public struct Record: Sendable, Equatable {
        public var sequence: UInt64
        public var payload: [UInt8]

        public init(sequence: UInt64, payload: [UInt8]) {
            self.sequence = sequence
            self.payload = payload
        }
    }
}
