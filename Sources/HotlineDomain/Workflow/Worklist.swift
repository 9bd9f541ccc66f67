import Foundation

/// The people's lists on a live hotline, as pure rules over one case: a department's inbox, the dispatcher's
/// queue, the callback seat's due list and the supervisor's case list (`WorkOrder.worklistEntry(for:at:)`).
public enum WorklistQuery: Codable, Sendable, Hashable {
    /// Assignments of the current round held by `unit` and awaiting its sign (`delivered`; `sent` ones wait for
    /// delivery to the unit's own system) or its reply (`signed`/`returnRejected`), on open cases.
    case unitInbox(unit: String)
    /// Cases waiting for a dispatcher: `pendingDispatch` (to route), `returnReview` (a return to decide, or a
    /// second return to arbitrate); `group` nil: every group's.
    case dispatchQueue(group: String?)
    /// Cases `pendingCallback`: the citizen must be called back (by `callbackDue`).
    case callbackDue
    /// Cases by status (nil: any), only those with an overdue assignment when `overdueOnly`.
    case cases(status: CaseStatus?, overdueOnly: Bool)
    /// Open dispatched cases whose current round is not fully delivered (lead or a co-handler still `sent`).
    case undelivered
}

/// One line of a worklist. Dates are instants (UTC in JSON); `overdue` is judged at the office's clock.
public struct WorklistEntry: Codable, Sendable, Hashable {
    public var id: CaseID
    public var number: CaseNumber
    /// The jurisdiction whose office holds the case (set by the office).
    public var office: String
    public var status: CaseStatus
    public var category: String?
    public var urgency: Urgency?
    public var leadUnit: String?
    /// The assignment the line is about (unit inbox), or the lead's of the current round.
    public var unit: String?
    public var assignment: AssignmentID?
    public var assignmentStatus: AssignmentStatus?
    public var signDue: Date?
    public var handleDue: Date?
    public var callbackDue: Date?
    /// What the case waits for: `sign`, `reply`, `dispatch`, `return decision`, `arbitration`, `review`,
    /// `callback`, or the status name.
    public var waitingFor: String
    /// A current-round assignment is overdue (sign or handle deadline passed).
    public var overdue: Bool
    /// Highest supervision level fired so far (1…3), nil when none.
    public var supervisionLevel: Int?
    /// Reminders sent so far.
    public var reminders: Int
    /// Since when the case is in its status.
    public var since: Date
    /// The subject (if any) and the start of the description (at most 60 characters).
    public var summary: String
    /// "k of n delivered" for the current round (nil before the first dispatch).
    public var delivery: DeliveryProgress?
}

/// A worklist gathered from every district office.
public struct Worklist: Codable, Sendable, Hashable {
    public var query: WorklistQuery
    /// The clock the list was judged at (the answering node's).
    public var asOf: Date
    public var entries: [WorklistEntry]
    /// District offices that did not answer (their cases are missing from `entries`).
    public var unanswered: [String]

    public init(query: WorklistQuery, asOf: Date, entries: [WorklistEntry], unanswered: [String]) {
        self.query = query
        self.asOf = asOf
        self.entries = entries
        self.unanswered = unanswered
    }
}

extension WorkOrder {
    /// The case's lines in the worklist `query` at `instant` (empty when it does not belong there); `office` is
    /// the holding jurisdiction. A unit inbox may hold several lines of one case only if the unit has several
    /// current assignments (it never has; one line).
    public func worklistEntries(for query: WorklistQuery, at instant: Date, office: String) -> [WorklistEntry] {
        let lead = leadAssignment
        switch query {
        case .unitInbox(let unit):
            guard status.isOpen else { return [] }
            return assignments.filter { $0.round == currentRound && $0.unit == unit && $0.repliedAt == nil }
                .compactMap { a -> WorklistEntry? in
                    switch a.status {
                    case .sent: return entry(office, a, waitingFor: "delivery", at: instant)  // its system has not got it yet
                    case .delivered: return entry(office, a, waitingFor: "sign", at: instant)
                    case .signed, .returnRejected: return entry(office, a, waitingFor: "reply", at: instant)
                    default: return nil
                    }
                }
        case .dispatchQueue(let group):
            let waiting: String
            switch status {
            case .pendingDispatch: waiting = "dispatch"
            case .returnReview: waiting = isAwaitingArbitration ? "arbitration" : "return decision"
            default: return []
            }
            if let group, (queuedGroup ?? dispatches.last?.decision.dispatchGroup) != group { return [] }
            return [entry(office, lead, waitingFor: waiting, at: instant)]
        case .callbackDue:
            guard status == .pendingCallback else { return [] }
            return [entry(office, lead, waitingFor: "callback", at: instant)]
        case .cases(let wanted, let overdueOnly):
            if let wanted, status != wanted { return [] }
            let e = entry(office, lead, waitingFor: Self.waitingFor(status, self), at: instant)
            if overdueOnly && !e.overdue { return [] }
            return [e]
        case .undelivered:
            guard !assignmentsAwaitingDelivery.isEmpty else { return [] }
            return [entry(office, lead, waitingFor: "delivery", at: instant)]
        }
    }

    static func waitingFor(_ status: CaseStatus, _ o: WorkOrder) -> String {
        switch status {
        case .pendingDispatch: "dispatch"
        case .dispatched: "sign"
        case .inProgress: "reply"
        case .returnReview: o.isAwaitingArbitration ? "arbitration" : "return decision"
        case .replied: "review"
        case .pendingCallback: "callback"
        case .draft where o.classificationQueue != nil: "classification"
        default: status.rawValue
        }
    }

    func entry(_ office: String, _ a: Assignment?, waitingFor: String, at instant: Date) -> WorklistEntry {
        let text = (intake.subject.map { $0 + " — " } ?? "") + intake.description.trimmingCharacters(in: .whitespacesAndNewlines)
        let summary = text.count > 60 ? String(text.prefix(59)) + "…" : text
        var line = WorklistEntry(id: id, number: number, office: office, status: status, category: classification?.category,
                             urgency: classification?.urgency, leadUnit: leadAssignment?.unit, unit: a?.unit,
                             assignment: a?.id, assignmentStatus: a?.status, signDue: a?.due.sign, handleDue: a?.due.handle,
                             callbackDue: status == .pendingCallback ? callbackDue : nil, waitingFor: waitingFor,
                             overdue: !overdueAssignments(at: instant).isEmpty,
                             supervisionLevel: escalations.map(\.level.rawValue).max(),
                             reminders: reminders.count, since: statusChangedAt,
                             summary: summary.replacingOccurrences(of: "\n", with: " "))
        if currentRound > 0 { line.delivery = deliveryProgress }
        return line
    }
}
