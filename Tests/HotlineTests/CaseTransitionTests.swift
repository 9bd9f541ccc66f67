import XCTest
@testable import Hotline
@testable import HotlineDomain

/// The case state machine: every allowed transition is driven by its event; a representative set of
/// forbidden ones is refused with a reason and changes nothing.
final class CaseTransitionTests: XCTestCase {
    /// Brings a fresh case to `from` and records the event that causes `from → to`.
    private func perform(_ from: CaseStatus, _ to: CaseStatus) throws -> Scenario {
        var s = try Scenario()
        switch (from, to) {
        case (.draft, .accepted):
            try s.accept()
        case (.draft, .outOfScope):
            try s.step(.ruledOutOfScope(ruling: OutOfScopeRuling(reasonCode: "court-proceedings", note: "已起诉")))
        case (.draft, .transferredEmergency):
            try s.step(.transferredToEmergency(service: .fire, note: "楼道起火"))
        case (.accepted, .answeredDirect):
            try s.accept()
            try s.step(.answeredDirect(citation: KnowledgeCitation(articleID: "KB-EPI-0042", version: 6), answer: "…"))
        case (.accepted, .outOfScope):
            try s.accept()
            try s.step(.ruledOutOfScope(ruling: OutOfScopeRuling(reasonCode: "petition-in-progress", note: "")))
        case (.accepted, .transferredEmergency):
            s.urgency = .p0
            try s.accept()
            try s.step(.transferredToEmergency(service: .ambulance, note: "老人摔倒"))
        case (.accepted, .merged):
            try s.accept()
            try s.step(.mergedInto(parent: CaseID("parent"), parentNumber: CaseNumber(year: 2026, serial: 9)))
        case (.accepted, .pendingDispatch):
            try s.drive(to: .pendingDispatch)
        case (.merged, .pendingCallback):
            try s.accept()
            try s.step(.mergedInto(parent: CaseID("parent"), parentNumber: CaseNumber(year: 2026, serial: 9)))
            try s.step(.parentReplyAccepted(parent: CaseID("parent"), summary: "路面已修复"))
        case (.pendingDispatch, .dispatched):
            try s.drive(to: .dispatched)
        case (.pendingDispatch, .merged):
            try s.drive(to: .pendingDispatch)
            try s.step(.mergedInto(parent: CaseID("parent"), parentNumber: CaseNumber(year: 2026, serial: 9)))
        case (.pendingDispatch, .outOfScope):
            try s.drive(to: .pendingDispatch)
            try s.step(.ruledOutOfScope(ruling: OutOfScopeRuling(reasonCode: "not-government", note: "")))
        case (.dispatched, .inProgress):
            try s.drive(to: .inProgress)
        case (.dispatched, .returnReview):
            try s.drive(to: .dispatched)
            try s.deliver(s.leadID)
            try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        case (.inProgress, .returnReview):
            try s.drive(to: .inProgress)
            try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        case (.inProgress, .replied):
            try s.drive(to: .replied)
        case (.returnReview, .pendingDispatch):
            try s.drive(to: .inProgress)
            try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
            try s.step(.returnDecided(assignment: s.leadID, approved: true, note: "改派"))
        case (.returnReview, .inProgress):
            try s.drive(to: .inProgress)
            try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
            try s.step(.returnDecided(assignment: s.leadID, approved: false, note: "属本单位职责"))
        case (.returnReview, .dispatched):
            try s.drive(to: .inProgress)
            try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
            try s.step(.returnDecided(assignment: s.leadID, approved: false, note: "属本单位职责"))
            try s.step(.returnRequested(assignment: s.leadID, reason: "仍非本单位职责"), by: s.unit(s.leadID))
            try s.step(.arbitrated(order: dispatchOrder(lead: "210302-HOUSING", profile: standardProfile(.complaint, .p2)),
                                   note: "仲裁：住建局主办"))
        case (.replied, .pendingCallback):
            try s.drive(to: .pendingCallback)
        case (.replied, .reopened):
            try s.drive(to: .replied)
            try s.step(.replyReviewed(accepted: false, note: "答复未解决诉求"))
        case (.pendingCallback, .closed):
            try s.drive(to: .closed)
        case (.pendingCallback, .reopened):
            try s.drive(to: .pendingCallback)
            try s.callback(.unsatisfied, resolved: false)
            try s.step(.reopened(reason: .citizenUnsatisfied, note: "群众不满意"))
        case (.reopened, .pendingDispatch):
            try s.drive(to: .replied)
            try s.step(.replyReviewed(accepted: false, note: "答复未解决诉求"))
            try s.queue()
        case (.closed, .reopened):
            try s.drive(to: .closed)
            try s.step(.reopened(reason: .citizenRecontact, note: "再次来电"), after: 86_400)
        default:
            XCTFail("no trigger written for \(from.rawValue) → \(to.rawValue)")
        }
        return s
    }

