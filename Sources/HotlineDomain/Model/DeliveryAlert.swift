import Foundation

/// Raised on every failed delivery of an assignment (the dispatch group is alerted; delivery is retried).
public struct DeliveryAlert: Hashable, Codable, Sendable {
    public var assignment: AssignmentID
    public var unit: String
    public var at: Date
    public var reason: String
    /// 1 for the first failure of this assignment, 2 for the second, …
    public var attempt: Int

    public init(assignment: AssignmentID, unit: String, at: Date, reason: String, attempt: Int) {
        self.assignment = assignment
        self.unit = unit
        self.at = at
        self.reason = reason
        self.attempt = attempt
    }
}
