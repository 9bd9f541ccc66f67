import Foundation

/// How intake classifies a request that arrives without category, jurisdiction or urgency (catalogue field
/// `classification`; every field optional in JSON).
public struct ClassificationSettings: Hashable, Codable, Sendable {
    /// A proposal whose `confidence` (0…1) is at or above this is accepted at intake; below it the case waits
    /// in its dispatch group's classification queue for a dispatcher. Default 0.6.
    public var autoThreshold: Double
    /// Jurisdiction code whose district office holds a request that names no known place while it waits, and
    /// whose duty room is alerted for an emergency with no place; nil = the catalogue's first jurisdiction.
    public var holdingJurisdiction: String?
    /// Category a dispatcher (or the replay's simulated dispatcher) falls back to when the classifier found
    /// none; nil = none (the dispatcher must name one).
    public var defaultCategory: String?
    /// Phrases that mark an emergency (gas leak, no heating in winter, water main burst, people trapped, in
    /// Chinese and English): they raise urgency to P1 and the duty room is alerted even while the category
    /// is uncertain.
    public var emergencyPhrases: [String]

    public init(autoThreshold: Double = 0.6, holdingJurisdiction: String? = nil, defaultCategory: String? = nil,
                emergencyPhrases: [String] = []) {
        self.autoThreshold = autoThreshold
        self.holdingJurisdiction = holdingJurisdiction
        self.defaultCategory = defaultCategory
        self.emergencyPhrases = emergencyPhrases
    }

    private enum CodingKeys: String, CodingKey { case autoThreshold, holdingJurisdiction, defaultCategory, emergencyPhrases }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        autoThreshold = try c.decodeIfPresent(Double.self, forKey: .autoThreshold) ?? 0.6
        holdingJurisdiction = try c.decodeIfPresent(String.self, forKey: .holdingJurisdiction)
        defaultCategory = try c.decodeIfPresent(String.self, forKey: .defaultCategory)
        emergencyPhrases = try c.decodeIfPresent([String].self, forKey: .emergencyPhrases) ?? []
    }
}

extension RoutingCatalogue {
    /// The jurisdiction holding requests that name no known place (`classification.holdingJurisdiction`, else
    /// the first jurisdiction); nil only for a catalogue without jurisdictions.
    public var holdingJurisdiction: String? {
        classification.holdingJurisdiction ?? jurisdictions.first?.code
    }
}
