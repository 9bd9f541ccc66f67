import Foundation

/// A case's event log together with its projection: the convenient way for an owner (actor) to record
/// changes. `record` stamps the next sequence number, applies the event (refusing it if a rule says no) and
/// only then appends it, so `events` and `order` always agree.
public struct CaseLog: Hashable, Codable, Sendable {
    public private(set) var events: [CaseEvent]
    public private(set) var order: WorkOrder
    public var settings: WorkflowSettings

    /// Opens a new case: its first event is `.drafted(number:intake:)` with sequence 1.
    public init(id: CaseID, number: CaseNumber, intake: IntakeRecord, at: Date, by author: EventAuthor,
                settings: WorkflowSettings = .default) throws(CaseRuleViolation) {
        let first = CaseEvent(caseID: id, sequence: 1, timestamp: at, author: author,
                              body: .drafted(number: number, intake: intake))
        self.order = try WorkOrder(opening: first)
        self.events = [first]
        self.settings = settings
    }

    /// Rebuilds from stored events (recovery, replication).
    /// - Throws: `CaseReplayError` naming the refused event.
    public init(replaying events: [CaseEvent], settings: WorkflowSettings = .default) throws(CaseReplayError) {
        self.order = try WorkOrder.replay(events, settings: settings)
        self.events = events
        self.settings = settings
    }

    /// Records the next change at `at` by `author`. Returns the appended event.
    /// - Throws: `CaseRuleViolation`; on throw nothing is appended.
    @discardableResult
    public mutating func record(_ body: CaseEventBody, at: Date, by author: EventAuthor) throws(CaseRuleViolation)
        -> CaseEvent
    {
        let event = CaseEvent(caseID: order.id, sequence: order.lastSequence + 1, timestamp: at, author: author, body: body)
        try append(event)
        return event
    }

    /// Appends an event built elsewhere (e.g. received from a replica), enforcing sequence and rules.
    /// - Throws: `CaseRuleViolation`; on throw nothing is appended.
    public mutating func append(_ event: CaseEvent) throws(CaseRuleViolation) {
        try order.apply(event, settings: settings)
        events.append(event)
    }

    public var id: CaseID { order.id }
}
