import ActorCluster
import Distributed
import Foundation

/// The office's courier: delivers assignments still `sent` to their units — at once to the platform's inbox,
/// by `HotlineContext.gateway` (HTTP POST) to an external system — and records each outcome on the case:
/// `assignmentDelivered`, or `deliveryFailed` (which raises a `DeliveryAlert`, attempt n). The schedule is pure
/// (`WorkOrder.deliveriesDue` / `nextDeliveryDue` over the recorded failures and `DeliverySettings.retry`); the
/// courier only keeps one timer for the earliest due attempt and the set of attempts in flight.
///
/// Only the office that serves the case delivers (the current owner, after a failover too): a new owner
/// recomputes the schedule from the log it recovered, so a restart neither loses an attempt nor alerts twice for
/// one. An attempt whose outcome was not recorded before the owner changed is made again by the new owner with
/// the same idempotency key (`WorkOrder.deliveryKey`), which the receiving system deduplicates by.
extension DistrictOffice {
    /// The author of delivery records.
    static var courier: EventAuthor { .system(component: "delivery") }

    /// At most this many attempts of one office are under way at once (the rest wait for one to end, in case-id
    /// order): a department that is down with thousands of cases waiting costs a bounded number of connections
    /// and tasks.
    public static let maxDeliveriesInFlight = 8

    /// Sets the courier's timer for the earliest attempt due (attempts in flight excluded), unless it is set for
    /// that instant or earlier already. Nothing when the office does not serve, nothing waits, or
    /// `maxDeliveriesInFlight` attempts are under way (the end of each schedules again).
    func scheduleDeliveries() {
        guard phase == .serving, !awaitingDelivery.isEmpty, deliveriesInFlight.count < Self.maxDeliveriesInFlight else { return }
        let policy = context.delivery.retry
        var next: Date?
        for id in awaitingDelivery {
            guard let order = cases[id]?.order else { continue }
            let busy = Set(order.assignmentsAwaitingDelivery.map(\.id).filter { deliveriesInFlight.contains(order.deliveryKey($0)) })
            if let due = order.nextDeliveryDue(policy: policy, excluding: busy) { next = min(next ?? due, due) }
        }
        guard let next else { return }
        if deliveryTimer != nil, let at = deliveryTimerAt, at <= next { return }
        deliveryTimer?.cancel()
        deliveryTimerAt = next
        // At most a day ahead (the supervision tick sets it again); never negative.
        let delayMs = min(86_400_000, max(0, Int((next.timeIntervalSince(context.now) * 1000).rounded(.up))))
        deliveryTimer = Task { [weak self] in
            if delayMs > 0 { try? await Task.sleep(for: .milliseconds(delayMs)) }
            guard !Task.isCancelled, let self else { return }
            await self.whenLocal { $0.deliveryTimerFired() }
        }
    }

    private func deliveryTimerFired() {
        deliveryTimer = nil
        deliveryTimerAt = nil
        runDeliveries()
    }

    /// Starts every attempt due now that is not in flight, then sets the timer for the next.
    func runDeliveries() {
        guard phase == .serving else { return }
        let now = context.now
        let settings = context.delivery
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for id in awaitingDelivery.sorted() {
            guard let order = cases[id]?.order else { continue }
            for attempt in order.deliveriesDue(at: now, policy: settings.retry) {
                guard deliveriesInFlight.count < Self.maxDeliveriesInFlight else { break }
                let key = order.deliveryKey(attempt.assignment)
                guard deliveriesInFlight.insert(key).inserted else { continue }
                switch context.catalogue.deliveryChannel(of: attempt.unit) {
                case .inbox:
                    // The unit's channel is the platform's inbox now (e.g. the catalogue changed): stored = delivered.
                    Task { [weak self] in
                        await self?.whenLocal { await $0.finishDelivery(id, attempt, key: key, failure: nil) }
                    }
                case .http(let url, let timeoutMs):
                    let body: Data
                    do {
                        guard let notice = order.deliveryNotice(for: attempt) else { deliveriesInFlight.remove(key); continue }
                        body = try encoder.encode(notice)
                    } catch {
                        deliveriesInFlight.remove(key)
                        continue
                    }
                    let request = DeliveryRequest(url: url, timeoutMs: timeoutMs ?? settings.timeoutMs, idempotencyKey: key, body: body)
                    let gateway = context.gateway
                    Task { [weak self] in
                        var failure: DeliveryFailure?
                        do {
                            try await gateway.deliver(request)
                        } catch let e as DeliveryFailure {
                            failure = e
                        } catch {
                            failure = .unreachable("\(error)")
                        }
                        let outcome = failure
                        await self?.whenLocal { await $0.finishDelivery(id, attempt, key: key, failure: outcome) }
                    }
                }
            }
        }
        scheduleDeliveries()
    }

    /// Records an attempt's outcome on the case (one change, replicated like any other) — unless the office no
    /// longer serves it, the assignment is no longer waiting (withdrawn by a new round, confirmed by the unit), or
    /// a failure is stale (another attempt was recorded meanwhile): then nothing is recorded.
    private func finishDelivery(_ id: CaseID, _ attempt: DeliveryAttempt, key: String, failure: DeliveryFailure?) async {
        deliveriesInFlight.remove(key)
        defer { scheduleDeliveries() }
        guard phase == .serving, var log = cases[id], let a = log.order.assignment(attempt.assignment), a.status == .sent else { return }
        if failure != nil, a.deliveryFailures + 1 != attempt.number { return }
        let count = log.events.count
        let body: CaseEventBody = failure.map { .deliveryFailed(assignment: attempt.assignment, reason: "\($0)") }
            ?? .assignmentDelivered(assignment: attempt.assignment)
        do {
            try log.record(body, at: context.now, by: Self.courier)
            try await commit(log, after: count)
        } catch {
            actorSystem.logger.warning("district.delivery_not_recorded", ["jurisdiction": jurisdiction, "case": log.order.number.description,
                                                                         "assignment": "\(attempt.assignment)", "error": "\(error)"])
            return
        }
        let metrics = context.system.metrics
        if let failure {
            metrics.counter("hotline_deliveries_failed_total", help: "Failed attempts to deliver an assignment to a unit's external system (each alerted on the case).").increment()
            var retryInMs = "-"
            if let order = cases[id]?.order, let now = Optional(context.now), let waiting = order.assignment(attempt.assignment) {
                let ms = order.nextDeliveryAttempt(of: waiting, policy: context.delivery.retry).timeIntervalSince(now) * 1000
                retryInMs = "\(max(0, Int(ms.rounded())))"
            }
            actorSystem.logger.warning("district.delivery_failed", ["jurisdiction": jurisdiction, "case": log.order.number.description,
                                                                   "assignment": "\(attempt.assignment)", "unit": attempt.unit,
                                                                   "attempt": attempt.number, "reason": "\(failure)",
                                                                   "retryInMs": retryInMs])
        } else {
            metrics.counter("hotline_deliveries_total", help: "Assignments delivered by the courier (external systems, and inboxes after a channel change); inbox deliveries at dispatch are not counted.").increment()
            if attempt.number > 1 {
                actorSystem.logger.info("district.delivered_after_retry", ["jurisdiction": jurisdiction, "case": log.order.number.description,
                                                                          "assignment": "\(attempt.assignment)", "unit": attempt.unit,
                                                                          "attempt": attempt.number])
            }
        }
    }
}
