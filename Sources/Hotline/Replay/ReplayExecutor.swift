import ActorCluster
import Foundation

/// What a replay's executor did, record by record: the receipt of every accepted submission, the records that
/// failed and why, and the counts the report needs. Record indices are positions in the trace's records.
struct ReplayLedger: Sendable {
    /// Record index → the intake receipt (after the simulated dispatcher's classification, when there was one).
    var receipts: [Int: IntakeReceipt] = [:]
    /// Records whose submission or a later step did not happen (counted under `rejectedAtIntake` or
    /// `stepFailures`); their later steps are not played.
    var failed = Set<Int>()
    var rejectedAtIntake: [String: Int] = [:]
    var stepFailures: [String: Int] = [:]
    /// Submissions intake answered as repeats of an earlier one (same channel + external id).
    var duplicates = 0
    var submitted = 0
    var classification = ClassificationTally()
    /// "replay-2 at step 1200 (restarted as …)" per SIGKILL.
    var kills: [String] = []
    /// The virtual time of the last step played.
    var clock: Date

    init(start: Date) { clock = start }

    /// Adds what a submission played on its own ledger recorded (receipts, failures, counts, classification).
    mutating func absorbSubmission(_ part: ReplayLedger) {
        receipts.merge(part.receipts) { _, new in new }
        failed.formUnion(part.failed)
        rejectedAtIntake.merge(part.rejectedAtIntake, uniquingKeysWith: +)
        stepFailures.merge(part.stepFailures, uniquingKeysWith: +)
        duplicates += part.duplicates
        submitted += part.submitted
        classification.absorb(part.classification)
    }
}

/// Plays the outside world of a replay against a running cluster, one virtual day at a time: citizens
/// submitting (a repeated id is a citizen's retry), departments signing and replying, the simulated dispatcher
/// where the trace has nobody (classification below the threshold, reply review), callers answering
/// callbacks, the clock (each call carries its step's instant; the day's supervision tick), and the operator's
/// SIGKILLs (`--kill`). What follows each step — a callback falling due, a reopened case, an escalation — is
/// decided by the domain and carried out by the actors, never here.
///
/// A day runs in two parts: every record's steps of that day — each record's in order, its first submission
/// first, different records concurrently (at most `options.concurrency`), then the day's retries (`playDay`) —
/// and the tick that closes the day, which so sees exactly the steps before it. When the catalogue matches repeat
/// callers the day's submissions go first, one at a time in time order (which caller leads a merge depends on
/// it), then the cases' other steps concurrently.
struct ReplayExecutor: Sendable {
    let options: ReplayDriver.Options
    let records: [TraceRecord]
    let catalogue: RoutingCatalogue
    /// The jurisdiction a record is submitted with ("" to let intake classify it).
    let jurisdiction: @Sendable (TraceRecord) -> String
    let plan: ReplayPlan
    let processes: ReplayNodes
    /// Starts node k (0-based) on a port (0: any) with seeds, for its `life`-th time.
    let launch: @Sendable (Int, UInt16, [NodeAddress], Int) throws -> NodeProcess
    let system: ClusterSystem
    /// The driver's view of placement (it is not a member).
    let context: HotlineContext
    /// Given again to a restarted node, with the virtual time it restarts at.
    let configuration: HotlineConfiguration
    let start: Date

