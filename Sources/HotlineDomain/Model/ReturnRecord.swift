import Foundation

/// A unit's return of a mis-routed assignment and the hotline's decision on it.
public struct ReturnRecord: Hashable, Codable, Sendable {
    public enum Decision: String, Hashable, Codable, Sendable {
        case approved
        case rejected
        /// Decided by an arbitration ruling (second return of the case).
        case arbitrated
    }

    public var assignment: AssignmentID
    public var unit: String
    public var role: AssignmentRole
    public var at: Date
    public var reason: String
    /// True for the second (or later) lead return of the case: only arbitration may decide it.
    public var requiresArbitration: Bool
    public var decision: Decision?
    public var decidedAt: Date?
    public var note: String?

    public init(assignment: AssignmentID, unit: String, role: AssignmentRole, at: Date, reason: String,
                requiresArbitration: Bool) {
        self.assignment = assignment
        self.unit = unit
        self.role = role
        self.at = at
        self.reason = reason
        self.requiresArbitration = requiresArbitration
    }
}
