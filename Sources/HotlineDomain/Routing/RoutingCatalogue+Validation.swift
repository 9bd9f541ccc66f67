import Foundation

extension RoutingCatalogue {
    /// Checks the catalogue's internal consistency.
    /// - Throws: `CatalogueError` for: empty version; duplicate codes (sectors, jurisdictions, units, groups,
    ///   categories, rule ids, SLA policy ids); a unit/category in an unknown sector; a unit in an unknown
    ///   jurisdiction; a jurisdiction whose government or duty room is not a unit; a group owning an unknown
    ///   jurisdiction; a jurisdiction owned by two groups or by none; an unknown livelihood category; a rule
    ///   naming an unknown category, jurisdiction, unit, group or SLA policy; a lead also listed as co-unit;
    ///   two rules for one category × jurisdiction; an SLA policy without a profile for some kind × P1–P3; a classification threshold outside 0…1, an unknown
    ///   holding jurisdiction or default category, an empty keyword, place name or emergency phrase; an intake
    ///   matching rule with an empty or repeated id, an unknown category or a window of zero hours; a reminder
    ///   lead of zero; a sub-district or community unit without a jurisdiction; a `parent` that is unknown, in
    ///   another jurisdiction or not one level up; an http delivery channel without an http(s) URL with a host,
    ///   or a timeout outside 1…600,000 ms; a rule that routes a functional matter (lead or co-unit) to a
    ///   sub-district or community unit (`functionalMatterPushedDown`, naming the rule).
    public func validate() throws(CatalogueError) {
        if version.trimmingCharacters(in: .whitespaces).isEmpty { throw .emptyField(field: "version") }

        let sectorCodes = try Self.uniqueCodes(sectors.map(\.code), field: "sectors")
        let jurisdictionCodes = try Self.uniqueCodes(jurisdictions.map(\.code), field: "jurisdictions")
        let unitCodes = try Self.uniqueCodes(units.map(\.code), field: "units")
        let groupCodes = try Self.uniqueCodes(dispatchGroups.map(\.code), field: "dispatchGroups")
        let categoryCodes = try Self.uniqueCodes(categories.map(\.code), field: "categories")
        _ = try Self.uniqueCodes(rules.map(\.id), field: "rules", key: "id")
        let policyIDs = try Self.uniqueCodes(slaPolicies.map(\.id), field: "slaPolicies", key: "id")

        for (i, unit) in units.enumerated() {
            if unit.name.isEmpty { throw .emptyField(field: "units[\(i)].name") }
            guard sectorCodes.contains(unit.sector) else { throw .unknownSector(field: "units[\(i)].sector", code: unit.sector) }
            if let j = unit.jurisdiction, !jurisdictionCodes.contains(j) {
                throw .unknownJurisdiction(field: "units[\(i)].jurisdiction", code: j)
            }
        }
        let unitsByCode = Dictionary(units.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        for (i, unit) in units.enumerated() {
            if !unit.level.mayReceiveFunctionalMatters, unit.jurisdiction == nil {
                throw .invalidValue(field: "units[\(i)].jurisdiction", reason: "a \(unit.level.rawValue) unit belongs to a jurisdiction")
            }
            if let parent = unit.parent {
                guard let p = unitsByCode[parent] else { throw .unknownUnit(field: "units[\(i)].parent", code: parent) }
                guard let wanted = unit.level.parentLevel, p.level == wanted else {
                    throw .invalidValue(field: "units[\(i)].parent",
                                        reason: "\(parent) is a \(p.level.rawValue) unit; a \(unit.level.rawValue) unit's parent is \(unit.level.parentLevel.map { "a \($0.rawValue) unit" } ?? "none")")
                }
                if p.jurisdiction != unit.jurisdiction {
                    throw .invalidValue(field: "units[\(i)].parent", reason: "\(parent) is in another jurisdiction")
                }
            }
            if let problem = unit.delivery.problem { throw .invalidValue(field: "units[\(i)].delivery", reason: problem) }
        }
        for (i, category) in categories.enumerated() where !sectorCodes.contains(category.sector) {
            throw .unknownSector(field: "categories[\(i)].sector", code: category.sector)
        }
        for (i, j) in jurisdictions.enumerated() where !Jurisdiction.isUsableCode(j.code) {
            throw .unusableCode(field: "jurisdictions[\(i)].code", code: j.code)
        }
        for (i, g) in dispatchGroups.enumerated() where !Jurisdiction.isUsableCode(g.code) {
            throw .unusableCode(field: "dispatchGroups[\(i)].code", code: g.code)
        }
        for (i, j) in jurisdictions.enumerated() {
            guard unitCodes.contains(j.government) else {
                throw .unknownUnit(field: "jurisdictions[\(i)].government", code: j.government)
            }
            if let duty = j.dutyRoom, !unitCodes.contains(duty) {
                throw .unknownUnit(field: "jurisdictions[\(i)].dutyRoom", code: duty)
            }
        }

        var owner: [String: String] = [:]
        for (g, group) in dispatchGroups.enumerated() {
            for (k, j) in group.jurisdictions.enumerated() {
                let field = "dispatchGroups[\(g)].jurisdictions[\(k)]"
                guard jurisdictionCodes.contains(j) else { throw .unknownJurisdiction(field: field, code: j) }
                if let previous = owner[j] {
                    throw .jurisdictionOwnedByTwoGroups(field: field, jurisdiction: j, groups: [previous, group.code])
                }
                owner[j] = group.code
            }
        }
        for (i, j) in jurisdictions.enumerated() where owner[j.code] == nil {
            throw .jurisdictionWithoutGroup(field: "jurisdictions[\(i)]", jurisdiction: j.code)
        }
        for (i, code) in livelihoodCategories.enumerated() where !categoryCodes.contains(code) {
            throw .unknownCategory(field: "livelihoodCategories[\(i)]", code: code)
        }

        struct RuleKey: Hashable { var category: String, jurisdiction: String }
        var seenRules = Set<RuleKey>()
        for (i, rule) in rules.enumerated() {
            let base = "rules[\(i)]"
            guard categoryCodes.contains(rule.category) else {
                throw .unknownCategory(field: "\(base).category", code: rule.category)
            }
            if rule.jurisdiction != RoutingRule.anyJurisdiction, !jurisdictionCodes.contains(rule.jurisdiction) {
                throw .unknownJurisdiction(field: "\(base).jurisdiction", code: rule.jurisdiction)
            }
            guard unitCodes.contains(rule.lead) else { throw .unknownUnit(field: "\(base).lead", code: rule.lead) }
            var coSeen = Set<String>()
            for (k, co) in rule.coUnits.enumerated() {
                let field = "\(base).coUnits[\(k)]"
                guard unitCodes.contains(co) else { throw .unknownUnit(field: field, code: co) }
                if co == rule.lead { throw .leadAlsoCoUnit(field: field, code: co) }
                if !coSeen.insert(co).inserted { throw .duplicateCode(field: field, code: co) }
            }
            if let group = rule.group, !groupCodes.contains(group) {
                throw .unknownDispatchGroup(field: "\(base).group", code: group)
            }
            if let policy = rule.slaPolicy, !policyIDs.contains(policy) {
                throw .unknownSLAPolicy(field: "\(base).slaPolicy", id: policy)
            }
            do {
                try checkPushDown(category: rule.category, lead: rule.lead, coUnits: rule.coUnits)
            } catch {
                if case .functionalMatterPushedDown(let category, let unit, let level) = error {
                    let field = unit == rule.lead ? "\(base).lead" : "\(base).coUnits[\(rule.coUnits.firstIndex(of: unit) ?? 0)]"
                    throw .functionalMatterPushedDown(field: field, rule: rule.id, category: category, unit: unit, level: level)
                }
            }
            if !seenRules.insert(RuleKey(category: rule.category, jurisdiction: rule.jurisdiction)).inserted {
                throw .duplicateRule(field: base, category: rule.category, jurisdiction: rule.jurisdiction)
            }
        }

        let settings = classification
        if !(0...1).contains(settings.autoThreshold) {
            throw .invalidValue(field: "classification.autoThreshold", reason: "\(settings.autoThreshold) is not between 0 and 1")
        }
        if let j = settings.holdingJurisdiction, !jurisdictionCodes.contains(j) {
            throw .unknownJurisdiction(field: "classification.holdingJurisdiction", code: j)
        }
        if let c = settings.defaultCategory, !categoryCodes.contains(c) {
            throw .unknownCategory(field: "classification.defaultCategory", code: c)
        }
        for (i, phrase) in settings.emergencyPhrases.enumerated() where ClassifierText.scalars(phrase).isEmpty {
            throw .emptyField(field: "classification.emergencyPhrases[\(i)]")
        }
        for (i, category) in categories.enumerated() {
            for (k, phrase) in category.keywords.enumerated() where ClassifierText.scalars(phrase).isEmpty {
                throw .emptyField(field: "categories[\(i)].keywords[\(k)]")
            }
        }
        for (i, j) in jurisdictions.enumerated() {
            for (k, phrase) in j.placeNames.enumerated() where ClassifierText.scalars(phrase).isEmpty {
                throw .emptyField(field: "jurisdictions[\(i)].placeNames[\(k)]")
            }
        }

        try validateIntakeMatching(categoryCodes: categoryCodes)

        guard policyIDs.contains(defaultSLAPolicy) else {
            throw .unknownSLAPolicy(field: "defaultSLAPolicy", id: defaultSLAPolicy)
        }
        for (p, policy) in slaPolicies.enumerated() {
            for kind in CaseKind.allCases {
                for urgency in [Urgency.p1, .p2, .p3] {
                    do {
                        _ = try policy.profile(kind: kind, urgency: urgency)
                    } catch {
                        throw .incompleteSLAPolicy(field: "slaPolicies[\(p)]", kind: kind, urgency: urgency)
                    }
                }
            }
        }
    }

    /// The intake matching rules and reminder settings: unique non-empty ids, known categories, windows and
    /// reminder leads above zero.
    private func validateIntakeMatching(categoryCodes: Set<String>) throws(CatalogueError) {
        _ = try Self.uniqueCodes(intakeMatching.map(\.id), field: "intakeMatching", key: "id")
        for (i, rule) in intakeMatching.enumerated() {
            for (k, code) in rule.categories.enumerated() where !categoryCodes.contains(code) {
                throw .unknownCategory(field: "intakeMatching[\(i)].categories[\(k)]", code: code)
            }
            guard rule.windowHours > 0 else {
                throw .invalidValue(field: "intakeMatching[\(i)].windowHours", reason: "\(rule.windowHours) must be more than zero")
            }
        }
        if let reminders {
            for (i, limit) in reminders.before.enumerated() where !limit.isPositive {
                throw .invalidValue(field: "reminders.before[\(i)]", reason: "\(limit) must be more than zero")
            }
        }
    }

    private static func uniqueCodes(_ codes: [String], field: String, key: String = "code")
        throws(CatalogueError) -> Set<String>
    {
        var seen = Set<String>()
        for (i, code) in codes.enumerated() {
            if code.trimmingCharacters(in: .whitespaces).isEmpty { throw .emptyField(field: "\(field)[\(i)].\(key)") }
            if !seen.insert(code).inserted { throw .duplicateCode(field: "\(field)[\(i)].\(key)", code: code) }
        }
        return seen
    }
}
