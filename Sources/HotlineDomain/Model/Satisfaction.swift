import Foundation

/// The citizen's evaluation on callback (满意 / 基本满意 / 不满意).
public enum Satisfaction: String, Codable, Sendable, CaseIterable, Hashable {
    case satisfied
    case basicallySatisfied
    case unsatisfied

    /// Satisfied or basically satisfied: the numerator of the satisfaction rate.
    public var countsAsSatisfied: Bool { self != .unsatisfied }
}
