/// Where each singleton of the application lives, computed by every node from its own membership view: no
/// coordinator, the same answer on every node that sees the same members.
///
/// Each key (a singleton's name, e.g. an office) has home roles and eligible roles (opaque strings from
/// `ClusterSettings.roles`). Its owner is:
/// 1. the home member (the lowest identity among members with a home role) when it is `up` and has been up, in
///    this node's view, for `settleTime` — so an actor moves home only once its home node has stayed up;
/// 2. otherwise the rendezvous-hash winner (`Rendezvous`) over the candidates: members that are `up` or
///    `suspect` (a suspicion alone moves nothing) and have an eligible role or no roles at all (a node with no
///    roles hosts everything); `leaving`, `down`, `removed` and `joining` members host nothing.
///
/// Every change of a key's owner raises its epoch by one (in this node's view; the epoch orders the moves a
/// node has seen, e.g. to tell a stale owner from the current one).
public struct Placement: Sendable {
    /// What may host one key.
    public struct Rule: Sendable, Hashable {
        public var key: String
        /// A member with any of these roles is the key's home.
        public var homeRoles: Set<String>
        /// Members with any of these roles (or with no roles) may host it when the home cannot.
        public var eligibleRoles: Set<String>

        public init(key: String, homeRoles: Set<String> = [], eligibleRoles: Set<String>) {
            self.key = key
            self.homeRoles = homeRoles
            self.eligibleRoles = eligibleRoles
        }
    }

    /// A key's current owner (nil: no member may host it now) and its epoch.
    public struct Assignment: Sendable, Hashable, Codable {
        public var key: String
        public var node: NodeIdentity?
        public var epoch: UInt64
        /// The owner is the key's home member.
        public var atHome: Bool

        public init(key: String, node: NodeIdentity?, epoch: UInt64, atHome: Bool) {
            self.key = key
            self.node = node
            self.epoch = epoch
            self.atHome = atHome
        }
    }

    /// One move: `key` went from `from` to `to` (either may be nil) at `epoch`.
    public struct Move: Sendable, Hashable {
        public var key: String
        public var from: NodeIdentity?
        public var to: NodeIdentity?
        public var epoch: UInt64
    }

    public let rules: [Rule]
    /// How long a home member must have been up before its keys move back to it, in ns.
    public let settleNs: UInt64
    public private(set) var assignments: [String: Assignment] = [:]
    /// When this node first saw each member `up` (monotonic ns), for the settle time.
    private var upSince: [NodeIdentity: UInt64] = [:]
    private var members: [Membership.Member] = []

    /// - Parameter settleTime: a home member must stay up this long before its keys return to it.
    public init(rules: [Rule], settleTime: Duration) {
        self.rules = rules
        let c = settleTime.components
        settleNs = UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds / 1_000_000_000))
        for r in rules { assignments[r.key] = Assignment(key: r.key, node: nil, epoch: 0, atHome: false) }
    }

    /// Recomputes every owner from `members` (the whole current list) at `nowNs`. Returns the moves, in key order.
    public mutating func update(members: [Membership.Member], nowNs: UInt64) -> [Move] {
        self.members = members
        // Up since the first time seen up; a suspicion keeps the time, anything else forgets it.
        var kept = Set<NodeIdentity>()
        for m in members where m.status == .up || m.status == .suspect {
            kept.insert(m.node)
            if m.status == .up, upSince[m.node] == nil { upSince[m.node] = nowNs }
        }
        upSince = upSince.filter { kept.contains($0.key) }
        return recompute(nowNs: nowNs)
    }

    /// Re-evaluates settle times without a membership change (call at `nextWakeupNs`).
    public mutating func tick(nowNs: UInt64) -> [Move] { recompute(nowNs: nowNs) }

    /// When a home member's settle time ends (monotonic ns), or nil.
    public var nextWakeupNs: UInt64? {
        var next: UInt64?
        for r in rules {
            guard let home = home(of: r), home.status == .up, let since = upSince[home.node] else { continue }
            let at = since &+ settleNs
            if assignments[r.key]?.node != home.node { next = min(next ?? at, at) }
        }
        return next
    }

    /// The owner of `key`, if any.
    public func owner(of key: String) -> NodeIdentity? { assignments[key]?.node }

    private func home(of rule: Rule) -> Membership.Member? {
        guard !rule.homeRoles.isEmpty else { return nil }
        return members.filter { m in m.status != .removed && m.roles.contains(where: rule.homeRoles.contains) }
            .min { $0.node < $1.node }
    }

    private mutating func recompute(nowNs: UInt64) -> [Move] {
        var moves: [Move] = []
        for rule in rules {
            let target = owner(for: rule, nowNs: nowNs)
            var a = assignments[rule.key] ?? Assignment(key: rule.key, node: nil, epoch: 0, atHome: false)
            a.atHome = target != nil && target == home(of: rule)?.node
            if a.node != target {
                moves.append(Move(key: rule.key, from: a.node, to: target, epoch: a.epoch + 1))
                a.node = target
                a.epoch += 1
            }
            assignments[rule.key] = a
        }
        return moves
    }

    private func owner(for rule: Rule, nowNs: UInt64) -> NodeIdentity? {
        let current = assignments[rule.key]?.node
        let home = home(of: rule)
        if let home {
            if home.status == .up, let since = upSince[home.node],
               current == home.node || nowNs &- since >= settleNs || isFirstPlacement(rule) {
                return home.node
            }
            // A suspicion alone moves nothing.
            if home.status == .suspect, current == home.node { return home.node }
        }
        let candidates = members.filter { m in
            (m.status == .up || m.status == .suspect)
                && (m.roles.isEmpty || m.roles.contains(where: rule.eligibleRoles.contains)
                    || m.roles.contains(where: rule.homeRoles.contains))
        }.map(\.node)
        if let current, current != home?.node, candidates.contains(current),
           members.first(where: { $0.node == current })?.status == .suspect {
            return current
        }
        // An unsettled home waits its settle time unless nobody else can host the key.
        let others = candidates.filter { $0 != home?.node }
        return Rendezvous.owner(of: rule.key, among: others.isEmpty ? candidates : others)
    }

    /// The key was never placed: its home takes it at once (no settle time at cluster start).
    private func isFirstPlacement(_ rule: Rule) -> Bool { (assignments[rule.key]?.epoch ?? 0) == 0 }
}
