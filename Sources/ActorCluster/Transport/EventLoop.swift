import CEpoll
import Glibc
import Synchronization

/// Receives readiness events for one registered file descriptor. Called on the event-loop thread only.
protocol EventHandler: AnyObject {
    /// `events`: the epoll mask (EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP / EPOLLRDHUP bits).
    func handleEvents(_ events: UInt32)
}

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC).
enum Monotonic {
    static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// epoll interest masks used by the transport.
enum Interest {
    static let read: UInt32 = cepoll_EPOLLIN() | cepoll_EPOLLRDHUP()
    static let readWrite: UInt32 = cepoll_EPOLLIN() | cepoll_EPOLLOUT() | cepoll_EPOLLRDHUP()
    static let write: UInt32 = cepoll_EPOLLOUT()
    static let none: UInt32 = 0
}

/// One thread running `epoll_wait` over every registered fd (level-triggered), woken by an eventfd for tasks
/// submitted from other threads, with a small timer list feeding `epoll_wait`'s timeout.
///
/// Thread-safety: `execute`, `setInterest`, `isInLoop`, `stop` may be called from any thread. `register`,
/// `deregister`, `schedule`, `cancel` and the handler/timer tables are confined to the loop thread (hence
/// `@unchecked Sendable`: the confined fields are never touched elsewhere).
final class EventLoop: @unchecked Sendable {
    private struct Inbox {
        var tasks: [@Sendable () -> Void] = []
        var wakePending = false
        var stopRequested = false
        /// The loop is in (or committed to) a blocking `epoll_wait`: a task submitted now needs the eventfd. While
        /// false the loop is awake and looks at `tasks` again before it blocks, so no wake-up is written.
        var sleeping = false
    }

    private struct Timer {
        var deadlineNs: UInt64
        var id: UInt64
        var action: () -> Void
    }

    private struct ThreadState {
        var started = false
        var thread = pthread_t()
        /// Someone joined or detached the thread.
        var finished = false
        /// `stop` ran on the loop thread: the thread was detached and closes the descriptors itself on exit.
        var detached = false
    }

    /// Max events handled per `epoll_wait`.
    private static let maxEvents = 64
    /// Token of the wake-up eventfd.
    static let wakeToken: UInt64 = 0

    private let epfd: Int32
    private let wakefd: Int32
    private let inbox = Mutex(Inbox())
    private let threadState = Mutex(ThreadState())
    private let loopThread = Atomic<UInt>(0)
    private let fdsClosed = Atomic<Bool>(false)

    // Loop-thread confined.
    private var handlers: [UInt64: EventHandler] = [:]
    private var timers: [Timer] = []  // sorted by deadline, earliest first
    private var nextTimerID: UInt64 = 1
    /// Actions to run once the current iteration's events and tasks are done, just before the loop polls again
    /// (`runBeforePoll`): how writes queued during one iteration go out in one `write(2)`.
    private var beforePoll: [() -> Void] = []

    /// Whether the epoll and eventfd descriptors were created.
    let isValid: Bool
    /// errno of the failed `epoll_create1`/`eventfd`, 0 when valid.
    let creationErrno: Int32

    init() {
        let ep = cepoll_create()
        let epErr = ep < 0 ? cepoll_errno() : 0
        let wk = ep >= 0 ? cepoll_eventfd() : -1
        let wkErr = (ep >= 0 && wk < 0) ? cepoll_errno() : 0
        epfd = ep
        wakefd = wk
        if ep >= 0, wk >= 0, cepoll_ctl(ep, cepoll_CTL_ADD(), wk, cepoll_EPOLLIN(), Self.wakeToken) == 0 {
            isValid = true
            creationErrno = 0
        } else {
            isValid = false
            creationErrno = epErr != 0 ? epErr : (wkErr != 0 ? wkErr : cepoll_errno())
            if wk >= 0 { _ = Glibc.close(wk) }
            if ep >= 0 { _ = Glibc.close(ep) }
            fdsClosed.store(true, ordering: .relaxed)
        }
    }

    deinit {
        closeDescriptors()
    }

    private func closeDescriptors() {
        guard isValid, !fdsClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        _ = Glibc.close(wakefd)
        _ = Glibc.close(epfd)
    }

    /// True when called on the loop thread.
    var isInLoop: Bool {
        let t = loopThread.load(ordering: .acquiring)
        return t != 0 && pthread_equal(pthread_self(), pthread_t(t)) != 0
    }

    /// Starts the loop thread (named `name`, at most 15 bytes are kept). Returns false when the loop is invalid,
    /// already started, or `pthread_create` failed.
    func start(name: String) -> Bool {
        guard isValid else { return false }
        return threadState.withLock { st -> Bool in
            guard !st.started else { return false }
            guard let tid = startNamedThread(name, { self.run() }) else { return false }
            st.started = true
            st.thread = tid
            return true
        }
    }

