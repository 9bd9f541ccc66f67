import Foundation
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Repeat callers and callers about one matter at intake (`IntakeMatcher`), the callback of merged callers
/// (`CallbackPlan`), the repeat-contact rate split, reminders before a deadline and the shift handover —
/// pure rules, no actors, a fixed clock.
final class RepeatContactRuleTests: XCTestCase {
    let byPhone = IntakeMatchRule(id: "repeat-by-phone", match: .phone, windowHours: 720)
    let noiseByAddress = IntakeMatchRule(id: "noise-by-address", match: .address, categories: ["noise-nuisance"], windowHours: 72)

    func contact(phone: String = "13812345678", address: String? = "鞍山市铁东区胜利路 88 号", category: String? = "road-damage",
                 id: String = "call-2") -> IntakeContact {
        IntakeContact(channel: phone8890, externalID: id, phone: phone, address: address, category: category)
    }

    /// A case of the standard scenario (phone 13812345678, address 鞍山市铁东区胜利路 88 号) driven to `status`.
    func scenario(_ id: String = "case-1", serial: Int = 1, category: String = "road-damage", to status: CaseStatus,
                  phone: String = "13812345678", at start: Date = shanghai(2026, 3, 2, 9)) throws -> Scenario {
        var s = try Scenario(id, serial: serial, at: start, category: category,
                             contact: CitizenContact(name: "张三丰", phone: phone))
        try s.drive(to: status)
        return s
    }

    // MARK: phone

    func test_theSameCallerAboutTheSameMatterIsARepeatContactOnTheOpenCase() throws {
        let open = try scenario(to: .inProgress)
        let decision = IntakeMatcher.decide(contact(phone: "+86 138-1234-5678"), cases: [open.order], rules: [byPhone],
                                            at: open.now.addingTimeInterval(3_600))
        XCTAssertEqual(decision, .repeatContact(case: open.id, match: IntakeMatch(field: .phone, rule: "repeat-by-phone",
                                                                                 caseStatus: .inProgress, latestContactAt: open.order.createdAt)))
    }

    func test_anotherCategoryOrAnotherPhoneOrNoRuleOpensANewCase() throws {
        let open = try scenario(to: .inProgress)
        let later = open.now.addingTimeInterval(3_600)
        XCTAssertEqual(IntakeMatcher.decide(contact(category: "street-lighting"), cases: [open.order], rules: [byPhone], at: later), .openNew)
        XCTAssertEqual(IntakeMatcher.decide(contact(phone: "13900000000"), cases: [open.order], rules: [byPhone], at: later), .openNew)
        XCTAssertEqual(IntakeMatcher.decide(contact(phone: ""), cases: [open.order], rules: [byPhone], at: later), .openNew, "anonymous")
        XCTAssertEqual(IntakeMatcher.decide(contact(), cases: [open.order], rules: [], at: later), .openNew)
        XCTAssertEqual(IntakeMatcher.decide(contact(category: nil), cases: [open.order], rules: [byPhone], at: later), .openNew)
    }

    func test_aCaseWhoseLatestContactIsOutsideTheWindowDoesNotMatch() throws {
        let open = try scenario(to: .inProgress)
        let rule = IntakeMatchRule(id: "short", match: .phone, windowHours: 24)
        XCTAssertEqual(IntakeMatcher.decide(contact(), cases: [open.order], rules: [rule], at: open.order.createdAt.addingTimeInterval(25 * 3_600)), .openNew)
        // A repeat contact renews the window.
        var s = open
        try s.step(.repeatContactLinked(channel: phone8890, externalID: "call-9", note: "again"), at: open.order.createdAt.addingTimeInterval(20 * 3_600))
        guard case .repeatContact(let id, _) = IntakeMatcher.decide(contact(), cases: [s.order], rules: [rule],
                                                                    at: s.order.createdAt.addingTimeInterval(25 * 3_600)) else {
            return XCTFail("the contact at 20 h keeps the case in the 24 h window")
        }
        XCTAssertEqual(id, s.id)
    }

