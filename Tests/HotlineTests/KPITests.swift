import XCTest
@testable import Hotline
@testable import HotlineDomain

/// KPI formulas on a small hand-computed log (weekends-only calendar, Asia/Shanghai, March 2026).
///
/// | case | story                                                                                       |
/// |------|---------------------------------------------------------------------------------------------|
/// | C1   | complaint, Tiedong. accepted Mon 2 09:00, dispatched 10:00, signed 14:00, replied Thu 5 10:00, satisfied+resolved, closed Thu 5 15:00 |
/// | C2   | consultation, Tiedong. accepted Mon 2 10:00, dispatched 12:00, signed Wed 4 09:00 (LATE: due end of Tue 3), replied Mon 9 12:00 (LATE: due end of Thu 5), basically satisfied, unresolved, closed Tue 10 12:00 |
/// | C3   | complaint, Tiexi, web. accepted Tue 3 09:00, dispatched 10:00, signed 11:00, replied Fri 6 10:00, unsatisfied → reopened, re-dispatched Mon 9 10:00, signed 11:00, replied Wed 11 10:00, satisfied, closed Wed 11 15:00 |
/// | C4   | help, Tiedong. accepted Wed 4 09:00, dispatched 10:00 to housing, signed 11:00, returned 12:00, approved; re-dispatched 14:00 to city management, signed 15:00; extension asked Tue 10, denied; no reply by end of Fri 13 (7 working days) |
/// | C5   | consultation, Tiexi. answered directly at intake |
/// | C6   | P0 accepted, transferred to 119 |
/// | C7   | complaint, Tiedong. accepted Mon 9 09:00, dispatched 10:00, signed 10:30, repeat contact Tue 10, replied Thu 12 10:00, 3 unreachable callbacks, closed unreachable Mon 16 12:00 |
/// | C8   | complaint, Tiedong. dispatched Tue 10 10:00, delivery failed (never delivered) |
/// | C9   | draft ruled out of scope (never accepted) |
/// | C10  | a broken log (sequence gap) — rejected, not counted |
final class KPITests: XCTestCase {
    private let asOf = shanghai(2026, 3, 31)

    private func handling(_ s: inout Scenario, dispatchAt: Date, lead: String, group: String, signAt: Date) throws {
        s.lead = lead
        try s.step(.dispatched(order: dispatchOrder(lead: lead, profile: standardProfile(s.kind, s.urgency), group: group,
                                                    jurisdiction: s.jurisdiction)), at: dispatchAt)
        try s.step(.assignmentDelivered(assignment: s.leadID), by: supervisorTimer, at: dispatchAt)
        try s.step(.assignmentSigned(assignment: s.leadID), by: s.unit(s.leadID), at: signAt)
    }

    private func open(_ name: String, _ n: Int, at: Date, kind: CaseKind = .complaint, urgency: Urgency = .p2,
                      jurisdiction: String = "210302", channel: Channel = phone8890,
                      category: String = "road-damage") throws -> Scenario {
        var s = try Scenario(name, serial: n, at: at, channel: channel, kind: kind, urgency: urgency, category: category)
        s.jurisdiction = jurisdiction
        try s.step(.accepted(classification: s.classification), at: at)
        return s
    }

    private func closeSatisfied(_ s: inout Scenario, repliedAt: Date, closedAt: Date, _ satisfaction: Satisfaction,
                                resolved: Bool) throws {
        try s.step(.unitReplied(assignment: s.leadID, text: "已办结"), by: s.unit(s.leadID), at: repliedAt)
        try s.step(.replyReviewed(accepted: true, note: ""), at: repliedAt.addingTimeInterval(3_600))
        try s.step(.callbackAttempted(outcome: .reached(evaluation: CallbackEvaluation(resolved: resolved,
                                                                                        satisfaction: satisfaction))),
                   at: closedAt)
        try s.step(.closed(reason: .callbackCompleted), at: closedAt)
    }

