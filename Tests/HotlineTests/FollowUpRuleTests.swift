import XCTest
@testable import Hotline
@testable import HotlineDomain

/// What follows a step, by the domain's rules: the supervisor's automatic reminders (once per assignment and
/// deadline), the overdue flag, and the next round of a reopened case.
final class FollowUpRuleTests: XCTestCase {
    /// A complaint dispatched Mon 2 March 2026 09:04 (delivered 09:05): sign due end of Tue 3 March (Wed 00:00),
    /// so half the sign window (38 h 56 min) has passed at Tue 3 March 04:32.
    private func unsignedComplaint(co: [String] = [], settings: WorkflowSettings = .default) throws -> Scenario {
        var s = try Scenario(settings: settings)
        s.co = co
        try s.drive(to: .dispatched)
        for a in s.order.assignments { try s.deliver(a.id) }
        XCTAssertEqual(s.order.leadAssignment?.due.sign, shanghai(2026, 3, 4))
        return s
    }

    func test_anAutomaticSignReminderIsDueOnceHalfTheSignWindowHasPassed() throws {
        var s = try unsignedComplaint()
        XCTAssertEqual(s.order.remindersDue(at: shanghai(2026, 3, 3, 4, 31)), [])
        let due = s.order.remindersDue(at: shanghai(2026, 3, 3, 4, 33))
        XCTAssertEqual(due, [.reminderSent(assignment: s.leadID, note: "automatic reminder: sign (210302-CM, due 2026-03-03T16:00:00Z)")])
        try s.step(due[0], by: supervisorTimer, at: shanghai(2026, 3, 3, 4, 33))
        XCTAssertEqual(s.order.remindersDue(at: shanghai(2026, 3, 3, 12)), [], "once per assignment and deadline")
        XCTAssertEqual(s.status, .dispatched, "a reminder is an overlay")
        // Past the sign due: overdue and level 1 — the reminder is not repeated.
        let later = shanghai(2026, 3, 4, 0, 1)
        XCTAssertEqual(s.order.overdueAssignments(at: later).map(\.id), [s.leadID])
        XCTAssertEqual(s.order.supervisionDue(at: later),
                       [.supervisionEscalated(level: .level1, assignment: s.leadID, reason: "210302-CM overdue on \(s.leadID)")])
    }

    func test_aManualReminderDoesNotStandInForTheAutomaticOne() throws {
        var s = try unsignedComplaint()
        try s.step(.reminderSent(assignment: s.leadID, note: "请尽快签收"), at: shanghai(2026, 3, 2, 10))
        XCTAssertEqual(s.order.remindersDue(at: shanghai(2026, 3, 3, 5)).count, 1)
    }

    func test_eachAssignmentGetsItsOwnReminderAndASignedOneIsRemindedToReply() throws {
        var s = try unsignedComplaint(co: ["210302-GOV"])
        let co = try XCTUnwrap(s.order.coAssignments.first?.id)
        try s.sign(s.leadID)
        // The lead signed: its reply reminder comes at half its 15-working-day window, not now.
        XCTAssertEqual(s.order.remindersDue(at: shanghai(2026, 3, 3, 5)).map(Self.assignment), [co])
        let handle = try XCTUnwrap(s.order.leadAssignment?.due.handle)
        let start = try XCTUnwrap(s.order.leadAssignment?.sentAt)
        let half = start.addingTimeInterval(handle.timeIntervalSince(start) / 2)
        XCTAssertEqual(s.order.remindersDue(at: half.addingTimeInterval(-60)).map(Self.assignment), [co])
        let both = s.order.remindersDue(at: half)
        XCTAssertEqual(both.map(Self.assignment), [s.leadID, co])
        guard case .reminderSent(_, let note) = both[0] else { return XCTFail() }
        XCTAssertTrue(note.hasPrefix("automatic reminder: reply (210302-CM"), note)
    }

