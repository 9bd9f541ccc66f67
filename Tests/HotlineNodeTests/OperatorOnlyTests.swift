import ActorCluster
import Foundation
import Hotline
import XCTest

/// Control functions are reserved for operators: a member (the cluster secret only) is refused without the
/// function running; a caller that proves the operator secret is served.
final class OperatorOnlyTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func test_membersCannotConfigureRetimeOrRecordAsTheSystemButOperatorsCan() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let node = try harness.startNode("solo", extra: [
            "--catalog", Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path,
            "--calendar", Self.repo.appendingPathComponent("Deploy/calendars/cn-2026.json").path])
        let member = try harness.clientSystem("member", asOperator: false)
        let operatorTool = try harness.clientSystem("operator", asOperator: true)
        let asMember = try HotlineNode.on(node.node, system: member)
        let asOperator = try HotlineNode.on(node.node, system: operatorTool)

        // A member: refused before anything runs.
        do {
            try await asMember.setClock(to: Date())
            XCTFail("a member moved the clock")
        } catch RemoteCallError.notPermitted(_, let target) {
            XCTAssertTrue(target.contains("setClock"), target)
        }
        let catalogue = ChineseMessagesTests.catalogue()
        do {
            _ = try await asMember.configure(HotlineConfiguration(catalogue: catalogue, settings: WorkflowSettings(),
                                                                  virtualStart: Date()))
            XCTFail("a member reconfigured the node")
        } catch RemoteCallError.notPermitted {}
        let after = try await asMember.info()
        XCTAssertTrue(after.configured)
        let stillRefused = (try? await asMember.setClock(to: Date())) == nil
        XCTAssertTrue(stillRefused)

        // The operator: the functions run (and answer with their own domain errors).
        do {
            try await asOperator.setClock(to: Date())
        } catch HotlineError.clock(let why) {
            XCTAssertFalse(why.isEmpty)
        }

        // Recording as the system: refused to the member inside the office, allowed to the operator.
        let receipt = try await asMember.submit(CitizenRequest(channel: "8890", externalID: "op-1", category: "heating-failure",
                                                               jurisdiction: "210302", description: "小区供暖不热"))
        let office = try DistrictOffice.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.district("210302"), on: node.node),
                                                using: member)
        let officeAsOperator = try DistrictOffice.resolve(id: office.id, using: operatorTool)
        let body = CaseEventBody.reminderSent(assignment: nil, note: "test")
        do {
            _ = try await office.record(receipt.ref.id, body, by: .system(component: "forged"))
            XCTFail("a member recorded as the system")
        } catch HotlineError.notPermitted(let why) {
            XCTAssertTrue(why.contains("reserved for operators"), why)
        }
        do {
            _ = try await officeAsOperator.record(receipt.ref.id, body, by: .system(component: "operator"))
        } catch let error as HotlineError {
            if case .notPermitted = error { XCTFail("the operator was refused: \(error)") }
        }
        // A call's time (replays) is ignored by a live node: a member cannot pick the instants it stamps.
        let year2100 = Date(timeIntervalSince1970: 4_102_444_800)
        let late = try await VirtualTime.at(year2100) {
            try await asMember.submit(CitizenRequest(channel: "8890", externalID: "op-2100", category: "heating-failure",
                                                     jurisdiction: "210302", description: "小区供暖不热"))
        }
        XCTAssertEqual(late.ref.number.year, Calendar(identifier: .gregorian).component(.year, from: Date()))
        for bits in [Double.nan.bitPattern, Double.infinity.bitPattern, (1e300).bitPattern] {
            let odd = ClusterSystem.CallBaggage.$current.withValue([VirtualTime.baggageKey: String(bits, radix: 16)]) {
                VirtualTime.current
            }
            XCTAssertNil(odd, "an implausible carried time reads as none")
        }
        // Whichever function carries the author: opening a case or dispatching as the system is refused too.
        let events = try await office.events(of: receipt.ref.id)
        guard case .drafted(_, let intakeRecord) = events[0].body, case .accepted(let classification) = events[1].body else {
            return XCTFail("unexpected first events")
        }
        let forgedOpen = OpenCase(id: CaseID.random(), number: CaseNumber(year: 2026, serial: 900_001), intake: intakeRecord,
                                  classification: classification, author: .system(component: "forged-open"))
        do {
            _ = try await office.openCase(forgedOpen)
            XCTFail("a member opened a case as the system")
        } catch HotlineError.notPermitted(let why) {
            XCTAssertTrue(why.contains("reserved for operators"), why)
        }
        let order = try XCTUnwrap(events.lazy.compactMap { e -> DispatchOrder? in
            if case .dispatched(let order) = e.body { return order } else { return nil }
        }.first)
        do {
            _ = try await office.dispatch(receipt.ref.id, order: order, by: .system(component: "forged-dispatch"))
            XCTFail("a member dispatched as the system")
        } catch HotlineError.notPermitted(let why) {
            XCTAssertTrue(why.contains("reserved for operators"), why)
        }
        XCTAssertTrue(node.isRunning)
    }
}
