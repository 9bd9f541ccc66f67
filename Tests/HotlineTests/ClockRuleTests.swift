import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Clocks and SLAs: the handling clock starts at dispatch; P1 on natural hours; P2 on working days;
/// P3 by approved extension; due dates are derived, never typed; extensions only before the deadline.
final class ClockRuleTests: XCTestCase {
    func test_handlingClockStartsAtDispatchNotAtSigning() throws {
        var s = try Scenario(at: shanghai(2026, 3, 2, 9))  // Monday
        try s.drive(to: .pendingDispatch)
        try s.dispatch()
        let dispatchedAt = s.now
        try s.deliver(s.leadID)
        try s.sign(s.leadID, after: 20 * 3_600)  // signed the next morning
        let lead = try XCTUnwrap(s.order.leadAssignment)
        XCTAssertEqual(lead.sentAt, dispatchedAt)
        XCTAssertEqual(lead.due.handle, Deadline.due(start: dispatchedAt, limit: .workingDays(15), calendar: .weekendsOnly))
        XCTAssertNotEqual(lead.due.handle, Deadline.due(start: lead.signedAt ?? dispatchedAt, limit: .workingDays(15),
                                                        calendar: .weekendsOnly))
    }

    func test_dispatchLatencyIsTheHotlinesOwnClock() throws {
        var s = try Scenario(at: shanghai(2026, 3, 2, 9))
        try s.accept()  // 09:01
        try s.queue()
        try s.dispatch(after: 2 * 3_600 - 60)  // dispatched at 11:01: 2 hours of hotline latency
        try s.deliver(s.leadID)
        let report = KPIReport.compute(orders: [s.order], asOf: s.now)
        XCTAssertEqual(report.overall.dispatchLatencyHours.average, 2.0)
        XCTAssertEqual(s.order.leadAssignment?.sentAt, s.order.dispatches.first?.at,
                       "the unit's handling clock starts where the hotline's latency clock stops")
    }

    func test_p1RunsOnNaturalHours() throws {
        // A P1 accepted at 02:00 on a Sunday: sign by 02:30, first feedback by 02:00 Monday — natural time.
        let sunday2am = shanghai(2026, 3, 8, 2)
        XCTAssertEqual(LocalDate(year: 2026, month: 3, day: 8)?.weekday, .sunday)
        var s = try Scenario(at: sunday2am.addingTimeInterval(-120), kind: .help, urgency: .p1, category: "water-outage")
        try s.accept()
        try s.step(.dutyRoomAlerted(dutyRoom: "210302-DUTY", note: "胜利小区全楼停水"), after: 0)
        try s.queue()
        try s.step(.dispatched(order: dispatchOrder(lead: "AS-WATER", profile: try standardProfile(.help, .p1))),
                   at: sunday2am)
        let due = try XCTUnwrap(s.order.leadAssignment?.due)
        XCTAssertEqual(due.sign, shanghai(2026, 3, 8, 2, 30))
        XCTAssertEqual(due.firstFeedback, shanghai(2026, 3, 9, 2))
        XCTAssertEqual(due.handle, shanghai(2026, 3, 11, 2))
    }

    func test_p2RunsOnWorkingDays() throws {
        // Dispatched Friday 15:00: sign within 1 working day = by the end of Monday.
        var s = try Scenario(at: shanghai(2026, 3, 6, 14), kind: .complaint, urgency: .p2)
        try s.drive(to: .pendingDispatch)
        try s.step(.dispatched(order: dispatchOrder(lead: "210302-CM", profile: try standardProfile(.complaint, .p2))),
                   at: shanghai(2026, 3, 6, 15))
        let due = try XCTUnwrap(s.order.leadAssignment?.due)
        XCTAssertEqual(due.sign, shanghai(2026, 3, 10), "end of Monday 9 March")
        XCTAssertNil(due.firstFeedback)
        XCTAssertEqual(due.handle, shanghai(2026, 3, 28), "end of the 15th working day: Friday 27 March")
    }

    func test_p2SkipsHolidaysAndCountsMakeUpDays() throws {
        // Dispatched Wednesday 30 Sep 2026, before the National Day week: 1–7 Oct are holidays; 8 Oct (Thu) works.
        let settings = WorkflowSettings(calendar: try calendar2026())
        var s = try Scenario(at: shanghai(2026, 9, 30, 10), kind: .consultation, settings: settings)
        try s.drive(to: .pendingDispatch)
        try s.step(.dispatched(order: dispatchOrder(lead: "210302-CM", profile: try standardProfile(.consultation, .p2))),
                   at: shanghai(2026, 9, 30, 16))
        let due = try XCTUnwrap(s.order.leadAssignment?.due)
        XCTAssertEqual(due.sign, shanghai(2026, 10, 9), "end of Thursday 8 October")
        // 3 working days: Thu 8, Fri 9, Sat 10 (make-up working day).
        XCTAssertEqual(due.handle, shanghai(2026, 10, 11))
    }

    func test_handleLimitDependsOnKind() throws {
        let start = shanghai(2026, 3, 2, 10)  // Monday
        let cal = WorkingCalendar.weekendsOnly
        func handleDue(_ kind: CaseKind) throws -> Date {
            Deadline.due(start: start, limit: try standardProfile(kind, .p2).handle, calendar: cal)
        }
        XCTAssertEqual(try handleDue(.consultation), shanghai(2026, 3, 6), "3 working days: end of Thursday")
        XCTAssertEqual(try handleDue(.help), shanghai(2026, 3, 12), "7 working days: end of Wednesday next week")
        XCTAssertEqual(try handleDue(.suggestion), shanghai(2026, 3, 12))
        XCTAssertEqual(try handleDue(.complaint), shanghai(2026, 3, 24), "15 working days: end of Monday 23 March")
        XCTAssertEqual(try handleDue(.report), shanghai(2026, 3, 24))
        XCTAssertEqual(try standardProfile(.complaint, .p2).sign, .workingDays(1))
    }

