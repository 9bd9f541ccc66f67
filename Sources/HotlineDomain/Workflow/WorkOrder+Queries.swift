import Foundation

extension WorkOrder {
    /// True while the case waits in a dispatch group's classification queue (a draft with a proposal below
    /// the threshold, not yet reviewed by a dispatcher).
    public var isAwaitingClassification: Bool { status == .draft && classificationQueue != nil }

    /// True when intake's proposal was accepted without a dispatcher (classified automatically).
    public var wasClassifiedAutomatically: Bool {
        classificationProposal != nil && classificationReview == nil && acceptedAt != nil
    }

    /// The current dispatch round (0 before the first dispatch).
    public var currentRound: Int { dispatches.last?.round ?? 0 }

    /// The lead assignment of the current round, if the case was dispatched.
    public var leadAssignment: Assignment? {
        assignments.last { $0.role == .lead && $0.round == currentRound }
    }

    /// Co-handler assignments of the current round.
    public var coAssignments: [Assignment] {
        assignments.filter { $0.role == .coHandler && $0.round == currentRound }
    }

    /// The assignment with this id.
    public func assignment(_ id: AssignmentID) -> Assignment? { assignments.first { $0.id == id } }

    /// True once some lead assignment was actually delivered. A failed delivery never counts as dispatched.
    public var isDispatchConfirmed: Bool { assignments.contains { $0.role == .lead && $0.wasDelivered } }

    /// Lead returns requested so far (the second one goes to arbitration).
    public var leadReturnCount: Int { returns.filter { $0.role == .lead }.count }

    /// True when a second return waits for arbitration.
    public var isAwaitingArbitration: Bool {
        returns.contains { $0.requiresArbitration && $0.decision == nil }
    }

    /// Callback attempts of the current callback round.
    public var currentRoundCallbacks: [CallbackAttempt] { callbacks.filter { $0.round == callbackRound } }

    /// Unreachable attempts in the current callback round.
    public var unreachableAttemptsThisRound: Int {
        currentRoundCallbacks.filter { $0.outcome.evaluation == nil }.count
    }

    /// The last evaluation given by a reached citizen in the current callback round.
    public var lastEvaluationThisRound: CallbackEvaluation? {
        currentRoundCallbacks.last { $0.outcome.evaluation != nil }?.outcome.evaluation
    }

    /// The last closing, when the case is closed now.
    public var closure: Closure? { status == .closed ? closures.last : nil }

    /// Times the case was reopened (for any reason).
    public var reopenCount: Int { reopenings.count }

    /// True when P1 + livelihood and no duty room alert was raised yet.
    public var needsDutyRoomAlert: Bool {
        (classification?.requiresDutyRoomAlert ?? false) && dutyRoomAlerts.isEmpty
    }

    /// True when a repeat contact may be linked to (or a duplicate merged into) this case.
    public var acceptsLinks: Bool { status.acceptsLinks }

    /// Whether an assignment is overdue at `instant`: signing overdue (not signed by the sign deadline while
    /// `sent`/`delivered`) or handling overdue (no reply by the handle deadline, extensions included).
    /// Finished assignments are never overdue.
    public func isOverdue(_ assignment: Assignment, at instant: Date) -> Bool {
        guard !assignment.status.isFinished, assignment.repliedAt == nil else { return false }
        let unsigned = assignment.status == .sent || assignment.status == .delivered
        return (unsigned && instant > assignment.due.sign) || instant > assignment.due.handle
    }
}
