import Foundation

extension CaseStatus {
    /// The case transition table (BRIEF §4). Each entry is `from → allowed targets`; the event that causes
    /// each transition is listed in `Docs/domain.md`.
    public static let transitions: [CaseStatus: Set<CaseStatus>] = [
        .draft: [.accepted, .outOfScope, .transferredEmergency],
        .accepted: [.answeredDirect, .outOfScope, .transferredEmergency, .merged, .pendingDispatch],
        .answeredDirect: [],
        .outOfScope: [],
        .transferredEmergency: [],
        .merged: [.pendingCallback],
        .pendingDispatch: [.dispatched, .merged, .outOfScope],
        .dispatched: [.inProgress, .returnReview],
        .inProgress: [.returnReview, .replied],
        .returnReview: [.pendingDispatch, .inProgress, .dispatched],
        .replied: [.pendingCallback, .reopened],
        .pendingCallback: [.closed, .reopened],
        .reopened: [.pendingDispatch],
        .closed: [.reopened],
    ]

    /// True when the table allows `self → target`.
    public func canTransition(to target: CaseStatus) -> Bool {
        Self.transitions[self]?.contains(target) ?? false
    }

    /// `answeredDirect`, `outOfScope`, `transferredEmergency`: nothing follows.
    public var isTerminal: Bool { Self.transitions[self]?.isEmpty ?? true }

    /// Neither terminal nor closed (a closed case can still be reopened within the repeat window).
    public var isOpen: Bool { !isTerminal && self != .closed }

    /// Open states a duplicate may be merged into, or a repeat contact linked to.
    public var acceptsLinks: Bool { isOpen && self != .draft && self != .merged }
}
