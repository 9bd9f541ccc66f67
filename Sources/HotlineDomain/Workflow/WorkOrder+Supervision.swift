import Foundation

extension WorkOrder {
    /// Supervision steps due at `instant` that have not fired yet — what a supervisor timer should record.
    /// Each (assignment, level) appears at most once over the case's life; recording one twice is refused
    /// with `CaseRuleViolation.escalationAlreadyFired` (we reject rather than no-op, so the log never holds a
    /// duplicate and the caller learns it raced).
    /// - Level 1: an open assignment of the current round is overdue (sign or handle deadline passed).
    /// - Level 2: level 1 fired for it and it is still unreplied `levelTwoAfterWorkingDays` working days after
    ///   the handle deadline.
    /// - Level 3 (case-wide): the case was reopened `levelThreeAfterReopens` times.
    public func escalationsDue(at instant: Date, settings: WorkflowSettings = .default) -> [PlannedEscalation] {
        guard status.isOpen, status != .draft else { return [] }
        var due: [PlannedEscalation] = []
        let candidates = assignments.filter { $0.round == currentRound && !$0.status.isFinished }
        for a in candidates {
            for level in [SupervisionLevel.level1, .level2] {
                guard !hasFired(level, a.id),
                      (try? escalationBlocker(level: level, assignment: a.id, at: instant, settings: settings)) == .some(nil)
                else { continue }
                due.append(PlannedEscalation(level: level, assignment: a.id, reason: reason(level, a)))
            }
        }
        if !hasFired(.level3, nil),
           (try? escalationBlocker(level: .level3, assignment: nil, at: instant, settings: settings)) == .some(nil) {
            due.append(PlannedEscalation(level: .level3, assignment: nil, reason: "reopened \(reopenCount) times"))
        }
        return due
    }

    private func hasFired(_ level: SupervisionLevel, _ assignment: AssignmentID?) -> Bool {
        escalations.contains { $0.level == level && $0.assignment == assignment }
    }

    private func reason(_ level: SupervisionLevel, _ a: Assignment) -> String {
        switch level {
        case .level1: "\(a.unit) overdue on \(a.id)"
        case .level2: "\(a.unit) still unreplied on \(a.id) after level 1"
        case .level3: "reopened repeatedly"
        }
    }

    /// Why the escalation may not fire at `instant`, or nil when it may (idempotence is checked separately).
    /// - Throws: `CaseRuleViolation.invalidField` when levels 1–2 lack an assignment or level 3 names one;
    ///   `.unknownAssignment`.
    func escalationBlocker(level: SupervisionLevel, assignment id: AssignmentID?, at instant: Date,
                           settings: WorkflowSettings) throws(CaseRuleViolation) -> String?
    {
        switch level {
        case .level1, .level2:
            guard let id else {
                throw .invalidField(field: "assignment", reason: "supervision level \(level.rawValue) is per assignment")
            }
            guard let a = assignment(id) else { throw .unknownAssignment(id) }
            if a.status.isFinished || a.repliedAt != nil { return "assignment \(id) is \(a.status.rawValue)" }
            if level == .level1 {
                return isOverdue(a, at: instant) ? nil : "assignment \(id) is not overdue"
            }
            guard hasFired(.level1, id) else { return "level 1 has not fired for assignment \(id)" }
            let threshold = Deadline.due(start: a.due.handle, limit: .workingDays(settings.levelTwoAfterWorkingDays),
                                         calendar: settings.calendar)
            return instant > threshold
                ? nil : "assignment \(id) is not yet \(settings.levelTwoAfterWorkingDays) working days past its deadline"
        case .level3:
            if id != nil { throw .invalidField(field: "assignment", reason: "supervision level 3 is case-wide (no assignment)") }
            return reopenCount >= settings.levelThreeAfterReopens
                ? nil : "reopened \(reopenCount) times (level 3 needs \(settings.levelThreeAfterReopens))"
        }
    }
}
