extension Membership {
    /// Every interval, timeout and bound of the membership protocol, with LAN defaults. Durations are
    /// `Duration`s; the machine works in nanoseconds of a monotonic clock it is handed.
    public struct Settings: Sendable, Equatable {
        /// One probe per protocol period: the next member, round-robin over a shuffled list (SWIM §4.3).
        /// Trade-off: shorter detects sooner but sends N probes per period cluster-wide. Default 300 ms.
        public var protocolPeriod: Duration = .milliseconds(300)
        /// How long a direct probe waits for its ack before asking `indirectProbes` others (ping-req). Must
        /// cover a round trip under load; Lifeguard's local health multiplies it on a starved node. Default 100 ms.
        public var probeTimeout: Duration = .milliseconds(100)
        /// k of SWIM §3.1: members asked to probe the target on this node's behalf. Default 3.
        public var indirectProbes: Int = 3
        /// α of the suspicion timeout: the minimum is α · max(1, log10 N) · protocolPeriod (Lifeguard §4.2).
        /// Default 3.
        public var suspicionAlpha: Double = 3
        /// β: the maximum suspicion timeout is β · minimum; a suspicion starts at the maximum and shrinks
        /// towards the minimum as independent confirmations arrive (Lifeguard §4.2). Default 3.
        public var suspicionBeta: Double = 3
        /// Lifeguard's local health multiplier ceiling (LHM, §4.1): a starved node stretches its probe interval
        /// and timeouts by up to this factor instead of accusing healthy peers. Default 8.
        public var maxLocalHealthMultiplier: Int = 8
        /// λ: every update is piggybacked about λ · ⌈log10(N + 1)⌉ times (SWIM §4.1). Default 4.
        public var retransmitMultiplier: Int = 4
        /// Gossip entries piggybacked on one probe message (the sender's own entry included). Default 24.
        public var maxGossipPerMessage: Int = 24
        /// A full-state push–pull exchange with one random member this often (anti-entropy: a rejoining or
        /// healed node converges). Default 10 s.
        public var pushPullInterval: Duration = .seconds(10)
        /// While `joining`, the join (a push–pull) is re-sent to every seed this often. Default 500 ms.
        public var joinRetryInterval: Duration = .milliseconds(500)
        /// A node that lists itself among the seeds and hears from no other seed this long forms the cluster on
        /// its own (becomes `up`). Default 1 s.
        public var seedJoinTimeout: Duration = .seconds(1)
        /// A `down` member stays listed (so its down status spreads) this long, then becomes `removed`, leaving a
        /// tombstone. Default 5 s.
        public var removeDownAfter: Duration = .seconds(5)
        /// A leaving node announces `leaving` this long before it reports itself removed and stops. Default 1 s.
        public var leaveGossipTime: Duration = .seconds(1)
        /// Tombstones of removed uids are kept this long, so stale gossip cannot bring them back. Default 1 h.
        public var tombstoneTTL: Duration = .seconds(3600)
        /// Node-wide bounds: members listed (any status) and tombstones held; beyond them new entries are
        /// refused (members) or the oldest dropped (tombstones). Defaults 4,096 and 16,384.
        public var maxMembers: Int = 4096
        public var maxTombstones: Int = 16384

        public init() {}

        public static var `default`: Settings { Settings() }
    }
}
