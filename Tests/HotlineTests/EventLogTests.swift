import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Every change is a `CaseEvent` with a gap-free per-case sequence; a case is the fold of its events.
final class EventLogTests: XCTestCase {
    func test_sequenceNumbersAreGapFreeStartingAtOne() throws {
        var s = try Scenario()
        try s.drive(to: .closed)
        XCTAssertEqual(s.log.events.map(\.sequence), Array(1...UInt64(s.log.events.count)))
        XCTAssertEqual(s.order.lastSequence, UInt64(s.log.events.count))
    }

    func test_eventWhoseSequenceIsNotTheNextOneIsRefusedAndChangesNothing() throws {
        var s = try Scenario()
        try s.accept()
        let before = s.order
        let skipping = CaseEvent(caseID: s.id, sequence: 4, timestamp: s.now, author: hotlineStaff,
                                 body: .queuedForDispatch(group: "G1"))
        var order = s.order
        XCTAssertThrowsError(try order.apply(skipping)) { error in
            XCTAssertEqual(error as? CaseRuleViolation, .sequenceGap(expected: 3, got: 4))
        }
        XCTAssertEqual(order, before)
        let repeated = CaseEvent(caseID: s.id, sequence: 2, timestamp: s.now, author: hotlineStaff,
                                 body: .queuedForDispatch(group: "G1"))
        XCTAssertThrowsError(try order.apply(repeated)) { error in
            XCTAssertEqual(error as? CaseRuleViolation, .sequenceGap(expected: 3, got: 2))
        }
    }

    func test_firstEventMustBeDraftedWithSequenceOne() {
        let notDraft = CaseEvent(caseID: CaseID("x"), sequence: 1, timestamp: shanghai(2026, 1, 5), author: hotlineStaff,
                                 body: .queuedForDispatch(group: "G1"))
        XCTAssertThrowsError(try WorkOrder(opening: notDraft)) { error in
            XCTAssertEqual(error as? CaseRuleViolation, .firstEventMustBeDrafted(got: "queuedForDispatch"))
        }
        XCTAssertThrowsError(try WorkOrder.replay([])) { error in
            XCTAssertEqual((error as? CaseReplayError)?.violation, .emptyLog)
        }
    }

    func test_eventForAnotherCaseIsRefused() throws {
        var s = try Scenario()
        var order = s.order
        let foreign = CaseEvent(caseID: CaseID("other"), sequence: 2, timestamp: s.now, author: hotlineStaff,
                                body: .accepted(classification: s.classification))
        XCTAssertThrowsError(try order.apply(foreign)) { error in
            XCTAssertEqual(error as? CaseRuleViolation, .wrongCase(expected: CaseID("case-1"), got: CaseID("other")))
        }
        try s.accept()
    }

    func test_eventDatedBeforeThePreviousOneIsRefused() throws {
        var s = try Scenario()
        assertRefused(&s, .accepted(classification: s.classification), after: -3_600,
                      .timestampRegressed(last: shanghai(2026, 3, 2, 9), got: shanghai(2026, 3, 2, 8)))
    }

    func test_replayOfTheLogEqualsTheLiveProjection() throws {
        var s = try Scenario()
        s.co = ["210302-SAMR"]
        try s.drive(to: .closed)
        XCTAssertEqual(try WorkOrder.replay(s.log.events), s.order)
        XCTAssertEqual(try CaseLog(replaying: s.log.events).order, s.order)
    }

    func test_replayNamesTheRefusedEvent() throws {
        var s = try Scenario()
        try s.drive(to: .replied)
        var events = s.log.events
        events.remove(at: 3)  // drop the dispatch: later events no longer fit
        XCTAssertThrowsError(try WorkOrder.replay(events)) { error in
            let replay = error as? CaseReplayError
            XCTAssertEqual(replay?.caseID, s.id)
            XCTAssertEqual(replay?.sequence, 5)
            XCTAssertEqual(replay?.violation, .sequenceGap(expected: 4, got: 5))
        }
    }

    func test_eventsRoundTripThroughJSONWithChineseText() throws {
        var s = try Scenario()
        s.co = ["210302-SAMR"]
        try s.drive(to: .inProgress)
        try s.step(.extensionRequested(assignment: s.leadID, extra: .workingDays(5), reason: "需协调施工单位"),
                   by: s.unit(s.leadID))
        try s.step(.extensionDecided(request: ExtensionID(1), approved: true, note: "同意"))
        try s.step(.reminderSent(assignment: s.leadID, note: "请尽快办理"))
        try s.reply(s.leadID)
        try s.step(.replyReviewed(accepted: true, note: "答复规范"))
        try s.unreachable()
        try s.callback(.basicallySatisfied)
        try s.step(.closed(reason: .callbackCompleted))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(s.log.events)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let decoded = try decoder.decode([CaseEvent].self, from: data)
        XCTAssertEqual(decoded, s.log.events)
        XCTAssertEqual(try WorkOrder.replay(decoded), s.order)
        XCTAssertEqual(s.order.intake.description, "铁东区胜利路路面塌陷，车辆无法通行")
        let orderData = try encoder.encode(s.order)
        XCTAssertEqual(try decoder.decode(WorkOrder.self, from: orderData), s.order)
    }

    func test_caseNumberFormatsAndParses() {
        XCTAssertEqual(CaseNumber(year: 2026, serial: 123).description, "2026-000123")
        XCTAssertEqual(CaseNumber(parsing: "2026-000123"), CaseNumber(year: 2026, serial: 123))
        XCTAssertNil(CaseNumber(parsing: "2026-0"))
        XCTAssertNil(CaseNumber(parsing: "26-000123"))
        XCTAssertNil(CaseNumber(parsing: "2026-abc"))
        XCTAssertThrowsError(try JSONDecoder().decode([CaseNumber].self, from: Data(#"["bad"]"#.utf8)))
    }

    func test_caseLogAppendsOnlyWhatTheRulesAccept() throws {
        var s = try Scenario()
        let count = s.log.events.count
        XCTAssertThrowsError(try s.log.record(.closed(reason: .callbackCompleted), at: s.now, by: hotlineStaff))
        XCTAssertEqual(s.log.events.count, count)
    }
}
