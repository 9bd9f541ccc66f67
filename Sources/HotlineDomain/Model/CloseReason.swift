import Foundation

/// How a case was closed (only by the hotline).
public enum CloseReason: String, Codable, Sendable, CaseIterable, Hashable {
    /// The citizen was reached on callback; the evaluation is recorded on the closure.
    case callbackCompleted
    /// The citizen could not be reached after the configured number of attempts (3 by default).
    case unreachable
}
