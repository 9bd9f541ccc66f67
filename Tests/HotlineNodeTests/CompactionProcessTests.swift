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
        func request(_ i: Int) -> CitizenRequest { heating("compact", i, in: jurisdictions) }
        var receipts: [IntakeReceipt] = []
        for i in 0..<12 { receipts.append(try await accepted(request(i), via: entry)) }
        // Half of them closed: signed, replied, reply accepted, the citizen called back satisfied.
        for receipt in receipts.prefix(6) {
            let status = try await close(receipt, via: entry)
            XCTAssertEqual(status, .closed)
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
            let status = try await close(receipt, via: entry)
            XCTAssertEqual(status, .closed)
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
        let cluster = try await startCompactingCluster(names, tag: "compaction")
        let nodes = cluster.nodes, hotlines = cluster.hotlines
        let jurisdictions = ["210302", "210303"]
        func request(_ i: Int) -> CitizenRequest { heating("moved", i, in: jurisdictions) }
        var receipts: [IntakeReceipt] = []
        for i in 0..<8 { receipts.append(try await accepted(request(i), via: hotlines[0])) }
        for receipt in receipts.prefix(4) {
            try await close(receipt, via: hotlines[0])
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
                                         extra: cluster.restartExtra(host))
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

    /// The breaker's data loss, closed: three nodes, offices compacted, all three stopped; the snapshot files of
    /// two of them deleted and only those two started. Their replicas keep their log position and say their
    /// snapshot is damaged, so no owner can recover the offices from them: the offices stay recovering (saying
    /// why) and no known case is ever answered "unknown case", nor a retried intake given a new case. The third
    /// node back, every case is served as before, the retry is the same case, and the damaged copies are
    /// installed again: with the third node killed once more, the other two serve everything.
    func test_snapshotFilesLostOnTwoOfThreeReplicasMakeTheOfficeWaitNotForget() async throws {
        let names = ["d1", "d2", "d3"]
        let cluster = try await startCompactingCluster(names, tag: "snaploss")
        let nodes = cluster.nodes, hotlines = cluster.hotlines
        let addresses = cluster.addresses
        let jurisdictions = ["210302", "210303"]
        func request(_ i: Int) -> CitizenRequest { heating("snaploss", i, in: jurisdictions) }
        var receipts: [IntakeReceipt] = []
        for i in 0..<6 { receipts.append(try await accepted(request(i), via: hotlines[0])) }
        for receipt in receipts.prefix(2) {
            try await close(receipt, via: hotlines[0])
        }
        var filler = 100
        try await waitUntil(timeout: .seconds(60), "both offices compacted with their closed case archived") {
            filler += 1
            _ = try? await hotlines[0].submit(request(filler))
            var done = 0
            for h in hotlines {
                for office in (try await h.info()).offices ?? [] where jurisdictions.contains(office.jurisdiction) && office.phase == "serving" {
                    if (office.snapshotIndex ?? 0) > 0 && office.archivedCases == 1 { done += 1 }
                }
            }
            return done == 2
        }
        var before: [CaseID: CaseHistory] = [:]
        for receipt in receipts { before[receipt.ref.id] = try await hotlines[0].findCase(receipt.ref.number.description) }

        NodeProcess.killAll(nodes)
        for d in cluster.data.prefix(2) {
            let dir = d + "/replicas/snapshots"
            let snaps = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".snap") }
            XCTAssertFalse(snaps.isEmpty, "\(dir) held snapshot files")
            for f in snaps { try FileManager.default.removeItem(atPath: dir + "/" + f) }
        }
        var back: [NodeProcess] = []
        for i in 0..<2 {
            back.append(try harness.startNode(names[i] + "-again", port: addresses[i].port,
                                              extra: cluster.restartExtra(i)))
        }
        let client2 = try harness.clientSystem("two-damaged", callTimeout: .seconds(5))
        let two = try back.map { try HotlineNode.on($0.node, system: client2) }
        // Whatever the two answer meanwhile, it is never the shorter state: no "unknown case", no new case.
        let sawRecovering = try await watchNeverShorter(two, receipts: receipts, before: before, retry: (request(3), receipts[3]),
                                                        jurisdictions: jurisdictions, seconds: 8)
        XCTAssertTrue(sawRecovering.contains("could not read") || sawRecovering.contains("snapshot"),
                      "a recovering office says why: \(sawRecovering)")

        let third = try harness.startNode(names[2] + "-again", port: addresses[2].port, extra: cluster.restartExtra(2))
        let client3 = try harness.clientSystem("whole-again", callTimeout: .seconds(10))
        let all = try (back + [third]).map { try HotlineNode.on($0.node, system: client3) }
        for receipt in receipts {
            var found: CaseHistory?
            try await waitUntil(timeout: .seconds(60), "case \(receipt.ref.number) found once the whole copy is back") {
                found = try? await all[0].findCase(receipt.ref.number.description)
                return found != nil
            }
            XCTAssertEqual(found?.events, before[receipt.ref.id]?.events, "case \(receipt.ref.number) as before")
        }
        let retried = try await all[1].submit(request(3))
        XCTAssertEqual(retried.ref.id, receipts[3].ref.id, "the retried intake is the case opened the first time")
        // A new case in each office commits only with a second replica acknowledging: a repaired one.
        for j in 0..<2 {
            try await waitUntil(timeout: .seconds(30), "a new case in office \(jurisdictions[j])") {
                (try? await all[0].submit(request(200 + j))) != nil
            }
        }
        // The third node gone again: the two repaired replicas hold everything.
        third.kill()
        for receipt in receipts {
            var found: CaseHistory?
            try await waitUntil(timeout: .seconds(60), "case \(receipt.ref.number) served by the two repaired nodes") {
                found = try? await all[1].findCase(receipt.ref.number.description)
                return found != nil
            }
            XCTAssertEqual(found?.events, before[receipt.ref.id]?.events)
        }
    }

    /// Breaker findings on one node (R = 1): (1) its office archive file overwritten while it runs — a closed
    /// case is never answered "unknown case" nor a retried intake given a new case: the office reads its stream
    /// again and serves the case as it was; (2) its only snapshot file truncated before a restart — the office
    /// stays recovering and says why, instead of serving an empty office.
    func test_aDamagedArchiveIsReadAgainAndALostOnlySnapshotKeepsTheOfficeWaiting() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-archive-bad-\(UUID().uuidString)").path
        dirs.append(data)
        let extra = ["--catalog", DurabilityProcessTests.catalog, "--data", data, "--snapshot-min-bytes", "1"]
        let node = try harness.startNode("a1", extra: extra)
        let client = try harness.clientSystem(callTimeout: .seconds(10))
        let entry = try HotlineNode.on(node.node, system: client)
        func request(_ i: Int) -> CitizenRequest { heating("archive-bad", i, in: ["210302"]) }
        var receipts: [IntakeReceipt] = []
        for i in 0..<4 { receipts.append(try await accepted(request(i), via: entry)) }
        for receipt in receipts.prefix(2) {
            try await close(receipt, via: entry)        }
        var filler = 100
        try await waitUntil(timeout: .seconds(60), "the closed cases archived in the file") {
            filler += 1
            _ = try? await entry.submit(request(filler))
            let office = (try await entry.info()).offices?.first { $0.jurisdiction == "210302" }
            return office?.archivedCases == 2 && (office?.snapshotIndex ?? 0) > 0 && (office?.archiveBytes ?? 0) > 0
        }
        var before: [CaseID: CaseHistory] = [:]
        for receipt in receipts { before[receipt.ref.id] = try await entry.findCase(receipt.ref.number.description) }

        // (1) The archive file overwritten with garbage of the same size, under the running node.
        let offices = data + "/offices"
        let archives = try FileManager.default.contentsOfDirectory(atPath: offices).filter { $0.hasSuffix(".archive") }
        XCTAssertFalse(archives.isEmpty)
        for name in archives {
            let path = offices + "/" + name
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
            try handle.write(contentsOf: Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }))
            try handle.close()
        }
        for receipt in receipts.prefix(2) {
            var found: CaseHistory?
            try await waitUntil(timeout: .seconds(30), "closed case \(receipt.ref.number) served again") {
                do {
                    found = try await entry.findCase(receipt.ref.number.description)
                    return true
                } catch HotlineError.unknownCase(let what) {
                    XCTFail("an archived case answered unknown (\(what)) after its archive file was damaged")
                    return true
                } catch {
                    return false
                }
            }
            XCTAssertEqual(found?.events, before[receipt.ref.id]?.events, "case \(receipt.ref.number) as it was")
        }
        let retried = try await entry.submit(request(1))
        XCTAssertEqual(retried.ref.id, receipts[1].ref.id, "a retried intake of an archived case is the same case")

        // (2) The only snapshot file truncated, the node restarted.
        node.kill()
        let snapshots = data + "/replicas/snapshots"
        for name in try FileManager.default.contentsOfDirectory(atPath: snapshots) where name.hasSuffix(".snap") {
            XCTAssertEqual(truncate(snapshots + "/" + name, 10), 0)
        }
        let again = try harness.startNode("a1-again", port: node.node.address.port, extra: extra)
        let client2 = try harness.clientSystem("after-truncation", callTimeout: .seconds(5))
        let entry2 = try HotlineNode.on(again.node, system: client2)
        let detail = try await watchNeverShorter([entry2], receipts: receipts, before: before, retry: (request(2), receipts[2]),
                                                 jurisdictions: ["210302"], seconds: 6)
        XCTAssertTrue(detail.contains("damaged") || detail.contains("could not read"), "the office says why it waits: \(detail)")
        // Breaker finding: a request for the waiting office timed out (exit 3, "rejected") instead of being queued.
        let started = ContinuousClock.now
        let outcome = try await entry2.submitOrQueue(request(77))
        guard case .queued = outcome else { return XCTFail("a request for a recovering office must be queued: \(outcome)") }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "queued within the call, not after a timeout")
    }

    /// For `seconds` (bounded rounds), while a stream's snapshot is lost: asks every entry for every case and
    /// submits `retry` again. A case answered must be as `before`; none may be "unknown case"; the retried intake,
    /// if accepted, must be its first case; no office of `jurisdictions` may serve. Returns the last `detail` a
    /// recovering office gave.
    func watchNeverShorter(_ entries: [HotlineNode], receipts: [IntakeReceipt], before: [CaseID: CaseHistory],
                           retry: (CitizenRequest, IntakeReceipt), jurisdictions: [String], seconds: Int) async throws -> String {
        var detail = ""
        let until = ContinuousClock.now + .seconds(seconds)
        var rounds = 0
        while ContinuousClock.now < until && rounds < 200 {
            rounds += 1
            for h in entries {
                for receipt in receipts {
                    do {
                        let found = try await h.findCase(receipt.ref.number.description)
                        XCTAssertEqual(found.events, before[receipt.ref.id]?.events, "case \(receipt.ref.number) answered from a shorter state")
                    } catch HotlineError.unknownCase(let what) {
                        XCTFail("case \(receipt.ref.number) answered unknown (\(what)) while its snapshot was lost")
                    } catch {}
                }
                if let again = try? await h.submit(retry.0) {
                    XCTAssertEqual(again.ref.id, retry.1.ref.id, "a retried intake opened a new case")
                }
                for office in (try? await h.info())?.offices ?? [] where jurisdictions.contains(office.jurisdiction) {
                    XCTAssertNotEqual(office.phase, "serving", "office \(office.jurisdiction) serves without its snapshot")
                    if office.phase == "recovering" { detail = office.detail ?? detail }
                }
            }
        }
        return detail
    }

    // MARK: - Shared steps

    /// Request `i` of a test: a heating failure, external id `tag-i`, in `jurisdictions[i % count]`.
    func heating(_ tag: String, _ i: Int, in jurisdictions: [String]) -> CitizenRequest {
        CitizenRequest(channel: "8890", externalID: "\(tag)-\(i)", category: "heating-failure",
                       jurisdiction: jurisdictions[i % jurisdictions.count], description: "暖气不热，请处理 \(i)")
    }

    /// Submits `request` through `entry` until it is accepted (bounded by 30 s).
    func accepted(_ request: CitizenRequest, via entry: HotlineNode) async throws -> IntakeReceipt {
        var receipt: IntakeReceipt?
        try await waitUntil(timeout: .seconds(30), "request \(request.externalID) accepted") {
            receipt = try? await entry.submit(request)
            return receipt != nil
        }
        return try XCTUnwrap(receipt)
    }

    /// Closes a case the way a whole cycle does: the lead unit signs and replies, the reply is accepted, the
    /// citizen is called back satisfied. Returns its status after the callback.
    @discardableResult
    func close(_ receipt: IntakeReceipt, via entry: HotlineNode) async throws -> CaseStatus {
        let key = receipt.ref.number.description
        let lead = try await entry.findCase(key).snapshot.leadUnit ?? ""
        _ = try await entry.unitAct(key, unit: lead, action: .sign)
        _ = try await entry.unitAct(key, unit: lead, action: .reply(text: "已修复"))
        _ = try await entry.reviewReply(key, accepted: true, note: "ok")
        return try await entry.callBack(key, outcome: .reached(evaluation: CallbackEvaluation(resolved: true, satisfaction: .satisfied))).status
    }

    /// Nodes `names`, each with a fresh `--data` directory and `--snapshot-min-bytes 1`, joined through the ones
    /// started before them, formed and placed.
    struct CompactingCluster {
        var names: [String]
        var data: [String]
        var nodes: [NodeProcess]
        var hotlines: [HotlineNode]
        var addresses: [NodeAddress] { nodes.map(\.node.address) }

        /// Node `i`'s flags, joining through `seeds`.
        func extra(_ i: Int, seeds: [NodeAddress]) -> [String] {
            var e = ["--catalog", DurabilityProcessTests.catalog, "--data", data[i], "--snapshot-min-bytes", "1"]
            if !seeds.isEmpty { e += ["--seeds", seeds.map(\.description).joined(separator: ",")] }
            return e
        }

        /// Node `i`'s flags for a restart: seeded by the others.
        func restartExtra(_ i: Int) -> [String] {
            extra(i, seeds: addresses.enumerated().filter { $0.offset != i }.map(\.element))
        }
    }

    func startCompactingCluster(_ names: [String], tag: String) async throws -> CompactingCluster {
        let data = names.map { n -> String in
            let d = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-\(tag)-\(n)-\(UUID().uuidString)").path
            dirs.append(d)
            return d
        }
        var cluster = CompactingCluster(names: names, data: data, nodes: [], hotlines: [])
        for (i, n) in names.enumerated() {
            cluster.nodes.append(try harness.startNode(n, extra: cluster.extra(i, seeds: cluster.addresses)))
        }
        let client = try harness.clientSystem(callTimeout: .seconds(10))
        cluster.hotlines = try cluster.nodes.map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(cluster.hotlines, names: names, timeout: .seconds(20))
        _ = try await ClusterFormation.waitForPlacement(cluster.hotlines, names: names, timeout: .seconds(20))
        return cluster
    }
}
