import Foundation

/// One row of a breakdown: the cases sharing `key` in the breakdown's dimension.
public struct KPIRow: Hashable, Codable, Sendable {
    public var key: String
    public var kpis: KPISet

    public init(key: String, kpis: KPISet) {
        self.key = key
        self.kpis = kpis
    }
}
