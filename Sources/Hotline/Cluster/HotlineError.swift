import ActorCluster

/// Why a hotline operation was refused, for operators and callers.
///
/// A `WireError` (`"hotline.HotlineError"`): thrown by a remote actor it arrives as itself — `catch
/// HotlineError.ruleViolation(let why)` works on a remote call as on a local one — on every system that ran
/// `HotlineError.registerWireErrors(on:)` (hotline nodes, the replay driver, the CLI's client). Elsewhere it
/// arrives as `RemoteCallError.remoteError` whose message is this description. Passed on unchanged by actors
/// that call other actors (an intake desk rethrows the office's `ruleViolation`).
public enum HotlineError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    /// A citizen request that cannot be accepted, with the reason (empty text, unknown category, ...).
    case invalidRequest(String)
    /// No case with this id on the district office asked.
    case unknownCase(String)
    /// A workflow rule refused the change (`CaseRuleViolation` text).
    case ruleViolation(String)
    /// Routing failed (unknown jurisdiction/category, no SLA profile).
    case routing(String)
    /// The node is not configured yet (no catalogue/directory), or a role is not hosted here.
    case notConfigured(String)
    /// Actors cannot be placed on the nodes given.
    case placement(String)
    /// A bad `--roles` value.
    case badRoles(String)
    /// The clock cannot be moved that way (not virtual, or backwards).
    case clock(String)
    /// Reserved for operators (a caller that proved the operator secret), e.g. recording as the system.
    case notPermitted(String)
    /// The office cannot serve now: it is recovering its cases from the replicas, cannot reach a quorum of
    /// them, or a newer owner took it over (fenced). Nothing was recorded; retry (callers' failover does).
    case unavailable(String)
    /// A dispatch would push a functional department's matter (`ServiceCategory.functionalMatter`) down to a
    /// sub-district or community unit (`unit`, at `level`), which the State Council's 2025 guidance forbids.
    /// Nothing was recorded.
    case functionalMatterPushedDown(category: String, unit: String, level: String)

    public var description: String {
        switch self {
        case .invalidRequest(let why): "request rejected: \(why)"
        case .unknownCase(let id): "unknown case \(id)"
        case .ruleViolation(let why): "rule violation: \(why)"
        case .routing(let why): "routing failed: \(why)"
        case .notConfigured(let why): "not configured: \(why)"
        case .placement(let why): "placement failed: \(why)"
        case .badRoles(let why): "bad roles: \(why)"
        case .clock(let why): "clock: \(why)"
        case .notPermitted(let why): "not permitted: \(why)"
        case .unavailable(let why): "unavailable: \(why)"
        case .functionalMatterPushedDown(let category, let unit, let level):
            "dispatch refused: category \(category) is a functional department's matter and may not be pushed down to \(unit), a \(level) unit"
        }
    }
}

extension HotlineError: WireError {
    /// `"hotline.HotlineError"`: stable across versions; add cases (older callers get `remoteError` for them).
    public static var wireName: String { "hotline.HotlineError" }

    /// Lets `system` rethrow every error the hotline's actors throw across nodes typed (today `HotlineError`;
    /// workflow errors such as `CaseRuleViolation` cross as `HotlineError.ruleViolation`). Call it right after
    /// creating the system, before calling any hotline actor.
    ///
    /// - Throws: `ClusterSystemError.wireNameInUse` when another type was registered under a hotline wire name.
    public static func registerWireErrors(on system: ClusterSystem) throws {
        try system.registerWireError(HotlineError.self)
    }
}
