import Foundation

/// Why an SLA profile could not be resolved.
public enum SLAPolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The policy has no profile for this kind × urgency (P0 never has one: it is transferred, not handled).
    case noProfile(policy: String, kind: CaseKind, urgency: Urgency)

    public var description: String {
        switch self {
        case .noProfile(let policy, let kind, let urgency):
            "SLA policy '\(policy)' has no profile for \(kind.rawValue) × \(urgency.rawValue)"
        }
    }
}
