import ActorCluster
import Foundation
import Synchronization

/// What every hotline actor on a node shares once the node is configured: the actor system, the routing
/// catalogue, workflow settings (working calendar, limits), the clock and the live directory (where each
/// singleton lives now, from membership).
public final class HotlineContext: Sendable {
    public let system: ClusterSystem
    public let catalogue: RoutingCatalogue
    public let settings: WorkflowSettings
    public let clock: any HotlineClock
    public let directoryView: HotlineDirectoryView
    /// Replication of the district offices' events (`Docs/durability.md`).
    public let replication: Replication.Settings
    /// The in-memory replica service this context started (nil when the node runs its own, e.g. on its data
    /// directory): held here because the actor system does not keep actors alive.
    private let ownReplicator: Replicator?
    /// How often each district office hosted on this node runs its supervision on its own (reminders,
    /// escalations; `DistrictOffice.runSupervision`); nil: never (the replay driver ticks instead).
    public let supervisionInterval: Duration?
    /// A reopened case (citizen unsatisfied or unresolved, review rejected) is queued and dispatched again at
    /// once by its office (`WorkOrder.redispatchAfterReopen`); false: it waits reopened (replays, whose traces
    /// have no data for a second round).
    public let redispatchReopened: Bool
    /// Delivery to units' external systems: retry backoff and timeout (`DistrictOffice`'s courier).
    public let delivery: DeliverySettings
    /// Carries out deliveries to external systems (HTTP POST; tests may inject their own).
    public let gateway: any DepartmentGateway
    /// Bytes of changes after which a district office snapshots its cases into its stream (log compaction,
    /// Raft §7; at least half the last snapshot too). Default 8 MiB.
    public let snapshotMinBytes: Int
    /// Where district offices keep their archive files (their copy of their stream's snapshot, `CaseArchive`):
    /// `<data>/offices` on a node with a data directory; nil: a directory under the system's temporary one.
    public let archiveDirectory: String?

    /// How long a call whose target's node is unreachable (or no longer hosts it, or is recovering it) waits for
    /// the target to be placed elsewhere or to serve before failing: above the default suspicion timeout plus a
    /// recovery from the replicas, so a paused node's offices have moved and recovered by then.
    public static let failoverWait: Duration = .seconds(15)

    public init(system: ClusterSystem, catalogue: RoutingCatalogue, settings: WorkflowSettings,
                clock: any HotlineClock, directory: HotlineDirectoryView, replication: Replication.Settings = .init(),
                supervisionInterval: Duration? = nil, redispatchReopened: Bool = true,
                delivery: DeliverySettings = DeliverySettings(), gateway: (any DepartmentGateway)? = nil,
                snapshotMinBytes: Int = 8 << 20, archiveDirectory: String? = nil) {
        self.system = system
        self.snapshotMinBytes = max(1, snapshotMinBytes)
        self.archiveDirectory = archiveDirectory
        self.delivery = delivery
        self.gateway = gateway ?? HTTPDepartmentGateway.shared
        self.supervisionInterval = supervisionInterval
        self.redispatchReopened = redispatchReopened
        self.catalogue = catalogue
        self.settings = settings
        self.clock = clock
        self.directoryView = directory
        self.replication = replication
        // A node that was not given a replica store (`hotline node` starts one on its data directory) keeps its
        // replicas in memory.
        ownReplicator = try? Replicator.start(on: system, store: Replication.ReplicaStore(journal: nil))
    }

    /// The replica set of `stream` — the `replication.replicas` members that may host district offices (roles
    /// `district`, `district:<code>`, or none), highest rendezvous weight by address first — and the other up or
    /// suspect members (asked too when an office recovers). A system without membership holds its own replicas.
    public func replicaSet(for stream: String) -> (replicas: [NodeIdentity], others: [NodeIdentity]) {
        guard let membership = system.membership else { return ([system.node], []) }
        let live = membership.members.filter { $0.status == .up || $0.status == .suspect }
        let eligible = live.filter { m in m.roles.isEmpty || m.roles.contains { $0 == HotlineRoles.Role.district.rawValue || $0.hasPrefix("district:") } }
        let replicas = Replication.ReplicaPlacement.replicas(of: stream, among: eligible.map(\.node), count: replication.replicas)
        let others = live.map(\.node).filter { !replicas.contains($0) }
        return (replicas, others)
    }

    /// The directory now.
    public var directory: HotlineDirectory { directoryView.current }

