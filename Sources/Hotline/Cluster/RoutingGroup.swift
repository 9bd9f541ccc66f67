import ActorCluster
import Distributed
import Foundation

/// A dispatch (routing) group (`/hotline/dispatch/<group>`): owns 2–3 jurisdictions; assigns each case to
/// its lead unit and co-units by the routing catalogue (recording the rule and catalogue version used, or
/// the fallback to the jurisdiction's government), reviews replies and decides on returns.
public distributed actor RoutingGroup {
    public typealias ActorSystem = ClusterSystem

    private let context: HotlineContext
    private let group: String

    public init(group: String, context: HotlineContext) {
        self.group = group
        self.context = context
        self.actorSystem = context.system
    }

    private var staff: EventAuthor { .hotline(staff: "dispatch-\(group)") }

    /// The dispatch order for a classification (catalogue routing; records nothing). Intake asks for it
    /// before opening a case so the office records intake and dispatch in one change.
    ///
    /// - Throws: `HotlineError.routing`.
    /// With `assignedUnit` (a unit the catalogue knows, other than its lead) the dispatcher follows it and
    /// records the catalogue's lead as `overriddenLead`.
    public distributed func route(_ classification: Classification, assignedUnit: String?) throws -> DispatchOrder {
        var order: DispatchOrder
        do {
            order = try context.catalogue.dispatchOrder(for: classification)
        } catch {
            throw HotlineError.routing("\(error)")
        }
        if let unit = assignedUnit, unit != order.decision.lead, context.catalogue.unit(unit) != nil {
            order.decision.overriddenLead = order.decision.lead
            order.decision.lead = unit
            order.decision.coUnits.removeAll { $0 == unit }
        }
        return order
    }

    /// The author this group records as.
    public distributed func author() -> EventAuthor { staff }

    /// Routes the case by the catalogue and dispatches it (assignments sent and delivered).
    ///
    /// - Throws: `HotlineError.routing` or what the district office throws.
    public distributed func dispatch(_ ref: CaseRef, classification: Classification) async throws -> CaseSnapshot {
        let order: DispatchOrder
        do {
            order = try context.catalogue.dispatchOrder(for: classification)
        } catch {
            throw HotlineError.routing("\(error)")
        }
        return try await context.districtOffice(ref.jurisdiction).dispatch(ref.id, order: order, by: staff)
    }

    /// Reviews the lead unit's reply: accepted → pending callback; rejected → reopened.
    public distributed func reviewReply(_ ref: CaseRef, accepted: Bool, note: String) async throws -> CaseEvent {
        try await context.districtOffice(ref.jurisdiction).record(ref.id, .replyReviewed(accepted: accepted, note: note),
                                                                 by: staff)
    }

    /// Decides on a first return (approved → the case goes back to dispatch; a second return needs
    /// arbitration, which the workflow enforces).
    public distributed func decideReturn(_ ref: CaseRef, assignment: AssignmentID, approved: Bool, note: String) async throws -> CaseEvent {
        try await context.districtOffice(ref.jurisdiction).record(
            ref.id, .returnDecided(assignment: assignment, approved: approved, note: note), by: staff)
    }
}

/// The callback desk (`/hotline/callback`): after a reply is accepted, calls the citizen back and records the
/// outcome. Satisfied (or basically satisfied) and resolved → closed; unsatisfied or unresolved → reopened;
/// unreachable → closed as unreachable once the workflow's attempt limit is reached, otherwise left pending.
public distributed actor CallbackDesk {
    public typealias ActorSystem = ClusterSystem

    private let context: HotlineContext

    public init(context: HotlineContext) {
        self.context = context
        self.actorSystem = context.system
    }

    /// Records one callback attempt and its consequence in one change at the district office. Returns the
    /// case's status afterwards.
    public distributed func callBack(_ ref: CaseRef, outcome: CallbackOutcome) async throws -> CaseStatus {
        let bodies: [CaseEventBody]
        let required: Int
        switch outcome {
        case .reached(let evaluation):
            if evaluation.resolved && evaluation.satisfaction.countsAsSatisfied {
                bodies = [.callbackAttempted(outcome: outcome), .closed(reason: .callbackCompleted)]
            } else {
                let reason: ReopenReason = evaluation.resolved ? .citizenUnsatisfied : .citizenUnresolved
                bodies = [.callbackAttempted(outcome: outcome), .reopened(reason: reason, note: "callback")]
            }
            required = 2
        case .unreachable:
            // The workflow refuses the close until enough attempts were made; then the case stays pending.
            bodies = [.callbackAttempted(outcome: outcome), .closed(reason: .unreachable)]
            required = 1
        }
        return try await context.districtOffice(ref.jurisdiction)
            .recordAll(ref.id, bodies, required: required, by: .hotline(staff: "callback")).status
    }
}

/// Supervision (`/hotline/supervision`): on each tick, has every district office record the reminders and
/// supervision escalations now due (each fires once per assignment and level).
public distributed actor Supervisor {
    public typealias ActorSystem = ClusterSystem

    private let context: HotlineContext

    public init(context: HotlineContext) {
        self.context = context
        self.actorSystem = context.system
    }

    /// Runs supervision on every district office at the current time; returns escalations recorded.
    /// One call per node hosting offices (`HotlineNode.runLocalSupervision`), not one per office.
    public distributed func tick() async throws -> Int {
        let nodes = Set(context.directory.districts.values).sorted()
        let system = context.system
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for node in nodes {
                let host = try HotlineNode.on(node, system: system)
                group.addTask { try await host.runLocalSupervision() }
            }
            var total = 0
            for try await n in group { total += n }
            return total
        }
    }
}

/// Review and analysis (`/hotline/analysis`): KPI reports over every case in the cluster.
public distributed actor Analyst {
    public typealias ActorSystem = ClusterSystem

    private let context: HotlineContext

    public init(context: HotlineContext) {
        self.context = context
        self.actorSystem = context.system
    }

    /// Collects every district office's event logs and computes the KPI report as of `asOf`
    /// (default: now on this node's clock).
    public distributed func report(asOf: Date?) async throws -> KPIReport {
        let logs = try await allEvents()
        return KPIReport.compute(logs: logs, asOf: asOf ?? context.now, settings: context.settings)
    }

    /// Every case's events from every district office.
    public distributed func allEvents() async throws -> [[CaseEvent]] {
        let offices = try context.allDistrictOffices()
        return try await withThrowingTaskGroup(of: [[CaseEvent]].self) { group in
            for office in offices {
                group.addTask {
                    var logs: [[CaseEvent]] = []
                    var after: CaseID?
                    for _ in 0..<100_000 {
                        let page = try await office.eventLogs(after: after, limit: 500)
                        guard let last = page.last?.first?.caseID else { break }
                        logs += page
                        after = last
                    }
                    return logs
                }
            }
            var all: [[CaseEvent]] = []
            for try await part in group { all += part }
            return all
        }
    }
}