    func test_theSameCallerAfterCloseWithinTheRepeatWindowReopensTheCase() throws {
        let closed = try scenario(to: .closed)
        let decision = IntakeMatcher.decide(contact(), cases: [closed.order], rules: [byPhone], at: closed.now.addingTimeInterval(86_400))
        guard case .reopen(let id, let match) = decision else { return XCTFail("\(decision)") }
        XCTAssertEqual(id, closed.id)
        XCTAssertTrue(match.afterClose)
        // Beyond the workflow's 30-day repeat window: a new case.
        let late = IntakeMatcher.decide(contact(), cases: [closed.order], rules: [IntakeMatchRule(id: "long", match: .phone, windowHours: 24 * 90)],
                                        at: closed.now.addingTimeInterval(31 * 86_400))
        XCTAssertEqual(late, .openNew)
    }

    func test_anOpenCaseWinsOverAClosedOneOfTheSameCaller() throws {
        let closed = try scenario("old", serial: 1, to: .closed)
        let open = try scenario("new", serial: 2, to: .dispatched, at: closed.now.addingTimeInterval(600))
        guard case .repeatContact(let id, _) = IntakeMatcher.decide(contact(), cases: [closed.order, open.order], rules: [byPhone],
                                                                    at: open.now.addingTimeInterval(600)) else { return XCTFail() }
        XCTAssertEqual(id, open.id)
    }

    // MARK: address

    func test_anotherCallerAtTheSameAddressIsMergedUnderTheOpenLead() throws {
        let lead = try scenario(category: "noise-nuisance", to: .dispatched)
        let at = lead.now.addingTimeInterval(3_600)
        // Spaces, punctuation and full-width digits do not matter.
        let decision = IntakeMatcher.decide(contact(phone: "13900000001", address: "鞍山市铁东区胜利路８８号", category: "noise-nuisance"),
                                            cases: [lead.order], rules: [byPhone, noiseByAddress], at: at)
        XCTAssertEqual(decision, .merge(lead: lead.id, match: IntakeMatch(field: .address, rule: "noise-by-address",
                                                                          caseStatus: .dispatched, latestContactAt: lead.order.createdAt)))
        // The lead's own caller at that address is a repeat contact (the phone rule, or the address rule alone).
        guard case .repeatContact = IntakeMatcher.decide(contact(category: "noise-nuisance"), cases: [lead.order], rules: [noiseByAddress], at: at)
        else { return XCTFail("the lead's caller") }
        // Another address, another category, or a rule for other categories: a new case.
        XCTAssertEqual(IntakeMatcher.decide(contact(phone: "13900000001", address: "铁西区兴盛路 1 号", category: "noise-nuisance"),
                                            cases: [lead.order], rules: [noiseByAddress], at: at), .openNew)
        XCTAssertEqual(IntakeMatcher.decide(contact(phone: "13900000001", category: "road-damage"), cases: [lead.order],
                                            rules: [noiseByAddress], at: at), .openNew)
    }

    func test_aMergedCallerCallingAgainIsARepeatContactOnTheirOwnCase() throws {
        let lead = try scenario(category: "noise-nuisance", to: .dispatched)
        var child = try Scenario("child", serial: 2, at: lead.now, category: "noise-nuisance",
                                 contact: CitizenContact(name: "李四", phone: "13900000001"))
        try child.accept()
        try child.step(.mergedInto(parent: lead.id, parentNumber: lead.order.number))
        let decision = IntakeMatcher.decide(contact(phone: "13900000001", category: "noise-nuisance"), cases: [lead.order, child.order],
                                            rules: [noiseByAddress], at: child.now.addingTimeInterval(60))
        guard case .repeatContact(let id, let match) = decision else { return XCTFail("\(decision)") }
        XCTAssertEqual(id, child.id)
        XCTAssertEqual(match.field, .address)
        // A merged case is never a lead; a closed case neither.
        let closed = try scenario("closed", serial: 3, category: "noise-nuisance", to: .closed)
        XCTAssertEqual(IntakeMatcher.decide(contact(phone: "13700000000", category: "noise-nuisance"), cases: [child.order, closed.order],
                                            rules: [noiseByAddress], at: closed.now), .openNew)
    }

