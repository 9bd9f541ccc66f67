import Distributed

/// The per-node replica service (`/system/replicator`): owners of streams send it `Replication.Request`s;
/// it answers from the node's `ReplicaStore` after the change is durable. Calls arrive only over
/// authenticated member connections (the handshake's cluster secret).
public distributed actor Replicator {
    public typealias ActorSystem = ClusterSystem

    /// The well-known path on every node that holds replicas.
    public static let path = "/system/replicator"

    public let store: Replication.ReplicaStore

    public init(store: Replication.ReplicaStore, actorSystem: ClusterSystem) {
        self.store = store
        self.actorSystem = actorSystem
    }

    /// Starts the service on `system` with `store`.
    ///
    /// - Throws: `ClusterSystemError.pathInUse` when a replicator runs already.
    public static func start(on system: ClusterSystem, store: Replication.ReplicaStore) throws -> Replicator {
        try system.makeWellKnown(path: path) { Replicator(store: store, actorSystem: system) }
    }

    /// The replicator on `node` (a remote proxy, or the local instance).
    public static func on(_ node: NodeIdentity, system: ClusterSystem) throws -> Replicator {
        try Replicator.resolve(id: ClusterSystem.wellKnownID(path, on: node), using: system)
    }

    /// Answers one request (`Replication.ReplicaLog.handle`), after its changes are durable.
    ///
    /// - Throws: `Replication.StoreError` (limits, a failed journal).
    public distributed func handle(_ request: Replication.Request) async throws -> Replication.Reply {
        try await store.handle(request)
    }
}