    func test_p0HasNoSLAProfile() {
        XCTAssertThrowsError(try SLAPolicy.standard.profile(kind: .help, urgency: .p0)) { error in
            XCTAssertEqual(error as? SLAPolicyError, .noProfile(policy: "standard", kind: .help, urgency: .p0))
        }
    }

    func test_p3IsHandledByApprovedExtension() throws {
        var s = try Scenario(kind: .complaint, urgency: .p3)
        try s.drive(to: .inProgress)
        let original = try XCTUnwrap(s.order.leadAssignment?.due.handle)
        for n in 1...3 {
            try s.step(.extensionRequested(assignment: s.leadID, extra: .workingDays(10), reason: "涉及多部门 \(n)"),
                       by: s.unit(s.leadID))
            try s.step(.extensionDecided(request: ExtensionID(n), approved: true, note: "同意"))
        }
        let extended = try XCTUnwrap(s.order.leadAssignment?.due.handle)
        XCTAssertEqual(extended, Deadline.due(start: original, limit: .workingDays(30), calendar: .weekendsOnly))
        XCTAssertEqual(s.order.leadAssignment?.due.originalHandle, original)
        assertRefused(&s, .extensionRequested(assignment: s.leadID, extra: .workingDays(5), reason: "再延"),
                      by: s.unit(s.leadID), .extensionLimitReached(max: 3))
    }

    func test_dueDatesAreDerivedNeverTyped() throws {
        var s = try Scenario()
        try s.drive(to: .dispatched)
        // The event carries limits, not dates: the same log on a calendar with a holiday derives a later due.
        let json = String(decoding: try JSONEncoder().encode(s.log.events.last), as: UTF8.self)
        XCTAssertFalse(json.contains("due"), json)
        let holiday = try WorkingCalendar(id: "with-holiday", holidays: [try XCTUnwrap(LocalDate(year: 2026, month: 3, day: 3))])
        let replayed = try WorkOrder.replay(s.log.events, settings: WorkflowSettings(calendar: holiday))
        let plain = try XCTUnwrap(s.order.leadAssignment?.due.sign)
        XCTAssertEqual(plain, shanghai(2026, 3, 4), "dispatched Monday 2 March → end of Tuesday")
        XCTAssertEqual(replayed.leadAssignment?.due.sign, shanghai(2026, 3, 5), "Tuesday is a holiday → end of Wednesday")
    }

    func test_extensionMustBeRequestedBeforeTheDeadline() throws {
        var s = try Scenario(kind: .consultation)
        try s.drive(to: .inProgress)
        let due = try XCTUnwrap(s.order.leadAssignment?.due.handle)
        let late = due.addingTimeInterval(60)
        let before = s.log
        XCTAssertThrowsError(try s.step(.extensionRequested(assignment: s.leadID, extra: .workingDays(3), reason: "来不及"),
                                        by: s.unit(s.leadID), at: late)) { error in
            XCTAssertEqual(error as? CaseRuleViolation, .extensionRequestedAfterDeadline(due: due, requestedAt: late))
            XCTAssertTrue((error as? CaseRuleViolation)?.message.contains("must be asked before") ?? false)
        }
        XCTAssertEqual(s.log, before)
    }

    func test_approvedExtensionMovesTheDeadlineAndDeniedDoesNot() throws {
        var s = try Scenario(kind: .consultation)  // dispatched Monday 2 March → due end of Thursday 5 March
        try s.drive(to: .inProgress)
        XCTAssertEqual(s.order.leadAssignment?.due.handle, shanghai(2026, 3, 6))
        try s.step(.extensionRequested(assignment: s.leadID, extra: .workingDays(2), reason: "需现场勘查"), by: s.unit(s.leadID))
        assertRefused(&s, .extensionRequested(assignment: s.leadID, extra: .workingDays(2), reason: "again"),
                      by: s.unit(s.leadID), .extensionAlreadyPending(ExtensionID(1)))
        try s.step(.extensionDecided(request: ExtensionID(1), approved: false, note: "理由不充分"))
        XCTAssertEqual(s.order.leadAssignment?.due.handle, shanghai(2026, 3, 6))
        assertRefused(&s, .extensionDecided(request: ExtensionID(1), approved: true, note: ""),
                      .extensionAlreadyDecided(ExtensionID(1)))
        try s.step(.extensionRequested(assignment: s.leadID, extra: .workingDays(2), reason: "需现场勘查"), by: s.unit(s.leadID))
        try s.step(.extensionDecided(request: ExtensionID(2), approved: true, note: "同意"))
        XCTAssertEqual(s.order.leadAssignment?.due.handle, shanghai(2026, 3, 10), "end of Thursday + 2 working days = end of Monday")
        XCTAssertEqual(s.order.extensions.last?.newDue, shanghai(2026, 3, 10))
    }

    func test_onlyTheLeadAsksForMore() throws {
        var s = try Scenario()
        s.co = ["210302-SAMR"]
        try s.drive(to: .inProgress)
        let co = try XCTUnwrap(s.order.coAssignments.first?.id)
        try s.deliver(co)
        try s.sign(co)
        assertRefused(&s, .extensionRequested(assignment: co, extra: .workingDays(2), reason: ""),
                      by: .unit(code: "210302-SAMR"), .extensionOnlyForLead(co))
    }
}
