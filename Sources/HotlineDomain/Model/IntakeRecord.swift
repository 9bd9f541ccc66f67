import Foundation

/// What intake captured when the case was drafted (body of the first event of every case).
public struct IntakeRecord: Hashable, Codable, Sendable {
    public var channel: Channel
    /// The channel's own id for the request (call id, web form id, Open311 token); intake is idempotent per
    /// channel + external id.
    public var externalID: String?
    public var contact: CitizenContact
    /// The citizen's words, UTF-8 (Chinese text is ordinary content).
    public var description: String
    public var location: Location?
    /// The message's subject line, when the channel has one (nil in logs written before it existed).
    public var subject: String?

    public init(channel: Channel, externalID: String? = nil, contact: CitizenContact, description: String,
                location: Location? = nil, subject: String? = nil) {
        self.channel = channel
        self.externalID = externalID
        self.contact = contact
        self.description = description
        self.location = location
        self.subject = subject
    }
}

extension IntakeRecord {
    /// Channel + external id, when the channel gave one: the same request submitted again has the same key.
    public var intakeKey: IntakeKey? {
        externalID.map { IntakeKey(channel: channel.code, externalID: $0) }
    }
}
