import Foundation

/// What one callback attempt records, by the domain's rules (the callback desk carries it out in one change).
public struct CallbackPlan: Hashable, Sendable {
    /// The events, in order.
    public var bodies: [CaseEventBody]
    /// How many of the first events must be accepted (the rest are attempted and skipped when refused — an
    /// unreachable close before the attempt limit).
    public var required: Int

    /// The plan for `outcome` on a case pending callback.
    /// - Reached, resolved and (basically) satisfied → `callbackAttempted`, `closed(callbackCompleted)`.
    /// - Reached, unsatisfied or unresolved → `callbackAttempted`, `reopened` (dispatched again) — except on a
    ///   case merged under a lead (`mergedChild`): it has no handling round of its own, so it closes with the
    ///   caller's evaluation, which counts against satisfaction; the matter goes on only if the caller contacts
    ///   the hotline again (a repeat contact on the lead, which reopens it within the repeat window).
    /// - Unreachable → `callbackAttempted`, then `closed(unreachable)` once the attempt limit is reached.
    public init(outcome: CallbackOutcome, mergedChild: Bool) {
        switch outcome {
        case .reached(let evaluation):
            if (evaluation.resolved && evaluation.satisfaction.countsAsSatisfied) || mergedChild {
                bodies = [.callbackAttempted(outcome: outcome), .closed(reason: .callbackCompleted)]
            } else {
                let reason: ReopenReason = evaluation.resolved ? .citizenUnsatisfied : .citizenUnresolved
                bodies = [.callbackAttempted(outcome: outcome), .reopened(reason: reason, note: "callback")]
            }
            required = 2
        case .unreachable:
            bodies = [.callbackAttempted(outcome: outcome), .closed(reason: .unreachable)]
            required = 1
        }
    }
}
