import Foundation

/// The dispatch catalogue (派单目录) as a versioned JSON document: sectors, jurisdictions, units, dispatch
/// groups, categories, the P1 livelihood categories, routing rules and SLA policies.
/// Load with `RoutingCatalogue.load(from:)`, which validates; route with `route(category:jurisdiction:)`.
public struct RoutingCatalogue: Hashable, Codable, Sendable {
    /// Catalogue version recorded on every dispatch, e.g. `"2026.1"`.
    public var version: String
    public var name: String
    public var sectors: [Sector]
    public var jurisdictions: [Jurisdiction]
    public var units: [HandlingUnit]
    public var dispatchGroups: [DispatchGroupSpec]
    public var categories: [ServiceCategory]
    /// Category codes that are P1 livelihood matters (duty room alerted at once when urgency is P1).
    public var livelihoodCategories: [String]
    public var rules: [RoutingRule]
    /// SLA policies rules may name; defaults to `[SLAPolicy.standard]` when omitted.
    public var slaPolicies: [SLAPolicy]
    /// Policy used by rules without `slaPolicy` and by the fallback; defaults to `"standard"`.
    public var defaultSLAPolicy: String
    /// How intake classifies requests that arrive without category or jurisdiction (threshold, holding
    /// jurisdiction, emergency phrases); defaults to `ClassificationSettings()` when omitted.
    public var classification: ClassificationSettings
    /// How intake links repeat callers and merges callers about the same matter (`IntakeMatcher`); empty when
    /// omitted: every request opens its own case unless the agent names one (`--about`).
    public var intakeMatching: [IntakeMatchRule] = []
    /// Reminders before a sign or handle deadline; nil when omitted: one reminder once half the window passed.
    public var reminders: ReminderSettings?

    public init(version: String, name: String, sectors: [Sector], jurisdictions: [Jurisdiction],
                units: [HandlingUnit], dispatchGroups: [DispatchGroupSpec], categories: [ServiceCategory],
                livelihoodCategories: [String], rules: [RoutingRule],
                slaPolicies: [SLAPolicy] = [.standard], defaultSLAPolicy: String = "standard",
                classification: ClassificationSettings = ClassificationSettings()) {
        self.version = version
        self.name = name
        self.sectors = sectors
        self.jurisdictions = jurisdictions
        self.units = units
        self.dispatchGroups = dispatchGroups
        self.categories = categories
        self.livelihoodCategories = livelihoodCategories
        self.rules = rules
        self.slaPolicies = slaPolicies
        self.defaultSLAPolicy = defaultSLAPolicy
        self.classification = classification
    }

    private enum CodingKeys: String, CodingKey {
        case version, name, sectors, jurisdictions, units, dispatchGroups, categories, livelihoodCategories,
             rules, slaPolicies, defaultSLAPolicy, classification, intakeMatching, reminders
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(String.self, forKey: .version)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        sectors = try c.decode([Sector].self, forKey: .sectors)
        jurisdictions = try c.decode([Jurisdiction].self, forKey: .jurisdictions)
        units = try c.decode([HandlingUnit].self, forKey: .units)
        dispatchGroups = try c.decode([DispatchGroupSpec].self, forKey: .dispatchGroups)
        categories = try c.decode([ServiceCategory].self, forKey: .categories)
        livelihoodCategories = try c.decodeIfPresent([String].self, forKey: .livelihoodCategories) ?? []
        rules = try c.decode([RoutingRule].self, forKey: .rules)
        slaPolicies = try c.decodeIfPresent([SLAPolicy].self, forKey: .slaPolicies) ?? [.standard]
        defaultSLAPolicy = try c.decodeIfPresent(String.self, forKey: .defaultSLAPolicy) ?? "standard"
        classification = try c.decodeIfPresent(ClassificationSettings.self, forKey: .classification) ?? ClassificationSettings()
        intakeMatching = try c.decodeIfPresent([IntakeMatchRule].self, forKey: .intakeMatching) ?? []
        reminders = try c.decodeIfPresent(ReminderSettings.self, forKey: .reminders)
    }

    /// The intake matching rules that apply to `category`, in catalogue order.
    public func intakeMatchRules(for category: String) -> [IntakeMatchRule] {
        intakeMatching.filter { $0.applies(to: category) }
    }

    /// Decodes and validates a catalogue.
    /// - Throws: `CatalogueError.malformed` for undecodable JSON, otherwise the first validation error
    ///   (see `validate()`), naming the offending field.
    public static func load(from data: Data) throws(CatalogueError) -> RoutingCatalogue {
        let catalogue: RoutingCatalogue
        do {
            catalogue = try JSONDecoder().decode(RoutingCatalogue.self, from: data)
        } catch let error as DecodingError {
            throw .malformed(Self.explain(error))
        } catch {
            throw .malformed(String(describing: error))
        }
        try catalogue.validate()
        return catalogue
    }

    /// Pretty, key-sorted JSON of the catalogue.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    private static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field '\(path(context)).\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "field '\(path(context))': \(context.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}
