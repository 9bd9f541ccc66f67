import Foundation

/// What the dispatcher sends: the routing decision (exactly one lead, co-units, group, rule id, catalogue
/// version, whether the jurisdiction's government was used as fallback) and a snapshot of the SLA profile
/// the dues are derived from. Nothing in it is a typed due date.
public struct DispatchOrder: Hashable, Codable, Sendable {
    public var decision: RoutingDecision
    public var profile: SLAProfile

    public init(decision: RoutingDecision, profile: SLAProfile) {
        self.decision = decision
        self.profile = profile
    }
}
