import ActorCluster
import Foundation

/// What every hotline actor on a node shares once the node is configured: the actor system, the routing
/// catalogue, workflow settings (working calendar, limits), the clock and the directory. Immutable.
public final class HotlineContext: Sendable {
    public let system: ClusterSystem
    public let catalogue: RoutingCatalogue
    public let settings: WorkflowSettings
    public let clock: any HotlineClock
    public let directory: HotlineDirectory

    public init(system: ClusterSystem, catalogue: RoutingCatalogue, settings: WorkflowSettings,
                clock: any HotlineClock, directory: HotlineDirectory) {
        self.system = system
        self.catalogue = catalogue
        self.settings = settings
        self.clock = clock
        self.directory = directory
    }

    /// The node clock — or, on a node running virtual time (a replay), the time the call being handled carries
    /// (`VirtualTime`) when it has a plausible one. A live node (system clock) ignores a call's time: no peer
    /// chooses the instants a live node stamps on cases or runs its SLA clocks by.
    public var now: Date {
        if clock is VirtualClock, let carried = VirtualTime.current { return carried }
        return clock.now
    }

    /// The district office of `jurisdiction` (local instance or remote proxy). Throws `HotlineError.routing`.
    public func districtOffice(_ jurisdiction: String) throws -> DistrictOffice {
        guard let node = directory.districts[jurisdiction] else {
            throw HotlineError.routing("no district office for jurisdiction \(jurisdiction)")
        }
        return try DistrictOffice.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.district(jurisdiction), on: node),
                                          using: system)
    }

    /// The routing group `code`. Throws `HotlineError.routing`.
    public func routingGroup(_ code: String) throws -> RoutingGroup {
        guard let node = directory.dispatchGroups[code] else {
            throw HotlineError.routing("no dispatch group \(code)")
        }
        return try RoutingGroup.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.dispatchGroup(code), on: node),
                                        using: system)
    }

    public func callbackDesk() throws -> CallbackDesk {
        try CallbackDesk.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.callback, on: directory.callback), using: system)
    }

    /// Every district office, in jurisdiction-code order.
    public func allDistrictOffices() throws -> [DistrictOffice] {
        try directory.districts.keys.sorted().map { try districtOffice($0) }
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