    /// The node clock — or, on a node running virtual time (a replay), the time the call being handled carries
    /// (`VirtualTime`) when it has a plausible one. A live node (system clock) ignores a call's time: no peer
    /// chooses the instants a live node stamps on cases or runs its SLA clocks by.
    public var now: Date {
        if clock is VirtualClock, let carried = VirtualTime.current { return carried }
        return clock.now
    }

    /// The district office of `jurisdiction` where it is placed now (local instance or remote proxy).
    /// Throws `HotlineError.routing` when the catalogue has no such jurisdiction or no node may host it now.
    public func districtOffice(_ jurisdiction: String) throws -> DistrictOffice {
        try DistrictOffice.resolve(id: id(of: HotlineKey.district(jurisdiction), what: "district office for jurisdiction \(jurisdiction)"),
                                   using: system)
    }

    /// The routing group `code`. Throws `HotlineError.routing`.
    public func routingGroup(_ code: String) throws -> RoutingGroup {
        try RoutingGroup.resolve(id: id(of: HotlineKey.dispatchGroup(code), what: "dispatch group \(code)"), using: system)
    }

    public func callbackDesk() throws -> CallbackDesk {
        try CallbackDesk.resolve(id: id(of: HotlineKey.callback, what: "callback desk"), using: system)
    }

    public func intakeDesk() throws -> IntakeDesk {
        try IntakeDesk.resolve(id: id(of: HotlineKey.intake, what: "intake desk"), using: system)
    }

    /// Every district office, in jurisdiction-code order.
    public func allDistrictOffices() throws -> [DistrictOffice] {
        try directory.districtCodes.map { try districtOffice($0) }
    }

    /// Runs `body` on the district office of `jurisdiction`, following it when it moves: when the call fails
    /// because its node is unreachable or no longer hosts the office, or was refused unrun because a queue or
    /// the callee's in-flight limit was full (`RemoteCallError.isRetryable`: `nodeUnreachable`, `noSuchActor`,
    /// `overloaded`, `remoteOverloaded`), calls again (every 100–250 ms, at most `failoverWait` in all) wherever
    /// the office is placed by then — elsewhere once it moved, or the same node once its connection is back or
    /// its load is down; after `failoverWait` the last such error is thrown. Other errors pass through at once:
    /// `HotlineError`s (a rule violation is never retried), timeouts (the call may have run), and
    /// `RemoteCallError.relayed` (the office answered; a call it made failed).
    ///
    /// A call whose node died after acting but before answering is repeated on the new owner (at least once);
    /// the workflow's own rules refuse a repeated step there.
    ///
    /// - Parameter within: the most time to spend (nil: `failoverWait`). A call made while serving a remote
    ///   caller passes `nestedCallBudget`, so that it answers (`unavailable`, which the caller can act on) before
    ///   the caller's call times out (a timeout says nothing of what ran, and is not queued).
    public func onDistrictOffice<T: Sendable>(_ jurisdiction: String, within budget: Duration? = nil,
                                              _ body: @Sendable (DistrictOffice) async throws -> T) async throws -> T {
        try await withFailover(HotlineKey.district(jurisdiction), within: budget) { try await body(try self.districtOffice(jurisdiction)) }
    }

    /// `onDistrictOffice` for a dispatch group.
    public func onRoutingGroup<T: Sendable>(_ code: String, within budget: Duration? = nil,
                                            _ body: @Sendable (RoutingGroup) async throws -> T) async throws -> T {
        try await withFailover(HotlineKey.dispatchGroup(code), within: budget) { try await body(try self.routingGroup(code)) }
    }

    /// `onDistrictOffice` for the intake desk.
    /// - Parameter retryUnavailable: false: `HotlineError.unavailable` (the desk, or an office it called, is
    ///   recovering) is thrown at once instead of retried, for a caller that queues the request then.
    public func onIntakeDesk<T: Sendable>(retryUnavailable: Bool = true, _ body: @Sendable (IntakeDesk) async throws -> T) async throws -> T {
        try await withFailover(HotlineKey.intake, retryUnavailable: retryUnavailable) { try await body(try self.intakeDesk()) }
    }

    /// The most time a call made while serving a remote call may spend following its target (`onDistrictOffice`'s
    /// `within`): the cluster's call timeout less 1.5 s, at least 1 s.
    public var nestedCallBudget: Duration { max(.seconds(1), system.settings.callTimeout - .milliseconds(1_500)) }

