extension Membership {
    /// The piggyback queue of infection-style dissemination (SWIM §4.1): every update this node learns or
    /// makes is queued and piggybacked on its next probe messages, each about λ · ⌈log10(N + 1)⌉ times
    /// (`retransmitLimit`), the least-sent first, then dropped. A newer update about a member replaces the
    /// queued one (and starts its count again).
    ///
    /// Entries sit in buckets by how often they were sent, so picking the least-sent is O(picked), not a sort
    /// of the queue; replaced entries leave stale slots behind that are skipped and, when they pile up,
    /// compacted away. Bounded by `capacity` entries (one per member): when full, the most-sent entry goes.
    struct GossipQueue: Sendable {
        private struct Entry: Sendable {
            var member: Member
            var transmits: Int
            var version: UInt64
        }
        private struct Slot: Sendable {
            let node: NodeIdentity
            let version: UInt64
        }

        /// The queued update per member, with how often it was sent and the version of its bucket slot.
        private var entries: [NodeIdentity: Entry] = [:]
        /// `buckets[t]`: slots of entries sent `t` times; the last slot is the newest (picked first).
        private var buckets: [[Slot]] = []
        /// Slots in all buckets, live or stale: triggers compaction when stale ones dominate.
        private var slotCount = 0
        /// Increments per enqueue: tells a live slot from one left behind by a replaced entry.
        private var nextVersion: UInt64 = 0
        /// Most entries held.
        let capacity: Int

        init(capacity: Int) { self.capacity = max(1, capacity) }

        /// Updates waiting to be piggybacked.
        var count: Int { entries.count }

        /// SWIM §4.1's λ · ⌈log10(N + 1)⌉ for N listed members (at least 1).
        static func retransmitLimit(multiplier: Int, members n: Int) -> Int {
            var digits = 0
            var x = max(0, n) + 1
            var exact = true
            while x >= 10 { if x % 10 != 0 { exact = false }; x /= 10; digits += 1 }
            // ⌈log10(n + 1)⌉: the number of decimal digits after the first, plus one unless n + 1 is a power of ten.
            let ceilLog = (x == 1 && exact) ? digits : digits + 1
            return max(1, multiplier * max(1, ceilLog))
        }

        /// Queues `member` (replacing any older update about the same uid), to be sent `limit` times.
        mutating func enqueue(_ member: Member) {
            if entries[member.node] == nil && entries.count >= capacity { evictMostSent() }
            nextVersion += 1
            entries[member.node] = Entry(member: member, transmits: 0, version: nextVersion)
            push(Slot(node: member.node, version: nextVersion), into: 0)
            compactIfNeeded()
        }

        /// Forgets any queued update about `node`.
        mutating func remove(_ node: NodeIdentity) { entries[node] = nil }

        /// Up to `max` updates, least-sent first (newest first among equals), each counted as sent once more;
        /// an update sent `limit` times leaves the queue. `excluding`'s update is skipped (the caller already
        /// put one about it in the message).
        mutating func take(max: Int, limit: Int, excluding: NodeIdentity? = nil) -> [Member] {
            guard max > 0, !entries.isEmpty else { return [] }
            var out: [Member] = []
            var putBack: [(Slot, Int)] = []
            var t = 0
            while t < buckets.count, out.count < max {
                if t >= limit {
                    dropBuckets(from: t)
                    break
                }
                while out.count < max, let slot = buckets[t].popLast() {
                    slotCount -= 1
                    guard var entry = entries[slot.node], entry.version == slot.version else { continue }
                    if slot.node == excluding {
                        putBack.append((slot, t))
                        continue
                    }
                    out.append(entry.member)
                    entry.transmits += 1
                    if entry.transmits >= limit {
                        entries[slot.node] = nil
                    } else {
                        entries[slot.node] = entry
                        putBack.append((slot, entry.transmits))
                    }
                }
                t += 1
            }
            // Re-filed after the walk, so that one message never carries the same update twice.
            for (slot, bucket) in putBack { push(slot, into: bucket) }
            return out
        }

        private mutating func push(_ slot: Slot, into bucket: Int) {
            while buckets.count <= bucket { buckets.append([]) }
            buckets[bucket].append(slot)
            slotCount += 1
        }

        /// Entries sent `limit` or more times (the limit shrinks when members leave) are done.
        private mutating func dropBuckets(from first: Int) {
            for t in first..<buckets.count {
                for slot in buckets[t] where entries[slot.node]?.version == slot.version { entries[slot.node] = nil }
                slotCount -= buckets[t].count
            }
            buckets.removeSubrange(first...)
        }

        private mutating func evictMostSent() {
            var t = buckets.count - 1
            while t >= 0 {
                while let slot = buckets[t].popLast() {
                    slotCount -= 1
                    if entries[slot.node]?.version == slot.version {
                        entries[slot.node] = nil
                        return
                    }
                }
                t -= 1
            }
        }

        private mutating func compactIfNeeded() {
            guard slotCount > 2 * entries.count + 64 else { return }
            buckets = []
            slotCount = 0
            for (node, entry) in entries.sorted(by: { $0.value.version < $1.value.version }) {
                push(Slot(node: node, version: entry.version), into: entry.transmits)
            }
        }
    }
}
