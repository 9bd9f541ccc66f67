import Foundation

/// A case log left out of a KPI report because it does not replay — said out loud, never dropped silently.
public struct RejectedLog: Hashable, Codable, Sendable {
    public var caseID: CaseID?
    /// Sequence number of the refused event.
    public var sequence: UInt64?
    public var reason: String

    public init(caseID: CaseID?, sequence: UInt64?, reason: String) {
        self.caseID = caseID
        self.sequence = sequence
        self.reason = reason
    }
}
