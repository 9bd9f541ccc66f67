import XCTest
@testable import Hotline
@testable import HotlineDomain

/// The Anshan catalogue loads, validates and routes; broken catalogues are refused naming the field.
final class RoutingCatalogueTests: XCTestCase {
    func test_anshanCatalogueLoads() throws {
        let c = try anshanCatalogue()
        XCTAssertEqual(c.version, "2026.1")
        XCTAssertEqual(c.sectors.count, 7)
        XCTAssertEqual(Set(c.jurisdictions.map(\.code)),
                       ["210302", "210303", "210304", "210311", "210321", "210323", "210381", "AS-HT", "AS-ED", "AS-QS"])
        XCTAssertEqual(c.dispatchGroups.map(\.code), ["G1", "G2", "G3", "G4"])
        XCTAssertEqual(Set(c.dispatchGroups[0].jurisdictions), ["210302", "210304", "AS-HT"])
        XCTAssertEqual(Set(c.dispatchGroups[1].jurisdictions), ["210303", "210311", "AS-QS", "AS-ED"])
        XCTAssertEqual(Set(c.dispatchGroups[2].jurisdictions), ["210381", "210321", "210323"])
        XCTAssertEqual(Set(c.livelihoodCategories),
                       ["water-outage", "heating-failure", "power-outage", "gas-supply", "resettlement-housing", "abandoned-building"])
        for code in ["AS-WATER", "AS-HEAT", "AS-POWER", "AS-GAS", "AS-HOUSING", "AS-CITYMGMT", "AS-TRANSPORT", "AS-PSB",
                     "AS-SAMR", "AS-HRSS", "AS-EDU", "AS-HEALTH", "AS-CIVIL", "AS-AGRI"] {
            XCTAssertNotNil(c.unit(code), code)
        }
        XCTAssertNoThrow(try c.validate())
    }

    func test_everyCategoryHasARuleAndEveryPairRoutesToAKnownUnit() throws {
        let c = try anshanCatalogue()
        let ruled = Set(c.rules.map(\.category))
        for category in c.categories { XCTAssertTrue(ruled.contains(category.code), "no rule for \(category.code)") }
        for category in c.categories {
            for j in c.jurisdictions {
                let d = try c.route(category: category.code, jurisdiction: j.code)
                XCTAssertNotNil(c.unit(d.lead), "\(category.code) × \(j.code)")
                XCTAssertFalse(d.dispatchGroup.isEmpty)
                XCTAssertFalse(d.coUnits.contains(d.lead))
            }
        }
    }

    func test_routesByJurisdictionThenWildcard() throws {
        let c = try anshanCatalogue()
        let water = try c.route(category: "water-outage", jurisdiction: "210302")
        XCTAssertEqual(water.lead, "AS-WATER")
        XCTAssertEqual(water.coUnits, ["210302-GOV"])
        XCTAssertEqual(water.dispatchGroup, "G4")
        XCTAssertEqual(water.ruleID, "R-water-outage-210302")
        XCTAssertEqual(water.catalogueVersion, "2026.1")
        XCTAssertFalse(water.usedFallback)

        let road = try c.route(category: "road-damage", jurisdiction: "210303")
        XCTAssertEqual(road.lead, "210303-CM")
        XCTAssertEqual(road.dispatchGroup, "G2", "the group owning Tiexi")

        let bus = try c.route(category: "bus-service", jurisdiction: "210381")
        XCTAssertEqual(bus.lead, "AS-TRANSIT")
        XCTAssertEqual(bus.ruleID, "R-bus-service-*")
        XCTAssertEqual(bus.dispatchGroup, "G4")
    }

    func test_unknownCategoryFallsBackToTheGovernment() throws {
        let d = try anshanCatalogue().route(category: "ufo-sighting", jurisdiction: "210381")
        XCTAssertEqual(d.lead, "210381-GOV")
        XCTAssertTrue(d.usedFallback)
        XCTAssertEqual(d.dispatchGroup, "G3")
    }

