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

    private var staff: EventAuthor { Self.author(group: group) }

    /// Who a group's dispatch records are by.
    public static func author(group: String) -> EventAuthor { .hotline(staff: "dispatch-\(group)") }

    /// The dispatch order for a classification (catalogue routing; records nothing). Intake computes the same
    /// order itself (`order(for:assignedUnit:catalogue:)`) before opening a case, so the office records intake
    /// and dispatch in one change.
    ///
    /// - Throws: `HotlineError.routing`, `.functionalMatterPushedDown` (`assignedUnit` is a sub-district or
    ///   community unit and the category a functional matter).
    /// With `assignedUnit` (a unit the catalogue knows, other than its lead) the dispatcher follows it and
    /// records the catalogue's lead as `overriddenLead`.
    public distributed func route(_ classification: Classification, assignedUnit: String?) throws -> DispatchOrder {
        try Self.order(for: classification, assignedUnit: assignedUnit, catalogue: context.catalogue)
    }

    /// What `route` answers, from `catalogue` alone (no state of the group): intake computes it on its own node
    /// with the catalogue it classified the request by, instead of a remote call per request.
    ///
    /// - Throws: `HotlineError.routing`, `.functionalMatterPushedDown`.
    public static func order(for classification: Classification, assignedUnit: String?,
                             catalogue: RoutingCatalogue) throws -> DispatchOrder {
        var order: DispatchOrder
        do {
            order = try catalogue.dispatchOrder(for: classification)
        } catch {
            throw HotlineError.routing("\(error)")
        }
        if let unit = assignedUnit, unit != order.decision.lead, catalogue.unit(unit) != nil {
            order.decision.overriddenLead = order.decision.lead
            order.decision.lead = unit
            order.decision.coUnits.removeAll { $0 == unit }
        }
        try refusePushDown(order, catalogue: catalogue)
        return order
    }

    /// Refuses an order that gives a functional matter to a sub-district or community unit (lead or co-unit).
    ///
    /// - Throws: `HotlineError.functionalMatterPushedDown`.
    static func refusePushDown(_ order: DispatchOrder, catalogue: RoutingCatalogue) throws {
        do {
            try catalogue.checkPushDown(category: order.decision.category, lead: order.decision.lead, coUnits: order.decision.coUnits)
        } catch {
            if case .functionalMatterPushedDown(let category, let unit, let level) = error {
                throw HotlineError.functionalMatterPushedDown(category: category, unit: unit, level: level.rawValue)
            }
            throw HotlineError.routing("\(error)")
        }
    }

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
        let staff = self.staff
        return try await context.onDistrictOffice(ref.jurisdiction) { try await $0.dispatch(ref.id, order: order, by: staff) }
    }

    /// Reviews the lead unit's reply: accepted → pending callback; rejected → reopened.
    public distributed func reviewReply(_ ref: CaseRef, accepted: Bool, note: String) async throws -> CaseEvent {
        let staff = self.staff
        return try await context.onDistrictOffice(ref.jurisdiction) {
            try await $0.record(ref.id, .replyReviewed(accepted: accepted, note: note), by: staff)
        }
    }

    /// Decides on a first return (approved → the case goes back to dispatch; a second return needs
    /// arbitration, which the workflow enforces).
    public distributed func decideReturn(_ ref: CaseRef, assignment: AssignmentID, approved: Bool, note: String) async throws -> CaseEvent {
        let staff = self.staff
        return try await context.onDistrictOffice(ref.jurisdiction) {
            try await $0.record(ref.id, .returnDecided(assignment: assignment, approved: approved, note: note), by: staff)
        }
    }

    /// A dispatcher dispatches a case waiting in the dispatch queue (`pendingDispatch`): routed by the catalogue
    /// for its classification, or to `lead` (a unit the catalogue knows; the catalogue's lead is then recorded as
    /// overridden); a lead bound by arbitration is kept. Assignments are sent and delivered. Returns the case.
    ///
    /// - Throws: `HotlineError.invalidRequest` (unknown unit), `.ruleViolation` (not pending dispatch, or a lead
    ///   other than the binding one), `.functionalMatterPushedDown` (a functional matter to a sub-district or
    ///   community unit; nothing recorded), `.routing`, `.unknownCase`.
    public distributed func dispatchCase(_ ref: CaseRef, lead: String?, dispatcher: String) async throws -> CaseSnapshot {
        try await dispatchCase(ref, lead: lead, coUnits: nil, dispatcher: dispatcher)
    }

    /// `dispatchCase(_:lead:dispatcher:)` with the dispatcher's co-handlers (`coUnits`, nil: the catalogue's; an
    /// empty list: none).
    ///
    /// - Throws: as `dispatchCase(_:lead:dispatcher:)`; `.invalidRequest` (an unknown co-unit, a co-unit listed
    ///   twice or equal to the lead), `.functionalMatterPushedDown`.
    public distributed func dispatchCase(_ ref: CaseRef, lead: String?, coUnits: [String]?, dispatcher: String) async throws -> CaseSnapshot {
        if let lead, context.catalogue.unit(lead) == nil {
            throw HotlineError.invalidRequest("unknown unit \"\(lead)\" (catalogue \(context.catalogue.version))")
        }
        for unit in coUnits ?? [] where context.catalogue.unit(unit) == nil {
            throw HotlineError.invalidRequest("unknown unit \"\(unit)\" (catalogue \(context.catalogue.version))")
        }
        if let coUnits, Set(coUnits).count != coUnits.count {
            throw HotlineError.invalidRequest("a co-unit is listed twice: \(coUnits.joined(separator: ","))")
        }
        let order = try await context.onDistrictOffice(ref.jurisdiction) { try await $0.workOrder(ref.id) }
        guard order.status == .pendingDispatch else {
            throw HotlineError.ruleViolation("case \(order.number) is \(order.status.rawValue), not pending dispatch")
        }
        guard let classification = order.classification else {
            throw HotlineError.ruleViolation("case \(order.number) is not classified")
        }
        var dispatch = try route(classification, assignedUnit: lead ?? order.bindingLead)
        if let coUnits {
            if coUnits.contains(dispatch.decision.lead) {
                throw HotlineError.invalidRequest("lead \(dispatch.decision.lead) is also listed as a co-unit")
            }
            dispatch.decision.coUnits = coUnits
            try Self.refusePushDown(dispatch, catalogue: context.catalogue)
        }
        let author = EventAuthor.hotline(staff: dispatcher.isEmpty ? "dispatch-\(group)" : dispatcher)
        let final = dispatch
        return try await context.onDistrictOffice(ref.jurisdiction) { try await $0.dispatch(ref.id, order: final, by: author) }
    }

    /// Arbitration of a second return: dispatches the case to `lead` (binding for the rest of the case: it cannot
    /// return it, later rounds keep it), routed otherwise by the catalogue for its classification (co-units,
    /// SLA profile). Returns the case.
    ///
    /// - Throws: `HotlineError.invalidRequest` (unknown unit), `.ruleViolation` (no second return pending),
    ///   `.functionalMatterPushedDown` (nothing recorded), `.routing`, `.unknownCase`.
    public distributed func arbitrate(_ ref: CaseRef, lead: String, note: String, arbiter: String) async throws -> CaseSnapshot {
        guard context.catalogue.unit(lead) != nil else {
            throw HotlineError.invalidRequest("unknown unit \"\(lead)\" (catalogue \(context.catalogue.version))")
        }
        let order = try await context.onDistrictOffice(ref.jurisdiction) { try await $0.workOrder(ref.id) }
        guard order.isAwaitingArbitration else {
            throw HotlineError.ruleViolation("case \(order.number) is \(order.status.rawValue) with no second return awaiting arbitration")
        }
        guard let classification = order.classification else {
            throw HotlineError.ruleViolation("case \(order.number) is not classified")
        }
        var ruling = try route(classification, assignedUnit: lead)
        if ruling.decision.lead != lead {  // the catalogue's own lead: route leaves it as it is
            ruling.decision.lead = lead
        }
        try Self.refusePushDown(ruling, catalogue: context.catalogue)
        let author = EventAuthor.hotline(staff: arbiter.isEmpty ? "dispatch-\(group)" : arbiter)
        let ruled = ruling
        return try await context.onDistrictOffice(ref.jurisdiction) { try await $0.arbitrate(ref.id, order: ruled, note: note, by: author) }
    }

    /// The cases waiting in this group's classification queue (from every office of the group's
    /// jurisdictions), oldest first. An office that cannot answer now is skipped and named in `unanswered`.
    public distributed func classificationQueue() async throws -> ClassificationQueue {
        let group = self.group
        let codes = context.catalogue.dispatchGroups.first { $0.code == group }?.jurisdictions ?? []
        var entries: [ClassificationQueueEntry] = []
        var unanswered: [String] = []
        for code in codes {
            do {
                entries += try await context.onDistrictOffice(code) { try await $0.awaitingClassification(group: group) }
            } catch {
                unanswered.append(code)
            }
        }
        entries.sort { ($0.queuedAt, $0.ref.number.description) < ($1.queuedAt, $1.ref.number.description) }
        return ClassificationQueue(group: group, entries: entries, unanswered: unanswered)
    }

    /// A dispatcher confirms or corrects the proposal of a case in this group's classification queue:
    /// records `classificationReviewed` (with the fields corrected) and `accepted`, alerts the duty room of a
    /// P1 livelihood case not alerted yet, queues the case for the dispatch group of its route and dispatches
    /// it there. The case stays at the office that holds it (`ref.jurisdiction`); its route follows the
    /// confirmed jurisdiction. `urgency` / `kind` nil = as proposed.
    ///
    /// - Throws: `HotlineError.invalidRequest` (unknown category or jurisdiction, P0 — emergencies are
    ///   transferred, not dispatched), `.ruleViolation` (the case is not in a classification queue; nothing is
    ///   recorded), `.routing`, `.unknownCase`.
    public distributed func classify(_ ref: CaseRef, category: String, jurisdiction: String, urgency: Urgency?, kind: CaseKind?,
                                     note: String, dispatcher: String) async throws -> CaseSnapshot {
        let catalogue = context.catalogue
        guard !category.isEmpty, !jurisdiction.isEmpty else {
            throw HotlineError.invalidRequest("a classification names a category and a jurisdiction")
        }
        guard catalogue.category(category) != nil else {
            throw HotlineError.invalidRequest("unknown category \"\(category)\" (catalogue \(catalogue.version))")
        }
        guard catalogue.jurisdiction(jurisdiction) != nil else {
            throw HotlineError.invalidRequest("unknown jurisdiction \"\(jurisdiction)\" (catalogue \(catalogue.version))")
        }
        let order = try await context.onDistrictOffice(ref.jurisdiction) { try await $0.workOrder(ref.id) }
        guard order.isAwaitingClassification else {
            throw HotlineError.ruleViolation("case \(order.number) is \(order.status.rawValue) and not in a classification queue")
        }
        let proposal = order.classificationProposal
        if urgency == nil, proposal?.urgency == .p0 {
            // Never lowered unasked: the request came as an emergency.
            throw HotlineError.invalidRequest("case \(order.number) came as P0 (an emergency for 110/119/120): give --urgency P1 or P2 to dispatch it instead")
        }
        let finalUrgency = urgency ?? (proposal?.urgency == .p1 ? .p1 : (catalogue.isLivelihood(category: category) ? .p1 : .p2))
        guard finalUrgency != .p0 else {
            throw HotlineError.invalidRequest("P0 is an emergency for 110/119/120, not a dispatch")
        }
        let finalKind = kind ?? proposal?.kind ?? .help
        let classification: Classification
        do {
            classification = try catalogue.classification(kind: finalKind, category: category, urgency: finalUrgency,
                                                          jurisdiction: jurisdiction)
        } catch {
            throw HotlineError.invalidRequest("\(error)")
        }
        let review = ClassificationReview(category: category, jurisdiction: jurisdiction, urgency: finalUrgency, kind: finalKind,
                                          proposal: proposal, note: note)
        let routeGroup = (try? catalogue.route(category: category, jurisdiction: jurisdiction).dispatchGroup).flatMap { $0.isEmpty ? nil : $0 }
            ?? catalogue.dispatchGroup(owning: jurisdiction)?.code ?? group
        var bodies: [CaseEventBody] = [.classificationReviewed(review: review), .accepted(classification: classification)]
        // The confirmed jurisdiction's duty room hears of a P1 livelihood case, and of an emergency that intake
        // alerted another district's duty room about (the jurisdiction was corrected).
        if classification.requiresDutyRoomAlert || !order.dutyRoomAlerts.isEmpty {
            let room: String
            do { room = try catalogue.dutyRoom(for: jurisdiction) } catch { throw HotlineError.routing("\(error)") }
            if !order.dutyRoomAlerts.contains(where: { $0.dutyRoom == room }) {
                let why = order.dutyRoomAlerts.isEmpty ? "P1 livelihood: \(category)" : "classified into \(jurisdiction): \(order.dutyRoomAlerts[0].note)"
                bodies.append(.dutyRoomAlerted(dutyRoom: room, note: why))
            }
        }
        bodies.append(.queuedForDispatch(group: routeGroup))
        let dispatch: DispatchOrder
        do { dispatch = try catalogue.dispatchOrder(for: classification) } catch { throw HotlineError.routing("\(error)") }
        let author = EventAuthor.hotline(staff: dispatcher.isEmpty ? "dispatch-\(group)" : dispatcher)
        let events = bodies
        _ = try await context.onDistrictOffice(ref.jurisdiction) { try await $0.recordAll(ref.id, events, required: events.count, by: author) }
        let by = Self.author(group: routeGroup)
        return try await context.onDistrictOffice(ref.jurisdiction) { try await $0.dispatch(ref.id, order: dispatch, by: by) }
    }
}

/// A dispatch group's classification queue.
public struct ClassificationQueue: Codable, Sendable, Hashable {
    public var group: String
    public var entries: [ClassificationQueueEntry]
    /// Offices of the group that did not answer (their waiting cases are not listed).
    public var unanswered: [String]
}