    func test_aReopenedCaseIsDispatchedAgainToTheUnitsOfItsLastRound() throws {
        var s = try Scenario()
        s.co = ["210302-GOV"]
        try s.drive(to: .pendingCallback)
        XCTAssertNil(s.order.redispatchAfterReopen, "only a reopened case")
        try s.callback(.unsatisfied)
        try s.step(.reopened(reason: .citizenUnsatisfied, note: "callback"))
        let next = try XCTUnwrap(s.order.redispatchAfterReopen)
        XCTAssertEqual(next.group, "G1")
        XCTAssertEqual(next.order.decision.lead, "210302-CM")
        XCTAssertEqual(next.order.decision.coUnits, ["210302-GOV"])
        XCTAssertEqual(next.order.profile, s.order.dispatches.last?.profile)
        try s.step(.queuedForDispatch(group: next.group))
        try s.step(.dispatched(order: next.order))
        XCTAssertEqual(s.status, .dispatched)
        XCTAssertEqual(s.order.currentRound, 2)
        XCTAssertEqual(s.order.leadAssignment?.unit, "210302-CM")
        XCTAssertEqual(s.order.leadAssignment?.sentAt, s.now, "a fresh clock")
    }

    func test_worklistsPlaceACaseByWhatItWaitsFor() throws {
        var s = try unsignedComplaint()
        let at = shanghai(2026, 3, 3)
        XCTAssertEqual(s.order.worklistEntries(for: .unitInbox(unit: "210302-CM"), at: at, office: "210302").map(\.waitingFor), ["sign"])
        XCTAssertEqual(s.order.worklistEntries(for: .unitInbox(unit: "210302-GOV"), at: at, office: "210302"), [])
        XCTAssertEqual(s.order.worklistEntries(for: .dispatchQueue(group: nil), at: at, office: "210302"), [])
        XCTAssertEqual(s.order.worklistEntries(for: .cases(status: nil, overdueOnly: true), at: at, office: "210302"), [])
        let overdue = s.order.worklistEntries(for: .cases(status: .dispatched, overdueOnly: true), at: shanghai(2026, 3, 4, 0, 1), office: "210302")
        XCTAssertEqual(overdue.map(\.overdue), [true])
        try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        XCTAssertEqual(s.order.worklistEntries(for: .dispatchQueue(group: "G1"), at: at, office: "210302").map(\.waitingFor),
                       ["return decision"])
        XCTAssertEqual(s.order.worklistEntries(for: .dispatchQueue(group: "G2"), at: at, office: "210302"), [])
        XCTAssertEqual(s.order.worklistEntries(for: .unitInbox(unit: "210302-CM"), at: at, office: "210302"), [])
    }

    private static func assignment(_ body: CaseEventBody) -> AssignmentID? {
        if case .reminderSent(let a, _) = body { return a }
        return nil
    }

    // MARK: When supervision next finds something due (`WorkOrder.nextSupervisionDue`)

