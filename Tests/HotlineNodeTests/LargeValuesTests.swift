import ActorCluster
import Foundation
import Hotline
import XCTest

/// Cases with the largest legal texts cross node processes: the analyst's pages are sized by bytes, so a
/// district whose event logs add up to many frames still reports (the field report: 160 cases of 20,000
/// Chinese characters each made a 500-case page of ~9.6 MB, above the 8 MiB frame limit, and the replay
/// waited out its timeout with no report).
final class LargeValuesTests: XCTestCase {
    func test_reportOverCasesWithTheLargestLegalTextsPagesByBytesAcrossNodes() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let (front, district, client) = try await harness.startFrontAndDistrict(catalogue: ChineseMessagesTests.catalogue(),
                                                                                callTimeout: .seconds(30))
        let intake = try HotlineNode.on(front.node, system: client)
        let office = try DistrictOffice.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.district("A"), on: district.node),
                                                using: client)

        // 20,000 characters of 3-byte UTF-8 (the most a description may hold), different per case.
        let cases = 160
        var total = 0
        for i in 0..<cases {
            let unit = Array("市民反映小区供暖不热请尽快处理第\(i)号")
            let description = String((0..<20_000).map { unit[$0 % unit.count] })
            XCTAssertEqual(description.count, 20_000)
            let receipt = try await intake.submit(CitizenRequest(channel: "web", externalID: "big-\(i)", kind: .complaint,
                                                                 category: "message", jurisdiction: "A",
                                                                 description: description))
            _ = try await office.unitAct(receipt.ref.id, unit: nil, .sign)
            _ = try await office.unitAct(receipt.ref.id, unit: nil, .reply(text: description))
            total += description.utf8.count * 2
        }
        XCTAssertGreaterThan(total, Wire.defaultMaxFrameBytes, "the district's events must exceed one frame")

        let analyst = try Analyst.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.analysis, on: front.node), using: client)
        let started = ContinuousClock.now
        let report = try await analyst.report(asOf: nil)
        XCTAssertEqual(report.overall.cases, cases)
        XCTAssertEqual(report.overall.replied, cases)
        XCTAssertTrue(report.rejectedLogs.isEmpty)
        print("report over \(cases) cases of \(total) text bytes took \(ContinuousClock.now - started)")

        // Pages are sized by bytes: a 1 MiB page of these cases holds far fewer than 500.
        let page = try await office.eventLogs(after: nil, maxBytes: 1 << 20)
        XCTAssertGreaterThan(page.count, 0)
        XCTAssertLessThan(page.count, 20)
    }
}
