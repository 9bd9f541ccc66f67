import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Closing, callbacks, satisfaction, reopening, repeat contacts and merging.
final class CallbackRuleTests: XCTestCase {
    func test_onlyTheHotlineClosesACase() throws {
        var s = try Scenario()
        try s.drive(to: .pendingCallback)
        try s.callback(.satisfied)
        assertRefused(&s, .closed(reason: .callbackCompleted), by: .unit(code: "210302-CM"),
                      .onlyHotlineMayClose(author: .unit(code: "210302-CM")))
        assertRefused(&s, .closed(reason: .callbackCompleted), by: .citizen, .onlyHotlineMayClose(author: .citizen))
        try s.step(.closed(reason: .callbackCompleted))
        XCTAssertEqual(s.status, .closed)
        XCTAssertEqual(s.order.closure?.evaluation?.satisfaction, .satisfied)
    }

    func test_aUnitCanOnlyReply() throws {
        var s = try Scenario()
        try s.drive(to: .inProgress)
        let unit = s.unit(s.leadID)
        // A unit closing straight from inProgress is refused for who it is, before anything else.
        assertRefused(&s, .closed(reason: .callbackCompleted), by: unit, .onlyHotlineMayClose(author: unit))
        assertRefusedAny(&s, .replyReviewed(accepted: true, note: "自评通过"), by: unit)
        assertRefusedAny(&s, .dispatched(order: dispatchOrder(lead: "210302-SAMR", profile: try standardProfile(.complaint, .p2))), by: unit)
        try s.reply(s.leadID)
        XCTAssertEqual(s.status, .replied)
    }

    func test_onlyTheHotlineRecordsSatisfaction() throws {
        var s = try Scenario()
        try s.drive(to: .pendingCallback)
        let satisfied = CaseEventBody.callbackAttempted(
            outcome: .reached(evaluation: CallbackEvaluation(resolved: true, satisfaction: .satisfied)))
        assertRefused(&s, satisfied, by: .unit(code: "210302-CM"), .onlyHotlineRecordsSatisfaction(author: .unit(code: "210302-CM")))
        try s.step(satisfied, by: .system(component: "ivr-callback"))
    }

    /// A callback whose answer was lost (the call timed out after the office recorded it) is sent again: the
    /// office sees that the caller's latest events already are the plan and answers the case as it is, instead of
    /// "'callbackAttempted' is not allowed while the case is closed" (ReplayTests under load, a refused step).
    func test_aRetriedCallbackPlanIsRecognisedAsRecorded_andAnotherIsNot() throws {
        var s = try Scenario()
        try s.drive(to: .pendingCallback)
        let desk = EventAuthor.hotline(staff: "callback")
        let plan = CallbackPlan(outcome: .reached(evaluation: CallbackEvaluation(resolved: true, satisfaction: .satisfied)),
                                mergedChild: false)
        XCTAssertFalse(DistrictOffice.endsWith(plan: plan.bodies, required: plan.required, by: desk, in: s.log))
        for body in plan.bodies { try s.step(body, by: desk) }
        XCTAssertEqual(s.status, .closed)
        XCTAssertThrowsError(try s.log.record(plan.bodies[0], at: s.now, by: desk), "the rules refuse the retry itself")
        XCTAssertTrue(DistrictOffice.endsWith(plan: plan.bodies, required: plan.required, by: desk, in: s.log))
        let unreachable = CallbackPlan(outcome: .unreachable(note: "no answer"), mergedChild: false)
        XCTAssertFalse(DistrictOffice.endsWith(plan: unreachable.bodies, required: unreachable.required, by: desk, in: s.log),
                       "another outcome is not the plan recorded")
        XCTAssertFalse(DistrictOffice.endsWith(plan: plan.bodies, required: plan.required, by: hotlineStaff, in: s.log),
                       "another author's plan")
    }

    func test_closingNeedsAReachedCallback() throws {
        var s = try Scenario()
        try s.drive(to: .pendingCallback)
        try s.unreachable()
        assertRefused(&s, .closed(reason: .callbackCompleted),
                      .callbackRequiredBeforeClose(unreachableAttempts: 1, required: 3))
    }

