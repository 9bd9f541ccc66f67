import Foundation

extension ReplayReport {
    /// The report of a replay: the trace's own figures (computed from the records, never from the cluster) set
    /// against what the reconciler found, the verdict, and what was simulated.
    ///
    /// - Parameters:
    ///   - read: what `TraceReader` read (rows, rejections).
    ///   - records: the records replayed (`read.records`).
    ///   - ledger: what the executor did.
    ///   - found: what the cluster holds (`ReplayReconciler`).
    ///   - nodes: "name=node" per node process at the end; `steps`: the plan's steps; `seconds`: wall time.
    static func assemble(read: TraceReader.Result, source: String, records: [TraceRecord], catalogue: RoutingCatalogue,
                         options: ReplayDriver.Options, ledger: ReplayLedger, found: ReplayReconciliation,
                         nodes: [String], steps: [ReplayPlan.Step], seconds: Double) -> ReplayReport {
        // The trace's own figures: each id's first record that was accepted, days from open to close.
        let firstIndex = Dictionary(records.enumerated().map { ($0.element.externalID, $0.offset) }, uniquingKeysWith: min)
        let firsts = records.enumerated().filter { firstIndex[$0.element.externalID] == $0.offset && !ledger.failed.contains($0.offset) }.map(\.element)
        let days = firsts.compactMap { r -> Double? in
            guard let c = r.closed else { return nil }
            return max(0, c.timeIntervalSince(r.opened)) / 86_400  // closed-before-opened: zero, as replayed
        }
        let sorted = days.sorted()
        let traceMedian = sorted.isEmpty ? nil : ReplayDriver.round2(sorted.count % 2 == 1 ? sorted[sorted.count / 2]
                                                                     : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)
        let traceMean = sorted.isEmpty ? nil : ReplayDriver.round2(sorted.reduce(0, +) / Double(sorted.count))
        let kpi = found.kpi
        let accepted = found.accepted
        let comparison = TraceComparison(
            traceClosed: days.count, clusterReplied: kpi.overall.replied,
            traceClosedShare: ReplayDriver.round4(Double(days.count) / Double(max(1, accepted))),
            clusterReplyShare: ReplayDriver.round4(Double(kpi.overall.replied) / Double(max(1, kpi.overall.dispatched))),
            traceMedianDays: traceMedian, clusterMedianDays: kpi.overall.dispatchToReplyDays.median,
            traceMeanDays: traceMean, clusterMeanDays: kpi.overall.dispatchToReplyDays.average,
            matches: accepted > 0 && (days.count > 0 || kpi.overall.replied > 0)
                && days.count == kpi.overall.replied && traceMedian == kpi.overall.dispatchToReplyDays.median
                && traceMean == kpi.overall.dispatchToReplyDays.average)

        var asCatalogue = 0, overridden = 0
        for (i, receipt) in ledger.receipts {
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
        let rejections = (rejectedAtRead.map { ("rejected at read: \($0.key)", $0.value) }
                          + ledger.rejectedAtIntake.map { ("rejected at intake: \($0.key)", $0.value) })
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        let verdict = ReplayVerdict.judge(recordsRead: read.rowsRead, accepted: accepted, duplicates: ledger.duplicates,
                                          lost: found.lost, duplicated: found.duplicated,
                                          topRejections: rejections.map { (reason: $0.0, count: $0.1) })
        // `match: yes` only over a replay whose verdict is ok: figures over a mostly rejected trace prove nothing.
        var judged = comparison
        judged.matches = comparison.matches && verdict.outcome == .ok
        var simulated = [
            "dispatch: at the intake instant (the trace has no dispatch time), so dispatch latency is 0",
            "sign time: opened + min(30 min, half the time to close) — so the on-time sign rate reflects this assumption",
            "callbacks: seed \(options.seed); \(Int(options.model.unreachable * 100))% of attempts unreachable (retried every \(Int(options.model.retryDelayHours)) h, closed as unreachable after \(options.model.attempts)); of reached: \(Int(options.model.unsatisfied * 100))% unsatisfied (reopened), \(Int(options.model.basicallySatisfied * 100))% basically satisfied, the rest satisfied",
            "reply review: a simulated dispatcher accepts every reply",
            "unsatisfied citizens report the matter unresolved; their reopened cases are not handled again (the trace has no data for it)",
        ]
        if ledger.classification.bySimulatedDispatcher > 0 {
            simulated.append("simulated dispatcher: \(ledger.classification.bySimulatedDispatcher) case(s) below the classification threshold were confirmed at the intake instant as proposed, or with the catalogue's default category / holding jurisdiction when the classifier found none (\(ledger.classification.defaulted)); no real dispatcher judged them")
        }
        return ReplayReport(
            verdict: verdict,
            trace: TraceSummary(source: source, recordsRead: read.rowsRead, rejectedAtRead: rejectedAtRead,
                                rejectedExamples: read.rejected.prefix(20).map { "\($0)" },
                                flagged: flagged, rules: ReplayDriver.rules),
            reconciliation: Reconciliation(submitted: ledger.submitted, accepted: accepted, duplicateSubmissions: ledger.duplicates,
                                           rejectedAtIntake: ledger.rejectedAtIntake, routedAsCatalogue: asCatalogue,
                                           routedToTraceAgency: overridden, stepFailures: ledger.stepFailures,
                                           casesByStatus: found.byStatus, casesFound: found.found.count, lost: found.lost,
                                           lostCases: Array(found.lostNumbers.prefix(Reconciliation.maxLostListed)),
                                           duplicated: found.duplicated,
                                           killed: ledger.kills.isEmpty ? nil : "seed \(options.killSeed): " + ledger.kills.joined(separator: "; ")),
            comparison: judged, kpi: kpi,
            simulated: simulated,
            classification: ledger.classification.proposed == 0 ? nil
                : ledger.classification.summary(threshold: catalogue.classification.autoThreshold, catalogue: catalogue.version),
            cluster: ClusterSummary(nodes: nodes, steps: steps.count, clockMoves: Set(steps.map(\.at)).count, seconds: seconds))
    }
}
