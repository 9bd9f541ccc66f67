import ActorCluster
import Foundation
import Synchronization

/// Why a replay stopped before its end.
public enum ReplayError: Error, CustomStringConvertible {
    /// A node process stopped answering (killed, crashed). Failover is a later release; the replay stops.
    case nodeLost(node: String, step: Int, of: Int, at: Date, reason: String)
    /// Nothing in the trace could be read (e.g. a wrong date format): the rejections, by reason.
    case nothingToReplay(rowsRead: Int, rejected: [String: Int])

    public var description: String {
        switch self {
        case .nodeLost(let node, let step, let total, let at, let reason):
            "node \(node) became unreachable at step \(step) of \(total) (virtual time \(ISO8601DateFormatter().string(from: at)))"
                + (reason.isEmpty ? "" : " — \(reason)") + ". The replay stops (failover of its cases is a later release)."
        case .nothingToReplay(let rows, let rejected):
            rows == 0 ? "the trace has no records"
                : "none of the \(rows) records could be read: " + rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
    }
}

/// Runs a replay: starts a local cluster of `hotline node` processes, configures placement and virtual time,
/// has `ReplayExecutor` play the `ReplayPlan`'s outside world against the workflow actors, `ReplayReconciler`
/// query what the cluster holds, and `ReplayReport.assemble` set it against the trace's own figures.
public struct ReplayDriver: Sendable {
    public struct Options: Sendable {
        /// The `hotline` executable to start nodes from.
        public var executable: URL
        /// Node processes (≥ 1). Node 1 hosts intake, dispatch, callback, supervision and analysis; the
        /// others host the district offices. With 1 node it hosts everything.
        public var nodes = 3
        public var seed: UInt64 = 8890
        public var model = ReplayPlan.CallbackModel()
        /// nil: derive one from the trace.
        public var catalogue: RoutingCatalogue?
        public var calendar: WorkingCalendar
        public var progress: @Sendable (String) -> Void = { _ in }
        /// Cases whose steps of one virtual day run at the same time (each case's own steps stay in order).
        public var concurrency = 32
        /// Where each node runs inbound calls (`hotline node --inbound`), and where the driver runs in its own
        /// process: on the global pool, its I/O thread or its call thread. Default: `ClusterSettings`' default.
        public var inbound: ClusterSettings.InboundExecution = ClusterSettings().inboundExecution
        /// How many times to SIGKILL a district node mid-run (`hotline replay --kill N`): each victim and moment is
        /// drawn from `killSeed` (victims among the district nodes, moments between 10% and 90% of the steps);
        /// each killed node is restarted at once on its address and data directory. 0: none.
        public var kills = 0
        /// Seed of the victims and moments (printed in the report; the same seed replays the same kills).
        public var killSeed: UInt64 = 1
        /// Where the run registers what must be undone if the process is interrupted (its node processes, its
        /// secret files and temporary directory): the command line calls `ReplayCleanup.run()` on SIGINT/SIGTERM.
        public var cleanup = ReplayCleanup()

        public init(executable: URL, calendar: WorkingCalendar) {
            self.executable = executable
            self.calendar = calendar
        }
    }

    public var options: Options

    public init(options: Options) { self.options = options }

    /// Replays `read` (from `TraceReader`) and returns the report.
    ///
    /// - Throws: `NodeProcess.StartError`, `RemoteCallError`, `HotlineError` for a cluster that cannot be
    ///   set up; single records never throw (they are counted).
    public func run(_ read: TraceReader.Result, source: String) async throws -> ReplayReport {
        try await runReplay(read, source: source)
    }

