import Foundation

/// One catalogue line: category × jurisdiction (or `"*"` for any) → lead unit, co-units, dispatch group,
/// SLA policy. A rule for the exact jurisdiction wins over a `"*"` rule.
public struct RoutingRule: Hashable, Codable, Sendable {
    /// Stable rule id recorded on the case, e.g. `"R-water-outage-210302"`.
    public var id: String
    public var category: String
    /// Jurisdiction code, or `"*"`.
    public var jurisdiction: String
    /// Exactly one lead unit.
    public var lead: String
    public var coUnits: [String]
    /// Dispatch group code; nil = the group owning the case's jurisdiction.
    public var group: String?
    /// SLA policy id; nil = the catalogue's default policy.
    public var slaPolicy: String?

    public init(id: String, category: String, jurisdiction: String, lead: String, coUnits: [String] = [],
                group: String? = nil, slaPolicy: String? = nil) {
        self.id = id
        self.category = category
        self.jurisdiction = jurisdiction
        self.lead = lead
        self.coUnits = coUnits
        self.group = group
        self.slaPolicy = slaPolicy
    }

    private enum CodingKeys: String, CodingKey {
        case id, category, jurisdiction, lead, coUnits, group, slaPolicy
    }

    /// `coUnits` may be omitted (empty).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        category = try c.decode(String.self, forKey: .category)
        jurisdiction = try c.decode(String.self, forKey: .jurisdiction)
        lead = try c.decode(String.self, forKey: .lead)
        coUnits = try c.decodeIfPresent([String].self, forKey: .coUnits) ?? []
        group = try c.decodeIfPresent(String.self, forKey: .group)
        slaPolicy = try c.decodeIfPresent(String.self, forKey: .slaPolicy)
    }

    /// The wildcard jurisdiction.
    public static let anyJurisdiction = "*"
}
