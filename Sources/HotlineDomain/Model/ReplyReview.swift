import Foundation

/// The hotline's review of the lead's reply.
public struct ReplyReview: Hashable, Codable, Sendable {
    public var at: Date
    public var accepted: Bool
    public var note: String
    public var reviewer: EventAuthor

    public init(at: Date, accepted: Bool, note: String, reviewer: EventAuthor) {
        self.at = at
        self.accepted = accepted
        self.note = note
        self.reviewer = reviewer
    }
}