    private func logs() throws -> [[CaseEvent]] {
        var c1 = try open("C1", 1, at: shanghai(2026, 3, 2, 9))
        try c1.step(.queuedForDispatch(group: "G1"), at: shanghai(2026, 3, 2, 9))
        try handling(&c1, dispatchAt: shanghai(2026, 3, 2, 10), lead: "210302-CM", group: "G1", signAt: shanghai(2026, 3, 2, 14))
        try closeSatisfied(&c1, repliedAt: shanghai(2026, 3, 5, 10), closedAt: shanghai(2026, 3, 5, 15), .satisfied, resolved: true)

        var c2 = try open("C2", 2, at: shanghai(2026, 3, 2, 10), kind: .consultation)
        try c2.step(.queuedForDispatch(group: "G1"), at: shanghai(2026, 3, 2, 10))
        try handling(&c2, dispatchAt: shanghai(2026, 3, 2, 12), lead: "210302-CM", group: "G1", signAt: shanghai(2026, 3, 4, 9))
        try closeSatisfied(&c2, repliedAt: shanghai(2026, 3, 9, 12), closedAt: shanghai(2026, 3, 10, 12), .basicallySatisfied,
                           resolved: false)

        var c3 = try open("C3", 3, at: shanghai(2026, 3, 3, 9), jurisdiction: "210303", channel: webChannel)
        try c3.step(.queuedForDispatch(group: "G2"), at: shanghai(2026, 3, 3, 9))
        try handling(&c3, dispatchAt: shanghai(2026, 3, 3, 10), lead: "210303-CM", group: "G2", signAt: shanghai(2026, 3, 3, 11))
        try c3.step(.unitReplied(assignment: c3.leadID, text: "已修复"), by: c3.unit(c3.leadID), at: shanghai(2026, 3, 6, 10))
        try c3.step(.replyReviewed(accepted: true, note: ""), at: shanghai(2026, 3, 6, 11))
        try c3.step(.callbackAttempted(outcome: .reached(evaluation: CallbackEvaluation(resolved: false, satisfaction: .unsatisfied))),
                    at: shanghai(2026, 3, 6, 15))
        try c3.step(.reopened(reason: .citizenUnsatisfied, note: "未修好"), at: shanghai(2026, 3, 6, 15))
        try c3.step(.queuedForDispatch(group: "G2"), at: shanghai(2026, 3, 6, 15))
        try handling(&c3, dispatchAt: shanghai(2026, 3, 9, 10), lead: "210303-CM", group: "G2", signAt: shanghai(2026, 3, 9, 11))
        try closeSatisfied(&c3, repliedAt: shanghai(2026, 3, 11, 10), closedAt: shanghai(2026, 3, 11, 15), .satisfied, resolved: true)

        var c4 = try open("C4", 4, at: shanghai(2026, 3, 4, 9), kind: .help, category: "property-management")
        try c4.step(.queuedForDispatch(group: "G1"), at: shanghai(2026, 3, 4, 9))
        try handling(&c4, dispatchAt: shanghai(2026, 3, 4, 10), lead: "210302-HOUSING", group: "G1", signAt: shanghai(2026, 3, 4, 11))
        try c4.step(.returnRequested(assignment: c4.leadID, reason: "非本单位"), by: c4.unit(c4.leadID), at: shanghai(2026, 3, 4, 12))
        try c4.step(.returnDecided(assignment: c4.leadID, approved: true, note: ""), at: shanghai(2026, 3, 4, 13))
        try handling(&c4, dispatchAt: shanghai(2026, 3, 4, 14), lead: "210302-CM", group: "G1", signAt: shanghai(2026, 3, 4, 15))
        try c4.step(.extensionRequested(assignment: c4.leadID, extra: .workingDays(5), reason: "协调中"), by: c4.unit(c4.leadID),
                    at: shanghai(2026, 3, 10, 9))
        try c4.step(.extensionDecided(request: ExtensionID(1), approved: false, note: "不予延期"), at: shanghai(2026, 3, 10, 10))
        XCTAssertEqual(c4.order.leadAssignment?.due.handle, shanghai(2026, 3, 14), "7 working days after Wed 4: end of Fri 13")

        var c5 = try open("C5", 5, at: shanghai(2026, 3, 5, 9), kind: .consultation, jurisdiction: "210303",
                          category: "epidemic-consultation")
        try c5.step(.answeredDirect(citation: KnowledgeCitation(articleID: "KB-EPI-0042", version: 6), answer: "…"),
                    at: shanghai(2026, 3, 5, 9, 5))

        var c6 = try open("C6", 6, at: shanghai(2026, 3, 6, 9), kind: .help, urgency: .p0, category: "gas-supply")
        try c6.step(.transferredToEmergency(service: .fire, note: ""), at: shanghai(2026, 3, 6, 9, 1))

        var c7 = try open("C7", 7, at: shanghai(2026, 3, 9, 9))
        try c7.step(.queuedForDispatch(group: "G1"), at: shanghai(2026, 3, 9, 9))
        try handling(&c7, dispatchAt: shanghai(2026, 3, 9, 10), lead: "210302-CM", group: "G1", signAt: shanghai(2026, 3, 9, 10, 30))
        try c7.step(.repeatContactLinked(channel: webChannel, externalID: "w-1", note: "催问进度"), by: .citizen,
                    at: shanghai(2026, 3, 10, 9))
        try c7.step(.unitReplied(assignment: c7.leadID, text: "已修复"), by: c7.unit(c7.leadID), at: shanghai(2026, 3, 12, 10))
        try c7.step(.replyReviewed(accepted: true, note: ""), at: shanghai(2026, 3, 12, 11))
        for day in [12, 13, 16] {
            try c7.step(.callbackAttempted(outcome: .unreachable(note: "无人接听")), at: shanghai(2026, 3, day, 12))
        }
        try c7.step(.closed(reason: .unreachable), at: shanghai(2026, 3, 16, 12))

        var c8 = try open("C8", 8, at: shanghai(2026, 3, 10, 9))
        try c8.step(.queuedForDispatch(group: "G1"), at: shanghai(2026, 3, 10, 9))
        try c8.step(.dispatched(order: dispatchOrder(lead: "210302-CM", profile: standardProfile(.complaint, .p2))),
                    at: shanghai(2026, 3, 10, 10))
        try c8.step(.deliveryFailed(assignment: c8.leadID, reason: "gateway down"), by: supervisorTimer, at: shanghai(2026, 3, 10, 10))

        var c9 = try Scenario("C9", serial: 9, at: shanghai(2026, 3, 11, 9))
        try c9.step(.ruledOutOfScope(ruling: OutOfScopeRuling(reasonCode: "court-proceedings", note: "")))

        var c10 = try Scenario("C10", serial: 10, at: shanghai(2026, 3, 12, 9))
        try c10.accept()
        try c10.queue()
        var broken = c10.log.events
        broken.remove(at: 1)

        return [c1, c2, c3, c4, c5, c6, c7, c8, c9].map(\.log.events) + [broken]
    }

