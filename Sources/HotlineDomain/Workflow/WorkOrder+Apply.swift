import Foundation

extension WorkOrder {
    /// Opens a case from its first event.
    /// - Throws: `CaseRuleViolation.sequenceGap` unless `sequence == 1`; `.firstEventMustBeDrafted` unless the
    ///   body is `.drafted`.
    public init(opening event: CaseEvent) throws(CaseRuleViolation) {
        guard event.sequence == 1 else { throw .sequenceGap(expected: 1, got: event.sequence) }
        guard case .drafted(let number, let intake) = event.body else {
            throw .firstEventMustBeDrafted(got: event.body.name)
        }
        self.init(id: event.caseID, number: number, intake: intake, at: event.timestamp)
    }

    /// Folds a whole log into a case.
    /// - Throws: `CaseReplayError` naming the case, the sequence number of the refused event and the violation.
    public static func replay(_ events: [CaseEvent], settings: WorkflowSettings = .default)
        throws(CaseReplayError) -> WorkOrder
    {
        guard let first = events.first else { throw CaseReplayError(caseID: nil, sequence: nil, violation: .emptyLog) }
        var order: WorkOrder
        do {
            order = try WorkOrder(opening: first)
        } catch {
            throw CaseReplayError(caseID: first.caseID, sequence: first.sequence, violation: error)
        }
        for event in events.dropFirst() {
            do {
                try order.apply(event, settings: settings)
            } catch {
                throw CaseReplayError(caseID: first.caseID, sequence: event.sequence, violation: error)
            }
        }
        return order
    }

    /// The case after `event`, leaving `self` unchanged. - Throws: see `apply(_:settings:)`.
    public func applying(_ event: CaseEvent, settings: WorkflowSettings = .default) throws(CaseRuleViolation)
        -> WorkOrder
    {
        var copy = self
        try copy.apply(event, settings: settings)
        return copy
    }

    /// Applies the next event. On any violation nothing changes.
    /// - Throws: `CaseRuleViolation`: wrong case, sequence not `lastSequence + 1`, timestamp before the previous
    ///   event, a transition the table forbids, an author the rule forbids, or a broken rule (see the cases).
    public mutating func apply(_ event: CaseEvent, settings: WorkflowSettings = .default) throws(CaseRuleViolation) {
        guard event.caseID == id else { throw .wrongCase(expected: id, got: event.caseID) }
        guard event.sequence == lastSequence + 1 else { throw .sequenceGap(expected: lastSequence + 1, got: event.sequence) }
        guard event.timestamp >= lastEventAt else { throw .timestampRegressed(last: lastEventAt, got: event.timestamp) }
        var next = self
        try next.handle(event, settings: settings)
        next.lastSequence = event.sequence
        next.lastEventAt = event.timestamp
        self = next
    }

    // MARK: - Dispatch on the body

