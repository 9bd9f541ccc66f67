import Foundation

/// A supervision step that is due now and has not fired yet (see `WorkOrder.escalationsDue(at:settings:)`).
public struct PlannedEscalation: Hashable, Codable, Sendable {
    public var level: SupervisionLevel
    /// nil for the case-wide level 3.
    public var assignment: AssignmentID?
    public var reason: String

    public init(level: SupervisionLevel, assignment: AssignmentID?, reason: String) {
        self.level = level
        self.assignment = assignment
        self.reason = reason
    }

    /// The event body that records this step.
    public var eventBody: CaseEventBody { .supervisionEscalated(level: level, assignment: assignment, reason: reason) }
}
