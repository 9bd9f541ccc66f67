import Foundation

/// Why a request is not a hotline matter.
public struct OutOfScopeRuling: Hashable, Codable, Sendable {
    /// Reason code, e.g. `"court-proceedings"`, `"petition-in-progress"`, `"not-government"`.
    public var reasonCode: String
    public var note: String

    public init(reasonCode: String, note: String) {
        self.reasonCode = reasonCode
        self.note = note
    }
}
