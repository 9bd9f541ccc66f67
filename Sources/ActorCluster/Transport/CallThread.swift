import Dispatch
import Glibc
import Synchronization

/// One thread, beside the I/O thread, that runs Swift concurrency jobs in batches (an SE-0417 task executor) and,
/// after each batch, the actions its jobs left for the end of the batch (`runAfterBatch`: the transport's writes,
/// so the replies of a batch of calls go out in one `write(2)`). An action never waits more than
/// `maxActionDelayNs` plus the job running at that moment: a long batch writes as it goes.
///
/// Jobs are queued under a lock and taken all at once; the thread parks on a semaphore only when it finds none
/// (one futex wake-up per batch, written only while it is parked), which costs what a pool worker's wake-up costs,
/// without the pool's wake-up per job. Jobs of tasks that prefer it run there, and so do the default actors
/// those tasks call while the actor is free (SE-0417), without a thread hop. A job that computes for long delays
/// the jobs behind it on this thread, never the I/O thread.
///
/// Thread-safety: `enqueue`, `isCurrent`, `start`, `stop` from any thread; `runAfterBatch` on this thread only.
final class CallThread: TaskExecutor, @unchecked Sendable {
    // @unchecked: `afterBatch` is confined to the thread; everything else is a lock, an atomic or immutable.
    private struct Inbox {
        var jobs: [UnownedJob] = []
        /// The thread is parked (or committed to park): a job queued now must signal `wake`.
        var parked = false
        /// `wake` was signalled for this parking; later jobs need not signal again.
        var wakePending = false
        var stopRequested = false
        /// The thread was created: jobs are queued for it (until the stop).
        var started = false
    }

    private struct ThreadState {
        var started = false
        var joined = false
        var thread = pthread_t()
    }

    private let inbox = Mutex(Inbox())
    private let wake = DispatchSemaphore(value: 0)
    private let threadState = Mutex(ThreadState())
    private let threadID = Atomic<UInt>(0)
    /// Thread-confined: actions to run once the current batch of jobs is done, and when the first of them was left.
    private var afterBatch: [() -> Void] = []
    private var afterBatchSinceNs: UInt64 = 0

    /// Rounds of jobs run before the after-batch actions (jobs queued by jobs — actor hops, resumed continuations
    /// — join the batch; bounded so writes are never held back for long).
    private static let roundsPerBatch = 4
    /// After-batch actions that have waited this long run before the next job, batch done or not: a reply is
    /// held back by at most this, plus the one job running when the time is up (1 ms: long enough for a read's
    /// worth of calls — at 100 µs a slow host's batches were split into two or three writes).
    static let maxActionDelayNs: UInt64 = 1_000_000

    init() {}

    /// The call thread the caller runs on, if any (a thread-specific value set by the thread itself).
    static var current: CallThread? {
        guard let key = currentKey, let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<CallThread>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Key of `current`, created once per process; nil when the process ran out of keys (then no thread is a
    /// call thread for `current`: their sends are written as from any other thread).
    private static let currentKey: pthread_key_t? = {
        var key = pthread_key_t()
        return pthread_key_create(&key, nil) == 0 ? key : nil
    }()

    /// True on this executor's thread.
    var isCurrent: Bool {
        let t = threadID.load(ordering: .acquiring)
        return t != 0 && pthread_equal(pthread_self(), pthread_t(t)) != 0
    }

    /// Starts the thread (`name`, at most 15 bytes kept). False when already started, stopped, or
    /// `pthread_create` failed.
    func start(name: String) -> Bool {
        threadState.withLock { st -> Bool in
            guard !st.started, !inbox.withLock({ $0.stopRequested }) else { return false }
            guard let tid = startNamedThread(name, { self.run() }) else { return false }
            st.started = true
            st.thread = tid
            // Lock order: threadState, then inbox (never the reverse).
            inbox.withLock { $0.started = true }
            return true
        }
    }

    /// Queues a job. Once stopped (or never started) it runs on the global pool instead, never dropped.
    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let signal = inbox.withLock { box -> Bool? in
            guard box.started, !box.stopRequested else { return nil }
            box.jobs.append(unowned)
            guard box.parked, !box.wakePending else { return false }
            box.wakePending = true
            return true
        }
        switch signal {
        case .some(true): wake.signal()
        case .some(false): break
        case .none:
            let executor = asUnownedTaskExecutor()
            Task.detached { unowned.runSynchronously(on: executor) }
        }
    }

    /// This thread only: runs `action` once the current batch of jobs is done, before the thread parks.
    func runAfterBatch(_ action: @escaping () -> Void) {
        if afterBatch.isEmpty { afterBatchSinceNs = Monotonic.nowNs() }
        afterBatch.append(action)
    }

    /// Stops the thread once the jobs already queued have run, and joins it (from the thread itself: only
    /// requests the stop). Later jobs run on the global pool. Idempotent.
    func stop() {
        let first = inbox.withLock { box -> Bool in
            guard !box.stopRequested else { return false }
            box.stopRequested = true
            return true
        }
        if first { wake.signal() }
        guard !isCurrent else { return }
        let toJoin: pthread_t? = threadState.withLock { st in
            guard st.started, !st.joined else { return nil }
            st.joined = true
            return st.thread
        }
        if let t = toJoin { _ = pthread_join(t, nil) }
    }

    // MARK: - The thread

    private func run() {
        threadID.store(UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))), ordering: .releasing)
        // Unretained: the thread's closure holds the executor until `run` returns, and the value is cleared first.
        if let key = Self.currentKey { _ = pthread_setspecific(key, Unmanaged.passUnretained(self).toOpaque()) }
        defer { if let key = Self.currentKey { _ = pthread_setspecific(key, nil) } }
        let executor = asUnownedTaskExecutor()
        // Swapped with the inbox's array: the two buffers take turns, so taking a batch allocates nothing.
        var batch: [UnownedJob] = []
        while true {
            var ranAny = false
            var stop = false
            for _ in 0..<Self.roundsPerBatch {
                batch.removeAll(keepingCapacity: true)
                stop = inbox.withLock { box -> Bool in
                    swap(&batch, &box.jobs)
                    return box.stopRequested
                }
                if batch.isEmpty { break }
                ranAny = true
                for job in batch {
                    job.runSynchronously(on: executor)
                    if !afterBatch.isEmpty, Monotonic.nowNs() &- afterBatchSinceNs >= Self.maxActionDelayNs {
                        runAfterBatchActions()
                    }
                }
            }
            runAfterBatchActions()
            if stop, !ranAny { break }
            if ranAny { continue }
            let park = inbox.withLock { box -> Bool in
                guard box.jobs.isEmpty, !box.stopRequested else { return false }
                box.parked = true
                box.wakePending = false
                return true
            }
            if park {
                wake.wait()
                inbox.withLock { $0.parked = false }
            }
        }
        runAfterBatchActions()
        // Nothing is queued after the stop flag (`enqueue` checks it under the same lock) and the last pass found
        // nothing: no job is left behind.
        // glibc reuses pthread_t values: a later thread must not pass for this one.
        threadID.store(0, ordering: .releasing)
    }

    private func runAfterBatchActions() {
        for _ in 0..<4 where !afterBatch.isEmpty {
            let batch = afterBatch
            afterBatch.removeAll(keepingCapacity: true)
            for action in batch { action() }
        }
    }
}
