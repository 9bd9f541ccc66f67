import Foundation

/// A catalogue rule by which intake links a contact to a case it already holds instead of opening a new one
/// (`IntakeMatcher`). JSON: `{"id": "repeat-by-phone", "match": "phone", "windowHours": 720}` or
/// `{"id": "noise-by-address", "match": "address", "categories": ["noise-nuisance"], "windowHours": 72}`.
public struct IntakeMatchRule: Hashable, Codable, Sendable {
    /// What the rule compares.
    public enum Match: String, Hashable, Codable, Sendable {
        /// The same caller (phone) about the same category: a repeat contact on their open case, or a reopen of
        /// their case closed within the workflow's repeat window.
        case phone
        /// Another caller about the same category at the same address: merged under the open lead case (a case
        /// of their own, with their own callback). The same phone at that address is a repeat contact instead.
        case address
    }

    /// Unique among the catalogue's rules; recorded with the match.
    public var id: String
    public var match: Match
    /// Category codes the rule applies to; empty: every category.
    public var categories: [String]
    /// A case matches while its latest contact (its intake, or a contact linked to it) is at most this many
    /// hours old, natural time. Must be more than zero.
    public var windowHours: Int

    public init(id: String, match: Match, categories: [String] = [], windowHours: Int) {
        self.id = id
        self.match = match
        self.categories = categories
        self.windowHours = windowHours
    }

    private enum CodingKeys: String, CodingKey { case id, match, categories, windowHours }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        match = try c.decode(Match.self, forKey: .match)
        categories = try c.decodeIfPresent([String].self, forKey: .categories) ?? []
        windowHours = try c.decode(Int.self, forKey: .windowHours)
    }

    /// True when the rule applies to `category`.
    public func applies(to category: String) -> Bool { categories.isEmpty || categories.contains(category) }

    /// The window in seconds.
    public var window: TimeInterval { TimeInterval(windowHours) * 3_600 }
}

/// Automatic reminders before a sign or handle deadline (`WorkflowSettings.remindersBefore`). JSON:
/// `{"before": [{"naturalHours": 1}, {"workingDays": 1}]}`.
public struct ReminderSettings: Hashable, Codable, Sendable {
    /// How long before each deadline a reminder is sent; each must be more than zero.
    public var before: [SLALimit]

    public init(before: [SLALimit]) { self.before = before }
}
