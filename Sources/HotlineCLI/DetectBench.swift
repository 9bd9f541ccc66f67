import ActorCluster
import Foundation

/// `hotline bench detect`: failure detection as operators see it. Starts a cluster of `hotline node`
/// processes on 127.0.0.1 (default settings, admin ports on), then SIGKILLs one member N times (restarting it
/// on the same port each time) and SIGSTOPs one member N times (SIGCONT once it is down everywhere; it
/// rejoins with a new uid). For each run: the time until every survivor's `/cluster/members` reports the
/// victim down. Also counts false downs: any other member some node reported down during the runs.
enum DetectBench {
    static let usage = """
    usage: hotline bench detect [--nodes N] [--runs R]
      N node processes (default 5, 3...9) on 127.0.0.1; R SIGKILL runs and R SIGSTOP runs (default 10 each).
      Prints JSON: median and max ms until every survivor reports the victim down, per signal, the samples,
      and false downs seen (members reported down that were not victims). Polls each survivor's admin port
      every 5 ms. Build with -c release for real figures.
    """

    struct Node {
        var process: NodeProcess
        var admin: NodeAddress
        var name: String
        /// The current incarnation's uid (a paused node rejoins under a new one).
        var uid: String
    }

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["nodes", "runs"])
        let count = try args.int("nodes", in: 3...9) ?? 5
        let runs = try args.int("runs", in: 1...100) ?? 10
        let exe = try selfExecutable()
        let secret = try ClusterAuth.makeEphemeralSecretFile()
        let tokenFile = try ClusterAuth.makeEphemeralSecretFile()
        defer {
            try? FileManager.default.removeItem(atPath: secret.path)
            try? FileManager.default.removeItem(atPath: tokenFile.path)
        }
        let token = try ClusterAuth.readSecret(path: tokenFile.path)
        var nodes: [Node] = []
        defer { for n in nodes { n.process.kill() } }

        func start(_ k: Int, port: UInt16 = 0) throws -> Node {
            var a = ["node", "--name", "d\(k + 1)", "--listen", "127.0.0.1:\(port)", "--log-level", "error",
                     "--secret-file", secret.path, "--admin", "127.0.0.1:0", "--admin-token-file", tokenFile.path]
            let others = nodes.enumerated().filter { $0.offset != k }.map { "\($0.element.process.node.address)" }
            if !others.isEmpty { a += ["--seeds", others.joined(separator: ",")] }
            let p = try NodeProcess(executable: exe, arguments: a, timeout: .seconds(30), quiet: true)
            guard let admin = p.admin else { throw CommandFailure("node d\(k + 1) printed no admin address") }
            return Node(process: p, admin: admin, name: "d\(k + 1)", uid: p.node.uidHex)
        }

        /// uid → status, as `n` lists its members (nil when its admin port does not answer).
        func view(_ n: Node) -> [String: (address: String, status: String)]? {
            guard let r = try? AdminClient.request("GET", "/cluster/members", at: n.admin, token: token, timeout: .seconds(2)),
                  r.status == 200,
                  let o = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else { return nil }
            var out: [String: (address: String, status: String)] = [:]
            for m in o["members"] as? [[String: Any]] ?? [] {
                out[m["uid"] as? String ?? ""] = (m["address"] as? String ?? "", m["status"] as? String ?? "")
            }
            return out
        }

        var victims = Set<String>()
        var falseDowns = Set<String>()
        func noteFalseDowns(_ v: [String: (address: String, status: String)]) {
            for (uid, m) in v where (m.status == "down" || m.status == "suspect") && !victims.contains(uid) {
                if m.status == "down" { falseDowns.insert(uid) }
            }
        }

        func waitUntil(_ what: String, timeout: Duration, _ condition: () -> Bool) throws {
            let deadline = ContinuousClock.now + timeout
            while !condition() {
                guard ContinuousClock.now < deadline else { throw CommandFailure("timed out after \(timeout): \(what)") }
                usleep(5_000)
            }
        }

        func allUp() -> Bool {
            nodes.allSatisfy { n in
                guard let v = view(n) else { return false }
                return nodes.allSatisfy { other in v[other.uid]?.status == "up" }
            }
        }

        for k in 0..<count { nodes.append(try start(k)) }
        try waitUntil("all \(count) nodes up everywhere", timeout: .seconds(30), allUp)

        /// ms until every survivor lists `uid` as down (or removed / absent).
        func measureDown(_ uid: String, survivors: [Node], from t0: ContinuousClock.Instant) throws -> Double {
            var done = Set<String>()
            try waitUntil("every survivor reports \(uid) down", timeout: .seconds(30)) {
                for s in survivors where !done.contains(s.name) {
                    guard let v = view(s) else { continue }
                    noteFalseDowns(v)
                    let st = v[uid]?.status ?? "absent"
                    if st == "down" || st == "removed" || st == "absent" { done.insert(s.name) }
                }
                return done.count == survivors.count
            }
            let d = ContinuousClock.now - t0
            return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        }

        var killMs: [Double] = []
        var stopMs: [Double] = []
        for run in 0..<runs {
            let k = 1 + run % (count - 1)
            let victim = nodes[k]
            let uid = victim.uid
            victims.insert(uid)
            let survivors = nodes.filter { $0.name != victim.name }
            let t0 = ContinuousClock.now
            victim.process.kill()
            killMs.append(try measureDown(uid, survivors: survivors, from: t0))
            nodes[k] = try start(k, port: victim.process.node.address.port)
            try waitUntil("the restarted node up everywhere", timeout: .seconds(30), allUp)
            FileHandle.standardError.write(Data("detect: SIGKILL run \(run + 1)/\(runs): \(Int(killMs.last!)) ms\n".utf8))
        }
        for run in 0..<runs {
            let k = 1 + run % (count - 1)
            let victim = nodes[k]
            let oldUID = victim.uid
            victims.insert(oldUID)
            let survivors = nodes.filter { $0.name != victim.name }
            let pid = victim.process.process.processIdentifier
            let t0 = ContinuousClock.now
            kill(pid, SIGSTOP)
            let ms = try measureDown(oldUID, survivors: survivors, from: t0)
            kill(pid, SIGCONT)
            stopMs.append(ms)
            // It learns it was downed and rejoins under a new uid at its address.
            let address = victim.process.node.address.description
            var newUID: String?
            try waitUntil("the resumed node rejoins", timeout: .seconds(30)) {
                guard let v = view(survivors[0]) else { return false }
                newUID = v.first { $0.value.address == address && $0.key != oldUID && $0.value.status == "up" }?.key
                return newUID != nil
            }
            if let newUID { nodes[k].uid = newUID }
            FileHandle.standardError.write(Data("detect: SIGSTOP run \(run + 1)/\(runs): \(Int(ms)) ms\n".utf8))
            try waitUntil("all members up everywhere", timeout: .seconds(30), allUp)
        }
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        func stats(_ v: [Double]) -> [String: Any] {
            let s = v.sorted()
            let median = s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
            return ["runs": s.count, "median_ms": (median * 10).rounded() / 10, "max_ms": ((s.last ?? 0) * 10).rounded() / 10,
                    "samples_ms": v.map { ($0 * 10).rounded() / 10 }]
        }
        let result: [String: Any] = [
            "bench": "detect", "build": build, "nodes": count, "cores": ProcessInfo.processInfo.activeProcessorCount,
            "what": "ms from the signal until every survivor's /cluster/members reports the victim down (polled every 5 ms)",
            "sigkill": stats(killMs), "sigstop": stats(stopMs), "false_downs": falseDowns.count,
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        return 0
    }
}
