import XCTest
@testable import Hotline
@testable import HotlineDomain

/// A replay's verdict follows stated rules, so the report never says "ok" or "match" over nothing.
final class ReplayVerdictTests: XCTestCase {
    func test_lostCasesComeFirst() {
        let v = ReplayVerdict.judge(recordsRead: 10, accepted: 10, duplicates: 0, lost: 2, topRejections: [])
        XCTAssertEqual(v.outcome, .lost)
        XCTAssertEqual(v.exitStatus, 1)
    }

    func test_anAllRejectedTraceIsMostlyRejectedWithItsReasonsFirst() {
        let v = ReplayVerdict.judge(recordsRead: 2_815, accepted: 0, duplicates: 0, lost: 0,
                                    topRejections: [("rejected at intake: category must not be empty", 2_815)])
        XCTAssertEqual(v.outcome, .mostlyRejected)
        XCTAssertEqual(v.exitStatus, 3)
        XCTAssertEqual(v.reason, "2815 of 2815 records were not replayed: rejected at intake: category must not be empty (2815)")
    }

    func test_moreThanHalfRejectedIsMostlyRejected_halfOrMoreReplayedIsOk() {
        XCTAssertEqual(ReplayVerdict.judge(recordsRead: 10, accepted: 4, duplicates: 0, lost: 0, topRejections: []).outcome,
                       .mostlyRejected)
        XCTAssertEqual(ReplayVerdict.judge(recordsRead: 10, accepted: 4, duplicates: 1, lost: 0, topRejections: []).outcome, .ok)
        XCTAssertEqual(ReplayVerdict.judge(recordsRead: 0, accepted: 0, duplicates: 0, lost: 0, topRejections: []).outcome,
                       .mostlyRejected, "nothing accepted is never ok")
    }
}
