import Foundation

extension AssignmentStatus {
    /// The assignment transition table.
    /// `returnRejected → returnRequested` exists only for the second return, which goes to arbitration.
    public static let transitions: [AssignmentStatus: Set<AssignmentStatus>] = [
        .sent: [.delivered, .withdrawn],
        .delivered: [.signed, .returnRequested, .withdrawn],
        .signed: [.returnRequested, .replied, .withdrawn],
        .returnRequested: [.returnApproved, .returnRejected],
        .returnRejected: [.replied, .returnRequested, .withdrawn],
        .replied: [.accepted, .sentBack, .withdrawn],
        .accepted: [],
        .sentBack: [],
        .returnApproved: [],
        .withdrawn: [],
    ]

    /// True when the table allows `self → target`.
    public func canTransition(to target: AssignmentStatus) -> Bool {
        Self.transitions[self]?.contains(target) ?? false
    }

    /// `accepted`, `sentBack`, `returnApproved`, `withdrawn`.
    public var isFinished: Bool { Self.transitions[self]?.isEmpty ?? true }

    /// The unit holds the assignment and may reply (`signed`, or `returnRejected`).
    public var isHandling: Bool { self == .signed || self == .returnRejected }
}