    func test_callersMergedUnderALeadKeepItsWindowOpen() throws {
        let lead = try scenario(category: "noise-nuisance", to: .dispatched)
        var child = try Scenario("child", serial: 2, at: lead.order.createdAt.addingTimeInterval(60 * 3_600), category: "noise-nuisance",
                                 contact: CitizenContact(name: "李四", phone: "13900000001"))
        try child.accept()
        try child.step(.mergedInto(parent: lead.id, parentNumber: lead.order.number))
        let at = lead.order.createdAt.addingTimeInterval(100 * 3_600)  // 100 h after the lead, 40 h after the child
        XCTAssertEqual(IntakeMatcher.decide(contact(phone: "13700000000", category: "noise-nuisance"), cases: [lead.order],
                                            rules: [noiseByAddress], at: at), .openNew)
        guard case .merge(let id, _) = IntakeMatcher.decide(contact(phone: "13700000000", category: "noise-nuisance"),
                                                            cases: [lead.order, child.order], rules: [noiseByAddress], at: at)
        else { return XCTFail() }
        XCTAssertEqual(id, lead.id)
    }

    // MARK: the agent's choice

    func test_theAgentLinksTheSameCallerAndMergesAnotherOne() throws {
        let open = try scenario(to: .inProgress)
        let at = open.now.addingTimeInterval(60)
        XCTAssertEqual(try IntakeMatcher.decide(contact(category: nil), about: open.order, lead: nil, at: at),
                       .repeatContact(case: open.id, match: IntakeMatch(field: .explicit, rule: nil, caseStatus: .inProgress,
                                                                        latestContactAt: open.order.createdAt)))
        guard case .repeatContact = try IntakeMatcher.decide(contact(phone: ""), about: open.order, lead: nil, at: at) else {
            return XCTFail("no phone: nobody else to call back")
        }
        guard case .merge(let lead, _) = try IntakeMatcher.decide(contact(phone: "13900000001"), about: open.order, lead: nil, at: at) else {
            return XCTFail()
        }
        XCTAssertEqual(lead, open.id)
        let closed = try scenario("closed", serial: 2, to: .closed)
        guard case .reopen = try IntakeMatcher.decide(contact(), about: closed.order, lead: nil, at: closed.now) else { return XCTFail() }
        XCTAssertThrowsError(try IntakeMatcher.decide(contact(phone: "13900000001"), about: closed.order, lead: nil, at: closed.now))
        XCTAssertThrowsError(try IntakeMatcher.decide(contact(), about: closed.order, lead: nil, at: closed.now.addingTimeInterval(31 * 86_400)))
    }

    // MARK: merged callers, callbacks, KPIs

    func test_eachMergedCallerGetsACallbackAndClosesWithTheirOwnEvaluation() throws {
        let unhappy = CallbackOutcome.reached(evaluation: CallbackEvaluation(resolved: false, satisfaction: .unsatisfied))
        XCTAssertEqual(CallbackPlan(outcome: unhappy, mergedChild: false).bodies.last?.name, "reopened")
        XCTAssertEqual(CallbackPlan(outcome: unhappy, mergedChild: true).bodies.map(\.name), ["callbackAttempted", "closed"])

        var lead = try scenario(category: "noise-nuisance", to: .replied)
        var child = try Scenario("child", serial: 2, at: lead.now, category: "noise-nuisance", contact: CitizenContact(name: "李四", phone: "13900000001"))
        try child.accept()
        try child.step(.mergedInto(parent: lead.id, parentNumber: lead.order.number,
                                   match: IntakeMatch(field: .address, rule: "noise-by-address", caseStatus: .replied, latestContactAt: nil)))
        try lead.step(.replyReviewed(accepted: true, note: "ok"))
        try child.step(.parentReplyAccepted(parent: lead.id, summary: "已整改"))
        XCTAssertEqual(child.status, .pendingCallback)
        for body in CallbackPlan(outcome: unhappy, mergedChild: true).bodies { try child.step(body) }
        XCTAssertEqual(child.status, .closed)
        try lead.callback(.satisfied)
        try lead.step(.closed(reason: .callbackCompleted))
        let k = KPIReport.compute(orders: [lead.order, child.order], asOf: lead.now).overall
        XCTAssertEqual(k.merged, 1)
        XCTAssertEqual(k.callbacksReached, 2, "each caller's evaluation counts once")
        XCTAssertEqual(k.satisfaction, Rate(1, 2))
        XCTAssertEqual(child.order.intakeLink(for: IntakeKey(channel: "8890", externalID: "call-child"))?.kind, .merged)
    }

