import Foundation

/// A unit that can be assigned cases: a department, a district government, a utility, a duty room.
public struct HandlingUnit: Hashable, Codable, Sendable {
    /// Stable code, e.g. `"210302-CM"`, `"AS-WATER"`.
    public var code: String
    public var name: String
    /// Sector code.
    public var sector: String
    /// Jurisdiction code; nil = city-wide.
    public var jurisdiction: String?

    public init(code: String, name: String, sector: String, jurisdiction: String?) {
        self.code = code
        self.name = name
        self.sector = sector
        self.jurisdiction = jurisdiction
    }
}
