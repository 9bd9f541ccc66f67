import Foundation

/// The human case number read out to citizens and units: `YYYY-NNNNNN`, e.g. `2026-000123`.
/// The serial is allocated by intake (per year); this type only formats and parses it.
/// Encoded as the JSON string `"2026-000123"`.
public struct CaseNumber: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// Four-digit year of intake.
    public let year: Int
    /// Serial within the year, starting at 1.
    public let serial: Int

    public init(year: Int, serial: Int) {
        self.year = year
        self.serial = serial
    }

    /// Parses `"2026-000123"`; returns nil for anything else (wrong shape, non-digits, serial < 1).
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4,
              let year = Int(parts[0]), let serial = Int(parts[1]), serial >= 1,
              parts[1].allSatisfy(\.isASCII)
        else { return nil }
        self.init(year: year, serial: serial)
    }

    public var description: String {
        let y = String(year)
        let s = String(serial)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-"
            + String(repeating: "0", count: max(0, 6 - s.count)) + s
    }

    public static func < (lhs: CaseNumber, rhs: CaseNumber) -> Bool {
        (lhs.year, lhs.serial) < (rhs.year, rhs.serial)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let parsed = CaseNumber(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "case number '\(text)' is not of the form YYYY-NNNNNN")
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
