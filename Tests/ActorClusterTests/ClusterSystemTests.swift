import ActorCluster
import Distributed
import Foundation
import XCTest

distributed actor Greeter {
    typealias ActorSystem = ClusterSystem

    struct Greeting: Codable, Sendable, Equatable {
        var text: String
        var tags: [String: Int]
        var at: Date?
    }

    enum Refusal: Error, CustomStringConvertible {
        case notToday(String)
        var description: String {
            switch self { case .notToday(let who): "not today, \(who)" }
        }
    }

    private var pokes = 0

    distributed func greet(_ name: String, times: Int) -> Greeting {
        Greeting(text: String(repeating: "你好 \(name) ", count: times), tags: [name: times], at: nil)
    }
    distributed func poke() { pokes += 1 }
    distributed func pokeCount() -> Int { pokes }
    distributed func refuse(_ who: String) throws -> Int { throw Refusal.notToday(who) }
    distributed func identity<T: Codable & Sendable>(_ value: T) -> T { value }
    distributed func slow(_ ms: Int) async throws -> Int {
        try await Task.sleep(for: .milliseconds(ms))
        return ms
    }
}

/// Two `ClusterSystem`s in one process, talking over loopback TCP.
final class ClusterSystemTests: ClusterSystemTestCase {
    func test_remoteCallsReturnValuesVoidAndGenerics() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let greeter = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let remote = try Greeter.resolve(id: ClusterSystem.wellKnownID("/test/greeter", on: b.node), using: a)