    /// A merged caller whose own case closed calls again: their case has no handling round to reopen (it would be
    /// stuck, breaker's finding), so the contact goes to the lead — linked while it is open, reopening it once closed.
    func test_aMergedCallerCallingAfterTheirCaseClosedReachesTheLead() throws {
        let unhappy = CallbackOutcome.reached(evaluation: CallbackEvaluation(resolved: false, satisfaction: .unsatisfied))
        var lead = try scenario(category: "noise-nuisance", to: .replied)
        var child = try Scenario("child", serial: 2, at: lead.now, category: "noise-nuisance", contact: CitizenContact(name: "李四", phone: "13900000001"))
        try child.accept()
        try child.step(.mergedInto(parent: lead.id, parentNumber: lead.order.number,
                                   match: IntakeMatch(field: .address, rule: "noise-by-address", caseStatus: .replied, latestContactAt: nil)))
        try lead.step(.replyReviewed(accepted: true, note: "ok"))
        try child.step(.parentReplyAccepted(parent: lead.id, summary: "已整改"))
        for body in CallbackPlan(outcome: unhappy, mergedChild: true).bodies { try child.step(body) }
        XCTAssertEqual(child.status, .closed)
        let again = contact(phone: "13900000001", category: "noise-nuisance", id: "call-again")
        // The lead is still open (pending its own callback): a repeat contact on the lead.
        let whileOpen = IntakeMatcher.decide(again, cases: [lead.order, child.order], rules: [byPhone], at: child.now.addingTimeInterval(60))
        guard case .repeatContact(let id, _) = whileOpen else { return XCTFail("\(whileOpen)") }
        XCTAssertEqual(id, lead.id)
        // Through the agent (`--about` the child's case): the same.
        let about = try IntakeMatcher.decide(again, about: child.order, lead: lead.order, at: child.now.addingTimeInterval(60))
        guard case .repeatContact(let aboutID, _) = about else { return XCTFail("\(about)") }
        XCTAssertEqual(aboutID, lead.id)
        // The lead closes too: the caller's next contact reopens the lead, which is dispatched again.
        try lead.callback(.satisfied)
        try lead.step(.closed(reason: .callbackCompleted))
        let afterClose = IntakeMatcher.decide(again, cases: [lead.order, child.order], rules: [byPhone], at: lead.now.addingTimeInterval(60))
        guard case .reopen(let reopened, _) = afterClose else { return XCTFail("\(afterClose)") }
        XCTAssertEqual(reopened, lead.id)
    }

    func test_theRepeatContactRateIsSplitWhileOpenAndAfterClose() throws {
        var open = try scenario("a", serial: 1, to: .inProgress)
        let match = IntakeMatch(field: .phone, rule: "repeat-by-phone", caseStatus: .inProgress, latestContactAt: nil)
        try open.step(.repeatContactLinked(channel: phone8890, externalID: "r-1", note: "催问", match: match))
        try open.step(.repeatContactLinked(channel: phone8890, externalID: "r-2", note: "再催", match: match))
        var reopened = try scenario("b", serial: 2, to: .closed)
        let after = IntakeMatch(field: .phone, rule: "repeat-by-phone", caseStatus: .closed, latestContactAt: nil)
        try reopened.step(.reopened(reason: .citizenRecontact, note: "contact after close"))
        try reopened.step(.repeatContactLinked(channel: phone8890, externalID: "r-3", note: "又坏了", match: after))
        let plain = try scenario("c", serial: 3, to: .inProgress)
        let k = KPIReport.compute(orders: [open.order, reopened.order, plain.order], asOf: plain.now).overall
        XCTAssertEqual(k.repeatContactsWhileOpen, 2)
        XCTAssertEqual(k.repeatContactsAfterClose, 1)
        XCTAssertEqual(k.repeatContactWhileOpen, Rate(1, 3))
        XCTAssertEqual(k.repeatContactAfterClose, Rate(1, 3))
        XCTAssertEqual(k.repeatContact, Rate(2, 3))
        XCTAssertEqual(reopened.order.intakeLink(for: IntakeKey(channel: "8890", externalID: "r-3"))?.kind, .reopened)
        XCTAssertEqual(open.order.intakeLink(for: IntakeKey(channel: "8890", externalID: "r-2"))?.kind, .repeatContact)
        XCTAssertNil(open.order.intakeLink(for: IntakeKey(channel: "8890", externalID: "call-a")), "its own intake: a new case")
    }

    // MARK: reminders before the deadline

