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
        let district = try startNode("district", extra: ["--roles", "district"])
        let client = try clientSystem(callTimeout: callTimeout)
        let directory = try HotlineDirectory.place(
            roles: [(front.node, try HotlineRoles(parsing: frontRoles)), (district.node, try HotlineRoles(parsing: "district"))],
            catalogue: catalogue)
        for jurisdiction in catalogue.jurisdictions { XCTAssertEqual(directory.districts[jurisdiction.code], district.node) }
        let configuration = HotlineConfiguration(catalogue: catalogue, settings: WorkflowSettings(), directory: directory,
                                                 virtualStart: nil)
        for node in [front.node, district.node] { _ = try await HotlineNode.on(node, system: client).configure(configuration) }
        return (front, district, client)
    }
}
