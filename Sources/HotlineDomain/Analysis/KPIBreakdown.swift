import Foundation

/// KPIs grouped by one dimension; rows sorted by key.
public struct KPIBreakdown: Hashable, Codable, Sendable {
    public var dimension: KPIDimension
    public var rows: [KPIRow]

    public init(dimension: KPIDimension, rows: [KPIRow]) {
        self.dimension = dimension
        self.rows = rows
    }

    /// The row with this key, if any.
    public func row(_ key: String) -> KPIRow? { rows.first { $0.key == key } }
}
