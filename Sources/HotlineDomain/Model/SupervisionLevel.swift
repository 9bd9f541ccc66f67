import Foundation

/// Supervision (督办) levels, an overlay on the case. Encoded as 1, 2, 3.
/// - level 1: an assignment is overdue (sign or handle deadline passed without the act);
/// - level 2: still unreplied 5 working days (configurable) after the handle deadline;
/// - level 3: the case was reopened repeatedly (2 reopenings by default).
public enum SupervisionLevel: Int, Codable, Sendable, CaseIterable, Hashable, Comparable {
    case level1 = 1
    case level2 = 2
    case level3 = 3

    public static func < (lhs: SupervisionLevel, rhs: SupervisionLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}
