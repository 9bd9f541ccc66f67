import Foundation

/// Wall-clock time (`Date()`), for production nodes.
public struct SystemClock: HotlineClock {
    public init() {}
    public var now: Date { Date() }
}