    /// Plays every step of the plan.
    ///
    /// - Throws: `ReplayError.nodeLost` when a node stops answering (the replay stops); what restarting a killed
    ///   node throws. A refused step is counted in the ledger, never thrown.
    func run() async throws -> ReplayLedger {
        var ledger = ReplayLedger(start: start)
        var killPlan = plannedKills()
        var lives = [Int](repeating: 0, count: processes.current.count)
        var firstOccurrence: [String: Int] = [:]
        for (i, r) in records.enumerated() where firstOccurrence[r.externalID] == nil { firstOccurrence[r.externalID] = i }
        var lastReport = ContinuousClock.now
        let steps = plan.steps
        var index = 0
        while index < steps.count {
            while let next = killPlan.first, index >= next.step {
                killPlan.removeFirst()
                lives[next.node] += 1
                ledger.kills.append(try await killAndRestart(node: next.node, life: lives[next.node], atStep: index,
                                                             of: steps.count, clock: ledger.clock))
            }
            var end = index
            while end < steps.count, steps[end].action != .supervisionTick { end += 1 }
            let day = steps[index..<end]
            if catalogue.intakeMatching.isEmpty && options.concurrency > 1 {
                // 1–2. Each record's steps of the day in order (its first submission included), records concurrently;
                // then the day's retries.
                try await playDay(day, firstOccurrence: firstOccurrence, stepIndex: index, of: steps.count, into: &ledger)
            } else {
                // 1. Submissions in time order: which caller leads a merge depends on it.
                for step in day {
                    guard case .submit(let i) = step.action else { continue }
                    try await submit(record: i, at: step, stepIndex: index, of: steps.count,
                                     channel: records[firstOccurrence[records[i].externalID] ?? i].channel, into: &ledger)
                }
                // 2. Each case's other steps of the day, cases concurrently.
                try await playCases(of: day, stepIndex: index, of: steps.count, into: &ledger)
            }
            if let last = day.last { ledger.clock = max(ledger.clock, last.at) }
            // 3. The tick that closes the day.
            if end < steps.count {
                let tick = steps[end]
                ledger.clock = max(ledger.clock, tick.at)
                switch await perform(tick, nil) {
                case .nodeLost(let node, let reason)?:
                    throw ReplayError.nodeLost(node: node, step: end, of: steps.count, at: tick.at, reason: reason)
                case .refused(let reason)?:
                    ledger.stepFailures[reason, default: 0] += 1
                case nil:
                    break
                }
                end += 1
            }
            index = end
            if ContinuousClock.now - lastReport > .seconds(2) {
                lastReport = ContinuousClock.now
                options.progress("replay: step \(index)/\(steps.count) at \(ISO8601DateFormatter().string(from: ledger.clock))")
            }
        }
        return ledger
    }

    /// The kills: victims among the district nodes (2…N), moments between 10% and 90% of the steps, drawn from
    /// `options.killSeed`; sorted by step. None with fewer than 3 nodes.
    func plannedKills() -> [(step: Int, node: Int)] {
        let count = processes.current.count
        guard options.kills > 0 && count >= 3 else { return [] }
        var plan: [(step: Int, node: Int)] = []
        var rng = SplitMix64(seed: options.killSeed)
        let span = max(1, self.plan.steps.count * 8 / 10)
        for _ in 0..<options.kills {
            plan.append((self.plan.steps.count / 10 + Int(rng.next() % UInt64(span)), 1 + Int(rng.next() % UInt64(count - 1))))
        }
        plan.sort { $0.step < $1.step }
        options.progress("replay: kill plan (seed \(options.killSeed)): " + plan.map { "replay-\($0.node + 1) at step \($0.step)" }.joined(separator: ", "))
        return plan
    }

    /// SIGKILLs node k and restarts it at once on its address and data directory (a new uid, the same
    /// replicas), configured at the virtual time `clock`. Returns the line for the report.
    private func killAndRestart(node k: Int, life: Int, atStep index: Int, of total: Int, clock: Date) async throws -> String {
        let victim = processes.current[k]
        victim.kill()
        let others = processes.current.enumerated().filter { $0.offset != k }.map(\.element.node.address)
        let restarted = try launch(k, victim.node.address.port, others, life)
        processes.replace(k, with: restarted)
        let node = try HotlineNode.on(restarted.node, system: system)
        var again = configuration
        again.virtualStart = clock
        try await ClusterFormation.waitForMembers([node], names: [restarted.name], timeout: .seconds(30))
        _ = try await node.configure(again)
        options.progress("replay: killed \(victim.name) (\(victim.node)) at step \(index)/\(total); restarted on its data directory as \(restarted.node)")
        return "\(victim.name) at step \(index) (restarted as \(restarted.node))"
    }

