import Foundation

/// A unit that can be assigned cases: a department, a district government, a sub-district, a community, a
/// utility, a duty room.
public struct HandlingUnit: Hashable, Codable, Sendable {
    /// Stable code, e.g. `"210302-CM"`, `"AS-WATER"`.
    public var code: String
    public var name: String
    /// Sector code.
    public var sector: String
    /// Jurisdiction code; nil = city-wide.
    public var jurisdiction: String?
    /// Administrative level. JSON `level`; when absent: `city-department` for a city-wide unit, else
    /// `district-government`.
    public var level: UnitLevel
    /// The unit this one reports to (a sub-district's district government, a community's sub-district); nil:
    /// none named. JSON `parent`, optional.
    public var parent: String?
    /// How the unit receives its assignments. JSON `delivery`; when absent: the platform's inbox.
    public var delivery: DeliveryChannel

    public init(code: String, name: String, sector: String, jurisdiction: String?, level: UnitLevel? = nil,
                parent: String? = nil, delivery: DeliveryChannel = .inbox) {
        self.code = code
        self.name = name
        self.sector = sector
        self.jurisdiction = jurisdiction
        self.level = level ?? (jurisdiction == nil ? .cityDepartment : .districtGovernment)
        self.parent = parent
        self.delivery = delivery
    }

    private enum CodingKeys: String, CodingKey { case code, name, sector, jurisdiction, level, parent, delivery }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(code: try c.decode(String.self, forKey: .code), name: try c.decode(String.self, forKey: .name),
                  sector: try c.decode(String.self, forKey: .sector),
                  jurisdiction: try c.decodeIfPresent(String.self, forKey: .jurisdiction),
                  level: try c.decodeIfPresent(UnitLevel.self, forKey: .level),
                  parent: try c.decodeIfPresent(String.self, forKey: .parent),
                  delivery: try c.decodeIfPresent(DeliveryChannel.self, forKey: .delivery) ?? .inbox)
    }
}
