import Foundation

/// Why an event was refused. Applying a refused event changes nothing. `description` (= `message`) is
/// written for an operator.
public enum CaseRuleViolation: Error, Hashable, Sendable, CustomStringConvertible {
    // Log integrity
    /// `replay` was given no events.
    case emptyLog
    /// The first event of a case must be `drafted`.
    case firstEventMustBeDrafted(got: String)
    case wrongCase(expected: CaseID, got: CaseID)
    /// Sequence numbers are gap-free per case: the next event must carry `expected`.
    case sequenceGap(expected: UInt64, got: UInt64)
    /// An event may not be dated before the case's previous event.
    case timestampRegressed(last: Date, got: Date)

    // States and authors
    case transitionNotAllowed(from: CaseStatus, to: CaseStatus, event: String)
    case notAllowedInStatus(event: String, status: CaseStatus)
    case authorNotAllowed(event: String, author: EventAuthor, rule: String)
    /// Only the hotline closes a case; a unit can only reply.
    case onlyHotlineMayClose(author: EventAuthor)
    /// Only the hotline records callbacks and satisfaction.
    case onlyHotlineRecordsSatisfaction(author: EventAuthor)
    case invalidField(field: String, reason: String)
    /// The event needs the case to be classified (accepted) first.
    case notClassified(event: String)
    /// The case waits in a dispatch group's classification queue: a dispatcher reviews it before it is accepted.
    case classificationPending(group: String)
    /// Only a case in the classification queue (after a proposal) can be queued there or reviewed.
    case notAwaitingClassification(event: String)

    // Assignments
    case unknownAssignment(AssignmentID)
    case assignmentTransitionNotAllowed(assignment: AssignmentID, from: AssignmentStatus, to: AssignmentStatus,
                                        event: String)
    case assignmentNotInStatus(assignment: AssignmentID, status: AssignmentStatus, event: String)
    case notTheAssignedUnit(assignment: AssignmentID, assignedUnit: String, author: EventAuthor)
    /// A dispatch must name exactly one lead; co-units must be distinct and exclude the lead.
    case invalidDispatch(reason: String)
    case noFailedDeliveryToRetry(AssignmentID)

    // Emergencies
    /// P0 cases are transferred to 110/119/120, never answered, queued or dispatched.
    case emergencyMustBeTransferred
    /// Only P0 (or unclassified drafts) may be transferred to emergency services.
    case notAnEmergency(urgency: Urgency)
    /// A P1 livelihood case cannot be queued or dispatched before the duty room is alerted.
    case dutyRoomAlertRequired(category: String)
    case noUnacknowledgedDutyRoomAlert

    // Returns and arbitration
    case noPendingReturn(AssignmentID)
    /// The case's second return is decided by arbitration, not by another dispatch loop.
    case secondReturnRequiresArbitration(assignment: AssignmentID)
    case noArbitrationPending
    /// After arbitration the lead is fixed: it cannot return the case and re-dispatch must keep it.
    case arbitrationIsBinding(lead: String)

    // Extensions
    case extensionRequestedAfterDeadline(due: Date, requestedAt: Date)
    case extensionLimitReached(max: Int)
    case extensionAlreadyPending(ExtensionID)
    case unknownExtension(ExtensionID)
    case extensionAlreadyDecided(ExtensionID)
    case extensionOnlyForLead(AssignmentID)

    // Supervision
    /// Each escalation fires once per (assignment, level); the repeat is refused.
    case escalationAlreadyFired(level: SupervisionLevel, assignment: AssignmentID?)
    case escalationNotDue(level: SupervisionLevel, reason: String)

    // Review, callback, close, reopen
    case noReplyToReview
    /// Closing needs a reached callback, or enough unreachable attempts.
    case callbackRequiredBeforeClose(unreachableAttempts: Int, required: Int)
    case reopenNeedsReachedCallback
    case reopenReasonNotAllowed(reason: ReopenReason, from: CaseStatus)
    case reopenWindowElapsed(closedAt: Date, windowDays: Int)

    // Merge and links
    case caseNotOpen(status: CaseStatus)
    case mergeIntoSelf
    case notMergedInto(expected: CaseID?, got: CaseID)
    case duplicateAlreadyAttached(CaseID)
    case parentNotOpen(parent: CaseID, status: CaseStatus)
    case childAlreadyDispatched(child: CaseID, status: CaseStatus)

    /// Operator-readable explanation.
    public var message: String { description }

