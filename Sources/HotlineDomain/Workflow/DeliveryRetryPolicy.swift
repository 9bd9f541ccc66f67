import Foundation

/// When a failed delivery of an assignment is tried again: capped exponential backoff from the recorded
/// attempts. After failure n (1, 2, …) the next attempt is due `min(initialBackoffMs × 2^(n-1), maxBackoffMs)`
/// ms after that failure was recorded. A node setting (`hotline node --delivery-retry-ms`,
/// `--delivery-retry-max-ms`), not part of a case: the schedule is computed afresh from the log, so a new
/// owner after a failover continues it where the recorded attempts left it.
public struct DeliveryRetryPolicy: Hashable, Codable, Sendable {
    /// Wait after the first failure, ms (≥ 1). Default 1,000.
    public var initialBackoffMs: Int
    /// Upper bound of any wait, ms (≥ `initialBackoffMs`). Default 300,000 (5 minutes): an unreachable
    /// department gets about one attempt — and one alert — every 5 minutes until it answers.
    public var maxBackoffMs: Int

    public init(initialBackoffMs: Int = 1_000, maxBackoffMs: Int = 300_000) {
        self.initialBackoffMs = max(1, initialBackoffMs)
        self.maxBackoffMs = max(self.initialBackoffMs, maxBackoffMs)
    }

    public static let `default` = DeliveryRetryPolicy()

    /// The wait after `failures` failed attempts, ms: 0 for none, else `initialBackoffMs × 2^(failures-1)`
    /// capped at `maxBackoffMs` (no overflow for any count).
    public func backoffMs(afterFailures failures: Int) -> Int {
        guard failures > 0 else { return 0 }
        var wait = initialBackoffMs
        for _ in 1..<min(failures, 63) {
            if wait >= maxBackoffMs / 2 + 1 { return maxBackoffMs }
            wait *= 2
        }
        return min(wait, maxBackoffMs)
    }
}
