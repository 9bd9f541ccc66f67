import ActorCluster
import Foundation
import Hotline
import XCTest

/// Log compaction on a real node: a `hotline node` with `--data` and `--snapshot-min-bytes 1` (its offices
/// snapshot their cases into their streams after every change, Raft §7), cases closed and open, the node
/// SIGKILLed and restarted on its data directory: every case comes back from the snapshot and the entries after
/// it, closed ones as closed, and a retried intake still answers with the case opened the first time.
final class CompactionProcessTests: XCTestCase {
    let harness = NodeHarness()
    var dirs: [String] = []

    override func tearDown() {
        harness.stopAll()
        for d in dirs { try? FileManager.default.removeItem(atPath: d) }
        super.tearDown()
    }

    func test_aNodeRestartedOnACompactedStreamRecoversEveryCaseAndAnswersARetriedIntakeWithTheSameCase() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-compaction-\(UUID().uuidString)").path
        dirs.append(data)
        let extra = ["--catalog", DurabilityProcessTests.catalog, "--data", data, "--snapshot-min-bytes", "1"]
        let node = try harness.startNode("c1", extra: extra)
        let client = try harness.clientSystem(callTimeout: .seconds(10))
        let entry = try HotlineNode.on(node.node, system: client)
        let jurisdictions = ["210302", "210303"]
        func request(_ i: Int) -> CitizenRequest {
            CitizenRequest(channel: "8890", externalID: "compact-\(i)", category: "heating-failure",
                           jurisdiction: jurisdictions[i % 2], description: "暖气不热，请处理 \(i)")
        }
        var receipts: [IntakeReceipt] = []
        for i in 0..<12 {
            var receipt: IntakeReceipt?
            try await waitUntil(timeout: .seconds(30), "request \(i) accepted") {
                receipt = try? await entry.submit(request(i))
                return receipt != nil
            }
            receipts.append(try XCTUnwrap(receipt))
        }
        // Half of them closed: signed, replied, reply accepted, the citizen called back satisfied.
        for receipt in receipts.prefix(6) {
            let key = receipt.ref.number.description
            let lead = try await entry.findCase(key).snapshot.leadUnit ?? ""
            _ = try await entry.unitAct(key, unit: lead, action: .sign)
            _ = try await entry.unitAct(key, unit: lead, action: .reply(text: "已修复"))
            _ = try await entry.reviewReply(key, accepted: true, note: "ok")
            let closed = try await entry.callBack(key, outcome: .reached(evaluation: CallbackEvaluation(resolved: true, satisfaction: .satisfied)))
            XCTAssertEqual(closed.status, .closed)
        }
        // A snapshot is taken once the changes since the last reach half its size: open cases are filed until the
        // closes are covered by one.
        var filler = 100
        try await waitUntil(timeout: .seconds(60), "each office compacted with its closed cases archived") {
            filler += 1
            _ = try? await entry.submit(request(filler))
            let info = try await entry.info()
            return (info.offices ?? []).filter { jurisdictions.contains($0.jurisdiction) }
                .allSatisfy { ($0.snapshotIndex ?? 0) > 0 && $0.archivedCases == 3 }
        }
        // One case opened and closed after that snapshot: after the restart it comes from the entries after the
        // snapshot and is held as its encoded changes (an archived entry not yet in the file, unless a snapshot
        // covered it meanwhile); and an open case closed after it (live again after the restart).
        receipts.append(try await entry.submit(request(50)))
        for receipt in [receipts[6], receipts[12]] {
            let key = receipt.ref.number.description
            let lead = try await entry.findCase(key).snapshot.leadUnit ?? ""
            _ = try await entry.unitAct(key, unit: lead, action: .sign)
            _ = try await entry.unitAct(key, unit: lead, action: .reply(text: "已修复"))
            _ = try await entry.reviewReply(key, accepted: true, note: "ok")
            let closed = try await entry.callBack(key, outcome: .reached(evaluation: CallbackEvaluation(resolved: true, satisfaction: .satisfied)))
            XCTAssertEqual(closed.status, .closed)
        }
        var before: [CaseID: CaseHistory] = [:]
        for receipt in receipts { before[receipt.ref.id] = try await entry.findCase(receipt.ref.number.description) }