    func test_kpiFormulasOnAHandComputedLog() throws {
        let report = KPIReport.compute(logs: try logs(), asOf: asOf)
        let k = report.overall

        XCTAssertEqual(report.rejectedLogs, [RejectedLog(caseID: CaseID("C10"), sequence: 3,
                                                         reason: "event sequence 3 is not the next one (expected 2)")])
        XCTAssertEqual(k.cases, 9)
        // valid = accepted, not emergency / out of scope: C1 C2 C3 C4 C5 C7 C8
        XCTAssertEqual(k.validRequests, 7)
        // dispatched = lead delivered: C1 C2 C3 C4 C7 (C8's delivery failed)
        XCTAssertEqual(k.dispatched, 5)
        // completion = closed among dispatched: C1 C2 C3 C7 → 4/5
        XCTAssertEqual(k.completion, Rate(4, 5))
        XCTAssertEqual(k.completion.percent, 80.0)
        // replied = dispatched with a lead reply: C1 C2 C3 C7 → 4/5
        XCTAssertEqual(k.replyRate, Rate(4, 5))
        // judged lead assignments: C1, C2 (late), C3 ×2, C4 round 2 (unreplied past due), C7; C4 round 1 was returned
        XCTAssertEqual(k.onTimeReply, Rate(4, 6))
        XCTAssertEqual(k.onTimeReply.percent, 66.67)
        XCTAssertEqual(k.overdueReplies, 2)
        // signs: C2 signed late; the other five on time
        XCTAssertEqual(k.onTimeSign, Rate(5, 6))
        XCTAssertEqual(k.onTimeSign.percent, 83.33)
        XCTAssertEqual(k.overdueSigns, 1)
        // reached callbacks: C1 satisfied, C2 basically, C3 unsatisfied, C3 satisfied; C7's 3 unreachable excluded
        XCTAssertEqual(k.satisfaction, Rate(3, 4))
        XCTAssertEqual(k.callbacksReached, 4)
        XCTAssertEqual(k.callbacksUnreachable, 3)
        // resolved: C1, C3 (second time) → 2/4
        XCTAssertEqual(k.resolution, Rate(2, 4))
        // direct answers: C5 → 1/7
        XCTAssertEqual(k.directAnswer, Rate(1, 7))
        XCTAssertEqual(k.directAnswer.percent, 14.29)
        // due a callback: C1 C2 C3 C7; all attempted; reached C1 C2 C3
        XCTAssertEqual(k.callback, Rate(4, 4))
        XCTAssertEqual(k.effectiveCallback, Rate(3, 4))
        // repeat contacts: C7 → 1/7
        XCTAssertEqual(k.repeatContact, Rate(1, 7))
        // returns: C4 → 1/5; reopened: C3 → 1/5
        XCTAssertEqual(k.returnRate, Rate(1, 5))
        XCTAssertEqual(k.reopenRate, Rate(1, 5))
        // dispatch → reply: C1 3, C2 7, C3 8 (first dispatch → latest reply), C7 3 → avg 5.25, median (3+7)/2
        XCTAssertEqual(k.dispatchToReplyDays.count, 4)
        XCTAssertEqual(k.dispatchToReplyDays.average, 5.25)
        XCTAssertEqual(k.dispatchToReplyDays.median, 5.0)
        // intake → close: C1 3.25, C2 8.0833, C3 8.25, C7 7.125 → avg 6.677 → 6.68; median (7.125 + 8.0833)/2 → 7.60
        XCTAssertEqual(k.intakeToCloseDays.average, 6.68)
        XCTAssertEqual(k.intakeToCloseDays.median, 7.6)
        // dispatch latency (hotline clock): 1, 2, 1, 1, 1 hours → avg 1.2, median 1
        XCTAssertEqual(k.dispatchLatencyHours.average, 1.2)
        XCTAssertEqual(k.dispatchLatencyHours.median, 1.0)
        // counts
        XCTAssertEqual(k.closed, 4)
        XCTAssertEqual(k.closedUnreachable, 1)
        XCTAssertEqual(k.answeredDirect, 1)
        XCTAssertEqual(k.transferredEmergency, 1)
        XCTAssertEqual(k.outOfScope, 1)
        XCTAssertEqual(k.leadReturns, 1)
        XCTAssertEqual(k.reopenings, 1)
        XCTAssertEqual(k.deliveryFailures, 1)
        XCTAssertEqual(k.extensionsRequested, 1)
        XCTAssertEqual(k.extensionsDenied, 1)
        XCTAssertEqual(k.extensionsApproved, 0)
    }

