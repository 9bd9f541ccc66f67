import ActorCluster
import Foundation
import Hotline
import XCTest

/// Repeat callers and callers about one matter on two real node processes, through the people's commands only:
/// four calls from one phone about one matter give one case with three linked repeat contacts; six callers about
/// one noise source give one lead case and six callbacks, each recorded. Also: a retried call gets the same
/// receipt, the dispatcher decides an extension, and the shift leader's handover list.
final class RepeatCallerTests: XCTestCase {
    /// The Anshan catalogue with intake matching rules: a repeat by phone (any category, 30 days) and noise
    /// complaints merged by address (3 days).
    static func catalogueWithMatching() throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: LiveHotlineTests.cataloguePath))
        var document = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        document["intakeMatching"] = [
            ["id": "repeat-by-phone", "match": "phone", "windowHours": 720],
            ["id": "noise-by-address", "match": "address", "categories": ["noise-nuisance"], "windowHours": 72],
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("anshan-matching-\(UUID().uuidString).json").path
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Front (desks, groups) and district (offices) nodes configured from `catalogue`; returns the front's address.
    func start(_ harness: NodeHarness, catalogue: String) async throws -> String {
        let front = try harness.startNode("front", extra: ["--roles", LiveHotlineTests.frontRoles, "--catalog", catalogue])
        let district = try harness.startNode("district", extra: ["--roles", "district", "--seeds", "\(front.node.address)",
                                                                  "--catalog", catalogue])
        let client = try harness.clientSystem()
        let nodes = try [front, district].map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(nodes, names: ["front", "district"], timeout: .seconds(20))
        _ = try await ClusterFormation.waitForPlacement(nodes, names: ["front", "district"], timeout: .seconds(20))
        return front.node.address.description
    }

    func numbers(_ list: [String: Any]) -> [String] {
        ((list["entries"] as? [[String: Any]]) ?? []).map { "\($0["number"] ?? "")" }
    }

    /// The event names of a case (`hotline case`).
    func events(_ harness: NodeHarness, _ node: String, _ number: String) throws -> [String] {
        let h = try harness.json(node, ["case", number])
        return try XCTUnwrap(h["events"] as? [[String: Any]]).compactMap { ($0["body"] as? [String: Any])?.keys.first }
    }

    func submit(_ harness: NodeHarness, _ node: String, id: String, category: String, jurisdiction: String, phone: String,
                address: String, description: String) throws -> [String: Any] {
        try harness.json(node, ["submit", "--channel", "8890", "--external-id", id, "--category", category, "--jurisdiction", jurisdiction,
                                 "--phone", phone, "--address", address, "--description", description])
    }

    func test_fourCallsFromOnePhoneAboutOneMatterGiveOneCaseWithThreeRepeatContacts() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let catalogue = try Self.catalogueWithMatching()
        defer { try? FileManager.default.removeItem(atPath: catalogue) }
        let node = try await start(harness, catalogue: catalogue)

        var receipts: [[String: Any]] = []
        for i in 1...4 {
            receipts.append(try submit(harness, node, id: "pothole-\(i)", category: "road-damage", jurisdiction: "210303",
                                       phone: i == 3 ? "+86 138 1234 5678" : "13812345678", address: "铁西区兴盛路 12 号",
                                       description: i == 1 ? "兴盛路路面塌陷一个大坑" : "第\(i)次来电：路面大坑还没修"))
        }
        let refs = try receipts.map { try XCTUnwrap($0["ref"] as? [String: Any]) }
        let number = "\(refs[0]["number"] ?? "")"
        XCTAssertEqual(receipts[0]["status"] as? String, "dispatched")
        XCTAssertNil(receipts[0]["link"], "the first call opens the case")
        for r in receipts.dropFirst() {
            let ref = try XCTUnwrap(r["ref"] as? [String: Any])
            XCTAssertEqual("\(ref["number"] ?? "")", number, "the receipt tells the caller the existing case number")
            let link = try XCTUnwrap(r["link"] as? [String: Any], "\(r)")
            XCTAssertEqual(link["kind"] as? String, "repeatContact")
            XCTAssertEqual((link["match"] as? [String: Any])?["field"] as? String, "phone")
            XCTAssertEqual((link["match"] as? [String: Any])?["rule"] as? String, "repeat-by-phone")
        }
        XCTAssertEqual(try events(harness, node, number).filter { $0 == "repeatContactLinked" }.count, 3)
        XCTAssertEqual(numbers(try harness.json(node, ["cases", "--json"])), [number], "one case")

        // A retried call (same channel + external id) gets the same receipt: no fourth link.
        let retry = try submit(harness, node, id: "pothole-3", category: "road-damage", jurisdiction: "210303",
                               phone: "13812345678", address: "铁西区兴盛路 12 号", description: "第3次来电：路面大坑还没修")
        XCTAssertEqual(retry["duplicate"] as? Bool, true)
        XCTAssertEqual("\((retry["ref"] as? [String: Any])?["number"] ?? "")", number)
        XCTAssertEqual((retry["link"] as? [String: Any])?["kind"] as? String, "repeatContact")
        XCTAssertEqual(try events(harness, node, number).filter { $0 == "repeatContactLinked" }.count, 3)

        // The lead asks for more time; the dispatcher decides.
        _ = try harness.json(node, ["unit", "sign", number, "--unit", "210303-CM", "--json"])
        let none = try harness.cli(node, ["dispatch", "extension", number, "--approve", "--reason", "ok"])
        XCTAssertEqual(none.status, 3, "nothing to decide yet")
        XCTAssertTrue(none.stderr.contains("no extension request pending"), none.stderr)
        _ = try harness.json(node, ["unit", "extend", number, "--unit", "210303-CM", "--days", "2", "--reason", "需协调燃气管线", "--json"])
        XCTAssertEqual(try harness.json(node, ["dispatch", "extension", number, "--approve", "--reason", "同意", "--json"])["status"] as? String,
                       "inProgress")
        let history = try harness.json(node, ["case", number])
        let decided = try XCTUnwrap((history["events"] as? [[String: Any]])?.compactMap { ($0["body"] as? [String: Any])?["extensionDecided"] as? [String: Any] }.first)
        XCTAssertEqual(decided["approved"] as? Bool, true)

        // The handover: an open P2 case signed and not overdue has nothing to hand over; an open P1 one does.
        XCTAssertEqual(numbers(try harness.json(node, ["cases", "--handover", "--json"])), [])
        let p1 = try submit(harness, node, id: "water-1", category: "water-outage", jurisdiction: "210302", phone: "13700000000",
                            address: "铁东区胜利路 1 号", description: "整栋楼停水")
        let p1Number = "\((p1["ref"] as? [String: Any])?["number"] ?? "")"
        let handover = try harness.json(node, ["cases", "--handover", "--since", "2020-01-01T00:00:00Z", "--json"])
        let lines = try XCTUnwrap(handover["entries"] as? [[String: Any]])
        XCTAssertEqual(lines.map { "\(($0["entry"] as? [String: Any])?["number"] ?? "")" }, [p1Number])
        XCTAssertEqual(lines.first?["reasons"] as? [String], ["P1", "duty room unacknowledged", "unsigned"])
        XCTAssertEqual(lines.first?["new"] as? Bool, true)
        let table = try harness.cli(node, ["cases", "--handover"])
        XCTAssertTrue(String(decoding: table.stdout, as: UTF8.self).contains("P1, duty room unacknowledged, unsigned"))
    }

    func test_sixCallersAboutOneNoiseSourceGiveOneLeadCaseAndSixCallbacks() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let catalogue = try Self.catalogueWithMatching()
        defer { try? FileManager.default.removeItem(atPath: catalogue) }
        let node = try await start(harness, catalogue: catalogue)

        let addresses = ["铁东区胜利路 88 号 KTV", "铁东区胜利路88号KTV", "铁东区 胜利路 88号 ktv"]
        var receipts: [[String: Any]] = []
        for i in 1...6 {
            receipts.append(try submit(harness, node, id: "noise-\(i)", category: "noise-nuisance", jurisdiction: "210302",
                                       phone: "1390000000\(i)", address: addresses[i % 3], description: "楼下KTV深夜噪音扰民（来电\(i)）"))
        }
        let lead = "\((receipts[0]["ref"] as? [String: Any])?["number"] ?? "")"
        let leadUnit = try XCTUnwrap(receipts[0]["leadUnit"] as? String)
        XCTAssertEqual(receipts[0]["status"] as? String, "dispatched")
        var cases = [lead]
        for r in receipts.dropFirst() {
            XCTAssertEqual(r["status"] as? String, "merged", "\(r)")
            let link = try XCTUnwrap(r["link"] as? [String: Any])
            XCTAssertEqual(link["kind"] as? String, "merged")
            XCTAssertEqual("\(link["targetNumber"] ?? "")", lead)
            XCTAssertEqual((link["match"] as? [String: Any])?["field"] as? String, "address")
            cases.append("\((r["ref"] as? [String: Any])?["number"] ?? "")")
        }
        XCTAssertEqual(Set(cases).count, 6, "each caller has a case of their own")
        XCTAssertEqual(numbers(try harness.json(node, ["cases", "--status", "dispatched", "--json"])), [lead], "one lead case is handled")
        XCTAssertEqual(try events(harness, node, lead).filter { $0 == "duplicateAttached" }.count, 5)
        // A retried merged call: the same receipt.
        let retry = try submit(harness, node, id: "noise-4", category: "noise-nuisance", jurisdiction: "210302", phone: "13900000004",
                               address: addresses[1], description: "楼下KTV深夜噪音扰民（来电4）")
        XCTAssertEqual("\((retry["ref"] as? [String: Any])?["number"] ?? "")", cases[3])
        XCTAssertEqual(retry["duplicate"] as? Bool, true)

        // The lead unit handles the lead case once; the accepted reply reaches every caller.
        XCTAssertEqual(numbers(try harness.json(node, ["unit", "inbox", "--unit", leadUnit, "--json"])), [lead])
        _ = try harness.json(node, ["unit", "sign", lead, "--unit", leadUnit, "--json"])
        _ = try harness.json(node, ["unit", "reply", lead, "--unit", leadUnit, "--text", "已责令KTV夜间停业整改", "--json"])
        XCTAssertEqual(try harness.json(node, ["dispatch", "review", lead, "--accept", "--json"])["status"] as? String, "pendingCallback")
        var due: [String] = []
        try await waitUntil(timeout: .seconds(10), "six callbacks due") {
            due = numbers(try harness.json(node, ["callback", "due", "--json"]))
            return due.count == 6
        }
        XCTAssertEqual(Set(due), Set(cases), "one callback per caller")

        // Each callback is recorded on the caller's own case; a merged caller's dissatisfaction closes their case
        // with that evaluation.
        for (i, number) in cases.enumerated() {
            let verdict = i == 5 ? "--dissatisfied" : "--satisfied"
            XCTAssertEqual(try harness.json(node, ["callback", "record", number, verdict, "--json"])["status"] as? String, "closed", number)
        }
        XCTAssertEqual(numbers(try harness.json(node, ["callback", "due", "--json"])), [])
        XCTAssertEqual(Set(numbers(try harness.json(node, ["cases", "--status", "closed", "--json"]))), Set(cases))
        XCTAssertEqual(Array(try events(harness, node, cases[1]).prefix(3)), ["drafted", "accepted", "mergedInto"])
    }
}