    func test_everyAllowedTransitionIsDrivenByItsEvent() throws {
        var checked = 0
        for (from, targets) in CaseStatus.transitions {
            for to in targets {
                let s = try perform(from, to)
                XCTAssertEqual(s.status, to, "\(from.rawValue) → \(to.rawValue)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 25)
    }

    func test_transitionTableHasExactlyTheBriefStates() {
        XCTAssertEqual(Set(CaseStatus.transitions.keys), Set(CaseStatus.allCases))
        XCTAssertEqual(CaseStatus.allCases.count, 14)
        for status in CaseStatus.allCases {
            for target in CaseStatus.allCases {
                XCTAssertEqual(status.canTransition(to: target), CaseStatus.transitions[status]?.contains(target) ?? false)
            }
        }
    }

    func test_terminalStatesHaveNoWayOut() {
        XCTAssertEqual(Set(CaseStatus.allCases.filter(\.isTerminal)), [.answeredDirect, .outOfScope, .transferredEmergency])
    }

    func test_everyStateIsReachableFromDraft() {
        var seen: Set<CaseStatus> = [.draft]
        var frontier: [CaseStatus] = [.draft]
        while let next = frontier.popLast() {
            for target in CaseStatus.transitions[next] ?? [] where seen.insert(target).inserted { frontier.append(target) }
        }
        XCTAssertEqual(seen, Set(CaseStatus.allCases))
    }

    func test_onlyPendingCallbackLeadsToClosed() {
        let into = CaseStatus.allCases.filter { $0.canTransition(to: .closed) }
        XCTAssertEqual(into, [.pendingCallback])
    }

    // MARK: forbidden transitions

    func test_draftCannotBeDispatched() throws {
        var s = try Scenario()
        assertRefused(&s, .dispatched(order: dispatchOrder(lead: "210302-CM", profile: try standardProfile(.complaint, .p2))),
                      .notClassified(event: "dispatched"))
    }

    func test_acceptedMustBeQueuedBeforeDispatch() throws {
        var s = try Scenario()
        try s.accept()
        assertRefused(&s, .dispatched(order: dispatchOrder(lead: "210302-CM", profile: try standardProfile(.complaint, .p2))),
                      .transitionNotAllowed(from: .accepted, to: .dispatched, event: "dispatched"))
    }

    func test_answeredDirectIsTerminal() throws {
        var s = try Scenario()
        try s.accept()
        try s.step(.answeredDirect(citation: KnowledgeCitation(articleID: "KB-1", version: 1), answer: "…"))
        assertRefused(&s, .queuedForDispatch(group: "G1"),
                      .transitionNotAllowed(from: .answeredDirect, to: .pendingDispatch, event: "queuedForDispatch"))
        assertRefused(&s, .repeatContactLinked(channel: phone8890, externalID: nil, note: ""),
                      .caseNotOpen(status: .answeredDirect))
    }

    func test_transferredEmergencyCannotBeAccepted() throws {
        var s = try Scenario()
        try s.step(.transferredToEmergency(service: .police, note: ""))
        assertRefused(&s, .accepted(classification: s.classification),
                      .transitionNotAllowed(from: .transferredEmergency, to: .accepted, event: "accepted"))
    }

    func test_repliedCannotCloseWithoutCallback() throws {
        var s = try Scenario()
        try s.drive(to: .replied)
        assertRefused(&s, .closed(reason: .callbackCompleted),
                      .transitionNotAllowed(from: .replied, to: .closed, event: "closed"))
    }

    func test_inProgressCannotClose() throws {
        var s = try Scenario()
        try s.drive(to: .inProgress)
        assertRefused(&s, .closed(reason: .callbackCompleted),
                      .transitionNotAllowed(from: .inProgress, to: .closed, event: "closed"))
    }

    func test_mergedCannotBeQueued() throws {
        var s = try Scenario()
        try s.accept()
        try s.step(.mergedInto(parent: CaseID("parent"), parentNumber: CaseNumber(year: 2026, serial: 9)))
        assertRefused(&s, .queuedForDispatch(group: "G1"),
                      .transitionNotAllowed(from: .merged, to: .pendingDispatch, event: "queuedForDispatch"))
    }

    func test_closedCannotBeSignedAgain() throws {
        var s = try Scenario()
        try s.drive(to: .closed)
        assertRefused(&s, .assignmentSigned(assignment: s.leadID), by: s.unit(s.leadID),
                      .assignmentTransitionNotAllowed(assignment: s.leadID, from: .accepted, to: .signed,
                                                      event: "assignmentSigned"))
    }

    func test_firstReturnCannotBeRedispatchedWithoutDecision() throws {
        var s = try Scenario()
        try s.drive(to: .inProgress)
        try s.step(.returnRequested(assignment: s.leadID, reason: "非本单位职责"), by: s.unit(s.leadID))
        assertRefused(&s, .dispatched(order: dispatchOrder(lead: "210302-HOUSING", profile: try standardProfile(.complaint, .p2))),
                      .transitionNotAllowed(from: .returnReview, to: .dispatched, event: "dispatched"))
    }

    func test_outOfScopeCannotBeReopened() throws {
        var s = try Scenario()
        try s.step(.ruledOutOfScope(ruling: OutOfScopeRuling(reasonCode: "court-proceedings", note: "")))
        assertRefused(&s, .reopened(reason: .citizenRecontact, note: ""),
                      .transitionNotAllowed(from: .outOfScope, to: .reopened, event: "reopened"))
    }

    func test_pendingDispatchCannotReceiveReply() throws {
        var s = try Scenario()
        try s.drive(to: .pendingDispatch)
        assertRefused(&s, .unitReplied(assignment: AssignmentID(1), text: "已办"), by: .unit(code: "210302-CM"),
                      .unknownAssignment(AssignmentID(1)))
    }
}
