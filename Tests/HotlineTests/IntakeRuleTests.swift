import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Intake rules: P0 emergencies are transferred; direct answers cite the article; P1 livelihood alerts the
/// duty room at once; reporters are confidential; Chinese text is ordinary content.
final class IntakeRuleTests: XCTestCase {
    func test_p0EmergencyIsTransferredAndTerminal() throws {
        var s = try Scenario(kind: .help, urgency: .p0, category: "gas-supply")
        try s.accept()
        assertRefused(&s, .queuedForDispatch(group: "G1"), .emergencyMustBeTransferred)
        assertRefused(&s, .answeredDirect(citation: KnowledgeCitation(articleID: "KB-1", version: 1), answer: ""),
                      .emergencyMustBeTransferred)
        try s.step(.transferredToEmergency(service: .fire, note: "燃气泄漏起火，已转119"))
        XCTAssertEqual(s.status, .transferredEmergency)
        XCTAssertTrue(s.status.isTerminal)
        XCTAssertEqual(s.order.emergencyTransfer?.service.rawValue, "119")
        let k = KPIReport.compute(orders: [s.order], asOf: s.now).overall
        XCTAssertEqual(k.transferredEmergency, 1)
        XCTAssertEqual(k.validRequests, 0, "emergencies are outside the hotline's KPIs")
    }

    func test_nonEmergencyIsNotTransferred() throws {
        var s = try Scenario(urgency: .p2)
        try s.accept()
        assertRefused(&s, .transferredToEmergency(service: .police, note: ""), .notAnEmergency(urgency: .p2))
    }

    func test_directAnswerCitesArticleIDAndVersion() throws {
        var s = try Scenario(kind: .consultation, category: "epidemic-consultation")
        try s.accept()
        assertRefused(&s, .answeredDirect(citation: KnowledgeCitation(articleID: "", version: 1), answer: "…"),
                      .invalidField(field: "citation.articleID", reason: "must not be empty"))
        assertRefused(&s, .answeredDirect(citation: KnowledgeCitation(articleID: "KB-EPI-0042", version: 0), answer: "…"),
                      .invalidField(field: "citation.version", reason: "must be 1 or more"))
        try s.step(.answeredDirect(citation: KnowledgeCitation(articleID: "KB-EPI-0042", version: 6),
                                   answer: "返鞍人员需提前三天向社区报备"))
        XCTAssertEqual(s.status, .answeredDirect)
        XCTAssertEqual(s.order.directAnswer?.citation, KnowledgeCitation(articleID: "KB-EPI-0042", version: 6))
        XCTAssertEqual(KPIReport.compute(orders: [s.order], asOf: s.now).overall.directAnswer, Rate(1, 1))
    }

    func test_outOfScopeRecordsAReasonCode() throws {
        var s = try Scenario()
        assertRefused(&s, .ruledOutOfScope(ruling: OutOfScopeRuling(reasonCode: "", note: "")),
                      .invalidField(field: "ruling.reasonCode", reason: "must not be empty"))
        try s.step(.ruledOutOfScope(ruling: OutOfScopeRuling(reasonCode: "court-proceedings", note: "已进入诉讼程序")))
        XCTAssertEqual(s.order.outOfScope?.reasonCode, "court-proceedings")
    }

    func test_p1LivelihoodAlertsTheDistrictDutyRoomAtOnce() throws {
        let catalogue = try anshanCatalogue()
        let classification = try catalogue.classification(kind: .help, category: "heating-failure", urgency: .p1,
                                                          jurisdiction: "210303")
        XCTAssertTrue(classification.livelihood)
        XCTAssertTrue(classification.requiresDutyRoomAlert)
        XCTAssertEqual(classification.sector, "utilities")

        var s = try Scenario(at: shanghai(2026, 1, 11, 2), kind: .help, urgency: .p1, category: "heating-failure")
        try s.step(.accepted(classification: classification))
        XCTAssertTrue(s.order.needsDutyRoomAlert)
        assertRefused(&s, .queuedForDispatch(group: "G4"), .dutyRoomAlertRequired(category: "heating-failure"))
        assertRefused(&s, .dutyRoomAcknowledged(note: ""), by: .unit(code: "210303-DUTY"), .noUnacknowledgedDutyRoomAlert)

        let room = try catalogue.dutyRoom(for: "210303")
        XCTAssertEqual(room, "210303-DUTY")
        try s.step(.dutyRoomAlerted(dutyRoom: room, note: "铁西区某小区整栋楼停暖，室温8度"), after: 30)
        assertRefusedAny(&s, .dutyRoomAcknowledged(note: ""), by: .unit(code: "210302-DUTY"))
        try s.step(.dutyRoomAcknowledged(note: "值班室已通知热力公司，区里派人到现场"), by: .unit(code: room), after: 120)
        XCTAssertEqual(s.order.dutyRoomAlerts.count, 1)
        XCTAssertTrue(s.order.dutyRoomAlerts[0].isAcknowledged)
        XCTAssertEqual(s.order.dutyRoomAlerts[0].acknowledgedBy, .unit(code: "210303-DUTY"))
        XCTAssertFalse(s.order.needsDutyRoomAlert)
        try s.step(.queuedForDispatch(group: "G4"))
        try s.step(.dispatched(order: try catalogue.dispatchOrder(for: classification)))
        XCTAssertEqual(s.order.leadAssignment?.unit, "AS-HEAT")
        XCTAssertEqual(s.order.coAssignments.map(\.unit), ["210303-GOV"], "the district goes on site")
        XCTAssertEqual(s.order.leadAssignment?.due.sign, s.now.addingTimeInterval(30 * 60))
    }

    func test_ordinaryCategoryNeedsNoDutyRoom() throws {
        var s = try Scenario(urgency: .p1, category: "road-damage")
        try s.accept()
        XCTAssertFalse(s.order.needsDutyRoomAlert)
        try s.queue()
    }

    func test_reporterOfAReportIsConfidential() throws {
        var s = try Scenario(kind: .report, contact: CitizenContact(name: "王五", phone: "13812345678"))
        try s.accept()
        XCTAssertTrue(s.order.contact.confidential)
        XCTAssertEqual(s.order.contact.description, "(confidential reporter)")
        XCTAssertFalse(s.order.description.contains("王"))
        XCTAssertFalse(s.order.description.contains("5678"))
        var dumped = ""
        dump(s.order.contact, to: &dumped)
        XCTAssertFalse(dumped.contains("13812345678"))
    }

    func test_logFormMasksThePhone() throws {
        let contact = CitizenContact(name: "张三丰", phone: "13812345678")
        XCTAssertEqual(contact.maskedPhone, "138****5678")
        XCTAssertEqual(contact.description, "张** 138****5678")
        XCTAssertEqual("\(contact)", "张** 138****5678")
        XCTAssertFalse(String(reflecting: contact).contains("12345678"))
        XCTAssertEqual(CitizenContact(name: "", phone: "110").maskedPhone, "****")
        let s = try Scenario(contact: contact)
        XCTAssertTrue(s.order.description.contains("138****5678"))
        XCTAssertFalse(s.order.description.contains("13812345678"))
    }

    func test_channelsAreData() throws {
        let wechat = Channel(code: "wechat-12345", name: "12345 微信公众号")
        var s = try Scenario(channel: wechat)
        try s.accept()
        XCTAssertEqual(s.order.intake.channel, wechat)
        XCTAssertEqual(KPIReport.compute(orders: [s.order], asOf: s.now).breakdown(.channel)?.rows.map(\.key), ["wechat-12345"])
    }
}
