import ActorCluster
import Foundation
import Hotline
import XCTest

/// Hotline errors thrown on one node process arrive typed at the caller — directly, passed on by an actor on
/// another node, and at the CLI (exit 3 with the reason).
final class TypedErrorTests: XCTestCase {
    func test_aRuleViolationFromARemoteDistrictOfficeArrivesAsHotlineErrorDirectlyAndThroughAnotherNode() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let (front, district, client) = try await harness.startFrontAndDistrict(catalogue: ChineseMessagesTests.catalogue())
        let hotline = try HotlineNode.on(front.node, system: client)
        let office = try DistrictOffice.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.district("A"), on: district.node),
                                                using: client)
        let group = try RoutingGroup.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.dispatchGroup("G1"), on: front.node),
                                             using: client)
        let receipt = try await hotline.submit(CitizenRequest(channel: "web", externalID: "typed-1", category: "message",
                                                              jurisdiction: "A", description: "小区供暖不热"))
        let signed = try await office.unitAct(receipt.ref.id, unit: nil, .sign)
        // The same signature again (a retry whose answer was lost) is the signature already recorded, not a
        // second one and not an error.
        let again = try await office.unitAct(receipt.ref.id, unit: nil, .sign)
        XCTAssertEqual(again, signed)

        // Directly from the office on the district node: reviewing a reply that was never given breaks a rule.
        do {
            _ = try await office.record(receipt.ref.id, .replyReviewed(accepted: true, note: "no reply yet"),
                                        by: .hotline(staff: "CT-07"))
            XCTFail("a missing reply was reviewed")
        } catch HotlineError.ruleViolation(let why) {
            XCTAssertTrue(why.contains("case \(receipt.ref.number)"), why)
        }
        // Through the dispatch group on the front node, which calls the office: reviewing a reply that was never
        // given. The group passes the office's error on unchanged; not `relayed`, not text.
        do {
            _ = try await group.reviewReply(receipt.ref, accepted: true, note: "no reply yet")
            XCTFail("a missing reply was reviewed")
        } catch HotlineError.ruleViolation(let why) {
            XCTAssertTrue(why.contains("case \(receipt.ref.number)"), why)
        }
        // Other hotline errors too, with their payload.
        let missing = CaseID.random()
        do {
            _ = try await office.snapshot(missing)
            XCTFail("an unknown case was found")
        } catch let error as HotlineError {
            XCTAssertEqual(error, .unknownCase(missing.rawValue))
        }
        do {
            _ = try await hotline.submit(CitizenRequest(channel: "web", externalID: "typed-2", category: "no-such-category",
                                                        jurisdiction: "A", description: "x"))
            XCTFail("an unknown category was accepted")
        } catch HotlineError.invalidRequest(let why) {
            XCTAssertTrue(why.contains("no-such-category"), why)
        }
        // The CLI: the node's answer is the reason on stderr, exit 3; an unreachable node is exit 1.
        let node = front.node.address.description
        let unknown = try NodeHarness.run(["case", "2026-999999", "--node", node, "--secret-file", harness.secret.path])
        XCTAssertEqual(unknown.status, 3, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("hotline case: unknown case 2026-999999"), unknown.stderr)
        let rejected = try NodeHarness.run(["submit", "--node", node, "--secret-file", harness.secret.path, "--channel", "web",
                                            "--category", "no-such-category", "--jurisdiction", "A", "--description", "x"])
        XCTAssertEqual(rejected.status, 3, rejected.stderr)
        XCTAssertTrue(rejected.stderr.contains("hotline submit: request rejected:"), rejected.stderr)
        XCTAssertFalse(rejected.stderr.contains("remote error"), rejected.stderr)
    }
}
