import Dispatch
import Synchronization
import XCTest
@testable import ActorCluster

/// The call thread (`ClusterSettings.InboundExecution.callThread`): jobs of tasks that prefer it run on it, the
/// jobs queued while it is busy run as one batch, and the actions they left for the end of the batch (the
/// transport's writes) run after all of them; once stopped, jobs still run, on the global pool.
/// Blocks the calling thread until `semaphore` is signalled (at most 5 s): a job that holds the call thread.
private func hold(_ semaphore: DispatchSemaphore) -> Bool {
    semaphore.wait(timeout: .now() + 5) == .success
}

private final class Recorder: Sendable {
    let items = Mutex<[String]>([])
    func add(_ item: String) { items.withLock { $0.append(item) } }
    var all: [String] { items.withLock { $0 } }
}

final class CallThreadTests: XCTestCase {
    func test_jobsQueuedWhileTheThreadIsBusyRunAsOneBatch_thenTheirAfterBatchActions() async throws {
        let thread = CallThread()
        XCTAssertTrue(thread.start(name: "test-calls"))
        defer { thread.stop() }
        let order = Recorder()
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let actionsDone = DispatchSemaphore(value: 0)

        let first = Task(executorPreference: thread) { @Sendable () -> Bool in
            holding.signal()
            return hold(release)
        }
        XCTAssertEqual(holding.wait(timeout: .now() + 5), .success)
        // Queued while the first job holds the thread: they run in the same batch, before any after-batch action.
        var queued: [Task<Bool, Never>] = []
        for name in ["a", "b"] {
            queued.append(Task(executorPreference: thread) { @Sendable () -> Bool in
                guard thread.isCurrent else { return false }
                order.add("job \(name)")
                thread.runAfterBatch {
                    order.add("after \(name)")
                    actionsDone.signal()
                }
                return true
            })
        }
        release.signal()
        let held = await first.value
        XCTAssertTrue(held)
        for task in queued {
            let onThread = await task.value
            XCTAssertTrue(onThread, "a job preferring the call thread ran elsewhere")
        }
        for _ in 0..<2 { XCTAssertEqual(actionsDone.wait(timeout: .now() + 5), .success) }
        XCTAssertEqual(order.all, ["job a", "job b", "after a", "after b"])
    }

    /// A batch that runs long writes as it goes: an action left by an early job runs once it has waited
    /// `maxActionDelayNs`, after the job running then, not at the end of the whole batch.
    func test_anActionLeftEarlyInALongBatchRunsBeforeTheRestOfTheBatch() async throws {
        let thread = CallThread()
        XCTAssertTrue(thread.start(name: "test-calls"))
        defer { thread.stop() }
        let order = Recorder()
        let holding = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let gate = Task(executorPreference: thread) { @Sendable () -> Bool in
            holding.signal()
            return hold(release)
        }
        XCTAssertEqual(holding.wait(timeout: .now() + 5), .success)
        // Queued behind the gate, so the three run in one batch.
        let early = Task(executorPreference: thread) { @Sendable in
            order.add("early")
            thread.runAfterBatch { order.add("action") }
        }
        let long = Task(executorPreference: thread) { @Sendable in
            order.add("long")
            usleep(20_000)  // 20 ms of work that does not await: 20 times the allowed delay
        }
        let late = Task(executorPreference: thread) { @Sendable in order.add("late") }
        release.signal()
        _ = await gate.value
        await early.value
        await long.value
        await late.value
        XCTAssertEqual(order.all, ["early", "long", "action", "late"])
    }

    func test_anIdleThreadIsWokenByAJob_andAfterStopJobsRunOnThePool() async throws {
        let thread = CallThread()
        XCTAssertTrue(thread.start(name: "test-calls"))
        // Bounded rounds with idle gaps: each job finds the thread parked and must wake it.
        for round in 0..<5 {
            try await Task.sleep(for: .milliseconds(20))
            let onThread = await Task(executorPreference: thread) { @Sendable in thread.isCurrent }.value
            XCTAssertTrue(onThread, "round \(round)")
        }
        thread.stop()
        XCTAssertFalse(thread.isCurrent)
        let afterStop = await Task(executorPreference: thread) { @Sendable in thread.isCurrent }.value
        XCTAssertFalse(afterStop, "a job queued after the stop must still run, on the pool")
        XCTAssertFalse(thread.start(name: "test-calls"), "a stopped call thread does not start again")
    }
}
