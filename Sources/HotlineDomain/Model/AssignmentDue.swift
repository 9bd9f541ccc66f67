import Foundation

/// Due instants of an assignment, all derived (never typed) from the dispatch instant, the SLA profile and
/// the working calendar. An act is on time when it happens at or before the due instant.
public struct AssignmentDue: Hashable, Codable, Sendable {
    /// Sign by.
    public var sign: Date
    /// First feedback (progress or reply) by; nil when the profile has no first-feedback limit.
    public var firstFeedback: Date?
    /// Reply by, including approved extensions.
    public var handle: Date
    /// Reply by as first derived at dispatch, before any extension.
    public var originalHandle: Date

    public init(sign: Date, firstFeedback: Date?, handle: Date, originalHandle: Date) {
        self.sign = sign
        self.firstFeedback = firstFeedback
        self.handle = handle
        self.originalHandle = originalHandle
    }
}
