import Foundation

/// Every kind of change to a case, one enum case per kind, with its data. Which author and which case
/// status each is allowed in is documented on the case and enforced by `WorkOrder.apply(_:settings:)`.
public enum CaseEventBody: Hashable, Codable, Sendable {
    // MARK: intake
    /// First event of every case (→ `draft`). Any author (citizen web form, call-taker, gateway).
    case drafted(number: CaseNumber, intake: IntakeRecord)
    /// Intake's classifier proposed category, jurisdiction and urgency, with evidence and confidence
    /// (overlay, `draft` only). Hotline side.
    case classificationProposed(proposal: ClassificationProposal)
    /// The proposal fell below the catalogue's threshold: the case waits un-dispatched in dispatch group
    /// `group`'s classification queue (overlay, `draft` only, after a proposal). Hotline side.
    case queuedForClassification(group: String)
    /// A dispatcher confirmed or corrected the proposal of a case in the classification queue (overlay,
    /// `draft` only); `accepted` with the same category, jurisdiction, urgency and kind follows. Hotline side.
    case classificationReviewed(review: ClassificationReview)
    /// `draft → accepted`. Hotline side. A `report` makes the contact confidential.
    case accepted(classification: Classification)
    /// `accepted → answeredDirect`, citing a knowledge-base article id + version. Hotline side.
    case answeredDirect(citation: KnowledgeCitation, answer: String)
    /// `draft | accepted | pendingDispatch → outOfScope`. Hotline side; reason code required.
    case ruledOutOfScope(ruling: OutOfScopeRuling)
    /// `draft | accepted → transferredEmergency` (P0 only when classified). Hotline side.
    case transferredToEmergency(service: EmergencyService, note: String)

    // MARK: merge and repeat contacts
    /// Child side of a merge: `accepted | pendingDispatch → merged`. Hotline side. `match`: why intake merged
    /// it (nil: merged by hand).
    case mergedInto(parent: CaseID, parentNumber: CaseNumber, match: IntakeMatch? = nil)
    /// Parent side of a merge (overlay; parent must be open). Hotline side.
    case duplicateAttached(child: CaseID, childNumber: CaseNumber)
    /// The parent's reply was accepted: merged child `merged → pendingCallback`, so its own citizen is called.
    case parentReplyAccepted(parent: CaseID, summary: String)
    /// Another contact about this open case (overlay; no new case). Any author except units. `match`: why
    /// intake linked it (which field matched; nil: linked by hand).
    case repeatContactLinked(channel: Channel, externalID: String?, note: String, match: IntakeMatch? = nil)

    // MARK: emergencies (P1 livelihood)
    /// The district duty room is alerted (overlay). Hotline side.
    case dutyRoomAlerted(dutyRoom: String, note: String)
    /// The duty room acknowledges the oldest unacknowledged alert. The duty room unit or hotline staff.
    case dutyRoomAcknowledged(note: String)

    // MARK: dispatch
    /// `accepted | reopened → pendingDispatch` into a dispatch group's queue. Hotline side.
    case queuedForDispatch(group: String)
    /// `pendingDispatch → dispatched`: creates one lead + co-handler assignments (`sent`); the handling clock
    /// starts now. Hotline side.
    case dispatched(order: DispatchOrder)
    /// Assignment `sent → delivered`. Hotline system or the unit itself.
    case assignmentDelivered(assignment: AssignmentID)
    /// Delivery failed: stays `sent`, raises a delivery alert. Hotline system.
    case deliveryFailed(assignment: AssignmentID, reason: String)
    /// Delivery retried after a failure. Hotline system.
    case deliveryRetried(assignment: AssignmentID)
    /// Assignment `delivered → signed`; the lead's signing moves the case `dispatched → inProgress`.
    /// The assignment's unit only.
    case assignmentSigned(assignment: AssignmentID)
    /// Progress note (counts as first feedback). The assignment's unit only.
    case progressReported(assignment: AssignmentID, note: String)

