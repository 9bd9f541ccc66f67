import Foundation

/// A unit's progress note (counts as first feedback).
public struct ProgressReport: Hashable, Codable, Sendable {
    public var assignment: AssignmentID
    public var unit: String
    public var at: Date
    public var note: String

    public init(assignment: AssignmentID, unit: String, at: Date, note: String) {
        self.assignment = assignment
        self.unit = unit
        self.at = at
        self.note = note
    }
}
