import ActorCluster
import Foundation
import Glibc
import Hotline

/// `hotline bench recovery`: how long a node holding N closed cases takes to restart and serve, and how much
/// memory it then holds.
///
/// The data directory is written first, in this process, with the node's own code paths: each case's events
/// (intake, accept, queue, dispatch, delivery, sign, reply, review, callback, close) are built by the domain's
/// rules (`CaseLog`). The first 95 % of the cases go into each office's snapshot (`CaseArchive`, written to a
/// file), which the replication owner (`Replication.Owner.compact`) installs on the replica store (`ReplicaStore`)
/// in pages read from that file, as an office's compaction does (the store writes it to its snapshot file); the last 5 % are grouped into the entries an office commits per change and appended to the
/// stream `district/<code>` after it; then the store writes its own snapshot — what a node that took those
/// cases and compacted its streams would hold on disk. Then a `hotline node` is started on that directory and
/// timed until every office serves.
enum RecoveryBench {
    static let usage = """
    usage: hotline bench recovery [--cases N] [--keep DIR]
      Writes a data directory holding N closed cases (default 1000000) over four district offices of the
      bundled Anshan catalogue, then starts one `hotline node` on it and measures: seconds until it prints
      ready, seconds until every office serves (all cases recovered), resident memory (VmRSS) then and its
      peak (VmHWM), and the journal's size on disk. Targets: ≤ 10 s to serve, ≤ 1 GB resident. Prints JSON.
      Build with -c release. Needs free memory and disk of a few GB per million cases. --keep DIR writes the
      data directory to DIR/node (DIR must not exist) and keeps it, to start a node on it by hand.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["cases", "keep"])
        let cases = try args.int("cases", in: 100...10_000_000) ?? 1_000_000
        let catalogue = try IntakeBench.bundledCatalogue()
        let build = BenchCommand.buildKind(warning: "recovery")
        let keep = args["keep"]
        if let keep, FileManager.default.fileExists(atPath: keep) { throw UsageError("--keep \(keep): exists already") }
        let root = keep.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("hotline-bench-recovery-\(UUID().uuidString)")
        defer { if keep == nil { try? FileManager.default.removeItem(at: root) } }
        let data = root.appendingPathComponent("node").path
        let port = try freePort()
        let me = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: port), uid: UInt64.random(in: 1...UInt64.max))
        let jurisdictions = ["210302", "210303", "210304", "210311"]

        let g0 = ContinuousClock.now
        let generated = try await generate(cases: cases, jurisdictions: jurisdictions, into: data + "/replicas", me: me)
        let generationSeconds = seconds(since: g0)
        let journalBytes = directoryBytes(data + "/replicas")
        FileHandle.standardError.write(Data("wrote \(cases) closed cases (\(generated.entries) entries, \(journalBytes >> 20) MiB) in \(Int(generationSeconds)) s; starting the node\n".utf8))

        let secret = try ClusterAuth.makeEphemeralSecretFile()
        defer { try? FileManager.default.removeItem(atPath: secret.path) }
        let t0 = ContinuousClock.now
        let node = try NodeProcess(executable: try selfExecutable(),
                                   arguments: ["node", "--name", "recovery", "--listen", "\(me.address)", "--log-level", "error",
                                               "--secret-file", secret.path, "--catalog", catalogue, "--data", data],
                                   timeout: .seconds(900), quiet: true)
        defer { node.kill() }
        let readyLine = seconds(since: t0)
        var settings = ClusterSettings.client("bench-recovery")
        settings.callTimeout = .seconds(30)
        settings.transport.auth = try NodeConfig.auth(secretFile: secret.path, previousSecretFile: nil, listen: nil)
        let system = try ClusterSystem(settings: settings, logger: Logger(level: .error))
        defer { system.shutdown() }
        try HotlineError.registerWireErrors(on: system)
        let hotline = try HotlineNode.on(node.node, system: system)
        // Bounded: 900 s, polled every 50 ms.
        let deadline = ContinuousClock.now + .seconds(900)
        var held = 0
        var lastShown = ContinuousClock.now
        while true {
            let info = try? await hotline.info()
            if let offices = info?.offices, offices.count >= jurisdictions.count, offices.allSatisfy({ $0.phase == "serving" }) {
                held = offices.reduce(0) { $0 + $1.cases }
                break
            }
            if ContinuousClock.now - lastShown > .seconds(10) {
                lastShown = .now
                let shown = info?.offices?.map { "\($0.jurisdiction) \($0.phase) \($0.streamPhase ?? "") \($0.detail ?? "")" }
                FileHandle.standardError.write(Data("  waiting: \(shown?.joined(separator: "; ") ?? "no answer")\n".utf8))
            }
            guard ContinuousClock.now < deadline, node.isRunning else {
                throw CommandFailure(node.isRunning ? "the offices did not serve within 900 s" : "the node exited while recovering")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let serving = seconds(since: t0)
        let rss = NodeProcess.residentKiB(pid: node.pid) ?? 0
        let peak = peakKiB(node.pid) ?? 0
        let cpu = cpuSeconds(node.pid) ?? 0
        // One case read back, to show it is there and closed.
        let probe = try await hotline.findCase(CaseNumber(year: 2026, serial: cases / 2 + 1).description)
        let result: [String: Any] = [
            "bench": "recovery", "build": build, "cores": ProcessInfo.processInfo.activeProcessorCount,
            "cases": cases, "cases_held_after_restart": held, "entries": generated.entries,
            "cases_in_snapshots": generated.inSnapshots,
            "replicas_mib_on_disk": journalBytes >> 20, "data_mib_on_disk_after_restart": directoryBytes(data) >> 20, "generation_seconds": BenchCommand.round2(generationSeconds),
            "restart": ["seconds_to_ready_line": BenchCommand.round2(readyLine),
                        "seconds_to_serving": BenchCommand.round2(serving),
                        "node_cpu_seconds_to_serving": BenchCommand.round2(cpu),
                        "rss_mib": rss / 1024, "peak_rss_mib": peak / 1024] as [String: Any],
            "probe": ["case": probe.snapshot.number.description, "status": probe.snapshot.status.rawValue],
            "targets": ["serving_seconds_max": 10, "rss_mib_max": 1024,
                        "serving_holds": serving <= 10, "rss_holds": rss / 1024 <= 1024] as [String: Any],
        ]
        let json = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: json, as: UTF8.self))
        return 0
    }

    /// Writes `cases` closed cases, round-robin over `jurisdictions`, into a replica journal at `directory`,
    /// as stream owner `me`; returns how many entries were written.
    static func generate(cases: Int, jurisdictions: [String], into directory: String,
                         me: NodeIdentity) async throws -> (entries: Int, inSnapshots: Int) {
        var options = Replication.ReplicaStore.journalOptions
        options.fsync = .never
        // No snapshot while writing (each would copy the whole store); one at the end.
        let (store, _) = try await Replication.ReplicaStore.open(directory: directory, options: options,
                                                                 snapshotEvery: Int.max)
        let settings = Replication.Settings()
        var clock: UInt64 = 1_000_000_000
        var owners: [Replication.Owner] = []
        var entries = 0
        // The office's snapshot of its first cases, per stream (`CaseArchive`), and its bytes once handed over.
        let scratch = directory + "/../bench-archives"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let writers = try jurisdictions.map { try CaseArchive.FileWriter(path: "\(scratch)/\($0).archive") }
        var snapshots: [CaseArchive.File?] = Array(repeating: nil, count: jurisdictions.count)
        let inSnapshot = cases - max(1, cases / 20)

        /// Runs `actions` against the local store until none are left (bounded: each round answers a request).
        func pump(_ k: Int, _ first: [Replication.Owner.Action]) async throws {
            var queue = first
            var rounds = 0
            while !queue.isEmpty {
                rounds += 1
                guard rounds < 10_000_000 else { throw CommandFailure("replication did not settle") }
                let action = queue.removeFirst()
                let request: Replication.Request
                let to: NodeIdentity
                switch action {
                case .send(let r, let t):
                    (request, to) = (r, t)
                case .sendSnapshot(let info, let offset, let maxBytes, let t):
                    // What the office's stream shell does: a page of the snapshot it was given.
                    guard let file = snapshots[k], file.size == info.size else { continue }
                    request = .installSnapshot(stream: owners[k].stream, ballot: owners[k].ballot, info: info, offset: offset,
                                               chunk: try file.read(offset: offset, count: maxBytes))
                    to = t
                case .fenced(let by):
                    throw CommandFailure("fenced by \(by)")
                default:
                    continue
                }
                let reply = try await store.handle(request)
                clock += 1_000
                queue += owners[k].handle(.reply(reply, to: request, from: to), nowNs: clock)
            }
        }
        for (k, code) in jurisdictions.enumerated() {
            let (owner, actions) = Replication.Owner.start(stream: DistrictOffice.streamName(code), me: me, round: 1,
                                                           replicas: [me], others: [], settings: settings, nowNs: clock)
            owners.append(owner)
            try await pump(k, actions)
            // Bounded: a recovery of an empty stream on one replica needs a few ticks at most.
            for _ in 0..<100 where owners[k].phase.name != "serving" {
                clock += 1_000_000_000
                try await pump(k, owners[k].handle(.tick, nowNs: clock))
            }
            guard owners[k].phase.name == "serving" else { throw CommandFailure("stream \(code) did not recover") }
        }
        let policy = SLAPolicy.standard
        let profile = try policy.profile(kind: .complaint, urgency: .p2)
        let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
        let staff = EventAuthor.hotline(staff: "CT-07")
        let encoder = Wire.BinaryEncoder()
        var pending: [[Replication.Owner.Action]] = Array(repeating: [], count: jurisdictions.count)
        for i in 0..<cases {
            let k = i % jurisdictions.count
            let code = jurisdictions[k]
            var now = start.addingTimeInterval(Double(i) * 30)
            var log = try CaseLog(id: CaseID(UUID().uuidString.lowercased()), number: CaseNumber(year: 2026, serial: i + 1),
                                  intake: IntakeRecord(channel: Channel(code: "8890", name: "8890 热线电话"),
                                                       externalID: "bench-\(i)",
                                                       contact: CitizenContact(name: "张三", phone: "1390000\(String(format: "%04d", i % 10_000))"),
                                                       description: "暖气不热，室温只有十二度，请尽快处理 (\(i))",
                                                       location: Location(address: "鞍山市铁东区胜利路 \(i % 500) 号")),
                                  at: now, by: staff)
            var groups: [[CaseEventBody]] = []
            let classification = Classification(kind: .complaint, category: "heating-failure", sector: "city-environment",
                                                urgency: .p2, jurisdiction: code, livelihood: true)
            let decision = RoutingDecision(category: "heating-failure", jurisdiction: code, lead: "AS-HEAT", coUnits: [],
                                           dispatchGroup: "G1", slaPolicy: "standard", ruleID: "R-heating-\(code)",
                                           catalogueVersion: "bench", usedFallback: false)
            groups.append([.accepted(classification: classification), .queuedForDispatch(group: "G1")])
            groups.append([.dispatched(order: DispatchOrder(decision: decision, profile: profile))])
            var payloads: [[UInt8]] = []
            var count = 0
            // The opening entry carries the draft event too.
            for (g, bodies) in groups.enumerated() {
                for b in bodies {
                    now = now.addingTimeInterval(60)
                    try log.record(b, at: now, by: staff)
                }
                if g == groups.count - 1 || g == 0 {
                    payloads.append(try encoder.encode(Array(log.events[count...])))
                    count = log.events.count
                }
            }
            guard let lead = log.order.leadAssignment?.id else { throw CommandFailure("no lead assignment") }
            let unit = EventAuthor.unit(code: "AS-HEAT")
            let steps: [[(CaseEventBody, EventAuthor)]] = [
                [(.assignmentDelivered(assignment: lead), .system(component: "supervisor"))],
                [(.assignmentSigned(assignment: lead), unit)],
                [(.unitReplied(assignment: lead, text: "已派人检修供暖管线，室温恢复到二十度"), unit)],
                [(.replyReviewed(accepted: true, note: "答复规范"), staff)],
                [(.callbackAttempted(outcome: .reached(evaluation: CallbackEvaluation(resolved: true, satisfaction: .satisfied))), staff),
                 (.closed(reason: .callbackCompleted), staff)],
            ]
            for step in steps {
                for (body, author) in step {
                    now = now.addingTimeInterval(3_600)
                    try log.record(body, at: now, by: author)
                }
                payloads.append(try encoder.encode(Array(log.events[count...])))
                count = log.events.count
            }
            if i < inSnapshot {
                try writers[k].append(CaseArchive.Header(log), events: try encoder.encode(log.events)[...])
            } else {
                for p in payloads {
                    clock += 1_000
                    guard let (_, actions) = owners[k].propose(p, nowNs: clock) else { throw CommandFailure("owner not serving") }
                    pending[k] += actions
                    entries += 1
                }
            }
            if i == inSnapshot - 1 {
                // Each office compacts: its snapshot of these cases goes to the replicas, in pages.
                for j in jurisdictions.indices {
                    let file = try writers[j].finish()
                    snapshots[j] = file
                    guard let (_, actions) = owners[j].compact(through: owners[j].commitIndex, size: file.size,
                                                               checksum: file.checksum, nowNs: clock) else {
                        throw CommandFailure("stream \(jurisdictions[j]) did not compact")
                    }
                    try await pump(j, actions)
                    snapshots[j] = nil
                }
            }
            if pending[k].count >= 64 || i == cases - 1 {
                try await pump(k, pending[k])
                pending[k] = []
            }
            if i % 100_000 == 99_999 {
                FileHandle.standardError.write(Data("  \(i + 1) cases written\n".utf8))
            }
        }
        for k in jurisdictions.indices {
            try await pump(k, pending[k])
            // Bounded: heartbeats until everything proposed is committed.
            for _ in 0..<1_000 where owners[k].commitIndex < owners[k].lastIndex {
                clock += 1_000_000_000
                try await pump(k, owners[k].handle(.tick, nowNs: clock))
            }
        }
        await store.compact()
        return (entries, inSnapshot)
    }

    static func seconds(since t: ContinuousClock.Instant) -> Double {
        Double((ContinuousClock.now - t) / .microseconds(1)) / 1e6
    }

    /// A port free on 127.0.0.1 now (bound and released; the node binds it a moment later).
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure("socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw CommandFailure("cannot bind 127.0.0.1:0") }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// Bytes of the regular files under `path` (recursively).
    static func directoryBytes(_ path: String) -> Int {
        var total = 0
        let e = FileManager.default.enumerator(atPath: path)
        while let f = e?.nextObject() as? String {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + f),
               attributes[.type] as? FileAttributeType == .typeRegular {
                total += (attributes[.size] as? Int) ?? 0
            }
        }
        return total
    }

    /// CPU time (user + system) `pid` used so far, in seconds (`/proc/PID/stat`, clock ticks of 1/100 s).
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let text = NodeProcess.procFileText("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// VmHWM (peak resident memory) of `pid` in KiB.
    static func peakKiB(_ pid: Int32) -> Int? {
        guard let text = NodeProcess.procFileText("/proc/\(pid)/status"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }
}
