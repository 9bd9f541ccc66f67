import ActorCluster
import Foundation

/// Where each hotline actor lives now: the owner and placement epoch of every singleton (intake, callback,
/// supervision, analysis, each dispatch group and each district office), as one node's membership view places
/// them (`HotlinePlacement`, the runtime's `Placement`). A snapshot; `HotlineDirectoryView` holds the live one.
public struct HotlineDirectory: Codable, Sendable, Hashable {
    /// By placement key (`HotlineKey`).
    public var assignments: [String: Placement.Assignment]

    public init(assignments: [String: Placement.Assignment]) {
        self.assignments = assignments
    }

    /// Every key on `node` (a single node with no roles hosts everything), epoch 1.
    public static func allOn(_ node: NodeIdentity, catalogue: RoutingCatalogue) -> HotlineDirectory {
        HotlineDirectory(assignments: Dictionary(uniqueKeysWithValues: HotlinePlacement.keys(catalogue).map {
            ($0, Placement.Assignment(key: $0, node: node, epoch: 1, atHome: true))
        }))
    }

    public func owner(_ key: String) -> NodeIdentity? { assignments[key]?.node }
    public var intake: NodeIdentity? { owner(HotlineKey.intake) }
    public var callback: NodeIdentity? { owner(HotlineKey.callback) }
    public var supervision: NodeIdentity? { owner(HotlineKey.supervision) }
    public var analysis: NodeIdentity? { owner(HotlineKey.analysis) }
    public func district(_ code: String) -> NodeIdentity? { owner(HotlineKey.district(code)) }
    public func dispatchGroup(_ code: String) -> NodeIdentity? { owner(HotlineKey.dispatchGroup(code)) }

    /// Jurisdiction codes with a district office, sorted.
    public var districtCodes: [String] {
        assignments.keys.compactMap(HotlineKey.jurisdiction(of:)).sorted()
    }

    /// Nodes hosting at least one district office, sorted.
    public var districtHosts: [NodeIdentity] {
        Set(assignments.values.filter { HotlineKey.jurisdiction(of: $0.key) != nil }.compactMap(\.node)).sorted()
    }

    /// Keys with no owner now, sorted.
    public var unplaced: [String] { assignments.values.filter { $0.node == nil }.map(\.key).sorted() }
}

/// Placement keys of the hotline's singletons.
public enum HotlineKey {
    public static let intake = "intake"
    public static let callback = "callback"
    public static let supervision = "supervision"
    public static let analysis = "analysis"
    public static func dispatchGroup(_ code: String) -> String { "dispatch/\(code)" }
    public static func district(_ code: String) -> String { "district/\(code)" }

    /// The jurisdiction of a district key, nil for other keys.
    public static func jurisdiction(of key: String) -> String? {
        key.hasPrefix("district/") ? String(key.dropFirst("district/".count)) : nil
    }

    /// The well-known actor path of the singleton a key names.
    public static func path(of key: String) -> String {
        if let j = jurisdiction(of: key) { return HotlinePaths.district(j) }
        if key.hasPrefix("dispatch/") { return HotlinePaths.dispatchGroup(String(key.dropFirst("dispatch/".count))) }
        return "/hotline/" + key
    }

    /// Whether the key stops being hosted on a node without quorum (district offices and dispatch groups hold
    /// cases; two owners at once would split them).
    public static func needsQuorum(_ key: String) -> Bool {
        key.hasPrefix("district/") || key.hasPrefix("dispatch/")
    }
}

/// The hotline's placement rules: which member roles may host which singleton (`--roles`).
///
/// - A district office's home is the node with role `district:<code>`; failing that (or while that node is
///   down) any node with role `district` may host it.
/// - A dispatch group may live on any node with role `dispatch`; intake, callback, supervision and analysis on
///   nodes with the role of that name.
/// - A node with no roles may host everything.
public enum HotlinePlacement {
    /// A home node must stay up this long before its offices move back to it.
    public static let defaultSettleTime: Duration = .seconds(3)

