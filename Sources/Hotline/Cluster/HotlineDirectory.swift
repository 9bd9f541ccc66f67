import ActorCluster
import Foundation

/// Where each hotline actor lives: the placement of the workflow actors over node processes.
///
/// Paths are fixed (`HotlinePaths`); the directory says which node hosts each. Built from node roles by
/// whoever starts the cluster (`hotline replay` today; the membership layer's receptionist later) and
/// handed to every node with `HotlineNode.configure(_:)`.
public struct HotlineDirectory: Codable, Sendable, Hashable {
    public var intake: NodeIdentity
    public var callback: NodeIdentity
    public var supervision: NodeIdentity
    public var analysis: NodeIdentity
    /// Dispatch group code → node hosting its `RoutingGroup`.
    public var dispatchGroups: [String: NodeIdentity]
    /// Jurisdiction code → node hosting its `DistrictOffice`.
    public var districts: [String: NodeIdentity]

    public init(intake: NodeIdentity, callback: NodeIdentity, supervision: NodeIdentity, analysis: NodeIdentity,
                dispatchGroups: [String: NodeIdentity], districts: [String: NodeIdentity]) {
        self.intake = intake
        self.callback = callback
        self.supervision = supervision
        self.analysis = analysis
        self.dispatchGroups = dispatchGroups
        self.districts = districts
    }

    /// Everything on one node (a single node with no roles hosts everything).
    public static func allOn(_ node: NodeIdentity, catalogue: RoutingCatalogue) -> HotlineDirectory {
        HotlineDirectory(intake: node, callback: node, supervision: node, analysis: node,
                         dispatchGroups: Dictionary(uniqueKeysWithValues: catalogue.dispatchGroups.map { ($0.code, node) }),
                         districts: Dictionary(uniqueKeysWithValues: catalogue.jurisdictions.map { ($0.code, node) }))
    }

    /// Places actors on nodes by their roles: each role goes to the first node that has it; district offices
    /// go to nodes with `district:<code>` or, failing that, round-robin over nodes with role `district`
    /// (or `district:*`). Throws `HotlineError.placement` naming what no node can host.
    public static func place(roles: [(node: NodeIdentity, roles: HotlineRoles)],
                             catalogue: RoutingCatalogue) throws -> HotlineDirectory {
        func first(_ role: HotlineRoles.Role) throws -> NodeIdentity {
            guard let n = roles.first(where: { $0.roles.has(role) })?.node else {
                throw HotlineError.placement("no node has role \(role)")
            }
            return n
        }
        let districtHosts = roles.filter { $0.roles.hostsAnyDistrict }.map(\.node)
        var districts: [String: NodeIdentity] = [:]
        var next = 0
        for j in catalogue.jurisdictions.map(\.code) {
            if let pinned = roles.first(where: { $0.roles.districts.contains(j) }) {
                districts[j] = pinned.node
            } else {
                guard !districtHosts.isEmpty else { throw HotlineError.placement("no node hosts district \(j)") }
                districts[j] = districtHosts[next % districtHosts.count]
                next += 1
            }
        }
        let dispatchNode = try first(.dispatch)
        return HotlineDirectory(
            intake: try first(.intake), callback: try first(.callback), supervision: try first(.supervision),
            analysis: try first(.analysis),
            dispatchGroups: Dictionary(uniqueKeysWithValues: catalogue.dispatchGroups.map { ($0.code, dispatchNode) }),
            districts: districts)
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
