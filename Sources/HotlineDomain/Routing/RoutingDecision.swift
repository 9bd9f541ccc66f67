import Foundation

/// The result of routing a category × jurisdiction. Recorded in the dispatch event, so the case keeps the
/// rule id and catalogue version used (and whether the government fallback was used).
public struct RoutingDecision: Hashable, Codable, Sendable {
    public var category: String
    public var jurisdiction: String
    /// The one lead unit.
    public var lead: String
    /// Co-handlers (reply to the lead); never contains the lead.
    public var coUnits: [String]
    /// Dispatch group code.
    public var dispatchGroup: String
    /// SLA policy id to resolve the kind × urgency profile from.
    public var slaPolicy: String
    /// Rule id; nil when the fallback was used.
    public var ruleID: String?
    public var catalogueVersion: String
    /// True when no rule matched and the jurisdiction's government became the lead.
    public var usedFallback: Bool
    /// Set when the dispatcher sent the case to another lead than the catalogue's: the catalogue's lead.
    public var overriddenLead: String?

    public init(category: String, jurisdiction: String, lead: String, coUnits: [String], dispatchGroup: String,
                slaPolicy: String, ruleID: String?, catalogueVersion: String, usedFallback: Bool) {
        self.category = category
        self.jurisdiction = jurisdiction
        self.lead = lead
        self.coUnits = coUnits
        self.dispatchGroup = dispatchGroup
        self.slaPolicy = slaPolicy
        self.ruleID = ruleID
        self.catalogueVersion = catalogueVersion
        self.usedFallback = usedFallback
        self.overriddenLead = nil
    }
}
