import Foundation

/// One unit's share of one dispatch round. Lives inside `WorkOrder.assignments`; changed only by events.
public struct Assignment: Hashable, Codable, Sendable {
    public var id: AssignmentID
    /// Handling unit code (catalogue `units[].code`).
    public var unit: String
    public var role: AssignmentRole
    /// Dispatch round (1 = first dispatch; +1 per re-dispatch or arbitration).
    public var round: Int
    public var status: AssignmentStatus
    /// SLA profile id the dues were derived from.
    public var profileID: String
    /// True when created by an arbitration ruling (binding: no further return).
    public var arbitrated: Bool
    /// Dispatch instant: the handling clock starts here (not at signing).
    public var sentAt: Date
    public var deliveredAt: Date?
    public var signedAt: Date?
    /// First progress report or reply, whichever came first.
    public var firstFeedbackAt: Date?
    public var repliedAt: Date?
    /// When the assignment reached a terminal status.
    public var finishedAt: Date?
    /// Failed delivery attempts (each raised a delivery alert).
    public var deliveryFailures: Int
    /// Delivery retries after failures.
    public var deliveryRetries: Int
    public var due: AssignmentDue

    public init(id: AssignmentID, unit: String, role: AssignmentRole, round: Int, profileID: String,
                arbitrated: Bool, sentAt: Date, due: AssignmentDue) {
        self.id = id
        self.unit = unit
        self.role = role
        self.round = round
        self.status = .sent
        self.profileID = profileID
        self.arbitrated = arbitrated
        self.sentAt = sentAt
        self.deliveryFailures = 0
        self.deliveryRetries = 0
        self.due = due
    }

    /// Delivered at some point (a failed delivery never counts as dispatched).
    public var wasDelivered: Bool { deliveredAt != nil }
}
