import ActorCluster
import Foundation
import Glibc
import Hotline
import Synchronization

/// A value shared between attacker threads and tasks, behind a lock.
final class Locked<Value>: @unchecked Sendable {  // every access holds `lock`
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// `hotline bench attack <name>`: runs one resource attack against a `hotline node` child (fresh secret, stderr
/// to a file) while a legitimate member calls `NodeProbe.info()` every few ms, samples the node's VmRSS (and
/// open descriptors) every 50 ms and prints one JSON object. Attacks come from `Docs/security.md`; the defaults
/// are the scale of the issue that reported them. Every attack is bounded by `--seconds` (default 60).
enum AttackBench {
    static let usage = """
    usage: hotline bench attack <name> [options]        (build with -c release; JSON on stdout)
      slow-consumers        [--members 8] [--calls 96] [--payload 1048576] [--hold 15]
                            members with the secret pipeline echo calls of PAYLOAD bytes and never read
      pipelined-slow-calls  [--calls 100000] [--sleep-ms 15000] [--hold 5]
                            one member pipelines NodeProbe.sleep calls
      many-empty-arguments  [--frames 1]   call frames (8 MiB) declaring ~8.4 million empty arguments
      unreachable-dials     [--calls 25000] [--depth 1000]
                            a member asks the node to call probes on 127.0.0.1 ports nobody listens on
      handshake-hostnames   [--handshakes 50000] [--threads 2]
                            handshakes without the secret, each claiming another host name
      connection-flood      [--connections 600] [--members 0] [--hold 20] [--attempts 8]
                            CONNECTIONS held open by strangers (reopened when closed), MEMBERS of them handshaked
                            with the secret; meanwhile ATTEMPTS fresh legitimate clients connect and call info()
      garbage-connections   [--connections 100000] [--threads 2]
                            connections that send garbage; reports the node's log bytes, and that a cluster
                            name with control characters is logged escaped
      every attack: [--seconds 60] (bound of the attack phase) [--legit-interval-ms 10] [--keep-log FILE]
                    (a copy of the node's log)
    """

    typealias Fields = [String: any Sendable]

    /// The node under attack, the legitimate member and the samplers.
    final class Context: @unchecked Sendable {  // immutable after init
        let node: NodeProcess
        let pid: Int32
        let port: UInt16
        let auth: ClusterAuth
        let logPath: String
        let deadline: ContinuousClock.Instant
        let legitSystem: ClusterSystem
        let probe: NodeProbe

        init(node: NodeProcess, auth: ClusterAuth, logPath: String, seconds: Int, legitSystem: ClusterSystem) throws {
            self.node = node
            pid = node.process.processIdentifier
            port = node.node.address.port
            self.auth = auth
            self.logPath = logPath
            deadline = ContinuousClock.now + .seconds(seconds)
            self.legitSystem = legitSystem
            probe = try NodeProbe.on(node.node, system: legitSystem)
        }

        var timeLeft: Bool { ContinuousClock.now < deadline }
        var logBytes: Int { (try? FileManager.default.attributesOfItem(atPath: logPath)[.size] as? Int) ?? 0 }

        /// A distributed function's target identifier, learned by calling it where it does not belong (the
        /// node answers `noSuchTarget` with the identifier).
        func learnTarget(_ call: @Sendable (NodeProbe) async throws -> Void) async throws -> String {
            let wrong = try NodeProbe.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.node, on: node.node), using: legitSystem)
            do {
                try await call(wrong)
            } catch RemoteCallError.noSuchTarget(_, let target) {
                return target
            }
            throw UsageError("could not learn a call target")
        }