    /// `onDistrictOffice` for the callback desk.
    public func onCallbackDesk<T: Sendable>(_ body: @Sendable (CallbackDesk) async throws -> T) async throws -> T {
        try await withFailover(HotlineKey.callback) { try await body(try self.callbackDesk()) }
    }

    private func withFailover<T: Sendable>(_ key: String, within budget: Duration? = nil, retryUnavailable: Bool = true,
                                           _ attempt: @Sendable () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + (budget ?? Self.failoverWait)
        var lastError: (any Error)?
        // Bounded: each retry waits for a move or the deadline.
        for _ in 0..<200 {
            let owner = directoryView.current.owner(key)
            do {
                if owner == nil { throw HotlineError.routing("no node may host \(key) now") }
                return try await attempt()
            } catch let error as RemoteCallError {
                guard error.isRetryable else { throw error }
                lastError = error
            } catch HotlineError.routing(let why) where owner == nil {
                lastError = HotlineError.routing(why)
            } catch HotlineError.unavailable(let why) {
                // Recovering from its replicas, or fenced by a newer owner: nothing was recorded.
                guard retryUnavailable else { throw HotlineError.unavailable(why) }
                lastError = HotlineError.unavailable(why)
                // Another attempt may wait `DistrictOffice.readyWait` before it answers: not started when it
                // would end after the deadline.
                if ContinuousClock.now + DistrictOffice.readyWait > deadline { break }
            }
            let now = ContinuousClock.now
            guard now < deadline else { break }
            // Wait for the target to move, but try the same owner again shortly: one that answers "no such actor"
            // is most likely still creating it, a lost connection to a live owner is redialled (a step repeated
            // because its reply was lost returns the event recorded the first time, `DistrictOffice.record`), and an overloaded one drains.
            var missing = false
            if case .noSuchActor? = lastError as? RemoteCallError { missing = true }
            await directoryView.waitForMove(of: key, from: owner,
                                            until: min(deadline, now + (missing ? .milliseconds(100) : .milliseconds(250))))
        }
        throw lastError ?? HotlineError.routing("\(key) could not be reached")
    }

    private func id(of key: String, what: String) throws -> ClusterSystem.ActorID {
        let d = directory
        guard d.assignments[key] != nil else { throw HotlineError.routing("no \(what) in the catalogue") }
        guard let node = d.owner(key) else { throw HotlineError.routing("no node may host the \(what) now") }
        return ClusterSystem.wellKnownID(HotlineKey.path(of: key), on: node)
    }
}

/// The live directory of a node or a driver: replaced whenever placement moves something (a member's own
/// placement, or — for a tool that is not a member — a copy fetched from a member by `refresh`).
public final class HotlineDirectoryView: Sendable {
    private let state: Mutex<HotlineDirectory>
    private let refresh: (@Sendable () async -> HotlineDirectory?)?

    /// - Parameter refresh: fetches a fresh copy (tools that are not members); nil for members, whose placement
    ///   updates the view itself.
    public init(_ initial: HotlineDirectory, refresh: (@Sendable () async -> HotlineDirectory?)? = nil) {
        state = Mutex(initial)
        self.refresh = refresh
    }

    public var current: HotlineDirectory { state.withLock { $0 } }

    public func update(_ directory: HotlineDirectory) { state.withLock { $0 = directory } }

    /// Returns once `key`'s owner is no longer `from` (refreshing every 50 ms when the view has a refresher,
    /// polling every 20 ms otherwise), or at `until`.
    public func waitForMove(of key: String, from: NodeIdentity?, until: ContinuousClock.Instant) async {
        let step: Duration = refresh == nil ? .milliseconds(20) : .milliseconds(50)
        while ContinuousClock.now < until {
            if let refresh, let fresh = await refresh() { update(fresh) }
            if let owner = current.owner(key), owner != from { return }
            try? await Task.sleep(for: step)
        }
    }
}

/// A case's address in the cluster: its id, human number and the jurisdiction whose office holds it.
public struct CaseRef: Codable, Sendable, Hashable, CustomStringConvertible {
    public var id: CaseID
    public var number: CaseNumber
    public var jurisdiction: String

    public init(id: CaseID, number: CaseNumber, jurisdiction: String) {
        self.id = id
        self.number = number
        self.jurisdiction = jurisdiction
    }

    public var description: String { "\(number) (\(id), \(jurisdiction))" }
}
