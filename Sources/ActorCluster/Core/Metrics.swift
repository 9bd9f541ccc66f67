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

/// A named set of counters for one node. Names follow Prometheus conventions
/// (`hotline_frames_malformed_total`); `snapshot()` returns them sorted by name.
public final class Metrics: Sendable {
    private let counters = Mutex<[String: Counter]>([:])

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

    /// Current value of every counter, sorted by name.
    public func snapshot() -> [(name: String, value: Int)] {
        counters.withLock { table in table.values.map { ($0.name, $0.value) } }.sorted { $0.name < $1.name }
    }

    /// Value of one counter (0 when it was never created).
    public func value(_ name: String) -> Int {
        counters.withLock { $0[name]?.value ?? 0 }
    }
}
