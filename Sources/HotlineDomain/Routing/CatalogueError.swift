import Foundation

/// Why a routing catalogue was rejected on load. Every case names the offending field as a path,
/// e.g. `rules[12].lead`.
public enum CatalogueError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The JSON could not be decoded; the decoder's explanation (with its coding path).
    case malformed(String)
    case emptyField(field: String)
    /// A value out of its range (e.g. a threshold above 1), with why.
    case invalidValue(field: String, reason: String)
    case duplicateCode(field: String, code: String)
    /// A jurisdiction or dispatch-group code that cannot name an actor (`Jurisdiction.isUsableCode`).
    case unusableCode(field: String, code: String)
    case unknownUnit(field: String, code: String)
    case unknownSector(field: String, code: String)
    case unknownJurisdiction(field: String, code: String)
    case unknownCategory(field: String, code: String)
    case unknownDispatchGroup(field: String, code: String)
    case unknownSLAPolicy(field: String, id: String)
    /// A jurisdiction listed by two dispatch groups.
    case jurisdictionOwnedByTwoGroups(field: String, jurisdiction: String, groups: [String])
    /// A jurisdiction no dispatch group owns (its fallback would have no group).
    case jurisdictionWithoutGroup(field: String, jurisdiction: String)
    case leadAlsoCoUnit(field: String, code: String)
    /// Two rules for the same category × jurisdiction.
    case duplicateRule(field: String, category: String, jurisdiction: String)
    /// An SLA policy lacks a profile that a non-emergency case may need.
    case incompleteSLAPolicy(field: String, kind: CaseKind, urgency: Urgency)
    /// Rule `rule` routes functional matter `category` to `unit`, a sub-district or community unit (the State
    /// Council's 2025 guidance forbids pushing functional matters down).
    case functionalMatterPushedDown(field: String, rule: String, category: String, unit: String, level: UnitLevel)

    /// The offending field path.
    public var field: String {
        switch self {
        case .malformed: "(document)"
        case .emptyField(let f), .invalidValue(let f, _), .duplicateCode(let f, _), .unusableCode(let f, _), .unknownUnit(let f, _), .unknownSector(let f, _),
             .unknownJurisdiction(let f, _), .unknownCategory(let f, _), .unknownDispatchGroup(let f, _),
             .unknownSLAPolicy(let f, _), .jurisdictionOwnedByTwoGroups(let f, _, _),
             .jurisdictionWithoutGroup(let f, _), .leadAlsoCoUnit(let f, _), .duplicateRule(let f, _, _),
             .incompleteSLAPolicy(let f, _, _), .functionalMatterPushedDown(let f, _, _, _, _):
            f
        }
    }

    public var description: String {
        switch self {
        case .malformed(let detail): "routing catalogue is malformed: \(detail)"
        case .emptyField(let f): "routing catalogue field '\(f)' is empty"
        case .invalidValue(let f, let reason): "routing catalogue field '\(f)': \(reason)"
        case .unusableCode(let f, let code):
            "routing catalogue field '\(f)': code \(code.debugDescription) is not usable (1-64 ASCII letters, digits, '-', '_', '.')"
        case .duplicateCode(let f, let code): "routing catalogue field '\(f)': code '\(code)' is used twice"
        case .unknownUnit(let f, let code): "routing catalogue field '\(f)': unknown unit '\(code)'"
        case .unknownSector(let f, let code): "routing catalogue field '\(f)': unknown sector '\(code)'"
        case .unknownJurisdiction(let f, let code): "routing catalogue field '\(f)': unknown jurisdiction '\(code)'"
        case .unknownCategory(let f, let code): "routing catalogue field '\(f)': unknown category '\(code)'"
        case .unknownDispatchGroup(let f, let code): "routing catalogue field '\(f)': unknown dispatch group '\(code)'"
        case .unknownSLAPolicy(let f, let id): "routing catalogue field '\(f)': unknown SLA policy '\(id)'"
        case .jurisdictionOwnedByTwoGroups(let f, let j, let groups):
            "routing catalogue field '\(f)': jurisdiction '\(j)' is owned by groups \(groups.joined(separator: ", "))"
        case .jurisdictionWithoutGroup(let f, let j):
            "routing catalogue field '\(f)': jurisdiction '\(j)' is owned by no dispatch group"
        case .leadAlsoCoUnit(let f, let code): "routing catalogue field '\(f)': lead '\(code)' is also a co-unit"
        case .duplicateRule(let f, let category, let j):
            "routing catalogue field '\(f)': a second rule for category '\(category)' × jurisdiction '\(j)'"
        case .incompleteSLAPolicy(let f, let kind, let urgency):
            "routing catalogue field '\(f)': no profile for \(kind.rawValue) × \(urgency.rawValue)"
        case .functionalMatterPushedDown(let f, let rule, let category, let unit, let level):
            "routing catalogue field '\(f)': rule '\(rule)' routes functional matter '\(category)' to \(unit), a \(level.rawValue) unit (functional matters may not be pushed down to sub-districts or communities)"
        }
    }
}
