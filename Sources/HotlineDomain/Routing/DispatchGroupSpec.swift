import Foundation

/// A dispatch (routing) group of the dispatch department: owns 2–3 jurisdictions (each jurisdiction is owned
/// by exactly one group), or the city-wide departments and utilities.
public struct DispatchGroupSpec: Hashable, Codable, Sendable {
    /// Stable code, e.g. `"G1"`.
    public var code: String
    public var name: String
    /// Jurisdiction codes this group owns (empty for the city-wide group).
    public var jurisdictions: [String]

    public init(code: String, name: String, jurisdictions: [String]) {
        self.code = code
        self.name = name
        self.jurisdictions = jurisdictions
    }
}
