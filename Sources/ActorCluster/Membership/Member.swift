/// Gossip membership: who is in the cluster, and in what state. SWIM failure detection and dissemination
/// (Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process Group Membership Protocol",
/// DSN 2002) with the Lifeguard extensions (Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness for More
/// Accurate Failure Detection", 2018). The protocol is the pure value `Membership.Machine`; the I/O shell that
/// carries out its actions over the transport is `MembershipShell`. Protocol and settings: `Docs/membership.md`.
public enum Membership {}

extension Membership {
    /// Where a member is in its life. A member's states only move forward for one uid:
    /// `joining → up ⇄ suspect → down → removed`, and `up/suspect → leaving → removed`.
    ///
    /// - `joining`: the process runs but no member has answered its join yet.
    /// - `up`: a full member.
    /// - `suspect`: a probe and the indirect probes (ping-req) got no ack; the member has until the suspicion
    ///   timeout to refute (by raising its incarnation), else it is `down` (SWIM §4.2).
    /// - `leaving`: it announced a graceful leave (hands off its actors); never suspected.
    /// - `down`: declared dead (suspicion timed out, confirmed crashed, replaced by a new uid at its address, or
    ///   downed by an operator). Final for that uid: it never comes back, it must rejoin as a new uid.
    /// - `removed`: gone from the member list; only its tombstone remains (so stale gossip cannot revive it).
    public enum Status: String, Codable, Sendable, CaseIterable, Comparable, CustomStringConvertible {
        case joining, up, suspect, leaving, down, removed

        /// Order of precedence when two views of the same uid and incarnation disagree (higher wins).
        public var rank: Int {
            switch self {
            case .joining: 0
            case .up: 1
            case .suspect: 2
            case .leaving: 3
            case .down: 4
            case .removed: 5
            }
        }

        /// `down` or `removed`: the uid will never be a member again.
        public var isTerminal: Bool { self == .down || self == .removed }
        /// Counts towards the cluster (probed, in quorum, may host actors): `up`, `suspect` or `leaving`.
        public var isActive: Bool { self == .up || self == .suspect || self == .leaving }

        public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }
        public var description: String { rawValue }
    }

    /// One member as gossip carries it: identity (address **and** uid), its human name, roles, status and
    /// incarnation. Small (tens of bytes) so that many fit in one probe frame.
    public struct Member: Codable, Sendable, Hashable, CustomStringConvertible {
        /// Address and uid. A process restarted on the same address has a new uid: a new member.
        public var node: NodeIdentity
        /// Human name (`--name`), for tables and logs.
        public var name: String
        /// Opaque role strings the application placed on this node (e.g. `"district:210302"`); the runtime does
        /// not interpret them.
        public var roles: [String]
        public var status: Status
        /// Raised only by the member itself, to refute a suspicion about it (SWIM §4.2) or to announce a change
        /// of its own state. Starts at 0.
        public var incarnation: UInt64

        public init(node: NodeIdentity, name: String, roles: [String], status: Status, incarnation: UInt64) {
            self.node = node
            self.name = name
            self.roles = roles
            self.status = status
            self.incarnation = incarnation
        }

        public var description: String { "\(name)@\(node) \(status) inc=\(incarnation)" }

        /// Whether this view of a member supersedes `other` (same uid): a terminal status always wins over a
        /// live one; otherwise the higher incarnation wins, and at equal incarnation the higher `Status.rank`.
        /// `leaving` also wins over `up`/`suspect` at any incarnation (only the member itself announces it).
        public func supersedes(_ other: Member) -> Bool {
            if status.isTerminal != other.status.isTerminal { return status.isTerminal }
            if status.isTerminal { return status.rank > other.status.rank }
            if (status == .leaving) != (other.status == .leaving) { return status == .leaving }
            if incarnation != other.incarnation { return incarnation > other.incarnation }
            return status.rank > other.status.rank
        }
    }

    /// What the membership machine tells the node (through `MembershipShell.events()`).
    public enum Event: Sendable, Equatable, CustomStringConvertible {
        /// A member appeared or changed status (`previous` nil when it was unknown). Also emitted for this node
        /// itself: `joining → up` when the join was answered, and `→ down` when the cluster downed it (the
        /// process must then rejoin with a new uid).
        case memberChanged(Member, previous: Status?)
        /// This node's side of the cluster gained or lost the majority of the last agreed member set
        /// (keep-majority downing). Without it the node must stop hosting singleton actors.
        case quorumChanged(hasQuorum: Bool, reachable: Int, of: Int)

        public var description: String {
            switch self {
            case .memberChanged(let m, let previous): "\(m.name)@\(m.node) \(previous.map(\.rawValue) ?? "new") → \(m.status)"
            case .quorumChanged(let q, let r, let of): q ? "quorum (\(r) of \(of))" : "no quorum (\(r) of \(of))"
            }
        }
    }
}
