import ActorCluster
import Distributed
import Foundation

/// The callback desk (`/hotline/callback`): after a reply is accepted, calls the citizen back and records the
/// outcome. Satisfied (or basically satisfied) and resolved → closed; unsatisfied or unresolved → reopened;
/// unreachable → closed as unreachable once the workflow's attempt limit is reached, otherwise left pending.
public distributed actor CallbackDesk {
    public typealias ActorSystem = ClusterSystem

    private let context: HotlineContext

    public init(context: HotlineContext) {
        self.context = context
        self.actorSystem = context.system
    }

    /// Records one callback attempt and its consequence in one change at the district office. Returns the
    /// case's status afterwards.
    public distributed func callBack(_ ref: CaseRef, outcome: CallbackOutcome) async throws -> CaseStatus {
        try await callBack(ref, outcome: outcome, mergedChild: false)
    }

    /// Records one callback attempt by `CallbackPlan` (a case merged under a lead, `mergedChild`, closes with its
    /// caller's evaluation whatever it is). Returns the case's status afterwards.
    ///
    /// - Throws: what the district office throws (`HotlineError.ruleViolation` when not pending callback, ...).
    public distributed func callBack(_ ref: CaseRef, outcome: CallbackOutcome, mergedChild: Bool) async throws -> CaseStatus {
        let plan = CallbackPlan(outcome: outcome, mergedChild: mergedChild)
        return try await context.onDistrictOffice(ref.jurisdiction) {
            try await $0.recordAll(ref.id, plan.bodies, required: plan.required, by: .hotline(staff: "callback")).status
        }
    }
}
