import Foundation

/// The per-assignment state machine:
/// `sent → delivered → signed → (returnRequested → returnApproved | returnRejected) → replied → accepted | sentBack`.
/// `withdrawn` (our addition) closes an assignment the hotline no longer needs: a co-handler's assignment when
/// the lead's return is approved, or any open assignment superseded by a new dispatch round.
/// Transitions: `AssignmentStatus+Transitions.swift`.
public enum AssignmentStatus: String, Codable, Sendable, CaseIterable, Hashable {
    case sent
    case delivered
    case signed
    case returnRequested
    case returnApproved
    case returnRejected
    case replied
    case accepted
    case sentBack
    case withdrawn
}
