import Foundation
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Delivery to units that can fail, as pure rules: "k of n delivered", the retry schedule from the recorded
/// attempts, the notice sent, and what the KPIs and worklists show.
final class DeliveryRuleTests: XCTestCase {
    private let policy = DeliveryRetryPolicy(initialBackoffMs: 1_000, maxBackoffMs: 8_000)

    /// A case dispatched to a lead (210302-CM) and a co-handler (AS-WATER); nothing delivered yet.
    private func dispatchedToTwo() throws -> Scenario {
        var s = try Scenario()
        s.co = ["AS-WATER"]
        try s.drive(to: .dispatched)
        return s
    }

    private var coID: AssignmentID { AssignmentID(2) }

    func test_backoffDoublesFromTheFirstWaitUpToTheCap() {
        XCTAssertEqual((0...6).map { policy.backoffMs(afterFailures: $0) }, [0, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000])
        XCTAssertEqual(policy.backoffMs(afterFailures: 10_000), 8_000, "no overflow for any count")
        let odd = DeliveryRetryPolicy(initialBackoffMs: 300, maxBackoffMs: 1_000)
        XCTAssertEqual((1...4).map { odd.backoffMs(afterFailures: $0) }, [300, 600, 1_000, 1_000])
        let clamped = DeliveryRetryPolicy(initialBackoffMs: 0, maxBackoffMs: -5)
        XCTAssertEqual(clamped.initialBackoffMs, 1)
        XCTAssertEqual(clamped.maxBackoffMs, 1, "a maximum below the first wait is raised to it")
    }

    func test_progressCountsLeadAndCoHandlersOfTheCurrentRound() throws {
        var s = try dispatchedToTwo()
        XCTAssertEqual(s.order.deliveryProgress.description, "0 of 2 delivered")
        XCTAssertEqual(s.order.deliveryProgress.pendingUnits, ["210302-CM", "AS-WATER"])
        try s.deliver(s.leadID)
        XCTAssertEqual(s.order.deliveryProgress.description, "1 of 2 delivered")
        XCTAssertFalse(s.order.isFullyDispatched, "fully dispatched only when the lead and every co-handler have it")
        try s.deliver(coID)
        XCTAssertEqual(s.order.deliveryProgress.description, "2 of 2 delivered")
        XCTAssertTrue(s.order.isFullyDispatched)
        XCTAssertTrue(s.order.assignmentsAwaitingDelivery.isEmpty)
    }

    func test_aCoHandlerNeverReachedBeforeTheCaseMovedOnIsNamed() throws {
        var s = try dispatchedToTwo()
        try s.deliver(s.leadID)
        try s.step(.deliveryFailed(assignment: coID, reason: "timed out after 5000 ms"), by: supervisorTimer)
        try s.sign(s.leadID)
        try s.reply(s.leadID)
        try s.step(.replyReviewed(accepted: true, note: "答复规范"))
        let p = s.order.deliveryProgress
        XCTAssertEqual(p.pendingUnits, [], "nothing more is tried once the co-handler is withdrawn")
        XCTAssertEqual(p.neverReached, ["AS-WATER"])
        XCTAssertEqual(p.description, "1 of 2 delivered; never reached: AS-WATER")
        XCTAssertTrue(s.order.assignmentsAwaitingDelivery.isEmpty)
    }

    func test_aCaseNeverDispatchedHasNothingToDeliver() throws {
        var s = try Scenario()
        try s.drive(to: .pendingDispatch)
        XCTAssertEqual(s.order.deliveryProgress.total, 0)
        XCTAssertFalse(s.order.isFullyDispatched)
        XCTAssertNil(s.order.nextDeliveryDue(policy: policy))
    }

    func test_firstAttemptIsDueAtDispatchThenAfterEachRecordedFailureByBackoff() throws {
        var s = try dispatchedToTwo()
        try s.deliver(s.leadID)
        let sentAt = try XCTUnwrap(s.order.assignment(coID)?.sentAt)
        XCTAssertEqual(s.order.deliveriesDue(at: sentAt, policy: policy),
                       [DeliveryAttempt(assignment: coID, unit: "AS-WATER", role: .coHandler, number: 1)])

        let failedAt = s.now.addingTimeInterval(5)
        try s.step(.deliveryFailed(assignment: coID, reason: "refused: HTTP 503"), by: supervisorTimer, at: failedAt)
        XCTAssertEqual(s.order.deliveryAlerts.last?.attempt, 1, "each failure raises an alert with its attempt number")
        XCTAssertEqual(s.order.nextDeliveryDue(policy: policy), failedAt.addingTimeInterval(1))
        XCTAssertTrue(s.order.deliveriesDue(at: failedAt.addingTimeInterval(0.999), policy: policy).isEmpty, "waits out the backoff")
        XCTAssertEqual(s.order.deliveriesDue(at: failedAt.addingTimeInterval(1), policy: policy).map(\.number), [2])

        let second = failedAt.addingTimeInterval(1)
        try s.step(.deliveryFailed(assignment: coID, reason: "refused: HTTP 503"), by: supervisorTimer, at: second)
        XCTAssertEqual(s.order.nextDeliveryDue(policy: policy), second.addingTimeInterval(2), "the wait doubles")
        XCTAssertEqual(s.order.deliveryProgress.failedAttempts, 2)
        XCTAssertEqual(s.order.deliveryProgress.lastFailure, "refused: HTTP 503")
        XCTAssertEqual(s.order.deliveryProgress.description, "1 of 2 delivered")

        // A new owner after a failover sees the same log and computes the same schedule: no attempt is due
        // before the recorded backoff, so nothing is attempted (or alerted) twice.
        let recovered = try WorkOrder.replay(s.log.events)
        XCTAssertEqual(recovered.nextDeliveryDue(policy: policy), second.addingTimeInterval(2))
        XCTAssertEqual(recovered.deliveriesDue(at: second.addingTimeInterval(2), policy: policy).map(\.number), [3])

        try s.step(.assignmentDelivered(assignment: coID), by: supervisorTimer, at: second.addingTimeInterval(2))
        XCTAssertEqual(s.order.deliveryProgress.description, "2 of 2 delivered")
        XCTAssertNil(s.order.nextDeliveryDue(policy: policy))
        XCTAssertEqual(s.order.deliveryAlerts.count, 2, "alerts stay on the case as its history")
    }

