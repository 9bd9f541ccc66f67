import Foundation

/// One reopening of a case.
public struct Reopening: Hashable, Codable, Sendable {
    public var at: Date
    public var from: CaseStatus
    public var reason: ReopenReason
    public var note: String
    /// True when the case was reopened from `closed` within the repeat window (30 natural days by default):
    /// it counts as a repeat contact.
    public var countsAsRepeat: Bool

    public init(at: Date, from: CaseStatus, reason: ReopenReason, note: String, countsAsRepeat: Bool) {
        self.at = at
        self.from = from
        self.reason = reason
        self.note = note
        self.countsAsRepeat = countsAsRepeat
    }
}
