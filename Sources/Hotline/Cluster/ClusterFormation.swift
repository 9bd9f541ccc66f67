import ActorCluster
import Foundation

/// Waits, from outside the cluster (a driver or a tool), for node processes to form one cluster and for
/// placement to host every singleton. Polls each node's `HotlineNode`, every 50 ms, within a deadline.
public enum ClusterFormation {
    /// Returns once every node reports itself `up` and lists all of them as up.
    ///
    /// - Throws: `HotlineError.placement` naming the nodes that are not there at the deadline.
    public static func waitForMembers(_ nodes: [HotlineNode], names: [String], timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while true {
            var missing: [String] = []
            for (n, name) in zip(nodes, names) {
                guard let info = try? await ClusterSystem.withCallTimeout(.seconds(1), operation: { try await n.info() }) else {
                    missing.append("\(name): no answer")
                    continue
                }
                if info.memberStatus != "up" || info.membersUp < nodes.count {
                    missing.append("\(name): \(info.memberStatus), sees \(info.membersUp) of \(nodes.count) up")
                }
            }
            if missing.isEmpty { return }
            last = missing.joined(separator: "; ")
            guard ContinuousClock.now < deadline else {
                throw HotlineError.placement("the nodes did not form one cluster within \(timeout): \(last)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Returns the directory once every node places every singleton on the same node, and each owner hosts
    /// what it owns.
    ///
    /// - Throws: `HotlineError.placement` naming what is unplaced or unhosted at the deadline.
    public static func waitForPlacement(_ nodes: [HotlineNode], names: [String], timeout: Duration) async throws -> HotlineDirectory {
        let deadline = ContinuousClock.now + timeout
        while true {
            var problem: String?
            var agreed: HotlineDirectory?
            var hosted = Set<String>()
            for (n, name) in zip(nodes, names) {
                guard let d = try? await ClusterSystem.withCallTimeout(.seconds(1), operation: { try await n.directory() }),
                      let info = try? await ClusterSystem.withCallTimeout(.seconds(1), operation: { try await n.info() }) else {
                    problem = "\(name) does not answer"
                    break
                }
                hosted.formUnion(info.hostedPaths)
                if let unplaced = d.unplaced.first {
                    problem = "\(name) places no node for \(unplaced)"
                    break
                }
                if let a = agreed, a.assignments.mapValues(\.node) != d.assignments.mapValues(\.node) {
                    problem = "nodes disagree on placement"
                    break
                }
                agreed = d
            }
            if problem == nil, let d = agreed {
                let missing = d.assignments.keys.map(HotlineKey.path(of:)).filter { !hosted.contains($0) }.sorted()
                if missing.isEmpty { return d }
                problem = "not hosted yet: \(missing.prefix(5).joined(separator: ", "))"
            }
            guard ContinuousClock.now < deadline else {
                throw HotlineError.placement("placement did not settle within \(timeout): \(problem ?? "?")")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
