import Synchronization

/// The thin I/O shell around `Membership.Machine`: feeds it the transport's events (associations, lost
/// connections, failed dials, `membership` frames) and timer ticks, and carries out its actions (encodes and
/// sends messages, publishes events). Every input is handled on the transport's event-loop thread, one at a
/// time, so the machine is never touched concurrently; readers (`members`, `hasQuorum`) take a snapshot that is
/// refreshed after every input.
///
/// One timer is armed at the machine's `nextWakeupNs` (re-armed when an input moves it earlier).
public final class MembershipShell: Sendable {
    private let transport: Transport
    private let logger: Logger
    private let counters: MembershipCounters
    /// Where the agreed member set is kept across restarts (`--data`); nil: nowhere.
    private let memory: MemberMemory?

    /// Loop-confined state (only touched on the event-loop thread, inside `feed`).
    private final class Confined: @unchecked Sendable {
        var machine: Membership.Machine
        var timerID: UInt64?
        var timerDeadline: UInt64 = .max
        var stats = Membership.Stats()
        var stopped = false
        /// The last member-file write error logged (each distinct one once).
        var memoryError: String?
        /// `agreedGeneration` of the set last written to the member file (nil: none yet).
        var rememberedGeneration: UInt64?
        init(_ m: Membership.Machine) { machine = m }
    }

    private let confined: Confined

    /// What readers on other threads see: refreshed after every input.
    public struct Snapshot: Sendable {
        public var myself: Membership.Member
        public var members: [Membership.Member]
        public var hasQuorum: Bool
        public var localHealthMultiplier: Int
        /// ms since anything was heard from each member (by identity).
        public var lastHeardAgeMs: [NodeIdentity: Int]
        public var tombstones: Int
        /// Monotonic ns when the snapshot was taken.
        public var takenNs: UInt64
        /// While this node waits for a majority of the member set its data directory remembered: the addresses
        /// heard from (itself included) and all of them (`Membership.Machine.rememberedWait`).
        public var rememberedWait: (heard: [NodeAddress], of: [NodeAddress])?
        /// The member whose answer made this node `up` (it joined a running cluster), nil when it formed the
        /// cluster or is still joining (`Membership.Machine.joinedThrough`).
        public var joinedThrough: NodeIdentity?
        /// This node formed the cluster again with a majority of its remembered set
        /// (`Membership.Machine.formedWithRemembered`).
        public var formedWithRemembered: Bool
    }

    private let published: Mutex<Snapshot>
    /// Uids declared down or removed, newest last, at most `maxDownRemembered` (calls to them fail at once).
    private let downed = Mutex(DownSet())
    private let downHook = Mutex<(@Sendable (NodeIdentity) -> Void)?>(nil)

    /// Remembered down identities for `isDown`; the oldest are forgotten beyond the bound.
    private struct DownSet {
        var set: Set<NodeIdentity> = []
        var order: [NodeIdentity] = []
        mutating func insert(_ n: NodeIdentity, limit: Int) {
            guard set.insert(n).inserted else { return }
            order.append(n)
            if order.count > limit {
                let drop = order.count - limit
                for old in order.prefix(drop) { set.remove(old) }
                order.removeFirst(drop)
            }
        }
    }
    private let subscribers = Mutex<[Int: AsyncStream<Membership.Event>.Continuation]>([:])
    private let nextSubscriber = Atomic<Int>(0)

    /// Events buffered per subscriber before the oldest are dropped (a subscriber that stops reading cannot
    /// bloat the node).
    public static let subscriberBuffer = 4096

    /// - Parameters:
    ///   - seeds: seed addresses (this node's own may be among them).
    ///   - roles: opaque role strings gossiped with this node's entry.
    ///   - memory: the agreed member set remembered from an earlier run, and where the new one is kept.
    init(transport: Transport, node: NodeIdentity, name: String, roles: [String], seeds: [NodeAddress],
         settings: Membership.Settings, memory: MemberMemory?, logger: Logger, metrics: Metrics) {
        self.transport = transport
        self.logger = logger
        self.counters = MembershipCounters(metrics)
        self.memory = memory
        let now = Monotonic.nowNs()
        let machine = Membership.Machine(node: node, name: name, roles: roles, seeds: seeds, remembered: memory?.remembered ?? [],
                                         formsNoCluster: memory?.formsNoCluster ?? false,
                                         forceNewCluster: memory?.forcedNewCluster ?? false, settings: settings, nowNs: now,
                                         randomSeed: NodeIdentity.randomUID())
        if let memory, memory.formsNoCluster, machine.myself.status == .joining {
            let why = memory.foundAs == .contact
                ? "this data directory's node was in contact with a cluster but no member set was agreed here"
                : "the data directory holds replicas but no member file"
            logger.warning("membership.no_member_file", ["file": memory.path,
                                                         "detail": "\(why): joining only a running cluster, through --seeds or a member that contacts this node (start with --force-new-cluster to form one)"])
        }
        if machine.waitsForFirstSeed {
            logger.info("membership.first_seed", ["first": seeds.first?.description ?? "",
                                                  "detail": "only the first seed forms a new cluster: joining a running cluster through the seeds (start with this node's address first in --seeds to found one here)"])
        }
        if let memory, machine.rememberedWait != nil {
            logger.info("membership.remembered", ["members": memory.remembered.map(\.description).joined(separator: ","),
                                                  "file": memory.path,
                                                  "detail": "waiting for a majority of them before forming a cluster"])
        }
        confined = Confined(machine)
        published = Mutex(Self.snapshot(of: machine, now: now))
    }

