import Foundation

/// An extension (延期) request by the lead unit. It must be asked before the handle deadline; when approved
/// the new deadline is derived from the old one plus `extra` on the case's calendar.
public struct ExtensionRequest: Hashable, Codable, Sendable {
    public enum Decision: String, Hashable, Codable, Sendable {
        case approved
        case denied
    }

    public var id: ExtensionID
    public var assignment: AssignmentID
    public var requestedAt: Date
    /// Extra time asked for (natural minutes or working days).
    public var extra: SLALimit
    public var reason: String
    /// The handle deadline when the request was made.
    public var dueAtRequest: Date
    public var decision: Decision?
    public var decidedAt: Date?
    public var note: String?
    /// The derived new handle deadline (approved requests only).
    public var newDue: Date?

    public init(id: ExtensionID, assignment: AssignmentID, requestedAt: Date, extra: SLALimit, reason: String,
                dueAtRequest: Date) {
        self.id = id
        self.assignment = assignment
        self.requestedAt = requestedAt
        self.extra = extra
        self.reason = reason
        self.dueAtRequest = dueAtRequest
    }

    public var isPending: Bool { decision == nil }
}
