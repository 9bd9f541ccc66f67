import Foundation

/// What a citizen said when reached on callback.
public struct CallbackEvaluation: Hashable, Codable, Sendable {
    /// Did the citizen say the matter is resolved?
    public var resolved: Bool
    public var satisfaction: Satisfaction

    public init(resolved: Bool, satisfaction: Satisfaction) {
        self.resolved = resolved
        self.satisfaction = satisfaction
    }
}
