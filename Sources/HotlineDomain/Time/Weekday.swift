import Foundation

/// Day of the week, encoded by name (`"saturday"`).
public enum Weekday: String, Codable, Sendable, CaseIterable, Hashable {
    case sunday, monday, tuesday, wednesday, thursday, friday, saturday

    /// 0 = Sunday … 6 = Saturday.
    public var index: Int {
        switch self {
        case .sunday: 0
        case .monday: 1
        case .tuesday: 2
        case .wednesday: 3
        case .thursday: 4
        case .friday: 5
        case .saturday: 6
        }
    }

    /// The weekday for an index 0 = Sunday … 6 = Saturday (taken modulo 7).
    public init(index: Int) {
        let all: [Weekday] = [.sunday, .monday, .tuesday, .wednesday, .thursday, .friday, .saturday]
        self = all[((index % 7) + 7) % 7]
    }
}