    func test_unreachableCallbacksAreNeverCountedAsSatisfied() throws {
        var reached = try Scenario("reached")
        try reached.drive(to: .pendingCallback)
        try reached.callback(.satisfied)
        try reached.step(.closed(reason: .callbackCompleted))

        var lost = try Scenario("lost", serial: 2)
        try lost.drive(to: .pendingCallback)
        for _ in 1...3 { try lost.unreachable() }
        try lost.step(.closed(reason: .unreachable))
        XCTAssertEqual(lost.status, .closed)
        XCTAssertNil(lost.order.closure?.evaluation, "no satisfaction is recorded for an unreachable citizen")

        let k = KPIReport.compute(orders: [reached.order, lost.order], asOf: lost.now).overall
        XCTAssertEqual(k.satisfaction, Rate(1, 1), "unreachable attempts are not in the denominator")
        XCTAssertEqual(k.callbacksUnreachable, 3, "they are reported separately")
        XCTAssertEqual(k.closedUnreachable, 1)
        XCTAssertEqual(k.effectiveCallback, Rate(1, 2))
        XCTAssertEqual(k.callback, Rate(2, 2))
    }

    func test_caseClosesAsUnreachableOnlyAfterNAttempts() throws {
        var s = try Scenario()
        try s.drive(to: .pendingCallback)
        try s.unreachable()
        try s.unreachable()
        assertRefused(&s, .closed(reason: .unreachable), .callbackRequiredBeforeClose(unreachableAttempts: 2, required: 3))
        try s.unreachable()
        try s.step(.closed(reason: .unreachable))

        // N is configurable.
        var two = try Scenario("two", settings: WorkflowSettings(unreachableAttemptsToClose: 2))
        try two.drive(to: .pendingCallback)
        try two.unreachable()
        try two.unreachable()
        try two.step(.closed(reason: .unreachable))
        XCTAssertEqual(two.status, .closed)
    }

    func test_reachedCitizenCannotBeClosedAsUnreachable() throws {
        var s = try Scenario()
        try s.drive(to: .pendingCallback)
        for _ in 1...3 { try s.unreachable() }
        try s.callback(.basicallySatisfied)
        assertRefused(&s, .closed(reason: .unreachable),
                      .invalidField(field: "reason", reason: "the citizen was reached: close with callbackCompleted"))
    }

    func test_unsatisfiedCitizenReopensTheCase() throws {
        var s = try Scenario()
        try s.drive(to: .pendingCallback)
        assertRefused(&s, .reopened(reason: .citizenUnsatisfied, note: ""), .reopenNeedsReachedCallback)
        try s.callback(.unsatisfied, resolved: false)
        try s.step(.reopened(reason: .citizenUnsatisfied, note: "路面仍未修复"))
        XCTAssertEqual(s.status, .reopened)
        try s.queue()
        try s.dispatch()
        try s.deliver(s.leadID)
        try s.sign(s.leadID)
        try s.reply(s.leadID)
        try s.step(.replyReviewed(accepted: true, note: ""))
        XCTAssertEqual(s.order.callbackRound, 2)
        XCTAssertEqual(s.order.currentRoundCallbacks, [], "a new callback round starts after the second reply")
    }

    func test_repeatContactLinksToTheOpenCase() throws {
        var s = try Scenario()
        try s.drive(to: .inProgress)
        try s.step(.repeatContactLinked(channel: webChannel, externalID: "web-991", note: "市民再次反映"), by: .citizen)
        XCTAssertEqual(s.order.repeatContacts.count, 1)
        XCTAssertEqual(s.order.repeatContacts.first?.channel, webChannel)
        XCTAssertEqual(s.status, .inProgress, "no new case and no state change")
        assertRefusedAny(&s, .repeatContactLinked(channel: webChannel, externalID: nil, note: ""), by: .unit(code: "210302-CM"))
    }

    func test_repeatContactOnAClosedCaseMustReopenIt() throws {
        var s = try Scenario()
        try s.drive(to: .closed)
        assertRefused(&s, .repeatContactLinked(channel: phone8890, externalID: nil, note: ""), .caseNotOpen(status: .closed))
    }