    public static func keys(_ catalogue: RoutingCatalogue) -> [String] {
        [HotlineKey.intake, HotlineKey.callback, HotlineKey.supervision, HotlineKey.analysis]
            + catalogue.dispatchGroups.map { HotlineKey.dispatchGroup($0.code) }
            + catalogue.jurisdictions.map { HotlineKey.district($0.code) }
    }

    public static func rules(_ catalogue: RoutingCatalogue) -> [Placement.Rule] {
        var rules: [Placement.Rule] = [
            .init(key: HotlineKey.intake, eligibleRoles: [HotlineRoles.Role.intake.rawValue]),
            .init(key: HotlineKey.callback, eligibleRoles: [HotlineRoles.Role.callback.rawValue]),
            .init(key: HotlineKey.supervision, eligibleRoles: [HotlineRoles.Role.supervision.rawValue]),
            .init(key: HotlineKey.analysis, eligibleRoles: [HotlineRoles.Role.analysis.rawValue]),
        ]
        for g in catalogue.dispatchGroups {
            rules.append(.init(key: HotlineKey.dispatchGroup(g.code), eligibleRoles: [HotlineRoles.Role.dispatch.rawValue]))
        }
        for j in catalogue.jurisdictions {
            rules.append(.init(key: HotlineKey.district(j.code), homeRoles: ["district:\(j.code)"],
                               eligibleRoles: [HotlineRoles.Role.district.rawValue]))
        }
        return rules
    }

    /// The role strings a node gossips with its member entry: none for a node that hosts everything.
    public static func memberRoles(_ roles: HotlineRoles) -> [String] {
        roles == .everything ? [] : roles.roles.map(\.rawValue).sorted() + roles.districts.sorted().map { "district:\($0)" }
    }
}

/// Well-known actor paths of the hotline.
public enum HotlinePaths {
    public static let node = "/hotline/node"
    public static let intake = "/hotline/intake"
    public static let callback = "/hotline/callback"
    public static let supervision = "/hotline/supervision"
    public static let analysis = "/hotline/analysis"
    public static func dispatchGroup(_ code: String) -> String { "/hotline/dispatch/\(code)" }
    public static func district(_ code: String) -> String { "/hotline/district/\(code)" }
}

/// What a node hosts, from `--roles intake,dispatch,callback,supervision,analysis,district,district:210302`.
/// No roles at all means everything.
public struct HotlineRoles: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Role: String, Codable, Sendable, CaseIterable {
        case intake, dispatch, callback, supervision, analysis, district
    }

    public var roles: Set<Role>
    /// Jurisdictions pinned to this node (`district:<code>`).
    public var districts: Set<String>

    public static let everything = HotlineRoles(roles: Set(Role.allCases), districts: [])

    public init(roles: Set<Role>, districts: Set<String>) {
        self.roles = roles
        self.districts = districts
    }

    /// Parses a comma-separated list. Empty text = everything. Throws `HotlineError.badRoles`.
    public init(parsing text: String) throws {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else {
            self = .everything
            return
        }
        var roles = Set<Role>()
        var districts = Set<String>()
        for item in items {
            if item.hasPrefix("district:") {
                let code = String(item.dropFirst("district:".count))
                if code == "*" { roles.insert(.district) } else if !code.isEmpty { districts.insert(code) } else {
                    throw HotlineError.badRoles("\"\(item)\": empty district code")
                }
            } else if let r = Role(rawValue: item) {
                roles.insert(r)
            } else {
                throw HotlineError.badRoles("\"\(item)\" is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", ")), district:<code>")
            }
        }
        self.init(roles: roles, districts: districts)
    }

    public func has(_ role: Role) -> Bool { roles.contains(role) }
    public var hostsAnyDistrict: Bool { roles.contains(.district) }

    public var description: String {
        (roles.map(\.rawValue).sorted() + districts.sorted().map { "district:\($0)" }).joined(separator: ",")
    }
}
