import Foundation

/// A supervision step that fired. Fires once per (assignment, level); level 3 is case-wide (assignment nil)
/// and fires once per case.
public struct SupervisionEscalation: Hashable, Codable, Sendable {
    public var level: SupervisionLevel
    public var assignment: AssignmentID?
    public var at: Date
    public var reason: String

    public init(level: SupervisionLevel, assignment: AssignmentID?, at: Date, reason: String) {
        self.level = level
        self.assignment = assignment
        self.at = at
        self.reason = reason
    }
}
