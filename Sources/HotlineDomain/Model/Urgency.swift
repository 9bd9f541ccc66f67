import Foundation

/// Urgency grade. Encoded as `"P0"` … `"P3"`.
/// - P0: life/property emergency → transferred to 110/119/120 (terminal for the hotline).
/// - P1: livelihood urgent (water, heating, electricity, gas, resettlement housing, abandoned-management
///   buildings): duty room alerted at once; clocks in natural hours.
/// - P2: ordinary; clocks in working days.
/// - P3: complex; P2 limits plus approved extensions.
public enum Urgency: String, Codable, Sendable, CaseIterable, Hashable, Comparable {
    case p0 = "P0"
    case p1 = "P1"
    case p2 = "P2"
    case p3 = "P3"

    private var rank: Int {
        switch self {
        case .p0: 0
        case .p1: 1
        case .p2: 2
        case .p3: 3
        }
    }

    /// P0 sorts first (most urgent).
    public static func < (lhs: Urgency, rhs: Urgency) -> Bool { lhs.rank < rhs.rank }
}
