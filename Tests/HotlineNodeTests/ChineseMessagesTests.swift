import ActorCluster
import Foundation
import Hotline
import XCTest

/// The 2,816 Chinese citizen messages (with official replies) go through a web-channel intake desk hosted
/// by another node process; every case is read back from its district office on a third process and its
/// text and reply must be identical byte for byte.
final class ChineseMessagesTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tipdm2020c_wenzheng_replies_2816.csv")

    /// A one-jurisdiction catalogue for the province's message board ("A city"), one category.
    static func catalogue() -> RoutingCatalogue {
        RoutingCatalogue(
            version: "test-1", name: "message board",
            sectors: [Sector(code: "social-welfare", name: "Social welfare")],
            jurisdictions: [Jurisdiction(code: "A", name: "A 市", kind: .district, government: "gov-A")],
            units: [HandlingUnit(code: "gov-A", name: "A 市人民政府", sector: "social-welfare", jurisdiction: "A"),
                    HandlingUnit(code: "office-A", name: "A 市信访办", sector: "social-welfare", jurisdiction: "A")],
            dispatchGroups: [DispatchGroupSpec(code: "G1", name: "组 1", jurisdictions: ["A"])],
            categories: [ServiceCategory(code: "message", name: "留言", sector: "social-welfare")],
            livelihoodCategories: [],
            rules: [RoutingRule(id: "R1", category: "message", jurisdiction: "*", lead: "office-A")])
    }

    func test_everyMessageAndReplyReadBackByteForByteFromAnotherNode() async throws {
        let rows = try CSVReader(data: Data(contentsOf: Self.fixture)).rows
        XCTAssertEqual(rows.first, ["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"])
        let messages = Array(rows.dropFirst())
        XCTAssertEqual(messages.count, 2_816)

        let harness = NodeHarness()
        defer { harness.stopAll() }
        let (front, district, client) = try await harness.startFrontAndDistrict(catalogue: Self.catalogue())

        let intake = try HotlineNode.on(front.node, system: client)
        let office = try DistrictOffice.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.district("A"), on: district.node),
                                                using: client)
        var refs: [(CaseRef, [String])] = []
        for row in messages {
            let receipt = try await intake.submit(CitizenRequest(channel: "web", externalID: row[0], kind: .complaint,
                                                                 category: "message", jurisdiction: "A",
                                                                 description: row[4], contactName: row[1]))
            XCTAssertFalse(receipt.duplicate)
            XCTAssertEqual(receipt.leadUnit, "office-A")
            _ = try await office.unitAct(receipt.ref.id, unit: nil, .sign)
            _ = try await office.unitAct(receipt.ref.id, unit: nil, .reply(text: row[5]))
            refs.append((receipt.ref, row))
        }
        // A retried submission returns the same case.
        let retry = try await intake.submit(CitizenRequest(channel: "web", externalID: messages[0][0], category: "message",
                                                           jurisdiction: "A", description: messages[0][4]))
        XCTAssertTrue(retry.duplicate)
        XCTAssertEqual(retry.ref.id, refs[0].0.id)

        var identical = 0
        for (ref, row) in refs {
            let events = try await office.events(of: ref.id)
            var text: String?
            var reply: String?
            for e in events {
                if case .drafted(_, let intake) = e.body { text = intake.description }
                if case .unitReplied(_, let t) = e.body { reply = t }
            }
            if Array((text ?? "").utf8) == Array(row[4].utf8) && Array((reply ?? "").utf8) == Array(row[5].utf8) {
                identical += 1
            } else {
                XCTFail("case \(ref.number) (message \(row[0])) differs")
            }
        }
        XCTAssertEqual(identical, 2_816)
        let counts = try await office.statusCounts()
        XCTAssertEqual(counts["replied"], 2_816, "\(counts)")
    }
}
