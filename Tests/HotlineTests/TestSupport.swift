import Foundation
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// An instant in Asia/Shanghai (UTC+8, no DST): `shanghai(2026, 3, 6, 15)` = 2026-03-06 15:00 local.
func shanghai(_ y: Int, _ m: Int, _ d: Int, _ h: Int = 0, _ min: Int = 0) -> Date {
    let day = LocalDate(year: y, month: m, day: d) ?? LocalDate(daysSinceEpoch: 0)
    return Date(timeIntervalSince1970: Double(day.daysSinceEpoch) * 86_400 - 8 * 3_600 + Double(h * 3_600 + min * 60))
}

let hotlineStaff = EventAuthor.hotline(staff: "CT-07")
let supervisorTimer = EventAuthor.system(component: "supervisor")
let phone8890 = Channel(code: "8890", name: "8890 热线电话")
let webChannel = Channel(code: "web-minxin", name: "民心网 Minxin website")

/// The standard profile for a kind × urgency (BRIEF defaults).
func standardProfile(_ kind: CaseKind, _ urgency: Urgency) throws -> SLAProfile {
    try SLAPolicy.standard.profile(kind: kind, urgency: urgency)
}

/// A dispatch order built by hand (routing itself is tested against the catalogue).
func dispatchOrder(lead: String, co: [String] = [], profile: SLAProfile, group: String = "G1",
                   category: String = "road-damage", jurisdiction: String = "210302",
                   usedFallback: Bool = false) -> DispatchOrder {
    DispatchOrder(
        decision: RoutingDecision(category: category, jurisdiction: jurisdiction, lead: lead, coUnits: co,
                                  dispatchGroup: group, slaPolicy: "standard",
                                  ruleID: usedFallback ? nil : "R-\(category)-\(jurisdiction)",
                                  catalogueVersion: "test", usedFallback: usedFallback),
        profile: profile)
}

/// Drives one case through its life, one event at a time, advancing a virtual "now".
struct Scenario {
    var log: CaseLog
    var now: Date
    var kind: CaseKind
    var urgency: Urgency
    var category: String
    var lead = "210302-CM"
    var jurisdiction = "210302"
    var co: [String] = []

    var order: WorkOrder { log.order }
    var status: CaseStatus { log.order.status }
    var id: CaseID { log.order.id }

    init(_ id: String = "case-1", serial: Int = 1, at start: Date = shanghai(2026, 3, 2, 9), channel: Channel = phone8890,
         kind: CaseKind = .complaint, urgency: Urgency = .p2, category: String = "road-damage",
         contact: CitizenContact = CitizenContact(name: "张三丰", phone: "13812345678"),
         settings: WorkflowSettings = .default) throws {
        log = try CaseLog(id: CaseID(id), number: CaseNumber(year: 2026, serial: serial),
                          intake: IntakeRecord(channel: channel, externalID: "call-\(id)", contact: contact,
                                               description: "铁东区胜利路路面塌陷，车辆无法通行",
                                               location: Location(address: "鞍山市铁东区胜利路 88 号")),
                          at: start, by: hotlineStaff, settings: settings)
        now = start
        self.kind = kind
        self.urgency = urgency
        self.category = category
    }

    /// Records `body` `after` seconds from the previous step.
    @discardableResult
    mutating func step(_ body: CaseEventBody, by author: EventAuthor = hotlineStaff, after seconds: TimeInterval = 60)
        throws(CaseRuleViolation) -> CaseEvent
    {
        now = now.addingTimeInterval(seconds)
        return try log.record(body, at: now, by: author)
    }

    /// Records `body` at an absolute instant.
    @discardableResult
    mutating func step(_ body: CaseEventBody, by author: EventAuthor = hotlineStaff, at instant: Date)
        throws(CaseRuleViolation) -> CaseEvent
    {
        now = instant
        return try log.record(body, at: now, by: author)
    }

    var classification: Classification {
        Classification(kind: kind, category: category, sector: "city-environment", urgency: urgency,
                       jurisdiction: jurisdiction, livelihood: ["water-outage", "heating-failure"].contains(category))
    }

    mutating func accept() throws { try step(.accepted(classification: classification)) }
    mutating func queue() throws { try step(.queuedForDispatch(group: "G1")) }

    /// Dispatches with the standard profile for the scenario's kind × urgency; returns the lead assignment id.
    @discardableResult
    mutating func dispatch(after seconds: TimeInterval = 60) throws -> AssignmentID {
        try step(.dispatched(order: dispatchOrder(lead: lead, co: co, profile: standardProfile(kind, urgency))),
                 after: seconds)
        return try XCTUnwrap(order.leadAssignment?.id)
    }