    // MARK: returns and arbitration
    /// Assignment `delivered | signed | returnRejected → returnRequested`; the lead's return moves the case to
    /// `returnReview`. The second lead return of a case requires arbitration. The assignment's unit only.
    case returnRequested(assignment: AssignmentID, reason: String)
    /// Dispatcher's decision on a first return: approved → `returnApproved`, case `pendingDispatch`;
    /// rejected → `returnRejected`, case `inProgress`. Hotline side.
    case returnDecided(assignment: AssignmentID, approved: Bool, note: String)
    /// Arbitration of a second return: a binding dispatch (`returnReview → dispatched`). Hotline side.
    case arbitrated(order: DispatchOrder, note: String)

    // MARK: overlays
    /// The lead unit asks for more time, before the handle deadline. The assignment's unit only.
    case extensionRequested(assignment: AssignmentID, extra: SLALimit, reason: String)
    /// Approve or deny a pending extension; approval derives the new deadline. Hotline side.
    case extensionDecided(request: ExtensionID, approved: Bool, note: String)
    /// A reminder to a unit (any number). Hotline side.
    case reminderSent(assignment: AssignmentID?, note: String)
    /// A supervision step; fires once per (assignment, level) — a repeat is rejected. Hotline side.
    case supervisionEscalated(level: SupervisionLevel, assignment: AssignmentID?, reason: String)

    // MARK: reply, review, callback, close
    /// A unit replies. Lead: assignment → `replied`, case `inProgress → replied`. Co-handler: reply addressed
    /// to the lead, case unchanged. The assignment's unit only.
    case unitReplied(assignment: AssignmentID, text: String)
    /// The hotline reviews the lead's reply: accepted → `pendingCallback`; rejected → `reopened`.
    case replyReviewed(accepted: Bool, note: String)
    /// One callback attempt (reached with evaluation, or unreachable). Hotline side only.
    case callbackAttempted(outcome: CallbackOutcome)
    /// `pendingCallback → reopened` (after reaching the citizen) or `closed → reopened` (recontact within
    /// the repeat window). Hotline side.
    case reopened(reason: ReopenReason, note: String)
    /// `pendingCallback → closed`. Hotline side only; needs a reached callback, or N unreachable attempts.
    case closed(reason: CloseReason)

    /// The event kind's name, e.g. `"assignmentSigned"` (for messages and logs).
    public var name: String {
        switch self {
        case .drafted: "drafted"
        case .classificationProposed: "classificationProposed"
        case .queuedForClassification: "queuedForClassification"
        case .classificationReviewed: "classificationReviewed"
        case .accepted: "accepted"
        case .answeredDirect: "answeredDirect"
        case .ruledOutOfScope: "ruledOutOfScope"
        case .transferredToEmergency: "transferredToEmergency"
        case .mergedInto: "mergedInto"
        case .duplicateAttached: "duplicateAttached"
        case .parentReplyAccepted: "parentReplyAccepted"
        case .repeatContactLinked: "repeatContactLinked"
        case .dutyRoomAlerted: "dutyRoomAlerted"
        case .dutyRoomAcknowledged: "dutyRoomAcknowledged"
        case .queuedForDispatch: "queuedForDispatch"
        case .dispatched: "dispatched"
        case .assignmentDelivered: "assignmentDelivered"
        case .deliveryFailed: "deliveryFailed"
        case .deliveryRetried: "deliveryRetried"
        case .assignmentSigned: "assignmentSigned"
        case .progressReported: "progressReported"
        case .returnRequested: "returnRequested"
        case .returnDecided: "returnDecided"
        case .arbitrated: "arbitrated"
        case .extensionRequested: "extensionRequested"
        case .extensionDecided: "extensionDecided"
        case .reminderSent: "reminderSent"
        case .supervisionEscalated: "supervisionEscalated"
        case .unitReplied: "unitReplied"
        case .replyReviewed: "replyReviewed"
        case .callbackAttempted: "callbackAttempted"
        case .reopened: "reopened"
        case .closed: "closed"
        }
    }
}
