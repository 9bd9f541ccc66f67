import Foundation

/// "k of n delivered": how many of the current round's assignments (lead and co-handlers) their units have.
public struct DeliveryProgress: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Current-round assignments delivered (at some point).
    public let delivered: Int
    /// Current-round assignments (lead + co-handlers); 0 before the first dispatch.
    public let total: Int
    /// Units of current-round assignments still waiting for delivery (`sent`), in assignment order.
    public let pendingUnits: [String]
    /// Failed delivery attempts of the current round (each raised a `DeliveryAlert`).
    public let failedAttempts: Int
    /// The reason of the latest failed attempt of an assignment still waiting (nil when none failed).
    public let lastFailure: String?
    /// Units of current-round assignments that finished without ever being delivered (withdrawn when the lead's
    /// reply was accepted or the case was closed or cancelled), in assignment order: nothing more is tried for them.
    public let neverReached: [String]
    /// `1 of 2 delivered`, and `1 of 2 delivered; never reached: AS-WATER` once an undelivered assignment finished
    /// (also in JSON, for people reading `hotline case`).
    public let summary: String

    public init(delivered: Int, total: Int, pendingUnits: [String], failedAttempts: Int, lastFailure: String? = nil,
                neverReached: [String] = []) {
        self.delivered = delivered
        self.total = total
        self.pendingUnits = pendingUnits
        self.failedAttempts = failedAttempts
        self.lastFailure = lastFailure
        self.neverReached = neverReached
        self.summary = "\(delivered) of \(total) delivered" + (neverReached.isEmpty ? "" : "; never reached: " + neverReached.joined(separator: ", "))
    }

    /// Every current-round assignment delivered (true for a case never dispatched: nothing to deliver).
    public var isComplete: Bool { delivered == total }

    /// `1 of 2 delivered`.
    public var description: String { summary }
}

/// One delivery attempt a district office should make now.
public struct DeliveryAttempt: Hashable, Codable, Sendable {
    public var assignment: AssignmentID
    public var unit: String
    public var role: AssignmentRole
    /// 1 for the first attempt, n + 1 after n recorded failures.
    public var number: Int

    public init(assignment: AssignmentID, unit: String, role: AssignmentRole, number: Int) {
        self.assignment = assignment
        self.unit = unit
        self.role = role
        self.number = number
    }
}

/// Delivery of assignments, as pure rules over the case: what is waiting, when the next attempt is due (from the
/// recorded failures and a `DeliveryRetryPolicy`), and how far the current round got. A case is fully dispatched
/// only when its lead and every co-handler have it.
extension WorkOrder {
    /// Current-round assignments still `sent` on an open case: waiting for their delivery.
    public var assignmentsAwaitingDelivery: [Assignment] {
        guard status.isOpen else { return [] }
        return assignments.filter { $0.round == currentRound && $0.status == .sent }
    }

    /// "k of n delivered" for the current round.
    public var deliveryProgress: DeliveryProgress {
        let round = assignments.filter { $0.round == currentRound && currentRound > 0 }
        let ids = Set(round.map(\.id))
        let waiting = Set(round.filter { $0.status == .sent }.map(\.id))
        return DeliveryProgress(delivered: round.filter(\.wasDelivered).count, total: round.count,
                                pendingUnits: round.filter { $0.status == .sent }.map(\.unit),
                                failedAttempts: deliveryAlerts.filter { ids.contains($0.assignment) }.count,
                                lastFailure: deliveryAlerts.last { waiting.contains($0.assignment) }?.reason,
                                neverReached: round.filter { !$0.wasDelivered && $0.status.isFinished }.map(\.unit))
    }

    /// The lead and every co-handler of the current round have the case (and it was dispatched).
    public var isFullyDispatched: Bool {
        let p = deliveryProgress
        return p.total > 0 && p.isComplete
    }

    /// When the next attempt to deliver `assignment` is due: at its dispatch instant for the first attempt, else
    /// the last recorded failure plus `policy.backoffMs(afterFailures:)`.
    public func nextDeliveryAttempt(of assignment: Assignment, policy: DeliveryRetryPolicy) -> Date {
        guard assignment.deliveryFailures > 0,
              let last = deliveryAlerts.last(where: { $0.assignment == assignment.id })?.at
        else { return assignment.sentAt }
        return last.addingTimeInterval(Double(policy.backoffMs(afterFailures: assignment.deliveryFailures)) / 1000)
    }

    /// The attempts due at `instant`, in assignment order (empty when nothing waits or every wait runs on).
    public func deliveriesDue(at instant: Date, policy: DeliveryRetryPolicy) -> [DeliveryAttempt] {
        assignmentsAwaitingDelivery.filter { nextDeliveryAttempt(of: $0, policy: policy) <= instant }.map {
            DeliveryAttempt(assignment: $0.id, unit: $0.unit, role: $0.role, number: $0.deliveryFailures + 1)
        }
    }

    /// The earliest instant an attempt is due, skipping `excluding` (attempts in flight); nil when none waits.
    public func nextDeliveryDue(policy: DeliveryRetryPolicy, excluding: Set<AssignmentID> = []) -> Date? {
        assignmentsAwaitingDelivery.filter { !excluding.contains($0.id) }
            .map { nextDeliveryAttempt(of: $0, policy: policy) }.min()
    }
}

/// What a unit's external system receives for one assignment (the JSON body of the delivery POST). A reporter's
/// identity (a case of kind `report`) is never sent: `contactName` and `contactPhone` are then nil.
public struct DeliveryNotice: Hashable, Codable, Sendable {
    /// `<case id>/A<n>`: the same on every attempt, from any office — the receiving system deduplicates by it
    /// (it is also the `Idempotency-Key` header).
    public var idempotencyKey: String
    public var caseID: String
    public var caseNumber: String
    public var assignment: Int
    public var unit: String
    public var role: AssignmentRole
    public var round: Int
    /// 1 for the first attempt.
    public var attempt: Int
    public var kind: CaseKind?
    public var category: String?
    public var urgency: Urgency?
    public var jurisdiction: String?
    public var subject: String?
    public var description: String
    public var address: String?
    public var contactName: String?
    public var contactPhone: String?
    public var dispatchedAt: Date
    public var signDue: Date
    public var handleDue: Date
    /// The lead unit of the round (co-handlers reply to it).
    public var lead: String?
}

extension WorkOrder {
    /// The idempotency key of an assignment's delivery: `<case id>/A<n>`.
    public func deliveryKey(_ assignment: AssignmentID) -> String { "\(id.rawValue)/\(assignment)" }

    /// The notice for `attempt` (nil when the case has no such assignment).
    public func deliveryNotice(for attempt: DeliveryAttempt) -> DeliveryNotice? {
        guard let a = assignment(attempt.assignment) else { return nil }
        let c = classification
        let hidden = contact.confidential
        return DeliveryNotice(idempotencyKey: deliveryKey(a.id), caseID: id.rawValue, caseNumber: number.description,
                              assignment: a.id.rawValue, unit: a.unit, role: a.role, round: a.round, attempt: attempt.number,
                              kind: c?.kind, category: c?.category, urgency: c?.urgency, jurisdiction: c?.jurisdiction,
                              subject: intake.subject, description: intake.description, address: intake.location?.address,
                              contactName: hidden || contact.name.isEmpty ? nil : contact.name,
                              contactPhone: hidden || contact.phone.isEmpty ? nil : contact.phone,
                              dispatchedAt: a.sentAt, signDue: a.due.sign, handleDue: a.due.handle,
                              lead: assignments.last { $0.round == a.round && $0.role == .lead }?.unit)
    }
}
