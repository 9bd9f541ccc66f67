import ActorCluster
import Foundation

/// The timeline a replay drives, built from trace records (pure: no I/O).
///
/// For each record (stated rules; simulated steps are labelled so in the report):
/// - at `opened`: submitted to intake (channel, category, jurisdiction, description) — intake opens,
///   classifies and dispatches it by the catalogue;
/// - sign (simulated): the lead unit signs at `opened + min(30 min, duration / 2)`;
/// - at `closed`: the lead unit replies (the source's close ⇔ the reply), and dispatch accepts the reply;
/// - callback (simulated, seeded): 4 h after the reply; unreachable attempts retry every 24 h, the third
///   closes the case as unreachable; a reached citizen is satisfied, basically satisfied or unsatisfied
///   (unsatisfied → reopened);
/// - supervision ticks at every local midnight between the first and the last step.
/// Records closed before they opened are replayed with the reply at the open time (zero handling time), as
/// the source says they were closed; the flag says so. Records whose id repeats are submitted again (intake returns the first case)
/// and nothing else is replayed for them.
public struct ReplayPlan: Sendable {
    public enum Action: Sendable, Hashable {
        case submit(record: Int)
        case sign(record: Int)
        case reply(record: Int)
        case callback(record: Int, attempt: Int, outcome: CallbackOutcome)
        case supervisionTick

        var phase: Int {
            switch self {
            case .supervisionTick: 0
            case .submit: 1
            case .sign: 2
            case .reply: 3
            case .callback: 4
            }
        }

        public var isSubmit: Bool {
            if case .submit = self { return true }
            return false
        }

        public var record: Int? {
            switch self {
            case .submit(let r), .sign(let r), .reply(let r), .callback(let r, _, _): r
            case .supervisionTick: nil
            }
        }
    }

    public struct Step: Sendable, Hashable {
        public var at: Date
        public var action: Action
    }

    /// Simulated citizen answers, by share (the rest of reached callbacks are satisfied).
    public struct CallbackModel: Sendable, Hashable, Codable {
        /// Share of attempts that do not reach the citizen.
        public var unreachable = 0.03
        /// Shares of reached callbacks.
        public var basicallySatisfied = 0.08
        public var unsatisfied = 0.04
        /// Attempts before the case closes as unreachable (the workflow's default is 3).
        public var attempts = 3
        public var firstAttemptDelayHours = 4.0
        public var retryDelayHours = 24.0

        public init() {}
    }

    public var steps: [Step]
    public var model: CallbackModel
    public var seed: UInt64

    /// Builds and time-orders the steps. `timeZone` places the supervision ticks at local midnight.
    public init(records: [TraceRecord], seed: UInt64, model: CallbackModel = CallbackModel(), timeZone: TimeZone) {
        self.model = model
        self.seed = seed
        var steps: [Step] = []
        steps.reserveCapacity(records.count * 5)
        var seen = Set<String>()
        for (i, r) in records.enumerated() {
            steps.append(Step(at: r.opened, action: .submit(record: i)))
            guard seen.insert(r.externalID).inserted else { continue }  // duplicate id: submit only
            // A close recorded before the open is replayed at the open time (zero handling time), flagged.
            let close = r.closed.map { max($0, r.opened) }
            let duration = close.map { $0.timeIntervalSince(r.opened) } ?? 3600
            steps.append(Step(at: r.opened.addingTimeInterval(min(1800, duration / 2)), action: .sign(record: i)))
            guard let closed = close else { continue }
            steps.append(Step(at: closed, action: .reply(record: i)))
            var rng = SplitMix64(seed: seed ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
            var at = closed.addingTimeInterval(model.firstAttemptDelayHours * 3600)
            for attempt in 1...max(1, model.attempts) {
                let outcome = Self.outcome(&rng, model)
                steps.append(Step(at: at, action: .callback(record: i, attempt: attempt, outcome: outcome)))
                if case .reached = outcome { break }
                at = at.addingTimeInterval(model.retryDelayHours * 3600)
            }
        }
        if let first = steps.map(\.at).min(), let last = steps.map(\.at).max() {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            var day = calendar.startOfDay(for: first)
            var guardCount = 0
            while day <= last && guardCount < 200_000 {
                if let next = calendar.date(byAdding: .day, value: 1, to: day) {
                    day = next
                    steps.append(Step(at: day, action: .supervisionTick))
                } else { break }
                guardCount += 1
            }
        }
        steps.sort { a, b in
            if a.at != b.at { return a.at < b.at }
            if a.action.phase != b.action.phase { return a.action.phase < b.action.phase }
            return (a.action.record ?? -1) < (b.action.record ?? -1)
        }
        self.steps = steps
    }

    static func outcome(_ rng: inout SplitMix64, _ m: CallbackModel) -> CallbackOutcome {
        if rng.nextUnit() < m.unreachable { return .unreachable(note: "simulated: no answer") }
        let u = rng.nextUnit()
        let satisfaction: Satisfaction = u < m.unsatisfied ? .unsatisfied
            : (u < m.unsatisfied + m.basicallySatisfied ? .basicallySatisfied : .satisfied)
        // An unsatisfied citizen reports the matter unresolved (→ reopened); the others resolved.
        return .reached(evaluation: CallbackEvaluation(resolved: satisfaction != .unsatisfied, satisfaction: satisfaction))
    }
}
