import Foundation

/// The two events of merging a duplicate into an open parent: `mergedInto` on the child's log and
/// `duplicateAttached` on the parent's. Checked across both cases before either is recorded.
public struct MergePlan: Hashable, Sendable {
    public let childBody: CaseEventBody
    public let parentBody: CaseEventBody

    /// - Throws: `CaseRuleViolation.mergeIntoSelf`; `.parentNotOpen` when the parent is not open (closed,
    ///   terminal, draft, or itself merged); `.childAlreadyDispatched` when the child is past
    ///   `accepted`/`pendingDispatch`; `.duplicateAlreadyAttached`.
    public init(child: WorkOrder, parent: WorkOrder) throws(CaseRuleViolation) {
        guard child.id != parent.id else { throw .mergeIntoSelf }
        guard parent.status.acceptsLinks else { throw .parentNotOpen(parent: parent.id, status: parent.status) }
        guard child.status == .accepted || child.status == .pendingDispatch else {
            throw .childAlreadyDispatched(child: child.id, status: child.status)
        }
        guard !parent.duplicates.contains(child.id) else { throw .duplicateAlreadyAttached(child.id) }
        childBody = .mergedInto(parent: parent.id, parentNumber: parent.number)
        parentBody = .duplicateAttached(child: child.id, childNumber: child.number)
    }
}