    private mutating func handle(_ event: CaseEvent, settings: WorkflowSettings) throws(CaseRuleViolation) {
        let t = event.timestamp
        switch event.body {
        case .drafted:
            throw .notAllowedInStatus(event: event.body.name, status: status)

        case .classificationProposed(let proposal):
            try requireHotline(event)
            guard status == .draft else { throw .notAllowedInStatus(event: event.body.name, status: status) }
            for (field, value) in [("confidence", proposal.confidence), ("categoryConfidence", proposal.categoryConfidence),
                                   ("jurisdictionConfidence", proposal.jurisdictionConfidence)]
            where !(0...1).contains(value) {
                throw .invalidField(field: "proposal.\(field)", reason: "\(value) is not between 0 and 1")
            }
            classificationProposal = proposal

        case .queuedForClassification(let group):
            try requireHotline(event)
            guard status == .draft else { throw .notAllowedInStatus(event: event.body.name, status: status) }
            guard classificationProposal != nil, classificationReview == nil else {
                throw .notAwaitingClassification(event: event.body.name)
            }
            if group.trimmingCharacters(in: .whitespaces).isEmpty { throw .invalidField(field: "group", reason: "must not be empty") }
            classificationQueue = group
            classificationQueuedAt = t

        case .classificationReviewed(let review):
            try requireHotline(event)
            guard status == .draft else { throw .notAllowedInStatus(event: event.body.name, status: status) }
            guard classificationQueue != nil else { throw .notAwaitingClassification(event: event.body.name) }
            for (field, value) in [("category", review.category), ("jurisdiction", review.jurisdiction)]
            where value.trimmingCharacters(in: .whitespaces).isEmpty {
                throw .invalidField(field: "review.\(field)", reason: "must not be empty")
            }
            classificationReview = review
            classificationReviewedAt = t
            classificationReviewedBy = event.author
            classificationQueue = nil

        case .accepted(let c):
            try requireHotline(event)
            for (field, value) in [("category", c.category), ("sector", c.sector), ("jurisdiction", c.jurisdiction)]
            where value.trimmingCharacters(in: .whitespaces).isEmpty {
                throw .invalidField(field: "classification.\(field)", reason: "must not be empty")
            }
            if let group = classificationQueue { throw .classificationPending(group: group) }
            if let r = classificationReview,
               (r.category, r.jurisdiction, r.urgency, r.kind) != (c.category, c.jurisdiction, c.urgency, c.kind) {
                throw .invalidField(field: "classification",
                                    reason: "differs from the dispatcher's review (\(r.category) @\(r.jurisdiction) \(r.urgency.rawValue) \(r.kind.rawValue))")
            }
            try move(to: .accepted, event)
            classification = c
            acceptedAt = t
            if c.kind == .report { contact.confidential = true }

        case .answeredDirect(let citation, let answer):
            try requireHotline(event)
            if classification?.urgency == .p0 { throw .emergencyMustBeTransferred }
            if citation.articleID.isEmpty { throw .invalidField(field: "citation.articleID", reason: "must not be empty") }
            if citation.version < 1 { throw .invalidField(field: "citation.version", reason: "must be 1 or more") }
            try move(to: .answeredDirect, event)
            directAnswer = DirectAnswer(citation: citation, answer: answer, at: t)

        case .ruledOutOfScope(let ruling):
            try requireHotline(event)
            if ruling.reasonCode.isEmpty { throw .invalidField(field: "ruling.reasonCode", reason: "must not be empty") }
            try move(to: .outOfScope, event)
            outOfScope = ruling

        case .transferredToEmergency(let service, let note):
            try requireHotline(event)
            if let urgency = classification?.urgency, urgency != .p0 { throw .notAnEmergency(urgency: urgency) }
            try move(to: .transferredEmergency, event)
            emergencyTransfer = EmergencyTransfer(service: service, at: t, note: note)

        case .mergedInto(let parent, let parentNumber, let match):
            try requireHotline(event)
            if parent == id { throw .mergeIntoSelf }
            if classification?.urgency == .p0 { throw .emergencyMustBeTransferred }
            try move(to: .merged, event)
            mergedInto = parent
            mergedIntoNumber = parentNumber
            mergeMatch = match

        case .duplicateAttached(let child, _):
            try requireHotline(event)
            if child == id { throw .mergeIntoSelf }
            guard status.acceptsLinks else { throw .parentNotOpen(parent: id, status: status) }
            if duplicates.contains(child) { throw .duplicateAlreadyAttached(child) }
            duplicates.append(child)

        case .parentReplyAccepted(let parent, _):
            try requireHotline(event)
            guard mergedInto == parent else { throw .notMergedInto(expected: mergedInto, got: parent) }
            // Already waiting for its callback: the lead was redone and its new reply accepted, so this caller is
            // to be told the new reply and the callback clock starts again from it.
            if status != .pendingCallback { try move(to: .pendingCallback, event) }
            startCallbackRound(at: t, limit: settings.mergedChildCallback, settings: settings)

        case .repeatContactLinked(let channel, let externalID, let note, let match):
            if case .unit = event.author {
                throw .authorNotAllowed(event: event.body.name, author: event.author, rule: "units do not link contacts")
            }
            guard status.isOpen, status != .draft else { throw .caseNotOpen(status: status) }
            repeatContacts.append(RepeatContact(at: t, channel: channel, externalID: externalID, note: note, match: match))

        case .dutyRoomAlerted(let dutyRoom, let note):
            try requireHotline(event)
            // An emergency proposal reaches the duty room while the case still waits for classification.
            guard classification != nil || classificationProposal != nil else { throw .notClassified(event: event.body.name) }
            guard status.isOpen else { throw .notAllowedInStatus(event: event.body.name, status: status) }
            if dutyRoom.isEmpty { throw .invalidField(field: "dutyRoom", reason: "must not be empty") }
            dutyRoomAlerts.append(DutyRoomAlert(dutyRoom: dutyRoom, at: t, note: note))

        case .dutyRoomAcknowledged(let note):
            guard let index = dutyRoomAlerts.firstIndex(where: { !$0.isAcknowledged }) else {
                throw .noUnacknowledgedDutyRoomAlert
            }
            let room = dutyRoomAlerts[index].dutyRoom
            switch event.author {
            case .hotline: break
            case .unit(let code) where code == room: break
            default:
                throw .authorNotAllowed(event: event.body.name, author: event.author,
                                        rule: "only duty room \(room) or hotline staff acknowledge")
            }
            dutyRoomAlerts[index].acknowledgedAt = t
            dutyRoomAlerts[index].acknowledgedBy = event.author
            dutyRoomAlerts[index].acknowledgementNote = note

        case .queuedForDispatch(let group):
            try requireHotline(event)
            let c = try requireClassified(event)
            if c.urgency == .p0 { throw .emergencyMustBeTransferred }
            if c.requiresDutyRoomAlert, dutyRoomAlerts.isEmpty { throw .dutyRoomAlertRequired(category: c.category) }
            if group.isEmpty { throw .invalidField(field: "group", reason: "must not be empty") }
            try move(to: .pendingDispatch, event)
            queuedGroup = group

        case .dispatched(let order):
            try requireHotline(event)
            let c = try requireClassified(event)
            guard status.canTransition(to: .dispatched), status != .returnReview else {
                throw .transitionNotAllowed(from: status, to: .dispatched, event: event.body.name)
            }
            if c.urgency == .p0 { throw .emergencyMustBeTransferred }
            if c.requiresDutyRoomAlert, dutyRoomAlerts.isEmpty { throw .dutyRoomAlertRequired(category: c.category) }
            if let binding = bindingLead, order.decision.lead != binding { throw .arbitrationIsBinding(lead: binding) }
            try startRound(order, at: t, arbitrated: false, settings: settings)
            try move(to: .dispatched, event)

        case .assignmentDelivered(let a):
            let i = try index(of: a)
            switch event.author {
            case .system, .hotline: break
            case .unit(let code) where code == assignments[i].unit: break
            default:
                throw .authorNotAllowed(event: event.body.name, author: event.author,
                                        rule: "delivery is confirmed by the hotline's gateway or the unit itself")
            }
            try moveAssignment(i, to: .delivered, event)
            assignments[i].deliveredAt = t

        case .deliveryFailed(let a, let reason):
            try requireHotline(event)
            let i = try index(of: a)
            guard assignments[i].status == .sent else {
                throw .assignmentNotInStatus(assignment: a, status: assignments[i].status, event: event.body.name)
            }
            assignments[i].deliveryFailures += 1
            deliveryAlerts.append(DeliveryAlert(assignment: a, unit: assignments[i].unit, at: t, reason: reason,
                                                attempt: assignments[i].deliveryFailures))

        case .deliveryRetried(let a):
            try requireHotline(event)
            let i = try index(of: a)
            guard assignments[i].status == .sent, assignments[i].deliveryFailures > assignments[i].deliveryRetries else {
                throw .noFailedDeliveryToRetry(a)
            }
            assignments[i].deliveryRetries += 1

        case .assignmentSigned(let a):
            let i = try index(of: a)
            try requireAssignedUnit(i, event)
            try moveAssignment(i, to: .signed, event)
            assignments[i].signedAt = t
            if assignments[i].role == .lead, status == .dispatched { try move(to: .inProgress, event) }

        case .progressReported(let a, let note):
            let i = try index(of: a)
            try requireAssignedUnit(i, event)
            guard assignments[i].status.isHandling else {
                throw .assignmentNotInStatus(assignment: a, status: assignments[i].status, event: event.body.name)
            }
            if assignments[i].firstFeedbackAt == nil { assignments[i].firstFeedbackAt = t }
            progressReports.append(ProgressReport(assignment: a, unit: assignments[i].unit, at: t, note: note))

        case .returnRequested(let a, let reason):
            let i = try index(of: a)
            try requireAssignedUnit(i, event)
            let role = assignments[i].role
            if role == .lead, assignments[i].arbitrated { throw .arbitrationIsBinding(lead: assignments[i].unit) }
            let second = role == .lead && leadReturnCount >= 1
            try moveAssignment(i, to: .returnRequested, event)
            if role == .lead { try move(to: .returnReview, event) }
            returns.append(ReturnRecord(assignment: a, unit: assignments[i].unit, role: role, at: t, reason: reason,
                                        requiresArbitration: second))

        case .returnDecided(let a, let approved, let note):
            try requireHotline(event)
            let i = try index(of: a)
            guard let r = returns.lastIndex(where: { $0.assignment == a && $0.decision == nil }) else {
                throw .noPendingReturn(a)
            }
            if returns[r].requiresArbitration { throw .secondReturnRequiresArbitration(assignment: a) }
            let isLead = assignments[i].role == .lead
            if approved {
                try moveAssignment(i, to: .returnApproved, event)
                assignments[i].finishedAt = t
                if isLead {
                    withdrawOpenAssignments(at: t)
                    try move(to: .pendingDispatch, event)
                }
            } else {
                try moveAssignment(i, to: .returnRejected, event)
                if isLead { try move(to: .inProgress, event) }
            }
            returns[r].decision = approved ? .approved : .rejected
            returns[r].decidedAt = t
            returns[r].note = note

        case .arbitrated(let order, let note):
            try requireHotline(event)
            guard let r = returns.lastIndex(where: { $0.requiresArbitration && $0.decision == nil }) else {
                throw .noArbitrationPending
            }
            guard status.canTransition(to: .dispatched) else {
                throw .transitionNotAllowed(from: status, to: .dispatched, event: event.body.name)
            }
            let i = try index(of: returns[r].assignment)
            try moveAssignment(i, to: .returnApproved, event)
            assignments[i].finishedAt = t
            returns[r].decision = .arbitrated
            returns[r].decidedAt = t
            returns[r].note = note
            try startRound(order, at: t, arbitrated: true, settings: settings)
            bindingLead = order.decision.lead
            try move(to: .dispatched, event)

        case .extensionRequested(let a, let extra, let reason):
            let i = try index(of: a)
            try requireAssignedUnit(i, event)
            guard assignments[i].role == .lead else { throw .extensionOnlyForLead(a) }
            guard assignments[i].status.isHandling else {
                throw .assignmentNotInStatus(assignment: a, status: assignments[i].status, event: event.body.name)
            }
            guard extra.isPositive else { throw .invalidField(field: "extra", reason: "must be more than zero") }
            guard extra.isWithinExtensionBound else {
                throw .invalidField(field: "extra", reason: "at most \(SLALimit.maxExtensionWorkingDays) working days or \(SLALimit.maxExtensionMinutes / 60) hours")
            }
            let due = assignments[i].due.handle
            guard t <= due else { throw .extensionRequestedAfterDeadline(due: due, requestedAt: t) }
            if let pending = extensions.first(where: { $0.assignment == a && $0.isPending }) {
                throw .extensionAlreadyPending(pending.id)
            }
            let max = profile(of: assignments[i])?.maxExtensions ?? 0
            let used = extensions.filter { $0.assignment == a && $0.decision == .approved }.count
            guard used < max else { throw .extensionLimitReached(max: max) }
            extensions.append(ExtensionRequest(id: ExtensionID(extensions.count + 1), assignment: a, requestedAt: t,
                                               extra: extra, reason: reason, dueAtRequest: due))

        case .extensionDecided(let requestID, let approved, let note):
            try requireHotline(event)
            guard let e = extensions.firstIndex(where: { $0.id == requestID }) else { throw .unknownExtension(requestID) }
            guard extensions[e].isPending else { throw .extensionAlreadyDecided(requestID) }
            extensions[e].decision = approved ? .approved : .denied
            extensions[e].decidedAt = t
            extensions[e].note = note
            if approved, let i = assignments.firstIndex(where: { $0.id == extensions[e].assignment }) {
                let newDue = Deadline.due(start: assignments[i].due.handle, limit: extensions[e].extra,
                                          calendar: settings.calendar)
                assignments[i].due.handle = newDue
                extensions[e].newDue = newDue
            }

        case .reminderSent(let a, let note):
            try requireHotline(event)
            guard status.isOpen, status != .draft, status != .accepted else {
                throw .notAllowedInStatus(event: event.body.name, status: status)
            }
            if let a { _ = try index(of: a) }
            reminders.append(Reminder(at: t, assignment: a, note: note))

        case .supervisionEscalated(let level, let a, let reason):
            try requireHotline(event)
            guard status.isOpen, status != .draft else { throw .notAllowedInStatus(event: event.body.name, status: status) }
            if escalations.contains(where: { $0.level == level && $0.assignment == a }) {
                throw .escalationAlreadyFired(level: level, assignment: a)
            }
            if let blocker = try escalationBlocker(level: level, assignment: a, at: t, settings: settings) {
                throw .escalationNotDue(level: level, reason: blocker)
            }
            escalations.append(SupervisionEscalation(level: level, assignment: a, at: t, reason: reason))

        case .unitReplied(let a, let text):
            let i = try index(of: a)
            try requireAssignedUnit(i, event)
            if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw .invalidField(field: "text", reason: "a reply must say something")
            }
            try moveAssignment(i, to: .replied, event)
            assignments[i].repliedAt = t
            if assignments[i].firstFeedbackAt == nil { assignments[i].firstFeedbackAt = t }
            let addressee: Reply.Addressee
            if assignments[i].role == .lead {
                try move(to: .replied, event)
                addressee = .hotline
            } else {
                let lead = assignments.last { $0.role == .lead && $0.round == assignments[i].round }
                addressee = .leadUnit(code: lead?.unit ?? "")
            }
            replies.append(Reply(assignment: a, unit: assignments[i].unit, at: t, text: text, addressee: addressee))

        case .replyReviewed(let accepted, let note):
            try requireHotline(event)
            guard status == .replied, let lead = leadAssignment, lead.status == .replied,
                  let li = assignments.firstIndex(where: { $0.id == lead.id })
            else { throw .noReplyToReview }
            let round = lead.round
            if accepted {
                try moveAssignment(li, to: .accepted, event)
                assignments[li].finishedAt = t
                for k in assignments.indices where assignments[k].round == round && assignments[k].role == .coHandler {
                    if assignments[k].status == .replied {
                        assignments[k].status = .accepted
                        assignments[k].finishedAt = t
                    } else if !assignments[k].status.isFinished {
                        assignments[k].status = .withdrawn
                        assignments[k].finishedAt = t
                    }
                }
                try move(to: .pendingCallback, event)
                let limit = profile(of: lead)?.callback ?? settings.mergedChildCallback
                startCallbackRound(at: t, limit: limit, settings: settings)
            } else {
                try moveAssignment(li, to: .sentBack, event)
                assignments[li].finishedAt = t
                for k in assignments.indices
                where assignments[k].round == round && assignments[k].role == .coHandler && assignments[k].status == .replied {
                    assignments[k].status = .sentBack
                    assignments[k].finishedAt = t
                }
                try move(to: .reopened, event)
                reopenings.append(Reopening(at: t, from: .replied, reason: .reviewRejected, note: note, countsAsRepeat: false))
            }
            reviews.append(ReplyReview(at: t, accepted: accepted, note: note, reviewer: event.author))

        case .callbackAttempted(let outcome):
            guard event.author.isHotlineSide else { throw .onlyHotlineRecordsSatisfaction(author: event.author) }
            guard status == .pendingCallback else { throw .notAllowedInStatus(event: event.body.name, status: status) }
            callbacks.append(CallbackAttempt(at: t, by: event.author, outcome: outcome, round: callbackRound))

        case .reopened(let reason, let note):
            try requireHotline(event)
            let from = status
            var countsAsRepeat = false
            switch (from, reason) {
            case (.pendingCallback, .citizenUnsatisfied), (.pendingCallback, .citizenUnresolved):
                guard lastEvaluationThisRound != nil else { throw .reopenNeedsReachedCallback }
            case (.closed, .citizenRecontact):
                let closedAt = closures.last?.at ?? statusChangedAt
                let window = Double(settings.repeatWindowDays) * 86_400
                guard t.timeIntervalSince(closedAt) <= window else {
                    throw .reopenWindowElapsed(closedAt: closedAt, windowDays: settings.repeatWindowDays)
                }
                countsAsRepeat = true
            case (.pendingCallback, _), (.closed, _):
                throw .reopenReasonNotAllowed(reason: reason, from: from)
            default:
                throw .transitionNotAllowed(from: from, to: .reopened, event: event.body.name)
            }
            try move(to: .reopened, event)
            reopenings.append(Reopening(at: t, from: from, reason: reason, note: note, countsAsRepeat: countsAsRepeat))

        case .closed(let reason):
            guard event.author.isHotlineSide else { throw .onlyHotlineMayClose(author: event.author) }
            guard status.canTransition(to: .closed) else {
                throw .transitionNotAllowed(from: status, to: .closed, event: event.body.name)
            }
            let required = settings.unreachableAttemptsToClose
            let evaluation = lastEvaluationThisRound
            switch reason {
            case .callbackCompleted:
                guard evaluation != nil else {
                    throw .callbackRequiredBeforeClose(unreachableAttempts: unreachableAttemptsThisRound, required: required)
                }
            case .unreachable:
                if evaluation != nil {
                    throw .invalidField(field: "reason", reason: "the citizen was reached: close with callbackCompleted")
                }
                guard unreachableAttemptsThisRound >= required else {
                    throw .callbackRequiredBeforeClose(unreachableAttempts: unreachableAttemptsThisRound, required: required)
                }
            }
            try move(to: .closed, event)
            closures.append(Closure(at: t, reason: reason, by: event.author, evaluation: evaluation))
        }
    }

    // MARK: - Helpers

    private mutating func move(to target: CaseStatus, _ event: CaseEvent) throws(CaseRuleViolation) {
        guard status.canTransition(to: target) else {
            throw .transitionNotAllowed(from: status, to: target, event: event.body.name)
        }
        status = target
        statusChangedAt = event.timestamp
    }

    private func requireHotline(_ event: CaseEvent) throws(CaseRuleViolation) {
        guard event.author.isHotlineSide else {
            throw .authorNotAllowed(event: event.body.name, author: event.author,
                                    rule: "only the hotline records this; a unit can sign, return, ask for time and reply")
        }
    }

    private func requireClassified(_ event: CaseEvent) throws(CaseRuleViolation) -> Classification {
        guard let c = classification else { throw .notClassified(event: event.body.name) }
        return c
    }

    private func index(of id: AssignmentID) throws(CaseRuleViolation) -> Int {
        guard let i = assignments.firstIndex(where: { $0.id == id }) else { throw .unknownAssignment(id) }
        return i
    }

    private func requireAssignedUnit(_ i: Int, _ event: CaseEvent) throws(CaseRuleViolation) {
        guard event.author.unitCode == assignments[i].unit else {
            throw .notTheAssignedUnit(assignment: assignments[i].id, assignedUnit: assignments[i].unit,
                                      author: event.author)
        }
    }

    private mutating func moveAssignment(_ i: Int, to target: AssignmentStatus, _ event: CaseEvent)
        throws(CaseRuleViolation)
    {
        let current = assignments[i].status
        guard current.canTransition(to: target) else {
            throw .assignmentTransitionNotAllowed(assignment: assignments[i].id, from: current, to: target,
                                                  event: event.body.name)
        }
        assignments[i].status = target
    }

    private mutating func withdrawOpenAssignments(at t: Date) {
        for k in assignments.indices where !assignments[k].status.isFinished && assignments[k].status != .returnRequested {
            assignments[k].status = .withdrawn
            assignments[k].finishedAt = t
        }
    }

    /// The SLA profile snapshot an assignment's dues were derived from.
    func profile(of assignment: Assignment) -> SLAProfile? {
        dispatches.first { $0.round == assignment.round }?.profile
    }

    /// Creates one lead + co-handler assignments; all dues derived from `t`, the profile and the calendar.
    private mutating func startRound(_ order: DispatchOrder, at t: Date, arbitrated: Bool, settings: WorkflowSettings)
        throws(CaseRuleViolation)
    {
        let lead = order.decision.lead
        if lead.trimmingCharacters(in: .whitespaces).isEmpty { throw .invalidDispatch(reason: "no lead unit") }
        var seen: Set<String> = [lead]
        for co in order.decision.coUnits {
            if co == lead { throw .invalidDispatch(reason: "lead \(lead) is also listed as a co-unit") }
            if !seen.insert(co).inserted { throw .invalidDispatch(reason: "co-unit \(co) is listed twice") }
        }
        let profile = order.profile
        for (field, limit) in [("sign", profile.sign), ("handle", profile.handle), ("callback", profile.callback)]
        where !limit.isPositive {
            throw .invalidField(field: "order.profile.\(field)", reason: "limit must be more than zero")
        }
        withdrawOpenAssignments(at: t)
        let calendar = settings.calendar
        let handle = Deadline.due(start: t, limit: profile.handle, calendar: calendar)
        let due = AssignmentDue(
            sign: Deadline.due(start: t, limit: profile.sign, calendar: calendar),
            firstFeedback: profile.firstFeedback.map { Deadline.due(start: t, limit: $0, calendar: calendar) },
            handle: handle, originalHandle: handle)
        let round = currentRound + 1
        var ids: [AssignmentID] = []
        for (unit, role) in [(lead, AssignmentRole.lead)] + order.decision.coUnits.map({ ($0, AssignmentRole.coHandler) }) {
            let id = AssignmentID(assignments.count + 1)
            assignments.append(Assignment(id: id, unit: unit, role: role, round: round, profileID: profile.id,
                                          arbitrated: arbitrated, sentAt: t, due: due))
            ids.append(id)
        }
        dispatches.append(DispatchRecord(round: round, at: t, decision: order.decision, profile: profile,
                                         arbitrated: arbitrated, assignments: ids))
    }

    private mutating func startCallbackRound(at t: Date, limit: SLALimit, settings: WorkflowSettings) {
        callbackRound += 1
        callbackDue = Deadline.due(start: t, limit: limit, calendar: settings.calendar)
    }
}
