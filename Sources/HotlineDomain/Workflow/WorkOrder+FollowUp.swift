import Foundation

/// What follows a step, decided by the domain (not by whoever drives the case): the supervisor's automatic
/// reminders, and the next dispatch round of a reopened case.
extension WorkOrder {
    /// The prefix of an automatic reminder's note; the rest names the deadline (`sign` or `reply`).
    public static let automaticReminderPrefix = "automatic reminder: "

    /// Automatic reminders (催办) due at `instant` that have not been sent yet, per current-round assignment
    /// and deadline — `sign` while the assignment is unsigned (`sent`/`delivered`), `reply` once it is signed (or
    /// its return was rejected) and has not replied:
    /// - with `settings.remindersBefore` nil: one reminder once half the window (dispatch → the deadline,
    ///   extensions included) has passed (note `automatic reminder: sign (…)`);
    /// - with `remindersBefore` (e.g. 1 h and 1 working day): one reminder per lead once the deadline is that
    ///   close (`Deadline.before`; note `automatic reminder: sign 1 h before (…)`). Points at or before the
    ///   dispatch are skipped (a 30-minute sign window gets no "1 h before" reminder); when the timer finds several
    ///   points passed, only the latest is recorded and the earlier ones are never planned again.
    /// Each fires once per assignment over the case's life (a reminder already recorded for that assignment,
    /// deadline and point is never planned again), so a timer may ask as often as it likes.
    /// Returns the event bodies to record (`reminderSent`), in assignment order; empty for a case that is not
    /// open, is a draft or is not dispatched.
    public func remindersDue(at instant: Date, settings: WorkflowSettings = .default) -> [CaseEventBody] {
        guard status.isOpen, status != .draft, status != .accepted else { return [] }
        var due: [CaseEventBody] = []
        for a in assignments where a.round == currentRound && !a.status.isFinished && a.repliedAt == nil {
            let deadline: (name: String, at: Date)
            switch a.status {
            case .sent, .delivered: deadline = ("sign", a.due.sign)
            case .signed, .returnRejected: deadline = ("reply", a.due.handle)
            default: continue
            }
            let sent = reminders.filter { $0.assignment == a.id }.map(\.note)
            // Only built for a reminder that is due: supervision asks every open case at every tick.
            var tail: String { "(\(a.unit), due \(Self.stamp(deadline.at)))" }
            guard let leads = settings.remindersBefore, !leads.isEmpty else {
                let half = a.sentAt.addingTimeInterval(deadline.at.timeIntervalSince(a.sentAt) / 2)
                guard instant >= half else { continue }
                let note = Self.automaticReminderPrefix + deadline.name
                guard !sent.contains(where: { $0.hasPrefix(note) }) else { continue }
                due.append(.reminderSent(assignment: a.id, note: "\(note) \(tail)"))
                continue
            }
            // Each point, from the earliest; the latest one passed is due unless it or a later one was sent.
            let points = leads.map { lead in
                (note: "\(Self.automaticReminderPrefix)\(deadline.name) \(lead) before",
                 at: Deadline.before(due: deadline.at, limit: lead, calendar: settings.calendar))
            }.filter { $0.at > a.sentAt }.sorted { $0.at < $1.at }
            guard let index = points.lastIndex(where: { $0.at <= instant }) else { continue }
            let alreadySent = points[index...].contains { p in sent.contains { $0.hasPrefix(p.note + " (") } }
            guard !alreadySent else { continue }
            due.append(.reminderSent(assignment: a.id, note: "\(points[index].note) \(tail)"))
        }
        return due
    }

    /// Everything supervision records at `instant`: the automatic reminders due, then the escalations due
    /// (`escalationsDue(at:settings:)`). Idempotent: what was recorded is not planned again.
    public func supervisionDue(at instant: Date, settings: WorkflowSettings = .default) -> [CaseEventBody] {
        remindersDue(at: instant, settings: settings) + escalationsDue(at: instant, settings: settings).map(\.eventBody)
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

    /// `d` as `ISO8601DateFormatter` with `.withInternetDateTime` writes it (`2014-05-17T07:00:00Z`, UTC, whole
    /// seconds), without creating a formatter (an ICU formatter per call was a third of a replay's CPU).
    static func stamp(_ d: Date) -> String { InternetDateTime.string(from: d) }
}
