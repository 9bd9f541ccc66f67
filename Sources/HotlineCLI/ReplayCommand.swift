import ActorCluster
import Foundation
import Hotline
import Synchronization

/// `hotline replay`: the main job — replays a real request trace through a local cluster in virtual time
/// and prints the KPI report and a reconciliation.
enum ReplayCommand {
    static let defaultTrace = "Deploy/samples/sf311_cases_random_sample_10000.csv"
    /// The catalogue whose vocabulary classifies a trace without a category column when no --catalog is given.
    static let defaultCatalogue = "Deploy/catalogs/anshan.json"

    static let usage = """
    usage: hotline replay [TRACE] [--nodes N] [--format csv|open311] [--map field=Column,...]
                          [--date-format PATTERN] [--time-zone TZ] [--catalog FILE] [--calendar FILE]
                          [--seed N] [--write-catalog FILE] [--kill N [--kill-seed S]] [--inbound pool|io|thread]
                          [--json]
      Starts N (default 3) node processes on 127.0.0.1 — node 1: intake, dispatch, callback, supervision,
      analysis; the rest: district offices — and replays TRACE (default: the bundled San Francisco 311
      sample, \(defaultTrace)) in virtual time. Prints the KPI report and a reconciliation (records read,
      accepted, rejected with reasons, cases per final state, lost). Progress goes to stderr.
      --map fields: id, opened, closed, channel, category, type, agency, district, address, description
      (defaults: the SF 311 columns). --date-format default "MM/dd/yyyy hh:mm:ss a"; --time-zone default
      America/Los_Angeles. Without --catalog one is derived from the trace (district → jurisdiction,
      agency → unit); --write-catalog saves the catalogue used. Simulated steps (sign time, callbacks) are
      labelled in the report. The report opens with the verdict.
      Records without a category (no category column, e.g. a web-message export) or without a district (when the
      catalogue has no city-wide jurisdiction) are classified at intake from their words (the `type` column is
      read as the message's subject); without --catalog such a trace uses the bundled \(defaultCatalogue). A
      proposal below the catalogue's threshold waits in the classification queue, where a simulated dispatcher
      (labelled so in the report) confirms it, or takes the catalogue's default category / holding jurisdiction
      when nothing was found. The report counts both, with the confidences.
      Exit status:
        0  ok: every accepted case found and at least half of the records replayed
        1  accepted cases lost, cases no receipt names (`duplicated`), or a node lost during the replay
        2  bad flags, or a trace unreadable as a whole (no readable record, gzip-compressed, not found)
        3  most records rejected (at read or at intake) or none accepted — the reason is the first line
           (with --json: `verdict` in the JSON, and the last line on stderr, "verdict: … — reason")
        130, 143  interrupted by SIGINT or SIGTERM: its nodes are stopped and its temporary files removed first
      `match` is yes only when the verdict is ok, there were cases to compare and every figure agrees.
      The nodes form one cluster through gossip membership and place every office and desk themselves.
      --kill N: SIGKILL a district node N times at moments drawn from --kill-seed S (random when not given;
      the report prints it, and the same seed replays the same victims and moments), each restarted at once on
      its address and data directory (every node keeps its replicas in a --data directory). The offices move
      and recover every case from their replicas: the report should show `lost: 0` and the same figures as a
      run without kills.
      --inbound: where the nodes run inbound calls and the driver its own (`hotline node --help`); default pool.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["nodes", "format", "map", "date-format", "time-zone", "catalog",
                                                "calendar", "seed", "write-catalog", "kill", "kill-seed", "inbound"], switches: ["json"])
        guard args.positional.count <= 1 else { throw UsageError("one trace file at most, got \(args.positional.count)") }
        let path = args.positional.first ?? locateDefaultTrace()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw UsageError("cannot read trace \"\(path)\": no such file")
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
            throw UsageError("cannot read trace \"\(path)\": \(isDirectory.boolValue ? "it is a directory" : "not readable")")
        }
        if data.starts(with: [0x1F, 0x8B]) {
            throw UsageError("cannot read trace \"\(path)\": it is gzip-compressed; decompress it first (gunzip -k \(path))")
        }
        let nodes = try args.int("nodes", in: 1...32) ?? 3
        let timeZoneName = args["time-zone"] ?? "America/Los_Angeles"
        guard let timeZone = TimeZone(identifier: timeZoneName) else { throw UsageError("invalid --time-zone \"\(timeZoneName)\"") }
        var reader = TraceReader(timeZone: timeZone)
        if let m = args["map"] {
            do { reader.map = try .parse(m) } catch { throw UsageError("invalid --map: \(error)") }
        }
        if let f = args["date-format"] { reader.dateFormat = f }
        let read: TraceReader.Result
        do {
            switch args["format"] ?? (path.hasSuffix(".json") ? "open311" : "csv") {
            case "csv": read = try reader.readCSV(data: data)
            case "open311": read = try reader.readOpen311(data: data)
            case let other: throw UsageError("invalid --format \"\(other)\": csv or open311")
            }
        } catch let e as UsageError {
            throw e
        } catch {
            throw UsageError("cannot read trace \"\(path)\": \(error)")
        }
        let seed: UInt64
        if let s = args["seed"] {
            guard let v = UInt64(s) else { throw UsageError("invalid --seed \"\(s)\": a non-negative integer") }
            seed = v
        } else {
            seed = 8890
        }
        var calendar = WorkingCalendar.weekendsOnly
        if let c = args["calendar"] {
            calendar = try loadCalendar(c)
        } else if let c = try? WorkingCalendar(id: "weekends-\(timeZoneName)", timeZone: timeZoneName) {
            calendar = c
        }
        var options = ReplayDriver.Options(executable: try selfExecutable(), calendar: calendar)
        options.nodes = nodes
        options.seed = seed
        if let v = args["inbound"] { options.inbound = try NodeConfig.inbound(v, field: "--inbound") }
        if let k = try args.int("kill", in: 1...1000) {
            guard nodes >= 3 else {
                throw UsageError("invalid --kill \(k): needs --nodes 3 or more (two district nodes hold the replicas while one restarts)")
            }
            options.kills = k
        }
        if let s = args["kill-seed"] {
            guard options.kills > 0 else { throw UsageError("invalid --kill-seed: only with --kill") }
            guard let v = UInt64(s) else { throw UsageError("invalid --kill-seed \"\(s)\": a non-negative integer") }
            options.killSeed = v
        } else {
            options.killSeed = UInt64.random(in: 1...999_999)
        }
        if let c = args["catalog"] {
            options.catalogue = try loadCatalogue(c)
        } else if !read.records.isEmpty,
                  read.records.allSatisfy({ $0.category.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            // Nothing to derive categories from: the bundled catalogue's vocabulary classifies the records.
            options.catalogue = try loadCatalogue(locate(defaultCatalogue))
            FileHandle.standardError.write(Data("hotline replay: the trace has no categories; classifying with \(defaultCatalogue)\n".utf8))
        }
        if let out = args["write-catalog"] {
            let catalogue = options.catalogue ?? TraceCatalogue.derive(from: read.records, name: URL(fileURLWithPath: path).lastPathComponent)
            do {
                try catalogue.jsonData().write(to: URL(fileURLWithPath: out))
            } catch {
                throw UsageError("invalid --write-catalog \"\(out)\": \(error.localizedDescription)")
            }
            options.progress("catalogue written to \(out)")
        }
        options.progress = { line in FileHandle.standardError.write(Data("hotline replay: \(line)\n".utf8)) }
        // SIGINT or SIGTERM: stop the nodes and remove the secret files and directories before exiting (a
        // replay started in the background by a non-interactive shell has SIGINT ignored: this handler catches it).
        let termination = TerminationSignal.install()
        let interrupted = Interruption()
        Task.detached { [cleanup = options.cleanup] in
            let signal = await termination.wait()
            interrupted.signal.store(signal, ordering: .sequentiallyConsistent)
            FileHandle.standardError.write(Data("hotline replay: interrupted by signal \(signal); stopping its nodes and removing its temporary files\n".utf8))
            // A node still starting when the signal came is not the driver's yet: every child goes first (a CI run
            // saw one outlive the replay), then the files.
            killChildProcesses()
            cleanup.run()
            exit(128 + signal)
        }
        let report: ReplayReport
        do {
            report = try await ReplayDriver(options: options).run(read, source: path)
        } catch let e as ReplayError {
            // The handler killed the nodes, so the driver failed: the handler still removes the files and
            // exits 128 + the signal (exiting 1 here first left the files behind, seen in a CI rehearsal).
            if let signal = await interrupted.parkWhileHandled() { return 128 + signal }
            if case .nothingToReplay = e { throw UsageError("\(e)") }
            FileHandle.standardError.write(Data("hotline replay: \(e)\n".utf8))
            return 1
        } catch {
            if let signal = await interrupted.parkWhileHandled() { return 128 + signal }
            throw error
        }
        if let signal = await interrupted.parkWhileHandled() { return 128 + signal }
        if args.has("json") {
            // JSON keys are sorted, so the verdict is deep in the output: one that is not ok also ends stderr.
            if report.verdict.outcome != .ok {
                FileHandle.standardError.write(Data("verdict: \(report.verdict.outcome.rawValue) — \(report.verdict.reason)\n".utf8))
            }
            print(try jsonString(report))
        } else {
            print(text(report))
        }
        return report.verdict.exitStatus
    }

    /// The bundled trace relative to the working directory, or next to the executable's package.
    static func locateDefaultTrace() -> String { locate(defaultTrace) }

    /// A bundled file (repository-relative path) relative to the working directory, or next to the
    /// executable's package; the path as given when neither has it.
    static func locate(_ relative: String) -> String {
        if FileManager.default.fileExists(atPath: relative) { return relative }
        if let exe = try? selfExecutable() {
            var dir = exe.deletingLastPathComponent()
            for _ in 0..<6 {
                let candidate = dir.appendingPathComponent(relative).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return relative
    }

    static func text(_ r: ReplayReport) -> String {
        func counts(_ d: [String: Int]) -> String {
            d.isEmpty ? "none" : d.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
        }
        func opt(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "—" }
        let c = r.reconciliation
        var out = """
        verdict: \(r.verdict.outcome.rawValue) — \(r.verdict.reason)
        == Hotline replay: \(r.trace.source)
        cluster: \(r.cluster.nodes.joined(separator: "  "))
        \(r.cluster.steps) steps, \(r.cluster.clockMoves) clock moves, \(String(format: "%.1f", r.cluster.seconds)) s

