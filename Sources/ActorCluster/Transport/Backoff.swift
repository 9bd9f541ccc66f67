/// Capped exponential reconnect delay with "equal jitter": attempt n (0-based) waits a uniformly random time in
/// [d/2, d] where d = min(initial · 2ⁿ, max).
struct Backoff: Sendable, Equatable {
    var initial: Duration
    var max: Duration

    /// Delay before the next dial after `failures` consecutive failures (≥ 0), given `unit` in [0, 1].
    func delay(failures: Int, unit: Double) -> Duration {
        let initialNs = Double(initial.nanoseconds)
        let maxNs = Double(max.nanoseconds)
        let exponent = Swift.min(Swift.max(failures, 0), 40)
        let full = Swift.min(initialNs * Double(1 << UInt64(exponent)), maxNs)
        let u = Swift.min(Swift.max(unit, 0), 1)
        let ns = full / 2 + full / 2 * u
        return .nanoseconds(Int64(ns))
    }

    /// Delay with a random jitter draw.
    func delay(failures: Int) -> Duration {
        delay(failures: failures, unit: Double.random(in: 0...1))
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to Int64; negative durations give 0.
    var nanoseconds: Int64 {
        let c = components
        if c.seconds < 0 { return 0 }
        if c.seconds >= Int64.max / 1_000_000_000 - 1 { return Int64.max / 2 }
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}