    func test_kpisAreGroupedByEveryDimension() throws {
        let report = KPIReport.compute(logs: try logs(), asOf: asOf)
        XCTAssertEqual(report.breakdowns.map(\.dimension), KPIDimension.allCases)

        let byJurisdiction = try XCTUnwrap(report.breakdown(.jurisdiction))
        XCTAssertEqual(byJurisdiction.rows.map(\.key), ["(unclassified)", "210302", "210303"])
        let tiexi = try XCTUnwrap(byJurisdiction.row("210303")?.kpis)
        XCTAssertEqual(tiexi.cases, 2)  // C3, C5
        XCTAssertEqual(tiexi.completion, Rate(1, 1))
        XCTAssertEqual(tiexi.directAnswer, Rate(1, 2))

        let byDepartment = try XCTUnwrap(report.breakdown(.department))
        let cm = try XCTUnwrap(byDepartment.row("210302-CM")?.kpis)
        XCTAssertEqual(cm.cases, 5)  // C1 C2 C4 (latest lead) C7 C8
        XCTAssertEqual(cm.dispatched, 4)
        XCTAssertEqual(cm.completion, Rate(3, 4))
        XCTAssertEqual(byDepartment.row("(not dispatched)")?.kpis.cases, 3)  // C5 C6 C9

        XCTAssertEqual(report.breakdown(.channel)?.row("web-minxin")?.kpis.cases, 1)
        XCTAssertEqual(report.breakdown(.channel)?.row("8890")?.kpis.cases, 8)
        XCTAssertEqual(report.breakdown(.dispatchGroup)?.row("G2")?.kpis.satisfaction, Rate(1, 2))
        XCTAssertEqual(report.breakdown(.period)?.rows.map(\.key), ["2026-03"])
        XCTAssertEqual(report.breakdown(.category)?.row("property-management")?.kpis.returnRate, Rate(1, 1))
    }

    func test_reportRendersAsTextAndJSON() throws {
        let report = KPIReport.compute(logs: try logs(), asOf: asOf)
        let text = report.textTable()
        if ProcessInfo.processInfo.environment["PRINT_KPI"] != nil { print(text) }
        XCTAssertTrue(text.contains("completion rate"), text)
        XCTAssertTrue(text.contains("80.00%"), text)
        XCTAssertTrue(text.contains("4/5"), text)
        XCTAssertTrue(text.contains("by department"), text)
        XCTAssertTrue(text.contains("C10"), "rejected logs are listed")
        XCTAssertFalse(text.split(separator: "\n").contains { $0.hasSuffix(" ") }, "no trailing spaces")

        let data = try report.jsonData()
        XCTAssertEqual(try KPIReport.decode(from: data), report)
        let json = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(json.contains(#""numerator" : 4"#), json.prefix(400).description)
    }

    func test_rateIsNilWhenTheDenominatorIsZero() throws {
        XCTAssertNil(Rate(0, 0).percent)
        XCTAssertEqual(Rate(0, 0).description, "— (0/0)")
        XCTAssertEqual(Rate(2, 3).percent, 66.67)
        XCTAssertEqual(Rate(2, 3).description, "66.67% (2/3)")
        let json = String(decoding: try JSONEncoder().encode(Rate(0, 0)), as: UTF8.self)
        XCTAssertTrue(json.contains(#""percent":null"#), json)
        XCTAssertEqual(TextTable.displayWidth("铁东区"), 6)
    }
}
