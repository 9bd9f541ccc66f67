import Foundation

/// One change to one case. A case's state is the fold of its events (`WorkOrder.replay`).
/// `sequence` is per case, gap-free, starting at 1; the first event is always `.drafted`.
public struct CaseEvent: Hashable, Codable, Sendable, CustomStringConvertible {
    public var caseID: CaseID
    /// 1, 2, 3, … with no gaps within the case.
    public var sequence: UInt64
    /// When it happened (from the injected clock). Must not be earlier than the case's previous event.
    public var timestamp: Date
    public var author: EventAuthor
    public var body: CaseEventBody

    public init(caseID: CaseID, sequence: UInt64, timestamp: Date, author: EventAuthor, body: CaseEventBody) {
        self.caseID = caseID
        self.sequence = sequence
        self.timestamp = timestamp
        self.author = author
        self.body = body
    }

    /// `case#seq name by author`, without personal data.
    public var description: String { "\(caseID)#\(sequence) \(body.name) by \(author)" }
}
