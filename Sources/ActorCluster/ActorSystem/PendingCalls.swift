/// Calls awaiting a reply, indexed by correlation id, with deadline queues for timeouts.
///
/// Not thread-safe by itself: `ClusterSystem` keeps it inside a `Mutex`. Deadlines live in one FIFO per
/// distinct timeout value (calls with equal timeouts expire in send order), so expiry costs O(1) amortised
/// per call rather than a sorted structure.
struct PendingCalls {
    struct Entry {
        let actor: ClusterSystem.ActorID
        let target: String
        let deadline: ContinuousClock.Instant
        let timeoutMilliseconds: Int
        let continuation: UnsafeContinuation<ReplyEnvelope, any Error>
    }

    private final class DeadlineQueue {
        var items: [(id: UInt64, deadline: ContinuousClock.Instant)] = []
        var head = 0
    }

    private(set) var entries: [UInt64: Entry] = [:]
    /// timeout in ms → (callID, deadline) in insertion order, hence in deadline order.
    private var queues: [Int: DeadlineQueue] = [:]

    var count: Int { entries.count }

    mutating func insert(_ id: UInt64, _ entry: Entry) {
        entries[id] = entry
        let queue: DeadlineQueue
        if let q = queues[entry.timeoutMilliseconds] {
            queue = q
        } else {
            queue = DeadlineQueue()
            queues[entry.timeoutMilliseconds] = queue
        }
        queue.items.append((id, entry.deadline))
    }

    mutating func remove(_ id: UInt64) -> Entry? {
        entries.removeValue(forKey: id)
    }

    /// Removes and returns every entry whose deadline is at or before `now`.
    mutating func removeExpired(now: ContinuousClock.Instant) -> [(UInt64, Entry)] {
        var expired: [(UInt64, Entry)] = []
        for (key, queue) in queues {
            while queue.head < queue.items.count, queue.items[queue.head].deadline <= now {
                let id = queue.items[queue.head].id
                if let e = entries.removeValue(forKey: id) { expired.append((id, e)) }
                queue.head += 1
            }
            if queue.head == queue.items.count {
                queues[key] = nil
            } else if queue.head > 1024, queue.head * 2 > queue.items.count {
                queue.items.removeFirst(queue.head)
                queue.head = 0
            }
        }
        return expired
    }

    /// Removes and returns every entry matching `predicate` (e.g. all calls to a lost node).
    mutating func removeAll(where predicate: (Entry) -> Bool) -> [(UInt64, Entry)] {
        let matching = entries.filter { predicate($0.value) }
        for (id, _) in matching { entries[id] = nil }
        return matching.map { ($0.key, $0.value) }
    }
}
