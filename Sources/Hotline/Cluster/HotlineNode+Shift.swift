import ActorCluster
import Distributed
import Foundation

extension HotlineNode {
    /// The dispatcher or supervisor decides the pending extension request of a case, found by id or number
    /// (`hotline dispatch extension`): approved → the lead's handle deadline moves by the extra time asked;
    /// denied → it stays. Returns the case afterwards.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (no extension pending; nothing recorded),
    ///   `.notConfigured`.
    public distributed func decideExtension(_ key: String, approved: Bool, note: String, by staff: String) async throws -> CaseSnapshot {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let (ref, order) = try await caseAndOrder(key, context: context)
        guard order.extensions.contains(where: \.isPending) else {
            throw HotlineError.ruleViolation("case \(order.number) has no extension request pending")
        }
        let author = EventAuthor.hotline(staff: staff.isEmpty ? "dispatch" : staff)
        return try await context.onDistrictOffice(ref.jurisdiction) {
            try await $0.decideExtension(ref.id, approved: approved, note: note, by: author)
        }
    }

    /// The shift-handover list gathered from every district office (`hotline cases --handover`): open P1 cases,
    /// unacknowledged duty-room alerts, overdue and unsigned assignments, overdue callbacks — judged at each
    /// office's clock; `since` (the start of the shift that ends) marks what arose during it. An office that cannot
    /// answer now is named in `unanswered`.
    ///
    /// - Throws: `HotlineError.notConfigured`.
    public distributed func handover(since: Date?) async throws -> Handover {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        var entries: [HandoverEntry] = []
        var unanswered: [String] = []
        for code in context.directory.districtCodes {
            do {
                entries += try await context.onDistrictOffice(code) { try await $0.handover(since: since) }
            } catch let error as HotlineError {
                if case .unavailable = error { unanswered.append(code) } else { throw error }
            } catch {
                unanswered.append(code)
            }
        }
        return Handover(asOf: context.now, since: since, entries: Handover.ordered(entries), unanswered: unanswered)
    }
}
