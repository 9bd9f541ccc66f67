import ActorCluster
import Distributed
import Foundation

/// The office of one jurisdiction (`/hotline/district/<code>`): holds that jurisdiction's cases as event
/// logs and is the only place their events are recorded. Departments (units) sign for, report progress,
/// return, request extensions and reply here; the hotline side dispatches, reviews, calls back and closes.
///
/// Every change goes through `CaseLog.record`, so a change a rule forbids throws
/// `HotlineError.ruleViolation` and changes nothing. Time is the node's clock (`HotlineContext.clock`).
public distributed actor DistrictOffice {
    public typealias ActorSystem = ClusterSystem

    private let context: HotlineContext
    private let jurisdiction: String
    private var cases: [CaseID: CaseLog] = [:]
    /// Cases whose status is open: supervision looks only at these.
    private var openCases: Set<CaseID> = []
    /// Encoded size of each case's events at a given event count, for byte-sized pages (`eventLogs`).
    private var encodedSizes: [CaseID: (events: Int, bytes: Int)] = [:]

    public init(jurisdiction: String, context: HotlineContext) {
        self.jurisdiction = jurisdiction
        self.context = context
        self.actorSystem = context.system
    }

    deinit {
        // The office moves away or the node stops: its cases no longer count on this node.
        var counts: [CaseStatus: Int] = [:]
        for log in cases.values { counts[log.order.status, default: 0] += 1 }
        for (status, n) in counts { Self.gauge(status, context.system.metrics).decrement(by: n) }
    }

    /// `hotline_cases_<status>`: cases per status held by the district offices of this node.
    static func gauge(_ status: CaseStatus, _ metrics: Metrics) -> Gauge {
        metrics.gauge("hotline_cases_\(status.rawValue)", help: "Cases in status \(status.rawValue) held by this node's district offices.")
    }

    /// Opens a case: `drafted`, then `accepted` with its classification, then — P0: transferred to the
    /// emergency service; P1 livelihood: duty room alerted; otherwise — queued for its dispatch group, and
    /// dispatched at once when the request carries the group's order.
    /// Idempotent per case id (a repeated open returns the existing case unchanged).
    ///
    /// - Throws: `HotlineError.ruleViolation` or `.routing`.
    public distributed func openCase(_ request: OpenCase) throws -> CaseSnapshot {
        try Self.mayAct(as: request.author)
        if let author = request.dispatchedBy { try Self.mayAct(as: author) }
        if let existing = cases[request.id] { return CaseSnapshot(existing) }
        var log = try opened(request)
        if let order = request.dispatch, log.order.status == .pendingDispatch {
            do {
                try dispatch(&log, order: order, by: request.dispatchedBy ?? request.author, now: context.now)
            } catch let e as CaseRuleViolation {
                throw HotlineError.ruleViolation("\(e)")
            }
        }
        store(log)
        return CaseSnapshot(log)
    }

    private func opened(_ request: OpenCase) throws -> CaseLog {
        let now = context.now
        do {
            var log = try CaseLog(id: request.id, number: request.number, intake: request.intake, at: now,
                                  by: request.author, settings: context.settings)
            try log.record(.accepted(classification: request.classification), at: now, by: request.author)
            if request.classification.urgency == .p0 {
                try log.record(.transferredToEmergency(service: request.emergencyService ?? .police,
                                                       note: "P0 at intake"), at: now, by: request.author)
            } else {
                if log.order.needsDutyRoomAlert {
                    let room = try context.catalogue.dutyRoom(for: request.classification.jurisdiction)
                    try log.record(.dutyRoomAlerted(dutyRoom: room, note: "P1 livelihood: \(request.classification.category)"),
                                   at: now, by: .system(component: "shift-leader"))
                }
                let group = request.queueGroup
                    ?? context.catalogue.dispatchGroup(owning: request.classification.jurisdiction)?.code ?? ""
                try log.record(.queuedForDispatch(group: group), at: now, by: request.author)
            }
            return log
        } catch let e as CaseRuleViolation {
            throw HotlineError.ruleViolation("\(e)")
        } catch let e as RoutingError {
            throw HotlineError.routing("\(e)")
        }
    }

    /// Records `dispatched(order)` and the delivery of every assignment of the new round (the office is the
    /// departments' inbox, so delivery succeeds when the office holds the case).
    ///
    /// - Throws: `HotlineError.unknownCase` or `.ruleViolation`.
    public distributed func dispatch(_ id: CaseID, order: DispatchOrder, by author: EventAuthor) throws -> CaseSnapshot {
        try Self.mayAct(as: author)
        try mutate(id) { log, now in try dispatch(&log, order: order, by: author, now: now) }
        return try snapshot(id)
    }

    private func dispatch(_ log: inout CaseLog, order: DispatchOrder, by author: EventAuthor, now: Date) throws {
        try log.record(.dispatched(order: order), at: now, by: author)
        let round = log.order.currentRound
        for a in log.order.assignments where a.round == round && a.status == .sent {
            try log.record(.assignmentDelivered(assignment: a.id), at: now, by: .system(component: "delivery"))
        }
    }

    /// Records `bodies` in order as one change: if one of the first `required` is refused, nothing is
    /// recorded and the refusal is thrown; later ones are attempted and skipped when a rule refuses them.
    /// Returns the case afterwards.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation`, or `.notPermitted` (author `.system` from a remote caller that is not an operator).
    public distributed func recordAll(_ id: CaseID, _ bodies: [CaseEventBody], required: Int,
                                      by author: EventAuthor) throws -> CaseSnapshot {
        try Self.mayAct(as: author)
        try mutate(id) { log, now in
            for (i, body) in bodies.enumerated() {
                if i < required {
                    try log.record(body, at: now, by: author)
                } else {
                    _ = try? log.record(body, at: now, by: author)
                }
            }
        }
        return try snapshot(id)
    }

    /// Records one event by `author` at the node's current time. Returns the stored event.
    ///
    /// - Throws: `HotlineError.unknownCase` or `.ruleViolation` (nothing recorded), or `.notPermitted` (author `.system` from a remote caller that is not an operator).
    public distributed func record(_ id: CaseID, _ body: CaseEventBody, by author: EventAuthor) throws -> CaseEvent {
        try Self.mayAct(as: author)
        var recorded: CaseEvent?
        try mutate(id) { log, now in recorded = try log.record(body, at: now, by: author) }
        guard let recorded else { throw HotlineError.unknownCase(id.rawValue) }
        return recorded
    }

    /// A department acts on its assignment of the current round (`unit` nil = the lead unit).
    ///
    /// - Throws: `HotlineError.unknownCase`, `.invalidRequest` (no assignment for that unit) or
    ///   `.ruleViolation`.
    public distributed func unitAct(_ id: CaseID, unit: String?, _ action: UnitAction) throws -> CaseEvent {
        guard let log = cases[id] else { throw HotlineError.unknownCase(id.rawValue) }
        let round = log.order.currentRound
        let assignment: Assignment?
        if let unit {
            assignment = log.order.assignments.last { $0.round == round && $0.unit == unit }
        } else {
            assignment = log.order.leadAssignment
        }
        guard let assignment else {
            throw HotlineError.invalidRequest("case \(log.order.number) has no current assignment for \(unit ?? "the lead unit")")
        }
        let body: CaseEventBody
        switch action {
        case .sign: body = .assignmentSigned(assignment: assignment.id)
        case .progress(let note): body = .progressReported(assignment: assignment.id, note: note)
        case .returnCase(let reason): body = .returnRequested(assignment: assignment.id, reason: reason)
        case .requestExtension(let extra, let reason):
            body = .extensionRequested(assignment: assignment.id, extra: extra, reason: reason)
        case .reply(let text): body = .unitReplied(assignment: assignment.id, text: text)
        }
        return try record(id, body, by: .unit(code: assignment.unit))
    }

    /// Status, number and event count of one case. Throws `HotlineError.unknownCase`.
    public distributed func snapshot(_ id: CaseID) throws -> CaseSnapshot {
        guard let log = cases[id] else { throw HotlineError.unknownCase(id.rawValue) }
        return CaseSnapshot(log)
    }

    /// The whole event history of one case, in sequence order. Throws `HotlineError.unknownCase`.
    public distributed func events(of id: CaseID) throws -> [CaseEvent] {
        guard let log = cases[id] else { throw HotlineError.unknownCase(id.rawValue) }
        return log.events
    }

    /// Finds a case by its human number (nil when this office does not hold it).
    public distributed func find(number: CaseNumber) -> CaseSnapshot? {
        cases.values.first { $0.order.number == number }.map(CaseSnapshot.init)
    }

    /// Ids of up to `limit` cases (1…`maxIDsPerPage`) whose ids sort after `after`, in id order; an empty
    /// page means the end. Case ids are intake-made UUID strings (36 bytes), so a full page is ~0.5 MB.
    public distributed func caseIDs(after: CaseID?, limit: Int) -> [CaseID] {
        Array(cases.keys.sorted().lazy.filter { id in after.map { id > $0 } ?? true }
            .prefix(max(1, min(limit, Self.maxIDsPerPage))))
    }

    /// Upper bound of `caseIDs(after:limit:)`'s page.
    public static let maxIDsPerPage = 10_000

    /// Event logs of cases whose ids sort after `after`, in id order, filling at most `maxBytes` of encoded
    /// events (clamped to 1 KiB … a quarter of this node's frame limit) — pages are sized by bytes, not case
    /// counts, so cases with the largest legal texts still fit a reply. A page holds at least one case (a
    /// single case larger than a frame fails the call with `RemoteCallError.frameTooLarge`); an empty page
    /// means the end.
    public distributed func eventLogs(after: CaseID?, maxBytes: Int) -> [[CaseEvent]] {
        let budget = max(1 << 10, min(maxBytes, actorSystem.settings.transport.maxFrameBytes / 4))
        var page: [[CaseEvent]] = []
        var used = 0
        for id in cases.keys.sorted() where after.map({ id > $0 }) ?? true {
            guard let events = cases[id]?.events else { continue }
            let size = encodedSize(of: id, events)
            if !page.isEmpty && used + size > budget { break }
            page.append(events)
            used += size
        }
        return page
    }

    /// Encoded bytes of a case's events, remembered per event count (a case's log only grows).
    private func encodedSize(of id: CaseID, _ events: [CaseEvent]) -> Int {
        if let known = encodedSizes[id], known.events == events.count { return known.bytes }
        let bytes = (try? Wire.BinaryEncoder().encode(events).count) ?? Int.max / 4
        encodedSizes[id] = (events.count, bytes)
        return bytes
    }

    /// The highest case serial this office holds (0 when it holds none): an intake desk that starts — or
    /// moved here from a node that died — numbers new cases above every number still held.
    public distributed func highestSerial() -> Int {
        cases.values.map(\.order.number.serial).max() ?? 0
    }

    /// Case count per status name.
    public distributed func statusCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for log in cases.values { counts[log.order.status.rawValue, default: 0] += 1 }
        return counts
    }

    /// Records every reminder and supervision escalation due now on open cases (each fires once: the
    /// workflow refuses a repeat). Returns how many were recorded.
    public distributed func runSupervision() -> Int {
        let now = context.now
        var fired = 0
        for id in openCases.sorted() {
            guard var log = cases[id] else { continue }
            let due = log.order.escalationsDue(at: now, settings: context.settings)
            guard !due.isEmpty else { continue }
            for planned in due {
                if (try? log.record(planned.eventBody, at: now, by: .system(component: "supervisor"))) != nil {
                    fired += 1
                }
            }
            store(log)
        }
        return fired
    }

    /// Events authored by the `system` are the node's own (supervision, delivery, duty-room alerts): a remote
    /// caller may author them only when it proved the operator secret — whichever function it calls.
    ///
    /// - Throws: `HotlineError.notPermitted`.
    static func mayAct(as author: EventAuthor) throws {
        if case .system = author, !ClusterSystem.callerIsLocalOrOperator {
            throw HotlineError.notPermitted("acting as the system (\(author)) is reserved for operators")
        }
    }

    private func mutate(_ id: CaseID, _ change: (inout CaseLog, Date) throws -> Void) throws {
        guard var log = cases[id] else { throw HotlineError.unknownCase(id.rawValue) }
        do {
            try change(&log, context.now)
        } catch let e as CaseRuleViolation {
            throw HotlineError.ruleViolation("case \(log.order.number): \(e)")
        }
        store(log)
    }

    private func store(_ log: CaseLog) {
        let before = cases[log.id]?.order.status
        if before != log.order.status {
            let metrics = context.system.metrics
            if let before { Self.gauge(before, metrics).decrement() }
            Self.gauge(log.order.status, metrics).increment()
        }
        cases[log.id] = log
        if log.order.status.isOpen { openCases.insert(log.id) } else { openCases.remove(log.id) }
    }
}

