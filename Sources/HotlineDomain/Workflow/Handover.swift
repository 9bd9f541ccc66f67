import Foundation

/// Why a case is on the shift-handover list (`WorkOrder.handoverEntry(at:since:office:)`).
public enum HandoverReason: String, Codable, Sendable, Hashable, CaseIterable {
    /// An open P1 (livelihood) case.
    case p1 = "P1"
    /// An unacknowledged duty-room alert.
    case dutyRoom = "duty room unacknowledged"
    /// A current-round assignment past its sign or handle deadline.
    case overdue
    /// A current-round assignment not signed yet (`sent`/`delivered`).
    case unsigned
    /// Pending callback past the callback deadline.
    case callbackOverdue = "callback overdue"
}

/// One line of the shift-handover list: the case's worklist line, why it is handed over, and whether that
/// arose during the shift that ends (`since`).
public struct HandoverEntry: Codable, Sendable, Hashable {
    public var entry: WorklistEntry
    /// In `HandoverReason` order (P1 first).
    public var reasons: [HandoverReason]
    /// True when one of the reasons arose at or after `since` (the case was opened, an assignment was sent, a
    /// deadline passed during the shift); false without `since`.
    public var new: Bool
}

/// The shift-handover list gathered from every district office: what the incoming shift leader must know.
public struct Handover: Codable, Sendable, Hashable {
    /// The clock the list was judged at (the answering node's).
    public var asOf: Date
    /// Start of the shift that ends, when given.
    public var since: Date?
    /// P1 cases first, then overdue ones, then by case number.
    public var entries: [HandoverEntry]
    /// District offices that did not answer (their cases are missing).
    public var unanswered: [String]

    public init(asOf: Date, since: Date?, entries: [HandoverEntry], unanswered: [String]) {
        self.asOf = asOf
        self.since = since
        self.entries = entries
        self.unanswered = unanswered
    }

    /// The handover order: P1 cases, then overdue, then the rest; by case number within each.
    public static func ordered(_ entries: [HandoverEntry]) -> [HandoverEntry] {
        entries.sorted { a, b in
            let rank: (HandoverEntry) -> Int = { $0.reasons.contains(.p1) ? 0 : ($0.reasons.contains(.overdue) ? 1 : 2) }
            let (x, y) = (rank(a), rank(b))
            return x != y ? x < y : a.entry.number < b.entry.number
        }
    }
}

extension WorkOrder {
    /// The case's line on the shift-handover list at `instant`, or nil when nothing about it must be handed
    /// over. Open cases only (not drafts waiting for classification unless an emergency reached the duty room):
    /// an open P1 case; an unacknowledged duty-room alert; a current-round assignment overdue or still unsigned;
    /// a callback past its deadline. `new` tells whether a reason arose at or after `since`.
    public func handoverEntry(at instant: Date, since: Date?, office: String) -> HandoverEntry? {
        // A merged case follows its lead, which is listed itself.
        guard status.isOpen, status != .merged else { return nil }
        var reasons: [HandoverReason] = []
        var arose: [Date] = []
        if classification?.urgency == .p1 {
            reasons.append(.p1)
            arose.append(acceptedAt ?? createdAt)
        }
        let unacknowledged = dutyRoomAlerts.filter { !$0.isAcknowledged }
        if !unacknowledged.isEmpty {
            reasons.append(.dutyRoom)
            arose += unacknowledged.map(\.at)
        }
        let overdue = overdueAssignments(at: instant)
        if !overdue.isEmpty {
            reasons.append(.overdue)
            for a in overdue {
                let unsigned = a.status == .sent || a.status == .delivered
                arose.append(unsigned && instant > a.due.sign ? min(a.due.sign, a.due.handle) : a.due.handle)
            }
        }
        let unsigned = assignments.filter { $0.round == currentRound && ($0.status == .sent || $0.status == .delivered) }
        if !unsigned.isEmpty {
            reasons.append(.unsigned)
            arose += unsigned.map(\.sentAt)
        }
        if status == .pendingCallback, let due = callbackDue, instant > due {
            reasons.append(.callbackOverdue)
            arose.append(due)
        }
        guard !reasons.isEmpty else { return nil }
        let line = entry(office, leadAssignment, waitingFor: Self.waitingFor(status, self), at: instant)
        let new = since.map { s in arose.contains { $0 >= s } } ?? false
        return HandoverEntry(entry: line, reasons: reasons, new: new)
    }
}