        == Reconciliation
        records read:          \(r.trace.recordsRead)
        rejected at read:      \(counts(r.trace.rejectedAtRead))\(r.trace.rejectedExamples.isEmpty ? "" : "\n  " + r.trace.rejectedExamples.joined(separator: "\n  "))
        flagged (replayed):    \(counts(r.trace.flagged))
        submitted to intake:   \(c.submitted)
        accepted (cases):      \(c.accepted)
        duplicate submissions: \(c.duplicateSubmissions) (intake returned the earlier case)
        rejected at intake:    \(counts(c.rejectedAtIntake))
        routed:                \(c.routedAsCatalogue) as the catalogue suggests; \(c.routedToTraceAgency) to the record's own agency instead (override recorded)
        step failures:         \(counts(c.stepFailures))
        cases by final state:  \(counts(c.casesByStatus))
        cases found in cluster: \(c.casesFound)
        duplicated: \(c.duplicated)
        lost: \(c.lost)\(c.lostCases.isEmpty ? "" : " — " + c.lostCases.prefix(50).joined(separator: ", ") + (c.lostCases.count > 50 ? ", … (all in --json)" : ""))\(c.killed.map { "\nkilled mid-run:        \($0)" } ?? "")

        == Rules for dirty records

        """
        for (flag, rule) in r.trace.rules.sorted(by: { $0.key < $1.key }) { out += "\(flag): \(rule)\n" }
        let m = r.comparison
        out += """

