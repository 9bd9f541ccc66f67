extension Membership {
    /// Uids that were removed, remembered until `tombstoneTTL` passes so that stale gossip about them (a
    /// delayed message, a member that missed the removal) cannot list them again. A FIFO: every tombstone
    /// lives the same TTL, so insertion order is expiry order. At most `capacity`; the oldest goes first.
    struct Tombstones: Sendable {
        /// Expiry (monotonic ns) per removed uid.
        private var expiry: [NodeIdentity: UInt64] = [:]
        /// The same tombstones in insertion (= expiry) order; `head` is the oldest still held.
        private var order: [(node: NodeIdentity, expiresNs: UInt64)] = []
        private var head = 0
        /// Most tombstones held (`maxTombstones`).
        let capacity: Int

        init(capacity: Int) { self.capacity = max(0, capacity) }

        var count: Int { expiry.count }

        func contains(_ node: NodeIdentity) -> Bool { expiry[node] != nil }

        /// When the oldest tombstone expires, if any.
        var nextExpiryNs: UInt64? { head < order.count ? order[head].expiresNs : nil }

        /// Remembers `node` until `expiresNs` (a uid already held keeps its first expiry).
        mutating func add(_ node: NodeIdentity, expiresNs: UInt64) {
            guard capacity > 0, expiry[node] == nil else { return }
            while expiry.count >= capacity, head < order.count { dropOldest() }
            expiry[node] = expiresNs
            order.append((node, expiresNs))
        }

        /// Drops the tombstones that expired by `nowNs`.
        mutating func expire(nowNs: UInt64) {
            while head < order.count, order[head].expiresNs <= nowNs { dropOldest() }
        }

        private mutating func dropOldest() {
            let oldest = order[head]
            if expiry[oldest.node] == oldest.expiresNs { expiry[oldest.node] = nil }
            head += 1
            if head > 1024, head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }
}