    /// A day's steps when intake does not match repeat callers: each record's steps of the day in order — its
    /// first submission, then what its case does that day — and different records concurrently (at most
    /// `options.concurrency`; the desk numbers cases as submissions arrive); then the day's retries (a repeated
    /// id), in time order, so a retry always follows the submission it repeats. A record whose submission or a
    /// step is refused plays no further step.
    ///
    /// - Throws: `ReplayError.nodeLost` when a node stops answering.
    private func playDay(_ day: ArraySlice<ReplayPlan.Step>, firstOccurrence: [String: Int], stepIndex index: Int,
                         of total: Int, into ledger: inout ReplayLedger) async throws {
        var chains: [Int: [ReplayPlan.Step]] = [:]
        var order: [Int] = []
        var retries: [(Int, ReplayPlan.Step)] = []
        for step in day {
            guard let r = step.action.record else { continue }
            if case .submit = step.action, firstOccurrence[records[r].externalID] != r {
                retries.append((r, step))
                continue
            }
            if !step.action.isSubmit && ledger.failed.contains(r) { continue }
            if chains[r] == nil { order.append(r) }
            chains[r, default: []].append(step)
        }
        func channel(_ i: Int) -> String { records[firstOccurrence[records[i].externalID] ?? i].channel }
        let receipts = ledger.receipts
        let start = self.start
        let outcomes = try await withThrowingTaskGroup(of: (Int, ReplayLedger, StepFailure?).self) { group in
            var outcomes: [(Int, ReplayLedger, StepFailure?)] = []
            var next = 0
            func launch() {
                let r = order[next]
                let position = next
                let chain = chains[r] ?? []
                next += 1
                group.addTask {
                    var part = ReplayLedger(start: start)
                    var ref = receipts[r]?.ref
                    for step in chain {
                        if step.action.isSubmit {
                            try await submit(record: r, at: step, stepIndex: index, of: total, channel: channel(r), into: &part)
                            if part.failed.contains(r) { break }
                            ref = part.receipts[r]?.ref
                        } else if let failure = await perform(step, ref) {
                            return (position, part, failure)
                        }
                    }
                    return (position, part, nil)
                }
            }
            while next < order.count && next < options.concurrency { launch() }
            while let outcome = try await group.next() {
                outcomes.append(outcome)
                if next < order.count { launch() }
            }
            return outcomes
        }
        for (_, part, failure) in outcomes.sorted(by: { $0.0 < $1.0 }) {
            ledger.absorbSubmission(part)
            if case .nodeLost(let node, let reason)? = failure {
                throw ReplayError.nodeLost(node: node, step: index, of: total, at: day.first?.at ?? ledger.clock, reason: reason)
            }
        }
        for (position, _, failure) in outcomes {
            guard case .refused(let reason)? = failure else { continue }
            ledger.stepFailures[reason, default: 0] += 1
            ledger.failed.insert(order[position])
        }
        for (i, step) in retries {
            try await submit(record: i, at: step, stepIndex: index, of: total, channel: channel(i), into: &ledger)
        }
    }