    func test_reopenWithin30DaysOfClosingCountsAsRepeat() throws {
        var s = try Scenario()
        try s.drive(to: .closed)
        try s.step(.reopened(reason: .citizenRecontact, note: "问题复发"), after: 29 * 86_400)
        XCTAssertEqual(s.order.reopenings.last?.countsAsRepeat, true)
        XCTAssertEqual(KPIReport.compute(orders: [s.order], asOf: s.now).overall.repeatContact, Rate(1, 1))
    }

    func test_reopenMoreThan30DaysAfterClosingIsRefused() throws {
        var s = try Scenario()
        try s.drive(to: .closed)
        let closedAt = try XCTUnwrap(s.order.closure?.at)
        assertRefused(&s, .reopened(reason: .citizenRecontact, note: ""), after: 31 * 86_400,
                      .reopenWindowElapsed(closedAt: closedAt, windowDays: 30))
    }

    func test_duplicatesMergeIntoAnOpenParent() throws {
        var parent = try Scenario("parent", serial: 1)
        try parent.drive(to: .inProgress)
        var child = try Scenario("child", serial: 2, channel: webChannel)
        try child.accept()
        let plan = try MergePlan(child: child.order, parent: parent.order)
        try child.step(plan.childBody)
        try parent.step(plan.parentBody)
        XCTAssertEqual(child.status, .merged)
        XCTAssertEqual(child.order.mergedInto, CaseID("parent"))
        XCTAssertEqual(parent.order.duplicates, [CaseID("child")])
        XCTAssertThrowsError(try MergePlan(child: child.order, parent: parent.order))
    }

    func test_duplicatesDoNotMergeIntoAClosedParent() throws {
        var parent = try Scenario("parent")
        try parent.drive(to: .closed)
        var child = try Scenario("child", serial: 2)
        try child.accept()
        XCTAssertThrowsError(try MergePlan(child: child.order, parent: parent.order)) { error in
            XCTAssertEqual(error as? CaseRuleViolation, .parentNotOpen(parent: CaseID("parent"), status: .closed))
        }
        assertRefused(&parent, .duplicateAttached(child: CaseID("child"), childNumber: CaseNumber(year: 2026, serial: 2)),
                      .parentNotOpen(parent: CaseID("parent"), status: .closed))
    }

    func test_eachMergedChildStillGetsItsOwnCallback() throws {
        var parent = try Scenario("parent")
        try parent.drive(to: .inProgress)
        var children: [Scenario] = []
        for n in 2...3 {
            var child = try Scenario("child-\(n)", serial: n, contact: CitizenContact(name: "李四", phone: "1390000000\(n)"))
            try child.accept()
            let plan = try MergePlan(child: child.order, parent: parent.order)
            try child.step(plan.childBody)
            try parent.step(plan.parentBody)
            children.append(child)
        }
        try parent.reply(parent.leadID)
        try parent.step(.replyReviewed(accepted: true, note: ""))
        for i in children.indices {
            try children[i].step(.parentReplyAccepted(parent: CaseID("parent"), summary: "路面已修复"))
            XCTAssertEqual(children[i].status, .pendingCallback, "the child's own citizen is called back")
            XCTAssertNotNil(children[i].order.callbackDue)
        }
        try children[0].callback(.satisfied)
        try children[0].step(.closed(reason: .callbackCompleted))
        assertRefused(&children[1], .closed(reason: .callbackCompleted),
                      .callbackRequiredBeforeClose(unreachableAttempts: 0, required: 3))
        XCTAssertEqual(children[0].status, .closed)
        XCTAssertEqual(parent.status, .pendingCallback, "the parent's own callback is separate")
        assertRefused(&children[1], .parentReplyAccepted(parent: CaseID("someone-else"), summary: ""),
                      .notMergedInto(expected: CaseID("parent"), got: CaseID("someone-else")))
        // The lead is redone and its new reply accepted two days later: a caller not yet called back is told the
        // new reply, and their callback clock starts again from it.
        let firstDue = try XCTUnwrap(children[1].order.callbackDue)
        try children[1].step(.parentReplyAccepted(parent: CaseID("parent"), summary: "已重新整改"), after: 2 * 86_400)
        XCTAssertEqual(children[1].status, .pendingCallback)
        XCTAssertGreaterThan(try XCTUnwrap(children[1].order.callbackDue), firstDue)
    }
}