    public var description: String {
        switch self {
        case .emptyLog: "the event log is empty"
        case .firstEventMustBeDrafted(let got): "the first event of a case must be 'drafted', not '\(got)'"
        case .wrongCase(let expected, let got): "event for case \(got) applied to case \(expected)"
        case .sequenceGap(let expected, let got): "event sequence \(got) is not the next one (expected \(expected))"
        case .timestampRegressed(let last, let got):
            "event time \(Self.format(got)) is before the case's previous event at \(Self.format(last))"
        case .transitionNotAllowed(let from, let to, let event):
            "'\(event)' would move the case from \(from.rawValue) to \(to.rawValue), which is not allowed"
        case .notAllowedInStatus(let event, let status): "'\(event)' is not allowed while the case is \(status.rawValue)"
        case .authorNotAllowed(let event, let author, let rule): "\(author) may not record '\(event)': \(rule)"
        case .onlyHotlineMayClose(let author): "\(author) may not close the case: only the hotline closes; a unit can only reply"
        case .onlyHotlineRecordsSatisfaction(let author):
            "\(author) may not record a callback: only the hotline records satisfaction"
        case .invalidField(let field, let reason): "field '\(field)': \(reason)"
        case .notClassified(let event): "'\(event)' needs a classified (accepted) case"
        case .classificationPending(let group):
            "the case waits in dispatch group \(group)'s classification queue: a dispatcher confirms or corrects it first"
        case .notAwaitingClassification(let event): "'\(event)' needs a case waiting for classification"
        case .unknownAssignment(let id): "no assignment \(id) on this case"
        case .assignmentTransitionNotAllowed(let id, let from, let to, let event):
            "'\(event)' would move assignment \(id) from \(from.rawValue) to \(to.rawValue), which is not allowed"
        case .assignmentNotInStatus(let id, let status, let event):
            "'\(event)' is not allowed while assignment \(id) is \(status.rawValue)"
        case .notTheAssignedUnit(let id, let unit, let author): "assignment \(id) belongs to \(unit), not \(author)"
        case .invalidDispatch(let reason): "invalid dispatch: \(reason)"
        case .noFailedDeliveryToRetry(let id): "assignment \(id) has no failed delivery to retry"
        case .emergencyMustBeTransferred: "a P0 emergency must be transferred to 110/119/120"
        case .notAnEmergency(let urgency): "only P0 cases are transferred to emergency services (this case is \(urgency.rawValue))"
        case .dutyRoomAlertRequired(let category):
            "P1 livelihood case (\(category)): alert the district duty room before dispatching"
        case .noUnacknowledgedDutyRoomAlert: "there is no unacknowledged duty room alert"
        case .noPendingReturn(let id): "assignment \(id) has no pending return"
        case .secondReturnRequiresArbitration(let id):
            "assignment \(id) is the case's second return: it goes to arbitration, not another dispatch loop"
        case .noArbitrationPending: "no return is waiting for arbitration"
        case .arbitrationIsBinding(let lead): "arbitration fixed \(lead) as lead: it cannot return the case or be replaced"
        case .extensionRequestedAfterDeadline(let due, let at):
            "extension requested at \(Self.format(at)), after the deadline \(Self.format(due)): it must be asked before"
        case .extensionLimitReached(let max): "no more extensions: the SLA profile allows \(max)"
        case .extensionAlreadyPending(let id): "extension \(id) is still pending"
        case .unknownExtension(let id): "no extension request \(id) on this case"
        case .extensionAlreadyDecided(let id): "extension \(id) was already decided"
        case .extensionOnlyForLead(let id): "only the lead unit may request an extension (assignment \(id) is a co-handler)"
        case .escalationAlreadyFired(let level, let a):
            "supervision level \(level.rawValue) already fired for \(a.map { "assignment \($0)" } ?? "this case")"
        case .escalationNotDue(let level, let reason): "supervision level \(level.rawValue) is not due: \(reason)"
        case .noReplyToReview: "there is no lead reply to review"
        case .callbackRequiredBeforeClose(let made, let required):
            "cannot close: the citizen was not reached on callback (\(made) of \(required) unreachable attempts made)"
        case .reopenNeedsReachedCallback: "reopen after callback needs a callback that reached the citizen"
        case .reopenReasonNotAllowed(let reason, let from): "cannot reopen from \(from.rawValue) for reason \(reason.rawValue)"
        case .reopenWindowElapsed(let closedAt, let days):
            "closed at \(Self.format(closedAt)), more than \(days) days ago: open a new case instead"
        case .caseNotOpen(let status): "the case is \(status.rawValue): link to an open case, reopen it, or open a new one"
        case .mergeIntoSelf: "a case cannot be merged into itself"
        case .notMergedInto(let expected, let got):
            "this case is merged into \(expected.map(\.description) ?? "nothing"), not \(got)"
        case .duplicateAlreadyAttached(let id): "duplicate \(id) is already attached"
        case .parentNotOpen(let parent, let status): "parent \(parent) is \(status.rawValue): duplicates merge only into an open case"
        case .childAlreadyDispatched(let child, let status):
            "case \(child) is \(status.rawValue): only accepted or queued cases merge"
        }
    }

    private static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
