import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Reminders and supervision levels are overlays, not states; each escalation fires once.
final class SupervisionRuleTests: XCTestCase {
    /// A consultation dispatched Monday 2 March 2026 09:03: sign due end of Tue 3 March, reply due end of Thu 5 March.
    private func signedConsultation() throws -> Scenario {
        var s = try Scenario(kind: .consultation)
        try s.drive(to: .inProgress)
        XCTAssertEqual(s.order.leadAssignment?.due.handle, shanghai(2026, 3, 6))
        return s
    }

    func test_remindersAreOverlaysNotStates() throws {
        var s = try signedConsultation()
        try s.step(.reminderSent(assignment: s.leadID, note: "请加快办理"))
        try s.step(.reminderSent(assignment: s.leadID, note: "再次催办"))
        XCTAssertEqual(s.status, .inProgress)
        XCTAssertEqual(s.order.reminders.count, 2)
    }

    func test_overdueGoesToSupervisionLevelOne() throws {
        var s = try signedConsultation()
        XCTAssertEqual(s.order.escalationsDue(at: shanghai(2026, 3, 5, 12)), [], "not overdue yet")
        assertRefused(&s, .supervisionEscalated(level: .level1, assignment: s.leadID, reason: "逾期"), by: supervisorTimer,
                      .escalationNotDue(level: .level1, reason: "assignment A1 is not overdue"))
        let due = s.order.escalationsDue(at: shanghai(2026, 3, 6, 0, 1))
        XCTAssertEqual(due.map(\.level), [.level1])
        try s.step(try XCTUnwrap(due.first).eventBody, by: supervisorTimer, at: shanghai(2026, 3, 6, 0, 1))
        XCTAssertEqual(s.status, .inProgress, "supervision is an overlay")
        XCTAssertEqual(s.order.escalations.map(\.level), [.level1])
    }

    func test_unsignedPastSignDeadlineIsOverdue() throws {
        var s = try Scenario(kind: .consultation)
        try s.drive(to: .dispatched)
        try s.deliver(s.leadID)
        XCTAssertEqual(s.order.escalationsDue(at: shanghai(2026, 3, 4, 0, 1)).map(\.level), [.level1])
    }

    func test_levelTwoFiresFiveWorkingDaysAfterTheDeadline() throws {
        var s = try signedConsultation()
        try s.step(.supervisionEscalated(level: .level1, assignment: s.leadID, reason: "逾期"), by: supervisorTimer,
                   at: shanghai(2026, 3, 6, 9))
        // Deadline end of Thu 5 March + 5 working days = end of Thu 12 March.
        XCTAssertEqual(s.order.escalationsDue(at: shanghai(2026, 3, 12, 23)), [])
        assertRefused(&s, .supervisionEscalated(level: .level2, assignment: s.leadID, reason: ""), by: supervisorTimer,
                      after: 86_400,
                      .escalationNotDue(level: .level2, reason: "assignment A1 is not yet 5 working days past its deadline"))
        XCTAssertEqual(s.order.escalationsDue(at: shanghai(2026, 3, 13, 0, 1)).map(\.level), [.level2])
        try s.step(.supervisionEscalated(level: .level2, assignment: s.leadID, reason: "逾期5个工作日"), by: supervisorTimer,
                   at: shanghai(2026, 3, 13, 0, 1))
        XCTAssertEqual(s.order.escalations.map(\.level), [.level1, .level2])
    }

    func test_levelTwoNeedsLevelOneFirst() throws {
        var s = try signedConsultation()
        s.now = shanghai(2026, 3, 20)
        assertRefused(&s, .supervisionEscalated(level: .level2, assignment: s.leadID, reason: ""), by: supervisorTimer,
                      .escalationNotDue(level: .level2, reason: "level 1 has not fired for assignment A1"))
    }

    func test_repeatedReopenGoesToLevelThree() throws {
        var s = try Scenario()
        try s.drive(to: .pendingCallback)
        try s.callback(.unsatisfied, resolved: false)
        try s.step(.reopened(reason: .citizenUnsatisfied, note: "第一次重办"))
        XCTAssertEqual(s.order.escalationsDue(at: s.now).map(\.level), [])
        try s.queue()
        try s.dispatch()
        try s.deliver(s.leadID)
        try s.sign(s.leadID)
        try s.reply(s.leadID)
        try s.step(.replyReviewed(accepted: false, note: "答复不实"))
        XCTAssertEqual(s.order.reopenCount, 2)
        let due = s.order.escalationsDue(at: s.now)
        XCTAssertEqual(due.map(\.level), [.level3])
        XCTAssertNil(due.first?.assignment, "level 3 is case-wide")
        try s.step(try XCTUnwrap(due.first).eventBody, by: supervisorTimer)
    }

    func test_eachEscalationFiresOnce() throws {
        var s = try signedConsultation()
        let body = CaseEventBody.supervisionEscalated(level: .level1, assignment: s.leadID, reason: "逾期")
        try s.step(body, by: supervisorTimer, at: shanghai(2026, 3, 6, 9))
        // The identical escalation is refused (not a no-op), so the log never holds it twice.
        assertRefused(&s, body, by: supervisorTimer, .escalationAlreadyFired(level: .level1, assignment: s.leadID))
        XCTAssertEqual(s.order.escalationsDue(at: shanghai(2026, 3, 7)), [], "the planner does not offer it again")
        XCTAssertEqual(s.order.escalations.count, 1)
    }

    func test_repliedAssignmentIsNeverEscalated() throws {
        var s = try signedConsultation()
        try s.reply(s.leadID)
        XCTAssertEqual(s.order.escalationsDue(at: shanghai(2026, 4, 30)), [])
    }

    func test_unitCannotEscalate() throws {
        var s = try signedConsultation()
        XCTAssertEqual(
            assertRefusedAny(&s, .supervisionEscalated(level: .level1, assignment: s.leadID, reason: ""),
                             by: s.unit(s.leadID)),
            .authorNotAllowed(event: "supervisionEscalated", author: s.unit(s.leadID),
                              rule: "only the hotline records this; a unit can sign, return, ask for time and reply"))
    }
}
