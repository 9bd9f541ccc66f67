import ActorCluster
import Foundation
import Glibc
import Hotline

/// `hotline bench intake`: acknowledged submissions per second through intake on a local cluster of
/// `hotline node` processes with data directories (R = 3, W = 2 on 3 nodes), once per fsync policy, with
/// where the time goes read from the nodes' own metrics.
enum IntakeBench {
    static let usage = """
    usage: hotline bench intake [--nodes N] [--requests N] [--concurrency C] [--fsync always|interval:MS|both]
      Starts N `hotline node` processes (default 3, 1...7) on 127.0.0.1, each with its own data directory in a
      temporary folder and the bundled Anshan catalogue (Deploy/catalogs/anshan.json), and submits N citizen
      requests (default 20000) from C concurrent callers (default 256), spread over the nodes and over four
      district offices; a submission counts once its receipt is back (its case is durable on a write quorum).
      Runs once per fsync policy (default both: always, then interval:50). Prints JSON per policy: accepted per
      second, latency median/p99 in ms, and from the nodes' /metrics: fsyncs and their mean ms, records per
      fsync (group commit), replication appends and their mean ms to a write quorum, CPU seconds per node and
      CPU ms per accepted request (nodes and this client together). Build with -c release.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["nodes", "requests", "concurrency", "fsync"])
        let count = try args.int("nodes", in: 1...7) ?? 3
        let requests = try args.int("requests", in: 100...10_000_000) ?? 20_000
        let concurrency = try args.int("concurrency", in: 1...4096) ?? 256
        let policies: [String]
        switch args["fsync"] ?? "both" {
        case "both": policies = ["always", "interval:50"]
        case let p: _ = try NodeConfig.fsync(p, field: "--fsync"); policies = [p]
        }
        let catalogue = try bundledCatalogue()
        let build = BenchCommand.buildKind(warning: "intake")
        var runs: [[String: Any]] = []
        for policy in policies {
            runs.append(try await measure(nodes: count, requests: requests, concurrency: concurrency, fsync: policy,
                                          catalogue: catalogue))
        }
        let result: [String: Any] = ["bench": "intake", "build": build, "cores": ProcessInfo.processInfo.activeProcessorCount,
                                     "nodes": count, "requests": requests, "concurrency": concurrency,
                                     "replication": ["R": min(3, count), "W": min(3, count) / 2 + 1], "runs": runs]
        let json = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        return 0
    }

    /// The Anshan catalogue next to the working directory or to the executable (`.build/<config>/hotline`).
    static func bundledCatalogue() throws -> String {
        let relative = "Deploy/catalogs/anshan.json"
        var candidates = [FileManager.default.currentDirectoryPath + "/" + relative]
        var dir = try selfExecutable().deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(dir.appendingPathComponent(relative).path)
            dir = dir.deletingLastPathComponent()
        }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw CommandFailure("cannot find \(relative): run from the repository's top folder")
        }
        return found
    }

    /// One cluster, one policy: start, warm up, submit, read metrics, stop.
    static func measure(nodes count: Int, requests: Int, concurrency: Int, fsync: String,
                        catalogue: String) async throws -> [String: Any] {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-bench-intake-\(UUID().uuidString)")
        let secret = try ClusterAuth.makeEphemeralSecretFile()
        var processes: [NodeProcess] = []
        defer {
            for p in processes { p.kill() }
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(atPath: secret.path)
        }
        for k in 0..<count {
            var a = ["node", "--name", "b\(k + 1)", "--listen", "127.0.0.1:0", "--log-level", "error",
                     "--secret-file", secret.path, "--admin", "127.0.0.1:0", "--catalog", catalogue,
                     "--data", root.appendingPathComponent("n\(k + 1)").path, "--fsync", fsync]
            if !processes.isEmpty { a += ["--seeds", processes.map { "\($0.node.address)" }.joined(separator: ",")] }
            processes.append(try NodeProcess(executable: try selfExecutable(), arguments: a, timeout: .seconds(30), quiet: true))
        }
        var settings = ClusterSettings.client("bench-intake")
        settings.callTimeout = .seconds(30)
        settings.transport.auth = try NodeConfig.auth(secretFile: secret.path, previousSecretFile: nil, listen: nil)
        let system = try ClusterSystem(settings: settings, logger: Logger(level: .error))
        defer { system.shutdown() }
        try HotlineError.registerWireErrors(on: system)
        let entries = try processes.map { try HotlineNode.on($0.node, system: system) }
        let jurisdictions = ["210302", "210303", "210304", "210311"]
        let run = UUID().uuidString.prefix(8)
        func request(_ i: Int, _ tag: String) -> CitizenRequest {
            CitizenRequest(channel: "bench", externalID: "\(run)-\(tag)-\(i)", category: "heating-failure",
                           jurisdiction: jurisdictions[i % jurisdictions.count],
                           description: "暖气不热，室温只有十二度 (request \(i))", contactPhone: "1390000\(String(format: "%04d", i % 10_000))")
        }
        // Warm up until every office serves through every node (bounded: 60 s).
        let deadline = ContinuousClock.now + .seconds(60)
        var warm = 0
        while warm < jurisdictions.count * count {
            guard ContinuousClock.now < deadline else { throw CommandFailure("the cluster did not take requests within 60 s") }
            if (try? await entries[warm % count].submit(request(warm, "warm"))) != nil { warm += 1 } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let before = try processes.map { try scrape($0) }
        let t0 = ContinuousClock.now
        let perWorker = (requests + concurrency - 1) / concurrency
        let cpuBefore = processes.map { cpuSeconds($0.pid) }
        let selfBefore = cpuSeconds(getpid())
        let outcome = try await withThrowingTaskGroup(of: ([Double], [String]).self) { group in
            for w in 0..<concurrency {
                group.addTask {
                    var samples: [Double] = []
                    var failed: [String] = []
                    for j in 0..<perWorker {
                        let i = w * perWorker + j
                        guard i < requests else { break }
                        let s = ContinuousClock.now
                        do {
                            _ = try await entries[i % entries.count].submit(request(i, "run"))
                            samples.append(Double((ContinuousClock.now - s) / .microseconds(1)) / 1000)
                        } catch {
                            failed.append(String("\(error)".prefix(160)))
                        }
                    }
                    return (samples, failed)
                }
            }
            var all: [Double] = []
            var failed: [String] = []
            for try await (part, f) in group { all += part; failed += f }
            return (all, failed)
        }
        let elapsed = Double((ContinuousClock.now - t0) / .microseconds(1)) / 1e6
        let cpu = zip(cpuBefore, processes.map { cpuSeconds($0.pid) }).map { BenchCommand.round2($1 - $0) }
        let clientCPU = cpuSeconds(getpid()) - selfBefore
        var reasons: [String: Int] = [:]
        for f in outcome.1 { reasons[f, default: 0] += 1 }
        let after = try processes.map { try scrape($0) }
        func delta(_ name: String) -> Double {
            zip(before, after).reduce(0) { $0 + (($1.1[name] ?? 0) - ($1.0[name] ?? 0)) }
        }
        let fsyncs = delta("log_fsyncs_total")
        let records = delta("log_appended_records_total")
        let appends = delta("replication_appends_total")
        let sorted = outcome.0.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        var rss: [Int] = []
        for p in processes { if let kb = NodeProcess.residentKiB(pid: p.pid) { rss.append(kb / 1024) } }
        return [
            "fsync": fsync,
            "accepted": sorted.count,
            "failed": outcome.1.count,
            "failures": reasons.sorted { $0.value > $1.value }.prefix(3).map { ["count": $0.value, "error": $0.key] },
            "cpu_seconds_per_node": cpu,
            "cpu_ms_per_accepted": BenchCommand.round2((cpu.reduce(0, +) + clientCPU) * 1000 / Double(max(1, sorted.count))),
            "seconds": BenchCommand.round2(elapsed),
            "accepted_per_s": Int(Double(sorted.count) / max(elapsed, 1e-9)),
            "latency_ms": ["median": BenchCommand.round2(pct(0.5)), "p99": BenchCommand.round2(pct(0.99)),
                           "max": BenchCommand.round2(sorted.last ?? 0)],
            "where_the_time_goes": [
                "fsyncs": Int(fsyncs),
                "fsync_mean_ms": BenchCommand.round2(fsyncs > 0 ? delta("log_fsync_seconds_sum") / fsyncs * 1000 : 0),
                "fsync_busy_share_per_node": BenchCommand.round2(delta("log_fsync_seconds_sum") / Double(processes.count) / max(elapsed, 1e-9)),
                "journal_records": Int(records),
                "journal_records_per_fsync": BenchCommand.round2(fsyncs > 0 ? records / fsyncs : 0),
                "replication_appends": Int(appends),
                "replication_append_mean_ms": BenchCommand.round2(appends > 0 ? delta("replication_append_seconds_sum") / appends * 1000 : 0),
                "replica_requests": Int(delta("replica_requests_total")),
            ] as [String: Any],
            "rss_mb_per_node": rss,
        ]
    }

    /// User + system CPU seconds of `pid` so far, from `/proc/<pid>/stat` (0 when unreadable).
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = NodeProcess.procFileText("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return 0 }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The node's `/metrics` as name → value (labelled series summed by name; histograms give `_sum`/`_count`).
    static func scrape(_ p: NodeProcess) throws -> [String: Double] {
        guard let admin = p.admin else { throw CommandFailure("node printed no admin address") }
        let r = try AdminClient.request("GET", "/metrics", at: admin, token: nil, timeout: .seconds(5))
        guard r.status == 200 else { throw CommandFailure("GET /metrics answered \(r.status)") }
        var out: [String: Double] = [:]
        for line in String(decoding: r.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let v = Double(parts[parts.count - 1]) else { continue }
            let name = parts[0].split(separator: "{")[0]
            out[String(name), default: 0] += v
        }
        return out
    }
}
