import Foundation

/// Why a request could not be routed or classified against the catalogue.
public enum RoutingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The jurisdiction code is not in the catalogue (no government to fall back to).
    case unknownJurisdiction(String)
    /// The category code is not in the catalogue (classification only; routing falls back instead).
    case unknownCategory(String)
    /// The SLA policy has no profile for the kind × urgency (always the case for P0).
    case noSLAProfile(SLAPolicyError)

    public var description: String {
        switch self {
        case .unknownJurisdiction(let code): "unknown jurisdiction '\(code)': not in the routing catalogue"
        case .unknownCategory(let code): "unknown category '\(code)': not in the routing catalogue"
        case .noSLAProfile(let error): error.description
        }
    }
}
