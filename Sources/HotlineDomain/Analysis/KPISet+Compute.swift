import Foundation

extension KPISet {
    /// Computes the KPIs of `orders`. `asOf` is the reference instant for "past due" (unreplied/unsigned
    /// assignments whose deadline passed before `asOf` are judged late; those not yet due are not judged).
    public init(orders: [WorkOrder], asOf: Date) {
        var valid = 0, answered = 0, outOfScope = 0, emergency = 0, merged = 0
        var dispatched = 0, replied = 0, closed = 0, closedDispatched = 0, closedUnreachable = 0
        var deliveryFailures = 0, awaitingDelivery = 0, roundDelivered = 0, roundAssignments = 0, leadReturns = 0, arbitrations = 0, reopenings = 0
        var judgedReplies = 0, onTimeReplies = 0, judgedSigns = 0, onTimeSigns = 0
        var extRequested = 0, extApproved = 0, extDenied = 0
        var reached = 0, unreachable = 0, satisfied = 0, resolved = 0
        var dueCallback = 0, calledBack = 0, reachedCases = 0
        var repeatCases = 0, returnedCases = 0, reopenedCases = 0
        var repeatOpenCases = 0, repeatClosedCases = 0, repeatsOpen = 0, repeatsClosed = 0
        var proposed = 0, automatic = 0, byDispatcher = 0, corrected = 0, awaiting = 0
        var waitSeconds: [TimeInterval] = []
        var replySeconds: [TimeInterval] = [], closeSeconds: [TimeInterval] = [], latencySeconds: [TimeInterval] = []

        for order in orders {
            if order.classificationProposal != nil { proposed += 1 }
            if order.wasClassifiedAutomatically { automatic += 1 }
            if order.isAwaitingClassification { awaiting += 1 }
            if let review = order.classificationReview {
                byDispatcher += 1
                if review.isCorrection { corrected += 1 }
                if let queued = order.classificationQueuedAt, let at = order.classificationReviewedAt {
                    waitSeconds.append(at.timeIntervalSince(queued))
                }
            }
            let isValid = order.acceptedAt != nil && order.status != .transferredEmergency && order.status != .outOfScope
            if isValid { valid += 1 }
            switch order.status {
            case .answeredDirect: answered += 1
            case .outOfScope: outOfScope += 1
            case .transferredEmergency: emergency += 1
            default: break
            }
            if order.mergedInto != nil { merged += 1 }
            if order.status == .closed {
                closed += 1
                if order.closures.last?.reason == .unreachable { closedUnreachable += 1 }
            }
            deliveryFailures += order.assignments.reduce(0) { $0 + $1.deliveryFailures }
            if order.currentRound > 0 {
                let progress = order.deliveryProgress
                roundDelivered += progress.delivered
                roundAssignments += progress.total
                if !order.assignmentsAwaitingDelivery.isEmpty { awaitingDelivery += 1 }
            }
            leadReturns += order.leadReturnCount
            arbitrations += order.returns.filter(\.requiresArbitration).count
            reopenings += order.reopenCount
            extRequested += order.extensions.count
            extApproved += order.extensions.filter { $0.decision == .approved }.count
            extDenied += order.extensions.filter { $0.decision == .denied }.count

            for attempt in order.callbacks {
                if let evaluation = attempt.outcome.evaluation {
                    reached += 1
                    if evaluation.satisfaction.countsAsSatisfied { satisfied += 1 }
                    if evaluation.resolved { resolved += 1 }
                } else {
                    unreachable += 1
                }
            }
            if order.callbackRound >= 1 {
                dueCallback += 1
                if !order.callbacks.isEmpty { calledBack += 1 }
                if order.callbacks.contains(where: { $0.outcome.evaluation != nil }) { reachedCases += 1 }
            }
            // A contact after close reopens the case (`countsAsRepeat`) and is linked to it (`afterClose`): counted
            // once, as after close; the other links came while the case was open.
            let whileOpen = order.repeatContacts.filter { !$0.afterClose }.count
            let afterClose = order.reopenings.filter(\.countsAsRepeat).count
            repeatsOpen += whileOpen
            repeatsClosed += afterClose
            if isValid, whileOpen > 0 || afterClose > 0 || !order.repeatContacts.isEmpty {
                repeatCases += 1
                if whileOpen > 0 { repeatOpenCases += 1 }
                if afterClose > 0 { repeatClosedCases += 1 }
            }

            let leads = order.assignments.filter { $0.role == .lead && $0.wasDelivered }
            for lead in leads where ![.returnApproved, .withdrawn, .returnRequested].contains(lead.status) {
                if let repliedAt = lead.repliedAt {
                    judgedReplies += 1
                    if repliedAt <= lead.due.handle { onTimeReplies += 1 }
                } else if asOf > lead.due.handle {
                    judgedReplies += 1
                }
                if let signedAt = lead.signedAt {
                    judgedSigns += 1
                    if signedAt <= lead.due.sign { onTimeSigns += 1 }
                } else if lead.status == .delivered, asOf > lead.due.sign {
                    judgedSigns += 1
                }
            }

            guard order.isDispatchConfirmed else { continue }
            dispatched += 1
            if order.status == .closed { closedDispatched += 1 }
            if order.leadReturnCount >= 1 { returnedCases += 1 }
            if order.reopenCount >= 1 { reopenedCases += 1 }
            let lastReply = order.assignments
                .filter { $0.role == .lead && ($0.status == .replied || $0.status == .accepted) }
                .compactMap(\.repliedAt).max()
            if order.assignments.contains(where: { $0.role == .lead && $0.repliedAt != nil }) { replied += 1 }
            if let firstDispatch = order.dispatches.first?.at {
                if let lastReply { replySeconds.append(lastReply.timeIntervalSince(firstDispatch)) }
                if let acceptedAt = order.acceptedAt { latencySeconds.append(firstDispatch.timeIntervalSince(acceptedAt)) }
            }
        }
        for order in orders where order.status == .closed {
            if let closedAt = order.closures.last?.at { closeSeconds.append(closedAt.timeIntervalSince(order.createdAt)) }
        }

        cases = orders.count
        validRequests = valid
        answeredDirect = answered
        self.outOfScope = outOfScope
        transferredEmergency = emergency
        self.merged = merged
        self.dispatched = dispatched
        self.replied = replied
        self.closed = closed
        self.closedUnreachable = closedUnreachable
        self.deliveryFailures = deliveryFailures
        self.awaitingDelivery = awaitingDelivery
        self.leadReturns = leadReturns
        self.arbitrations = arbitrations
        self.reopenings = reopenings
        overdueReplies = judgedReplies - onTimeReplies
        overdueSigns = judgedSigns - onTimeSigns
        extensionsRequested = extRequested
        extensionsApproved = extApproved
        extensionsDenied = extDenied
        callbacksReached = reached
        callbacksUnreachable = unreachable
        repeatContactsWhileOpen = repeatsOpen
        repeatContactsAfterClose = repeatsClosed

        completion = Rate(closedDispatched, dispatched)
        replyRate = Rate(replied, dispatched)
        onTimeReply = Rate(onTimeReplies, judgedReplies)
        onTimeSign = Rate(onTimeSigns, judgedSigns)
        satisfaction = Rate(satisfied, reached)
        resolution = Rate(resolved, reached)
        directAnswer = Rate(answered, valid)
        callback = Rate(calledBack, dueCallback)
        effectiveCallback = Rate(reachedCases, dueCallback)
        repeatContact = Rate(repeatCases, valid)
        repeatContactWhileOpen = Rate(repeatOpenCases, valid)
        repeatContactAfterClose = Rate(repeatClosedCases, valid)
        returnRate = Rate(returnedCases, dispatched)
        reopenRate = Rate(reopenedCases, dispatched)
        delivered = Rate(roundDelivered, roundAssignments)

        dispatchToReplyDays = DurationStatistic(seconds: replySeconds, unit: .days)
        intakeToCloseDays = DurationStatistic(seconds: closeSeconds, unit: .days)
        dispatchLatencyHours = DurationStatistic(seconds: latencySeconds, unit: .hours)

        classificationProposed = proposed
        classifiedAutomatically = automatic
        classifiedByDispatcher = byDispatcher
        classificationCorrected = corrected
        awaitingClassification = awaiting
        automaticClassification = Rate(automatic, automatic + byDispatcher)
        correctedClassification = Rate(corrected, byDispatcher)
        classificationWaitHours = DurationStatistic(seconds: waitSeconds, unit: .hours)
    }
}
