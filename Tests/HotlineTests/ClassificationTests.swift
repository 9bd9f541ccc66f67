import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Classification at intake (`Classifier` over the Anshan catalogue's vocabulary) and the classification
/// queue's events: proposals, a dispatcher's review, and the KPIs they feed.
final class ClassificationTests: XCTestCase {
    func test_chineseRequestNamingARoadInOneDistrictAndACategoryBySynonymIsClassifiedAndRouted() throws {
        let catalogue = try anshanCatalogue()
        let classifier = Classifier(catalogue: catalogue)
        // 南胜利路 is a Tiedong road; 灯不亮 / 黑灯瞎火 are street-lighting synonyms (the category is 路灯).
        let p = classifier.propose(description: "南胜利路这边好几盏灯不亮了，晚上黑灯瞎火的，行人很不安全")
        XCTAssertEqual(p.category, "street-lighting")
        XCTAssertEqual(p.evidence.category, ["灯不亮", "黑灯瞎火"])
        XCTAssertEqual(p.jurisdiction, "210302")
        XCTAssertEqual(p.evidence.jurisdiction, ["南胜利路"])
        XCTAssertEqual(p.urgency, .p2)
        XCTAssertEqual(p.categoryConfidence, 1)
        XCTAssertEqual(p.jurisdictionConfidence, 1)
        XCTAssertGreaterThanOrEqual(p.confidence, catalogue.classification.autoThreshold)
        let c = try catalogue.classification(kind: p.kind, category: "street-lighting", urgency: p.urgency, jurisdiction: "210302")
        let route = try catalogue.route(category: c.category, jurisdiction: c.jurisdiction)
        XCTAssertEqual(route.lead, try catalogue.route(category: "street-lighting", jurisdiction: "210302").lead)
        XCTAssertEqual(route.dispatchGroup, catalogue.rules.first { $0.id == route.ruleID }?.group ?? "G1")
        XCTAssertFalse(route.usedFallback)
    }

    func test_fullWidthTraditionalAndSpacedFormsMatchTheSamePlaces() throws {
        let classifier = Classifier(catalogue: try anshanCatalogue())
        // Traditional place name, full-width digits, a stray blank inside a phrase.
        let traditional = classifier.propose(description: "鐵西區環鋼路附近路燈不亮")
        XCTAssertEqual(traditional.jurisdiction, "210303")
        XCTAssertEqual(traditional.category, "street-lighting")
        let fullWidth = classifier.propose(description: "２１９公园门口的垃 圾没人清运")
        XCTAssertEqual(fullWidth.jurisdiction, "210302")
        XCTAssertEqual(fullWidth.evidence.jurisdiction, ["219公园"])
        XCTAssertEqual(fullWidth.category, "sanitation")
        // A name inside a longer matched name does not count: 千山区 is the district, not the scenic area 千山.
        let district = classifier.propose(description: "千山区汤岗子附近路面塌陷")
        XCTAssertEqual(district.jurisdiction, "210311")
        XCTAssertEqual(district.evidence.jurisdiction, ["千山区", "汤岗子"])
        // English words need a word boundary at their start.
        let english = classifier.propose(description: "The streetlight outside my flat in Tiexi is out; I walk home from the theatre in the dark")
        XCTAssertEqual(english.jurisdiction, "210303")
        XCTAssertEqual(english.category, "street-lighting")
        XCTAssertEqual(english.evidence.category, ["street light"], "`streetlight` normalises like `street light`: one phrase")
    }

    func test_emergencyPhraseRaisesUrgencyEvenWhenTheCategoryIsUncertain() throws {
        let catalogue = try anshanCatalogue()
        let p = Classifier(catalogue: catalogue).propose(description: "铁西区有一位老人被困在屋里出不来，家属联系不上，请快来人")
        XCTAssertNil(p.category, "no category phrase matched")
        XCTAssertEqual(p.categoryConfidence, 0)
        XCTAssertEqual(p.jurisdiction, "210303")
        XCTAssertEqual(p.urgency, .p1)
        XCTAssertEqual(p.evidence.urgency, ["被困"])
        XCTAssertTrue(p.isEmergency)
        XCTAssertLessThan(p.confidence, catalogue.classification.autoThreshold)
    }

    /// Found by a breaker: a P0 request without a category waited in the queue without alerting the duty room,
    /// and its emergency phrase was dropped from the evidence because an urgency was given.
    func test_aP0RequestWithoutACategoryIsAnEmergencyAndKeepsItsEvidence() throws {
        let catalogue = try anshanCatalogue()
        let p = Classifier(catalogue: catalogue).propose(description: "有人被困在电梯", given: .init(urgency: .p0))
        XCTAssertEqual(p.urgency, .p0, "the given urgency is kept")
        XCTAssertEqual(p.evidence.urgency, ["被困", "困在电梯"], "the phrases are evidence whatever urgency was given")
        XCTAssertTrue(p.isEmergency)
        let plain = Classifier(catalogue: catalogue).propose(description: "路灯坏了", given: .init(urgency: .p0))
        XCTAssertEqual(plain.evidence.urgency, [])
        XCTAssertTrue(plain.isEmergency, "P0 is an emergency even without a phrase")
    }

    func test_givenFieldsAreKeptAndAWeakSingleHintWaits() throws {
        let catalogue = try anshanCatalogue()
        let classifier = Classifier(catalogue: catalogue)
        let given = classifier.propose(description: "小区停水两天了", given: .init(jurisdiction: "210381"))
        XCTAssertEqual(given.jurisdiction, "210381")
        XCTAssertEqual(given.jurisdictionConfidence, 1)
        XCTAssertEqual(given.category, "water-outage")
        XCTAssertEqual(given.categoryConfidence, 0.67)  // one 2-character phrase: 2 ÷ 3
        XCTAssertEqual(given.urgency, .p1, "water outage is a livelihood category")
        // Two categories with one 2-character phrase each, no place: half the share, no jurisdiction.
        let weak = classifier.propose(description: "物业说停水")
        XCTAssertNil(weak.jurisdiction)
        XCTAssertEqual(weak.confidence, 0)
        XCTAssertEqual(weak.categoryConfidence, 0.33)
    }

    func test_catalogueRefusesABadThresholdAndAnUnknownHoldingJurisdiction() throws {
        var c = try anshanCatalogue()
        c.classification.autoThreshold = 1.5
        XCTAssertThrowsError(try c.validate()) {
            XCTAssertEqual(($0 as? CatalogueError)?.field, "classification.autoThreshold")
        }
        c.classification.autoThreshold = 0.6
        c.classification.holdingJurisdiction = "nowhere"
        XCTAssertThrowsError(try c.validate()) {
            XCTAssertEqual($0 as? CatalogueError, .unknownJurisdiction(field: "classification.holdingJurisdiction", code: "nowhere"))
        }
    }

    // MARK: events

    func proposal(category: String? = "road-damage", jurisdiction: String? = "210302", confidence: Double = 0.4,
                  urgency: Urgency = .p2) -> ClassificationProposal {
        ClassificationProposal(category: category, jurisdiction: jurisdiction, urgency: urgency, kind: .complaint,
                               evidence: ClassificationEvidence(category: ["路面塌陷"]), categoryConfidence: confidence,
                               jurisdictionConfidence: 1)
    }

    func test_aCaseInTheClassificationQueueIsAcceptedOnlyAfterTheDispatchersReview() throws {
        var s = try Scenario()
        try s.step(.classificationProposed(proposal: proposal()))
        try s.step(.queuedForClassification(group: "G1"))
        XCTAssertTrue(s.order.isAwaitingClassification)
        assertRefused(&s, .accepted(classification: s.classification), .classificationPending(group: "G1"))
        // The dispatcher corrects the jurisdiction: the review records which fields changed.
        s.jurisdiction = "210303"
        let review = ClassificationReview(category: "road-damage", jurisdiction: "210303", urgency: .p2, kind: .complaint,
                                          proposal: proposal(), note: "胜利路 here is the Tiexi stretch")
        XCTAssertEqual(review.corrected, ["jurisdiction"])
        try s.step(.classificationReviewed(review: review), after: 1800)
        XCTAssertFalse(s.order.isAwaitingClassification)
        // Accepting something other than the review is refused.
        var other = s.classification
        other.jurisdiction = "210302"
        assertRefused(&s, .accepted(classification: other), .invalidField(
            field: "classification", reason: "differs from the dispatcher's review (road-damage @210303 P2 complaint)"))
        try s.accept()
        XCTAssertEqual(s.order.classification?.jurisdiction, "210303")
        assertRefused(&s, .classificationReviewed(review: review), .notAllowedInStatus(event: "classificationReviewed", status: .accepted))
    }

    func test_anEmergencyProposalAlertsTheDutyRoomWhileWaiting() throws {
        var s = try Scenario()
        try s.step(.classificationProposed(proposal: proposal(category: nil, urgency: .p1)))
        try s.step(.dutyRoomAlerted(dutyRoom: "210302-DUTY", note: "emergency words: 被困"))
        try s.step(.queuedForClassification(group: "G1"))
        XCTAssertEqual(s.order.dutyRoomAlerts.map(\.dutyRoom), ["210302-DUTY"])
        XCTAssertEqual(s.status, .draft)
    }

    func test_classificationKPIsCountAutomaticCorrectedAndWaitingTime() throws {
        var auto = try Scenario("auto")
        try auto.step(.classificationProposed(proposal: proposal(confidence: 0.9)))
        try auto.accept()
        var corrected = try Scenario("corrected")
        try corrected.step(.classificationProposed(proposal: proposal()))
        try corrected.step(.queuedForClassification(group: "G1"))
        corrected.category = "street-lighting"
        try corrected.step(.classificationReviewed(review: ClassificationReview(
            category: "street-lighting", jurisdiction: "210302", urgency: .p2, kind: .complaint, proposal: proposal())), after: 2 * 3600)
        try corrected.accept()
        var confirmed = try Scenario("confirmed")
        try confirmed.step(.classificationProposed(proposal: proposal()))
        try confirmed.step(.queuedForClassification(group: "G1"))
        try confirmed.step(.classificationReviewed(review: ClassificationReview(
            category: "road-damage", jurisdiction: "210302", urgency: .p2, kind: .complaint, proposal: proposal())), after: 3600)
        try confirmed.accept()
        var waiting = try Scenario("waiting")
        try waiting.step(.classificationProposed(proposal: proposal()))
        try waiting.step(.queuedForClassification(group: "G1"))
        let given = try Scenario("given")

        let k = KPISet(orders: [auto.order, corrected.order, confirmed.order, waiting.order, given.order], asOf: shanghai(2026, 3, 3))
        XCTAssertEqual(k.classificationProposed, 4)
        XCTAssertEqual(k.classifiedAutomatically, 1)
        XCTAssertEqual(k.classifiedByDispatcher, 2)
        XCTAssertEqual(k.classificationCorrected, 1)
        XCTAssertEqual(k.awaitingClassification, 1)
        XCTAssertEqual(k.automaticClassification, Rate(1, 3))
        XCTAssertEqual(k.correctedClassification, Rate(1, 2))
        XCTAssertEqual(k.classificationWaitHours.count, 2)
        XCTAssertEqual(k.classificationWaitHours.average, 1.5)  // 2 h and 1 h
    }
}
