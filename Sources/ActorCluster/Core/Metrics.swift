import Synchronization

/// A monotonically increasing counter, safe to bump from any thread.
public final class Counter: Sendable {
    public let name: String
    public let help: String
    private let storage = Atomic<Int>(0)

    init(name: String, help: String) {
        self.name = name
        self.help = help
    }

    public func increment(by n: Int = 1) { storage.add(n, ordering: .relaxed) }
    public var value: Int { storage.load(ordering: .relaxed) }
}

/// A value that goes up and down (current state, e.g. peers unreachable right now), safe to set from any thread.
public final class Gauge: Sendable {
    public let name: String
    public let help: String
    private let storage = Atomic<Int>(0)

    init(name: String, help: String) {
        self.name = name
        self.help = help
    }

    public func set(_ v: Int) { storage.store(v, ordering: .relaxed) }
    public func increment(by n: Int = 1) { storage.add(n, ordering: .relaxed) }
    public func decrement(by n: Int = 1) { storage.subtract(n, ordering: .relaxed) }
    public var value: Int { storage.load(ordering: .relaxed) }
}

/// A distribution of observed values (seconds) in fixed cumulative buckets, Prometheus-style: how many
/// observations were ≤ each bound, their sum and count. Safe to observe from any thread (one short lock).
public final class Histogram: Sendable {
    public let name: String
    public let help: String
    /// Upper bounds of the buckets, ascending (the `+Inf` bucket is implicit).
    public let bounds: [Double]
    private struct State {
        var counts: [Int]
        var sum = 0.0
        var count = 0
    }
    private let state: Mutex<State>

    /// Latency bounds from 100 µs to 10 s, in seconds.
    public static let latencyBounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    init(name: String, help: String, bounds: [Double]) {
        self.name = name
        self.help = help
        self.bounds = bounds.sorted()
        state = Mutex(State(counts: Array(repeating: 0, count: bounds.count)))
    }

    /// Records one value (seconds).
    public func observe(_ value: Double) {
        let i = bounds.firstIndex { value <= $0 }
        state.withLock { s in
            if let i { s.counts[i] += 1 }
            s.sum += value
            s.count += 1
        }
    }

    /// Cumulative counts per bound (then `+Inf` = `count`), the sum and the count.
    public var snapshot: (cumulative: [Int], sum: Double, count: Int) {
        state.withLock { s in
            var running = 0
            return (s.counts.map { running += $0; return running }, s.sum, s.count)
        }
    }
}

/// A named set of counters and gauges for one node. Names follow Prometheus conventions
/// (`hotline_frames_malformed_total`); `snapshot()` returns them sorted by name.
public final class Metrics: Sendable {
    private let counters = Mutex<[String: Counter]>([:])
    private let gauges = Mutex<[String: Gauge]>([:])
    private let histograms = Mutex<[String: Histogram]>([:])

    public init() {}

    /// Returns the counter with this name, creating it on first use.
    public func counter(_ name: String, help: String = "") -> Counter {
        counters.withLock { table in
            if let c = table[name] { return c }
            let c = Counter(name: name, help: help)
            table[name] = c
            return c
        }
    }

    /// Returns the gauge with this name, creating it (at 0) on first use. Names must not clash with counters.
    public func gauge(_ name: String, help: String = "") -> Gauge {
        gauges.withLock { table in
            if let g = table[name] { return g }
            let g = Gauge(name: name, help: help)
            table[name] = g
            return g
        }
    }

    /// Returns the histogram with this name, creating it with `bounds` on first use.
    public func histogram(_ name: String, help: String = "", bounds: [Double] = Histogram.latencyBounds) -> Histogram {
        histograms.withLock { table in
            if let h = table[name] { return h }
            let h = Histogram(name: name, help: help, bounds: bounds)
            table[name] = h
            return h
        }
    }

    /// Every histogram, sorted by name.
    public func allHistograms() -> [Histogram] {
        histograms.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    }

    /// Current value of every counter and gauge, sorted by name.
    public func snapshot() -> [(name: String, value: Int)] {
        let c = counters.withLock { table in table.values.map { ($0.name, $0.value) } }
        let g = gauges.withLock { table in table.values.map { ($0.name, $0.value) } }
        return (c + g).sorted { $0.name < $1.name }
    }

    /// One counter or gauge with its help text, for exposition (the admin port's `/metrics`).
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var help: String
        public var isCounter: Bool
        public var value: Int
    }

    /// Every counter and gauge with its help text and kind, sorted by name.
    public func samples() -> [Sample] {
        let c = counters.withLock { $0.values.map { Sample(name: $0.name, help: $0.help, isCounter: true, value: $0.value) } }
        let g = gauges.withLock { $0.values.map { Sample(name: $0.name, help: $0.help, isCounter: false, value: $0.value) } }
        return (c + g).sorted { $0.name < $1.name }
    }

    /// Value of one counter or gauge (0 when it was never created).
    public func value(_ name: String) -> Int {
        if let c = counters.withLock({ $0[name] }) { return c.value }
        return gauges.withLock { $0[name]?.value ?? 0 }
    }
}
