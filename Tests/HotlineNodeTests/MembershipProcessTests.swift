import ActorCluster
import Hotline
import Foundation
import XCTest

/// Gossip membership and failover between five real `hotline node` processes on 127.0.0.1, observed through
/// their admin ports: SIGKILL, restart on the same port, SIGSTOP/SIGCONT, graceful leave.
final class MembershipProcessTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let catalog = repo.appendingPathComponent("Deploy/catalogs/anshan.json").path
    let harness = NodeHarness()
    var tokenFile: (path: String, token: [UInt8])?

    override func tearDown() {
        harness.stopAll()
        if let tokenFile { try? FileManager.default.removeItem(atPath: tokenFile.path) }
        super.tearDown()
    }

    struct Node {
        var process: NodeProcess
        var admin: NodeAddress
        var name: String
        var node: NodeIdentity { process.node }
    }

    /// Node 1: the desks; nodes 2…count: district offices. Each joins through the nodes before it, configures
    /// itself from the Anshan catalogue, and answers on an admin port with a token.
    func startCluster(_ count: Int = 5, faultInjection: Bool = false) async throws -> [Node] {
        let (path, _) = try ClusterAuth.makeEphemeralSecretFile()
        tokenFile = (path, try ClusterAuth.readSecret(path: path))
        var nodes: [Node] = []
        for k in 1...count {
            var extra = ["--admin", "127.0.0.1:0", "--admin-token-file", path, "--catalog", Self.catalog,
                         "--roles", k == 1 ? "intake,dispatch,callback,supervision,analysis" : "district"]
            if !nodes.isEmpty { extra += ["--seeds", nodes.map { "\($0.node.address)" }.joined(separator: ",")] }
            if faultInjection { extra.append("--fault-injection") }
            let p = try harness.startNode("m\(k)", extra: extra)
            nodes.append(Node(process: p, admin: try XCTUnwrap(p.admin), name: "m\(k)"))
        }
        try await waitUntil(timeout: .seconds(20), "all \(count) nodes list all \(count) as up") {
            try nodes.allSatisfy { n in try self.members(n).filter { $0.status == "up" }.count == count }
        }
        try await waitUntil(timeout: .seconds(20), "every node ready") {
            try nodes.allSatisfy { try self.get("/ready", $0.admin).status == 200 }
        }
        return nodes
    }

    struct MemberRow: Equatable {
        var uid: String
        var address: String
        var status: String
        var incarnation: Int
    }

    func get(_ path: String, _ admin: NodeAddress, method: String = "GET") throws -> AdminClient.Response {
        try AdminClient.request(method, path, at: admin, token: tokenFile?.token, timeout: .seconds(5))
    }

    func members(_ n: Node) throws -> [MemberRow] {
        let r = try get("/cluster/members", n.admin)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], r.text)
        return (o["members"] as? [[String: Any]] ?? []).map {
            MemberRow(uid: $0["uid"] as? String ?? "", address: $0["address"] as? String ?? "",
                      status: $0["status"] as? String ?? "", incarnation: $0["incarnation"] as? Int ?? -1)
        }
    }

    /// The status `observer` gives `uid`: its listed status, "absent" when not listed.
    func status(of uid: String, at observer: Node) throws -> String {
        try members(observer).first { $0.uid == uid }?.status ?? "absent"
    }

    func placement(_ n: Node) throws -> [String: (node: String?, epoch: Int)] {
        let r = try get("/cluster/placement", n.admin)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], r.text)
        var out: [String: (node: String?, epoch: Int)] = [:]
        for row in o["placement"] as? [[String: Any]] ?? [] {
            out[row["key"] as? String ?? ""] = (row["node"] as? String, row["epoch"] as? Int ?? -1)
        }
        return out
    }

    func metric(_ name: String, _ n: Node) throws -> Int {
        let text = try get("/metrics", n.admin).text
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Int(line.split(separator: " ").last ?? "") ?? -1
        }
        return 0
    }

    func test_sigkilledMemberIsDownEverywhereWithinASecondAndItsOfficesMoveWithAHigherEpoch() async throws {
        let nodes = try await startCluster()
        // The victim: a district node that hosts offices (which one does depends on the ports and uids drawn).
        let before = try placement(nodes[0])
        let victim = try XCTUnwrap(nodes.dropFirst().first { n in before.values.contains { $0.node == n.node.description } },
                                   "some district node hosts offices")
        let survivors = nodes.filter { $0.name != victim.name }
        let held = before.filter { $0.value.node == victim.node.description }

        let killedAt = ContinuousClock.now
        victim.process.kill()
        var seenDown: [String: Duration] = [:]
        try await waitUntil(timeout: .seconds(5), "every survivor reports the killed member down") {
            for s in survivors where seenDown[s.name] == nil {
                let st = try self.status(of: victim.node.uidHex, at: s)
                if st == "down" || st == "removed" || st == "absent" { seenDown[s.name] = ContinuousClock.now - killedAt }
            }
            return seenDown.count == survivors.count
        }
        let slowest = seenDown.values.max() ?? .zero
        print("membership: SIGKILL detected by every survivor within \(slowest) (\(seenDown))")
        XCTAssertLessThan(slowest, .seconds(1), "max detection time with default settings")

        // Its offices are hosted elsewhere, with a higher epoch, and the survivors agree.
        try await waitUntil(timeout: .seconds(5), "the killed node's offices placed on survivors") {
            let now = try self.placement(survivors[0])
            return held.keys.allSatisfy { k in
                guard let a = now[k], let node = a.node else { return false }
                return node != victim.node.description && a.epoch > held[k]!.epoch
            }
        }
        let views = try survivors.map { try placement($0).mapValues(\.node) }
        for v in views.dropFirst() { XCTAssertEqual(v, views[0], "one owner per office on every survivor") }
        for s in survivors { XCTAssertEqual(try get("/ready", s.admin).status, 200, s.name) }
    }

    func test_restartOnTheSamePortIsANewMemberAndTheOldUidNeverReturns() async throws {
        let nodes = try await startCluster()
        let victim = nodes[3]
        let survivors = nodes.filter { $0.name != victim.name }
        let oldUID = victim.node.uidHex
        victim.process.kill()
        let restarted = try harness.startNode("m4-again", port: victim.node.address.port, extra: [
            "--admin", "127.0.0.1:0", "--admin-token-file", tokenFile!.path, "--catalog", Self.catalog, "--roles", "district",
            "--seeds", survivors.map { "\($0.node.address)" }.joined(separator: ","),
        ])
        let started = ContinuousClock.now
        let newUID = restarted.node.uidHex
        XCTAssertNotEqual(newUID, oldUID)
        try await waitUntil(timeout: .seconds(3), "the new uid is up everywhere within 3 s") {
            try survivors.allSatisfy { try self.status(of: newUID, at: $0) == "up" }
        }
        print("membership: restarted member up everywhere after \(ContinuousClock.now - started)")
        for s in survivors {
            let st = try status(of: oldUID, at: s)
            XCTAssert(["down", "removed", "absent"].contains(st), "\(s.name) lists the old uid as \(st)")
        }
        // 30 s later the old uid has not come back anywhere (stale gossip cannot revive it).
        let until = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < until {
            for s in survivors {
                let st = try status(of: oldUID, at: s)
                XCTAssert(["down", "removed", "absent"].contains(st), "\(s.name) lists the old uid as \(st)")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    func test_pausedMemberIsDownedThenLearnsItAndRejoinsAsANewMember() async throws {
        let nodes = try await startCluster()
        let victim = nodes[1]
        let survivors = nodes.filter { $0.name != victim.name }
        let oldUID = victim.node.uidHex
        let pid = victim.process.process.processIdentifier
        kill(pid, SIGSTOP)
        let stoppedAt = ContinuousClock.now
        try await waitUntil(timeout: .seconds(6), "every survivor downs the paused member") {
            try survivors.allSatisfy { ["down", "removed", "absent"].contains(try self.status(of: oldUID, at: $0)) }
        }
        let detection = ContinuousClock.now - stoppedAt
        print("membership: SIGSTOP downed everywhere after \(detection)")
        XCTAssertLessThan(detection, .seconds(3), "down everywhere within 3 s with default settings")
        kill(pid, SIGCONT)
        // It learns it was downed and rejoins with a new uid at the same address (never its old one).
        try await waitUntil(timeout: .seconds(15), "the resumed process rejoins as a new member") {
            try survivors.allSatisfy { s in
                try self.members(s).contains { $0.address == victim.node.address.description && $0.uid != oldUID && $0.status == "up" }
            }
        }
        for s in survivors {
            XCTAssert(["down", "removed", "absent"].contains(try status(of: oldUID, at: s)), s.name)
        }
        XCTAssertTrue(victim.process.isRunning, "the process rejoined instead of exiting")
    }

    func test_gracefulLeaveRemovesTheMemberWithoutSuspicionAndHandsOffItsOffices() async throws {
        let nodes = try await startCluster()
        let leaver = nodes[4]
        let others = nodes.filter { $0.name != leaver.name }
        let held = try placement(others[0]).filter { $0.value.node == leaver.node.description }
        let suspicionsBefore = try others.map { try metric("cluster_membership_suspicions_total", $0) }
        let answer = try get("/cluster/leave", leaver.admin, method: "POST")
        XCTAssertEqual(answer.status, 202, answer.text)
        try await waitUntil(timeout: .seconds(10), "every other member removes the leaver") {
            try others.allSatisfy { ["removed", "absent"].contains(try self.status(of: leaver.node.uidHex, at: $0)) }
        }
        try await waitUntil(timeout: .seconds(10), "the leaver's process exits 0") { !leaver.process.isRunning }
        XCTAssertEqual(leaver.process.endedHow, "exit 0")
        let suspicionsAfter = try others.map { try metric("cluster_membership_suspicions_total", $0) }
        XCTAssertEqual(suspicionsAfter, suspicionsBefore, "a graceful leave raises no suspicion anywhere")
        try await waitUntil(timeout: .seconds(5), "its offices are hosted by the others") {
            let now = try self.placement(others[0])
            return held.keys.allSatisfy { k in now[k]?.node != nil && now[k]?.node != leaver.node.description }
        }
        for s in others { XCTAssertEqual(try get("/ready", s.admin).status, 200, s.name) }
    }

    func test_noFalseDownFor60SecondsWhileBothCoresAreSaturated() async throws {
        let nodes = try await startCluster()
        let uids = Set(nodes.map(\.node.uidHex))
        // One busy process per core (sha256sum of an endless stream: pure CPU), each in a process group of its
        // own under `timeout -s KILL 90` (a killed test run leaves none behind), with its output to /dev/null (an
        // inherited stdout would keep `swift test` waiting for the pipe to close). SIGKILLed as a group at the end.
        var burners: [pid_t] = []
        defer {
            for pid in burners {
                kill(-pid, SIGKILL)
                var st: Int32 = 0
                waitpid(pid, &st, 0)
            }
        }
        for _ in 0..<ProcessInfo.processInfo.activeProcessorCount {
            var pid: pid_t = 0
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
            let argv = ["/usr/bin/timeout", "-s", "KILL", "90", "sha256sum", "/dev/zero"]
            var cargs = argv.map { strdup($0) } + [nil]
            defer { for p in cargs { free(p) } }
            XCTAssertEqual(posix_spawn(&pid, argv[0], &actions, &attributes, &cargs, environ), 0, "spawn a busy process")
            burners.append(pid)
        }
        let until = ContinuousClock.now + .seconds(60)
        var polls = 0
        // Bounded: 60 s, each poll of a node waits at most 1 s.
        while ContinuousClock.now < until {
            for n in nodes where ContinuousClock.now < until {
                // A starved admin port may answer late: that is not a failure, only a down would be.
                guard let r = try? AdminClient.request("GET", "/cluster/members", at: n.admin, token: tokenFile?.token,
                                                       timeout: .seconds(1)),
                      let o = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else { continue }
                let rows = (o["members"] as? [[String: Any]] ?? []).map {
                    MemberRow(uid: $0["uid"] as? String ?? "", address: $0["address"] as? String ?? "",
                              status: $0["status"] as? String ?? "", incarnation: $0["incarnation"] as? Int ?? -1)
                }
                for row in rows where uids.contains(row.uid) {
                    XCTAssertNotEqual(row.status, "down", "\(n.name) downed \(row.address) under CPU load")
                }
            }
            polls += 1
            try await Task.sleep(for: .milliseconds(500))
        }
        let downs = try nodes.map { try metric("cluster_membership_downs_total", $0) }
        XCTAssertEqual(downs, Array(repeating: 0, count: nodes.count), "no member was declared down")
        let suspicions = try nodes.map { try metric("cluster_membership_suspicions_total", $0) }
        print("membership: 60 s with \(burners.count) busy processes on \(ProcessInfo.processInfo.activeProcessorCount) cores: \(polls) polls, suspicions per node \(suspicions), downs \(downs)")
        for n in nodes { XCTAssertEqual(try members(n).filter { uids.contains($0.uid) && $0.status == "up" }.count, 5, n.name) }
    }

    func block(_ n: Node, _ addresses: [NodeAddress]) throws {
        let r = try AdminClient.request("POST", "/fault-injection/blocked", at: n.admin, token: tokenFile?.token,
                                        body: Array(addresses.map(\.description).joined(separator: ",").utf8), timeout: .seconds(5))
        XCTAssertEqual(r.status, 200, r.text)
    }

    func hostedDistricts(_ n: Node) throws -> [String] {
        let r = try get("/hotline/info", n.admin)
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], r.text)
        return (o["hostedPaths"] as? [String] ?? []).filter { $0.hasPrefix("/hotline/district/") }
    }

    func test_partitionTwoFromThreeTheMinorityStopsHostingTheMajorityTakesOverThenOneClusterAgain() async throws {
        let nodes = try await startCluster(faultInjection: true)
        let minority = Array(nodes[3...4]), majority = Array(nodes[0...2])
        XCTAssertFalse(try hostedDistricts(nodes[3]).isEmpty && hostedDistricts(nodes[4]).isEmpty, "the minority hosts offices")
        for n in minority { try block(n, majority.map(\.node.address)) }
        for n in majority { try block(n, minority.map(\.node.address)) }
        let cut = ContinuousClock.now

        // The two lose the quorum: they host no office and say so on /ready; the three down them and take over.
        try await waitUntil(timeout: .seconds(10), "the minority reports not ready and hosts no office") {
            try minority.allSatisfy { try self.get("/ready", $0.admin).status == 503 && self.hostedDistricts($0).isEmpty }
        }
        let ready = try get("/ready", minority[0].admin)
        XCTAssertTrue(ready.text.contains("quorum"), ready.text)
        try await waitUntil(timeout: .seconds(10), "the majority downs the two and places every office on itself") {
            try majority.allSatisfy { m in
                let downed = try minority.allSatisfy { ["down", "removed", "absent"].contains(try self.status(of: $0.node.uidHex, at: m)) }
                let offices = try self.placement(m).filter { $0.key.hasPrefix("district/") }
                let placedHere = offices.values.allSatisfy { a in majority.contains { $0.node.description == a.node } }
                return downed && !offices.isEmpty && placedHere
            }
        }
        print("membership: partition 2|3 settled after \(ContinuousClock.now - cut)")
        // Ready — an office whose recorded replicas are mostly on the minority side cannot recover until the
        // partition heals (consistency per district), and /ready names it with what it waits for.
        for m in majority { XCTAssertEqual(try get("/ready", m.admin).status, 200, m.name) }
        for n in minority {
            for m in majority {
                XCTAssertNotEqual(try status(of: m.node.uidHex, at: n), "down", "the minority downs nobody")
            }
        }

        // Heal: the two learn they were downed and rejoin as new members; one cluster, one owner per office.
        for n in nodes { try block(n, []) }
        try await waitUntil(timeout: .seconds(30), "one cluster of five again") {
            try nodes.allSatisfy { n in
                let up = try self.members(n).filter { $0.status == "up" }
                return up.count == 5 && Set(up.map(\.address)).count == 5
            }
        }
        for n in nodes {
            for m in minority {
                XCTAssert(["down", "removed", "absent"].contains(try status(of: m.node.uidHex, at: n)), "old uid of \(m.name) at \(n.name)")
            }
        }
        try await waitUntil(timeout: .seconds(15), "every node places every office on the same up node") {
            let views = try nodes.map { try self.placement($0).mapValues(\.node) }
            return views.allSatisfy { $0 == views[0] } && views[0].values.allSatisfy { $0 != nil }
        }
        try await waitUntil(timeout: .seconds(15), "every node ready again") {
            try nodes.allSatisfy { try self.get("/ready", $0.admin).status == 200 }
        }
        // Every office serves again, with every case it held (recovered from its replicas).
        try await waitUntil(timeout: .seconds(20), "every office serving after the heal") {
            try nodes.allSatisfy { n in
                let r = try self.get("/hotline/info", n.admin)
                let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
                return (o["offices"] as? [[String: Any]] ?? []).allSatisfy { $0["phase"] as? String == "serving" }
            }
        }
        // Each office is hosted exactly once.
        var hosts: [String: Int] = [:]
        for n in nodes { for p in try hostedDistricts(n) { hosts[p, default: 0] += 1 } }
        XCTAssertFalse(hosts.isEmpty)
        XCTAssertEqual(hosts.values.filter { $0 != 1 }.count, 0, "\(hosts)")
    }

    /// Intake never turns a citizen away: on the minority side of a partition a request is kept in the node's
    /// durable intake queue (the citizen gets a ticket), and delivered as a case once the partition heals —
    /// after the node learned it was downed and rejoined under a new uid.
    func test_intakeOnTheMinorityQueuesRequestsAndDeliversThemAfterTheHeal() async throws {
        let nodes = try await startCluster(faultInjection: true)
        let minority = Array(nodes[3...4]), majority = Array(nodes[0...2])
        for n in minority { try block(n, majority.map(\.node.address)) }
        for n in majority { try block(n, minority.map(\.node.address)) }
        try await waitUntil(timeout: .seconds(10), "the minority has lost the quorum") {
            try minority.allSatisfy { try self.get("/ready", $0.admin).status == 503 }
        }
        let client = try harness.clientSystem()
        let entry = try HotlineNode.on(.anyIncarnation(at: minority[0].node.address), system: client)
        var tickets: [(String, String)] = []
        for i in 0..<3 {
            let request = CitizenRequest(channel: "8890", externalID: "cut-\(i)", category: "heating-failure",
                                         jurisdiction: "210302", description: "停暖 \(i)")
            guard case .queued(let q) = try await entry.submitOrQueue(request) else {
                return XCTFail("the minority accepted a case without the quorum")
            }
            XCTAssertTrue(q.reason.contains("quorum"), q.reason)
            XCTAssertEqual(q.position, i + 1)
            tickets.append((q.ticket, "cut-\(i)"))
        }
        // A request intake would refuse is refused at once, not queued.
        do {
            _ = try await entry.submitOrQueue(CitizenRequest(channel: "8890", externalID: "bad", category: "no-such-category",
                                                             jurisdiction: "210302", description: "x"))
            XCTFail("queued a request for an unknown category")
        } catch HotlineError.invalidRequest {}

        for n in nodes { try block(n, []) }
        var delivered: [IntakeReceipt] = []
        try await waitUntil(timeout: .seconds(40), "the queued requests are delivered after the heal") {
            delivered = []
            for (ticket, _) in tickets {
                let status = (try? await entry.queued(ticket)) ?? nil
                guard case .delivered(let receipt)? = status else { return false }
                delivered.append(receipt)
            }
            return true
        }
        XCTAssertEqual(Set(delivered.map(\.ref.number)).count, 3, "three distinct cases")
        let reader = try HotlineNode.on(.anyIncarnation(at: majority[0].node.address), system: client)
        for receipt in delivered {
            let found = try await reader.findCase(receipt.ref.number.description)
            XCTAssertEqual(found.snapshot.id, receipt.ref.id)
        }
    }
}
