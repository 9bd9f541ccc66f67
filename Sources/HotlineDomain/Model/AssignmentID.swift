import Foundation

/// Identifies an assignment within its case: 1, 2, 3, … in the order assignments were created
/// (across all dispatch rounds). Encoded as a JSON number.
public struct AssignmentID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: Int

    public init(_ rawValue: Int) { self.rawValue = rawValue }

    public var description: String { "A\(rawValue)" }
    public static func < (lhs: AssignmentID, rhs: AssignmentID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(Int.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