        == Trace vs cluster (trace figures computed from the records, cluster figures from the event log)
        the trace's close ⇔ the lead unit's reply; days = open → close ⇔ dispatch → reply (dispatch is at intake)
        closed in trace / replied in cluster:     \(m.traceClosed) / \(m.clusterReplied)
        share closed / reply rate:                \(String(format: "%.4f", m.traceClosedShare)) / \(String(format: "%.4f", m.clusterReplyShare))
        median days open→close / dispatch→reply:  \(opt(m.traceMedianDays)) / \(opt(m.clusterMedianDays))
        mean days open→close / dispatch→reply:    \(opt(m.traceMeanDays)) / \(opt(m.clusterMeanDays))
        match: \(m.matches ? "yes" : "NO")\(r.verdict.outcome == .ok ? "" : " (verdict \(r.verdict.outcome.rawValue): nothing is judged a match)")

        == Simulated (not in the trace)

        """
        for s in r.simulated { out += "- \(s)\n" }
        if let k = r.classification {
            out += """

            == Classification at intake (catalogue \(k.catalogue), threshold \(String(format: "%.2f", k.threshold)))
            cases from a proposal:           \(k.proposed)
            classified automatically:        \(k.automatic)
            by the simulated dispatcher:     \(k.bySimulatedDispatcher) (of which \(k.defaulted) took the catalogue's default category or holding jurisdiction)
            no category phrase found:        \(k.noCategoryFound)
            no place name found:             \(k.noPlaceFound)
            emergency words (P1, duty room): \(k.emergencies)
            confidence (min of category and place): median \(opt(k.medianConfidence)); \(counts(k.confidenceBuckets))
            category confidence alone:              median \(opt(k.medianCategoryConfidence)); \(counts(k.categoryConfidenceBuckets))

            """
        }
        out += "\n== KPI report\n" + r.kpi.textTable()
        return out
    }
}

/// Which termination signal the replay's handler is acting on (0: none yet).
final class Interruption: Sendable {
    let signal = Atomic<Int32>(0)

    /// When a signal came: waits (at most 30 s) for its handler, which removes the files and exits the process;
    /// returns the signal if the handler has not exited by then. Nil at once when no signal came.
    func parkWhileHandled() async -> Int32? {
        let s = signal.load(ordering: .sequentiallyConsistent)
        guard s != 0 else { return nil }
        for _ in 0..<300 { try? await Task.sleep(for: .milliseconds(100)) }
        return s
    }
}

/// SIGKILLs every process whose parent is this one (read from `/proc/<pid>/stat`, Linux). Bounded by the process
/// table.
func killChildProcesses() {
    let me = getpid()
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(entry), let stat = NodeProcess.procFileText("/proc/\(pid)/stat"),
              let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        if fields.count > 2, Int32(fields[1]) == me { kill(pid, SIGKILL) }
    }
}