        node.kill()
        let again = try harness.startNode("c1-again", port: node.node.address.port, extra: extra)
        let client2 = try harness.clientSystem("after-restart", callTimeout: .seconds(10))
        let entry2 = try HotlineNode.on(again.node, system: client2)
        for receipt in receipts {
            var found: CaseHistory?
            try await waitUntil(timeout: .seconds(30), "case \(receipt.ref.number) found after the restart") {
                found = try? await entry2.findCase(receipt.ref.number.description)
                return found != nil
            }
            let was = try XCTUnwrap(before[receipt.ref.id])
            XCTAssertEqual(found?.snapshot, was.snapshot, "case \(receipt.ref.number) as it was before the kill")
            XCTAssertEqual(found?.events, was.events)
        }
        let restarted = try await entry2.info()
        let offices = (restarted.offices ?? []).filter { jurisdictions.contains($0.jurisdiction) }
        for office in offices {
            XCTAssertGreaterThan(office.snapshotIndex ?? 0, 0, "office \(office.jurisdiction) recovered from a snapshot")
        }
        XCTAssertGreaterThanOrEqual(offices.reduce(0) { $0 + ($1.archivedCases ?? 0) }, 7, "closed cases held as index entries (the archive file, or the encoded changes after it)")
        // A retried intake, of a closed case and of an open one, is the case opened the first time.
        let closedAgain = try await entry2.submit(request(1))
        XCTAssertEqual(closedAgain.ref.id, receipts[1].ref.id)
        let openAgain = try await entry2.submit(request(9))
        XCTAssertEqual(openAgain.ref.id, receipts[9].ref.id)
        // And the office still takes new cases and changes.
        let fresh = try await entry2.submit(request(51))
        XCTAssertNotEqual(fresh.ref.id, receipts[0].ref.id)
        XCTAssertGreaterThan(fresh.ref.number.serial, receipts.map(\.ref.number.serial).max() ?? 0)
        XCTAssertGreaterThan(fresh.ref.number.serial, filler - 100 + 12, "numbered above every case held, archived ones too")
        let files = try FileManager.default.contentsOfDirectory(atPath: data + "/offices").filter { $0.hasSuffix(".archive") }
        XCTAssertEqual(files.count, 2, "one archive file per office: \(files)")
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: data + "/replicas/snapshots")
        XCTAssertEqual(snapshots.filter { $0.hasSuffix(".snap") }.count, 2, "one snapshot file per stream: \(snapshots)")
    }

    /// What must survive compaction besides a case's events: the intake keys of repeat contacts, a merged child
    /// under its lead, a delivery still pending. Cases built through the people's commands on a node with
    /// `--snapshot-min-bytes 1`, the repeat-contact case and the merged pair closed (archived: index entries
    /// only), the node SIGKILLed and restarted on its data directory: retried calls get the same cases (exactly
    /// once), the lead still lists its children, the delivery goes on, and a new call from the repeat caller
    /// reopens the archived case.
    func test_repeatContactsMergedChildrenAndPendingDeliverySurviveCompactionAndASIGKILL() async throws {
        let endpoint = try FlakyEndpoint(refuseFirst: 1_000_000)
        defer { endpoint.stop() }
        var c = try RoutingCatalogue.load(from: Data(contentsOf: URL(fileURLWithPath: try RepeatCallerTests.catalogueWithMatching())))
        let i = try XCTUnwrap(c.units.firstIndex { $0.code == "AS-WATER" })
        c.units[i].delivery = .http(url: "http://127.0.0.1:\(endpoint.port)/in", timeoutMs: 2_000)
        let catalogue = FileManager.default.temporaryDirectory.appendingPathComponent("compaction-\(UUID().uuidString).json").path
        try c.jsonData().write(to: URL(fileURLWithPath: catalogue))
        defer { try? FileManager.default.removeItem(atPath: catalogue) }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-compaction-\(UUID().uuidString)").path
        dirs.append(data)
        let extra = ["--catalog", catalogue, "--data", data, "--snapshot-min-bytes", "1",
                     "--delivery-retry-ms", "1000", "--delivery-retry-max-ms", "1000"]
        let first = try harness.startNode("c1", extra: extra)
        let node = first.node.address.description
        func submit(_ id: String, _ category: String, _ jurisdiction: String, phone: String, address: String, _ text: String) throws -> [String: Any] {
            try harness.json(node, ["submit", "--channel", "8890", "--external-id", id, "--category", category, "--jurisdiction", jurisdiction,
                                    "--phone", phone, "--address", address, "--description", text])
        }
        func number(_ r: [String: Any]) -> String { "\((r["ref"] as? [String: Any])?["number"] ?? "")" }
        func events(_ n: String) throws -> [String] {
            try XCTUnwrap(try harness.json(node, ["case", n])["events"] as? [[String: Any]]).compactMap { ($0["body"] as? [String: Any])?.keys.first }
        }
        func numbers(_ list: [String: Any]) -> [String] { ((list["entries"] as? [[String: Any]]) ?? []).map { "\($0["number"] ?? "")" } }
        try await waitUntil(timeout: .seconds(20), "the node takes calls") {
            (try? harness.cli(node, ["cases", "--json"]).status) == 0
        }

        // A case with a repeat contact, closed.
        let pothole = try submit("pothole-1", "road-damage", "210303", phone: "13812345678", address: "铁西区兴盛路 12 号", "兴盛路路面塌陷一个大坑")
        let a = number(pothole)
        let again = try submit("pothole-2", "road-damage", "210303", phone: "13812345678", address: "铁西区兴盛路 12 号", "第2次来电：大坑还没修")
        XCTAssertEqual(number(again), a)
        XCTAssertEqual((again["link"] as? [String: Any])?["kind"] as? String, "repeatContact")
        let unitA = try XCTUnwrap(pothole["leadUnit"] as? String)
        _ = try harness.json(node, ["unit", "sign", a, "--unit", unitA, "--json"])
        _ = try harness.json(node, ["unit", "reply", a, "--unit", unitA, "--text", "已修复", "--json"])
        _ = try harness.json(node, ["dispatch", "review", a, "--accept", "--json"])
        XCTAssertEqual(try harness.json(node, ["callback", "record", a, "--satisfied", "--json"])["status"] as? String, "closed")

        // A lead with a merged child, both closed.
        let lead = try submit("noise-1", "noise-nuisance", "210302", phone: "13900000001", address: "铁东区胜利路 88 号 KTV", "KTV深夜噪音（来电1）")
        let l = number(lead)
        let child = try submit("noise-2", "noise-nuisance", "210302", phone: "13900000002", address: "铁东区胜利路88号KTV", "KTV深夜噪音（来电2）")
        let ch = number(child)
        XCTAssertEqual(child["status"] as? String, "merged")
        let unitL = try XCTUnwrap(lead["leadUnit"] as? String)
        _ = try harness.json(node, ["unit", "sign", l, "--unit", unitL, "--json"])
        _ = try harness.json(node, ["unit", "reply", l, "--unit", unitL, "--text", "已责令整改", "--json"])
        _ = try harness.json(node, ["dispatch", "review", l, "--accept", "--json"])
        try await waitUntil(timeout: .seconds(10), "the child waits for its callback") {
            Set(numbers(try harness.json(node, ["callback", "due", "--json"]))) == [l, ch]
        }
        for n in [l, ch] { XCTAssertEqual(try harness.json(node, ["callback", "record", n, "--satisfied", "--json"])["status"] as? String, "closed") }

        // A case whose lead unit's system refuses every delivery.
        let water = try submit("water-1", "water-outage", "210302", phone: "13700000000", address: "铁东区胜利路 1 号", "整栋楼停水")
        let w = number(water)
        try await waitUntil(timeout: .seconds(20), "a failed delivery recorded") { (try events(w)).contains("deliveryFailed") }
        XCTAssertEqual(numbers(try harness.json(node, ["cases", "--undelivered", "--json"])), [w])

        let client = try harness.clientSystem(callTimeout: .seconds(10))
        let entry = try HotlineNode.on(first.node, system: client)
        var filler = 0
        try await waitUntil(timeout: .seconds(60), "the closed cases archived") {
            filler += 1
            _ = try submit("filler-\(filler)", "heating-failure", filler % 2 == 0 ? "210302" : "210303", phone: "1360000\(1000 + filler)",
                           address: "铁东区 \(filler) 号", "暖气不热 \(filler)")
            let offices = try await entry.info().offices ?? []
            return offices.reduce(0) { $0 + ($1.archivedCases ?? 0) } == 3
        }
        let closedBefore = Set(numbers(try harness.json(node, ["cases", "--status", "closed", "--json"])))
        XCTAssertEqual(closedBefore, [a, l, ch])
        let eventsBefore = try [a, l, ch, w].map { try events($0) }
        let postsBefore = endpoint.requests.count

        first.kill()
        let second = try harness.startNode("c1-again", port: first.node.address.port, extra: extra)
        XCTAssertEqual(second.node.address.description, node)
        try await waitUntil(timeout: .seconds(30), "the offices serve again") {
            (try? harness.cli(node, ["cases", "--status", "closed", "--json"]).status) == 0
        }
        XCTAssertEqual(Set(numbers(try harness.json(node, ["cases", "--status", "closed", "--json"]))), closedBefore, "listings from the index")
        for (n, before) in zip([a, l, ch], eventsBefore) { XCTAssertEqual(try events(n), before, "case \(n) read from the archive") }
        XCTAssertEqual(try events(l).filter { $0 == "duplicateAttached" }.count, 1, "the lead lists its child")
        XCTAssertEqual(Array(try events(ch).prefix(3)), ["drafted", "accepted", "mergedInto"])

        // Exactly once: retried calls (a repeat contact, an intake, a merged caller) are the same cases.
        let retriedRepeat = try submit("pothole-2", "road-damage", "210303", phone: "13812345678", address: "铁西区兴盛路 12 号", "第2次来电：大坑还没修")
        XCTAssertEqual(number(retriedRepeat), a)
        XCTAssertEqual(retriedRepeat["duplicate"] as? Bool, true)
        XCTAssertEqual((retriedRepeat["link"] as? [String: Any])?["kind"] as? String, "repeatContact")
        let retriedIntake = try submit("pothole-1", "road-damage", "210303", phone: "13812345678", address: "铁西区兴盛路 12 号", "兴盛路路面塌陷一个大坑")
        XCTAssertEqual(number(retriedIntake), a)
        XCTAssertEqual(retriedIntake["duplicate"] as? Bool, true)
        let retriedChild = try submit("noise-2", "noise-nuisance", "210302", phone: "13900000002", address: "铁东区胜利路88号KTV", "KTV深夜噪音（来电2）")
        XCTAssertEqual(number(retriedChild), ch)
        XCTAssertEqual(retriedChild["duplicate"] as? Bool, true)
        XCTAssertEqual(try events(a).filter { $0 == "repeatContactLinked" }.count, 1, "no second link")
        XCTAssertEqual(try events(a), eventsBefore[0], "nothing recorded by the retries")

        // The delivery is still pending, and the new owner goes on trying.
        XCTAssertEqual(numbers(try harness.json(node, ["cases", "--undelivered", "--json"])), [w])
        let retriedWater = try submit("water-1", "water-outage", "210302", phone: "13700000000", address: "铁东区胜利路 1 号", "整栋楼停水")
        XCTAssertEqual(number(retriedWater), w)
        try await waitUntil(timeout: .seconds(20), "delivery attempts after the restart") { endpoint.requests.count > postsBefore }

        // A new call from the repeat caller reopens the archived case: it is a live case again.
        let third = try submit("pothole-3", "road-damage", "210303", phone: "13812345678", address: "铁西区兴盛路 12 号", "第3次来电：又塌了")
        XCTAssertEqual(number(third), a)
        XCTAssertEqual((third["link"] as? [String: Any])?["kind"] as? String, "reopened")
        XCTAssertFalse(Set(numbers(try harness.json(node, ["cases", "--status", "closed", "--json"]))).contains(a))
    }

    /// Three nodes, each with `--data`, offices compacting after every change: the node hosting a district's
    /// office is SIGKILLed, and the office's new owner on another node reads the snapshot from the remaining
    /// replicas over the network (fetchSnapshot pages) and serves every case as before; the killed node,
    /// restarted on its directory, serves them too once its offices come back.
    func test_anOfficeMovedAfterCompactionReadsTheSnapshotFromItsReplicasOnOtherNodes() async throws {
        let names = ["k1", "k2", "k3"]
        let data = names.map { n -> String in
            let d = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-compaction-\(n)-\(UUID().uuidString)").path
            dirs.append(d)
            return d
        }
        func extra(_ i: Int, seeds: [NodeAddress]) -> [String] {
            var e = ["--catalog", DurabilityProcessTests.catalog, "--data", data[i], "--snapshot-min-bytes", "1"]
            if !seeds.isEmpty { e += ["--seeds", seeds.map(\.description).joined(separator: ",")] }
            return e
        }
        var nodes: [NodeProcess] = []
        for (i, n) in names.enumerated() { nodes.append(try harness.startNode(n, extra: extra(i, seeds: nodes.map(\.node.address)))) }
        let client = try harness.clientSystem(callTimeout: .seconds(10))
        let hotlines = try nodes.map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(hotlines, names: names, timeout: .seconds(20))
        _ = try await ClusterFormation.waitForPlacement(hotlines, names: names, timeout: .seconds(20))
        let jurisdictions = ["210302", "210303"]
        func request(_ i: Int) -> CitizenRequest {
            CitizenRequest(channel: "8890", externalID: "moved-\(i)", category: "heating-failure",
                           jurisdiction: jurisdictions[i % 2], description: "暖气不热，请处理 \(i)")
        }
        var receipts: [IntakeReceipt] = []
        for i in 0..<8 {
            var receipt: IntakeReceipt?
            try await waitUntil(timeout: .seconds(30), "request \(i) accepted") {
                receipt = try? await hotlines[0].submit(request(i))
                return receipt != nil
            }
            receipts.append(try XCTUnwrap(receipt))
        }
        for receipt in receipts.prefix(4) {
            let key = receipt.ref.number.description
            let lead = try await hotlines[0].findCase(key).snapshot.leadUnit ?? ""
            _ = try await hotlines[0].unitAct(key, unit: lead, action: .sign)
            _ = try await hotlines[0].unitAct(key, unit: lead, action: .reply(text: "已修复"))
            _ = try await hotlines[0].reviewReply(key, accepted: true, note: "ok")
            _ = try await hotlines[0].callBack(key, outcome: .reached(evaluation: CallbackEvaluation(resolved: true, satisfaction: .satisfied)))
        }
        var filler = 100
        var host = 0
        try await waitUntil(timeout: .seconds(60), "the closed cases archived") {
            filler += 1
            _ = try? await hotlines[0].submit(request(filler))
            var archived = 0
            for (i, h) in hotlines.enumerated() {
                for office in (try await h.info()).offices ?? [] where office.jurisdiction == "210302" || office.jurisdiction == "210303" {
                    archived += office.archivedCases ?? 0
                    if office.jurisdiction == "210302" { host = i }
                }
            }
            return archived == 4
        }
        var before: [CaseID: CaseHistory] = [:]
        for receipt in receipts { before[receipt.ref.id] = try await hotlines[0].findCase(receipt.ref.number.description) }

        nodes[host].kill()
        let survivor = hotlines[(host + 1) % 3]
        for receipt in receipts {
            var found: CaseHistory?
            try await waitUntil(timeout: .seconds(45), "case \(receipt.ref.number) found after its office moved") {
                found = try? await survivor.findCase(receipt.ref.number.description)
                return found != nil
            }
            XCTAssertEqual(found?.events, before[receipt.ref.id]?.events, "case \(receipt.ref.number) as before")
        }
        var moved: DistrictOfficeStatus?
        for (i, h) in hotlines.enumerated() where i != host {
            if let o = (try await h.info()).offices?.first(where: { $0.jurisdiction == "210302" && $0.phase == "serving" }) { moved = o }
        }
        let office = try XCTUnwrap(moved, "office 210302 serves on another node")
        XCTAssertGreaterThan(office.snapshotIndex ?? 0, 0, "its new owner started from the snapshot")
        XCTAssertEqual(office.archivedCases, 2, "its closed cases came from the snapshot read from the other nodes")
        let again = try await survivor.submit(request(1))
        XCTAssertEqual(again.ref.id, receipts[1].ref.id, "a retried intake of a closed case is the same case")

        let back = try harness.startNode(names[host] + "-again", port: nodes[host].node.address.port,
                                         extra: extra(host, seeds: nodes.map(\.node.address).filter { $0 != nodes[host].node.address }))
        let client2 = try harness.clientSystem("after-restart", callTimeout: .seconds(10))
        let restarted = try HotlineNode.on(back.node, system: client2)
        for receipt in receipts {
            var found: CaseHistory?
            try await waitUntil(timeout: .seconds(45), "case \(receipt.ref.number) found through the restarted node") {
                found = try? await restarted.findCase(receipt.ref.number.description)
                return found != nil
            }
            XCTAssertEqual(found?.events, before[receipt.ref.id]?.events)
        }
    }
}