    /// Runs `task` on the loop thread soon (FIFO). Returns false, dropping the task, once `stop` was requested.
    /// The eventfd is written only when the loop is blocked in `epoll_wait` (at most once until it wakes): an awake
    /// loop runs the task before it blocks again.
    @discardableResult
    func execute(_ task: @escaping @Sendable () -> Void) -> Bool {
        // On the loop thread no wake-up is needed: the loop runs queued tasks before it blocks again.
        let onLoop = isInLoop
        let wake = inbox.withLock { box -> Bool? in
            guard !box.stopRequested else { return nil }
            box.tasks.append(task)
            if onLoop || box.wakePending || !box.sleeping { return false }
            box.wakePending = true
            return true
        }
        guard let wake else { return false }
        if wake { signalWake() }
        return true
    }

    /// Runs `task` on the loop thread soon, but only when that costs no wake-up: the loop is awake (handling
    /// events or tasks) and will run it before it blocks. Returns false, not queuing the task, when the loop is
    /// blocked in `epoll_wait` or stopping. Any thread.
    func executeIfAwake(_ task: @escaping @Sendable () -> Void) -> Bool {
        inbox.withLock { box -> Bool in
            guard !box.stopRequested, !box.sleeping else { return false }
            box.tasks.append(task)
            return true
        }
    }

    /// Loop thread: runs `action` after the events and tasks of the current iteration, before the loop polls
    /// again (FIFO; actions queued by these actions run in the same pass, bounded).
    func runBeforePoll(_ action: @escaping () -> Void) {
        beforePoll.append(action)
    }