        let g = try await remote.greet("铁东", times: 2)
        XCTAssertEqual(g, Greeter.Greeting(text: "你好 铁东 你好 铁东 ", tags: ["铁东": 2], at: nil))
        try await remote.poke()
        try await remote.poke()
        let pokes = try await remote.pokeCount()
        XCTAssertEqual(pokes, 2)
        let uuid = UUID()
        let echoed = try await remote.identity(uuid)
        XCTAssertEqual(echoed, uuid)
        let list = try await remote.identity([1, 2, 3])
        XCTAssertEqual(list, [1, 2, 3])
        withExtendedLifetime(greeter) {}
    }

    func test_localIdResolvesToTheInstanceWithoutNetwork() throws {
        let a = try makeSystem("a")
        let greeter = try a.makeWellKnown(path: "/test/local") { Greeter(actorSystem: a) }
        let resolved = try Greeter.resolve(id: greeter.id, using: a)
        XCTAssertTrue(resolved === greeter)
        XCTAssertFalse(__isRemoteActor(resolved))
    }

    func test_wellKnownPathCannotBeTakenTwice() throws {
        let a = try makeSystem("a")
        let g = try a.makeWellKnown(path: "/test/once") { Greeter(actorSystem: a) }
        XCTAssertThrowsError(try a.makeWellKnown(path: "/test/once") { Greeter(actorSystem: a) }) {
            XCTAssertEqual($0 as? ClusterSystemError, .pathInUse("/test/once"))
        }
        XCTAssertThrowsError(try a.makeWellKnown(path: "no-slash") { Greeter(actorSystem: a) })
        withExtendedLifetime(g) {}
    }

    func test_remoteThrowArrivesWithTypeNameAndMessage() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let g = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let remote = try Greeter.resolve(id: g.id, using: a)
        do {
            _ = try await remote.refuse("王女士")
            XCTFail("expected a throw")
        } catch RemoteCallError.remoteError(let typeName, let message) {
            XCTAssertTrue(typeName.hasSuffix("Greeter.Refusal"), typeName)
            XCTAssertEqual(message, "not today, 王女士")
        }
    }

    func test_callToMissingActorFailsWithNoSuchActor() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let remote = try Greeter.resolve(id: ClusterSystem.wellKnownID("/test/nobody", on: b.node), using: a)
        do {
            _ = try await remote.pokeCount()
            XCTFail("expected noSuchActor")
        } catch RemoteCallError.noSuchActor(let id) {
            XCTAssertEqual(id.path, "/test/nobody")
        }
        XCTAssertThrowsError(try Greeter.resolve(id: ClusterSystem.wellKnownID("/test/nobody", on: a.node), using: a))
    }

    func test_perCallTimeoutThrowsTypedTimeout() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let g = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let remote = try Greeter.resolve(id: g.id, using: a)
        let start = ContinuousClock.now
        do {
            _ = try await ClusterSystem.withCallTimeout(.milliseconds(200)) { try await remote.slow(3_000) }
            XCTFail("expected a timeout")
        } catch RemoteCallError.timeout(_, _, let ms) {
            XCTAssertEqual(ms, 200)
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))
        // Other calls still work while the slow one runs on the remote node.
        let n = try await remote.pokeCount()
        XCTAssertEqual(n, 0)
    }

    func test_slowActorDoesNotBlockOtherActors() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let slow = try b.makeWellKnown(path: "/test/slow") { Greeter(actorSystem: b) }
        let fast = try b.makeWellKnown(path: "/test/fast") { Greeter(actorSystem: b) }
        let slowRemote = try Greeter.resolve(id: slow.id, using: a)
        let fastRemote = try Greeter.resolve(id: fast.id, using: a)
        let slowCall = Task { try await slowRemote.slow(1_500) }
        let start = ContinuousClock.now
        for _ in 0..<20 { _ = try await fastRemote.pokeCount() }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1), "fast actor waited for the slow one")
        _ = try await slowCall.value
    }

    /// `.callThread` on both sides (the caller prefers its own call thread, as `hotline bench --inbound thread`
    /// does): values, void, throws and generics arrive as on the pool, pipelined calls all complete, and a call
    /// that awaits (sleeps) frees the thread for the others.
    func test_callThread_runsCallsLikeThePool_andACallThatAwaitsDoesNotHoldTheOthers() async throws {
        let a = try makeSystem("a") { $0.inboundExecution = .callThread }
        let b = try makeSystem("b") { $0.inboundExecution = .callThread }
        let greeter = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let slow = try b.makeWellKnown(path: "/test/slow") { Greeter(actorSystem: b) }
        let remote = try Greeter.resolve(id: greeter.id, using: a)
        let slowRemote = try Greeter.resolve(id: slow.id, using: a)
        let callerThread = try XCTUnwrap(a.callExecutor)
        try await withTaskExecutorPreference(callerThread) {
            let g = try await remote.greet("铁东", times: 1)
            XCTAssertEqual(g.text, "你好 铁东 ")
            do {
                _ = try await remote.refuse("王女士")
                XCTFail("expected a throw")
            } catch RemoteCallError.remoteError(_, let message) {
                XCTAssertEqual(message, "not today, 王女士")
            }
            let echoed = try await remote.identity([7, 8])
            XCTAssertEqual(echoed, [7, 8])
            // 64 calls outstanding at once: their replies come back in batches, written once per batch.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<64 { group.addTask { try await remote.poke() } }
                try await group.waitForAll()
            }
            let pokes = try await remote.pokeCount()
            XCTAssertEqual(pokes, 64)
            let slowCall = Task { try await slowRemote.slow(1_500) }
            let start = ContinuousClock.now
            for _ in 0..<20 { _ = try await remote.pokeCount() }
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(1), "the call thread waited for a sleeping call")
            let slept = try await slowCall.value
            XCTAssertEqual(slept, 1_500)
        }
        withExtendedLifetime((greeter, slow)) {}
    }

    func test_callToShutDownNodeFailsFastAsUnreachable() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let g = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let remote = try Greeter.resolve(id: g.id, using: a)
        _ = try await remote.pokeCount()
        let inFlight = Task { try await remote.slow(10_000) }
        let deadline = ContinuousClock.now + .seconds(5)
        while a.pendingCallCount == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        b.shutdown()
        let start = ContinuousClock.now
        do {
            _ = try await inFlight.value
            XCTFail("expected failure")
        } catch RemoteCallError.nodeUnreachable {
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
        }
        do {
            _ = try await remote.pokeCount()
            XCTFail("expected failure")
        } catch RemoteCallError.nodeUnreachable {}
        withExtendedLifetime(g) {}
    }
}
