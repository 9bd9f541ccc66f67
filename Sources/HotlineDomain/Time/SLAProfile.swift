import Foundation

/// The time limits for one kind × urgency cell of an `SLAPolicy`.
/// All limits are counted from the relevant start: sign / first feedback / handle from the dispatch instant
/// (the handling clock starts at dispatch, not at signing); callback from the instant the reply is accepted.
public struct SLAProfile: Hashable, Codable, Sendable {
    /// Profile id recorded on assignments, e.g. `"P2-complaint"`.
    public var id: String
    /// Sign for the assignment within (P1: 30 natural minutes; P2/P3: 1 working day).
    public var sign: SLALimit
    /// First feedback (progress or reply) within; nil = no separate first-feedback limit (P1: 24 natural hours).
    public var firstFeedback: SLALimit?
    /// Reply within (P2: 3/7/15 working days by kind).
    public var handle: SLALimit
    /// Hotline's callback within, after the reply is accepted.
    public var callback: SLALimit
    /// Extensions the lead unit may be granted (P2: 1, P3: 3).
    public var maxExtensions: Int

    public init(id: String, sign: SLALimit, firstFeedback: SLALimit?, handle: SLALimit, callback: SLALimit,
                maxExtensions: Int) {
        self.id = id
        self.sign = sign
        self.firstFeedback = firstFeedback
        self.handle = handle
        self.callback = callback
        self.maxExtensions = maxExtensions
    }
}