    /// What a district office's ticks rely on to skip a case: before `nextSupervisionDue` nothing is due, from it on
    /// something is — checked against `supervisionDue` itself every 4 h over 60 days and at the instant before,
    /// after every change a supervisor or a unit makes, with reminders at half the window and with
    /// `remindersBefore` points.
    func test_nextSupervisionDue_isTheFirstInstantSupervisionFindsSomethingDue() throws {
        for settings in [WorkflowSettings.default, WorkflowSettings(remindersBefore: [.naturalHours(1), .workingDays(1)])] {
            // Both assignments unsigned: sign reminders, level 1 at the sign deadline, level 2 five working days
            // after the handle deadline, then nothing more.
            var unsigned = try unsignedComplaint(co: ["210302-GOV"], settings: settings)
            let fired = try superviseUntilQuiet(&unsigned, settings: settings)
            XCTAssertTrue(fired.contains { if case .supervisionEscalated(.level2, _, _) = $0 { true } else { false } }, "\(fired)")
            XCTAssertNil(unsigned.order.nextSupervisionDue(settings: settings), "everything fired: nothing more falls due")

            // The lead signs and later replies: its reply reminder, then nothing for it; the co-unit's go on.
            var signed = try unsignedComplaint(co: ["210302-GOV"], settings: settings)
            try signed.sign(signed.leadID)
            try assertNextSupervisionDueIsExact(signed, settings: settings)
            let first = try XCTUnwrap(signed.order.nextSupervisionDue(settings: settings))
            try record(signed.order.supervisionDue(at: first, settings: settings), on: &signed, at: first)
            try signed.reply(signed.leadID)
            _ = try superviseUntilQuiet(&signed, settings: settings)

            // Reopened twice: level 3 is due at once.
            var reopened = try Scenario(settings: settings)
            try reopened.drive(to: .pendingCallback)
            for _ in 0..<2 {
                try reopened.callback(.unsatisfied)
                try reopened.step(.reopened(reason: .citizenUnsatisfied, note: "callback"))
                let next = try XCTUnwrap(reopened.order.redispatchAfterReopen)
                try reopened.step(.queuedForDispatch(group: next.group))
                try reopened.step(.dispatched(order: next.order))
                try assertNextSupervisionDueIsExact(reopened, settings: settings)
                if reopened.order.reopenCount < 2 {
                    for a in reopened.order.assignments where a.round == reopened.order.currentRound { try reopened.deliver(a.id) }
                    try reopened.sign(reopened.leadID)
                    try reopened.reply(reopened.leadID)
                    try reopened.step(.replyReviewed(accepted: true, note: "答复规范"))
                }
            }
            XCTAssertEqual(reopened.order.nextSupervisionDue(settings: settings), .distantPast)
            _ = try superviseUntilQuiet(&reopened, settings: settings)

            // Closed: nothing falls due.
            var closed = try Scenario(settings: settings)
            try closed.drive(to: .closed)
            XCTAssertNil(closed.order.nextSupervisionDue(settings: settings))
        }
    }

    /// Jumps to each `nextSupervisionDue` and records what is due there, as a supervisor's tick would, checking the
    /// instant exactly at each step (at most 30). Returns what was recorded.
    private func superviseUntilQuiet(_ s: inout Scenario, settings: WorkflowSettings) throws -> [CaseEventBody] {
        var recorded: [CaseEventBody] = []
        for _ in 0..<30 {
            try assertNextSupervisionDueIsExact(s, settings: settings)
            guard let next = s.order.nextSupervisionDue(settings: settings) else { return recorded }
            let at = max(next, s.now)
            let due = s.order.supervisionDue(at: at, settings: settings)
            XCTAssertFalse(due.isEmpty)
            try record(due, on: &s, at: at)
            recorded += due
        }
        XCTFail("supervision did not come to rest in 30 ticks: \(recorded)")
        return recorded
    }

    private func record(_ bodies: [CaseEventBody], on s: inout Scenario, at instant: Date) throws {
        for body in bodies { try s.step(body, by: supervisorTimer, at: instant) }
    }

    private func assertNextSupervisionDueIsExact(_ s: Scenario, settings: WorkflowSettings,
                                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let next = s.order.nextSupervisionDue(settings: settings)
        var t = s.now.addingTimeInterval(-86_400)
        let end = s.now.addingTimeInterval(60 * 86_400)
        while t < end {
            let due = s.order.supervisionDue(at: t, settings: settings)
            XCTAssertEqual(due.isEmpty, next.map { t < $0 } ?? true,
                           "at \(t): due \(due), next \(String(describing: next))", file: file, line: line)
            if due.isEmpty != (next.map { t < $0 } ?? true) { return }
            t = t.addingTimeInterval(4 * 3_600)
        }
        guard let next, next != .distantPast else { return }
        XCTAssertFalse(s.order.supervisionDue(at: next, settings: settings).isEmpty, file: file, line: line)
        let before = Date(timeIntervalSinceReferenceDate: next.timeIntervalSinceReferenceDate.nextDown)
        XCTAssertTrue(s.order.supervisionDue(at: before, settings: settings).isEmpty, file: file, line: line)
    }
}
