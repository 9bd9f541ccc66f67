import Foundation

/// The result of one callback attempt. An unreachable attempt carries no satisfaction and is never counted
/// as satisfied.
public enum CallbackOutcome: Hashable, Codable, Sendable {
    case reached(evaluation: CallbackEvaluation)
    case unreachable(note: String)

    public var evaluation: CallbackEvaluation? {
        if case .reached(let evaluation) = self { return evaluation }
        return nil
    }
}
