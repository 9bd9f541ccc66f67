extension Membership {
    /// What members send each other, in `Wire.FrameKind.membership` frames (payload: `Wire.BinaryEncoder` of this
    /// value). The sender's identity is the authenticated peer of the connection, never a field. `gossip`
    /// carries piggybacked updates; the sender's own entry comes first in every probe message.
    public enum Message: Codable, Sendable, Equatable {
        /// Direct probe (SWIM §3.1). Answered with `ack` of the same `seq`.
        case ping(seq: UInt64, gossip: [Member])
        /// Answer to a `ping`, or relayed by an intermediary for a `pingReq` (same `seq` as the request).
        case ack(seq: UInt64, gossip: [Member])
        /// "Probe `target` for me" (SWIM §3.1, k indirect probes).
        case pingReq(seq: UInt64, target: NodeIdentity, gossip: [Member])
        /// From an intermediary: its probe of the target got no ack in time (Lifeguard §4.1 nack), or could not
        /// even connect (`targetRefused`: nothing listens at the target's address).
        case nack(seq: UInt64, targetRefused: Bool, gossip: [Member])
        /// Full state exchange: the join (to a seed) and the periodic anti-entropy; `isReply` answers one.
        case pushPull(members: [Member], isReply: Bool)
    }

    /// What the shell feeds the machine, with the current monotonic time in ns.
    public enum Input: Sendable, Equatable {
        /// A timer the machine asked for (`Machine.nextWakeupNs`) fired (or any time: the machine checks its
        /// deadlines against `nowNs`).
        case tick
        /// A membership message from an authenticated peer.
        case received(Message, from: NodeIdentity)
        /// The transport completed a handshake with `peer` (a seed answering, a member connecting).
        case associated(NodeIdentity)
        /// The connection to `peer` ended (EOF, reset, idle timeout): a hint, not a verdict — the machine probes
        /// it at once.
        case connectionLost(NodeIdentity)
        /// A dial to `address` failed, or a message to it was dropped. `refused`: the TCP connect was refused
        /// (nothing listens there).
        case unreachable(NodeAddress, refused: Bool)
        /// The operator asked this node to leave gracefully.
        case leave
        /// The operator downs `node` by hand.
        case down(NodeIdentity)
    }

    /// What the machine asks the shell to do.
    public enum Action: Sendable, Equatable {
        /// Send `message` to `to` (uid 0 = whichever node listens at the address: seeds). `dialNow`: connect at
        /// once even if the transport is backing off from that address (probes after a lost connection).
        case send(Message, to: NodeIdentity, dialNow: Bool)
        /// Tell the node (`MembershipShell.events()`).
        case event(Event)
        /// This node, still joining, is about to exchange membership with `peer`, the first node since it started
        /// (its join goes out, or a member's message came in): from now on a cluster may list it. Record it durably
        /// (`MemberMemory.recordContact`) before performing the actions after this one. Emitted at most once.
        case recordContact(NodeIdentity)
    }

    /// Counters the machine keeps (exported as metrics by the shell).
    public struct Stats: Sendable, Equatable {
        public var probesSent = 0
        public var probesFailed = 0
        public var pingReqsSent = 0
        public var nacksReceived = 0
        public var suspicions = 0
        public var refutations = 0
        public var downsBySuspicion = 0
        public var downsConfirmedCrash = 0
        public var downsByOperator = 0
        public var downsReplaced = 0
        public var staleGossipIgnored = 0
        /// Senders told that members they list as live are down or removed here (`correctStale`).
        public var staleGossipCorrected = 0
        public var pushPulls = 0
        /// New member entries refused because `maxMembers` members were listed.
        public var membersRefused = 0
        public init() {}
    }
}
