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

    /// A timer that leaves each case alone until its `nextSupervisionDue` (as `DistrictOffice` does, asking again after
    /// every change) records exactly what a timer asking about every open case at every tick records: random case
    /// histories — deliveries, signs, extensions asked and decided, replies, reviews, callbacks, reopenings and new
    /// rounds at random moments, between ticks 1 h to 6 days apart — with reminders at half the window and at
    /// `remindersBefore` points. Three fixed seeds, which between them reach reminders, levels 1–3, extensions and
    /// reopenings (asserted), and one random seed, printed (`FOLLOWUP_SEED=<seed>` replays it).
    func test_supervisionThatSkipsCasesUntilTheyAreDueRecordsWhatAFullScanRecords() throws {
        var seen: [String: Int] = [:]
        for seed: UInt64 in [1, 2, 3] {
            seen.merge(try compareSupervisionTimers(seed: seed), uniquingKeysWith: +)
        }
        for kind in ["reminder", "level 1", "level 2", "level 3", "extension", "reopened"] {
            XCTAssertGreaterThan(seen[kind] ?? 0, 0, "no history of seeds 1–3 had a \(kind); seen \(seen)")
        }
        let seed = ProcessInfo.processInfo.environment["FOLLOWUP_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 4...(1 << 40))
        print("FollowUpRuleTests: FOLLOWUP_SEED=\(seed)")
        _ = try compareSupervisionTimers(seed: seed)
    }

    /// Plays the random histories of `seed` under both timers and asserts they record the same events. Returns what the
    /// histories' supervision recorded and what they went through, by kind.
    private func compareSupervisionTimers(seed: UInt64) throws -> [String: Int] {
        var rng = TestRandom(seed: seed)
        var seen: [String: Int] = [:]
        for settings in [WorkflowSettings.default, WorkflowSettings(remindersBefore: [.naturalHours(1), .workingDays(1)])] {
            for trial in 0..<18 {
                // Busy units act at one tick in two, slow ones at one in eight (so level 2 has the weeks it needs).
                let actsOneIn = [2, 8, 3][trial % 3]
                var everyTick = try unsignedComplaint(co: trial % 2 == 0 ? ["210302-GOV"] : [], settings: settings)
                var whenDue = everyTick
                var nextDue = Date.distantPast  // changed since supervision last looked
                for tick in 0..<60 {
                    // Somebody acts, on both copies alike (the same step from the same state).
                    let at = everyTick.now.addingTimeInterval(Double(rng.next(in: 3_600...(4 * 86_400))))
                    if rng.next(in: 1...actsOneIn) == 1, let step = Self.randomStep(everyTick, &rng) {
                        let a = Self.attempt(step, at: at, on: &everyTick)
                        let b = Self.attempt(step, at: at, on: &whenDue)
                        XCTAssertEqual(a, b)
                        if case .success = b { nextDue = .distantPast }
                    }
                    // The tick, a little later.
                    let now = at.addingTimeInterval(Double(rng.next(in: 60...(2 * 86_400))))
                    try record(everyTick.order.supervisionDue(at: now, settings: settings), on: &everyTick, at: now)
                    if nextDue <= now {
                        try record(whenDue.order.supervisionDue(at: now, settings: settings), on: &whenDue, at: now)
                        nextDue = whenDue.order.nextSupervisionDue(settings: settings) ?? .distantFuture
                    } else {
                        whenDue.now = now
                    }
                    XCTAssertEqual(whenDue.log.events, everyTick.log.events,
                                   "seed \(seed), trial \(trial), tick \(tick): the timers recorded different things")
                    if whenDue.log.events != everyTick.log.events { return seen }
                }
                for event in everyTick.log.events {
                    switch event.body {
                    case .reminderSent where event.author == supervisorTimer: seen["reminder", default: 0] += 1
                    case .supervisionEscalated(let level, _, _): seen["level \(level.rawValue)", default: 0] += 1
                    case .extensionDecided: seen["extension", default: 0] += 1
                    case .reopened: seen["reopened", default: 0] += 1
                    default: break
                    }
                }
            }
        }
        return seen
    }

    /// Records `step` at `at`: the event's body, or the rule it broke.
    private static func attempt(_ step: (body: CaseEventBody, by: EventAuthor), at: Date,
                                on s: inout Scenario) -> Result<CaseEventBody, CaseRuleViolation> {
        do { return .success(try s.step(step.body, by: step.by, at: at).body) } catch { return .failure(error) }
    }

    /// A step a unit, the hotline or a citizen might take next on the case (nil: none can).
    private static func randomStep(_ s: Scenario, _ rng: inout TestRandom) -> (body: CaseEventBody, by: EventAuthor)? {
        let order = s.order
        let current = order.assignments.filter { $0.round == order.currentRound && !$0.status.isFinished }
        var choices: [(body: CaseEventBody, by: EventAuthor)] = []
        for a in current {
            let unit = EventAuthor.unit(code: a.unit)
            switch a.status {
            case .sent: choices.append((.assignmentDelivered(assignment: a.id), supervisorTimer))
            case .delivered: choices.append((.assignmentSigned(assignment: a.id), unit))
            case .signed:
                choices.append((.unitReplied(assignment: a.id, text: "已处理 Done"), unit))
                choices.append((.extensionRequested(assignment: a.id, extra: .workingDays(3), reason: "需要协调"), unit))
            default: break
            }
        }
        if let pending = order.extensions.last(where: { $0.decision == nil }) {
            choices.append((.extensionDecided(request: pending.id, approved: rng.next(in: 0...1) == 1, note: "审核"), hotlineStaff))
        }
        switch order.status {
        case .replied: choices.append((.replyReviewed(accepted: true, note: "答复规范"), hotlineStaff))
        case .pendingCallback:
            // Refused steps (a reopening before the unsatisfied callback, a close before a satisfied one) are refused on
            // both copies alike.
            for satisfaction in [Satisfaction.unsatisfied, .satisfied] {
                choices.append((.callbackAttempted(outcome: .reached(evaluation: CallbackEvaluation(resolved: satisfaction == .satisfied,
                                                                                                 satisfaction: satisfaction))),
                                hotlineStaff))
            }
            choices.append((.reopened(reason: .citizenUnsatisfied, note: "callback"), hotlineStaff))
            choices.append((.closed(reason: .callbackCompleted), hotlineStaff))
        case .reopened:
            if let next = order.redispatchAfterReopen { choices.append((.queuedForDispatch(group: next.group), hotlineStaff)) }
        case .pendingDispatch:
            if let next = order.redispatchAfterReopen ?? order.dispatches.last.map({ (group: "", order: DispatchOrder(decision: $0.decision, profile: $0.profile)) }) {
                choices.append((.dispatched(order: next.order), hotlineStaff))
            }
        default: break
        }
        guard !choices.isEmpty else { return nil }
        return choices[rng.next(in: 0...(choices.count - 1))]
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

/// A seeded generator for the tests' random histories (SplitMix64).
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(in range: ClosedRange<Int>) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return range.lowerBound + Int(z % UInt64(range.count))
    }
}
