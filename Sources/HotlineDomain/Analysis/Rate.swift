import Foundation

/// A rate that always states what it counts: `numerator ÷ denominator`, and the percentage
/// (0–100, rounded to 2 decimals), or nil when the denominator is 0.
/// JSON: `{"numerator":3,"denominator":4,"percent":75}` (`percent` is `null` when undefined).
public struct Rate: Hashable, Codable, Sendable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int
    /// 100 × numerator ÷ denominator, rounded half away from zero to 2 decimals; nil when denominator is 0.
    public let percent: Double?

    public init(_ numerator: Int, _ denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
        percent = denominator == 0 ? nil : Self.round2(Double(numerator) * 100 / Double(denominator))
    }

    /// `"75.00% (3/4)"`, or `"— (0/0)"`.
    public var description: String {
        guard let percent else { return "— (\(numerator)/\(denominator))" }
        return "\(Self.fixed2(percent))% (\(numerator)/\(denominator))"
    }

    /// Rounds to 2 decimals (half away from zero).
    public static func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }

    /// Formats with exactly 2 decimals, e.g. `75.00`.
    public static func fixed2(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return String(value) }
        let hundredths = Int64((value * 100).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let magnitude = hundredths.magnitude
        let fraction = String(magnitude % 100)
        return "\(sign)\(magnitude / 100).\(fraction.count == 1 ? "0" + fraction : fraction)"
    }

    private enum CodingKeys: String, CodingKey { case numerator, denominator, percent }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try c.decode(Int.self, forKey: .numerator), try c.decode(Int.self, forKey: .denominator))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numerator, forKey: .numerator)
        try c.encode(denominator, forKey: .denominator)
        if let percent { try c.encode(percent, forKey: .percent) } else { try c.encodeNil(forKey: .percent) }
    }
}
