import Foundation

extension RoutingCatalogue {
    /// The jurisdiction with this code, if any.
    public func jurisdiction(_ code: String) -> Jurisdiction? { jurisdictions.first { $0.code == code } }

    /// The unit with this code, if any.
    public func unit(_ code: String) -> HandlingUnit? { units.first { $0.code == code } }

    /// The category with this code, if any.
    public func category(_ code: String) -> ServiceCategory? { categories.first { $0.code == code } }

    /// The dispatch group owning a jurisdiction, if any.
    public func dispatchGroup(owning jurisdiction: String) -> DispatchGroupSpec? {
        dispatchGroups.first { $0.jurisdictions.contains(jurisdiction) }
    }

    /// True when the category is a P1 livelihood category.
    public func isLivelihood(category: String) -> Bool { livelihoodCategories.contains(category) }

    /// The SLA policy with this id, if any.
    public func slaPolicy(_ id: String) -> SLAPolicy? { slaPolicies.first { $0.id == id } }

    /// Routes a category × jurisdiction. The rule for the exact jurisdiction wins over a `"*"` rule; the rule's
    /// group (or else the group owning the jurisdiction) is the dispatch group. When no rule fits (including an
    /// unknown category), the jurisdiction's government is the lead, with no co-units, the default SLA policy,
    /// `ruleID == nil` and `usedFallback == true`.
    /// - Throws: `RoutingError.unknownJurisdiction` when the jurisdiction is not in the catalogue.
    public func route(category: String, jurisdiction: String) throws(RoutingError) -> RoutingDecision {
        guard let place = self.jurisdiction(jurisdiction) else { throw .unknownJurisdiction(jurisdiction) }
        let owningGroup = dispatchGroup(owning: jurisdiction)?.code ?? ""
        let rule = rules.first { $0.category == category && $0.jurisdiction == jurisdiction }
            ?? rules.first { $0.category == category && $0.jurisdiction == RoutingRule.anyJurisdiction }
        guard let rule else {
            return RoutingDecision(
                category: category, jurisdiction: jurisdiction, lead: place.government, coUnits: [],
                dispatchGroup: owningGroup, slaPolicy: defaultSLAPolicy, ruleID: nil,
                catalogueVersion: version, usedFallback: true)
        }
        return RoutingDecision(
            category: category, jurisdiction: jurisdiction, lead: rule.lead,
            coUnits: rule.coUnits.filter { $0 != rule.lead }, dispatchGroup: rule.group ?? owningGroup,
            slaPolicy: rule.slaPolicy ?? defaultSLAPolicy, ruleID: rule.id, catalogueVersion: version,
            usedFallback: false)
    }

    /// Builds a classification for intake: the sector comes from the category, `livelihood` from
    /// `livelihoodCategories`.
    /// - Throws: `RoutingError.unknownCategory`, `.unknownJurisdiction`.
    public func classification(kind: CaseKind, category: String, urgency: Urgency, jurisdiction: String)
        throws(RoutingError) -> Classification
    {
        guard let cat = self.category(category) else { throw .unknownCategory(category) }
        guard self.jurisdiction(jurisdiction) != nil else { throw .unknownJurisdiction(jurisdiction) }
        return Classification(kind: kind, category: category, sector: cat.sector, urgency: urgency,
                              jurisdiction: jurisdiction, livelihood: isLivelihood(category: category))
    }

    /// Routes a classified case and snapshots its SLA profile: the body of a `dispatched` event.
    /// - Throws: `RoutingError.unknownJurisdiction`; `.noSLAProfile` (always for P0: emergencies are
    ///   transferred, never dispatched).
    public func dispatchOrder(for classification: Classification) throws(RoutingError) -> DispatchOrder {
        let decision = try route(category: classification.category, jurisdiction: classification.jurisdiction)
        let policy = slaPolicy(decision.slaPolicy) ?? .standard
        do {
            let profile = try policy.profile(kind: classification.kind, urgency: classification.urgency)
            return DispatchOrder(decision: decision, profile: profile)
        } catch {
            throw .noSLAProfile(error)
        }
    }

    /// The duty room unit for a jurisdiction (its government when none is set).
    /// - Throws: `RoutingError.unknownJurisdiction`.
    public func dutyRoom(for jurisdiction: String) throws(RoutingError) -> String {
        guard let place = self.jurisdiction(jurisdiction) else { throw .unknownJurisdiction(jurisdiction) }
        return place.dutyRoomUnit
    }

    /// Refuses a dispatch that pushes a functional matter down: when `category` is marked `functionalMatter`,
    /// neither `lead` nor any of `coUnits` may be a sub-district or community unit. Units the catalogue does not
    /// know, and categories it does not know or does not mark, pass.
    /// - Throws: `RoutingError.functionalMatterPushedDown` naming the first such unit (the lead first).
    public func checkPushDown(category: String, lead: String, coUnits: [String]) throws(RoutingError) {
        guard self.category(category)?.functionalMatter == true else { return }
        for code in [lead] + coUnits {
            if let unit = unit(code), !unit.level.mayReceiveFunctionalMatters {
                throw .functionalMatterPushedDown(category: category, unit: code, level: unit.level)
            }
        }
    }

    /// How `unit` receives its assignments (`.inbox` for a unit the catalogue does not know).
    public func deliveryChannel(of unit: String) -> DeliveryChannel { self.unit(unit)?.delivery ?? .inbox }
}
