import Foundation

/// The hotline KPIs of one population of cases (all cases, or one breakdown row). Definitions, with their
/// numerators and denominators, are in `Docs/domain.md` §KPIs and on each field.
public struct KPISet: Hashable, Codable, Sendable {
    // MARK: counts
    /// Cases whose logs replayed.
    public var cases: Int
    /// Valid requests: cases ever accepted, minus those transferred to emergency services or ruled out of scope.
    public var validRequests: Int
    public var answeredDirect: Int
    public var outOfScope: Int
    public var transferredEmergency: Int
    /// Cases merged into a parent.
    public var merged: Int
    /// Dispatched cases: some lead assignment was delivered (failed deliveries never count).
    public var dispatched: Int
    /// Dispatched cases with a lead reply.
    public var replied: Int
    /// Cases closed now (including merged children).
    public var closed: Int
    /// Cases closed as unreachable (reported separately; never satisfied).
    public var closedUnreachable: Int
    /// Failed delivery attempts (each alerted).
    public var deliveryFailures: Int
    /// Open dispatched cases whose lead or a co-handler still waits for delivery now (not fully dispatched).
    public var awaitingDelivery: Int
    /// Lead return requests.
    public var leadReturns: Int
    /// Second returns sent to arbitration.
    public var arbitrations: Int
    /// Reopenings (any reason).
    public var reopenings: Int
    /// Judged lead assignments not replied by their deadline (late replies + unreplied past due at `asOf`).
    public var overdueReplies: Int
    /// Judged lead assignments not signed by their sign deadline.
    public var overdueSigns: Int
    public var extensionsRequested: Int
    public var extensionsApproved: Int
    public var extensionsDenied: Int
    /// Callback attempts that reached the citizen.
    public var callbacksReached: Int
    /// Callback attempts that did not (excluded from satisfaction; reported here).
    public var callbacksUnreachable: Int
    /// Repeat contacts linked to open cases (contacts, not cases).
    public var repeatContactsWhileOpen: Int
    /// Contacts after close that reopened a case within the repeat window (reopens by recontact).
    public var repeatContactsAfterClose: Int

    // MARK: rates
    /// Closed ÷ dispatched (dispatched cases that are closed now).
    public var completion: Rate
    /// Replied ÷ dispatched (dispatched cases with a lead reply).
    public var replyRate: Rate
    /// Lead assignments replied by their deadline (incl. approved extensions) ÷ judged lead assignments
    /// (delivered, not returned/withdrawn, and either replied or past due at `asOf`).
    public var onTimeReply: Rate
    /// Lead assignments signed by their sign deadline ÷ judged lead assignments (signed, or still unsigned
    /// past the sign deadline at `asOf`).
    public var onTimeSign: Rate
    /// (Satisfied + basically satisfied) ÷ callback attempts that reached the citizen.
    public var satisfaction: Rate
    /// Reached callbacks where the citizen said the matter is resolved ÷ callback attempts that reached the citizen.
    public var resolution: Rate
    /// Answered directly at intake ÷ valid requests.
    public var directAnswer: Rate
    /// Cases with ≥ 1 callback attempt ÷ cases that entered `pendingCallback`.
    public var callback: Rate
    /// Cases with ≥ 1 callback that reached the citizen ÷ cases that entered `pendingCallback`.
    public var effectiveCallback: Rate
    /// Valid requests with a linked repeat contact or a reopen within the repeat window ÷ valid requests.
    public var repeatContact: Rate
    /// Valid requests with a repeat contact linked while the case was open ÷ valid requests.
    public var repeatContactWhileOpen: Rate
    /// Valid requests reopened by a recontact within the repeat window after close ÷ valid requests.
    public var repeatContactAfterClose: Rate
    /// Dispatched cases with ≥ 1 lead return ÷ dispatched.
    public var returnRate: Rate
    /// Dispatched cases reopened ≥ 1 time ÷ dispatched.
    public var reopenRate: Rate
    /// "k of n delivered": current-round assignments (lead and co-handlers) delivered ÷ current-round
    /// assignments, over every case dispatched at least once.
    public var delivered: Rate

    // MARK: durations
    /// First dispatch → latest lead reply (replied or accepted), natural days, per dispatched case with a reply.
    public var dispatchToReplyDays: DurationStatistic
    /// Intake (draft) → last close, natural days, per closed case.
    public var intakeToCloseDays: DurationStatistic
    /// Acceptance → first dispatch, hours (the hotline's own dispatch-latency clock), per dispatched case.
    public var dispatchLatencyHours: DurationStatistic

    // MARK: classification at intake
    /// Cases intake's classifier made a proposal for (requests without category or jurisdiction).
    public var classificationProposed: Int
    /// Proposals accepted at intake without a dispatcher (confidence at or above the threshold).
    public var classifiedAutomatically: Int
    /// Cases a dispatcher classified from the classification queue (confirmed or corrected).
    public var classifiedByDispatcher: Int
    /// Of those, how many the dispatcher corrected (category, jurisdiction, urgency or kind changed).
    public var classificationCorrected: Int
    /// Cases still waiting in a classification queue.
    public var awaitingClassification: Int
    /// Classified automatically ÷ classified after a proposal (automatically or by a dispatcher).
    public var automaticClassification: Rate
    /// Corrected ÷ classified by a dispatcher.
    public var correctedClassification: Rate
    /// Classification queue → dispatcher's review, hours, per case reviewed.
    public var classificationWaitHours: DurationStatistic
}
