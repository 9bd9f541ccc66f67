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
}