    /// Starts the protocol: the first tick runs on the event loop (joins through the seeds).
    func start() {
        feed(.tick)
    }

    /// Stops handling inputs and ends every event stream. Idempotent.
    func stop() {
        _ = transport.loop.execute { [self] in
            confined.stopped = true
            if let t = confined.timerID { transport.loop.cancel(t) }
            confined.timerID = nil
        }
        let all = subscribers.withLock { s -> [AsyncStream<Membership.Event>.Continuation] in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for c in all { c.finish() }
    }

    // MARK: Reading

    /// The latest snapshot (taken after the last input).
    public var snapshot: Snapshot { published.withLock { $0 } }
    /// Every listed member, this node included, sorted by identity.
    public var members: [Membership.Member] { snapshot.members }
    public var myself: Membership.Member { snapshot.myself }
    /// This node's side holds the majority of the last agreed member set.
    public var hasQuorum: Bool { snapshot.hasQuorum }

    /// The member listed with that identity, if any.
    public func member(_ node: NodeIdentity) -> Membership.Member? {
        snapshot.members.first { $0.node == node }
    }

    /// Membership events from now on, preceded by the current members (each as `memberChanged(m, previous: nil)`)
    /// and the current quorum, so a subscriber starts from the whole picture. Ends at `stop`. Keeps the newest
    /// `subscriberBuffer` events when the reader falls behind.
    public func events() -> AsyncStream<Membership.Event> {
        let (stream, continuation) = AsyncStream<Membership.Event>.makeStream(bufferingPolicy: .bufferingNewest(Self.subscriberBuffer))
        let id = nextSubscriber.add(1, ordering: .relaxed).newValue
        // Registered and primed on the loop thread, so no event falls between the snapshot and the registration.
        let ok = transport.loop.execute { [self] in
            let m = confined.machine
            for member in m.members { continuation.yield(.memberChanged(member, previous: nil)) }
            let active = m.members.filter { $0.status.isActive }.count
            continuation.yield(.quorumChanged(hasQuorum: m.hasQuorum, reachable: active, of: active))
            subscribers.withLock { $0[id] = continuation }
        }
        if !ok { continuation.finish() }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    /// Whether `node` (this exact uid) was declared down or removed. uid 0 ("whoever is at the address") never is.
    public func isDown(_ node: NodeIdentity) -> Bool {
        node.uid != 0 && downed.withLock { $0.set.contains(node) }
    }

    /// Called (on the event-loop thread, must not block) when a member other than this node goes down or is
    /// removed: the actor system fails the calls waiting on it.
    var onDown: (@Sendable (NodeIdentity) -> Void)? {
        get { downHook.withLock { $0 } }
        set { downHook.withLock { $0 = newValue } }
    }

    // MARK: Operator commands

    /// Leaves gracefully: announces `leaving`, then `removed` after `leaveGossipTime`.
    public func leave() { feed(.leave) }

    /// Downs `node` by hand (its uid never comes back).
    public func down(_ node: NodeIdentity) { feed(.down(node)) }

    // MARK: Inputs

    /// Hands one input to the machine on the event-loop thread (from any thread).
    func feed(_ input: Membership.Input) {
        if transport.loop.isInLoop {
            handle(input)
        } else {
            _ = transport.loop.execute { [self] in handle(input) }
        }
    }

    /// A `membership` frame arrived (event-loop thread). Undecodable payloads close that connection.
    func received(_ payload: ArraySlice<UInt8>, from peer: NodeIdentity) {
        let message: Membership.Message
        do {
            message = try Wire.BinaryDecoder().decode(Membership.Message.self, from: payload)
        } catch {
            transport.rejectMalformed(from: peer, reason: "membership message: \(error)")
            return
        }
        feed(.received(message, from: peer))
    }

    /// Event-loop thread only.
    private func handle(_ input: Membership.Input) {
        let c = confined
        guard !c.stopped else { return }
        let now = Monotonic.nowNs()
        let actions = c.machine.handle(input, nowNs: now)
        counters.record(from: c.stats, to: c.machine.stats)
        c.stats = c.machine.stats
        published.withLock { $0 = Self.snapshot(of: c.machine, now: now) }
        counters.update(c.machine)
        for action in actions { perform(action) }
        remember(c.machine)
        armTimer(now: now)
    }

    /// Keeps the agreed set's addresses in the member file while this node holds quorum (a write only when they
    /// changed; nothing is computed on an input that left the agreed set as it was). A failed write is logged,
    /// at most once per distinct error, and retried on the next input.
    private func remember(_ m: Membership.Machine) {
        guard let memory, m.hasQuorum, confined.rememberedGeneration != m.agreedGeneration else { return }
        do {
            if try memory.save(m.agreedMembers.map(\.address)) {
                logger.debug("membership.remembered.saved", ["members": m.agreedMembers.map(\.address.description).joined(separator: ",")])
            }
            confined.memoryError = nil
            confined.rememberedGeneration = m.agreedGeneration
        } catch {
            let text = "\(error)"
            if confined.memoryError != text {
                confined.memoryError = text
                logger.warning("membership.remembered.write_failed", ["file": memory.path, "error": text])
            }
        }
    }

    private func perform(_ action: Membership.Action) {
        switch action {
        case .send(let message, let to, let dialNow):
            let address = to.address
            let onUndelivered: UndeliveredHandler = { [weak self] error in
                self?.feed(.unreachable(address, refused: error.isConnectionRefused))
            }
            do {
                try transport.send(.membership, to: to, dialNow: dialNow, onUndelivered: onUndelivered) { buffer in
                    try Wire.BinaryEncoder().encode(message, appendingTo: &buffer)
                }
                counters.messagesOut.increment()
            } catch {
                // Reported after this input is done (never re-entrantly).
                let refused = (error as? TransportError)?.isConnectionRefused ?? false
                _ = transport.loop.execute { [weak self] in self?.handle(.unreachable(address, refused: refused)) }
            }
        case .recordContact(let peer):
            // Synchronous, on the event-loop thread: the transport flushes this node's join to `peer` only after
            // this input is handled (an association is reported before its queued frames go).
            guard let memory else { return }
            do {
                if try memory.recordContact() {
                    logger.info("membership.contact_recorded", ["file": memory.path, "peer": peer,
                                                                "detail": "a restart on this data directory joins only a running cluster"])
                }
            } catch {
                logger.warning("membership.remembered.write_failed", ["file": memory.path, "error": "\(error)"])
            }
        case .event(let event):
            log(event)
            if case .memberChanged(let m, _) = event, m.status.isTerminal, m.node != confined.machine.myself.node {
                downed.withLock { $0.insert(m.node, limit: max(64, confined.machine.settings.maxTombstones)) }
                onDown?(m.node)
            }
            let all = subscribers.withLock { Array($0.values) }
            for s in all { s.yield(event) }
        }
    }

    private func log(_ event: Membership.Event) {
        switch event {
        case .memberChanged(let m, let previous):
            let fields: KeyValuePairs<String, Any> = ["member": m.node, "name": m.name, "from": previous.map(\.rawValue) ?? "new",
                                                      "to": m.status.rawValue, "incarnation": m.incarnation]
            if m.status == .down || m.status == .suspect {
                logger.warning("membership.member.changed", fields)
            } else {
                logger.info("membership.member.changed", fields)
            }
        case .quorumChanged(let has, let reachable, let of):
            let fields: KeyValuePairs<String, Any> = ["quorum": has, "reachable": reachable, "of": of]
            if has { logger.info("membership.quorum", fields) } else { logger.warning("membership.quorum", fields) }
        }
    }

    private func armTimer(now: UInt64) {
        let c = confined
        let next = c.machine.nextWakeupNs
        guard next != .max else {
            if let t = c.timerID { transport.loop.cancel(t) }
            c.timerID = nil
            c.timerDeadline = .max
            return
        }
        if c.timerID != nil, c.timerDeadline <= next { return }
        if let t = c.timerID { transport.loop.cancel(t) }
        c.timerDeadline = next
        let delay = next > now ? Int64(clamping: next - now) : 0
        c.timerID = transport.loop.schedule(afterNs: delay) { [weak self] in
            guard let self else { return }
            self.confined.timerID = nil
            self.confined.timerDeadline = .max
            self.handle(.tick)
        }
    }

    private static func snapshot(of m: Membership.Machine, now: UInt64) -> Snapshot {
        var heard: [NodeIdentity: Int] = [:]
        for member in m.members where member.node != m.myself.node {
            if let age = m.lastHeardAgeMs(member.node, nowNs: now) { heard[member.node] = age }
        }
        return Snapshot(myself: m.myself, members: m.members, hasQuorum: m.hasQuorum,
                        localHealthMultiplier: m.localHealthMultiplier, lastHeardAgeMs: heard,
                        tombstones: m.tombstoneCount, takenNs: now, rememberedWait: m.rememberedWait,
                        joinedThrough: m.joinedThrough, formedWithRemembered: m.formedWithRemembered)
    }
}

/// Membership metrics (Prometheus names).
struct MembershipCounters: Sendable {
    let probes: Counter
    let probesFailed: Counter
    let pingReqs: Counter
    let nacks: Counter
    let suspicions: Counter
    let refutations: Counter
    let downs: Counter
    let staleGossip: Counter
    let staleCorrected: Counter
    let pushPulls: Counter
    let messagesOut: Counter
    let byStatus: [Membership.Status: Gauge]
    let localHealth: Gauge
    let quorum: Gauge

    init(_ m: Metrics) {
        probes = m.counter("cluster_membership_probes_total", help: "SWIM direct probes (pings) sent.")
        probesFailed = m.counter("cluster_membership_probes_failed_total", help: "Probes that got no ack, directly or through ping-req.")
        pingReqs = m.counter("cluster_membership_ping_reqs_total", help: "Indirect probe requests (ping-req) sent.")
        nacks = m.counter("cluster_membership_nacks_total", help: "Nacks received from ping-req intermediaries (Lifeguard).")
        suspicions = m.counter("cluster_membership_suspicions_total", help: "Members this node started suspecting.")
        refutations = m.counter("cluster_membership_refutations_total", help: "Suspicions of this node it refuted by raising its incarnation.")
        downs = m.counter("cluster_membership_downs_total", help: "Members this node declared down (suspicion timeout, confirmed crash, replaced uid, operator).")
        staleGossip = m.counter("cluster_membership_stale_gossip_total", help: "Gossip ignored: older incarnation or a tombstoned uid.")
        staleCorrected = m.counter("cluster_membership_stale_gossip_corrected_total",
                                   help: "Senders told that members they list as live are down or removed here.")
        pushPulls = m.counter("cluster_membership_push_pulls_total", help: "Full-state push-pull exchanges (joins and anti-entropy).")
        messagesOut = m.counter("cluster_membership_messages_out_total", help: "Membership messages handed to the transport.")
        var g: [Membership.Status: Gauge] = [:]
        for s in Membership.Status.allCases where s != .removed {
            g[s] = m.gauge("cluster_members_\(s.rawValue)", help: "Members this node lists as \(s.rawValue).")
        }
        byStatus = g
        localHealth = m.gauge("cluster_membership_local_health_multiplier", help: "Lifeguard local health multiplier (1 = healthy).")
        quorum = m.gauge("cluster_membership_has_quorum", help: "1 when this node's side holds the majority of the last agreed member set.")
    }

    func record(from a: Membership.Stats, to b: Membership.Stats) {
        probes.increment(by: max(0, b.probesSent - a.probesSent))
        probesFailed.increment(by: max(0, b.probesFailed - a.probesFailed))
        pingReqs.increment(by: max(0, b.pingReqsSent - a.pingReqsSent))
        nacks.increment(by: max(0, b.nacksReceived - a.nacksReceived))
        suspicions.increment(by: max(0, b.suspicions - a.suspicions))
        refutations.increment(by: max(0, b.refutations - a.refutations))
        let downsA = a.downsBySuspicion + a.downsConfirmedCrash + a.downsByOperator + a.downsReplaced
        let downsB = b.downsBySuspicion + b.downsConfirmedCrash + b.downsByOperator + b.downsReplaced
        downs.increment(by: max(0, downsB - downsA))
        staleGossip.increment(by: max(0, b.staleGossipIgnored - a.staleGossipIgnored))
        staleCorrected.increment(by: max(0, b.staleGossipCorrected - a.staleGossipCorrected))
        pushPulls.increment(by: max(0, b.pushPulls - a.pushPulls))
    }

    func update(_ m: Membership.Machine) {
        var counts: [Membership.Status: Int] = [:]
        for member in m.members { counts[member.status, default: 0] += 1 }
        for (s, g) in byStatus { g.set(counts[s] ?? 0) }
        localHealth.set(m.localHealthMultiplier)
        quorum.set(m.hasQuorum ? 1 : 0)
    }
}
