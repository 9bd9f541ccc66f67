import ActorCluster
import Distributed
import Foundation

/// What a node is told when the cluster is set up: the catalogue, workflow settings, the directory, and —
/// for replays — a virtual start time (the driver then owns time and moves it with `setClock`).
public struct HotlineConfiguration: Codable, Sendable {
    public var catalogue: RoutingCatalogue
    public var settings: WorkflowSettings
    public var directory: HotlineDirectory
    /// nil: the node runs on the system clock.
    public var virtualStart: Date?

    public init(catalogue: RoutingCatalogue, settings: WorkflowSettings, directory: HotlineDirectory,
                virtualStart: Date?) {
        self.catalogue = catalogue
        self.settings = settings
        self.directory = directory
        self.virtualStart = virtualStart
    }
}

/// A case and its events, as `hotline case` prints it.
public struct CaseHistory: Codable, Sendable {
    public var snapshot: CaseSnapshot
    public var events: [CaseEvent]
}

/// What `HotlineNode.info()` reports.
public struct HotlineNodeInfo: Codable, Sendable {
    public var roles: HotlineRoles
    public var configured: Bool
    public var now: Date
    public var virtualTime: Bool
    public var hostedPaths: [String]
}

/// The hotline's per-node control actor (`/hotline/node`): creates this node's workflow actors when the
/// cluster is configured, and moves the node's virtual clock during a replay.
public distributed actor HotlineNode {
    public typealias ActorSystem = ClusterSystem

    private let roles: HotlineRoles
    private var context: HotlineContext?
    private var virtualClock: VirtualClock?
    private var hosted: [any DistributedActor] = []
    private var hostedPaths: [String] = []

    public init(roles: HotlineRoles, actorSystem: ClusterSystem) {
        self.roles = roles
        self.actorSystem = actorSystem
    }

    /// Starts the node actor at its well-known path.
    /// Creates the node actor at its well-known path and reserves the control functions for operators
    /// (`operatorOnlyFunctions`).
    public static func start(on system: ClusterSystem, roles: HotlineRoles) throws -> HotlineNode {
        system.restrictToOperators(operatorOnlyFunctions)
        return try system.makeWellKnown(path: HotlinePaths.node) { HotlineNode(roles: roles, actorSystem: system) }
    }

    /// Functions only an operator may call from another process (a caller that proved the operator secret,
    /// `hotline node --operator-secret-file`): they reshape or re-time the whole node, so no member — a peer
    /// node on another version, or one that misbehaves — may call them. Recording events as the `system`
    /// author is reserved the same way, inside `DistrictOffice.record`.
    /// - `configure`: which workflow actors the node hosts, with which catalogue, settings and directory.
    /// - `setClock`: moves the node's virtual clock (replays); every SLA deadline reads it.
    public static let operatorOnlyFunctions = ["Hotline.HotlineNode.configure", "Hotline.HotlineNode.setClock"]

    /// The node actor on `node`.
    public static func on(_ node: NodeIdentity, system: ClusterSystem) throws -> HotlineNode {
        try HotlineNode.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.node, on: node), using: system)
    }

    /// Creates the workflow actors the directory places on this node. Returns their paths.
    ///
    /// - Throws: `HotlineError.notConfigured` when already configured, or a path error.
    public distributed func configure(_ configuration: HotlineConfiguration) throws -> [String] {
        guard context == nil else { throw HotlineError.notConfigured("node is already configured") }
        let system = actorSystem
        let me = system.node
        let clock: any HotlineClock
        if let start = configuration.virtualStart {
            let v = VirtualClock(start: start)
            virtualClock = v
            clock = v
        } else {
            clock = SystemClock()
        }
        let ctx = HotlineContext(system: system, catalogue: configuration.catalogue, settings: configuration.settings,
                                 clock: clock, directory: configuration.directory)
        let d = configuration.directory
        func host<A: DistributedActor>(_ path: String, _ make: () -> A) throws where A.ID == ClusterSystem.ActorID {
            hosted.append(try system.makeWellKnown(path: path, make))
            hostedPaths.append(path)
        }
        if d.intake == me { try host(HotlinePaths.intake) { IntakeDesk(context: ctx) } }
        if d.callback == me { try host(HotlinePaths.callback) { CallbackDesk(context: ctx) } }
        if d.supervision == me { try host(HotlinePaths.supervision) { Supervisor(context: ctx) } }
        if d.analysis == me { try host(HotlinePaths.analysis) { Analyst(context: ctx) } }
        for (code, node) in d.dispatchGroups.sorted(by: { $0.key < $1.key }) where node == me {
            try host(HotlinePaths.dispatchGroup(code)) { RoutingGroup(group: code, context: ctx) }
        }
        for (code, node) in d.districts.sorted(by: { $0.key < $1.key }) where node == me {
            try host(HotlinePaths.district(code)) { DistrictOffice(jurisdiction: code, context: ctx) }
        }
        context = ctx
        system.logger.info("hotline.configured", ["catalogue": configuration.catalogue.version,
                                                 "hosted": hostedPaths.count,
                                                 "virtualTime": configuration.virtualStart != nil])
        return hostedPaths
    }

    /// Moves this node's virtual clock to `instant` (never backwards).
    ///
    /// - Throws: `HotlineError.clock` when the node runs on the system clock or `instant` is in its past.
    public distributed func setClock(to instant: Date) throws {
        guard let virtualClock else { throw HotlineError.clock("this node runs on the system clock") }
        guard virtualClock.set(to: instant) else {
            throw HotlineError.clock("cannot move back from \(virtualClock.now) to \(instant)")
        }
    }

    /// Passes a citizen request to the cluster's intake desk (so any node is an entry point).
    ///
    /// - Throws: `HotlineError.notConfigured`, or what intake throws.
    public distributed func submit(_ request: CitizenRequest) async throws -> IntakeReceipt {
        guard let context else { throw HotlineError.notConfigured("no catalogue/directory yet") }
        let intake = try IntakeDesk.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.intake, on: context.directory.intake),
                                            using: context.system)
        return try await intake.submit(request)
    }

    /// A case's current state and full event history, found by case id or human number (`2026-000123`)
    /// across every district office.
    ///
    /// - Throws: `HotlineError.unknownCase` when no office holds it, `.notConfigured`.
    public distributed func findCase(_ key: String) async throws -> CaseHistory {
        guard let context else { throw HotlineError.notConfigured("no catalogue/directory yet") }
        let number = CaseNumber(parsing: key)
        for office in try context.allDistrictOffices() {
            if let number {
                if let snap = try await office.find(number: number) {
                    return CaseHistory(snapshot: snap, events: try await office.events(of: snap.id))
                }
            } else if let events = try? await office.events(of: CaseID(key)) {
                return CaseHistory(snapshot: try await office.snapshot(CaseID(key)), events: events)
            }
        }
        throw HotlineError.unknownCase(key)
    }

    /// Runs supervision on every district office hosted on this node (local calls). Returns escalations
    /// recorded.
    public distributed func runLocalSupervision() async throws -> Int {
        var total = 0
        for case let office as DistrictOffice in hosted {
            total += try await office.runSupervision()
        }
        return total
    }

    public distributed func info() -> HotlineNodeInfo {
        HotlineNodeInfo(roles: roles, configured: context != nil, now: context?.now ?? Date(),
                        virtualTime: virtualClock != nil, hostedPaths: hostedPaths)
    }
}
