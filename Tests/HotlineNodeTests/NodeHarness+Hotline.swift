import ActorCluster
import Foundation
import Hotline
import XCTest

extension NodeHarness {
    /// Two node processes — "front" (intake, dispatch, callback, supervision, analysis) and "district" (every
    /// district office) — configured with `catalogue` by an operator client, which is returned with them.
    func startFrontAndDistrict(catalogue: RoutingCatalogue, callTimeout: Duration = .seconds(5))
        async throws -> (front: NodeProcess, district: NodeProcess, client: ClusterSystem) {
        let frontRoles = "intake,dispatch,callback,supervision,analysis"
        let front = try startNode("front", extra: ["--roles", frontRoles])
        let district = try startNode("district", extra: ["--roles", "district", "--seeds", "\(front.node.address)"])
        let client = try clientSystem(callTimeout: callTimeout)
        let nodes = try [front, district].map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(nodes, names: ["front", "district"], timeout: .seconds(20))
        let configuration = HotlineConfiguration(catalogue: catalogue, settings: WorkflowSettings(), virtualStart: nil)
        for node in nodes { _ = try await node.configure(configuration) }
        let directory = try await ClusterFormation.waitForPlacement(nodes, names: ["front", "district"], timeout: .seconds(20))
        for jurisdiction in catalogue.jurisdictions { XCTAssertEqual(directory.district(jurisdiction.code), district.node) }
        return (front, district, client)
    }
}
