import ActorCluster
import Foundation
import Synchronization
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// `HotlineContext.onDistrictOffice` & co. retry failures of reaching the office (`RemoteCallError.isRetryable`)
/// within `failoverWait`, and pass every other error through at once.
final class FailoverRetryTests: XCTestCase {
    /// A context whose directory places everything on a node that is never called (the bodies below throw
    /// what a call would).
    private func context() throws -> (HotlineContext, ClusterSystem, NodeIdentity) {
        let system = try ClusterSystem(settings: .client("failover-test"), logger: Logger(level: .error))
        let elsewhere = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 1), uid: 7)
        let catalogue = try anshanCatalogue()
        let context = HotlineContext(system: system, catalogue: catalogue, settings: WorkflowSettings(), clock: SystemClock(),
                                     directory: HotlineDirectoryView(.allOn(elsewhere, catalogue: catalogue)))
        return (context, system, elsewhere)
    }

    func test_overloadedAndUnreachableOfficesAreRetriedWithinTheWait() async throws {
        let (context, system, node) = try context()
        defer { system.shutdown() }
        let failures: [RemoteCallError] = [.remoteOverloaded(node: node, perCaller: false, limit: 4096),
                                           .overloaded(node: node, queuedBytes: 64 << 20),
                                           .nodeUnreachable(node: node, reason: "connection reset"),
                                           .noSuchActor(ClusterSystem.wellKnownID(HotlinePaths.district("210302"), on: node))]
        let attempts = Atomic<Int>(0)
        let started = ContinuousClock.now
        let answer = try await context.onDistrictOffice("210302") { _ in
            let n = attempts.add(1, ordering: .relaxed).oldValue
            if n < failures.count { throw failures[n] }
            return 42
        }
        XCTAssertEqual(answer, 42)
        XCTAssertEqual(attempts.load(ordering: .relaxed), failures.count + 1)
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3))
    }

    func test_ruleViolationsTimeoutsAndRelayedFailuresAreNeverRetried() async throws {
        let (context, system, node) = try context()
        defer { system.shutdown() }
        let id = ClusterSystem.wellKnownID(HotlinePaths.district("210302"), on: node)
        let errors: [any Error] = [HotlineError.ruleViolation("case 2026-000001: already signed"),
                                   RemoteCallError.timeout(actor: id, target: "t", afterMilliseconds: 5000),
                                   RemoteCallError.relayed(by: node, .nodeUnreachable(node: node, reason: "third node"))]
        for error in errors {
            let attempts = Atomic<Int>(0)
            do {
                _ = try await context.onDistrictOffice("210302") { _ -> Int in
                    attempts.add(1, ordering: .relaxed)
                    throw error
                }
                XCTFail("expected \(error)")
            } catch let caught {
                XCTAssertEqual("\(caught)", "\(error)", "passed through unchanged")
            }
            XCTAssertEqual(attempts.load(ordering: .relaxed), 1, "\(error) was retried")
        }
    }
}
