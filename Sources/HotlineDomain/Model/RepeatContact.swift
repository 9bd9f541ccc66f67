import Foundation

/// A further contact about an open case, linked to it instead of opening a new case.
public struct RepeatContact: Hashable, Codable, Sendable {
    public var at: Date
    public var channel: Channel
    public var externalID: String?
    public var note: String

    public init(at: Date, channel: Channel, externalID: String?, note: String) {
        self.at = at
        self.channel = channel
        self.externalID = externalID
        self.note = note
    }
}
