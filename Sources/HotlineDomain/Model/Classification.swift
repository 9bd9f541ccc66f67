import Foundation

/// The call-taker's classification recorded when a case is accepted.
public struct Classification: Hashable, Codable, Sendable {
    public var kind: CaseKind
    /// Category code from the routing catalogue, e.g. `"water-outage"` (Open311 `service_code`).
    public var category: String
    /// Sector code from the routing catalogue, e.g. `"utilities"`.
    public var sector: String
    public var urgency: Urgency
    /// Jurisdiction code, e.g. `"210302"` (Tiedong) or `"AS-HT"` (High-tech zone).
    public var jurisdiction: String
    /// True when the category is one of the catalogue's P1 livelihood categories at intake time (recorded
    /// like the rule version, so replay does not depend on a later catalogue). Use
    /// `RoutingCatalogue.classification(...)` to fill it from the catalogue.
    public var livelihood: Bool

    public init(kind: CaseKind, category: String, sector: String, urgency: Urgency, jurisdiction: String,
                livelihood: Bool = false) {
        self.kind = kind
        self.category = category
        self.sector = sector
        self.urgency = urgency
        self.jurisdiction = jurisdiction
        self.livelihood = livelihood
    }

    /// P1 and a livelihood category: the district duty room must be alerted at once.
    public var requiresDutyRoomAlert: Bool { urgency == .p1 && livelihood }
}
