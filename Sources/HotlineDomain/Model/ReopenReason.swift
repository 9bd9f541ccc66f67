import Foundation

/// Why a case went back to dispatch.
public enum ReopenReason: String, Codable, Sendable, CaseIterable, Hashable {
    /// Reached on callback and unsatisfied.
    case citizenUnsatisfied
    /// Reached on callback and the matter is not resolved.
    case citizenUnresolved
    /// The citizen contacted again after the case was closed (within the repeat window).
    case citizenRecontact
    /// The hotline's review rejected the lead's reply (recorded by `replyReviewed(accepted: false)`).
    case reviewRejected
}
