import ActorCluster
import Foundation
import Hotline
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Cases survive what kills processes: three `hotline node` processes with `--data` directories, every one of
/// them SIGKILLed at once (a power loss: `fsync` per batch is the default) and restarted on its address and
/// directory; and a second process on a directory in use is refused.
final class DurabilityProcessTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let catalog = repo.appendingPathComponent("Deploy/catalogs/anshan.json").path
    let harness = NodeHarness()
    var dirs: [String] = []

    override func tearDown() {
        harness.stopAll()
        for d in dirs { try? FileManager.default.removeItem(atPath: d) }
        super.tearDown()
    }

    func dataDir(_ name: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-data-\(name)-\(UUID().uuidString)").path
        dirs.append(d)
        return d
    }

    func start(_ name: String, port: UInt16 = 0, data: String, seeds: [NodeAddress]) throws -> NodeProcess {
        var extra = ["--catalog", Self.catalog, "--data", data]
        if !seeds.isEmpty { extra += ["--seeds", seeds.map(\.description).joined(separator: ",")] }
        return try harness.startNode(name, port: port, extra: extra)
    }

    func test_everyAcknowledgedCaseSurvivesAllNodesKilledAtOnceAndRestartedOnTheirDataDirectories() async throws {
        let names = ["d1", "d2", "d3"]
        let data = names.map(dataDir)
        let nodes = try await startThree(names, data: data)
        let jurisdictions = Self.jurisdictions
        let receipts = try await submit(24, prefix: "power", through: nodes[0])
        // Power loss: every process at once.
        NodeProcess.killAll(nodes)
        var restarted: [NodeProcess] = []
        for (i, n) in names.enumerated() {
            restarted.append(try start(n + "-again", port: nodes[i].node.address.port, data: data[i],
                                       seeds: nodes.map(\.node.address).filter { $0 != nodes[i].node.address }))
        }
        let client2 = try harness.clientSystem("after-restart")
        let again = try HotlineNode.on(restarted[0].node, system: client2)
        try await expectFound(receipts, through: again, "after the restart")
        // The same request again is the same case, not a new one.
        let repeatReceipt = try await again.submit(CitizenRequest(channel: "8890", externalID: "power-5", category: "heating-failure",
                                                                  jurisdiction: jurisdictions[5 % 4], description: "暖气不热 5"))
        XCTAssertEqual(repeatReceipt.ref.id, receipts[5].ref.id)
    }

    /// After a power loss the node restarted first, alone, used to form a cluster of one after 1 s, hold its
    /// quorum, and open the offices it held no replica of empty (a breaker lost acknowledged cases that way). Its
    /// data directory remembers the last agreed member set (`members.json`): alone it waits, not ready, naming
    /// what it waits for; with a second of the three it forms the cluster and every acknowledged case is found.
    /// `--force-new-cluster` lets an operator form a cluster alone when the others are gone for good, and a
    /// member file that cannot be read exits 2 naming it.
    func test_aNodeRestartedAloneAfterAPowerLossWaitsForAMajorityOfTheMembersItRemembers() async throws {
        let names = ["m1", "m2", "m3"]
        let data = names.map(dataDir)
        let nodes = try await startThree(names, data: data)
        let addresses = nodes.map(\.node.address)
        try await waitUntil(timeout: .seconds(20), "each has written the three to its member file") {
            data.allSatisfy { Self.remembered(in: $0) == addresses.sorted() }
        }
        let receipts = try await submit(12, prefix: "alone", through: nodes[0])
        NodeProcess.killAll(nodes)

        // m1 alone, its own seed among the others (it would have formed a cluster of one after 1 s).
        func restart(_ i: Int, extra: [String] = []) throws -> NodeProcess {
            try harness.startNode(names[i] + "-again", port: addresses[i].port,
                                  extra: ["--catalog", Self.catalog, "--data", data[i], "--admin", "127.0.0.1:0",
                                          "--seeds", addresses.map(\.description).joined(separator: ",")] + extra)
        }
        var running: [NodeProcess] = []
        let first = try restart(0)
        running.append(first)
        let admin = try XCTUnwrap(first.admin)
        try await waitUntil(timeout: .seconds(10), "m1 says what it waits for") {
            let r = try AdminClient.request("GET", "/ready", at: admin, token: nil, timeout: .seconds(5))
            return r.status == 503 && r.text.contains("majority of the 3 members")
        }
        // Three times the 1 s after which a seed that hears nobody used to form a cluster alone: still waiting.
        try await expectNotReady(at: admin) { _ in
            let members = try AdminClient.request("GET", "/cluster/members", at: admin, token: nil, timeout: .seconds(5))
            let view = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(members.body)) as? [String: Any])
            XCTAssertEqual(view["hasQuorum"] as? Bool, false)
            let wait = try XCTUnwrap(view["rememberedWait"] as? [String: Any], members.text)
            XCTAssertEqual(wait["heard"] as? [String], [addresses[0].description])
            XCTAssertEqual(wait["remembered"] as? [String], addresses.sorted().map(\.description))
        }

        // m2 comes back: two of three, a majority — the cluster forms and every acknowledged case is there.
        running.append(try restart(1))
        let client2 = try harness.clientSystem("after-restart")
        let again = try HotlineNode.on(first.node, system: client2)
        try await expectFound(receipts, through: again, "by m1 and m2")
        for n in running { _ = n.stop() }

        // The operator's way out when the others are gone for good: --force-new-cluster forms a cluster alone.
        let forced = try restart(0, extra: ["--force-new-cluster"])
        let forcedAdmin = try XCTUnwrap(forced.admin)
        try await waitUntil(timeout: .seconds(20), "m1 forms a cluster alone when told to") {
            let r = try AdminClient.request("GET", "/cluster/members", at: forcedAdmin, token: nil, timeout: .seconds(5))
            let view = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
            return view?["hasQuorum"] as? Bool == true
        }
        try await waitUntil(timeout: .seconds(10), "its member file now holds itself alone") {
            Self.remembered(in: data[0]) == [addresses[0]]
        }
        _ = forced.stop()

        // A member file that is not one: exit 2, naming it.
        try Data("{\"version\": 1, \"agreed\": [\"nowhere\"]}".utf8).write(to: URL(fileURLWithPath: data[0] + "/members.json"))
        let (status, stderr) = try NodeHarness.run(["node", "--name", "m1", "--listen", "127.0.0.1:0",
                                                   "--secret-file", harness.secret.path, "--data", data[0]])
        XCTAssertEqual(status, 2, stderr)
        XCTAssertTrue(stderr.contains("members.json") && stderr.contains("nowhere") && stderr.contains("--force-new-cluster"), stderr)
    }

    /// The stream directory (breaker, 2026-12-02): an office whose replicas are the first three nodes; two nodes
    /// join later and never hold a replica of it. After a power loss the two newcomers and one of the three come
    /// back, then that one dies: the two keep quorum (2 of the 3 members agreed since the restart), and the office's
    /// owner among them — its replicas holding nothing of the stream — opened it empty, losing its cases. Every
    /// member now keeps the office's committed replica set (`/cluster/replicas` `recordedSet`) and names it when
    /// asked: the owner waits, not serving, for two of the three; once they are back every case is there.
    func test_anOfficeWhoseReplicasAreAllDownIsNotOpenedEmptyByMembersThatNeverHeldIt() async throws {
        let names = ["s1", "s2", "s3", "s4", "s5"]
        let data = names.map(dataDir)
        let first = try await startThree(Array(names[0..<3]), data: Array(data[0..<3]))
        let firstAddresses = first.map(\.node.address)
        // Ports for the two newcomers that leave some office's replicas on the first three (rendezvous by address).
        let codes = ((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.catalog))) as? [String: Any])?["jurisdictions"]
                     as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
        var chosen: (ports: [UInt16], jurisdiction: String)?
        for _ in 0..<100 where chosen == nil {
            guard let p4 = Self.freePort(), let p5 = Self.freePort(), p4 != p5 else { continue }
            let all = (firstAddresses + [p4, p5].map { NodeAddress(host: "127.0.0.1", port: $0) }).map { NodeIdentity(address: $0, uid: 0) }
            for code in codes {
                let set = Replication.ReplicaPlacement.replicas(of: DistrictOffice.streamName(code), among: all, count: 3)
                if Set(set.map(\.address)) == Set(firstAddresses) { chosen = ([p4, p5], code); break }
            }
        }
        let (ports, jurisdiction) = try XCTUnwrap(chosen, "no ports found that keep an office's replicas on the first three")
        let stream = DistrictOffice.streamName(jurisdiction)
        print("directory test: office \(jurisdiction), newcomers on ports \(ports)")
        let entry = try HotlineNode.on(first[0].node, system: try harness.clientSystem("directory-submitter"))
        func submitTo(_ i: Int) async throws -> IntakeReceipt {
            let r = CitizenRequest(channel: "8890", externalID: "directory-\(i)", category: "heating-failure",
                                   jurisdiction: jurisdiction, description: "暖气不热 \(i)")
            var receipt: IntakeReceipt?
            try await waitUntil(timeout: .seconds(20), "request \(i) accepted") {
                receipt = try? await entry.submit(r)
                return receipt != nil
            }
            return try XCTUnwrap(receipt)
        }
        var receipts: [IntakeReceipt] = []
        for i in 0..<4 { receipts.append(try await submitTo(i)) }

        let everyone = firstAddresses + ports.map { NodeAddress(host: "127.0.0.1", port: $0) }
        func start(_ i: Int, extra: [String] = []) throws -> NodeProcess {
            try harness.startNode(names[i] + "-\(UUID().uuidString.prefix(4))", port: everyone[i].port,
                                  extra: ["--catalog", Self.catalog, "--data", data[i], "--admin", "127.0.0.1:0",
                                          "--seeds", everyone.filter { $0 != everyone[i] }.map(\.description).joined(separator: ",")] + extra)
        }
        let newcomers = [try start(3), try start(4)]
        for i in 4..<7 { receipts.append(try await submitTo(i)) }
        // Both newcomers hold no replica of the office, but know its committed set.
        for n in newcomers {
            let admin = try XCTUnwrap(n.admin)
            try await waitUntil(timeout: .seconds(30), "\(n.node) records \(stream)'s replica set") {
                let r = try AdminClient.request("GET", "/cluster/replicas", at: admin, token: nil, timeout: .seconds(5))
                let streams = (try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])?["streams"] as? [[String: Any]] ?? []
                guard let mine = streams.first(where: { $0["stream"] as? String == stream }) else { return false }
                XCTAssertEqual(mine["lastIndex"] as? Int, 0, "not a replica of it")
                return (mine["recordedSet"] as? [String]) == firstAddresses.sorted().map(\.description)
            }
        }

        // Power loss; the two newcomers and s1 come back; s1 dies again: the two keep quorum between them.
        NodeProcess.killAll(first + newcomers)
        let back = [try start(3), try start(4), try start(0)]
        let client = try harness.clientSystem("directory-checker", callTimeout: .seconds(3))
        let s4 = try HotlineNode.on(back[0].node, system: client)
        let s5 = try HotlineNode.on(back[1].node, system: client)
        try await waitUntil(timeout: .seconds(30), "s4, s5 and s1 form the cluster") {
            let info = try await s4.info()
            return info.membersUp == 3 && info.hasQuorum
        }
        back[2].kill()
        try await waitUntil(timeout: .seconds(30), "s4 and s5 keep quorum without s1") {
            let info = try await s4.info()
            return info.membersUp == 2 && info.hasQuorum
        }
        // The office's owner on s4 or s5 waits for its recorded replicas. (Should a node have been suspected while the
        // newcomers joined, the set may have moved onto them for a while: then they hold the log and may serve —
        // with every case, checked below.)
        var office: DistrictOfficeStatus?
        try await waitUntil(timeout: .seconds(30), "the office's owner on s4 or s5 decides") {
            for node in [s4, s5] {
                guard let o = try await node.info().offices?.first(where: { $0.jurisdiction == jurisdiction }) else { continue }
                office = o
                return o.phase == "serving" || (o.detail ?? "").contains("recorded replicas")
            }
            return false
        }
        // `findCase` asks every office at once, and the other offices whose replicas are all down wait up to 3 s
        // each before answering: a caller needs more than 3 s.
        let patient = try HotlineNode.on(back[0].node, system: try harness.clientSystem("directory-finder", callTimeout: .seconds(10)))
        if office?.phase == "serving" {
            print("directory test: the office serves on s4/s5 (its set had moved onto them): \(String(describing: office))")
            for receipt in receipts {
                let found = try await patient.findCase(receipt.ref.number.description)
                XCTAssertEqual(found.snapshot.id, receipt.ref.id, "served without case \(receipt.ref.number)")
            }
        } else {
            XCTAssertTrue(office?.detail?.contains("of the 3 recorded replicas") ?? false, String(describing: office))
            // Asked for a case of the waiting office, a node answers "unavailable" naming it — within the caller's
            // timeout, though offices wait up to 3 s each (all are asked at once) — and never "unknown case".
            do {
                let found = try await patient.findCase(receipts[0].ref.number.description)
                XCTFail("found in an office that does not serve: \(found.snapshot.id)")
            } catch let error as HotlineError {
                guard case .unavailable(let why) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(why.contains(jurisdiction), why)
            }
        }

        // Two of the three come back: every case of the office is there.
        _ = [try start(0), try start(1)]
        try await expectFound(receipts, through: s4, timeout: .seconds(45), "once two of its replicas are back")
    }

    /// Two breaker findings (2026-12-02) about a node that joins and is killed soon after:
    /// - a newcomer reads the stream directory of the members when it joins (`/cluster/replicas`
    ///   `directoryComplete`), so that a power loss right after a join cannot leave a majority of restarted nodes
    ///   that know nothing of a stream;
    /// - a node whose data holds replicas but no `members.json` (killed before it wrote it) restarted as its own
    ///   seed formed a cluster apart. It now stays joining alone, and joins the cluster the others form;
    /// - (2026-12-03) so does a brand-new node listed among its own seeds after the founding seed.
    func test_aNewcomerReadsTheDirectory_andANodeWithReplicasButNoMemberFileOrOnlyContactJoinsOnlyARunningCluster() async throws {
        let names = ["d1", "d2", "d3", "d4"]
        let data = names.map(dataDir)
        var nodes = try await startThree(Array(names[0..<3]), data: Array(data[0..<3]))
        let receipts = try await submit(8, prefix: "orphan", through: nodes[0])
        nodes.append(try harness.startNode(names[3], extra: ["--catalog", Self.catalog, "--data", data[3], "--admin", "127.0.0.1:0",
                                                             "--seeds", nodes.map(\.node.address.description).joined(separator: ",")]))
        let addresses = nodes.map(\.node.address)
        let newcomer = try XCTUnwrap(nodes[3].admin)
        try await waitUntil(timeout: .seconds(20), "the newcomer has read the directory, which names every office's set") {
            let r = try AdminClient.request("GET", "/cluster/replicas", at: newcomer, token: nil, timeout: .seconds(5))
            guard let view = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
                  view["directoryComplete"] as? Bool == true, let streams = view["streams"] as? [[String: Any]] else { return false }
            let named = Set(streams.filter { $0["recordedSet"] != nil }.compactMap { $0["stream"] as? String })
            return Self.jurisdictions.allSatisfy { j in named.contains { $0.hasSuffix(j) } }
        }
        try await waitUntil(timeout: .seconds(20), "each has written the four to its member file") {
            data.allSatisfy { Self.remembered(in: $0) == addresses.sorted() }
        }
        NodeProcess.killAll(nodes)

        // d3 lost its member file (as if killed before it wrote it) and comes back alone, its own seed among the
        // others: it would have formed a cluster of one after 1 s.
        try FileManager.default.removeItem(atPath: data[2] + "/members.json")
        func restart(_ i: Int) throws -> NodeProcess {
            try harness.startNode(names[i] + "-again", port: addresses[i].port,
                                  extra: ["--catalog", Self.catalog, "--data", data[i], "--admin", "127.0.0.1:0",
                                          "--seeds", addresses.map(\.description).joined(separator: ",")])
        }
        let orphan = try restart(2)
        let admin = try XCTUnwrap(orphan.admin)

        // A newcomer, d5, joins through d3 — which answers no join. Its first handshake with d3 is recorded in its
        // member file before its join goes out: another cluster may list it from then on. (Not its own seed here:
        // a seed whose handshake took over 1 s would form a cluster of one first.)
        let d5Data = dataDir("d5")
        let d5Port = try XCTUnwrap(Self.freePort())
        let d5Address = NodeAddress(host: "127.0.0.1", port: d5Port)
        func startD5(_ name: String, seeds: [NodeAddress]) throws -> NodeProcess {
            try harness.startNode(name, port: d5Port, extra: ["--catalog", Self.catalog, "--data", d5Data, "--admin", "127.0.0.1:0",
                                                              "--seeds", seeds.map(\.description).joined(separator: ",")])
        }
        let d5 = try startD5("d5", seeds: [addresses[2]])
        try await waitUntil(timeout: .seconds(20), "d5 recorded its contact with d3") {
            FileManager.default.contents(atPath: d5Data + "/members.json").map { String(decoding: $0, as: UTF8.self) }
                == "{\"agreed\":[],\"version\":1}\n"
        }
        // Killed in its join window, it comes back as its own seed while nobody answers (breaker, 2026-12-02: it
        // formed a cluster of one after 1 s and handed out case numbers from 1 again): it waits for a running
        // cluster, as d3 does.
        d5.kill()
        let d5Again = try startD5("d5-again", seeds: [d5Address, addresses[0]])
        let d5Admin = try XCTUnwrap(d5Again.admin)
        // A brand-new node, d6, listed among its own seeds after the founding seed d1, started during the outage
        // with an empty data directory (breaker, 2026-12-03: a newcomer killed before its first handshake is such a
        // node; as its own seed it formed a cluster of one and handed out case numbers a second time). Only the
        // first seed founds a cluster: d6 waits too.
        let d6Port = try XCTUnwrap(Self.freePort())
        let d6 = try harness.startNode("d6", port: d6Port, extra: ["--catalog", Self.catalog, "--data", dataDir("d6"), "--admin", "127.0.0.1:0",
                                                                   "--seeds", "\(addresses[0]),127.0.0.1:\(d6Port)"])
        let d6Admin = try XCTUnwrap(d6.admin)
        try await expectNotReady(at: admin) { text in
            XCTAssertTrue(text.contains("joining"), text)
            for (name, other) in [("d5", d5Admin), ("d6", d6Admin)] {
                let r = try AdminClient.request("GET", "/ready", at: other, token: nil, timeout: .seconds(5))
                XCTAssertEqual(r.status, 503, "\(name): \(r.text)")
                XCTAssertTrue(r.text.contains("joining"), "\(name): \(r.text)")
            }
        }
        // d1 and d2 come back: with d3 they are 3 of the 4 members d1 remembers; d3 and d5 join the cluster they form.
        _ = [try restart(0), try restart(1)]
        try await waitUntil(timeout: .seconds(30), "d3, d5 and d6 are ready in the others' cluster") {
            try AdminClient.request("GET", "/ready", at: admin, token: nil, timeout: .seconds(5)).status == 200
                && AdminClient.request("GET", "/ready", at: d5Admin, token: nil, timeout: .seconds(5)).status == 200
                && AdminClient.request("GET", "/ready", at: d6Admin, token: nil, timeout: .seconds(5)).status == 200
        }
        let client = try harness.clientSystem("after-orphan")
        try await expectFound(receipts, through: try HotlineNode.on(orphan.node, system: client), timeout: .seconds(45),
                              "through d3 once the others are back")
    }

    /// Breaker, 2026-12-03: a fresh seed (its own only seed) that the command line called in its first second never
    /// formed its cluster; one killed in its first second and restarted waited for a cluster for ever, because
    /// its store held its own intake queue. Neither is contact with a cluster.
    func test_aFreshSeedCalledByTheCommandLineOrHoldingOnlyItsOwnStreamsFormsItsCluster() async throws {
        let data = dataDir("lone")
        let port = try XCTUnwrap(Self.freePort())
        let address = NodeAddress(host: "127.0.0.1", port: port)
        func startLone(_ name: String) throws -> NodeProcess {
            try harness.startNode(name, port: port, extra: ["--catalog", Self.catalog, "--data", data, "--admin", "127.0.0.1:0",
                                                            "--seeds", address.description])
        }
        let lone = try startLone("lone")
        let admin = try XCTUnwrap(lone.admin)
        _ = try harness.cli(address.description, ["case", "2026-000001"])
        // Ready is published a moment before the member file is renamed into place: wait for both.
        try await waitUntil(timeout: .seconds(20), "the seed formed its cluster and wrote its member file") {
            try AdminClient.request("GET", "/ready", at: admin, token: nil, timeout: .seconds(5)).status == 200
                && Self.remembered(in: data) == [address]
        }
        // Killed, its member file lost: its store holds only what it wrote itself, so it forms its cluster again.
        lone.kill()
        try FileManager.default.removeItem(atPath: data + "/members.json")
        let again = try startLone("lone-again")
        let adminAgain = try XCTUnwrap(again.admin)
        try await waitUntil(timeout: .seconds(20), "the seed formed its cluster again and wrote its member file") {
            try AdminClient.request("GET", "/ready", at: adminAgain, token: nil, timeout: .seconds(5)).status == 200
                && Self.remembered(in: data) == [address]
        }
    }

    /// Breaker, 2026-12-03: three fresh nodes listening on 127.0.0.1 whose seeds spell the same addresses
    /// `localhost:…` never formed a cluster (the first seed did not recognise itself, so nobody founded it, and each
    /// node dialled itself). A seed that is this node under another spelling is now this node.
    func test_seedsSpelledAsHostNamesForTheListenAddressesFormOneCluster() async throws {
        let ports = try (0..<3).map { _ in try XCTUnwrap(Self.freePort()) }
        let seeds = ports.map { "localhost:\($0)" }.joined(separator: ",")
        let nodes = try ports.enumerated().map { i, port in
            try harness.startNode("h\(i + 1)", port: port, extra: ["--catalog", Self.catalog, "--data", dataDir("h\(i + 1)"),
                                                                 "--admin", "127.0.0.1:0", "--seeds", seeds])
        }
        let admins = try nodes.map { try XCTUnwrap($0.admin) }
        try await waitUntil(timeout: .seconds(20), "one cluster of three, every node ready") {
            try admins.allSatisfy { admin in
                let r = try AdminClient.request("GET", "/cluster/members", at: admin, token: nil, timeout: .seconds(5))
                guard r.status == 200, let view = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any],
                      let members = view["members"] as? [[String: Any]] else { return false }
                let ready = try AdminClient.request("GET", "/ready", at: admin, token: nil, timeout: .seconds(5)).status == 200
                return ready && members.filter { $0["status"] as? String == "up" }.count == 3
            }
        }
    }

    /// Observes that something does not happen: polls `/ready` at `admin` every 100 ms for `seconds` (at most 100
    /// polls); each answer must be 503 and pass `check` (given its text).
    func expectNotReady(at admin: NodeAddress, seconds: Int = 3, _ check: (String) async throws -> Void) async throws {
        let watchUntil = ContinuousClock.now + .seconds(seconds)
        var polls = 0
        while ContinuousClock.now < watchUntil, polls < 100 {
            polls += 1
            let r = try AdminClient.request("GET", "/ready", at: admin, token: nil, timeout: .seconds(5))
            XCTAssertEqual(r.status, 503, r.text)
            try await check(r.text)
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits (up to `timeout` for each) until every receipt's case is found through `node` by its number, and checks
    /// it is the same case (id) in the same state.
    func expectFound(_ receipts: [IntakeReceipt], through node: HotlineNode, timeout: Duration = .seconds(30), _ when: String) async throws {
        for receipt in receipts {
            var found: CaseHistory?
            try await waitUntil(timeout: timeout, "case \(receipt.ref.number) found \(when)") {
                found = try? await node.findCase(receipt.ref.number.description)
                return found != nil
            }
            XCTAssertEqual(found?.snapshot.id, receipt.ref.id)
            XCTAssertEqual(found?.snapshot.status, receipt.status)
        }
    }

    /// A TCP port free on 127.0.0.1 now (bound, read, closed), or nil.
    static func freePort() -> UInt16? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? UInt16(bigEndian: address.sin_port) : nil
    }

    static let jurisdictions = ["210302", "210303", "210304", "210311"]

    /// Three nodes on `data`, each seeded with those before it; returns once the first has all three up and quorum.
    func startThree(_ names: [String], data: [String]) async throws -> [NodeProcess] {
        var nodes: [NodeProcess] = []
        for (i, n) in names.enumerated() {
            nodes.append(try start(n, data: data[i], seeds: nodes.map(\.node.address)))
        }
        let entry = try HotlineNode.on(nodes[0].node, system: try harness.clientSystem())
        try await waitUntil(timeout: .seconds(20), "the first node has all three members and takes a request") {
            let info = try await entry.info()
            return info.membersUp == 3 && info.hasQuorum
        }
        return nodes
    }

    /// `count` requests (external ids `PREFIX-i`, over four district offices) submitted through `node`, each
    /// retried until accepted (offices may still be recovering their empty streams right after start).
    func submit(_ count: Int, prefix: String, through node: NodeProcess) async throws -> [IntakeReceipt] {
        let entry = try HotlineNode.on(node.node, system: try harness.clientSystem("submitter-\(prefix)"))
        var receipts: [IntakeReceipt] = []
        for i in 0..<count {
            let r = CitizenRequest(channel: "8890", externalID: "\(prefix)-\(i)", category: "heating-failure",
                                   jurisdiction: Self.jurisdictions[i % Self.jurisdictions.count], description: "暖气不热 \(i)")
            var receipt: IntakeReceipt?
            try await waitUntil(timeout: .seconds(20), "request \(i) accepted") {
                receipt = try? await entry.submit(r)
                return receipt != nil
            }
            receipts.append(try XCTUnwrap(receipt))
        }
        return receipts
    }

    /// The addresses in `DIR/members.json`, sorted; nil when there is no readable file.
    static func remembered(in dir: String) -> [NodeAddress]? {
        guard let data = FileManager.default.contents(atPath: dir + "/members.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let agreed = object["agreed"] as? [String] else { return nil }
        return agreed.compactMap(NodeAddress.init(parsing:)).sorted()
    }

    func test_aSecondNodeOnADataDirectoryInUseExitsTwoNamingTheLock() async throws {
        let data = dataDir("locked")
        _ = try start("holder", data: data, seeds: [])
        let (status, stderr) = try NodeHarness.run(["node", "--name", "intruder", "--listen", "127.0.0.1:0",
                                                   "--secret-file", harness.secret.path, "--data", data])
        XCTAssertEqual(status, 2, stderr)
        XCTAssertTrue(stderr.contains("lock"), stderr)
    }

    /// Mounts a tmpfs of `megabytes` MiB at a new directory (root only: skipped elsewhere).
    func mountTmpfs(megabytes: Int) throws -> String {
        let dir = dataDir("tmpfs")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", dir]
        let errors = Pipe()
        mount.standardError = errors
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else {
            let why = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw XCTSkip("cannot mount a tmpfs here (root needed): \(why)")
        }
        mounts.append(dir)
        return dir
    }

    var mounts: [String] = []

    /// A node whose data directory fills up: intake refuses with a reason that names the full disk (not a
    /// crash, not a hang), the node keeps answering, intake works again once space is freed, and every case
    /// acknowledged before, during and after is found after a restart — nothing invented, nothing lost.
    func test_aFullDiskIsAClearRefusalAtIntakeAndLosesNothingAcknowledged() async throws {
        let disk = try mountTmpfs(megabytes: 8)
        defer {
            harness.stopAll()
            for m in mounts {
                let umount = Process()
                umount.executableURL = URL(fileURLWithPath: "/bin/umount")
                umount.arguments = ["-l", m]
                try? umount.run()
                umount.waitUntilExit()
            }
        }
        let data = disk + "/node"
        let node = try harness.startNode("full", extra: ["--catalog", Self.catalog, "--data", data,
                                                         "--admin", "127.0.0.1:0"])
        let client = try harness.clientSystem(callTimeout: .seconds(40))
        let entry = try HotlineNode.on(node.node, system: client)
        func request(_ i: Int, size: Int = 64) -> CitizenRequest {
            CitizenRequest(channel: "8890", externalID: "full-\(i)", category: "heating-failure", jurisdiction: "210302",
                           description: "暖气不热 \(i) " + String(repeating: "x", count: size))
        }
        var acknowledged: [IntakeReceipt] = []
        for i in 0..<5 {
            var receipt: IntakeReceipt?
            try await waitUntil(timeout: .seconds(20), "request \(i) accepted") {
                receipt = try? await entry.submit(request(i))
                return receipt != nil
            }
            acknowledged.append(try XCTUnwrap(receipt))
        }
        // Fill the file system to just above the replica store's reserve with a file the test can remove.
        let reading = try XCTUnwrap(DiskSpace.statvfsReading(disk))
        let reserve = DiskSpace(path: disk).reserveBytes
        let filler = disk + "/filler"
        XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: Data(count: reading.availableBytes - reserve - 40_000)))
        // Requests of ~3 KB until the first refusal, which must name the full disk. The store reads the free space
        // every 50 ms, so a few may still be accepted (and must survive); 300 of them would pass the reserve.
        var refusal: String?
        var queued: [String] = []
        for i in 5..<300 where refusal == nil {
            do {
                switch try await entry.submitOrQueue(request(i, size: 3_000)) {
                case .accepted(let receipt): acknowledged.append(receipt)
                // The office's write was refused but the queue's smaller record still fit above the reserve: the
                // request is kept durably and must become a case once space is freed.
                case .queued(let ticket): queued.append(ticket.ticket)
                }
            } catch let error as HotlineError {
                refusal = "\(error)"
            }
        }
        let message = try XCTUnwrap(refusal, "the disk never filled")
        print("full-disk: refused after \(acknowledged.count) accepted and \(queued.count) queued: \(message)")
        XCTAssertTrue(message.contains("disk full"), message)
        XCTAssertTrue(node.isRunning, "the node survives a full disk")
        let ready = try AdminClient.request("GET", "/ready", at: try XCTUnwrap(node.admin), timeout: .seconds(5))
        XCTAssertEqual(ready.status, 503)
        XCTAssertTrue(String(decoding: ready.body, as: UTF8.self).contains("disk full"))

        // Space freed: intake takes requests again without a restart.
        try FileManager.default.removeItem(atPath: filler)
        var after: IntakeReceipt?
        try await waitUntil(timeout: .seconds(30), "a request accepted once space was freed") {
            after = try? await entry.submit(request(100))
            return after != nil
        }
        acknowledged.append(try XCTUnwrap(after))
        for ticket in queued {
            var delivered: IntakeReceipt?
            try await waitUntil(timeout: .seconds(30), "queued request \(ticket) delivered as a case") {
                if case .delivered(let receipt)? = try? await entry.queued(ticket) { delivered = receipt }
                return delivered != nil
            }
            acknowledged.append(try XCTUnwrap(delivered))
        }

        // Restarted on the same directory: every acknowledged case, once.
        node.kill()
        let again = try harness.startNode("full-again", port: node.node.address.port,
                                          extra: ["--catalog", Self.catalog, "--data", data])
        let client2 = try harness.clientSystem("after-restart", callTimeout: .seconds(20))
        let entry2 = try HotlineNode.on(again.node, system: client2)
        for receipt in acknowledged {
            var found: CaseHistory?
            try await waitUntil(timeout: .seconds(30), "case \(receipt.ref.number) found after the restart") {
                found = try? await entry2.findCase(receipt.ref.number.description)
                return found != nil
            }
            XCTAssertEqual(found?.snapshot.id, receipt.ref.id)
        }
        let numbers = Set(acknowledged.map(\.ref.number))
        XCTAssertEqual(numbers.count, acknowledged.count, "no number handed out twice")
    }
}
