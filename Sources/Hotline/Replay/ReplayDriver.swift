import ActorCluster
import Foundation
import Synchronization

/// Runs a replay: starts a local cluster of `hotline node` processes, configures placement and virtual
/// time, drives the `ReplayPlan` through the workflow actors, and reconciles what the cluster holds.
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
        /// Run calls on each node's I/O thread (and the driver on its own): fewer thread hops per call.
        public var inboundOnIOThread = false
        /// How many times to SIGKILL a district node mid-run (`hotline replay --kill N`): each victim and moment is
        /// drawn from `killSeed` (victims among the district nodes, moments between 10% and 90% of the steps);
        /// each killed node is restarted at once on its address and data directory. 0: none.
        public var kills = 0
        /// Seed of the victims and moments (printed in the report; the same seed replays the same kills).
        public var killSeed: UInt64 = 1

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
        defer { try? FileManager.default.removeItem(atPath: secret.path) }
        // The driver configures the nodes and moves their clocks: it proves an operator secret they know.
        let operatorSecret = try ClusterAuth.makeEphemeralSecretFile()
        defer { try? FileManager.default.removeItem(atPath: operatorSecret.path) }
        let logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: logDirectory) }
        let processes = ReplayNodes()
        defer { for p in processes.all { p.stop() } }
        let executable = options.executable
        let inbound = options.inboundOnIOThread ? "io" : "pool"
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
        // With `inboundOnIOThread` the driver itself runs on its node's I/O thread (no hop per reply).
        let preference: (any TaskExecutor)? = options.inboundOnIOThread ? system.ioExecutor : nil
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

    private func drive(read: TraceReader.Result, source: String, started: ContinuousClock.Instant, records: [TraceRecord],
                       catalogue: RoutingCatalogue, jurisdiction: @Sendable (TraceRecord) -> String, plan: ReplayPlan,
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
        // The kills: victims among the district nodes (2…N), moments between 10% and 90% of the steps.
        var killPlan: [(step: Int, node: Int)] = []
        if options.kills > 0 && count >= 3 {
            var rng = SplitMix64(seed: options.killSeed)
            let span = max(1, plan.steps.count * 8 / 10)
            for _ in 0..<options.kills {
                killPlan.append((plan.steps.count / 10 + Int(rng.next() % UInt64(span)), 1 + Int(rng.next() % UInt64(count - 1))))
            }
            killPlan.sort { $0.step < $1.step }
            options.progress("replay: kill plan (seed \(options.killSeed)): " + killPlan.map { "replay-\($0.node + 1) at step \($0.step)" }.joined(separator: ", "))
        }
        var kills: [String] = []
        var lives = [Int](repeating: 0, count: count)

        // Drive, one virtual day (the span between two supervision ticks) at a time: first that day's
        // submissions in time order (case numbers stay deterministic), then every case's other steps of the
        // day — each case's steps in order, different cases concurrently (each call carries its own virtual
        // time) — then the tick, which so sees exactly the steps before it.
        var receipts: [Int: IntakeReceipt] = [:]
        var failed = Set<Int>()
        var rejectedAtIntake: [String: Int] = [:]
        var stepFailures: [String: Int] = [:]
        var duplicates = 0
        var submitted = 0
        var classification = ClassificationTally()
        var clock = start
        var lastReport = ContinuousClock.now
        let concurrency = max(1, options.concurrency)

        /// Runs one non-submit step; returns a failure reason or nil.
        @Sendable func perform(_ step: ReplayPlan.Step, _ ref: CaseRef?) async -> StepFailure? {
            do {
                try await VirtualTime.at(step.at) {
                    switch step.action {
                    case .submit:
                        return
                    case .sign:
                        guard let ref else { return }
                        _ = try await context.onDistrictOffice(ref.jurisdiction) { try await $0.unitAct(ref.id, unit: nil, .sign) }
                    case .reply(let i):
                        guard let ref else { return }
                        let text = "Closed by \(records[i].agency)"
                        _ = try await context.onDistrictOffice(ref.jurisdiction) { try await $0.unitAct(ref.id, unit: nil, .reply(text: text)) }
                        let group = catalogue.dispatchGroup(owning: ref.jurisdiction)?.code ?? ""
                        _ = try await context.onRoutingGroup(group) { try await $0.reviewReply(ref, accepted: true, note: "replay: reply accepted") }
                    case .callback(_, _, let outcome):
                        guard let ref else { return }
                        _ = try await context.onCallbackDesk { try await $0.callBack(ref, outcome: outcome) }
                    case .supervisionTick:
                        guard let node = context.directory.supervision else { throw HotlineError.routing("no node hosts supervision now") }
                        _ = try await Supervisor.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.supervision, on: node), using: system).tick()
                    }
                }
                return nil
            } catch let refusal as HotlineError {
                return .refused(Self.reasonKey(refusal.description))
            } catch RemoteCallError.remoteError(_, let message) {
                return .refused(Self.reasonKey(message))  // an error type the driver does not know (another version)
            } catch RemoteCallError.nodeUnreachable(let node, let reason) {
                return .nodeLost(node: Self.name(of: node, in: processes.current), reason: reason)
            } catch {
                return .refused("\(error)")
            }
        }

        var firstOccurrence: [String: Int] = [:]
        for (i, r) in records.enumerated() where firstOccurrence[r.externalID] == nil { firstOccurrence[r.externalID] = i }
        var index = 0
        let steps = plan.steps
        while index < steps.count {
            while let next = killPlan.first, index >= next.step {
                killPlan.removeFirst()
                let k = next.node
                let victim = processes.current[k]
                victim.kill()
                // Restarted at once on its address and data directory: a new uid, the same replicas.
                let others = processes.current.enumerated().filter { $0.offset != k }.map(\.element.node.address)
                lives[k] += 1
                let restarted = try launch(k, victim.node.address.port, others, lives[k])
                processes.replace(k, with: restarted)
                let node = try HotlineNode.on(restarted.node, system: system)
                var again = configuration
                again.virtualStart = clock
                try await ClusterFormation.waitForMembers([node], names: [restarted.name], timeout: .seconds(30))
                _ = try await node.configure(again)
                kills.append("\(victim.name) at step \(index) (restarted as \(restarted.node))")
                options.progress("replay: killed \(victim.name) (\(victim.node)) at step \(index)/\(steps.count); restarted on its data directory as \(restarted.node)")
            }
            var end = index
            while end < steps.count, steps[end].action != .supervisionTick { end += 1 }
            let day = steps[index..<end]
            // 1. Submissions, in order.
            for step in day {
                guard case .submit(let i) = step.action else { continue }
                let r = records[i]
                submitted += 1
                // A repeated id is a retry of the first submission: same channel, so intake's idempotency
                // (channel + external id) returns the first case.
                let channel = records[firstOccurrence[r.externalID] ?? i].channel
                // An uncategorised record's request type (a web message's subject) is its subject line, read
                // by intake's classifier with the description.
                let uncategorised = r.category.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                let request = CitizenRequest(channel: channel, externalID: r.externalID, kind: .help,
                                             category: r.category, jurisdiction: jurisdiction(r),
                                             description: Self.description(of: r), address: r.address,
                                             assignedUnit: r.agency.isEmpty ? nil : r.agency,
                                             subject: uncategorised && !r.requestType.isEmpty ? r.requestType : nil)
                // Intake's own rules first (the same check the desk makes): a request intake would refuse is
                // rejected here with intake's reason, not sent (a 50 MB description would not even fit a frame).
                do {
                    _ = try request.normalized()
                } catch {
                    rejectedAtIntake[Self.reasonKey(HotlineError.invalidRequest("\(error)").description), default: 0] += 1
                    failed.insert(i)
                    continue
                }
                do {
                    let receipt = try await VirtualTime.at(step.at) {
                        try await context.onIntakeDesk { desk in
                            do {
                                return try await desk.submit(request)
                            } catch HotlineError.unavailable(let why) {
                                throw HotlineError.unavailable(why)  // not an answer: failover tries again
                            } catch let refusal as HotlineError {
                                throw IntakeRefusal(refusal: refusal)  // the desk's answer, not the driver's own routing
                            }
                        }
                    }
                    if receipt.duplicate {
                        duplicates += 1
                    } else if let proposal = receipt.proposal, let queue = receipt.classificationQueue {
                        // Below the threshold: the simulated dispatcher confirms the best proposal (or the
                        // catalogue's default category / the holding jurisdiction) at the intake instant.
                        // No category found and no default: the case stays in the queue (a step failure, counted).
                        let category = proposal.category ?? catalogue.classification.defaultCategory ?? ""
                        let place = proposal.jurisdiction ?? receipt.ref.jurisdiction
                        let ref = receipt.ref
                        let note = proposal.category == nil || proposal.jurisdiction == nil
                            ? "simulated dispatcher: no \(proposal.category == nil ? "category" : "place") found; the catalogue's default taken"
                            : "simulated dispatcher: best proposal confirmed"
                        do {
                            let snapshot = try await VirtualTime.at(step.at) {
                                try await context.onRoutingGroup(queue) {
                                    try await $0.classify(ref, category: category, jurisdiction: place, urgency: nil, kind: nil,
                                                          note: note, dispatcher: "simulated-dispatcher")
                                }
                            }
                            var classified = receipt
                            classified.status = snapshot.status
                            classified.leadUnit = snapshot.leadUnit
                            receipts[i] = classified
                            classification.record(proposal, automatic: false, defaulted: proposal.category == nil || proposal.jurisdiction == nil)
                        } catch {
                            receipts[i] = receipt  // the case exists; it stays in the queue
                            stepFailures["simulated dispatcher: " + Self.reasonKey("\(error)"), default: 0] += 1
                            failed.insert(i)
                        }
                    } else {
                        receipts[i] = receipt
                        if let proposal = receipt.proposal { classification.record(proposal, automatic: true, defaulted: false) }
                    }
                } catch let answer as IntakeRefusal {
                    rejectedAtIntake[Self.reasonKey(answer.refusal.description), default: 0] += 1
                    failed.insert(i)
                } catch RemoteCallError.remoteError(_, let message) {
                    rejectedAtIntake[Self.reasonKey(message), default: 0] += 1
                    failed.insert(i)
                } catch RemoteCallError.nodeUnreachable(let node, let reason) {
                    throw ReplayError.nodeLost(node: Self.name(of: node, in: processes.current), step: index, of: steps.count,
                                               at: step.at, reason: reason)
                } catch {
                    stepFailures["\(error)", default: 0] += 1
                    failed.insert(i)
                }
            }
            // 2. Each case's other steps of the day, cases concurrently.
            var chains: [Int: [ReplayPlan.Step]] = [:]
            var order: [Int] = []
            for step in day {
                guard let r = step.action.record, step.action.isSubmit == false, !failed.contains(r) else { continue }
                if chains[r] == nil { order.append(r) }
                chains[r, default: []].append(step)
            }
            let snapshot = receipts
            let outcomes = await withTaskGroup(of: (Int, StepFailure?).self) { group in
                var results: [(Int, StepFailure?)] = []
                var next = 0
                func launch() {
                    let r = order[next]
                    let chain = chains[r] ?? []
                    let ref = snapshot[r]?.ref
                    next += 1
                    group.addTask {
                        for step in chain {
                            if let failure = await perform(step, ref) { return (r, failure) }
                        }
                        return (r, nil)
                    }
                }
                while next < order.count && next < concurrency { launch() }
                while let result = await group.next() {
                    results.append(result)
                    if next < order.count { launch() }
                }
                return results
            }
            for case (_, .nodeLost(let node, let reason)?) in outcomes {
                throw ReplayError.nodeLost(node: node, step: index, of: steps.count, at: day.first?.at ?? clock, reason: reason)
            }
            for case (let r, .refused(let reason)?) in outcomes {
                stepFailures[reason, default: 0] += 1
                failed.insert(r)
            }
            if let last = day.last { clock = max(clock, last.at) }
            // 3. The tick that closes the day.
            if end < steps.count {
                let tick = steps[end]
                clock = max(clock, tick.at)
                switch await perform(tick, nil) {
                case .nodeLost(let node, let reason)?:
                    throw ReplayError.nodeLost(node: node, step: end, of: steps.count, at: tick.at, reason: reason)
                case .refused(let reason)?:
                    stepFailures[reason, default: 0] += 1
                case nil:
                    break
                }
                end += 1
            }
            index = end
            if ContinuousClock.now - lastReport > .seconds(2) {
                lastReport = ContinuousClock.now
                options.progress("replay: step \(index)/\(steps.count) at \(ISO8601DateFormatter().string(from: clock))")
            }
        }
        let clockMoves = Set(steps.map(\.at)).count
        // Leave every node's clock at the end of the replay (the control message; steps carried their own time).
        let end = clock
        let living = try processes.current.map { try HotlineNode.on($0.node, system: system) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for node in living { group.addTask { try await node.setClock(to: end) } }
            try await group.waitForAll()
        }
        options.progress("replay: \(plan.steps.count) steps done; reconciling")

        // Reconcile by querying the cluster.
        var found = Set<CaseID>()
        var byStatus: [String: Int] = [:]
        for office in try context.allDistrictOffices() {
            var after: CaseID?
            for _ in 0..<10_000 {
                let page = try await office.caseIDs(after: after, limit: DistrictOffice.maxIDsPerPage)
                guard let last = page.last else { break }
                found.formUnion(page)
                after = last
            }
            for (status, n) in try await office.statusCounts() { byStatus[status, default: 0] += n }
        }
        let acceptedIDs = Set(receipts.values.map(\.ref.id))
        let lostIDs = acceptedIDs.subtracting(found)
        let lost = lostIDs.count
        let lostNumbers = receipts.values.filter { lostIDs.contains($0.ref.id) }.map(\.ref.number.description).sorted()
        let duplicated = found.subtracting(acceptedIDs).count
        guard let analysisNode = context.directory.analysis else { throw HotlineError.routing("no node hosts analysis now") }
        let kpi = try await Analyst.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.analysis, on: analysisNode), using: system)
            .report(asOf: clock)

        // The trace's own figures.
        let firstIndex = Dictionary(records.enumerated().map { ($0.element.externalID, $0.offset) }, uniquingKeysWith: min)
        let firsts = records.enumerated().filter { firstIndex[$0.element.externalID] == $0.offset && !failed.contains($0.offset) }.map(\.element)
        let days = firsts.compactMap { r -> Double? in
            guard let c = r.closed else { return nil }
            return max(0, c.timeIntervalSince(r.opened)) / 86_400  // closed-before-opened: zero, as replayed
        }
        let sorted = days.sorted()
        let traceMedian = sorted.isEmpty ? nil : Self.round2(sorted.count % 2 == 1 ? sorted[sorted.count / 2]
                                                             : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)
        let traceMean = sorted.isEmpty ? nil : Self.round2(sorted.reduce(0, +) / Double(sorted.count))
        let accepted = acceptedIDs.count
        let comparison = TraceComparison(
            traceClosed: days.count, clusterReplied: kpi.overall.replied,
            traceClosedShare: Self.round4(Double(days.count) / Double(max(1, accepted))),
            clusterReplyShare: Self.round4(Double(kpi.overall.replied) / Double(max(1, kpi.overall.dispatched))),
            traceMedianDays: traceMedian, clusterMedianDays: kpi.overall.dispatchToReplyDays.median,
            traceMeanDays: traceMean, clusterMeanDays: kpi.overall.dispatchToReplyDays.average,
            matches: accepted > 0 && (days.count > 0 || kpi.overall.replied > 0)
                && days.count == kpi.overall.replied && traceMedian == kpi.overall.dispatchToReplyDays.median
                && traceMean == kpi.overall.dispatchToReplyDays.average)

        var asCatalogue = 0, overridden = 0
        for (i, receipt) in receipts {
            if records[i].agency.isEmpty {
                asCatalogue += 1  // no agency in the record: the catalogue's route was followed
            } else if receipt.leadUnit == records[i].agency,
               (try? catalogue.route(category: records[i].category, jurisdiction: receipt.ref.jurisdiction).lead) == records[i].agency {
                asCatalogue += 1
            } else {
                overridden += 1
            }
        }
        var flagged: [String: Int] = [:]
        for r in records { for f in r.flags { flagged[f.rawValue, default: 0] += 1 } }
        var rejectedAtRead: [String: Int] = [:]
        for r in read.rejected { rejectedAtRead[r.reason.code, default: 0] += 1 }
        let elapsed = ContinuousClock.now - started
        let rejections = (rejectedAtRead.map { ("rejected at read: \($0.key)", $0.value) }
                          + rejectedAtIntake.map { ("rejected at intake: \($0.key)", $0.value) })
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        let verdictFirst = ReplayVerdict.judge(recordsRead: read.rowsRead, accepted: accepted, duplicates: duplicates, lost: lost,
                                          duplicated: duplicated, topRejections: rejections.map { (reason: $0.0, count: $0.1) })
        let verdict = verdictFirst
        // `match: yes` only over a replay whose verdict is ok: figures over a mostly rejected trace prove nothing.
        var judged = comparison
        judged.matches = comparison.matches && verdict.outcome == .ok
        var simulated = [
            "dispatch: at the intake instant (the trace has no dispatch time), so dispatch latency is 0",
            "sign time: opened + min(30 min, half the time to close) — so the on-time sign rate reflects this assumption",
            "callbacks: seed \(options.seed); \(Int(options.model.unreachable * 100))% of attempts unreachable (retried every \(Int(options.model.retryDelayHours)) h, closed as unreachable after \(options.model.attempts)); of reached: \(Int(options.model.unsatisfied * 100))% unsatisfied (reopened), \(Int(options.model.basicallySatisfied * 100))% basically satisfied, the rest satisfied",
            "reply review: every reply accepted",
            "unsatisfied citizens report the matter unresolved; their reopened cases are not handled again (the trace has no data for it)",
        ]
        if classification.bySimulatedDispatcher > 0 {
            simulated.append("simulated dispatcher: \(classification.bySimulatedDispatcher) case(s) below the classification threshold were confirmed at the intake instant as proposed, or with the catalogue's default category / holding jurisdiction when the classifier found none (\(classification.defaulted)); no real dispatcher judged them")
        }
        return ReplayReport(
            verdict: verdict,
            trace: TraceSummary(source: source, recordsRead: read.rowsRead, rejectedAtRead: rejectedAtRead,
                                rejectedExamples: read.rejected.prefix(20).map { "\($0)" },
                                flagged: flagged, rules: Self.rules),
            reconciliation: Reconciliation(submitted: submitted, accepted: accepted, duplicateSubmissions: duplicates,
                                           rejectedAtIntake: rejectedAtIntake, routedAsCatalogue: asCatalogue,
                                           routedToTraceAgency: overridden, stepFailures: stepFailures,
                                           casesByStatus: byStatus, casesFound: found.count, lost: lost,
                                           lostCases: Array(lostNumbers.prefix(Reconciliation.maxLostListed)),
                                           duplicated: duplicated,
                                           killed: kills.isEmpty ? nil : "seed \(options.killSeed): " + kills.joined(separator: "; ")),
            comparison: judged, kpi: kpi,
            simulated: simulated,
            classification: classification.proposed == 0 ? nil
                : classification.summary(threshold: catalogue.classification.autoThreshold, catalogue: catalogue.version),
            cluster: ClusterSummary(nodes: processes.current.map { "\($0.name)=\($0.node)" }, steps: plan.steps.count,
                                    clockMoves: clockMoves,
                                    seconds: Self.round2(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)))
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

    /// Why a replayed step did not happen: refused by the cluster (counted, the replay goes on), or a node
    /// was lost (the replay stops).
    enum StepFailure: Sendable {
        case refused(String)
        case nodeLost(node: String, reason: String)
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

/// The replay's node processes: the current one per node, and every one started (stopped at the end).
final class ReplayNodes: Sendable {
    private let state = Mutex<(current: [NodeProcess], all: [NodeProcess])>(([], []))

    var current: [NodeProcess] { state.withLock { $0.current } }
    var all: [NodeProcess] { state.withLock { $0.all } }

    func append(_ p: NodeProcess) { state.withLock { $0.current.append(p); $0.all.append(p) } }

    func replace(_ k: Int, with p: NodeProcess) { state.withLock { $0.current[k] = p; $0.all.append(p) } }
}
