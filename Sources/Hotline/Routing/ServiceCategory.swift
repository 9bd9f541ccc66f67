import Foundation

/// A request category (Open311 `service_code`).
public struct ServiceCategory: Hashable, Codable, Sendable {
    /// Stable code, e.g. `"water-outage"`.
    public var code: String
    public var name: String
    /// Sector code.
    public var sector: String

    public init(code: String, name: String, sector: String) {
        self.code = code
        self.name = name
        self.sector = sector
    }
}
