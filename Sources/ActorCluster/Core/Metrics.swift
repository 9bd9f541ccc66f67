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

/// A named set of counters and gauges for one node. Names follow Prometheus conventions
/// (`hotline_frames_malformed_total`); `snapshot()` returns them sorted by name.
public final class Metrics: Sendable {
    private let counters = Mutex<[String: Counter]>([:])
    private let gauges = Mutex<[String: Gauge]>([:])

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