    private func runReplay(_ read: TraceReader.Result, source: String) async throws -> ReplayReport {
        let started = ContinuousClock.now
        let records = read.records
        guard !records.isEmpty else {
            var rejected: [String: Int] = [:]
            for r in read.rejected { rejected[r.reason.code, default: 0] += 1 }
            throw ReplayError.nothingToReplay(rowsRead: read.rowsRead, rejected: rejected)
        }
        let catalogue = options.catalogue ?? TraceCatalogue.derive(from: records, name: URL(fileURLWithPath: source).lastPathComponent)
        // District → jurisdiction: the derived scheme (`D6`, `CITY`) when the catalogue uses it, else the
        // district code as given (intake rejects codes the catalogue does not know, with the reason).
        // A record without a district, when the catalogue has no city-wide jurisdiction, goes to intake
        // without one: intake classifies it from its words.
        let jurisdiction: @Sendable (TraceRecord) -> String = { r in
            let derivedCode = TraceCatalogue.jurisdiction(forDistrict: r.district)
            if catalogue.jurisdiction(derivedCode) != nil { return derivedCode }
            return r.district ?? ""
        }
        let plan = ReplayPlan(records: records, seed: options.seed, model: options.model,
                              timeZone: options.calendar.foundationTimeZone)
        options.progress("plan: \(records.count) records, \(plan.steps.count) steps, catalogue \(catalogue.version)")

        // Cluster.
        let count = max(1, options.nodes)
        /// Roles of node k (0-based): node 0 the hotline desks, the others district offices; alone: everything.
        let roleText: @Sendable (Int) -> String = { k in
            count == 1 ? "" : (k == 0 ? "intake,dispatch,callback,supervision,analysis" : "district")
        }
        // The replay's own cluster proves a fresh secret, as a deployed one does.
        let secret = try ClusterAuth.makeEphemeralSecretFile()
        let cleanup = options.cleanup
        cleanup.add { try? FileManager.default.removeItem(atPath: secret.path) }
        // The driver configures the nodes and moves their clocks: it proves an operator secret they know.
        let operatorSecret = try ClusterAuth.makeEphemeralSecretFile()
        cleanup.add { try? FileManager.default.removeItem(atPath: operatorSecret.path) }
        let logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        cleanup.add { try? FileManager.default.removeItem(at: logDirectory) }
        let processes = ReplayNodes()
        // Run in reverse: the nodes stop before their directory goes.
        cleanup.add { for p in processes.all { p.stop() } }
        defer { cleanup.run() }
        let executable = options.executable
        let inbound = switch options.inbound {
        case .globalPool: "pool"
        case .ioThread: "io"
        case .callThread: "thread"
        }
        // Node k's command line: its data directory (replicas) survives a kill, so a restart on it recovers.
        let launch: @Sendable (Int, UInt16, [NodeAddress], Int) throws -> NodeProcess = { k, port, seeds, life in
            let roles = roleText(k)
            var args = ["node", "--name", "replay-\(k + 1)", "--listen", "127.0.0.1:\(port)", "--log-level", "warning",
                        "--inbound", inbound, "--secret-file", secret.path, "--operator-secret-file", operatorSecret.path,
                        "--data", logDirectory.appendingPathComponent("replay-\(k + 1)-data").path,
                        // The driver owns (virtual) time and ticks supervision itself, once per virtual day.
                        "--supervision-interval-ms", "0"]
            if !roles.isEmpty { args += ["--roles", roles] }
            if !seeds.isEmpty { args += ["--seeds", seeds.map(\.description).joined(separator: ",")] }
            // Each node's warnings go to a log file, shown when the node is lost.
            let log = logDirectory.appendingPathComponent("replay-\(k + 1)\(life > 0 ? "-restart\(life)" : "").log")
            return try NodeProcess(executable: executable, arguments: args, logFile: log)
        }
        for k in 0..<count {
            // Each node joins through the ones started before it (the first forms the cluster).
            processes.append(try launch(k, 0, processes.all.map(\.node.address), 0))
        }
        var settings = ClusterSettings.client("replay-driver")
        settings.inboundExecution = options.inbound
        settings.callTimeout = .seconds(60)
        settings.transport.auth = secret.auth
        settings.transport.operatorCredential = operatorSecret.auth.operatorCredential(use: .present)
        let system = try ClusterSystem(settings: settings, logger: Logger(level: .warning))
        defer { system.shutdown() }
        try HotlineError.registerWireErrors(on: system)
        let start = plan.steps.first?.at ?? Date()
        let workflow = WorkflowSettings(calendar: options.calendar, unreachableAttemptsToClose: options.model.attempts)
        var configuration = HotlineConfiguration(catalogue: catalogue, settings: workflow, virtualStart: start)
        // The trace has no second round for a reopened case: it stays reopened (see `simulated`).
        configuration.redispatchReopened = false
        // Off the pool, the driver itself runs where its node runs calls (no hop per reply).
        let preference: (any TaskExecutor)? = switch options.inbound {
        case .globalPool: nil
        case .ioThread: system.ioExecutor
        case .callThread: system.callExecutor
        }
        do {
            return try await withTaskExecutorPreference(preference) {
                try await drive(read: read, source: source, started: started, records: records, catalogue: catalogue,
                                jurisdiction: jurisdiction, plan: plan, processes: processes, launch: launch, system: system,
                                workflow: workflow, configuration: configuration, start: start)
            }
        } catch ReplayError.nodeLost(let node, let step, let total, let at, let reason) {
            // Say what the nodes say: whether each still runs and its last log lines. A node that is going
            // down gets up to 1 s to be reaped, so its exit status can be told.
            let deadline = ContinuousClock.now + .seconds(1)
            while processes.current.allSatisfy({ $0.isRunning }), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            var detail = ""
            for p in processes.current {
                detail += "\n  \(p.name): \(p.endedHow ?? "running")"
                for line in p.logTail(lines: 5) { detail += "\n    " + line }
            }
            throw ReplayError.nodeLost(node: node, step: step, of: total, at: at, reason: reason + detail)
        }
    }

