import Foundation

/// A log that could not be folded: which case, which event (sequence number) and why.
public struct CaseReplayError: Error, Hashable, Sendable, CustomStringConvertible {
    /// nil only for an empty log.
    public var caseID: CaseID?
    /// Sequence number of the refused event; nil for an empty log.
    public var sequence: UInt64?
    public var violation: CaseRuleViolation

    public init(caseID: CaseID?, sequence: UInt64?, violation: CaseRuleViolation) {
        self.caseID = caseID
        self.sequence = sequence
        self.violation = violation
    }

    public var description: String {
        "case \(caseID?.description ?? "?") event #\(sequence.map(String.init) ?? "?"): \(violation)"
    }
}
