import Foundation
import Synchronization

/// A shared clock whose time only moves when told to (replays, simulations, tests). Thread-safe.
/// Time never goes backwards: `set(to:)` with an earlier instant is ignored and returns false.
public final class VirtualClock: HotlineClock {
    private let current: Mutex<Date>

    public init(start: Date) { current = Mutex(start) }

    public var now: Date { current.withLock { $0 } }

    /// Moves time forward by `seconds` (negative values are ignored). Returns the new now.
    @discardableResult
    public func advance(bySeconds seconds: TimeInterval) -> Date {
        current.withLock { value in
            if seconds > 0 { value = value.addingTimeInterval(seconds) }
            return value
        }
    }

    /// Jumps to `instant` if it is not earlier than now. Returns false (and changes nothing) otherwise.
    @discardableResult
    public func set(to instant: Date) -> Bool {
        current.withLock { value in
            guard instant >= value else { return false }
            value = instant
            return true
        }
    }
}
