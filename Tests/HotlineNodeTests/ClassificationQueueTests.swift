import ActorCluster
import Foundation
import Hotline
import XCTest

/// Requests without category or jurisdiction on a running cluster (two node processes, the Anshan
/// catalogue): intake classifies them, a proposal below the threshold waits in the dispatch group's
/// classification queue, a dispatcher's correction (`hotline dispatch classify`) is an event and changes the
/// route, and emergency words reach the duty room while the category is uncertain.
final class ClassificationQueueTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func anshan() throws -> RoutingCatalogue {
        try RoutingCatalogue.load(from: Data(contentsOf: repo.appendingPathComponent("Deploy/catalogs/anshan.json")))
    }

    func test_aDispatchersCorrectionIsRecordedAndChangesTheRoute() async throws {
        let catalogue = try Self.anshan()
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let (front, _, client) = try await harness.startFrontAndDistrict(catalogue: catalogue)
        let node = try HotlineNode.on(front.node, system: client)

        // A road-damage request by synonyms (路面塌陷, 大坑) naming no place the catalogue knows: it waits.
        let receipt = try await node.submit(CitizenRequest(channel: "web", externalID: "m-1", category: "", jurisdiction: "",
                                                           description: "路面塌陷了一个大坑，车开过去很危险"))
        XCTAssertEqual(receipt.status, .draft)
        XCTAssertEqual(receipt.classificationQueue, "G1", "held by the holding jurisdiction 210302, owned by G1")
        XCTAssertEqual(receipt.ref.jurisdiction, "210302")
        XCTAssertEqual(receipt.proposal?.category, "road-damage")
        XCTAssertEqual(receipt.proposal?.evidence.category, ["路面塌陷", "大坑"], "塌陷 inside 路面塌陷 counts once")
        XCTAssertNil(receipt.proposal?.jurisdiction)
        XCTAssertEqual(receipt.proposal?.confidence, 0)
        XCTAssertNil(receipt.leadUnit)

        let queues = try await node.classificationQueues(group: "G1")
        XCTAssertEqual(queues.map(\.group), ["G1"])
        XCTAssertEqual(queues[0].entries.map(\.ref.number), [receipt.ref.number])
        XCTAssertEqual(queues[0].entries[0].summary, "路面塌陷了一个大坑，车开过去很危险")

        // The dispatcher corrects the jurisdiction to Tiexi through the CLI.
        let run = try SubmitCommandTests.run(["dispatch", "classify", receipt.ref.number.description, "--node", "\(front.node.address)",
                                              "--category", "road-damage", "--jurisdiction", "210303", "--note", "caller said 铁西",
                                              "--dispatcher", "dispatcher-wang", "--secret-file", harness.secret.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let snapshot = try JSONDecoder().decode(CaseSnapshotView.self, from: run.stdout)
        let tiexiLead = try catalogue.route(category: "road-damage", jurisdiction: "210303").lead
        XCTAssertEqual(snapshot.status, "dispatched")
        XCTAssertEqual(snapshot.leadUnit, tiexiLead)
        XCTAssertNotEqual(tiexiLead, try catalogue.route(category: "road-damage", jurisdiction: "210302").lead)

        let history = try await node.findCase(receipt.ref.number.description)
        XCTAssertEqual(history.events.map(\.body.name), [
            "drafted", "classificationProposed", "queuedForClassification", "classificationReviewed", "accepted",
            "queuedForDispatch", "dispatched", "assignmentDelivered",
        ])
        guard case .classificationReviewed(let review) = history.events[3].body else { return XCTFail("no review") }
        XCTAssertEqual(review.corrected, ["jurisdiction"])
        XCTAssertEqual(review.note, "caller said 铁西")
        XCTAssertEqual(history.events[3].author, .hotline(staff: "dispatcher-wang"))
        guard case .dispatched(let order) = history.events[6].body else { return XCTFail("not dispatched") }
        XCTAssertEqual(order.decision.jurisdiction, "210303")
        XCTAssertEqual(order.decision.lead, tiexiLead)
        let after = try await node.classificationQueues(group: "G1")
        XCTAssertEqual(after[0].entries.count, 0)

        // Classifying it again is refused: it is no longer in a queue.
        let again = try SubmitCommandTests.run(["dispatch", "classify", receipt.ref.number.description, "--node", "\(front.node.address)",
                                                "--category", "road-damage", "--jurisdiction", "210303",
                                                "--secret-file", harness.secret.path])
        XCTAssertEqual(again.status, 3)
        XCTAssertTrue(again.stderr.contains("not in a classification queue"), again.stderr)
    }

    func test_anEmergencyPhraseReachesTheDutyRoomWithAnUncertainCategory() async throws {
        let catalogue = try Self.anshan()
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let (front, _, client) = try await harness.startFrontAndDistrict(catalogue: catalogue)
        let node = try HotlineNode.on(front.node, system: client)

        let receipt = try await node.submit(CitizenRequest(channel: "8890", externalID: "call-9", category: "", jurisdiction: "",
                                                           description: "铁西区有位老人被困在家里出不来，家属联系不上"))
        XCTAssertEqual(receipt.status, .draft, "the category is uncertain: it waits for a dispatcher")
        XCTAssertEqual(receipt.proposal?.urgency, .p1)
        XCTAssertEqual(receipt.proposal?.evidence.urgency, ["被困"])
        XCTAssertNil(receipt.proposal?.category)
        XCTAssertEqual(receipt.proposal?.jurisdiction, "210303")
        XCTAssertEqual(receipt.classificationQueue, "G2")
        let history = try await node.findCase(receipt.ref.id.rawValue)
        XCTAssertEqual(history.events.map(\.body.name),
                       ["drafted", "classificationProposed", "dutyRoomAlerted", "queuedForClassification"])
        guard case .dutyRoomAlerted(let room, let note) = history.events[2].body else { return XCTFail("no alert") }
        XCTAssertEqual(room, "210303-DUTY")
        XCTAssertEqual(note, "emergency words: 被困; classification pending")
        let queue = try await node.classificationQueues(group: "G2")
        XCTAssertEqual(queue[0].entries.map(\.dutyRoomAlerted), [true])
    }
}

/// The fields of a printed `CaseSnapshot` this test reads.
struct CaseSnapshotView: Decodable {
    var status: String
    var leadUnit: String?
}
