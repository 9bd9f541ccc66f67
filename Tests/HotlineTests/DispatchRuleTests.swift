import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Dispatch rules: one lead, co-handlers reply to the lead, government fallback, delivery ≠ signing,
/// second return → arbitration, the case id never changes.
final class DispatchRuleTests: XCTestCase {
    func test_exactlyOneLeadPerDispatchedCase() throws {
        var s = try Scenario()
        s.co = ["210302-SAMR", "210302-HOUSING"]
        try s.drive(to: .dispatched)
        let round = s.order.assignments.filter { $0.round == 1 }
        XCTAssertEqual(round.filter { $0.role == .lead }.count, 1)
        XCTAssertEqual(round.filter { $0.role == .coHandler }.map(\.unit), ["210302-SAMR", "210302-HOUSING"])

        var t = try Scenario("case-2")
        try t.drive(to: .pendingDispatch)
        assertRefused(&t, .dispatched(order: dispatchOrder(lead: "210302-CM", co: ["210302-CM"],
                                                           profile: try standardProfile(.complaint, .p2))),
                      .invalidDispatch(reason: "lead 210302-CM is also listed as a co-unit"))
        assertRefused(&t, .dispatched(order: dispatchOrder(lead: " ", profile: try standardProfile(.complaint, .p2))),
                      .invalidDispatch(reason: "no lead unit"))
    }

    func test_coHandlersReplyToTheLead() throws {
        var s = try Scenario()
        s.co = ["210302-SAMR"]
        try s.drive(to: .inProgress)
        let co = try XCTUnwrap(s.order.coAssignments.first?.id)
        try s.deliver(co)
        try s.sign(co)
        try s.step(.unitReplied(assignment: co, text: "已对商户立案调查"), by: .unit(code: "210302-SAMR"))
        XCTAssertEqual(s.status, .inProgress, "a co-handler's reply does not answer the case")
        XCTAssertEqual(s.order.replies.last?.addressee, .leadUnit(code: "210302-CM"))
        try s.reply(s.leadID)
        XCTAssertEqual(s.status, .replied)
        XCTAssertEqual(s.order.replies.last?.addressee, .hotline)
        try s.step(.replyReviewed(accepted: true, note: ""))
        XCTAssertEqual(s.order.assignment(co)?.status, .accepted)
    }

    func test_whenNoRuleFitsTheJurisdictionsGovernmentLeadsAndThatIsRecorded() throws {
        let catalogue = try anshanCatalogue()
        // The High-tech zone has no police branch: a public-order case there falls back to its management committee.
        let decision = try catalogue.route(category: "public-order", jurisdiction: "AS-HT")
        XCTAssertTrue(decision.usedFallback)
        XCTAssertNil(decision.ruleID)
        XCTAssertEqual(decision.lead, "AS-HT-GOV")
        XCTAssertEqual(decision.dispatchGroup, "G1")

        var s = try Scenario()
        try s.drive(to: .pendingDispatch)
        try s.step(.dispatched(order: DispatchOrder(decision: decision, profile: try standardProfile(.complaint, .p2))))
        XCTAssertEqual(s.order.dispatches.last?.decision.usedFallback, true)
        XCTAssertEqual(s.order.leadAssignment?.unit, "AS-HT-GOV")
        guard case .dispatched(let order) = try XCTUnwrap(s.log.events.last).body else { return XCTFail("not a dispatch") }
        XCTAssertTrue(order.decision.usedFallback, "the fallback is recorded on the event itself")
        XCTAssertEqual(order.decision.catalogueVersion, "2026.1")
    }

    func test_deliveredIsNotSigned() throws {
        var s = try Scenario()
        try s.drive(to: .dispatched)
        try s.deliver(s.leadID)
        XCTAssertEqual(s.status, .dispatched, "delivery alone leaves the case dispatched")
        XCTAssertNil(s.order.leadAssignment?.signedAt)
        try s.sign(s.leadID)
        XCTAssertEqual(s.status, .inProgress)
    }

    func test_signingAnUndeliveredAssignmentIsRefused() throws {
        var s = try Scenario()
        try s.drive(to: .dispatched)
        assertRefused(&s, .assignmentSigned(assignment: s.leadID), by: s.unit(s.leadID),
                      .assignmentTransitionNotAllowed(assignment: s.leadID, from: .sent, to: .signed,
                                                      event: "assignmentSigned"))
    }

    func test_onlyTheAssignedUnitSigns() throws {
        var s = try Scenario()
        try s.drive(to: .dispatched)
        try s.deliver(s.leadID)
        assertRefused(&s, .assignmentSigned(assignment: s.leadID), by: .unit(code: "210303-CM"),
                      .notTheAssignedUnit(assignment: s.leadID, assignedUnit: "210302-CM", author: .unit(code: "210303-CM")))
    }