    func test_inFlightAttemptsAreLeftOutOfTheNextWakeUp() throws {
        let s = try dispatchedToTwo()
        let lead = s.leadID
        XCTAssertEqual(s.order.nextDeliveryDue(policy: policy, excluding: [lead]), s.order.assignment(coID)?.sentAt)
        XCTAssertNil(s.order.nextDeliveryDue(policy: policy, excluding: [lead, coID]))
    }

    func test_aDeliveredOrWithdrawnAssignmentRefusesALateFailure() throws {
        var s = try dispatchedToTwo()
        try s.deliver(coID)
        assertRefused(&s, .deliveryFailed(assignment: coID, reason: "timed out after 5000 ms"), by: supervisorTimer,
                      .assignmentNotInStatus(assignment: coID, status: .delivered, event: "deliveryFailed"))
        XCTAssertEqual(s.order.assignmentsAwaitingDelivery.map(\.id), [s.leadID])
    }

    func test_theNoticeCarriesTheIdempotencyKeyAndHidesAReporter() throws {
        var s = try Scenario(kind: .report)
        s.co = ["AS-WATER"]
        try s.drive(to: .dispatched)
        let attempt = try XCTUnwrap(s.order.deliveriesDue(at: s.now, policy: policy).last)
        let notice = try XCTUnwrap(s.order.deliveryNotice(for: attempt))
        XCTAssertEqual(notice.idempotencyKey, "case-1/A2")
        XCTAssertEqual(notice.idempotencyKey, s.order.deliveryKey(coID), "the same key on every attempt")
        XCTAssertEqual(notice.unit, "AS-WATER")
        XCTAssertEqual(notice.role, .coHandler)
        XCTAssertEqual(notice.lead, "210302-CM")
        XCTAssertNil(notice.contactName, "a reporter's identity is never sent to a unit")
        XCTAssertNil(notice.contactPhone)

        var open = try dispatchedToTwo()
        try open.deliver(open.leadID)
        let plain = try XCTUnwrap(open.order.deliveryNotice(for: XCTUnwrap(open.order.deliveriesDue(at: open.now, policy: policy).first)))
        XCTAssertEqual(plain.contactPhone, "13812345678")
        XCTAssertEqual(plain.attempt, 1)
    }

    func test_worklistAndKPIsShowKOfNDelivered() throws {
        var s = try dispatchedToTwo()
        try s.deliver(s.leadID)
        try s.step(.deliveryFailed(assignment: coID, reason: "refused: HTTP 503"), by: supervisorTimer)
        let undelivered = s.order.worklistEntries(for: .undelivered, at: s.now, office: "210302")
        XCTAssertEqual(undelivered.count, 1)
        XCTAssertEqual(undelivered.first?.waitingFor, "delivery")
        XCTAssertEqual(undelivered.first?.delivery?.description, "1 of 2 delivered")
        XCTAssertEqual(undelivered.first?.delivery?.pendingUnits, ["AS-WATER"])

        XCTAssertEqual(s.order.worklistEntries(for: .unitInbox(unit: "AS-WATER"), at: s.now, office: "210302").first?.waitingFor,
                       "delivery", "not yet in the unit's hands: it cannot sign")
        XCTAssertEqual(s.order.worklistEntries(for: .unitInbox(unit: "210302-CM"), at: s.now, office: "210302").first?.waitingFor, "sign")
        var k = KPIReport.compute(orders: [s.order], asOf: s.now).overall
        XCTAssertEqual(k.delivered, Rate(1, 2))
        XCTAssertEqual(k.awaitingDelivery, 1)
        XCTAssertEqual(k.deliveryFailures, 1)
        XCTAssertEqual(k.dispatched, 1, "the lead has it: dispatched, though not fully")

        try s.deliver(coID)
        XCTAssertTrue(s.order.worklistEntries(for: .undelivered, at: s.now, office: "210302").isEmpty)
        k = KPIReport.compute(orders: [s.order], asOf: s.now).overall
        XCTAssertEqual(k.delivered, Rate(2, 2))
        XCTAssertEqual(k.awaitingDelivery, 0)
        XCTAssertTrue(KPIReport.compute(orders: [s.order], asOf: s.now).textTable().contains("assignments delivered"))
    }
}
