import Foundation

/// One of the routing sectors (BRIEF §4 proposes seven: housing & construction; public utilities;
/// city management & environment; transport; public security & legal; market regulation & business;
/// social welfare).
public struct Sector: Hashable, Codable, Sendable {
    /// Stable code, e.g. `"utilities"`.
    public var code: String
    public var name: String

    public init(code: String, name: String) {
        self.code = code
        self.name = name
    }
}
