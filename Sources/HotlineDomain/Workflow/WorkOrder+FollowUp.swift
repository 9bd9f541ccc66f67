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
            // Only formatted for a reminder that is due (`nextSupervisionDue` asks at several instants that find none).
            func tail() -> String { "(\(a.unit), due \(deadline.at.formatted(Self.stampStyle)))" }
            guard let leads = settings.remindersBefore, !leads.isEmpty else {
                let half = a.sentAt.addingTimeInterval(deadline.at.timeIntervalSince(a.sentAt) / 2)
                guard instant >= half else { continue }
                let note = Self.automaticReminderPrefix + deadline.name
                guard !sent.contains(where: { $0.hasPrefix(note) }) else { continue }
                due.append(.reminderSent(assignment: a.id, note: "\(note) \(tail())"))
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
            due.append(.reminderSent(assignment: a.id, note: "\(points[index].note) \(tail())"))
        }
        return due
    }

    /// Everything supervision records at `instant`: the automatic reminders due, then the escalations due
    /// (`escalationsDue(at:settings:)`). Idempotent: what was recorded is not planned again.
    public func supervisionDue(at instant: Date, settings: WorkflowSettings = .default) -> [CaseEventBody] {
        remindersDue(at: instant, settings: settings) + escalationsDue(at: instant, settings: settings).map(\.eventBody)
    }

    /// The earliest instant at which `supervisionDue(at:settings:)` is not empty, with the case as it is now; nil when
    /// nothing falls due without a further event (the case is closed or a draft, or no current-round assignment is
    /// waiting). `Date.distantPast` when something is due already (e.g. level 3 of a case reopened often enough).
    ///
    /// Between two events of a case, what supervision finds due only grows with time — a reminder once its point has
    /// passed, level 1 once a deadline has, level 2 once its working days have — and stays until it is recorded. So a
    /// timer may leave a case alone until this instant and must ask again after every change of the case
    /// (`DistrictOffice` does: its ticks look only at the cases due, not at every open case).
    ///
    /// Found among the instants where a rule can change its answer — per waiting current-round assignment, the half of
    /// each window or each `remindersBefore` point, the instant just after its sign and handle deadlines (overdue, level
    /// 1) and just after `levelTwoAfterWorkingDays` working days past the handle deadline (level 2) — by a binary
    /// search on `supervisionDue` itself, so each rule stays written once.
    public func nextSupervisionDue(settings: WorkflowSettings = .default) -> Date? {
        guard status.isOpen, status != .draft else { return nil }
        var instants: [Date] = [.distantPast]
        func justAfter(_ d: Date) -> Date { Date(timeIntervalSinceReferenceDate: d.timeIntervalSinceReferenceDate.nextUp) }
        for a in assignments where a.round == currentRound && !a.status.isFinished && a.repliedAt == nil {
            for deadline in [a.due.sign, a.due.handle] {
                // The same expressions as `remindersDue`, so the instants are the ones it compares with.
                instants.append(a.sentAt.addingTimeInterval(deadline.timeIntervalSince(a.sentAt) / 2))
                for lead in settings.remindersBefore ?? [] {
                    instants.append(Deadline.before(due: deadline, limit: lead, calendar: settings.calendar))
                }
                instants.append(justAfter(deadline))
            }
            instants.append(justAfter(Deadline.due(start: a.due.handle, limit: .workingDays(settings.levelTwoAfterWorkingDays),
                                                   calendar: settings.calendar)))
        }
        instants.sort()
        // The first instant with something due (monotone: empty before it, not empty from it on).
        var low = 0, high = instants.count
        while low < high {
            let mid = (low + high) / 2
            if supervisionDue(at: instants[mid], settings: settings).isEmpty { low = mid + 1 } else { high = mid }
        }
        return low < instants.count ? instants[low] : nil
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

    /// A deadline in a reminder's note: RFC 3339 in UTC, e.g. `2026-03-02T09:00:00Z` (a value type: nothing is
    /// allocated per use the way an `ISO8601DateFormatter` is).
    private static let stampStyle = Date.ISO8601FormatStyle()
}
