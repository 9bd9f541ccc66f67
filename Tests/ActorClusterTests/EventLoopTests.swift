import Dispatch
import Synchronization
import XCTest
@testable import ActorCluster

/// The event loop's wake-up rules: a task submitted while the loop is awake needs no eventfd write
/// (`executeIfAwake` accepts it), one submitted while it blocks in `epoll_wait` does (`executeIfAwake` refuses);
/// `runBeforePoll` actions run after the iteration's tasks, before the loop polls again.
final class EventLoopTests: XCTestCase {
    func test_executeIfAwake_acceptsWhileTheLoopIsBusy_andRefusesWhileItBlocks() throws {
        let loop = EventLoop()
        XCTAssertTrue(loop.start(name: "test-loop"))
        defer { loop.stop() }
        // Idle: the loop blocks in epoll_wait; within 2 s executeIfAwake must be refused (bounded retries).
        var refused = false
        let deadline = ContinuousClock.now + .seconds(2)
        while !refused, ContinuousClock.now < deadline {
            refused = !loop.executeIfAwake {}
            if !refused { usleep(1_000) }
        }
        XCTAssertTrue(refused, "an idle loop should be blocked in epoll_wait")

        // Busy: a task holds the loop; meanwhile executeIfAwake is accepted and its task runs after.
        let inTask = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0), ran = DispatchSemaphore(value: 0)
        XCTAssertTrue(loop.execute {
            inTask.signal()
            _ = release.wait(timeout: .now() + 5)
        })
        XCTAssertEqual(inTask.wait(timeout: .now() + 5), .success)
        XCTAssertTrue(loop.executeIfAwake { ran.signal() })
        release.signal()
        XCTAssertEqual(ran.wait(timeout: .now() + 5), .success)
    }

    func test_runBeforePoll_runsAfterTheTasksOfTheIteration() throws {
        let loop = EventLoop()
        XCTAssertTrue(loop.start(name: "test-loop"))
        defer { loop.stop() }
        let order = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        loop.execute {
            loop.runBeforePoll {
                order.withLock { $0.append("before-poll") }
                done.signal()
            }
            loop.execute { order.withLock { $0.append("task") } }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(order.withLock { $0 }, ["task", "before-poll"])
    }

    /// A stopped loop's thread has exited; a thread created later that gets the same `pthread_t` (glibc reuses the
    /// descriptor of an exited, joined thread) is not that loop's thread.
    func test_aThreadReusingAStoppedLoopsPthreadIsNotItsLoopThread() throws {
        @Sendable func selfID() -> UInt { UInt(pthread_self()) }
        let first = EventLoop()
        XCTAssertTrue(first.start(name: "test-loop-1"))
        let firstThread = Mutex<UInt>(0)
        let ran = DispatchSemaphore(value: 0)
        first.execute {
            firstThread.withLock { $0 = selfID() }
            ran.signal()
        }
        XCTAssertEqual(ran.wait(timeout: .now() + 5), .success)
        first.stop()  // joins the thread

        var reused = false
        for attempt in 0..<20 where !reused {
            let next = EventLoop()
            XCTAssertTrue(next.start(name: "test-loop-2"))
            let seen = Mutex<(reused: Bool, claims: Bool)?>(nil)
            let done = DispatchSemaphore(value: 0)
            next.execute {
                seen.withLock { $0 = (selfID() == firstThread.withLock { $0 }, first.isInLoop) }
                done.signal()
            }
            XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
            next.stop()
            guard let (same, claims) = seen.withLock({ $0 }) else { return XCTFail("no result") }
            XCTAssertFalse(claims, "attempt \(attempt): a thread of another loop passes for the stopped loop's thread")
            reused = same
        }
        if !reused { print("note: no pthread_t was reused in 20 attempts; isInLoop was checked on fresh threads only") }
    }
}
