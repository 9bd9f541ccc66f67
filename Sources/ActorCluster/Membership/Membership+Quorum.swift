extension Membership {
    /// Keep-majority downing: a node may declare members down only while its side can still reach the
    /// majority of the last member set everyone agreed on, so that in a partition exactly one side (at most)
    /// goes on downing the other. Without quorum, suspects stay suspect.
    ///
    /// `agreed` is the active set as it was the last time this node had quorum and suspected nobody, plus every
    /// member listed as `joining` since (a joiner sends its join to every seed at once and is `up` as soon as one
    /// answers: another side of a partition may already count it, so this side counts it too). Reachable
    /// = members of `agreed` that are active and not suspect (this node included). Quorum iff
    /// 2 · reachable > |agreed|, or 2 · reachable == |agreed| and the lowest identity of `agreed` is reachable
    /// (the tie-break of an even split). A member proven gone (confirmed crash, replaced by a new uid, downed
    /// by the operator) leaves `agreed` at once, so it does not count against the survivors.
    struct Quorum: Sendable, Equatable {
        /// The last agreed active member set.
        private(set) var agreed: Set<NodeIdentity>
        /// The lowest identity in `agreed` (tie-break holder), cached.
        private(set) var lowest: NodeIdentity?
        /// Result of the last `evaluate`.
        private(set) var hasQuorum = false
        /// Reachable members of `agreed` at the last `evaluate`.
        private(set) var reachable = 0
        /// Counts the changes of `agreed`, so a reader can tell it changed without comparing sets.
        private(set) var generation: UInt64 = 0

        init(agreed: Set<NodeIdentity> = []) {
            self.agreed = agreed
            self.lowest = agreed.min(by: Membership.precedes)
        }

        /// The decision rule alone.
        static func decide(reachable: Int, of total: Int, lowestReachable: Bool) -> Bool {
            guard total > 0 else { return false }
            return 2 * reachable > total || (2 * reachable == total && lowestReachable)
        }

        /// Re-evaluates with the reachable members of `agreed` counted by the caller; returns whether
        /// `hasQuorum` flipped.
        mutating func evaluate(reachable count: Int, lowestReachable: Bool) -> Bool {
            let before = hasQuorum
            reachable = count
            hasQuorum = Self.decide(reachable: count, of: agreed.count, lowestReachable: lowestReachable)
            return before != hasQuorum
        }

        /// The current active set becomes the agreed one.
        mutating func agree(on members: Set<NodeIdentity>) {
            if agreed != members { generation &+= 1 }
            agreed = members
            lowest = members.min(by: Membership.precedes)
        }

        /// `node` (a member that asked to join) counts in the agreed set from now on, as unreachable until it is
        /// up: it may already be up on the other side of a partition, where it counts.
        mutating func include(_ node: NodeIdentity) {
            guard agreed.insert(node).inserted else { return }
            generation &+= 1
            if lowest.map({ Membership.precedes(node, $0) }) ?? true { lowest = node }
        }

        /// `node` is provably gone: it no longer counts in the agreed set.
        mutating func forget(_ node: NodeIdentity) {
            guard agreed.remove(node) != nil else { return }
            generation &+= 1
            if lowest == node { lowest = agreed.min(by: Membership.precedes) }
        }

        /// This node is no longer an active member: no quorum. Returns whether that flipped it.
        mutating func lose() -> Bool {
            defer { hasQuorum = false; reachable = 0 }
            return hasQuorum
        }
    }
}
