import ActorCluster
import Foundation
import Glibc

/// `hotline bench rtt|pipeline|stream`: measures the runtime between this process and a `hotline node`
/// child on 127.0.0.1, and the raw-socket floor (`RawLoopback`) in the same run, printing one JSON object.
enum BenchCommand {
    static let usage = """
    usage: hotline bench rtt      [--calls N] [--payload BYTES]      one outstanding request/reply (default 64 B)
           (every mode takes --inbound pool|io|thread: where calls run, see `hotline node --help`)
           hotline bench pipeline [--calls N] [--depth D] [--payload BYTES]   D outstanding calls (default 64)
           hotline bench stream   [--messages N] [--size BYTES]     one-way messages (default 100 B), counted
             at the receiver: the time runs until the node's sink has counted them all
           hotline bench fanout   [--calls N] [--peers P] [--depth D] [--payload BYTES]   this process calls
             P (default 4) node children at once: D (default 16) scatter-gathers outstanding, each one call to
             every peer; calls/s and the median/p99 µs of a scatter-gather
           hotline bench idle-rss [--nodes N] [--settle-ms MS] [--bare]   VmRSS of N (default 3) idle node
             processes in one cluster, configured as a hotline (Deploy catalogue and calendar) unless --bare
           (rtt, pipeline, stream: --no-raw skips the in-process raw-TCP floor)
           hotline bench compare  runs Tests/Benchmarks/compare.sh: Hotline against C, SwiftNIO and Erlang
             anchors, alternately, in the same run (see Docs/performance.md)
           hotline bench detect [--nodes N] [--runs R]   SIGKILL / SIGSTOP a member of N node processes R times
             each: median and max ms until every survivor reports it down, false downs (`--help`)
           hotline bench intake [--nodes N] [--requests N] [--concurrency C] [--fsync always|interval:MS|both]
             acknowledged submissions per second through intake on N nodes with data directories (`--help`)
           hotline bench recovery [--cases N]   restart time and memory of a node holding N closed cases (`--help`)
           hotline bench attack <name> [options]   a resource attack on a node child while a member calls it:
             slow-consumers, pipelined-slow-calls, many-empty-arguments, unreachable-dials,
             handshake-hostnames, connection-flood, garbage-connections (`hotline bench attack --help`)
      Prints JSON: medians/p99 in µs or messages per second, with the raw TCP floor measured in the same run
      and the ratio to it. Build with -c release: debug builds are 5-20x slower and say so in the output.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        guard let mode = argv.first else { throw UsageError("which benchmark? rtt, pipeline or stream\n\(usage)") }
        if mode == "detect" {
            if argv.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" }) { print(DetectBench.usage); return 0 }
            return try await DetectBench.run(Array(argv.dropFirst()))
        }
        if mode == "intake" || mode == "recovery" {
            if argv.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" }) {
                print(mode == "intake" ? IntakeBench.usage : RecoveryBench.usage)
                return 0
            }
            return mode == "intake" ? try await IntakeBench.run(Array(argv.dropFirst())) : try await RecoveryBench.run(Array(argv.dropFirst()))
        }
        if mode == "attack" {
            guard argv.count > 1 else { throw UsageError("which attack?\n\(AttackBench.usage)") }
            if argv[1] == "--help" || argv[1] == "-h" { print(AttackBench.usage); return 0 }
            do {
                return try await AttackBench.run(Array(argv.dropFirst()))
            } catch is HelpRequested {
                print(AttackBench.usage)
                return 0
            }
        }
        if mode == "compare" { return try compare(Array(argv.dropFirst())) }
        let args = try Arguments(Array(argv.dropFirst()), valued: ["calls", "payload", "depth", "messages", "size", "inbound",
                                                                 "peers", "nodes", "settle-ms"],
                                 switches: ["no-raw", "bare"])
        let withRaw = !args.has("no-raw")
        let inbound = args["inbound"] ?? "pool"
        guard ["pool", "io", "thread"].contains(inbound) else {
            throw UsageError("invalid --inbound \"\(inbound)\": pool, io or thread")
        }
        let build = buildKind(warning: mode)
        var result: [String: Any] = ["bench": mode, "build": build, "cores": ProcessInfo.processInfo.activeProcessorCount,
                                     "inbound": inbound, "swift_stdlib": swiftStdlibLinkage]
        switch mode {
        case "rtt":
            let calls = try args.int("calls", in: 100...10_000_000) ?? 20_000
            let size = try args.int("payload", in: 0...(4 << 20)) ?? 64
            try await withPeer(inbound: inbound) { system, probe in
                let payload = [UInt8](repeating: 0x5A, count: size)
                for _ in 0..<min(2000, calls) { _ = try await probe.echo(payload) }
                var samples: [Double] = []
                samples.reserveCapacity(calls)
                for _ in 0..<calls {
                    let t0 = ContinuousClock.now
                    let reply = try await probe.echo(payload)
                    samples.append(microseconds(ContinuousClock.now - t0))
                    guard reply.count == size else { throw UsageError("echo returned \(reply.count) bytes") }
                }
                result["calls"] = calls
                result["payload_bytes"] = size
                result["hotline"] = summary(samples)
                if withRaw {
                    let raw = try RawLoopback.pingPong(count: calls, size: size)
                    result["anchor_raw_tcp"] = summary(raw).merging(["what": "blocking POSIX sockets, 2 threads, same process"]) { a, _ in a }
                    result["ratio_median_vs_raw"] = round2(median(samples) / max(0.001, median(raw)))
                }
            }
        case "pipeline":
            let calls = try args.int("calls", in: 100...10_000_000) ?? 100_000
            let depth = try args.int("depth", in: 1...4096) ?? 64
            let size = try args.int("payload", in: 0...(4 << 20)) ?? 64
            try await withPeer(inbound: inbound) { system, probe in
                let payload = [UInt8](repeating: 0x5A, count: size)
                for _ in 0..<min(2000, calls) { _ = try await probe.echo(payload) }
                let perWorker = calls / depth
                let t0 = ContinuousClock.now
                let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
                    for _ in 0..<depth {
                        group.addTask {
                            var local: [Double] = []
                            local.reserveCapacity(perWorker)
                            for _ in 0..<perWorker {
                                let s = ContinuousClock.now
                                _ = try await probe.echo(payload)
                                local.append(microseconds(ContinuousClock.now - s))
                            }
                            return local
                        }
                    }
                    var all: [Double] = []
                    for try await part in group { all += part }
                    return all
                }
                let elapsed = seconds(ContinuousClock.now - t0)
                let rate = Double(samples.count) / elapsed
                result["calls"] = samples.count
                result["depth"] = depth
                result["payload_bytes"] = size
                result["hotline"] = summary(samples).merging(["calls_per_s": Int(rate)]) { a, _ in a }
                if withRaw {
                    let rawElapsed = try RawLoopback.pipeline(count: perWorker * depth, depth: depth, size: size)
                    let rawRate = Double(perWorker * depth) / rawElapsed
                    result["anchor_raw_tcp"] = ["round_trips_per_s": Int(rawRate),
                                                "what": "blocking POSIX sockets, \(depth) outstanding, one write(2) per message"]
                    result["ratio_throughput_vs_raw"] = round2(rate / rawRate)
                }
            }
        case "stream":
            let count = try args.int("messages", in: 100...50_000_000) ?? 500_000
            let size = try args.int("size", in: 1...(1 << 20)) ?? 100
            try await withPeer(inbound: inbound) { system, probe in
                let sink = ClusterSystem.ActorID(node: probe.id.node, path: NodeProbe.sinkPath)
                let payload = [UInt8](repeating: 0x33, count: size)
                let before = try await probe.sinkTotals()[0]
                let t0 = ContinuousClock.now
                var sent = 0
                var backoffs = 0
                while sent < count {
                    do {
                        try system.sendMessage(payload, to: sink)
                        sent += 1
                    } catch RemoteCallError.overloaded {
                        backoffs += 1
                        try await Task.sleep(for: .microseconds(200))
                    }
                }
                // Messages and calls share the ordered data path: once this reply says so, all arrived.
                let deadline = ContinuousClock.now + .seconds(60)
                var received = 0
                while received < count + before, ContinuousClock.now < deadline {
                    received = try await probe.sinkTotals()[0]
                }
                let elapsed = seconds(ContinuousClock.now - t0)
                guard received - before >= count else {
                    throw UsageError("the receiver counted \(received - before) of \(count) messages within 60 s")
                }
                let rate = Double(received - before) / elapsed
                result["messages"] = count
                result["message_bytes"] = size
                result["received"] = received - before
                result["counted_at"] = "receiver (the node's sink), timed until it reports all"
                result["queue_full_backoffs"] = backoffs
                result["hotline"] = ["messages_per_s": Int(rate), "mb_per_s": round2(rate * Double(size) / 1e6)]
                if withRaw {
                    let rawElapsed = try RawLoopback.stream(count: count, size: size)
                    let rawRate = Double(count) / rawElapsed
                    result["anchor_raw_tcp"] = ["messages_per_s": Int(rawRate), "what": "blocking POSIX socket, one write(2) per message"]
                    result["ratio_throughput_vs_raw"] = round2(rate / rawRate)
                }
            }
        case "fanout":
            let peerCount = try args.int("peers", in: 1...16) ?? 4
            let calls = try args.int("calls", in: 100...10_000_000) ?? 100_000
            let depth = try args.int("depth", in: 1...1024) ?? 16
            let size = try args.int("payload", in: 0...(4 << 20)) ?? 64
            let peers = try (0..<peerCount).map { k in
                try NodeProcess(executable: try selfExecutable(),
                                arguments: ["node", "--name", "fanout-peer-\(k + 1)", "--listen", "127.0.0.1:0",
                                            "--log-level", "warning", "--inbound", inbound])
            }
            defer { for p in peers { p.stop() } }
            let system = try ClusterSystem(settings: ClusterSettings.client("bench-fanout"), logger: Logger(level: .warning))
            defer { system.shutdown() }
            let probes = try peers.map { try NodeProbe.on($0.node, system: system) }
            let payload = [UInt8](repeating: 0x5A, count: size)
            for probe in probes { for _ in 0..<500 { _ = try await probe.echo(payload) } }
            let gathersPerWorker = max(1, calls / peerCount / depth)
            let t0 = ContinuousClock.now
            let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
                for _ in 0..<depth {
                    group.addTask {
                        var local: [Double] = []
                        local.reserveCapacity(gathersPerWorker)
                        for _ in 0..<gathersPerWorker {
                            let s = ContinuousClock.now
                            try await withThrowingTaskGroup(of: Int.self) { calls in
                                for probe in probes { calls.addTask { try await probe.echo(payload).count } }
                                for try await n in calls where n != size { throw UsageError("echo returned \(n) bytes") }
                            }
                            local.append(microseconds(ContinuousClock.now - s))
                        }
                        return local
                    }
                }
                var all: [Double] = []
                for try await part in group { all += part }
                return all
            }
            let elapsed = seconds(ContinuousClock.now - t0)
            let totalCalls = samples.count * peerCount
            result["peers"] = peerCount
            result["depth"] = depth
            result["calls"] = totalCalls
            result["payload_bytes"] = size
            result["hotline"] = summary(samples).merging(["calls_per_s": Int(Double(totalCalls) / elapsed),
                                                          "gathers_per_s": Int(Double(samples.count) / elapsed),
                                                          "what": "latency of one scatter-gather (a call to every peer)"]) { a, _ in a }
        case "idle-rss":
            let count = try args.int("nodes", in: 1...16) ?? 3
            let settle = try args.int("settle-ms", in: 0...600_000) ?? 3000
            var extra: [String] = []
            if !args.has("bare") {
                guard let catalog = locateDeployFile("Deploy/catalogs/anshan.json"),
                      let calendar = locateDeployFile("Deploy/calendars/cn-2026.json") else {
                    throw UsageError("Deploy/catalogs/anshan.json or Deploy/calendars/cn-2026.json not found (run from the repository, or --bare)")
                }
                extra = ["--catalog", catalog, "--calendar", calendar]
            }
            var nodes: [NodeProcess] = []
            defer { for n in nodes { n.stop() } }
            for k in 0..<count {
                var a = ["node", "--name", "idle-\(k + 1)", "--listen", "127.0.0.1:0", "--log-level", "warning"] + extra
                if let first = nodes.first { a += ["--seeds", first.node.address.description] }
                nodes.append(try NodeProcess(executable: try selfExecutable(), arguments: a))
            }
            try await Task.sleep(for: .milliseconds(settle))
            let rss = nodes.map { vmRSSKiB(pid: $0.process.processIdentifier) }
            result["nodes"] = count
            result["settle_ms"] = settle
            result["configured"] = args.has("bare") ? "bare runtime" : "hotline (catalogue + calendar, offices placed)"
            result["rss_kib"] = rss
            result["hotline"] = ["max_rss_mb": round2(Double(rss.max() ?? 0) / 1024),
                                 "median_rss_mb": round2(Double(rss.sorted()[rss.count / 2]) / 1024)]
        default:
            throw UsageError("unknown benchmark \"\(mode)\": expected rtt, pipeline, stream, fanout, idle-rss, compare, detect or attack")
        }
        let json = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        return 0
    }

    /// Starts a `hotline node` child and a local client system, runs `body`, stops both.
    /// With `inbound == "io"` the peer runs calls on its I/O thread and this side's caller runs on its own
    /// I/O thread too (no thread hop on either side); with `"thread"` both run them on their call thread; with
    /// `"pool"` (the default) on the global pool.
    static func withPeer(inbound: String, _ body: (ClusterSystem, NodeProbe) async throws -> Void) async throws {
        let peer = try NodeProcess(executable: try selfExecutable(),
                                   arguments: ["node", "--name", "bench-peer", "--listen", "127.0.0.1:0",
                                               "--log-level", "warning", "--inbound", inbound])
        defer { peer.stop() }
        var settings = ClusterSettings.client("bench")
        settings.inboundExecution = try NodeConfig.inbound(inbound, field: "--inbound")
        let system = try ClusterSystem(settings: settings, logger: Logger(level: .warning))
        defer { system.shutdown() }
        let probe = try NodeProbe.on(peer.node, system: system)
        if inbound == "io" {
            try await withTaskExecutorPreference(system.ioExecutor) { try await body(system, probe) }
        } else if inbound == "thread", let calls = system.callExecutor {
            try await withTaskExecutorPreference(calls) { try await body(system, probe) }
        } else {
            try await body(system, probe)
        }
    }

    /// "debug" or "release"; a debug build warns on stderr that `hotline bench <mode>` needs `-c release`.
    static func buildKind(warning mode: String) -> String {
        #if DEBUG
        FileHandle.standardError.write(Data("warning: debug build; run `swift run -c release hotline bench \(mode)` for real figures\n".utf8))
        return "debug"
        #else
        return "release"
        #endif
    }

    /// "static" when this binary carries the Swift runtime and Foundation in itself (`swift build
    /// --static-swift-stdlib`, how `Tests/Benchmarks/compare.sh` and `Docs/operations.md` build it), "dynamic" when
    /// it loads `libswiftCore.so` (read from /proc/self/maps).
    static var swiftStdlibLinkage: String {
        let maps = NodeProcess.procFileText("/proc/self/maps") ?? ""
        return maps.contains("libswiftCore.so") ? "dynamic" : "static"
    }

    static func summary(_ samples: [Double]) -> [String: Any] {
        let sorted = samples.sorted()
        func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        return ["median_us": round2(pct(0.5)), "p99_us": round2(pct(0.99)), "p999_us": round2(pct(0.999)), "mean_us": round2(mean),
                "max_us": round2(sorted.last ?? 0)]
    }

    /// Resident set size of a process, from /proc/PID/status (0 when unreadable).
    static func vmRSSKiB(pid: Int32) -> Int {
        guard let text = NodeProcess.procFileText("/proc/\(pid)/status") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    /// A repository file (e.g. "Deploy/catalogs/anshan.json") found from the working directory or above the
    /// executable (as `hotline replay` finds its trace).
    static func locateDeployFile(_ relative: String) -> String? {
        if FileManager.default.fileExists(atPath: relative) { return relative }
        guard let exe = try? selfExecutable() else { return nil }
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent(relative).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// `hotline bench compare [args]`: runs Tests/Benchmarks/compare.sh (found from the working directory or
    /// above the executable) with this executable as HOTLINE_BIN; the script's arguments pass through.
    /// Spawned with an empty signal mask and default dispositions: a thread of this process blocks most
    /// signals, and a child would inherit that (the script's anchor servers then ignore its SIGTERM).
    static func compare(_ argv: [String]) throws -> Int32 {
        guard let script = locateDeployFile("Tests/Benchmarks/compare.sh") else {
            throw UsageError("Tests/Benchmarks/compare.sh not found: run from the repository")
        }
        if ProcessInfo.processInfo.environment["HOTLINE_BIN"] == nil {
            setenv("HOTLINE_BIN", try selfExecutable().path, 1)
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let args = ["/bin/bash", script] + argv
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/bash", nil, &attr, &cArgs, environ)
        guard rc == 0 else { throw UsageError("cannot start /bin/bash \(script): errno \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    static func median(_ samples: [Double]) -> Double {
        let s = samples.sorted()
        return s.isEmpty ? 0 : s[s.count / 2]
    }

    static func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
}
