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
        let bodies: [CaseEventBody]
        let required: Int
        switch outcome {
        case .reached(let evaluation):
            if evaluation.resolved && evaluation.satisfaction.countsAsSatisfied {
                bodies = [.callbackAttempted(outcome: outcome), .closed(reason: .callbackCompleted)]
            } else {
                let reason: ReopenReason = evaluation.resolved ? .citizenUnsatisfied : .citizenUnresolved
                bodies = [.callbackAttempted(outcome: outcome), .reopened(reason: reason, note: "callback")]
            }
            required = 2
        case .unreachable:
            // The workflow refuses the close until enough attempts were made; then the case stays pending.
            bodies = [.callbackAttempted(outcome: outcome), .closed(reason: .unreachable)]
            required = 1
        }
        let changes = bodies
        return try await context.onDistrictOffice(ref.jurisdiction) {
            try await $0.recordAll(ref.id, changes, required: required, by: .hotline(staff: "callback")).status
        }
    }
}