    /// Forms the cluster, then plays the plan (`ReplayExecutor`), reconciles what the cluster holds
    /// (`ReplayReconciler`) and writes the report (`ReplayReport.assemble`).
    private func drive(read: TraceReader.Result, source: String, started: ContinuousClock.Instant, records: [TraceRecord],
                       catalogue: RoutingCatalogue, jurisdiction: @escaping @Sendable (TraceRecord) -> String, plan: ReplayPlan,
                       processes: ReplayNodes, launch: @escaping @Sendable (Int, UInt16, [NodeAddress], Int) throws -> NodeProcess,
                       system: ClusterSystem,
                       workflow: WorkflowSettings, configuration: HotlineConfiguration, start: Date) async throws -> ReplayReport {
        let count = processes.current.count
        let initialActors = try processes.current.map { try HotlineNode.on($0.node, system: system) }
        try await ClusterFormation.waitForMembers(initialActors, names: processes.current.map(\.name), timeout: .seconds(30))
        options.progress("cluster: \(count) node(s) up")
        for n in initialActors { _ = try await n.configure(configuration) }
        let directory = try await ClusterFormation.waitForPlacement(initialActors, names: processes.current.map(\.name),
                                                                    timeout: .seconds(30))
        options.progress("cluster: \(count) node(s) configured; every singleton placed")

        // The driver is not a member: it follows placement through the nodes (the first that answers).
        let context = HotlineContext(system: system, catalogue: catalogue, settings: workflow, clock: FixedClock(start),
                                     directory: HotlineDirectoryView(directory, refresh: {
                                         for p in processes.current {
                                             guard let n = try? HotlineNode.on(p.node, system: system) else { continue }
                                             if let d = try? await ClusterSystem.withCallTimeout(.seconds(1), operation: { try await n.directory() }) {
                                                 return d
                                             }
                                         }
                                         return nil
                                     }))
        let executor = ReplayExecutor(options: options, records: records, catalogue: catalogue, jurisdiction: jurisdiction,
                                      plan: plan, processes: processes, launch: launch, system: system, context: context,
                                      configuration: configuration, start: start)
        let ledger = try await executor.run()

        // Leave every node's clock at the end of the replay (the control message; steps carried their own time).
        let end = ledger.clock
        let living = try processes.current.map { try HotlineNode.on($0.node, system: system) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in living { group.addTask { try await node.setClock(to: end) } }
            try await group.waitForAll()
        }
        options.progress("replay: \(plan.steps.count) steps done; reconciling")
        let found = try await ReplayReconciler(context: context, system: system).reconcile(receipts: ledger.receipts, asOf: end)
        let elapsed = ContinuousClock.now - started
        return ReplayReport.assemble(read: read, source: source, records: records, catalogue: catalogue, options: options,
                                     ledger: ledger, found: found,
                                     nodes: processes.current.map { "\($0.name)=\($0.node)" }, steps: plan.steps,
                                     seconds: Self.round2(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
    }

    static let rules: [String: String] = [
        TraceFlag.closedBeforeOpened.rawValue: "closed as the source says, with the reply at the open time: zero handling time (in the trace figures too)",
        TraceFlag.noDistrict.rawValue: "routed to the city-wide jurisdiction CITY; when the catalogue has none, intake classifies the record's words (a simulated dispatcher confirms proposals below the threshold)",
        TraceFlag.extraColumns.rawValue: "extra columns ignored",
        TraceFlag.emptyDescription.rawValue: "described to intake as \"<category>: <request type>\"",
        "agency": "the dispatcher follows the record's agency when the catalogue suggests another lead (recorded on the dispatch as the overridden lead)",
        TraceFlag.unparsableClosed.rawValue: "replayed as still open",
        TraceFlag.duplicateID.rawValue: "submitted again through the first record's channel (a retry); intake returns the first case (idempotent), nothing else replayed",
        "missingID": "rejected at read",
        "unparsableOpened": "rejected at read",
        "shortRow": "rejected at read",
        "longRow": "rejected at read (more columns than the header, with text in the extra ones)",
        "unterminatedQuote": "rejected at read; reading resumes on the line after the record's first line",
        "textAfterClosingQuote": "rejected at read; reading resumes on the next line",
        "bareCR": "rejected at read (a CR not followed by LF); reading resumes on the next line",
        "invalidUTF8": "rejected at read (never replaced by U+FFFD)",
        "badField": "rejected at read (Open311: a field of the wrong type, or not an object)",
        TraceFlag.strayQuote.rawValue: "a quote inside an unquoted field is read as a literal character",
        TraceFlag.localTimeInGap.rawValue: "a local time in a daylight-saving gap is moved forward by the gap's length (02:30 → 03:30 PDT), as java.time ZonedDateTime.ofLocal and Python zoneinfo",
        TraceFlag.localTimeInOverlap.rawValue: "a local time in the repeated hour takes the earlier offset (the first occurrence), as java.time and Python zoneinfo fold=0",
    ]

    /// A `HotlineError` the intake desk answered a submission with (counted as rejected at intake), told apart
    /// from one the driver raises itself while finding the desk (a step failure).
    struct IntakeRefusal: Error {
        var refusal: HotlineError
    }

    /// The process name of `node` (`replay-2 (127.0.0.1:…)`) for messages.
    static func name(of node: NodeIdentity, in processes: [NodeProcess]) -> String {
        guard let p = processes.first(where: { $0.node.address == node.address }) else { return "\(node)" }
        return "\(p.name) (\(p.node))"
    }

    /// What the citizen asked: the record's details, or its category and request type when it has none.
    static func description(of r: TraceRecord) -> String {
        let text = r.description.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "\(r.category): \(r.requestType)" : r.description
    }

    /// Groups intake/rule messages by their stable part (drops case numbers and ids).
    static func reasonKey(_ message: String) -> String {
        var key = message
        if let range = key.range(of: #"case \d{4}-\d{6}: "#, options: .regularExpression) { key.removeSubrange(range) }
        key = key.replacingOccurrences(of: #"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"#,
                                       with: "<id>", options: .regularExpression)
        return String(key.prefix(160))
    }

    static func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
    static func round4(_ v: Double) -> Double { (v * 10_000).rounded() / 10_000 }
}

/// The classification figures of a replay, as the driver counts them.
struct ClassificationTally {
    var proposed = 0
    var automatic = 0
    var bySimulatedDispatcher = 0
    var defaulted = 0
    var emergencies = 0
    var noCategory = 0
    var noPlace = 0
    var confidences: [Double] = []
    var categoryConfidences: [Double] = []

    /// Adds another tally's counts and confidences.
    mutating func absorb(_ other: ClassificationTally) {
        proposed += other.proposed
        automatic += other.automatic
        bySimulatedDispatcher += other.bySimulatedDispatcher
        defaulted += other.defaulted
        emergencies += other.emergencies
        noCategory += other.noCategory
        noPlace += other.noPlace
        confidences += other.confidences
        categoryConfidences += other.categoryConfidences
    }

    mutating func record(_ p: ClassificationProposal, automatic isAutomatic: Bool, defaulted isDefaulted: Bool) {
        proposed += 1
        if isAutomatic { automatic += 1 } else { bySimulatedDispatcher += 1 }
        if isDefaulted { defaulted += 1 }
        if p.isEmergency { emergencies += 1 }
        if p.category == nil { noCategory += 1 }
        if p.jurisdiction == nil { noPlace += 1 }
        confidences.append(p.confidence)
        categoryConfidences.append(p.categoryConfidence)
    }

    static func median(_ values: [Double]) -> Double? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        let m = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        return (m * 100).rounded() / 100
    }

    static func buckets(_ values: [Double], threshold: Double) -> [String: Int] {
        var buckets: [String: Int] = [:]
        for c in values {
            let key = c == 0 ? "0" : (c < 0.3 ? "(0, 0.3)" : (c < threshold ? "[0.3, \(threshold))" : (c < 1 ? "[\(threshold), 1)" : "1")))
            buckets[key, default: 0] += 1
        }
        return buckets
    }

    func summary(threshold: Double, catalogue: String) -> ClassificationSummary {
        ClassificationSummary(catalogue: catalogue, threshold: threshold, proposed: proposed, automatic: automatic,
                              bySimulatedDispatcher: bySimulatedDispatcher, defaulted: defaulted,
                              emergencies: emergencies, noCategoryFound: noCategory, noPlaceFound: noPlace,
                              medianConfidence: Self.median(confidences),
                              confidenceBuckets: Self.buckets(confidences, threshold: threshold),
                              medianCategoryConfidence: Self.median(categoryConfidences),
                              categoryConfidenceBuckets: Self.buckets(categoryConfidences, threshold: threshold))
    }
}

/// What a replay must undo when it ends, normally or by a signal: stop its node processes, remove its secret files
/// and temporary directory. Steps run once, last added first; `run()` may be called from any thread (the
/// command line's signal handler calls it, then exits).
public final class ReplayCleanup: Sendable {
    private let steps = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    /// Adds a step (run before the ones added earlier).
    public func add(_ step: @escaping @Sendable () -> Void) { steps.withLock { $0.append(step) } }

    /// Runs every step not yet run, last added first.
    public func run() {
        let due = steps.withLock { s -> [@Sendable () -> Void] in
            defer { s = [] }
            return s
        }
        for step in due.reversed() { step() }
    }
}

/// The replay's node processes: the current one per node, and every one started (stopped at the end).
final class ReplayNodes: Sendable {
    private let state = Mutex<(current: [NodeProcess], all: [NodeProcess])>(([], []))

    var current: [NodeProcess] { state.withLock { $0.current } }
    var all: [NodeProcess] { state.withLock { $0.all } }

    func append(_ p: NodeProcess) { state.withLock { $0.current.append(p); $0.all.append(p) } }

    func replace(_ k: Int, with p: NodeProcess) { state.withLock { $0.current[k] = p; $0.all.append(p) } }
}
