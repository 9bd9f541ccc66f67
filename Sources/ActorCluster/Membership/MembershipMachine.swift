extension Membership {
    /// The membership protocol as a pure value: inputs (messages, connection hints, timer ticks, operator
    /// commands) with the current monotonic time go in, actions (messages to send, events) come out. No clock,
    /// socket or thread inside, so it runs the same under `MembershipShell` and in a simulated network.
    ///
    /// SKELETON: the public surface the shell builds on; the protocol is filled in separately.
    public struct Machine: Sendable {
        public private(set) var settings: Settings
        public private(set) var myself: Member
        public private(set) var stats = Stats()
        private var table: [NodeIdentity: Member] = [:]

        /// - Parameters:
        ///   - node: this node's identity (address and uid).
        ///   - seeds: seed addresses; this node's own address may be among them. None: the node is `up` at once,
        ///     a cluster of one.
        ///   - randomSeed: seeds the probe-order shuffle and member picks (deterministic simulations).
        public init(node: NodeIdentity, name: String, roles: [String], seeds: [NodeAddress], settings: Settings = .default,
                    nowNs: UInt64, randomSeed: UInt64) {
            self.settings = settings
            self.myself = Member(node: node, name: name, roles: roles, status: seeds.isEmpty ? .up : .joining, incarnation: 0)
        }

        /// Feeds one input; returns what to do, in order.
        public mutating func handle(_ input: Input, nowNs: UInt64) -> [Action] { [] }

        /// When the machine next needs a `.tick` (monotonic ns).
        public var nextWakeupNs: UInt64 { UInt64.max }

        /// Every listed member, this node included, sorted by identity (removed ones are tombstones, not listed).
        public var members: [Member] { ([myself] + table.values.filter { $0.node != myself.node }).sorted { $0.node < $1.node } }

        /// The listed member with that identity.
        public func member(_ node: NodeIdentity) -> Member? { node == myself.node ? myself : table[node] }

        /// This node's side holds the majority of the last agreed member set (keep-majority).
        public var hasQuorum: Bool { true }

        /// Lifeguard local health multiplier, 1 (healthy) ... `maxLocalHealthMultiplier`.
        public var localHealthMultiplier: Int { 1 }

        /// Milliseconds since anything was last heard from `node`; nil if never.
        public func lastHeardAgeMs(_ node: NodeIdentity, nowNs: UInt64) -> Int? { nil }

        /// Uids removed and remembered (tombstones).
        public var tombstoneCount: Int { 0 }
    }
}