    var leadID: AssignmentID { order.leadAssignment?.id ?? AssignmentID(0) }
    func unit(_ id: AssignmentID) -> EventAuthor { .unit(code: order.assignment(id)?.unit ?? "?") }

    mutating func deliver(_ id: AssignmentID) throws { try step(.assignmentDelivered(assignment: id), by: supervisorTimer) }
    mutating func sign(_ id: AssignmentID, after seconds: TimeInterval = 60) throws {
        try step(.assignmentSigned(assignment: id), by: unit(id), after: seconds)
    }
    mutating func reply(_ id: AssignmentID, after seconds: TimeInterval = 60) throws {
        try step(.unitReplied(assignment: id, text: "已修复路面 Road repaired"), by: unit(id), after: seconds)
    }
    mutating func callback(_ satisfaction: Satisfaction, resolved: Bool = true) throws {
        try step(.callbackAttempted(outcome: .reached(evaluation: CallbackEvaluation(resolved: resolved,
                                                                                      satisfaction: satisfaction))))
    }
    mutating func unreachable() throws { try step(.callbackAttempted(outcome: .unreachable(note: "无人接听"))) }

    /// The usual path up to `target` (one of: accepted, pendingDispatch, dispatched, inProgress, replied,
    /// pendingCallback, closed).
    mutating func drive(to target: CaseStatus) throws {
        let path: [CaseStatus] = [.draft, .accepted, .pendingDispatch, .dispatched, .inProgress, .replied,
                                  .pendingCallback, .closed]
        guard let end = path.firstIndex(of: target) else { throw XCTSkip("no standard path to \(target)") }
        var i = path.firstIndex(of: status) ?? 0
        while i < end {
            i += 1
            switch path[i] {
            case .accepted: try accept()
            case .pendingDispatch:
                if classification.requiresDutyRoomAlert {
                    try step(.dutyRoomAlerted(dutyRoom: "210302-DUTY", note: "停水"))
                }
                try queue()
            case .dispatched: try dispatch()
            case .inProgress:
                try deliver(leadID)
                try sign(leadID)
            case .replied: try reply(leadID)
            case .pendingCallback: try step(.replyReviewed(accepted: true, note: "答复规范"))
            case .closed:
                try callback(.satisfied)
                try step(.closed(reason: .callbackCompleted))
            default: break
            }
        }
        XCTAssertEqual(status, target)
    }
}

/// Asserts that `body` is refused with exactly `expected`, and that the case did not change.
func assertRefused(_ scenario: inout Scenario, _ body: CaseEventBody, by author: EventAuthor = hotlineStaff,
                   after seconds: TimeInterval = 60, _ expected: CaseRuleViolation,
                   file: StaticString = #filePath, line: UInt = #line) {
    let before = scenario.log
    let beforeNow = scenario.now
    do {
        try scenario.step(body, by: author, after: seconds)
        XCTFail("expected \(expected), but '\(body.name)' was accepted", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
        XCTAssertFalse(error.message.isEmpty, file: file, line: line)
    }
    XCTAssertEqual(scenario.log, before, "a refused event must change nothing", file: file, line: line)
    scenario.now = beforeNow
}

/// Asserts that `body` is refused (any violation) and nothing changed; returns the violation.
@discardableResult
func assertRefusedAny(_ scenario: inout Scenario, _ body: CaseEventBody, by author: EventAuthor = hotlineStaff,
                      file: StaticString = #filePath, line: UInt = #line) -> CaseRuleViolation? {
    let before = scenario.log
    let beforeNow = scenario.now
    defer { scenario.now = beforeNow }
    do {
        try scenario.step(body, by: author)
        XCTFail("expected '\(body.name)' to be refused in \(before.order.status)", file: file, line: line)
        return nil
    } catch {
        XCTAssertEqual(scenario.log, before, "a refused event must change nothing", file: file, line: line)
        return error
    }
}

/// The Anshan catalogue shipped in Deploy/catalogs.
func anshanCatalogue() throws -> RoutingCatalogue {
    let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Deploy/catalogs/anshan.json")
    return try RoutingCatalogue.load(from: Data(contentsOf: url))
}

/// The 2026 mainland-China working calendar shipped in Deploy/calendars.
func calendar2026() throws -> WorkingCalendar {
    let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Deploy/calendars/cn-2026.json")
    return try WorkingCalendar.load(from: Data(contentsOf: url))
}
