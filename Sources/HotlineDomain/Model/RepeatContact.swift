import Foundation

/// A further contact about an open case, linked to it instead of opening a new case.
public struct RepeatContact: Hashable, Codable, Sendable {
    public var at: Date
    public var channel: Channel
    public var externalID: String?
    public var note: String
    /// Why intake linked it (nil: linked by hand, or a log written before intake matched).
    public var match: IntakeMatch?

    public init(at: Date, channel: Channel, externalID: String?, note: String, match: IntakeMatch? = nil) {
        self.at = at
        self.channel = channel
        self.externalID = externalID
        self.note = note
        self.match = match
    }

    /// True when the contact came after the case was closed (and reopened it).
    public var afterClose: Bool { match?.afterClose ?? false }

    /// Channel + external id of the contact, when the channel gave one.
    public var intakeKey: IntakeKey? { externalID.map { IntakeKey(channel: channel.code, externalID: $0) } }
}
