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
    /// Also starts the stream-directory read (`Replication.DirectorySync`) of this incarnation once it is `up`.
    ///
    /// - Throws: `ClusterSystemError.pathInUse` when a replicator runs already.
    public static func start(on system: ClusterSystem, store: Replication.ReplicaStore) throws -> Replicator {
        let replicator = try system.makeWellKnown(path: path) { Replicator(store: store, actorSystem: system) }
        if let membership = system.membership {
            let shell = DirectorySyncShell(system: system, membership: membership, store: store)
            Task { await shell.run() }
        }
        return replicator
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

    /// A page of this node's stream directory after the stream named `after` (nil: from the first), for a member
    /// that joined and reads it (`Replication.DirectorySync`): at most `ReplicaStore.directoryPageEntries` entries.
    public distributed func directory(after: String?) async -> Replication.DirectoryPage {
        await store.directoryPage(after: after)
    }
}

/// The shell of `Replication.DirectorySync` for one incarnation: watches the membership (every 200 ms until the
/// directory is complete, the node leaves, or the system shuts down), asks members' replicators for pages, stores
/// what they hold (`ReplicaStore.learn`) before it counts a page, and journals the completeness.
actor DirectorySyncShell {
    private let system: ClusterSystem
    private let membership: MembershipShell
    private let store: Replication.ReplicaStore
    private var machine = Replication.DirectorySync()
    private var others: [NodeIdentity]?

    init(system: ClusterSystem, membership: MembershipShell, store: Replication.ReplicaStore) {
        self.system = system
        self.membership = membership
        self.store = store
    }

    func run() async {
        var up = false
        while !system.isShutDown {
            let snapshot = membership.snapshot
            if snapshot.myself.status.isTerminal { return }
            if !up, snapshot.myself.status.isActive {
                up = true
                let stored = await store.directoryComplete
                let start: Replication.DirectorySync.Start = snapshot.joinedThrough != nil ? .joinedRunningCluster
                    : snapshot.formedWithRemembered ? .formedWithRemembered : .formedNew
                system.logger.info("replication.directory", ["up": snapshot.joinedThrough.map { "joined through \($0)" } ?? "\(start)",
                                                             "stored": stored.map { $0 ? "complete" : "incomplete" } ?? "new"])
                await perform(machine.handle(.up(start, stored: stored), nowNs: Monotonic.nowNs()))
            }
            if up {
                let now = snapshot.members.filter { $0.node != system.node && $0.status.isActive }.map(\.node).sorted()
                if now != others {
                    others = now
                    await perform(machine.handle(.members(now), nowNs: Monotonic.nowNs()))
                }
                await perform(machine.handle(.tick, nowNs: Monotonic.nowNs()))
                if machine.phase == .complete { return }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func perform(_ actions: [Replication.DirectorySync.Action]) async {
        for action in actions {
            switch action {
            case .record(let complete):
                do {
                    try await store.setDirectoryComplete(complete)
                    if complete {
                        system.logger.info("replication.directory_complete", ["read_from": machine.readFrom.map(\.description).sorted().joined(separator: ",")])
                    }
                } catch {
                    system.logger.error("replication.directory_not_recorded", ["complete": complete, "error": "\(error)"])
                }
            case .ask(let node, let after):
                Task { await self.read(node, after: after) }
            }
        }
    }

    private func read(_ node: NodeIdentity, after: String?) async {
        let input: Replication.DirectorySync.Input
        do {
            let page = try await Replicator.on(node, system: system).directory(after: after)
            try await store.learn(page.entries)
            input = .page(page, from: node, asked: after)
        } catch {
            system.logger.debug("replication.directory_read_failed", ["from": "\(node)", "error": "\(error)"])
            input = .failed(from: node)
        }
        await perform(machine.handle(input, nowNs: Monotonic.nowNs()))
    }
}