/// What a department can do on its assignment.
public enum UnitAction: Codable, Sendable, Hashable {
    case sign
    case progress(note: String)
    case returnCase(reason: String)
    case requestExtension(extra: SLALimit, reason: String)
    case reply(text: String)
}

/// Everything needed to open a case at its district office.
public struct OpenCase: Codable, Sendable {
    public var id: CaseID
    public var number: CaseNumber
    public var intake: IntakeRecord
    public var classification: Classification
    public var author: EventAuthor
    /// For P0: which emergency service takes it (default police/110).
    public var emergencyService: EmergencyService?
    /// The dispatch group's order, when it routed the case before it was opened: the office then records
    /// the dispatch and the deliveries in the same change (one round trip for intake).
    public var dispatch: DispatchOrder?
    public var dispatchedBy: EventAuthor?
    /// The dispatch group the case is queued for (the catalogue rule's group); nil: the jurisdiction's owner.
    public var queueGroup: String?

    public init(id: CaseID, number: CaseNumber, intake: IntakeRecord, classification: Classification,
                author: EventAuthor, emergencyService: EmergencyService? = nil) {
        self.id = id
        self.number = number
        self.intake = intake
        self.classification = classification
        self.author = author
        self.emergencyService = emergencyService
    }
}

/// A compact view of a case for callers.
public struct CaseSnapshot: Codable, Sendable, Hashable {
    public var id: CaseID
    public var number: CaseNumber
    public var status: CaseStatus
    public var jurisdiction: String?
    public var leadUnit: String?
    public var eventCount: Int
    public var lastSequence: UInt64

    public init(_ log: CaseLog) {
        id = log.order.id
        number = log.order.number
        status = log.order.status
        jurisdiction = log.order.classification?.jurisdiction
        leadUnit = log.order.leadAssignment?.unit
        eventCount = log.events.count
        lastSequence = log.order.lastSequence
    }
}
