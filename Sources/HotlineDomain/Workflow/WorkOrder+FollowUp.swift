import Foundation

/// What follows a step, decided by the domain (not by whoever drives the case): the supervisor's automatic
/// reminders, and the next dispatch round of a reopened case.
extension WorkOrder {
    /// The prefix of an automatic reminder's note; the rest names the deadline (`sign` or `reply`).
    public static let automaticReminderPrefix = "automatic reminder: "

    /// Automatic reminders (催办) due at `instant` that have not been sent yet, one per current-round
    /// assignment and deadline:
    /// - `sign`: the assignment is still unsigned (`sent`/`delivered`) and half its sign window
    ///   (dispatch → sign due) has passed;
    /// - `reply`: it is signed (or its return was rejected), has not replied, and half its handle window
    ///   (dispatch → handle due, extensions included) has passed.
    /// Each fires once per assignment over the case's life (an automatic reminder already recorded for that
    /// assignment and deadline is never planned again), so a timer may ask as often as it likes.
    /// Returns the event bodies to record (`reminderSent`), in assignment order; empty for a case that is not
    /// open, is a draft or is not dispatched.
    public func remindersDue(at instant: Date) -> [CaseEventBody] {
        guard status.isOpen, status != .draft, status != .accepted else { return [] }
        var due: [CaseEventBody] = []
        for a in assignments where a.round == currentRound && !a.status.isFinished && a.repliedAt == nil {
            let deadline: (name: String, at: Date)
            switch a.status {
            case .sent, .delivered: deadline = ("sign", a.due.sign)
            case .signed, .returnRejected: deadline = ("reply", a.due.handle)
            default: continue
            }
            let half = a.sentAt.addingTimeInterval(deadline.at.timeIntervalSince(a.sentAt) / 2)
            guard instant >= half else { continue }
            let note = Self.automaticReminderPrefix + deadline.name
            guard !reminders.contains(where: { $0.assignment == a.id && $0.note.hasPrefix(note) }) else { continue }
            due.append(.reminderSent(assignment: a.id, note: "\(note) (\(a.unit), due \(Self.stamp(deadline.at)))"))
        }
        return due
    }

    /// Everything supervision records at `instant`: the automatic reminders due, then the escalations due
    /// (`escalationsDue(at:settings:)`). Idempotent: what was recorded is not planned again.
    public func supervisionDue(at instant: Date, settings: WorkflowSettings = .default) -> [CaseEventBody] {
        remindersDue(at: instant) + escalationsDue(at: instant, settings: settings).map(\.eventBody)
    }

    /// Current-round assignments overdue at `instant` (`isOverdue`): the case's overdue flag.
    public func overdueAssignments(at instant: Date) -> [Assignment] {
        guard status.isOpen else { return [] }
        return assignments.filter { $0.round == currentRound && isOverdue($0, at: instant) }
    }

    /// The next round of a reopened case (citizen unsatisfied or unresolved, or the reply review rejected):
    /// queued for the dispatch group of its last round and dispatched again to that round's units — the same
    /// lead (the arbitrated lead when one is binding) and co-units — with a fresh clock from the same SLA
    /// profile. Nil when the case is not `reopened` or was never dispatched.
    public var redispatchAfterReopen: (group: String, order: DispatchOrder)? {
        guard status == .reopened, let last = dispatches.last else { return nil }
        var decision = last.decision
        if let binding = bindingLead, decision.lead != binding {
            decision.coUnits.removeAll { $0 == binding }
            decision.lead = binding
        }
        let group = decision.dispatchGroup.isEmpty ? (queuedGroup ?? "") : decision.dispatchGroup
        guard !group.isEmpty else { return nil }
        return (group, DispatchOrder(decision: decision, profile: last.profile))
    }

    private static func stamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
