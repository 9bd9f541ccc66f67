import Foundation

/// A time limit, on natural time or on working days. JSON: `{"naturalMinutes": 30}`,
/// `{"naturalHours": 24}` (decoded as 1440 minutes) or `{"workingDays": 3}`.
public enum SLALimit: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Natural (wall-clock) minutes, counted around the clock including nights, weekends and holidays.
    case naturalMinutes(Int)
    /// Working days per the calendar: the start day does not count; due at the end (24:00) of the N-th
    /// working day after it.
    case workingDays(Int)

    /// `hours` natural hours.
    public static func naturalHours(_ hours: Int) -> SLALimit { .naturalMinutes(hours.multipliedReportingOverflow(by: 60).partialValue) }

    /// True when the limit grants some time (> 0).
    public var isPositive: Bool {
        switch self {
        case .naturalMinutes(let m): m > 0
        case .workingDays(let d): d > 0
        }
    }

    /// `"30 min"`, `"24 h"`, `"3 working days"`.
    public var description: String {
        switch self {
        case .naturalMinutes(let m) where m % 60 == 0 && m != 0: "\(m / 60) h"
        case .naturalMinutes(let m): "\(m) min"
        case .workingDays(let d): d == 1 ? "1 working day" : "\(d) working days"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case naturalMinutes, naturalHours, workingDays
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let minutes = try c.decodeIfPresent(Int.self, forKey: .naturalMinutes) {
            self = .naturalMinutes(minutes)
        } else if let hours = try c.decodeIfPresent(Int.self, forKey: .naturalHours) {
            let (minutes, overflow) = hours.multipliedReportingOverflow(by: 60)
            guard !overflow else {
                throw DecodingError.dataCorruptedError(forKey: .naturalHours, in: c, debugDescription: "too many hours")
            }
            self = .naturalMinutes(minutes)
        } else if let days = try c.decodeIfPresent(Int.self, forKey: .workingDays) {
            self = .workingDays(days)
        } else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: c.codingPath,
                debugDescription: "a limit needs one of naturalMinutes, naturalHours, workingDays"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .naturalMinutes(let m): try c.encode(m, forKey: .naturalMinutes)
        case .workingDays(let d): try c.encode(d, forKey: .workingDays)
        }
    }
}

extension SLALimit {
    /// Longest extension one request may ask for: a year, in working days (365) or natural minutes (8,760 h).
    public static let maxExtensionWorkingDays = 365
    public static let maxExtensionMinutes = 8_760 * 60

    /// Whether an extension of this length may be asked for (`maxExtensionWorkingDays`, `maxExtensionMinutes`): an
    /// unbounded one would move a deadline out of any calendar (and past what a `Date` holds).
    public var isWithinExtensionBound: Bool {
        switch self {
        case .naturalMinutes(let m): m <= Self.maxExtensionMinutes
        case .workingDays(let d): d <= Self.maxExtensionWorkingDays
        }
    }
}
