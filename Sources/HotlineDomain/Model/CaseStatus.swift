import Foundation

/// The authoritative status of a case (BRIEF §4 table). The allowed transitions are in
/// `CaseStatus+Transitions.swift`.
public enum CaseStatus: String, Codable, Sendable, CaseIterable, Hashable {
    /// Being captured; already persisted.
    case draft
    /// Valid and classified; citizen + location captured.
    case accepted
    /// Answered at intake from a knowledge-base article. Terminal.
    case answeredDirect
    /// Not a hotline matter; reason code recorded. Terminal.
    case outOfScope
    /// Handed to 110/119/120. Terminal for hotline KPIs.
    case transferredEmergency
    /// Duplicate of an open parent; follows it; its own citizen still gets a callback.
    case merged
    /// In a dispatch group's queue.
    case pendingDispatch
    /// Assignment(s) sent; the lead unit has not signed.
    case dispatched
    /// The lead unit signed.
    case inProgress
    /// The lead unit returned it as mis-routed; the dispatcher (or arbitration) decides.
    case returnReview
    /// The lead unit replied; awaiting the hotline's review.
    case replied
    /// Reply accepted; the hotline must call the citizen back.
    case pendingCallback
    /// Citizen unsatisfied/unresolved, recontact after closing, or review rejected: back to dispatch.
    case reopened
    /// Callback done (or unreachable after N attempts); evaluation recorded.
    case closed
}
