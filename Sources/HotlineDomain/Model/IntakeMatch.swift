import Foundation

/// Why intake linked a contact to an existing case instead of opening a new one: the evidence recorded on the
/// event (`repeatContactLinked`, `mergedInto`).
public struct IntakeMatch: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Which field of the request matched the case.
    public enum Field: String, Hashable, Codable, Sendable, CaseIterable {
        /// The caller's phone (digits only, a leading `86`/`+86`/`0086` dropped) equals the case's.
        case phone
        /// The address (compared without case, spaces and punctuation, NFKC) equals the case's, same category.
        case address
        /// The agent chose the case (`hotline submit --about CASE`).
        case explicit
    }

    public var field: Field
    /// The catalogue's rule that matched (`IntakeMatchRule.id`); nil for `explicit`.
    public var rule: String?
    /// The matched case's status when the contact came: `closed` means the contact came after close and
    /// reopened the case.
    public var caseStatus: CaseStatus
    /// The matched case's latest contact (its intake, or a contact linked to it) before this one.
    public var latestContactAt: Date?

    public init(field: Field, rule: String?, caseStatus: CaseStatus, latestContactAt: Date?) {
        self.field = field
        self.rule = rule
        self.caseStatus = caseStatus
        self.latestContactAt = latestContactAt
    }

    /// True when the contact came after the case was closed (it reopened the case).
    public var afterClose: Bool { caseStatus == .closed }

    /// `phone (rule repeat-by-phone), case was closed`.
    public var description: String {
        "\(field.rawValue)\(rule.map { " (rule \($0))" } ?? ""), case was \(caseStatus.rawValue)"
    }
}

/// What intake did with a contact about an existing case: told on the receipt (`IntakeReceipt.link`).
public struct IntakeLink: Hashable, Codable, Sendable {
    public enum Kind: String, Hashable, Codable, Sendable {
        /// Linked to the open case as a repeat contact (no new case, no new number).
        case repeatContact
        /// The same caller about a case closed within the repeat window: the case was reopened (and dispatched
        /// again), the contact linked to it.
        case reopened
        /// Another caller about the same matter: a case of their own (their own number and callback) merged
        /// under the lead case.
        case merged
    }

    public var kind: Kind
    /// The existing case (repeat contact, reopened) or the lead case (merged).
    public var target: CaseID
    public var targetNumber: CaseNumber
    public var match: IntakeMatch

    public init(kind: Kind, target: CaseID, targetNumber: CaseNumber, match: IntakeMatch) {
        self.kind = kind
        self.target = target
        self.targetNumber = targetNumber
        self.match = match
    }
}
