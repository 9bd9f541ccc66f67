import Foundation

/// A clock frozen at one instant; a value. `advanced(bySeconds:)` returns a new clock.
public struct FixedClock: HotlineClock, Hashable {
    public let now: Date

    public init(_ now: Date) { self.now = now }

    /// A clock `seconds` later (negative moves back).
    public func advanced(bySeconds seconds: TimeInterval) -> FixedClock {
        FixedClock(now.addingTimeInterval(seconds))
    }
}
