import Foundation

/// Why a request could not be routed or classified against the catalogue.
public enum RoutingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The jurisdiction code is not in the catalogue (no government to fall back to).
    case unknownJurisdiction(String)
    /// The category code is not in the catalogue (classification only; routing falls back instead).
    case unknownCategory(String)
    /// The SLA policy has no profile for the kind × urgency (always the case for P0).
    case noSLAProfile(SLAPolicyError)
    /// A functional matter (`ServiceCategory.functionalMatter`) would go to a sub-district or community unit,
    /// which the State Council's 2025 guidance on 12345 platforms forbids.
    case functionalMatterPushedDown(category: String, unit: String, level: UnitLevel)

    public var description: String {
        switch self {
        case .unknownJurisdiction(let code): "unknown jurisdiction '\(code)': not in the routing catalogue"
        case .unknownCategory(let code): "unknown category '\(code)': not in the routing catalogue"
        case .noSLAProfile(let error): error.description
        case .functionalMatterPushedDown(let category, let unit, let level):
            "category '\(category)' is a functional department's matter and may not be dispatched to \(unit), a \(level.rawValue) unit (sub-districts and communities may not be given functional matters)"
        }
    }
}