    func test_unknownJurisdictionIsAnError() throws {
        XCTAssertThrowsError(try anshanCatalogue().route(category: "road-damage", jurisdiction: "999999")) { error in
            XCTAssertEqual(error as? RoutingError, .unknownJurisdiction("999999"))
        }
    }

    func test_dispatchOrderSnapshotsTheSLAProfile() throws {
        let c = try anshanCatalogue()
        let complaint = try c.classification(kind: .complaint, category: "noise-nuisance", urgency: .p2, jurisdiction: "210304")
        let order = try c.dispatchOrder(for: complaint)
        XCTAssertEqual(order.profile.handle, .workingDays(15))
        XCTAssertEqual(order.decision.coUnits, ["AS-ECOENV"])
        let emergency = try c.classification(kind: .help, category: "gas-supply", urgency: .p0, jurisdiction: "210304")
        XCTAssertThrowsError(try c.dispatchOrder(for: emergency)) { error in
            XCTAssertEqual(error as? RoutingError, .noSLAProfile(.noProfile(policy: "standard", kind: .help, urgency: .p0)))
        }
        XCTAssertThrowsError(try c.classification(kind: .help, category: "nope", urgency: .p2, jurisdiction: "210304"))
    }

    func test_catalogueRoundTripsThroughJSON() throws {
        let c = try anshanCatalogue()
        XCTAssertEqual(try RoutingCatalogue.load(from: c.jsonData()), c)
    }

    // MARK: validation names the field

    func test_unknownUnitInARuleIsRefusedNamingTheField() throws {
        var c = try anshanCatalogue()
        c.rules[3].lead = "NO-SUCH-UNIT"
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? CatalogueError, .unknownUnit(field: "rules[3].lead", code: "NO-SUCH-UNIT"))
            XCTAssertEqual((error as? CatalogueError)?.field, "rules[3].lead")
        }
        c = try anshanCatalogue()
        c.rules[0].coUnits = ["GHOST"]
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? CatalogueError, .unknownUnit(field: "rules[0].coUnits[0]", code: "GHOST"))
        }
    }

    func test_duplicateCodesAreRefused() throws {
        var c = try anshanCatalogue()
        c.units.append(c.units[0])
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? CatalogueError, .duplicateCode(field: "units[\(c.units.count - 1)].code", code: c.units[0].code))
        }
    }

    func test_jurisdictionOwnedByTwoGroupsIsRefused() throws {
        var c = try anshanCatalogue()
        c.dispatchGroups[3].jurisdictions = ["210302"]
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? CatalogueError,
                           .jurisdictionOwnedByTwoGroups(field: "dispatchGroups[3].jurisdictions[0]", jurisdiction: "210302",
                                                         groups: ["G1", "G4"]))
        }
    }

    func test_otherInconsistenciesAreRefused() throws {
        var c = try anshanCatalogue()
        c.dispatchGroups[0].jurisdictions.removeAll { $0 == "AS-HT" }
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual((error as? CatalogueError)?.field, "jurisdictions[7]")
        }
        c = try anshanCatalogue()
        c.rules.append(c.rules[0])
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual((error as? CatalogueError)?.field, "rules[\(c.rules.count - 1)].id")
        }
        c = try anshanCatalogue()
        c.rules[0].slaPolicy = "gold"
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? CatalogueError, .unknownSLAPolicy(field: "rules[0].slaPolicy", id: "gold"))
        }
        c = try anshanCatalogue()
        c.slaPolicies[0].entries.removeAll { $0.urgency == .p3 && $0.kind == .praise }
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? CatalogueError, .incompleteSLAPolicy(field: "slaPolicies[0]", kind: .praise, urgency: .p3))
        }
    }

    func test_malformedJSONIsRefusedWithThePath() {
        let json = #"{"version":"1","sectors":[],"jurisdictions":[{"code":"x"}],"units":[],"dispatchGroups":[],"categories":[],"rules":[]}"#
        XCTAssertThrowsError(try RoutingCatalogue.load(from: Data(json.utf8))) { error in
            guard case .malformed(let detail)? = error as? CatalogueError else { return XCTFail("\(error)") }
            XCTAssertTrue(detail.contains("jurisdictions"), detail)
        }
    }
}
