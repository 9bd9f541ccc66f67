import Foundation

/// Average and median of a set of durations, in `unit` (natural days or hours), rounded to 2 decimals;
/// nil when `count` is 0.
public struct DurationStatistic: Hashable, Codable, Sendable, CustomStringConvertible {
    public enum Unit: String, Hashable, Codable, Sendable {
        case days
        case hours
    }

    public let unit: Unit
    /// How many durations were measured.
    public let count: Int
    public let average: Double?
    public let median: Double?

    /// - Parameter seconds: durations in seconds; converted to `unit` (1 day = 86 400 s, natural time).
    public init(seconds: [TimeInterval], unit: Unit) {
        self.unit = unit
        let divisor: Double = unit == .days ? 86_400 : 3_600
        let values = seconds.map { $0 / divisor }.sorted()
        count = values.count
        guard !values.isEmpty else {
            average = nil
            median = nil
            return
        }
        average = Rate.round2(values.reduce(0, +) / Double(values.count))
        let mid = values.count / 2
        median = Rate.round2(values.count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2)
    }

    /// `"avg 2.50 days, median 2.00 (n=4)"`.
    public var description: String {
        guard let average, let median else { return "— (n=0)" }
        return "avg \(Rate.fixed2(average)) \(unit.rawValue), median \(Rate.fixed2(median)) (n=\(count))"
    }
}