    func test_failedDeliveryIsRetriedAndAlertedNeverCountedAsDispatched() throws {
        var s = try Scenario()
        try s.drive(to: .dispatched)
        try s.step(.deliveryFailed(assignment: s.leadID, reason: "unit endpoint unreachable"), by: supervisorTimer)
        XCTAssertEqual(s.order.deliveryAlerts.count, 1, "each failure raises an alert")
        XCTAssertEqual(s.order.deliveryAlerts.first?.attempt, 1)
        XCTAssertFalse(s.order.isDispatchConfirmed)
        try s.step(.deliveryRetried(assignment: s.leadID), by: supervisorTimer)
        assertRefused(&s, .deliveryRetried(assignment: s.leadID), by: supervisorTimer, .noFailedDeliveryToRetry(s.leadID))
        try s.step(.deliveryFailed(assignment: s.leadID, reason: "timeout"), by: supervisorTimer)
        XCTAssertEqual(s.order.deliveryAlerts.map(\.attempt), [1, 2])
        XCTAssertEqual(s.order.leadAssignment?.status, .sent)

        let report = KPIReport.compute(orders: [s.order], asOf: s.now)
        XCTAssertEqual(report.overall.dispatched, 0, "a failed delivery is never reported as dispatched")
        XCTAssertEqual(report.overall.deliveryFailures, 2)

        try s.step(.deliveryRetried(assignment: s.leadID), by: supervisorTimer)
        try s.deliver(s.leadID)
        XCTAssertTrue(s.order.isDispatchConfirmed)
        XCTAssertEqual(KPIReport.compute(orders: [s.order], asOf: s.now).overall.dispatched, 1)
    }

    func test_firstReturnIsDecidedByTheDispatcher() throws {
        var s = try Scenario()
        try s.drive(to: .inProgress)
        try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        XCTAssertEqual(s.status, .returnReview)
        XCTAssertFalse(s.order.isAwaitingArbitration)
        try s.step(.returnDecided(assignment: s.leadID, approved: true, note: "改派住建"))
        XCTAssertEqual(s.status, .pendingDispatch)
        s.lead = "210302-HOUSING"
        try s.dispatch()
        XCTAssertEqual(s.order.currentRound, 2)
        XCTAssertEqual(s.order.leadAssignment?.unit, "210302-HOUSING")
    }

    func test_secondReturnGoesToArbitration() throws {
        var s = try Scenario()
        try s.drive(to: .inProgress)
        let caseID = s.id
        try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        try s.step(.returnDecided(assignment: s.leadID, approved: true, note: "改派住建"))
        s.lead = "210302-HOUSING"
        try s.dispatch()
        try s.deliver(s.leadID)
        try s.step(.returnRequested(assignment: s.leadID, reason: "应由城管办理"), by: s.unit(s.leadID))
        XCTAssertEqual(s.status, .returnReview)
        XCTAssertTrue(s.order.isAwaitingArbitration)

        // Not another dispatch loop: neither an ordinary decision nor a plain dispatch is accepted.
        assertRefused(&s, .returnDecided(assignment: s.leadID, approved: true, note: "再改派"),
                      .secondReturnRequiresArbitration(assignment: s.leadID))
        assertRefusedAny(&s, .dispatched(order: dispatchOrder(lead: "210302-CM", profile: try standardProfile(.complaint, .p2))))

        try s.step(.arbitrated(order: dispatchOrder(lead: "210302-CM", co: ["210302-HOUSING"],
                                                    profile: try standardProfile(.complaint, .p2)),
                               note: "仲裁：城管主办，住建协办"))
        XCTAssertEqual(s.status, .dispatched)
        XCTAssertEqual(s.order.leadAssignment?.unit, "210302-CM")
        XCTAssertEqual(s.order.leadAssignment?.arbitrated, true)
        XCTAssertEqual(s.order.returns.last?.decision, .arbitrated)
        XCTAssertEqual(s.id, caseID, "the case id never changes")
        XCTAssertEqual(s.log.events.map(\.caseID), Array(repeating: caseID, count: s.log.events.count))
    }

    func test_arbitrationIsBinding() throws {
        var s = try Scenario()
        try s.drive(to: .inProgress)
        try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        try s.step(.returnDecided(assignment: s.leadID, approved: false, note: "属本单位职责"))
        try s.step(.returnRequested(assignment: s.leadID, reason: "仍非本单位职责"), by: s.unit(s.leadID))
        try s.step(.arbitrated(order: dispatchOrder(lead: "210302-CM", profile: try standardProfile(.complaint, .p2)),
                               note: "仲裁：维持城管主办"))
        try s.deliver(s.leadID)
        try s.sign(s.leadID)
        assertRefused(&s, .returnRequested(assignment: s.leadID, reason: "再退"), by: s.unit(s.leadID),
                      .arbitrationIsBinding(lead: "210302-CM"))
        // A later re-dispatch (after a reopen) must keep the arbitrated lead.
        try s.reply(s.leadID)
        try s.step(.replyReviewed(accepted: false, note: "答复不实"))
        try s.queue()
        assertRefused(&s, .dispatched(order: dispatchOrder(lead: "210302-HOUSING", profile: try standardProfile(.complaint, .p2))),
                      .arbitrationIsBinding(lead: "210302-CM"))
        try s.dispatch()
    }

    func test_caseIDNeverChangesAcrossReturnRedispatchAndReopen() throws {
        var s = try Scenario("case-stable")
        try s.drive(to: .inProgress)
        try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        try s.step(.returnDecided(assignment: s.leadID, approved: true, note: ""))
        try s.dispatch()
        try s.deliver(s.leadID)
        try s.sign(s.leadID)
        try s.reply(s.leadID)
        try s.step(.replyReviewed(accepted: true, note: ""))
        try s.callback(.unsatisfied, resolved: false)
        try s.step(.reopened(reason: .citizenUnsatisfied, note: ""))
        try s.queue()
        try s.dispatch()
        XCTAssertEqual(s.id, CaseID("case-stable"))
        XCTAssertEqual(s.order.number, CaseNumber(year: 2026, serial: 1))
        XCTAssertEqual(s.order.currentRound, 3)
        XCTAssertEqual(Set(s.log.events.map(\.caseID)), [CaseID("case-stable")])
    }
}
