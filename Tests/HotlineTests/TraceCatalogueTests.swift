import Foundation
import Hotline
import XCTest

final class TraceCatalogueTests: XCTestCase {
    func test_catalogueDerivedFromTheSFSampleValidatesAndRoutesEveryRecordToItsMostCommonAgency() throws {
        let read = try TraceReader().readCSV(data: Data(contentsOf: TraceReaderTests.sfSample))
        let derived = TraceCatalogue.derive(from: read.records, name: "sf")
        let reloaded = try RoutingCatalogue.load(from: derived.jsonData())  // validation runs on load
        XCTAssertEqual(Set(reloaded.jurisdictions.map(\.code)), Set((1...11).map { "D\($0)" } + ["CITY"]))
        XCTAssertEqual(reloaded.dispatchGroups.count, 4)
        XCTAssertEqual(Set(reloaded.dispatchGroups.flatMap(\.jurisdictions)).count, 12, "each jurisdiction in one group")
        for r in read.records.prefix(500) {
            let decision = try reloaded.route(category: r.category, jurisdiction: TraceCatalogue.jurisdiction(forDistrict: r.district))
            XCTAssertFalse(decision.usedFallback, "\(r.category) in \(r.district ?? "-")")
            XCTAssertNotNil(reloaded.unit(decision.lead))
        }
    }

    func test_shippedSanFranciscoCatalogueLoads() throws {
        let url = TraceReaderTests.sfSample.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("catalogs/san-francisco-311.json")
        let catalogue = try RoutingCatalogue.load(from: Data(contentsOf: url))
        XCTAssertEqual(catalogue.version, "derived-10000")
        XCTAssertNotNil(catalogue.jurisdiction("CITY"))
    }
}
