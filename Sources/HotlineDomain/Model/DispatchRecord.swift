import Foundation

/// One dispatch round as recorded on the case.
public struct DispatchRecord: Hashable, Codable, Sendable {
    public var round: Int
    public var at: Date
    public var decision: RoutingDecision
    /// Snapshot of the SLA profile the round's dues were derived from.
    public var profile: SLAProfile
    /// True when this round was created by an arbitration ruling.
    public var arbitrated: Bool
    public var assignments: [AssignmentID]

    public init(round: Int, at: Date, decision: RoutingDecision, profile: SLAProfile, arbitrated: Bool,
                assignments: [AssignmentID]) {
        self.round = round
        self.at = at
        self.decision = decision
        self.profile = profile
        self.arbitrated = arbitrated
        self.assignments = assignments
    }
}
