import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Each assignment has its own machine: sent → delivered → signed → (returnRequested → returnApproved |
/// returnRejected) → replied → accepted | sentBack (+ withdrawn).
final class AssignmentTransitionTests: XCTestCase {
    func test_tableMatchesTheBrief() {
        let t = AssignmentStatus.transitions
        XCTAssertEqual(t[.sent], [.delivered, .withdrawn])
        XCTAssertEqual(t[.delivered], [.signed, .returnRequested, .withdrawn])
        XCTAssertEqual(t[.signed], [.returnRequested, .replied, .withdrawn])
        XCTAssertEqual(t[.returnRequested], [.returnApproved, .returnRejected])
        XCTAssertEqual(t[.replied], [.accepted, .sentBack, .withdrawn])
        XCTAssertEqual(Set(AssignmentStatus.allCases.filter(\.isFinished)), [.accepted, .sentBack, .returnApproved, .withdrawn])
        XCTAssertFalse(AssignmentStatus.sent.canTransition(to: .signed))
        XCTAssertFalse(AssignmentStatus.sent.canTransition(to: .replied))
    }

    func test_leadAssignmentWalksTheHappyPath() throws {
        var s = try Scenario()
        try s.drive(to: .dispatched)
        let a = s.leadID
        XCTAssertEqual(s.order.assignment(a)?.status, .sent)
        try s.deliver(a)
        XCTAssertEqual(s.order.assignment(a)?.status, .delivered)
        try s.sign(a)
        XCTAssertEqual(s.order.assignment(a)?.status, .signed)
        try s.reply(a)
        XCTAssertEqual(s.order.assignment(a)?.status, .replied)
        try s.step(.replyReviewed(accepted: true, note: ""))
        XCTAssertEqual(s.order.assignment(a)?.status, .accepted)
    }

    func test_rejectedReviewSendsTheAssignmentBack() throws {
        var s = try Scenario()
        try s.drive(to: .replied)
        try s.step(.replyReviewed(accepted: false, note: "答非所问"))
        XCTAssertEqual(s.order.assignment(s.leadID)?.status, .sentBack)
        XCTAssertEqual(s.status, .reopened)
        XCTAssertEqual(s.order.reopenings.last?.reason, .reviewRejected)
    }

    func test_replyBeforeSigningIsRefused() throws {
        var s = try Scenario()
        try s.drive(to: .dispatched)
        try s.deliver(s.leadID)
        assertRefused(&s, .unitReplied(assignment: s.leadID, text: "已办"), by: s.unit(s.leadID),
                      .assignmentTransitionNotAllowed(assignment: s.leadID, from: .delivered, to: .replied,
                                                      event: "unitReplied"))
    }

    func test_redispatchWithdrawsOpenAssignmentsOfThePreviousRound() throws {
        var s = try Scenario()
        s.co = ["210302-SAMR"]
        try s.drive(to: .inProgress)
        let co = try XCTUnwrap(s.order.coAssignments.first?.id)
        try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        try s.step(.returnDecided(assignment: s.leadID, approved: true, note: "改派"))
        XCTAssertEqual(s.order.assignment(co)?.status, .withdrawn)
        XCTAssertEqual(s.order.assignment(AssignmentID(1))?.status, .returnApproved)
    }
}