    func test_remindersFireAtTheConfiguredPointsBeforeTheDeadlineOnce() throws {
        let settings = WorkflowSettings(remindersBefore: [.naturalHours(1), .workingDays(1)])
        var s = try Scenario(settings: settings)  // P2 complaint dispatched Mon 2026-03-02
        try s.drive(to: .inProgress)
        let lead = try XCTUnwrap(s.order.leadAssignment)
        let due = lead.due.handle  // end of the 15th working day
        let dayBefore = Deadline.before(due: due, limit: .workingDays(1), calendar: settings.calendar)
        XCTAssertEqual(dayBefore, due.addingTimeInterval(-86_400), "the start of the last working day")
        XCTAssertEqual(s.order.remindersDue(at: dayBefore.addingTimeInterval(-60), settings: settings), [])
        let first = s.order.remindersDue(at: dayBefore, settings: settings)
        XCTAssertEqual(first.count, 1)
        guard case .reminderSent(_, let note)? = first.first else { return XCTFail() }
        XCTAssertTrue(note.hasPrefix("automatic reminder: reply 1 working day before ("), note)
        try s.step(first[0], by: supervisorTimer, at: dayBefore)
        XCTAssertEqual(s.order.remindersDue(at: dayBefore.addingTimeInterval(3_600), settings: settings), [], "once")
        let hour = s.order.remindersDue(at: due.addingTimeInterval(-3_600), settings: settings)
        guard case .reminderSent(_, let second)? = hour.first else { return XCTFail() }
        XCTAssertTrue(second.hasPrefix("automatic reminder: reply 1 h before ("), second)
        try s.step(hour[0], by: supervisorTimer, at: due.addingTimeInterval(-3_600))
        XCTAssertEqual(s.order.remindersDue(at: due, settings: settings), [])
        // Without the setting: half the window, as before.
        XCTAssertEqual(try scenario(to: .inProgress).order.remindersDue(at: lead.sentAt.addingTimeInterval(60)), [])
    }

    func test_aLateTimerSendsOnlyTheLatestPassedReminderAndPointsBeforeTheDispatchAreSkipped() throws {
        let settings = WorkflowSettings(remindersBefore: [.workingDays(1), .naturalHours(1), .naturalHours(24 * 100)])
        var s = try Scenario(settings: settings)
        try s.drive(to: .inProgress)
        let due = try XCTUnwrap(s.order.leadAssignment).due.handle
        let late = s.order.remindersDue(at: due.addingTimeInterval(-60), settings: settings)
        XCTAssertEqual(late.count, 1)
        guard case .reminderSent(_, let note)? = late.first else { return XCTFail() }
        XCTAssertTrue(note.contains("1 h before"), note)
        try s.step(late[0], by: supervisorTimer, at: due.addingTimeInterval(-60))
        XCTAssertEqual(s.order.remindersDue(at: due.addingTimeInterval(-30), settings: settings), [], "earlier points are not planned again")
        XCTAssertEqual(Deadline.before(due: shanghai(2026, 3, 9, 15), limit: .workingDays(1), calendar: .weekendsOnly),
                       shanghai(2026, 3, 6, 15), "Monday 15:00 → Friday 15:00")
    }

    // MARK: shift handover

    func test_theHandoverListsP1OverdueAndUnsignedWorkAndMarksWhatIsNew() throws {
        var p1 = try Scenario("p1", serial: 1, urgency: .p1, category: "water-outage")
        try p1.drive(to: .dispatched)
        var late = try Scenario("late", serial: 2, at: shanghai(2026, 2, 2, 9))
        try late.drive(to: .inProgress)
        let quiet = try scenario("quiet", serial: 3, to: .inProgress, at: shanghai(2026, 3, 2, 9))
        let closed = try scenario("closed", serial: 4, to: .closed)
        let now = shanghai(2026, 3, 2, 20)
        let shiftStart = shanghai(2026, 3, 2, 8)
        let lines = Handover.ordered([p1, late, quiet, closed].compactMap { $0.order.handoverEntry(at: now, since: shiftStart, office: "210302") })
        XCTAssertEqual(lines.map(\.entry.number.serial), [1, 2])
        XCTAssertEqual(lines[0].reasons, [.p1, .dutyRoom, .overdue, .unsigned])
        XCTAssertTrue(lines[0].new)
        XCTAssertEqual(lines[1].reasons, [.overdue])
        XCTAssertFalse(lines[1].new, "overdue since February")
        XCTAssertFalse(try XCTUnwrap(p1.order.handoverEntry(at: now, since: nil, office: "210302")).new)
    }
}
