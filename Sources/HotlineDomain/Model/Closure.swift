import Foundation

/// The closing of a case.
public struct Closure: Hashable, Codable, Sendable {
    public var at: Date
    public var reason: CloseReason
    public var by: EventAuthor
    /// The evaluation of the last reached callback in the current callback round; nil when unreachable.
    public var evaluation: CallbackEvaluation?

    public init(at: Date, reason: CloseReason, by: EventAuthor, evaluation: CallbackEvaluation?) {
        self.at = at
        self.reason = reason
        self.by = by
        self.evaluation = evaluation
    }
}