    private func signalWake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(wakefd, $0.baseAddress, 8) }
    }

    /// Changes the interest mask of a registered fd. Thread-safe (`epoll_ctl` is); failures (fd already
    /// deregistered) are ignored.
    func setInterest(fd: Int32, token: UInt64, events: UInt32) {
        _ = cepoll_ctl(epfd, cepoll_CTL_MOD(), fd, events, token)
    }

    /// Loop thread: registers `fd` under `token` (≠ 0). Returns the errno of `epoll_ctl` on failure, 0 on success.
    func register(fd: Int32, token: UInt64, events: UInt32, handler: EventHandler) -> Int32 {
        guard cepoll_ctl(epfd, cepoll_CTL_ADD(), fd, events, token) == 0 else { return cepoll_errno() }
        handlers[token] = handler
        return 0
    }

    /// Loop thread: stops watching `fd` and forgets its handler.
    func deregister(fd: Int32, token: UInt64) {
        handlers[token] = nil
        _ = cepoll_ctl(epfd, cepoll_CTL_DEL(), fd, 0, token)
    }

    /// Loop thread: runs `action` on the loop thread `afterNs` nanoseconds from now. Returns an id for `cancel`.
    func schedule(afterNs: Int64, _ action: @escaping () -> Void) -> UInt64 {
        let id = nextTimerID
        nextTimerID &+= 1
        let deadline = Monotonic.nowNs() &+ UInt64(max(0, afterNs))
        let timer = Timer(deadlineNs: deadline, id: id, action: action)
        // Sorted insert (binary search); the list holds one or two timers per connection / peer.
        var lo = 0, hi = timers.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if timers[mid].deadlineNs <= deadline { lo = mid + 1 } else { hi = mid }
        }
        timers.insert(timer, at: lo)
        return id
    }

    /// Loop thread: cancels a timer; no effect when it already ran.
    func cancel(_ id: UInt64) {
        if let i = timers.firstIndex(where: { $0.id == id }) { timers.remove(at: i) }
    }

    /// Stops the loop: tasks already submitted still run, later `execute` calls return false. From another thread
    /// it joins the loop thread and closes the epoll/eventfd descriptors; from the loop thread itself it only
    /// requests the stop (the thread detaches and closes them on exit). Idempotent.
    func stop() {
        let first = inbox.withLock { box -> Bool in
            guard !box.stopRequested else { return false }
            box.stopRequested = true
            return true
        }
        if first, isValid { signalWake() }
        if isInLoop {
            threadState.withLock { st in
                if st.started && !st.finished {
                    st.finished = true
                    st.detached = true
                    _ = pthread_detach(st.thread)
                }
            }
            return
        }
        let toJoin: pthread_t? = threadState.withLock { st in
            guard st.started, !st.finished else { return nil }
            st.finished = true
            return st.thread
        }
        if let t = toJoin {
            _ = pthread_join(t, nil)
            closeDescriptors()
        } else if !threadState.withLock({ $0.started }) {
            closeDescriptors()
        }
    }

    // MARK: - Loop thread

    private func run() {
        loopThread.store(UInt(bitPattern: Int(bitPattern: UInt(pthread_self()))), ordering: .releasing)
        var tokens = [UInt64](repeating: 0, count: Self.maxEvents)
        var masks = [UInt32](repeating: 0, count: Self.maxEvents)
        var consecutiveErrors = 0
        while true {
            if runTasks() { break }
            runTimers()
            runBeforePollActions()
            let timeout = nextTimeoutMs()
            let n = tokens.withUnsafeMutableBufferPointer { t in
                masks.withUnsafeMutableBufferPointer { m in
                    cepoll_wait(epfd, t.baseAddress, m.baseAddress, Int32(Self.maxEvents), timeout)
                }
            }
            if timeout != 0 { inbox.withLock { $0.sleeping = false } }
            if n < 0 {
                let e = cepoll_errno()
                if e == EINTR { continue }
                consecutiveErrors += 1
                // EBADF/EINVAL cannot recover; avoid spinning.
                if consecutiveErrors > 100 { break }
                continue
            }
            consecutiveErrors = 0
            for i in 0..<Int(n) {
                let token = tokens[i]
                if token == Self.wakeToken {
                    drainWake()
                } else if let h = handlers[token] {
                    h.handleEvents(masks[i])
                }
            }
        }
        // Actions the last tasks queued for the end of the iteration (a flush started while stopping) still run.
        runBeforePollActions()
        // Release everything captured by handlers and timers (they may reference sockets and the transport).
        handlers.removeAll()
        timers.removeAll()
        beforePoll.removeAll()
        inbox.withLock { $0.tasks.removeAll() }
        if threadState.withLock({ $0.detached }) { closeDescriptors() }
        // This thread is about to exit, and glibc gives its pthread_t to the next thread it creates: that thread
        // must not pass for this loop's (`isInLoop`), or it would touch loop-confined state (`runBeforePoll`,
        // `schedule`, …) from outside the loop, queuing actions no thread ever runs.
        loopThread.store(0, ordering: .releasing)
    }

    private func drainWake() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(wakefd, $0.baseAddress, 8) }
    }

    /// Runs the queued tasks; returns true when the loop must exit.
    private func runTasks() -> Bool {
        // A few rounds, so jobs that enqueue jobs (actor hops, resumed continuations) run before the loop
        // blocks; bounded, so I/O is never starved.
        for _ in 0..<4 {
            let (batch, stop) = inbox.withLock { box -> ([@Sendable () -> Void], Bool) in
                let t = box.tasks
                box.tasks.removeAll(keepingCapacity: true)
                box.wakePending = false
                return (t, box.stopRequested)
            }
            for task in batch { task() }
            if stop { return true }
            if batch.isEmpty { return false }
        }
        return false
    }

    /// Loop thread: runs the actions of `runBeforePoll` (bounded: an action that keeps queuing actions leaves the
    /// rest for the next iteration).
    private func runBeforePollActions() {
        for _ in 0..<4 where !beforePoll.isEmpty {
            let batch = beforePoll
            beforePoll.removeAll(keepingCapacity: true)
            for action in batch { action() }
        }
    }

    /// Loop thread: commits to blocking (`sleeping`, so later `execute` calls write the eventfd) unless tasks are
    /// waiting; true when it may block.
    private func enterSleep() -> Bool {
        inbox.withLock { box -> Bool in
            guard box.tasks.isEmpty else { return false }
            box.sleeping = true
            return true
        }
    }

    private func runTimers() {
        guard !timers.isEmpty else { return }
        let now = Monotonic.nowNs()
        var due = 0
        while due < timers.count && timers[due].deadlineNs <= now { due += 1 }
        guard due > 0 else { return }
        let fired = timers[0..<due].map(\.action)
        timers.removeFirst(due)
        for action in fired { action() }
    }

    /// The `epoll_wait` timeout: 0 while tasks or before-poll actions wait, else until the first timer (-1: none).
    /// A non-zero result has set `sleeping` (the caller clears it when `epoll_wait` returns).
    private func nextTimeoutMs() -> Int32 {
        if !beforePoll.isEmpty { return 0 }
        var ms: Int32 = -1
        if let first = timers.first {
            let now = Monotonic.nowNs()
            if first.deadlineNs <= now { return 0 }
            ms = Int32(min((first.deadlineNs - now + 999_999) / 1_000_000, 60_000))
        }
        return enterSleep() ? ms : 0
    }
}

/// Runs Swift concurrency jobs on an event loop's thread (SE-0417 task executor), so a task that prefers it —
/// and the default actors it calls — run where the I/O happens, without a thread hop per message (the
/// SwiftNIO model). Code running there must not block: it delays every connection of the node.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `loop` is itself thread-safe for `execute`; nothing else is stored.
    private let loop: EventLoop

    init(loop: EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        if !loop.execute({ unowned.runSynchronously(on: executor) }) {
            // The loop is stopping: run the job on the global pool rather than dropping it.
            Task.detached { unowned.runSynchronously(on: executor) }
        }
    }
}
