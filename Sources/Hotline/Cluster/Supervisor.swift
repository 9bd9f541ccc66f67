import ActorCluster
import Distributed
import Foundation

/// Supervision (`/hotline/supervision`): on each tick, has every district office record the reminders and
/// supervision escalations now due (each fires once per assignment and level).
public distributed actor Supervisor {
    public typealias ActorSystem = ClusterSystem

    private let context: HotlineContext

    public init(context: HotlineContext) {
        self.context = context
        self.actorSystem = context.system
    }

    /// Runs supervision on every district office at the current time; returns escalations recorded.
    /// One call per node hosting offices (`HotlineNode.runLocalSupervision`), not one per office.
    public distributed func tick() async throws -> Int {
        let nodes = context.directory.districtHosts
        let system = context.system
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for node in nodes {
                let host = try HotlineNode.on(node, system: system)
                group.addTask { try await host.runLocalSupervision() }
            }
            var total = 0
            for try await n in group { total += n }
            return total
        }
    }
}
