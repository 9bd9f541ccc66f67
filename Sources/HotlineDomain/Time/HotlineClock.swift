import Foundation

/// The injectable source of "now". Domain code never reads the system time itself: actors pass
/// `clock.now` into events; replays and tests use `FixedClock` / `VirtualClock`.
public protocol HotlineClock: Sendable {
    /// The current instant.
    var now: Date { get }
}
