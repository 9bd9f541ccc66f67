extension Membership {
    /// Lifeguard's local health awareness (Lifeguard §4.1, "Local Health Multiplier"): a saturating score of
    /// how much this node's own recent experience suggests that *it* is the slow one. A starved or overloaded
    /// node sees probes fail because it reads acks late, not because its peers died; stretching its own probe
    /// interval and timeouts by `multiplier` keeps it from accusing healthy peers.
    ///
    /// The score moves by events the machine observes (see `Machine`): +1 when a probe fails with fewer nacks
    /// than ping-reqs sent, +1 when this node must refute a suspicion about itself, +1 when a timer fires more
    /// than the probe timeout late; −1 for each probe acked in time.
    struct LocalHealth: Sendable, Equatable {
        /// 0 (healthy) ... `maxScore`. Saturates at both ends so a long bad spell cannot build up debt.
        private(set) var score = 0
        /// `maxLocalHealthMultiplier − 1` (at least 0).
        let maxScore: Int

        init(maxMultiplier: Int) { maxScore = max(0, maxMultiplier - 1) }

        /// The factor applied to the probe interval and probe timeouts: `score + 1`, 1 ... `maxLocalHealthMultiplier`.
        var multiplier: Int { score + 1 }

        /// Something suggests this node is slow.
        mutating func raise() { score = min(maxScore, score + 1) }

        /// A probe completed in time: this node is keeping up.
        mutating func lower() { score = max(0, score - 1) }

        /// `ns` stretched by the multiplier (saturating).
        func scaled(_ ns: UInt64) -> UInt64 { ns.multipliedReportingOverflow(by: UInt64(multiplier)).overflow ? .max : ns * UInt64(multiplier) }
    }
}
