import Foundation

/// The stable identity of a case (work order). It never changes: not on return, re-dispatch, arbitration,
/// merge or reopen. Encoded as a plain JSON string.
public struct CaseID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The identifier text, e.g. a lowercase UUID `"6f1c…"` or an external id such as `"sf311-101"`.
    public let rawValue: String

    /// Wraps an identifier string as it is (no validation beyond what the caller did).
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// A fresh random id (lowercase UUID text).
    public static func random() -> CaseID { CaseID(UUID().uuidString.lowercased()) }

    public var description: String { rawValue }
    public static func < (lhs: CaseID, rhs: CaseID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
