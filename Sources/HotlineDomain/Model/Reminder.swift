import Foundation

/// A reminder (催办) sent to a unit: an overlay, not a state. Any number may be sent.
public struct Reminder: Hashable, Codable, Sendable {
    public var at: Date
    public var assignment: AssignmentID?
    public var note: String

    public init(at: Date, assignment: AssignmentID?, note: String) {
        self.at = at
        self.assignment = assignment
        self.note = note
    }
}
