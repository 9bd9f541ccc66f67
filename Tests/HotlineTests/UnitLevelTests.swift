import Foundation
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Unit levels, functional matters that may not be pushed down to sub-districts or communities (the State
/// Council's 2025 guidance on 12345 platforms), and units' delivery channels in the catalogue.
final class UnitLevelTests: XCTestCase {
    func test_anshanHasSubDistrictsAndCommunitiesForTiedongAndTiexi() throws {
        let c = try anshanCatalogue()
        for j in ["210302", "210303"] {
            let subs = c.units.filter { $0.jurisdiction == j && $0.level == .subDistrict }
            let communities = c.units.filter { $0.jurisdiction == j && $0.level == .community }
            XCTAssertGreaterThanOrEqual(subs.count, 5, j)
            XCTAssertEqual(communities.count, subs.count, "\(j): each sub-district has its community level")
            for s in subs { XCTAssertEqual(s.parent, "\(j)-GOV", s.code) }
            for community in communities {
                XCTAssertEqual(c.unit(community.parent ?? "")?.level, .subDistrict, community.code)
            }
        }
        XCTAssertEqual(c.unit("210302-SD-ZHANQIAN")?.name.hasPrefix("铁东区站前街道"), true)
        XCTAssertEqual(c.unit("AS-WATER")?.level, .cityDepartment)
        XCTAssertEqual(c.unit("210302-CM")?.level, .districtGovernment)
        XCTAssertEqual(c.unit("AS-WATER")?.delivery, .inbox, "the shipped catalogue delivers to the platform's inbox")
        XCTAssertEqual(c.category("food-safety")?.functionalMatter, true)
        XCTAssertEqual(c.category("property-management")?.functionalMatter, false)
    }

    func test_levelAndDeliveryDefaultWhenAbsent() throws {
        let city = try JSONDecoder().decode(HandlingUnit.self, from: Data(#"{"code":"A","name":"a","sector":"s"}"#.utf8))
        XCTAssertEqual(city.level, .cityDepartment)
        XCTAssertEqual(city.delivery, .inbox)
        let district = try JSONDecoder().decode(HandlingUnit.self, from: Data(#"{"code":"B","name":"b","sector":"s","jurisdiction":"1"}"#.utf8))
        XCTAssertEqual(district.level, .districtGovernment)
        let external = try JSONDecoder().decode(HandlingUnit.self, from: Data(
            #"{"code":"C","name":"c","sector":"s","level":"community","delivery":{"kind":"http","url":"https://x.example/in","timeoutMs":900}}"#.utf8))
        XCTAssertEqual(external.level, .community)
        XCTAssertEqual(external.delivery, .http(url: "https://x.example/in", timeoutMs: 900))
        XCTAssertEqual(try JSONDecoder().decode(HandlingUnit.self, from: JSONEncoder().encode(external)), external)
        XCTAssertThrowsError(try JSONDecoder().decode(DeliveryChannel.self, from: Data(#"{"kind":"fax"}"#.utf8)))
    }

    func test_aRuleRoutingAFunctionalMatterDownIsRefusedNamingTheRule() throws {
        var c = try anshanCatalogue()
        let i = try XCTUnwrap(c.rules.firstIndex { $0.category == "food-safety" && $0.jurisdiction == "210302" })
        let id = c.rules[i].id
        c.rules[i].lead = "210302-SD-ZHANQIAN"
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual(error as? CatalogueError,
                           .functionalMatterPushedDown(field: "rules[\(i)].lead", rule: id, category: "food-safety",
                                                       unit: "210302-SD-ZHANQIAN", level: .subDistrict))
            XCTAssertTrue("\(error)".contains(id), "the message names the rule: \(error)")
        }
        c = try anshanCatalogue()
        c.rules[i].coUnits = ["210302-SD-ZHANQIAN-CC"]
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual((error as? CatalogueError)?.field, "rules[\(i)].coUnits[0]")
        }
        // A matter that is not functional may go down.
        c = try anshanCatalogue()
        let p = try XCTUnwrap(c.rules.firstIndex { $0.category == "property-management" && ($0.jurisdiction == "210302" || $0.jurisdiction == "*") })
        c.rules[p].coUnits.append("210302-SD-ZHANQIAN-CC")
        XCTAssertNoThrow(try c.validate())
    }

    func test_checkPushDownRefusesAManualDispatch() throws {
        let c = try anshanCatalogue()
        XCTAssertThrowsError(try c.checkPushDown(category: "road-damage", lead: "210303-SD-FANRONG", coUnits: [])) { error in
            XCTAssertEqual(error as? RoutingError,
                           .functionalMatterPushedDown(category: "road-damage", unit: "210303-SD-FANRONG", level: .subDistrict))
        }
        XCTAssertThrowsError(try c.checkPushDown(category: "road-damage", lead: "210303-CM", coUnits: ["210303-SD-FANRONG-CC"]))
        XCTAssertNoThrow(try c.checkPushDown(category: "road-damage", lead: "210303-CM", coUnits: ["210303-GOV"]))
        XCTAssertNoThrow(try c.checkPushDown(category: "abandoned-building", lead: "210303-SD-FANRONG", coUnits: ["210303-SD-FANRONG-CC"]))
    }

    func test_levelsParentsAndChannelsAreValidated() throws {
        var c = try anshanCatalogue()
        let k = try XCTUnwrap(c.units.firstIndex { $0.code == "210302-SD-JIEFANG-CC" })
        c.units[k].parent = "210302-GOV"
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual((error as? CatalogueError)?.field, "units[\(k)].parent", "a community's parent is a sub-district")
        }
        c = try anshanCatalogue()
        c.units[k].parent = "210303-SD-DALU"
        XCTAssertThrowsError(try c.validate()) { error in XCTAssertEqual((error as? CatalogueError)?.field, "units[\(k)].parent") }
        c = try anshanCatalogue()
        c.units[k].jurisdiction = nil
        c.units[k].parent = nil
        XCTAssertThrowsError(try c.validate()) { error in XCTAssertEqual((error as? CatalogueError)?.field, "units[\(k)].jurisdiction") }
        c = try anshanCatalogue()
        c.units[0].delivery = .http(url: "ftp://water.example/in", timeoutMs: nil)
        XCTAssertThrowsError(try c.validate()) { error in XCTAssertEqual((error as? CatalogueError)?.field, "units[0].delivery") }
        c.units[0].delivery = .http(url: "http://127.0.0.1:8080/in", timeoutMs: 0)
        XCTAssertThrowsError(try c.validate()) { error in XCTAssertEqual((error as? CatalogueError)?.field, "units[0].delivery") }
        c.units[0].delivery = .http(url: "http://127.0.0.1:8080/in", timeoutMs: 2_000)
        XCTAssertNoThrow(try c.validate())
        XCTAssertTrue(c.deliveryChannel(of: c.units[0].code).isExternal)
        XCTAssertEqual(c.deliveryChannel(of: "NO-SUCH-UNIT"), .inbox)
    }
}
