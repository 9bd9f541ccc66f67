import Foundation

/// A citizen request as any channel delivers it to intake.
public struct CitizenRequest: Codable, Sendable, Hashable {
    /// Channel code (data, not a constant): `8890`, `12345`, `web`, `mayor-mailbox`, `Voice In`, ...
    /// An identifier: normalised by `IntakeText` (trimmed, NFC; `"8890 "` is `"8890"`).
    public var channel: String
    /// The channel's own id for the request; intake is idempotent per channel + external id (both
    /// normalised, compared as an `IntakeKey`).
    public var externalID: String?
    public var kind: CaseKind?
    /// A category code of the routing catalogue; empty = not known: intake classifies the request from its
    /// words (`Classifier`).
    public var category: String
    /// Default: P1 for livelihood categories, P2 otherwise.
    public var urgency: Urgency?
    /// Jurisdiction code of the routing catalogue; empty = not known: intake classifies the request.
    public var jurisdiction: String
    /// What the citizen said, kept byte for byte (UTF-8; at most 20,000 characters and 80,000 UTF-8 bytes,
    /// `IntakeText.limits`).
    public var description: String
    public var address: String?
    public var contactName: String?
    public var contactPhone: String?
    /// Reporter of a `report` (whistle-blowing) stays confidential.
    public var confidential: Bool?
    /// The unit the source system assigned (replays of real traces): the dispatcher follows it when the
    /// catalogue knows the unit, and the dispatch records the catalogue's lead it overrode.
    public var assignedUnit: String?
    /// The message's subject line, when the channel has one (web messages): kept on the case and read by
    /// intake's classifier with the description. At most 500 characters / 2,000 UTF-8 bytes.
    public var subject: String?
    /// The case the agent says this contact is about (`hotline submit --about CASE`), by id or number: intake
    /// links it to that case instead of opening a new one (`IntakeMatcher.decide(_:about:lead:at:settings:)`).
    /// An identifier (normalised like the channel); nil: the catalogue's matching rules decide.
    public var about: String?

    public init(channel: String, externalID: String? = nil, kind: CaseKind? = nil, category: String,
                urgency: Urgency? = nil, jurisdiction: String, description: String, address: String? = nil,
                contactName: String? = nil, contactPhone: String? = nil, confidential: Bool? = nil,
                assignedUnit: String? = nil, subject: String? = nil, about: String? = nil) {
        self.about = about
        self.channel = channel
        self.externalID = externalID
        self.kind = kind
        self.category = category
        self.urgency = urgency
        self.jurisdiction = jurisdiction
        self.description = description
        self.address = address
        self.contactName = contactName
        self.contactPhone = contactPhone
        self.confidential = confidential
        self.assignedUnit = assignedUnit
        self.subject = subject
    }
}

extension CitizenRequest {
    /// This request with its identifiers normalised and every text field checked, by the rules of
    /// `IntakeText` (trim + NFC for channel, external id, category, jurisdiction, assigned unit — an empty
    /// category or jurisdiction stays empty and means "classify at intake"; free text
    /// kept as given; every field bounded in characters and UTF-8 bytes). An empty `assignedUnit` means none.
    ///
    /// - Throws: `IntakeFieldError` naming the first field that breaks a rule (empty identifier, control
    ///   character, too many characters or bytes).
    public func normalized() throws -> CitizenRequest {
        var r = self
        r.channel = try IntakeText.normalizedIdentifier(channel, field: .channel)
        r.externalID = try externalID.map { try IntakeText.normalizedIdentifier($0, field: .externalID) }
        // An empty category or jurisdiction is not an error: intake classifies the request from its words.
        r.category = IntakeText.isBlank(category)
            ? "" : try IntakeText.normalizedIdentifier(category, field: .category)
        r.jurisdiction = IntakeText.isBlank(jurisdiction)
            ? "" : try IntakeText.normalizedIdentifier(jurisdiction, field: .jurisdiction)
        if let unit = assignedUnit, !IntakeText.isBlank(unit) {
            r.assignedUnit = try IntakeText.normalizedIdentifier(unit, field: .assignedUnit)
        } else {
            r.assignedUnit = nil
        }
        if let about, !IntakeText.isBlank(about) {
            r.about = try IntakeText.normalizedIdentifier(about, field: .about)
        } else {
            r.about = nil
        }
        try IntakeText.checkLimit(description, field: .description)
        if let address { try IntakeText.checkLimit(address, field: .address) }
        if let subject { try IntakeText.checkLimit(subject, field: .subject) }
        if let contactName { try IntakeText.checkLimit(contactName, field: .contactName) }
        if let contactPhone { try IntakeText.checkLimit(contactPhone, field: .contactPhone) }
        return r
    }

    /// The idempotency key of this (normalised) request; nil without an external id.
    public var intakeKey: IntakeKey? {
        externalID.map { IntakeKey(channel: channel, externalID: $0) }
    }
}