        /// A fresh member identity (a claimed address nobody listens on, a random uid).
        static func identity(port: UInt16, host: String = "127.0.0.1") -> NodeIdentity {
            NodeIdentity(address: NodeAddress(host: host, port: port), uid: UInt64.random(in: 1...UInt64.max))
        }
    }

    /// VmRSS (and optionally open descriptors) of a process, every `intervalMs`.
    final class Sampler: Sendable {
        struct State {
            var rssKiB = 0
            var peakRSSKiB = 0
            var fds = 0
            var peakFDs = 0
            var samples = 0
        }
        let pid: Int32
        let state = Mutex(State())
        let stopped = Atomic<Bool>(false)

        init(pid: Int32) { self.pid = pid }

        func start(intervalMs: Int = 50) {
            let t = Thread { [self] in
                while !stopped.load(ordering: .relaxed) {
                    sample()
                    usleep(UInt32(intervalMs * 1000))
                }
            }
            t.start()
        }

        func sample() {
            let rss = NodeProcess.residentKiB(pid: pid)
            let fds = Self.fdCount(pid)
            state.withLock {
                if let rss {
                    $0.rssKiB = rss
                    $0.peakRSSKiB = max($0.peakRSSKiB, rss)
                }
                if let fds {
                    $0.fds = fds
                    $0.peakFDs = max($0.peakFDs, fds)
                }
                $0.samples += 1
            }
        }

        /// Starts a new peak from the current value.
        func resetPeak() {
            sample()
            state.withLock {
                $0.peakRSSKiB = $0.rssKiB
                $0.peakFDs = $0.fds
            }
        }

        var current: State { state.withLock { $0 } }
        func stop() { stopped.store(true, ordering: .relaxed) }

        static func fdCount(_ pid: Int32) -> Int? {
            guard let dir = opendir("/proc/\(pid)/fd") else { return nil }
            defer { closedir(dir) }
            var n = 0
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name != "." && name != ".." { n += 1 }
            }
            return n
        }
    }

    /// The legitimate member: one `info()` call after another, `intervalMs` apart, each bounded by 5 s.
    final class LegitMember: Sendable {
        struct State {
            var latenciesMs: [Double] = []
            var failures: [String: Int] = [:]
            var failedLatenciesMs: [Double] = []
        }
        let state = Mutex(State())
        let stopped = Atomic<Bool>(false)

        func run(_ probe: NodeProbe, intervalMs: Int) async {
            while !stopped.load(ordering: .relaxed) {
                let t0 = ContinuousClock.now
                do {
                    _ = try await ClusterSystem.withCallTimeout(.seconds(5)) { try await probe.info() }
                    let ms = AttackBench.ms(ContinuousClock.now - t0)
                    state.withLock { $0.latenciesMs.append(ms) }
                } catch {
                    let ms = AttackBench.ms(ContinuousClock.now - t0)
                    let reason = AttackBench.errorLabel(error)
                    state.withLock {
                        $0.failures[reason, default: 0] += 1
                        $0.failedLatenciesMs.append(ms)
                    }
                }
                try? await Task.sleep(for: .milliseconds(intervalMs))
            }
        }

        func reset() { state.withLock { $0 = State() } }

        func summary() -> Fields {
            let s = state.withLock { $0 }
            let sorted = s.latenciesMs.sorted()
            func pct(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            var out: Fields = ["calls": sorted.count + s.failedLatenciesMs.count, "failed": s.failedLatenciesMs.count,
                               "ok_p50_ms": r2(pct(0.5)), "ok_p99_ms": r2(pct(0.99)), "ok_max_ms": r2(sorted.last ?? 0)]
            if !s.failures.isEmpty {
                out["failures"] = s.failures as Fields
                out["failed_max_ms"] = r2(s.failedLatenciesMs.max() ?? 0)
            }
            return out
        }
    }

    static func run(_ argv: [String]) async throws -> Int32 {
        guard let name = argv.first else { throw UsageError("which attack?\n\(usage)") }
        let args = try Arguments(Array(argv.dropFirst()), valued: [
            "seconds", "legit-interval-ms", "members", "calls", "payload", "hold", "sleep-ms", "frames", "depth",
            "handshakes", "threads", "connections", "attempts", "keep-log",
        ])
        let bound = try args.int("seconds", in: 1...120) ?? 60
        let interval = try args.int("legit-interval-ms", in: 0...1000) ?? 10
        let attack: (Context, Arguments) async throws -> (Fields, Fields)
        switch name {
        case "slow-consumers": attack = slowConsumers
        case "pipelined-slow-calls": attack = pipelinedSlowCalls
        case "many-empty-arguments": attack = manyEmptyArguments
        case "unreachable-dials": attack = unreachableDials
        case "handshake-hostnames": attack = handshakeHostnames
        case "connection-flood": attack = connectionFlood
        case "garbage-connections": attack = garbageConnections
        default: throw UsageError("unknown attack \"\(name)\"\n\(usage)")
        }
        #if DEBUG
        let build = "debug"
        FileHandle.standardError.write(Data("warning: debug build; use -c release for real figures\n".utf8))
        #else
        let build = "release"
        #endif

        let secret = try ClusterAuth.makeEphemeralSecretFile()
        defer { try? FileManager.default.removeItem(atPath: secret.path) }
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("attack-node-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        // The node's stderr (its log) goes to a file: `exec` keeps the shell's pid, so the pid is the node's.
        let command = "exec \(shellQuote(try selfExecutable().path)) node --name attack-target --listen 127.0.0.1:0 "
            + "--secret-file \(shellQuote(secret.path)) 2>\(shellQuote(logPath))"
        let node = try NodeProcess(executable: URL(fileURLWithPath: "/bin/sh"), arguments: ["-c", command])
        defer { node.stop() }
        var settings = ClusterSettings.client("legit-member")
        settings.transport.auth = secret.auth
        let legitSystem = try ClusterSystem(settings: settings, logger: Logger(level: .error))
        defer { legitSystem.shutdown() }
        let ctx = try Context(node: node, auth: secret.auth, logPath: logPath, seconds: bound, legitSystem: legitSystem)

        let sampler = Sampler(pid: ctx.pid)
        sampler.start()
        defer { sampler.stop() }
        let legit = LegitMember()
        let legitTask = Task { await legit.run(ctx.probe, intervalMs: interval) }
        // Warm up: the legitimate member associates and the node settles; then the baseline.
        try await Task.sleep(for: .seconds(2))
        legit.reset()
        sampler.resetPeak()
        let baseline = sampler.current
        let logBefore = ctx.logBytes

        let t0 = ContinuousClock.now
        let (parameters, results) = try await attack(ctx, args)
        let duration = seconds(ContinuousClock.now - t0)
        sampler.sample()
        let during = sampler.current
        let legitDuring = legit.summary()
        legit.stopped.store(true, ordering: .relaxed)
        await legitTask.value

        // After: does the node still answer a member (a fresh call, the member's association may be new)?
        try await Task.sleep(for: .seconds(1))
        var answered = false
        var afterMs = 0.0
        if node.isRunning {
            let t = ContinuousClock.now
            answered = (try? await ClusterSystem.withCallTimeout(.seconds(5)) { try await ctx.probe.info() }) != nil
            afterMs = ms(ContinuousClock.now - t)
        }
        // And a newcomer: a fresh member connecting right after the attack (tables the attack filled show here).
        var newcomer: Fields = ["answered": false]
        if node.isRunning {
            let t = ContinuousClock.now
            do {
                var settings = ClusterSettings.client("newcomer-after")
                settings.transport.auth = secret.auth
                let system = try ClusterSystem(settings: settings, logger: Logger(level: .error))
                defer { system.shutdown() }
                _ = try await ClusterSystem.withCallTimeout(.seconds(5)) { try await NodeProbe.on(node.node, system: system).info() }
                newcomer = ["answered": true, "ms": r2(ms(ContinuousClock.now - t))]
            } catch {
                newcomer = ["answered": false, "error": errorLabel(error), "detail": String(describing: error).prefix(200).description]
            }
        }
        sampler.sample()
        let after = sampler.current
        let logAfter = ctx.logBytes
        if let keep = args["keep-log"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: logPath, toPath: keep)
        }

        let result: Fields = [
            "attack": name,
            "build": build,
            "cores": ProcessInfo.processInfo.activeProcessorCount,
            "parameters": parameters.merging(["seconds_bound": bound, "legit_interval_ms": interval]) { a, _ in a },
            "duration_s": r2(duration),
            "node": [
                "baseline_rss_mb": mb(baseline.rssKiB), "peak_rss_mb": mb(during.peakRSSKiB), "after_rss_mb": mb(after.rssKiB),
                "baseline_fds": baseline.fds, "peak_fds": during.peakFDs, "after_fds": after.fds,
                "rss_samples": during.samples,
                "log_bytes_during_attack": logAfter - logBefore, "log_bytes_total": logAfter,
                "fd_limit": fdLimit(ctx.pid) ?? -1,
            ] as Fields,
            "legit_member": legitDuring,
            "survived": node.isRunning && answered,
            "after_attack": ["node_running": node.isRunning, "member_call_answered": answered, "member_call_ms": r2(afterMs),
                            "new_member_after_1s": newcomer] as Fields,
            "results": results,
        ]
        let json = try JSONSerialization.data(withJSONObject: plain(result), options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        return 0
    }

    // MARK: - Attacks

    /// Members with the secret pipeline echo calls returning `payload` bytes and never read their sockets.
    static func slowConsumers(_ ctx: Context, _ args: Arguments) async throws -> (Fields, Fields) {
        let members = try args.int("members", in: 1...512) ?? 8
        let calls = try args.int("calls", in: 1...100_000) ?? 96
        let payload = try args.int("payload", in: 0...(7 << 20)) ?? (1 << 20)
        let hold = try args.int("hold", in: 0...60) ?? 15
        let target = try await ctx.learnTarget { _ = try await $0.echo([1]) }
        let body = RawAttacker.callBody(recipient: NodeProbe.path, target: target,
                                        arguments: [try Wire.BinaryEncoder().encode([UInt8](repeating: 0x5A, count: payload))])
        let parameters: Fields = ["members": members, "calls_per_member": calls, "payload_bytes": payload, "hold_s": hold]
        let results = await blocking { () -> Fields in
            let stats = Locked<(handshaked: Int, sent: Int, closedByNode: Int, failures: [String: Int])>((0, 0, 0, [:]))
            let threads = (0..<members).map { i in
                Thread {
                    let (conn, err) = RawConn.connect(port: ctx.port, receiveBuffer: 4096)
                    guard let conn else { stats.withLock { $0.failures["connect errno \(err)", default: 0] += 1 }; return }
                    defer { conn.close() }
                    let outcome = RawAttacker.handshake(conn, auth: ctx.auth, identity: Context.identity(port: UInt16(2000 + i)))
                    guard outcome == .accepted else { stats.withLock { $0.failures[outcome.label, default: 0] += 1 }; return }
                    stats.withLock { $0.handshaked += 1 }
                    for c in 0..<calls where ctx.timeLeft {
                        guard conn.send(RawAttacker.callFrame(id: UInt64(c + 1), body: body)) else { break }
                        stats.withLock { $0.sent += 1 }
                    }
                    // Hold without reading; heartbeats keep the association from looking idle.
                    let end = ContinuousClock.now + .seconds(hold)
                    while ContinuousClock.now < end && ctx.timeLeft {
                        guard conn.send(RawAttacker.heartbeat) else { break }
                        var pfd = pollfd(fd: conn.fd, events: pollRDHUP, revents: 0)
                        if poll(&pfd, 1, 0) > 0 && pfd.revents & (pollRDHUP | Int16(POLLHUP | POLLERR)) != 0 { break }
                        usleep(500_000)
                    }
                    var pfd = pollfd(fd: conn.fd, events: pollRDHUP, revents: 0)
                    if !conn.isOpen || (poll(&pfd, 1, 0) > 0 && pfd.revents & (pollRDHUP | Int16(POLLHUP | POLLERR)) != 0) {
                        stats.withLock { $0.closedByNode += 1 }
                    }
                }
            }
            joinAll(threads)
            let s = stats.withLock { $0 }
            return ["members_handshaked": s.handshaked, "calls_sent": s.sent, "members_closed_by_node": s.closedByNode,
                    "member_failures": s.failures as Fields]
        }
        return (parameters, results)
    }

    /// One member pipelines `calls` NodeProbe.sleep calls and reads the answers.
    static func pipelinedSlowCalls(_ ctx: Context, _ args: Arguments) async throws -> (Fields, Fields) {
        let calls = try args.int("calls", in: 1...1_000_000) ?? 100_000
        let sleepMs = try args.int("sleep-ms", in: 0...60_000) ?? 15_000
        let hold = try args.int("hold", in: 0...60) ?? 5
        let target = try await ctx.learnTarget { _ = try await $0.sleep(milliseconds: 0) }
        let body = RawAttacker.callBody(recipient: NodeProbe.path, target: target,
                                        arguments: [try Wire.BinaryEncoder().encode(sleepMs)])
        let parameters: Fields = ["calls": calls, "sleep_ms": sleepMs, "hold_s": hold]
        let results = await blocking { () -> Fields in
            let (conn, err) = RawConn.connect(port: ctx.port)
            guard let conn else { return ["error": "connect errno \(err)"] }
            defer { conn.close() }
            let outcome = RawAttacker.handshake(conn, auth: ctx.auth, identity: Context.identity(port: 2999))
            guard outcome == .accepted else { return ["error": outcome.label] }
            let replies = Locked<[String: Int]>([:])
            let sendingDone = Locked<Bool>(false)
            let reader = Thread {
                var end: ContinuousClock.Instant?
                while ctx.timeLeft {
                    if end == nil && sendingDone.withLock({ $0 }) { end = ContinuousClock.now + .seconds(hold) }
                    if let end, ContinuousClock.now >= end { break }
                    switch conn.readFrame(timeoutMs: 200) {
                    case .frame(.reply, let payload):
                        replies.withLock { $0[RawAttacker.statusName(RawAttacker.replyStatus(payload)), default: 0] += 1 }
                    case .frame: continue
                    case .timeout: continue
                    case .closed, .malformed:
                        replies.withLock { $0["connection closed", default: 0] += 1 }
                        return
                    }
                }
            }
            reader.start()
            var sent = 0
            var batch: [UInt8] = []
            let t0 = ContinuousClock.now
            while sent < calls && ctx.timeLeft && conn.isOpen {
                batch.removeAll(keepingCapacity: true)
                for _ in 0..<min(1000, calls - sent) {
                    sent += 1
                    batch += RawAttacker.callFrame(id: UInt64(sent), body: body)
                }
                guard conn.send(batch) else { break }
            }
            let sendSeconds = seconds(ContinuousClock.now - t0)
            sendingDone.withLock { $0 = true }
            joinAll([reader])
            return ["calls_sent": sent, "send_s": r2(sendSeconds), "replies_by_status": replies.withLock { $0 } as Fields]
        }
        return (parameters, results)
    }

    /// Call frames of ~8 MiB declaring ~8.4 million empty arguments.
    static func manyEmptyArguments(_ ctx: Context, _ args: Arguments) async throws -> (Fields, Fields) {
        let frames = try args.int("frames", in: 1...100) ?? 1
        let target = try await ctx.learnTarget { _ = try await $0.echo([1]) }
        var head = Wire.ByteWriter()
        head.writeVarint(1)
        head.writeString(NodeProbe.path)
        head.writeString(target)
        head.writeVarint(0)
        let maxPayload = Wire.defaultMaxFrameBytes - 1
        let count = maxPayload - head.bytes.count - 4  // a 4-byte varint holds up to 268 million
        head.writeVarint(UInt64(count))
        precondition(head.bytes.count + count == maxPayload)
        var payload = head.bytes
        payload.append(contentsOf: repeatElement(0, count: count))  // each argument: varint length 0
        let frame = Wire.FrameParser.encode(.call, payload: payload)
        let parameters: Fields = ["frames": frames, "declared_arguments": count, "frame_bytes": frame.count]
        let results = await blocking { () -> Fields in
            var outcomes: [String: Int] = [:]
            for i in 0..<frames where ctx.timeLeft {
                let (conn, err) = RawConn.connect(port: ctx.port)
                guard let conn else { outcomes["connect errno \(err)", default: 0] += 1; continue }
                defer { conn.close() }
                let hs = RawAttacker.handshake(conn, auth: ctx.auth, identity: Context.identity(port: UInt16(3000 + i)))
                guard hs == .accepted else { outcomes[hs.label, default: 0] += 1; continue }
                guard conn.send(frame) else { outcomes["closed while sending", default: 0] += 1; continue }
                var answer = "no answer in 10 s"
                let end = ContinuousClock.now + .seconds(10)
                loop: while ContinuousClock.now < end {
                    switch conn.readFrame(timeoutMs: 500) {
                    case .frame(.reply, let p): answer = "reply " + RawAttacker.statusName(RawAttacker.replyStatus(p)); break loop
                    case .frame: continue
                    case .timeout: continue
                    case .closed: answer = "connection closed by node"; break loop
                    case .malformed: answer = "malformed answer"; break loop
                    }
                }
                outcomes[answer, default: 0] += 1
            }
            return ["outcomes": outcomes as Fields]
        }
        return (parameters, results)
    }

    /// A member (a second client system with the secret) makes `calls` NodeProbe.infoOf calls, each naming a probe
    /// at a 127.0.0.1 port nobody listens on, so the node dials it; `depth` calls outstanding.
    static func unreachableDials(_ ctx: Context, _ args: Arguments) async throws -> (Fields, Fields) {
        let calls = try args.int("calls", in: 1...31_000) ?? 25_000
        let depth = try args.int("depth", in: 1...10_000) ?? 1000
        let listening = RawAttacker.listeningPorts()
        let ports = (1025...32767).map(UInt16.init).filter { !listening.contains($0) && $0 != ctx.port }
        guard ports.count >= calls else { throw UsageError("only \(ports.count) free ports below 32768") }
        var settings = ClusterSettings.client("attacker")
        settings.transport.auth = ctx.auth
        let attacker = try ClusterSystem(settings: settings, logger: Logger(level: .error))
        defer { attacker.shutdown() }
        let probe = try NodeProbe.on(ctx.node.node, system: attacker)
        let parameters: Fields = ["calls": calls, "depth": depth, "distinct_unreachable_ports": calls]
        let outcomes = Locked<[String: Int]>([:])
        let t0 = ContinuousClock.now
        var issued = 0
        await withTaskGroup(of: Void.self) { group in
            func add(_ i: Int) {
                let port = ports[i]
                group.addTask {
                    let label: String
                    do {
                        let other = try NodeProbe.on(Context.identity(port: port), system: attacker)
                        _ = try await ClusterSystem.withCallTimeout(.seconds(10)) { try await probe.infoOf(other) }
                        label = "answered"
                    } catch {
                        label = errorLabel(error)
                    }
                    outcomes.withLock { $0[label, default: 0] += 1 }
                }
            }
            while issued < min(depth, calls) { add(issued); issued += 1 }
            while await group.next() != nil {
                if issued < calls && ctx.timeLeft { add(issued); issued += 1 }
            }
        }
        let results: Fields = ["calls_issued": issued, "calls_s": r2(seconds(ContinuousClock.now - t0)),
                               "outcomes": outcomes.withLock { $0 } as Fields]
        return (parameters, results)
    }

    /// Handshakes without the secret, each claiming another host name.
    static func handshakeHostnames(_ ctx: Context, _ args: Arguments) async throws -> (Fields, Fields) {
        let total = try args.int("handshakes", in: 1...1_000_000) ?? 50_000
        let threads = try args.int("threads", in: 1...16) ?? 2
        let parameters: Fields = ["handshakes": total, "threads": threads]
        let outcomes = Locked<[String: Int]>([:])
        let t0 = ContinuousClock.now
        await blocking {
            let ts = (0..<threads).map { t in
                Thread {
                    var local: [String: Int] = [:]
                    var i = t
                    while i < total && ctx.timeLeft {
                        defer { i += threads }
                        let (conn, err) = RawConn.connect(port: ctx.port)
                        guard let conn else { local["connect errno \(err)", default: 0] += 1; usleep(1000); continue }
                        let id = Context.identity(port: 7101, host: "h\(i)-\(UInt32.random(in: 0...UInt32.max)).attack.invalid")
                        local[RawAttacker.handshake(conn, auth: .open, identity: id, timeoutMs: 3000).label, default: 0] += 1
                        conn.close()
                    }
                    outcomes.withLock { o in for (k, v) in local { o[k, default: 0] += v } }
                }
            }
            joinAll(ts)
        }
        let o = outcomes.withLock { $0 }
        let results: Fields = ["handshakes_done": o.values.reduce(0, +), "attack_s": r2(seconds(ContinuousClock.now - t0)),
                               "outcomes": o as Fields]
        return (parameters, results)
    }

    /// `connections` held open (`members` of them handshaked with the secret, the rest strangers that send nothing
    /// and are reopened as soon as the node closes them); meanwhile `attempts` fresh legitimate clients.
    static func connectionFlood(_ ctx: Context, _ args: Arguments) async throws -> (Fields, Fields) {
        let total = try args.int("connections", in: 1...5000) ?? 600
        let members = try args.int("members", in: 0...total) ?? 0
        let hold = try args.int("hold", in: 1...60) ?? 20
        let attempts = try args.int("attempts", in: 0...100) ?? 8
        let parameters: Fields = ["connections": total, "members": members, "strangers": total - members,
                                  "hold_s": hold, "legit_attempts": attempts]
        let flood = Locked<(opened: Int, reopened: Int, handshaked: Int, connectFailures: [String: Int], maxOpen: Int)>((0, 0, 0, [:], 0))
        let stop = Locked<Bool>(false)
        let floodThread = Thread {
            var conns: [RawConn?] = Array(repeating: nil, count: total)
            var lastBeat = ContinuousClock.now
            let end = ContinuousClock.now + .seconds(hold)
            while ContinuousClock.now < end && ctx.timeLeft && !stop.withLock({ $0 }) {
                var open = 0
                for i in 0..<total {
                    if let c = conns[i], c.drain() { open += 1; continue }
                    let reopening = conns[i] != nil
                    conns[i]?.close()
                    conns[i] = nil
                    let (c, err) = RawConn.connect(port: ctx.port, sendTimeoutSeconds: 1)
                    guard let c else { flood.withLock { $0.connectFailures["errno \(err)", default: 0] += 1 }; continue }
                    if i < members {
                        let hs = RawAttacker.handshake(c, auth: ctx.auth, identity: Context.identity(port: UInt16(10_000 + i)), timeoutMs: 2000)
                        guard hs == .accepted else {
                            flood.withLock { $0.connectFailures["member handshake " + hs.label, default: 0] += 1 }
                            c.close()
                            continue
                        }
                        flood.withLock { $0.handshaked += 1 }
                    }
                    conns[i] = c
                    open += 1
                    flood.withLock { if reopening { $0.reopened += 1 } else { $0.opened += 1 } }
                }
                flood.withLock { $0.maxOpen = max($0.maxOpen, open) }
                if ContinuousClock.now - lastBeat > .milliseconds(500) {
                    for i in 0..<members { conns[i]?.send(RawAttacker.heartbeat) }
                    lastBeat = ContinuousClock.now
                }
                usleep(20_000)
            }
            for c in conns { c?.close() }
        }
        floodThread.start()
        // Legitimate newcomers, one after another, once the flood is up.
        try await Task.sleep(for: .seconds(min(3, hold / 2)))
        var successes = 0
        var failures: [String: Int] = [:]
        var latencies: [Double] = []
        for i in 0..<attempts where ctx.timeLeft {
            let t = ContinuousClock.now
            do {
                var settings = ClusterSettings.client("newcomer-\(i)")
                settings.transport.auth = ctx.auth
                let system = try ClusterSystem(settings: settings, logger: Logger(level: .error))
                defer { system.shutdown() }
                let probe = try NodeProbe.on(ctx.node.node, system: system)
                _ = try await ClusterSystem.withCallTimeout(.seconds(5)) { try await probe.info() }
                successes += 1
                latencies.append(ms(ContinuousClock.now - t))
            } catch {
                failures[errorLabel(error), default: 0] += 1
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        nonisolated(unsafe) let flooder = floodThread
        await blocking { joinAll([flooder]) }
        let f = flood.withLock { $0 }
        let results: Fields = [
            "flood": ["opened": f.opened, "reopened_after_node_closed": f.reopened, "member_handshakes": f.handshaked,
                      "max_held_open": f.maxOpen, "connect_failures": f.connectFailures as Fields] as Fields,
            "legit_newcomers": ["attempts": attempts, "succeeded": successes, "failures": failures as Fields,
                                "ok_latencies_ms": latencies.map(r2)] as Fields,
        ]
        return (parameters, results)
    }

    /// Connections that send garbage (and one offer naming a cluster with control characters).
    static func garbageConnections(_ ctx: Context, _ args: Arguments) async throws -> (Fields, Fields) {
        let total = try args.int("connections", in: 1...1_000_000) ?? 100_000
        let threads = try args.int("threads", in: 1...16) ?? 2
        let parameters: Fields = ["connections": total, "threads": threads]
        // First, a stranger claims a cluster name with control characters (an escape sequence, a fake log line).
        let marker = "EVIL-CLUSTER"
        let hostile = "\(marker)\u{1B}[31m\r\nlevel=error msg=forged\u{07}\u{7F}"
        let logStart = ctx.logBytes
        let nameOutcome = await blocking { () -> String in
            let (conn, err) = RawConn.connect(port: ctx.port)
            guard let conn else { return "connect errno \(err)" }
            defer { conn.close() }
            return RawAttacker.handshake(conn, auth: .open, identity: Context.identity(port: 7101), cluster: hostile).label
        }
        try await Task.sleep(for: .milliseconds(300))
        let nameLog = logSlice(ctx.logPath, from: logStart)
        let markerLines = nameLog.split(separator: UInt8(ascii: "\n")).filter { String(decoding: $0, as: UTF8.self).contains(marker) }
        let controlBytes = nameLog.filter { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }.count
        let forgedLine = nameLog.split(separator: UInt8(ascii: "\n")).contains { String(decoding: $0, as: UTF8.self).hasPrefix("level=error msg=forged") }

        let outcomes = Locked<[String: Int]>([:])
        let logBefore = ctx.logBytes
        let t0 = ContinuousClock.now
        await blocking {
            let ts = (0..<threads).map { t in
                Thread {
                    var rng = SplitMix64(seed: UInt64(t) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
                    var local: [String: Int] = [:]
                    var i = t
                    while i < total && ctx.timeLeft {
                        defer { i += threads }
                        let (conn, err) = RawConn.connect(port: ctx.port, sendTimeoutSeconds: 1)
                        guard let conn else { local["connect errno \(err)", default: 0] += 1; usleep(1000); continue }
                        var garbage = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                        switch i % 4 {
                        case 0: break                                           // noise (mostly too-large lengths)
                        case 1: garbage.replaceSubrange(0..<4, with: [0, 0, 0, 0])  // zero length
                        case 2: garbage.replaceSubrange(0..<5, with: [0, 0, 0, 27, 0x7E])  // unknown kind
                        default: garbage = Wire.FrameParser.encode(.handshakeOffer, payload: garbage)  // bad magic
                        }
                        conn.send(garbage)
                        local[conn.waitClosed(timeoutMs: 3000) ? "closed by node" : "still open after 3 s", default: 0] += 1
                        conn.close()
                    }
                    outcomes.withLock { o in for (k, v) in local { o[k, default: 0] += v } }
                }
            }
            joinAll(ts)
        }
        let attackSeconds = seconds(ContinuousClock.now - t0)
        try await Task.sleep(for: .milliseconds(500))
        let o = outcomes.withLock { $0 }
        let results: Fields = [
            "connections_done": o.values.reduce(0, +), "attack_s": r2(attackSeconds), "outcomes": o as Fields,
            "log_bytes_for_garbage": ctx.logBytes - logBefore,
            "control_character_cluster_name": [
                "handshake": nameOutcome, "log_lines_naming_it": markerLines.count,
                "raw_control_bytes_in_log": controlBytes, "forged_line_at_line_start": forgedLine,
                "log_excerpt": String(decoding: nameLog.suffix(600), as: UTF8.self),
            ] as Fields,
        ]
        return (parameters, results)
    }

    // MARK: - Helpers

    /// Runs blocking socket code on a thread of its own (never on the cooperative pool, which the legitimate
    /// member needs).
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let t = Thread { continuation.resume(returning: body()) }
            t.stackSize = 1 << 20
            t.start()
        }
    }

    static func joinAll(_ threads: [Thread]) {
        for t in threads where !t.isExecuting && !t.isFinished { t.start() }
        while threads.contains(where: { !$0.isFinished }) { usleep(10_000) }
    }

    static func logSlice(_ path: String, from offset: Int) -> [UInt8] {
        guard let h = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? h.close() }
        try? h.seek(toOffset: UInt64(offset))
        return Array((try? h.readToEnd()) ?? Data())
    }

    static func fdLimit(_ pid: Int32) -> Int? {
        guard let text = NodeProcess.procFileText("/proc/\(pid)/limits") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Max open files") {
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first.flatMap { Int($0) }
        }
        return nil
    }

    static func errorLabel(_ error: any Error) -> String {
        switch error {
        case RemoteCallError.remoteOverloaded(_, let perCaller, _): perCaller ? "remoteOverloaded(perCaller)" : "remoteOverloaded(node)"
        case RemoteCallError.relayed(_, let inner):
            // What the node got in its own call (infoOf's), addresses and numbers elided. Labelled as before
            // typed errors (it then arrived as a remote error with this text), so reports stay comparable.
            remoteErrorLabel("\(inner)")
        case RemoteCallError.remoteError(_, let message):
            remoteErrorLabel(message)
        case let e as RemoteCallError:
            // The case name only: reasons carry addresses and would make every label distinct.
            Mirror(reflecting: e).children.first?.label ?? String(describing: e)
        default: String(String(describing: type(of: error)))
        }
    }

    /// `remoteError: <message>` with addresses and numbers elided, at most 120 characters of message.
    static func remoteErrorLabel(_ message: String) -> String {
        "remoteError: " + String(message.replacing(/\d+\.\d+\.\d+\.\d+:\d+(#[0-9a-f]+)?/, with: "ADDR")
            .replacing(/\d+/, with: "N").prefix(120))
    }

    /// POLLRDHUP (Linux): the peer closed its end; Glibc does not export it to Swift.
    static let pollRDHUP: Int16 = 0x2000

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    static func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
    static func mb(_ kib: Int) -> Double { r2(Double(kib) / 1024) }
    static func r2(_ v: Double) -> Double { (v * 100).rounded() / 100 }

    /// Fields as Foundation JSON values.
    static func plain(_ value: any Sendable) -> Any {
        switch value {
        case let d as Fields: d.mapValues { plain($0) }
        case let d as [String: Int]: d
        case let a as [Double]: a
        case let a as [any Sendable]: a.map { plain($0) }
        default: value
        }
    }
}