    /// The citizen's submission of record `i` through intake (a repeated id is sent through the first record's
    /// `channel`: a retry, which intake's idempotency answers with the first case). Below the classification
    /// threshold the simulated dispatcher confirms the best proposal (or the catalogue's default category / the
    /// holding jurisdiction) at the intake instant.
    private func submit(record i: Int, at step: ReplayPlan.Step, stepIndex index: Int, of total: Int, channel: String,
                        into ledger: inout ReplayLedger) async throws {
        let r = records[i]
        ledger.submitted += 1
        // An uncategorised record's request type (a web message's subject) is its subject line, read by intake's
        // classifier with the description.
        let uncategorised = r.category.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        let request = CitizenRequest(channel: channel, externalID: r.externalID, kind: .help,
                                     category: r.category, jurisdiction: jurisdiction(r),
                                     description: ReplayDriver.description(of: r), address: r.address,
                                     assignedUnit: r.agency.isEmpty ? nil : r.agency,
                                     subject: uncategorised && !r.requestType.isEmpty ? r.requestType : nil)
        // Intake's own rules first (the same check the desk makes): a request intake would refuse is rejected here
        // with intake's reason, not sent (a 50 MB description would not even fit a frame).
        do {
            _ = try request.normalized()
        } catch {
            ledger.rejectedAtIntake[ReplayDriver.reasonKey(HotlineError.invalidRequest("\(error)").description), default: 0] += 1
            ledger.failed.insert(i)
            return
        }
        do {
            let receipt = try await VirtualTime.at(step.at) {
                try await context.onIntakeDesk { desk in
                    do {
                        return try await desk.submit(request)
                    } catch HotlineError.unavailable(let why) {
                        throw HotlineError.unavailable(why)  // not an answer: failover tries again
                    } catch let refusal as HotlineError {
                        throw ReplayDriver.IntakeRefusal(refusal: refusal)  // the desk's answer, not the driver's own routing
                    }
                }
            }
            if receipt.duplicate {
                ledger.duplicates += 1
            } else if let proposal = receipt.proposal, let queue = receipt.classificationQueue {
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
                    ledger.receipts[i] = classified
                    ledger.classification.record(proposal, automatic: false, defaulted: proposal.category == nil || proposal.jurisdiction == nil)
                } catch {
                    ledger.receipts[i] = receipt  // the case exists; it stays in the queue
                    ledger.stepFailures["simulated dispatcher: " + ReplayDriver.reasonKey("\(error)"), default: 0] += 1
                    ledger.failed.insert(i)
                }
            } else {
                ledger.receipts[i] = receipt
                if let proposal = receipt.proposal { ledger.classification.record(proposal, automatic: true, defaulted: false) }
            }
        } catch let answer as ReplayDriver.IntakeRefusal {
            ledger.rejectedAtIntake[ReplayDriver.reasonKey(answer.refusal.description), default: 0] += 1
            ledger.failed.insert(i)
        } catch RemoteCallError.remoteError(_, let message) {
            ledger.rejectedAtIntake[ReplayDriver.reasonKey(message), default: 0] += 1
            ledger.failed.insert(i)
        } catch RemoteCallError.nodeUnreachable(let node, let reason) {
            throw ReplayError.nodeLost(node: ReplayDriver.name(of: node, in: processes.current), step: index, of: total,
                                       at: step.at, reason: reason)
        } catch {
            ledger.stepFailures["\(error)", default: 0] += 1
            ledger.failed.insert(i)
        }
    }

    /// Every case's non-submit steps of `day`: each case's steps in order, cases concurrently; a case whose step
    /// is refused plays no further step.
    private func playCases(of day: ArraySlice<ReplayPlan.Step>, stepIndex index: Int, of total: Int,
                           into ledger: inout ReplayLedger) async throws {
        var chains: [Int: [ReplayPlan.Step]] = [:]
        var order: [Int] = []
        for step in day {
            guard let r = step.action.record, step.action.isSubmit == false, !ledger.failed.contains(r) else { continue }
            if chains[r] == nil { order.append(r) }
            chains[r, default: []].append(step)
        }
        let snapshot = ledger.receipts
        let concurrency = max(1, options.concurrency)
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
            throw ReplayError.nodeLost(node: node, step: index, of: total, at: day.first?.at ?? ledger.clock, reason: reason)
        }
        for case (let r, .refused(let reason)?) in outcomes {
            ledger.stepFailures[reason, default: 0] += 1
            ledger.failed.insert(r)
        }
    }

    /// Why a replayed step did not happen: refused by the cluster (counted, the replay goes on), or a node was
    /// lost (the replay stops).
    enum StepFailure: Sendable {
        case refused(String)
        case nodeLost(node: String, reason: String)
    }

    /// Plays one non-submit step at its virtual instant: the department signs; the department replies and the
    /// simulated dispatcher accepts the reply; the caller answers the callback; the day's supervision tick.
    /// Returns a failure reason or nil.
    private func perform(_ step: ReplayPlan.Step, _ ref: CaseRef?) async -> StepFailure? {
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
            return .refused(ReplayDriver.reasonKey(refusal.description))
        } catch RemoteCallError.remoteError(_, let message) {
            return .refused(ReplayDriver.reasonKey(message))  // an error type the driver does not know (another version)
        } catch RemoteCallError.nodeUnreachable(let node, let reason) {
            return .nodeLost(node: ReplayDriver.name(of: node, in: processes.current), reason: reason)
        } catch {
            return .refused("\(error)")
        }
    }
}
