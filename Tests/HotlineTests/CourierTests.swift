import ActorCluster
import Foundation
import Synchronization
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// The district office's courier in one process, with a gateway that fails on command: many cases waiting for one
/// department whose system is down are retried on the recorded schedule, never more than
/// `DistrictOffice.maxDeliveriesInFlight` at once, and each is delivered once when the system comes back.
final class CourierTests: XCTestCase {
    /// Refuses while `down`; counts attempts per idempotency key and the most attempts under way at once.
    final class FakeGateway: DepartmentGateway {
        struct State {
            var down = true
            var attempts: [String: Int] = [:]
            var inFlight = 0
            var maxInFlight = 0
        }
        let state = Mutex(State())

        func deliver(_ request: DeliveryRequest) async throws(DeliveryFailure) {
            state.withLock {
                $0.attempts[request.idempotencyKey, default: 0] += 1
                $0.inFlight += 1
                $0.maxInFlight = max($0.maxInFlight, $0.inFlight)
            }
            // Long enough that the office's attempts overlap up to its bound even on a busy host (5 ms reached 7 of 8 there).
            try? await Task.sleep(for: .milliseconds(40))
            let down = state.withLock { s -> Bool in
                s.inFlight -= 1
                return s.down
            }
            if down { throw .refused(status: 503) }
        }
    }

    func test_manyCasesForADownDepartmentAreRetriedBoundedAndDeliveredOnce() async throws {
        let system = try ClusterSystem(settings: .client("courier-test"), logger: Logger(level: .error))
        defer { system.shutdown() }
        var catalogue = try anshanCatalogue()
        let water = try XCTUnwrap(catalogue.units.firstIndex { $0.code == "AS-WATER" })
        catalogue.units[water].delivery = .http(url: "http://water.invalid/in", timeoutMs: 1_000)
        let gateway = FakeGateway()
        let context = HotlineContext(system: system, catalogue: catalogue, settings: WorkflowSettings(), clock: SystemClock(),
                                     directory: HotlineDirectoryView(.allOn(system.node, catalogue: catalogue)),
                                     delivery: DeliverySettings(retry: DeliveryRetryPolicy(initialBackoffMs: 30, maxBackoffMs: 60)),
                                     gateway: gateway)
        let office = try system.makeWellKnown(path: HotlinePaths.district("210302")) {
            DistrictOffice(jurisdiction: "210302", context: context)
        }
        defer { Task { await office.whenLocal { await $0.release() } } }

        let count = 20
        var ids: [CaseID] = []
        for n in 1...count {
            let classification = try catalogue.classification(kind: .help, category: "water-outage", urgency: .p2, jurisdiction: "210302")
            var open = OpenCase(id: CaseID("case-\(n)"), number: CaseNumber(year: 2026, serial: n),
                                intake: IntakeRecord(channel: phone8890, externalID: "w-\(n)",
                                                     contact: CitizenContact(name: "李", phone: "13800000000"),
                                                     description: "停水", location: nil),
                                classification: classification, author: hotlineStaff)
            open.dispatch = try catalogue.dispatchOrder(for: classification)
            let snapshot = try await office.openCase(open)
            XCTAssertEqual(snapshot.delivery?.summary, "1 of 2 delivered", "the co-handler's inbox has it at once")
            ids.append(snapshot.id)
        }

        // Down: every case is retried (two failures at least each), never more than the bound at once.
        try await waitFor("each case refused twice") {
            gateway.state.withLock { s in s.attempts.count == count && s.attempts.values.allSatisfy { $0 >= 2 } }
        }
        XCTAssertLessThanOrEqual(gateway.state.withLock(\.maxInFlight), DistrictOffice.maxDeliveriesInFlight)
        let waiting = try await office.worklist(.undelivered)
        XCTAssertEqual(waiting.count, count)

        gateway.state.withLock { $0.down = false }
        try await waitFor("every case delivered") {
            var all = true
            for id in ids where try await office.snapshot(id).delivery?.isComplete != true { all = false }
            return all
        }
        for id in ids {
            let events = try await office.events(of: id)
            let failures = events.filter { if case .deliveryFailed = $0.body { return true } else { return false } }.count
            XCTAssertEqual(events.filter { $0.body == .assignmentDelivered(assignment: AssignmentID(1)) }.count, 1, "\(id)")
            let recorded = try await office.snapshot(id).delivery?.failedAttempts
            XCTAssertEqual(recorded, failures)
            let attempts = gateway.state.withLock { $0.attempts["\(id.rawValue)/A1"] ?? 0 }
            XCTAssertEqual(attempts, failures + 1, "every attempt recorded once: \(failures) failures, then the delivery")
        }
        let total = gateway.state.withLock { $0.attempts.values.reduce(0, +) }
        print("courier: \(count) cases, \(total) attempts, at most \(gateway.state.withLock(\.maxInFlight)) at once")
        XCTAssertEqual(gateway.state.withLock(\.maxInFlight), DistrictOffice.maxDeliveriesInFlight, "the bound was reached, not exceeded")
        let left = try await office.worklist(.undelivered)
        XCTAssertTrue(left.isEmpty)
        XCTAssertLessThanOrEqual(gateway.state.withLock(\.maxInFlight), DistrictOffice.maxDeliveriesInFlight)
    }

    private func waitFor(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        // Bounded: 20 ms steps until the deadline.
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("timed out waiting for: \(what)")
        throw CancellationError()
    }
}
