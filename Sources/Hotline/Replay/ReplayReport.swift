import Foundation

/// Everything `hotline replay` reports: what was read, what the cluster holds at the end, the KPIs, and the
/// comparison with figures computed straight from the trace.
public struct ReplayReport: Codable, Sendable {
    /// The outcome in one word and its reason (printed first; decides the exit status).
    public var verdict: ReplayVerdict
    public var trace: TraceSummary
    public var reconciliation: Reconciliation
    public var comparison: TraceComparison
    public var kpi: KPIReport
    /// What was simulated (not in the trace), stated so no reader mistakes it for data.
    public var simulated: [String]
    /// Classification at intake, for records that came without category or jurisdiction (nil when none did).
    public var classification: ClassificationSummary?
    public var cluster: ClusterSummary
}

/// How the replay's uncategorised records were classified.
public struct ClassificationSummary: Codable, Sendable {
    /// The catalogue version whose vocabulary classified them.
    public var catalogue: String
    /// Confidence at or above which intake accepts a proposal.
    public var threshold: Double
    /// Cases opened from a proposal.
    public var proposed: Int
    /// Accepted at intake (confidence at or above the threshold).
    public var automatic: Int
    /// Below the threshold: confirmed by the replay's simulated dispatcher (labelled so; no person judged them).
    public var bySimulatedDispatcher: Int
    /// Of those, how many took the catalogue's default category or the holding jurisdiction (nothing found).
    public var defaulted: Int
    /// Proposals with an emergency phrase (P1, duty room alerted).
    public var emergencies: Int
    /// Proposals where no category phrase / no place name matched.
    public var noCategoryFound: Int
    public var noPlaceFound: Int
    /// The proposal's confidence (the smaller of category and jurisdiction confidence).
    public var medianConfidence: Double?
    /// Proposals per confidence range (`0`, `(0, 0.3)`, `[0.3, threshold)`, `[threshold, 1)`, `1`).
    public var confidenceBuckets: [String: Int]
    /// The category confidence alone.
    public var medianCategoryConfidence: Double?
    public var categoryConfidenceBuckets: [String: Int]
}

public struct TraceSummary: Codable, Sendable {
    public var source: String
    public var recordsRead: Int
    /// Rejected while reading, by reason code.
    public var rejectedAtRead: [String: Int]
    /// The first rejections with their row (`row 12: open time "x" does not parse`), at most 20.
    public var rejectedExamples: [String]
    /// Records replayed anyway under a stated rule, by flag.
    public var flagged: [String: Int]
    public var rules: [String: String]
}

public struct Reconciliation: Codable, Sendable {
    /// Records handed to intake (first occurrences and repeats).
    public var submitted: Int
    /// Distinct cases intake opened.
    public var accepted: Int
    /// Repeat submissions of an id intake had already taken (it returned the earlier case).
    public var duplicateSubmissions: Int
    /// Refused by intake, by reason.
    public var rejectedAtIntake: [String: Int]
    /// Accepted cases the catalogue routed to the record's own agency.
    public var routedAsCatalogue: Int
    /// Accepted cases the dispatcher sent to the record's agency instead of the catalogue's lead.
    public var routedToTraceAgency: Int
    /// Later steps refused by a workflow rule or failed, by reason (0 expected).
    public var stepFailures: [String: Int]
    /// Cases per final status, as the district offices report them.
    public var casesByStatus: [String: Int]
    /// Cases found by querying every district office.
    public var casesFound: Int
    /// Accepted cases not found in the cluster at the end.
    public var lost: Int
    /// Their case numbers, sorted (at most `maxLostListed`).
    public var lostCases: [String] = []
    /// Cases found in the cluster that no receipt names: a second case opened for one request, or a case whose
    /// receipt never reached the driver (0 expected).
    public var duplicated: Int = 0
    /// The kills of `--kill N` (seed, each victim, step and its restart), if any: the offices moved and recovered
    /// their cases from the replicas.
    public var killed: String?

    /// Lost case numbers listed in a report at most.
    public static let maxLostListed = 1000
}

/// The trace's own figures (computed from the records, not the cluster) next to the cluster's KPIs.
public struct TraceComparison: Codable, Sendable {
    /// Records with a close time not before their open time (⇔ lead unit replied).
    public var traceClosed: Int
    public var clusterReplied: Int
    /// traceClosed ÷ accepted, 4 decimals.
    public var traceClosedShare: Double
    public var clusterReplyShare: Double
    public var traceMedianDays: Double?
    public var clusterMedianDays: Double?
    public var traceMeanDays: Double?
    public var clusterMeanDays: Double?
    /// True only when there was something to compare (accepted cases, at least one of them closed in the
    /// trace or replied in the cluster) and every figure above agrees.
    public var matches: Bool
}

/// What a replay concludes, decided by stated rules (`ReplayVerdict.judge`), so a report never says "match" over
/// an empty or mostly rejected trace.
public struct ReplayVerdict: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        /// Nothing lost, most records replayed.
        case ok
        /// Accepted cases could not be found in the cluster at the end (exit 1).
        case lost
        /// Most records were rejected (at read or at intake), or none was accepted (exit 3).
        case mostlyRejected
        /// The cluster holds cases no receipt names (`Reconciliation.duplicated`).
        case duplicated
    }

    public var outcome: Outcome
    /// Why, in one sentence (the first line of the text report).
    public var reason: String

    /// Exit status of `hotline replay` for this verdict: 0 ok, 1 lost or duplicated, 3 mostly rejected.
    public var exitStatus: Int32 {
        switch outcome {
        case .ok: 0
        case .lost, .duplicated: 1
        case .mostlyRejected: 3
        }
    }

    /// The rules, in order: any lost accepted case → `lost`; no accepted case, or fewer accepted cases plus
    /// duplicate submissions than half of the records read → `mostlyRejected`; else `ok`.
    public static func judge(recordsRead: Int, accepted: Int, duplicates: Int, lost: Int, duplicated: Int = 0,
                             topRejections: [(reason: String, count: Int)]) -> ReplayVerdict {
        if lost > 0 {
            return ReplayVerdict(outcome: .lost, reason: "\(lost) accepted case(s) not found in the cluster")
        }
        if duplicated > 0 {
            return ReplayVerdict(outcome: .duplicated, reason: "\(duplicated) case(s) in the cluster that no receipt names (a request opened twice)")
        }
        let replayed = accepted + duplicates
        if accepted == 0 || replayed * 2 < recordsRead {
            let why = topRejections.prefix(3).map { "\($0.reason) (\($0.count))" }.joined(separator: "; ")
            return ReplayVerdict(outcome: .mostlyRejected,
                                 reason: "\(recordsRead - replayed) of \(recordsRead) records were not replayed" + (why.isEmpty ? "" : ": \(why)"))
        }
        return ReplayVerdict(outcome: .ok, reason: "\(accepted) cases from \(recordsRead) records, none lost")
    }
}

public struct ClusterSummary: Codable, Sendable {
    public var nodes: [String]
    public var steps: Int
    public var clockMoves: Int
    public var seconds: Double
}
