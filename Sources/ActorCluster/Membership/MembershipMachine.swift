extension Membership {
    /// The membership protocol as a pure value: inputs (messages, connection hints, timer ticks, operator
    /// commands) with the current monotonic time go in, actions (messages to send, events) come out. No clock,
    /// socket or thread inside, so it runs the same under `MembershipShell` and in a simulated network.
    ///
    /// SWIM (Das, Gupta, Motivala, DSN 2002): one probe per protocol period, round-robin over a shuffled member
    /// list (SWIM §4.3); a direct `ping`, then `pingReq` through k others (SWIM §3.1); a failed probe makes the
    /// target `suspect` (SWIM §4.2); updates ride piggybacked on probe messages (SWIM §4.1). Lifeguard
    /// (Dadgar, Phillips, Currey 2018): local health stretches this node's own timing when it is the slow one
    /// (Lifeguard §4.1), suspicion timeouts shrink with independent confirmations (Lifeguard §4.2), and a
    /// suspect learns of its suspicion in the very probe to it (buddy system, Lifeguard §4.3). On top: joining
    /// through seeds, push–pull anti-entropy, crash confirmation from refused connections, keep-majority
    /// quorum, graceful leave and tombstones. `Docs/membership.md` has the whole protocol.
    ///
    /// Times are monotonic nanoseconds (`nowNs`), passed in with every input; the machine never reads a clock.
    /// Every table is bounded (`Settings.maxMembers`, `maxTombstones`; pending probes and relays by the member
    /// count).
    public struct Machine: Sendable {
        public private(set) var settings: Settings
        /// This node's own entry. Only this node raises its incarnation (to refute, or to announce leaving).
        public internal(set) var myself: Member { didSet { fullStateCache = nil } }
        public internal(set) var stats = Stats()

        // MARK: Member table

        /// Every other listed member (any status but `removed`), with when it entered its status.
        var records: [NodeIdentity: Record] = [:] { didSet { fullStateCache = nil } }
        /// When each listed member was last heard from (a message or a handshake, or a relayed ack of this
        /// node's probe of it), monotonic ns.
        /// Kept apart from `records` so that hearing from a member does not invalidate `fullStateCache`.
        var lastHeard: [NodeIdentity: UInt64] = [:]
        /// When each listed member last talked to this node itself (a message or a handshake; not a relayed
        /// ack), monotonic ns: a down by suspicion needs a quorum of members heard this way (`directQuorum`).
        var heardDirectly: [NodeIdentity: UInt64] = [:]
        /// Listed non-terminal uids per address: finds the member behind `.unreachable(address)` and spots a
        /// restart (a new uid at a known address) without scanning the table.
        var liveByAddress: [NodeAddress: [NodeIdentity]] = [:]
        /// Other members that are active (`up`, `suspect`, `leaving`); N − 1 for suspicion and quorum math.
        var activeCount = 0
        /// Removed uids, so stale gossip cannot list them again.
        var tombstones: Tombstones
        /// Full state for push–pull, sorted, rebuilt only after the table or `myself` changed.
        var fullStateCache: [Member]?

        // MARK: Protocol state

        /// Updates waiting to be piggybacked (SWIM §4.1).
        var gossip: GossipQueue
        /// Lifeguard local health (Lifeguard §4.1): stretches this node's probe interval and timeouts.
        var health: LocalHealth
        /// Keep-majority: the last agreed member set and whether this side holds its majority.
        var quorum: Quorum
        /// Set when the reachability of an agreed member changed (or the agreed set did) since the quorum was
        /// last evaluated.
        var statusDirty = false
        /// Set when the active set changed since `quorum.agreed` was last updated (it waits for no suspects).
        var agreedStale = false
        /// Members of `quorum.agreed` that are reachable (active, not suspect), this node included; kept up to
        /// date by `transition` and `forgetAgreed`, recounted only when the agreed set is replaced.
        var agreedReachable = 0
        /// One Lifeguard timer per `suspect` member (exactly the members held as suspect).
        var suspicions: [NodeIdentity: Suspicion] = [:]
        /// Probes this node runs, by the seq of their ping: the periodic one and out-of-turn ones after a lost
        /// connection. At most one per target (`probeByTarget`), so bounded by the member count.
        var probes: [UInt64: Probe] = [:]
        /// The seq of the probe running per target: a hint about a member hurries its probe, never adds one.
        var probeByTarget: [NodeIdentity: UInt64] = [:]
        /// Pings this node sends on others' behalf (it is their ping-req intermediary), by its own ping seq.
        /// Bounded by the member count; beyond it a ping-req is refused with a nack.
        var relays: [UInt64: Relay] = [:]
        /// The shuffled round-robin probe order (SWIM §4.3) and the next position in it. May hold members
        /// that stopped being probe targets; they are skipped and dropped at the next reshuffle.
        var probeOrder: [NodeIdentity] = []
        /// Next position in `probeOrder`; at the end the order is rebuilt and reshuffled.
        var probeCursor = 0
        /// Down members waiting for `removeDownAfter`, in due order (the delay is constant), from `removalsHead`.
        var removals: [(node: NodeIdentity, dueNs: UInt64)] = []
        /// First entry of `removals` not yet due (the array is compacted now and then).
        var removalsHead = 0
        /// Seeded: probe order, ping-req intermediaries and push–pull partners replay exactly in simulations.
        var rng: SplitMix64
        /// Seq of the next ping this node sends (its probes and its relays share the space).
        var nextSeq: UInt64 = 1

        // MARK: Timers (monotonic ns)

        /// Seed addresses (sorted, deduplicated): joined through, and pushed–pulled with while no member is
        /// listed at them (two clusters formed apart merge).
        var seeds: [NodeAddress]
        /// The first seed as configured (before sorting): the only seed that may form a new cluster (Akka's
        /// first-seed rule). nil without seeds.
        var firstSeed: NodeAddress?
        /// The operator forced a new cluster: this node founds one if no running cluster answers, first seed or not.
        var forceNewCluster = false
        let timing: Timing
        /// Start of the next protocol period (its probe); the period is stretched by local health.
        var nextProbeNs: UInt64
        /// Next periodic push–pull (anti-entropy).
        var nextPushPullNs: UInt64
        /// While joining: when the join goes (again) to the seeds.
        var nextJoinRetryNs: UInt64
        /// While joining, a node that is its own first seed forms the cluster alone at this time if it heard
        /// from nobody; nil otherwise.
        var seedDeadlineNs: UInt64?
        /// While joining after a restart: the addresses of the last member set this node's cluster agreed on, as
        /// its data directory remembered them (`MemberMemory`), when there were more than one. Until this node has
        /// heard straight from a majority of them (itself included), it neither forms a cluster alone nor lets the
        /// join of another restarted node make it `up`, and answers no join; a reply from a member already `up`
        /// still makes it `up` (that member's cluster kept its quorum). Empty once `up`. Without this, after a
        /// power loss the node restarted first formed a cluster of one, held its quorum, and opened the streams it
        /// holds no replica of empty — and the others' logs were replaced by them when they came back.
        var remembered: Set<NodeAddress> = []
        /// This node's data directory remembers no agreed set but holds a cluster's state (replicas) or marks an
        /// earlier contact with another node (`MemberMemory.recordContact`): it may have been a member whose agreed
        /// set was never written (killed right after joining, or in its join window). It then forms no
        /// cluster — not alone as a seed, not by answering another joiner — and becomes `up` only through the
        /// answer of a member already `up`. Without this, such a node restarted as its own seed answered the
        /// join of a restarted member, and the two formed a cluster apart that opened streams it did not know
        /// as new (breaker, 2026-12-02).
        let formsNoCluster: Bool
        /// The member whose answer to this node's join made it `up` (it joined a running cluster); nil while
        /// joining and when this node formed the cluster (alone, as a seed, or with a majority of its remembered
        /// set).
        public internal(set) var joinedThrough: NodeIdentity?
        /// This node formed the cluster (not through an answer) after hearing from a majority of its remembered set
        /// (`remembered`): a restart, the cluster formed again.
        public internal(set) var formedWithRemembered = false
        /// While leaving: when this node reports itself removed and stops.
        var leaveDeadlineNs: UInt64?
        /// Something (a message, a handshake) came from another node since start.
        var heardFromOther = false
        /// `Action.recordContact` was emitted.
        var contactRecorded = false
        /// Last join sent per seed address: a handshake right after a join does not send it twice.
        var joinSentNs: [NodeAddress: UInt64] = [:]
        /// Last "you are down" answer per downed sender: at most one a second each (bounded, see `answerGone`).
        var goneNoticeNs: [NodeIdentity: UInt64] = [:]
        /// Last correction of stale gossip per sender: at most one a second each (bounded, see `correctStale`).
        var correctionNs: [NodeIdentity: UInt64] = [:]
        /// While merging one message: members its sender still lists as live that are down or removed here.
        var staleLiveGossip: [NodeIdentity] = []
        /// The wakeup this node asked for after the previous input: a `.tick` much later than it means this
        /// process is starved (Lifeguard §4.1).
        var askedWakeupNs: UInt64 = .max
        /// The check before a down by suspicion (`verifiedDowns`), while its probes run and until it is used.
        var verification: Verification?
        /// Actions produced by the current `handle` call.
        var outbox: [Action] = []

        /// What this node knows about another member.
        struct Record: Sendable, Equatable {
            var member: Member
            /// When the member entered its current status (monotonic ns).
            var sinceNs: UInt64
        }

        /// The check before downing by suspicion (`verifiedDowns`): which expired suspects it re-probes, which
        /// of them acked, and when it ends.
        struct Verification: Sendable, Equatable {
            let suspects: Set<NodeIdentity>
            var acked: Set<NodeIdentity> = []
            let untilNs: UInt64
            /// `untilNs` passed (set by the timers): the probes' outcomes are in.
            var done = false
        }

        /// Settings converted to ns once.
        struct Timing: Sendable {
            let periodNs, probeTimeoutNs, pushPullNs, joinRetryNs, seedJoinTimeoutNs, removeDownNs, leaveGossipNs, tombstoneTTLNs: UInt64
            init(_ s: Settings) {
                periodNs = max(1, Membership.nanoseconds(s.protocolPeriod))
                probeTimeoutNs = min(Membership.nanoseconds(s.probeTimeout), periodNs)
                pushPullNs = max(1, Membership.nanoseconds(s.pushPullInterval))
                joinRetryNs = max(1, Membership.nanoseconds(s.joinRetryInterval))
                seedJoinTimeoutNs = Membership.nanoseconds(s.seedJoinTimeout)
                removeDownNs = Membership.nanoseconds(s.removeDownAfter)
                leaveGossipNs = Membership.nanoseconds(s.leaveGossipTime)
                tombstoneTTLNs = Membership.nanoseconds(s.tombstoneTTL)
            }
        }

        /// - Parameters:
        ///   - node: this node's identity (address and uid).
        ///   - seeds: seed addresses, in the operator's order; this node's own address may be among them. None: the
        ///     node is `up` at once, a cluster of one. Only the first may form a new cluster (`mayFormCluster`).
        ///   - remembered: the addresses of the last agreed member set, from an earlier run on the same data
        ///     directory (`MemberMemory`); more than one makes this node wait for a majority of them before it
        ///     forms a cluster (`remembered`), even without seeds. Empty: nothing remembered.
        ///   - formsNoCluster: the node's data holds a cluster's state or a contact mark but no remembered set
        ///     (`formsNoCluster`): it joins only a running cluster (ignored without seeds: nobody to join).
        ///   - forceNewCluster: the operator's `--force-new-cluster`: founds a cluster after `seedJoinTimeout` if
        ///     nobody answers, like a first seed, whatever its place among the seeds (ignored when `formsNoCluster`).
        ///   - nowNs: the current monotonic time, ns (the same clock as every later `handle`).
        ///   - randomSeed: seeds the probe-order shuffle and member picks (deterministic simulations).
        public init(node: NodeIdentity, name: String, roles: [String], seeds: [NodeAddress], remembered: [NodeAddress] = [],
                    formsNoCluster: Bool = false, forceNewCluster: Bool = false, settings: Settings = .default, nowNs: UInt64,
                    randomSeed: UInt64) {
            let remembered = Set(remembered)
            let alone = seeds.isEmpty && remembered.count <= 1
            self.settings = settings
            self.myself = Member(node: node, name: name, roles: roles, status: alone ? .up : .joining, incarnation: 0)
            self.remembered = remembered.count > 1 ? remembered : []
            self.formsNoCluster = formsNoCluster && !alone
            self.seeds = Array(Set(seeds)).sorted()
            self.firstSeed = seeds.first
            self.forceNewCluster = forceNewCluster && !self.formsNoCluster
            self.timing = Timing(settings)
            self.rng = SplitMix64(seed: randomSeed)
            self.tombstones = Tombstones(capacity: settings.maxTombstones)
            self.gossip = GossipQueue(capacity: max(1, settings.maxMembers))
            self.health = LocalHealth(maxMultiplier: settings.maxLocalHealthMultiplier)
            self.quorum = Quorum(agreed: alone ? [node] : [])
            self.nextJoinRetryNs = nowNs
            self.nextProbeNs = .max
            self.nextPushPullNs = .max
            if alone {
                agreedReachable = 1
                _ = quorum.evaluate(reachable: 1, lowestReachable: true)
                startTimers(nowNs: nowNs)
            } else if seeds.first == node.address || self.forceNewCluster, self.remembered.isEmpty, !self.formsNoCluster {
                seedDeadlineNs = nowNs &+ timing.seedJoinTimeoutNs
            }
        }

        /// For simulations and tests: starts `up` in an already converged cluster of `members` (this node's own
        /// entry among them is ignored), with the agreed quorum set = every active member. No events.
        init(node: NodeIdentity, name: String, roles: [String], converged members: [Member], seeds: [NodeAddress] = [],
             settings: Settings = .default, nowNs: UInt64, randomSeed: UInt64) {
            self.init(node: node, name: name, roles: roles, seeds: [], settings: settings, nowNs: nowNs, randomSeed: randomSeed)
            records.reserveCapacity(members.count)
            for m in members where m.node != node && m.node.uid != 0 && records[m.node] == nil && !m.status.isTerminal
                && records.count + 1 < settings.maxMembers {
                records[m.node] = Record(member: m, sinceNs: nowNs)
                liveByAddress[m.node.address, default: []].append(m.node)
                if m.status.isActive { activeCount += 1 }
                if m.status == .suspect {
                    suspicions[m.node] = Suspicion(accuser: node, incarnation: m.incarnation, activeMembers: members.count,
                                                   settings: settings, nowNs: nowNs)
                }
            }
            probeOrder = members.map(\.node).filter { records[$0].map { Self.isProbeTarget($0.member.status) } ?? false }
            probeOrder.shuffle(using: &rng)
            probeCursor = 0
            agree(on: agreementSet())
            _ = quorum.evaluate(reachable: agreedReachable, lowestReachable: lowestAgreedReachable())
            statusDirty = false
            self.seeds = Array(Set(seeds)).sorted()
            self.firstSeed = seeds.first
        }

        // MARK: Public surface

        /// Feeds one input at `nowNs` (monotonic ns, never decreasing); returns what to do, in order. Every input,
        /// not only `.tick`, runs the deadlines due by `nowNs`. Once this node is `down` or `removed` it does
        /// nothing.
        public mutating func handle(_ input: Input, nowNs: UInt64) -> [Action] {
            guard !myself.status.isTerminal else { return [] }
            outbox.removeAll(keepingCapacity: true)
            switch input {
            case .tick:
                // Lifeguard §4.1: a timer served more than a probe timeout late says this process is starved.
                if askedWakeupNs != .max, nowNs > askedWakeupNs &+ timing.probeTimeoutNs { health.raise() }
            case .received(let message, let from):
                receive(message, from: from, nowNs: nowNs)
            case .associated(let peer):
                associated(peer, nowNs: nowNs)
            case .connectionLost(let peer):
                connectionLost(peer, nowNs: nowNs)
            case .unreachable(let address, let refused):
                unreachable(address, refused: refused, nowNs: nowNs)
            case .leave:
                leave(nowNs: nowNs)
            case .down(let node):
                operatorDown(node, nowNs: nowNs)
            }
            if !myself.status.isTerminal { runTimers(nowNs: nowNs) }
            settle(nowNs: nowNs)
            askedWakeupNs = nextWakeupNs
            let out = outbox
            outbox = []
            return out
        }

        /// When the machine next needs a `.tick` (monotonic ns); `UInt64.max` when it needs none.
        public var nextWakeupNs: UInt64 {
            var t = UInt64.max
            switch myself.status {
            case .down, .removed:
                return .max
            case .joining:
                t = nextJoinRetryNs
                if let d = seedDeadlineNs { t = min(t, d) }
            case .up, .suspect, .leaving:
                if myself.status != .leaving { t = min(t, nextProbeNs, nextPushPullNs) }
                if let d = leaveDeadlineNs { t = min(t, d) }
                for p in probes.values { t = min(t, p.indirectStarted ? p.periodEndNs : p.timeoutNs) }
                for r in relays.values { t = min(t, r.deadlineNs) }
                // Expired suspicions wait for a running pre-down check; without quorum they wait for quorum
                // (an input), not for a timer.
                if let check = verification, !check.done {
                    t = min(t, check.untilNs)
                } else if quorum.hasQuorum, !suspicions.isEmpty {
                    let stable = suspicionsStableNs
                    for s in suspicions.values { t = min(t, max(s.deadlineNs, stable)) }
                }
            }
            if removalsHead < removals.count { t = min(t, removals[removalsHead].dueNs) }
            if let e = tombstones.nextExpiryNs { t = min(t, e) }
            return t
        }

        /// Every listed member, this node included, sorted by identity (removed ones are tombstones, not listed).
        public var members: [Member] { ([myself] + records.values.map(\.member)).sorted { Membership.precedes($0.node, $1.node) } }

        /// The listed member with that identity.
        public func member(_ node: NodeIdentity) -> Member? { node == myself.node ? myself : records[node]?.member }

        /// This node's side holds the majority of the last agreed member set (keep-majority). Always false while
        /// this node is not an active member itself (`joining`, `down`, `removed`).
        public var hasQuorum: Bool { myself.status.isActive && quorum.hasQuorum }

        /// While this node waits for a majority of the remembered member set (`remembered`): the remembered
        /// addresses it has heard from (itself included) and all of them, sorted; nil otherwise.
        public var rememberedWait: (heard: [NodeAddress], of: [NodeAddress])? {
            guard myself.status == .joining, !remembered.isEmpty else { return nil }
            return (rememberedHeard.sorted(), remembered.sorted())
        }

        /// Remembered addresses heard from: this node's own, and those of live members heard from directly.
        var rememberedHeard: Set<NodeAddress> {
            var heard: Set<NodeAddress> = []
            if remembered.contains(myself.node.address) { heard.insert(myself.node.address) }
            for (node, record) in records where heardDirectly[node] != nil && !record.member.status.isTerminal
                && remembered.contains(node.address) {
                heard.insert(node.address)
            }
            return heard
        }

        /// No remembered set, or a majority of it heard from (a strict majority: an even split waits).
        var rememberedMajorityHeard: Bool { remembered.isEmpty || 2 * rememberedHeard.count > remembered.count }

        /// Whether a join from another joining node may make this one `up` (the two then form a cluster): a node that
        /// remembers a cluster (once a majority of it is heard, `rememberedMajorityHeard`), or a fresh node that is
        /// the **first** of its own seeds, in the operator's order (Akka's seed-node rule: only the first seed node
        /// joins itself). A fresh node that lists only other seeds, or lists itself after another seed, waits for a
        /// running cluster:
        /// - two fresh nodes whose seeds were down formed a cluster of their own, took requests (case numbers from 1
        ///   again) and later merged with the cluster their seeds belonged to, whose history replaced theirs
        ///   (breaker, 2026-12-02: an acknowledged case answered with another case's id, a number handed out twice);
        /// - a newcomer listed among its own seeds, killed before its first handshake and restarted alone during a
        ///   full outage, had nothing on disk to tell it that a cluster existed and formed a cluster of one (breaker,
        ///   2026-12-03). Listed after the founding seed, it now waits for them.
        /// So exactly one node of a correctly configured cluster can found it, and two seeds that meet while joining
        /// never found two.
        var mayFormCluster: Bool {
            !formsNoCluster && (!remembered.isEmpty || firstSeed == myself.node.address || forceNewCluster)
        }

        /// A fresh node listed among its own seeds, but not first: it joins a running cluster and forms none
        /// (`mayFormCluster`). For the shell's start-up log.
        public var waitsForFirstSeed: Bool {
            myself.status == .joining && remembered.isEmpty && !formsNoCluster && !forceNewCluster
                && seeds.contains(myself.node.address) && firstSeed != myself.node.address
        }

        /// Changes whenever the agreed member set does (not how many times).
        public var agreedGeneration: UInt64 { quorum.generation }

        /// The last agreed member set of the keep-majority rule, sorted.
        public var agreedMembers: [NodeIdentity] { quorum.agreed.sorted(by: Membership.precedes) }

        /// Lifeguard local health multiplier (Lifeguard §4.1), 1 (healthy) ... `maxLocalHealthMultiplier`; this
        /// node's probe interval and probe timeout are multiplied by it.
        public var localHealthMultiplier: Int { health.multiplier }

        /// Milliseconds since anything was last heard from `node` (a message or a handshake from it, or an ack of
        /// this node's probe of it relayed by an intermediary); nil if never, or if it is not listed.
        public func lastHeardAgeMs(_ node: NodeIdentity, nowNs: UInt64) -> Int? {
            guard let t = lastHeard[node] else { return nil }
            return Int((nowNs &- min(t, nowNs)) / 1_000_000)
        }

        /// Uids removed and remembered (tombstones).
        public var tombstoneCount: Int { tombstones.count }

        /// Whether `node`'s uid is removed and remembered (gossip about it is ignored).
        public func tombstoned(_ node: NodeIdentity) -> Bool { tombstones.contains(node) }

        /// When the suspect `node` becomes `down` unless it refutes (monotonic ns, Lifeguard §4.2), if this
        /// node suspects it. Acted on only with quorum.
        public func suspicionDeadlineNs(_ node: NodeIdentity) -> UInt64? { suspicions[node]?.deadlineNs }

        // MARK: Timers

        /// Checks every deadline against `now` (each input does, not only ticks).
        mutating func runTimers(nowNs now: UInt64) {
            switch myself.status {
            case .joining:
                if now >= nextJoinRetryNs {
                    sendJoin(nowNs: now)
                    nextJoinRetryNs = now &+ timing.joinRetryNs
                }
                if let d = seedDeadlineNs, now >= d {
                    seedDeadlineNs = nil
                    if !heardFromOther { becomeUp(nowNs: now, answeredBy: nil) }
                }
            case .up, .suspect, .leaving:
                if let d = leaveDeadlineNs, now >= d {
                    finishLeave(nowNs: now)
                    return
                }
                runProbeTimers(nowNs: now)
                runRelayTimers(nowNs: now)
                if let check = verification, !check.done, now >= check.untilNs { verification?.done = true }
                if myself.status != .leaving, now >= nextProbeNs {
                    nextProbeNs = now &+ health.scaled(timing.periodNs)
                    probeNext(nowNs: now)
                }
                if myself.status != .leaving, now >= nextPushPullNs {
                    nextPushPullNs = now &+ timing.pushPullNs
                    pushPullRound(nowNs: now)
                }
            case .down, .removed:
                return
            }
            runRemovals(nowNs: now)
            tombstones.expire(nowNs: now)
        }

        /// First probe and push–pull after becoming `up`, at random offsets so that nodes started together do
        /// not probe in lockstep.
        mutating func startTimers(nowNs now: UInt64) {
            nextProbeNs = now &+ UInt64(rng.below(Int(clamping: timing.periodNs)))
            nextPushPullNs = now &+ timing.pushPullNs &+ UInt64(rng.below(Int(clamping: timing.pushPullNs)))
        }

        /// Quorum bookkeeping after an input: re-evaluates when a status changed, downs expired suspects while
        /// this side has quorum (Lifeguard §4.2 timeout, keep-majority guard, `suspicionsStableNs`), and moves
        /// the agreed set to the current active one once nobody is suspect.
        mutating func settle(nowNs now: UInt64) {
            guard myself.status.isActive else {
                if quorum.lose() { emitQuorum() }
                statusDirty = false
                return
            }
            for _ in 0..<4 {
                if statusDirty {
                    statusDirty = false
                    evaluateQuorum()
                }
                guard quorum.hasQuorum, now >= suspicionsStableNs else { break }
                let expired = suspicions.filter { $0.value.deadlineNs <= now }.keys.sorted(by: Membership.precedes)
                if expired.isEmpty { break }
                let downs = verifiedDowns(of: expired, nowNs: now)
                if downs.isEmpty { break }
                for node in downs { markDown(node, reason: .suspicion, nowNs: now) }
            }
            if agreedStale, quorum.hasQuorum, suspicions.isEmpty {
                agreedStale = false
                agree(on: agreementSet())
                evaluateQuorum()
            }
        }

        /// Suspects are downed only once the set of suspicions has been stable for a minimum suspicion timeout:
        /// not before the youngest suspicion is that old. In a partition the members on the other side are
        /// suspected one probe at a time; without this, the minority could time out its first suspect while it
        /// still counts the others reachable (and so has "quorum"). A lone suspicion is not delayed: its own
        /// deadline is at least its minimum timeout after its start.
        var suspicionsStableNs: UInt64 {
            var stable: UInt64 = 0
            for s in suspicions.values { stable = max(stable, s.startNs &+ s.minNs) }
            return stable
        }

        /// Before downing by suspicion this node checks, once, that the verdict holds (one protocol period):
        /// - the expired suspects are probed once more. The ping carries the suspect entry (buddy system,
        ///   Lifeguard §4.3), so a live suspect refutes in its ack; one that acks but does not refute is not
        ///   downed either (its suspicion starts over). Piggybacked dissemination reaches a node only through
        ///   the few probe messages it gets, so an accuser can miss a refutation that everyone else saw.
        /// - agreed members it counts reachable but has not heard from since the suspicions began are probed
        ///   (at most `maxVerificationProbes`, a random sample): failures become suspects, which re-evaluates
        ///   quorum. Round-robin probing alone can leave a member on the far side of a partition unprobed for
        ///   longer than a suspicion timeout, and the minority would count it reachable.
        /// Returns the suspects to down now (empty while the check runs).
        mutating func verifiedDowns(of expired: [NodeIdentity], nowNs now: UInt64) -> [NodeIdentity] {
            // A check's outcome is used when it ends; one left unused (quorum lost meanwhile, or a newer
            // suspicion moved `suspicionsStableNs`) is stale after one more period and is run again.
            if let check = verification, check.done, now > check.untilNs &+ health.scaled(timing.periodNs) { verification = nil }
            if let check = verification {
                guard check.done else { return [] }
                verification = nil
                var downs: [NodeIdentity] = []
                for node in expired where check.suspects.contains(node) {
                    if check.acked.contains(node), let suspicion = suspicions[node] {
                        suspicions[node] = Membership.Suspicion(accuser: myself.node, incarnation: suspicion.incarnation,
                                                                activeMembers: activeCount + 1, settings: settings, nowNs: now)
                    } else {
                        downs.append(node)
                    }
                }
                if !downs.isEmpty || expired.allSatisfy({ check.suspects.contains($0) }) {
                    // The quorum that downs must be one this node heard from itself since the suspicions began. A
                    // member of a healed minority that does not know yet it was downed is not answered by the
                    // majority (they hold it down), but it can hear of them — refuted, so reachable — through a
                    // node that knows nothing of its down (a new incarnation); it would down the members that did not
                    // refute, and that node would pass the down on. Without such a quorum nobody is downed, and a
                    // new check (below) probes again for one period.
                    let since = expired.compactMap { suspicions[$0]?.startNs }.min() ?? now
                    if downs.isEmpty || directQuorum(since: since) { return downs }
                }
            }
            let since = expired.compactMap { suspicions[$0]?.startNs }.min() ?? now
            var unverified = quorum.agreed.filter {
                $0 != myself.node && records[$0]?.member.status == .up && (heardDirectly[$0] ?? 0) < since
            }.sorted(by: Membership.precedes)
            if unverified.count > Self.maxVerificationProbes {
                unverified.shuffle(using: &rng)
                unverified.removeLast(unverified.count - Self.maxVerificationProbes)
            }
            for node in expired + unverified where probeByTarget[node] == nil { startProbe(node, dialNow: false, nowNs: now) }
            verification = Verification(suspects: Set(expired), untilNs: now &+ health.scaled(timing.periodNs))
            return []
        }

        /// Whether the agreed members that are reachable and have talked to this node itself since `since` (this
        /// node included) make a keep-majority quorum.
        func directQuorum(since: UInt64) -> Bool {
            func counts(_ node: NodeIdentity) -> Bool {
                isReachable(node) && (node == myself.node || (heardDirectly[node] ?? 0) >= since)
            }
            let reachable = quorum.agreed.filter(counts).count
            return Membership.Quorum.decide(reachable: reachable, of: quorum.agreed.count,
                                            lowestReachable: quorum.lowest.map(counts) ?? false)
        }

        /// Cap on the majority probes of one check: exact up to this many unverified members, a sample beyond.
        static let maxVerificationProbes = 32

        mutating func evaluateQuorum() {
            if quorum.evaluate(reachable: agreedReachable, lowestReachable: lowestAgreedReachable()) { emitQuorum() }
        }

        /// The agreed set becomes `members`, and the reachable count is recounted.
        mutating func agree(on members: Set<NodeIdentity>) {
            quorum.agree(on: members)
            var reachable = 0
            for node in members where isReachable(node) { reachable += 1 }
            agreedReachable = reachable
            statusDirty = true
        }

        /// `node` was listed as `joining`: it enters the agreed set at once, unreachable until it is up. Its join
        /// went to every seed, and the first answer made it `up` there: without this, a partition that cuts the
        /// cluster while a restarted member is `up` on one side and still `joining` on the other leaves the other
        /// side one member short, so both sides can hold the keep-majority quorum (a 2 | 3 split seen as 2 of 4
        /// with the tie-break by the two and 3 of 5 by the three: both downed the other; ChaosProcessTests seed 202).
        mutating func includeJoiningInAgreed(_ node: NodeIdentity) {
            guard !quorum.agreed.contains(node) else { return }
            quorum.include(node)
            if isReachable(node) { agreedReachable += 1 }
            statusDirty = true
        }

        /// `node` is provably gone (confirmed crash, replaced, operator): it leaves the agreed set at once.
        mutating func forgetAgreed(_ node: NodeIdentity) {
            guard quorum.agreed.contains(node) else { return }
            if isReachable(node) { agreedReachable -= 1 }
            quorum.forget(node)
            statusDirty = true
        }

        func lowestAgreedReachable() -> Bool {
            guard let lowest = quorum.lowest else { return false }
            return isReachable(lowest)
        }

        func isReachable(_ node: NodeIdentity) -> Bool {
            if node == myself.node { return myself.status.isActive }
            return Self.isReachable(records[node]?.member.status)
        }

        mutating func emitQuorum() {
            outbox.append(.event(.quorumChanged(hasQuorum: hasQuorum, reachable: quorum.reachable, of: quorum.agreed.count)))
        }

        /// What the agreed set becomes when it is agreed again: the active members and those still joining
        /// (`includeJoiningInAgreed`).
        func agreementSet() -> Set<NodeIdentity> {
            var set = activeSet()
            for (node, record) in records where record.member.status == .joining { set.insert(node) }
            return set
        }

        /// Active members (`up`, `suspect`, `leaving`), this node included if active.
        func activeSet() -> Set<NodeIdentity> {
            var set = Set<NodeIdentity>(minimumCapacity: activeCount + 1)
            if myself.status.isActive { set.insert(myself.node) }
            for (node, record) in records where record.member.status.isActive { set.insert(node) }
            return set
        }

        // MARK: Sending

        mutating func send(_ message: Message, to node: NodeIdentity, dialNow: Bool = false) {
            outbox.append(.send(message, to: node, dialNow: dialNow))
        }

        mutating func newSeq() -> UInt64 {
            defer { nextSeq &+= 1 }
            return nextSeq
        }

        /// The gossip for one probe message to `target` (SWIM §4.1): this node's own entry first; then, if this
        /// node suspects `target`, its suspect entry so it can refute at once (buddy system, Lifeguard §4.3);
        /// then the least-sent queued updates, `maxGossipPerMessage` in all.
        mutating func piggyback(for target: NodeIdentity) -> [Member] {
            var out = [myself]
            var buddy: NodeIdentity?
            if let record = records[target], record.member.status == .suspect {
                out.append(record.member)
                buddy = target
            }
            let room = settings.maxGossipPerMessage - out.count
            if room > 0 {
                let limit = GossipQueue.retransmitLimit(multiplier: settings.retransmitMultiplier, members: records.count + 1)
                out += gossip.take(max: room, limit: limit, excluding: buddy)
            }
            return out
        }

        /// Every listed member, this node first, then by uid; down ones included, tombstones not (at most
        /// `maxMembers`).
        mutating func fullState() -> [Member] {
            if let cached = fullStateCache { return cached }
            var out = [myself]
            out.reserveCapacity(records.count + 1)
            // By uid: any fixed order keeps simulations reproducible; indices sorted by integer keys avoid
            // moving members around.
            let listed = records.values.map(\.member)
            let uids = listed.map(\.node.uid)
            let order = listed.indices.sorted {
                uids[$0] != uids[$1] ? uids[$0] < uids[$1] : Membership.precedes(listed[$0].node, listed[$1].node)
            }
            for i in order { out.append(listed[i]) }
            if out.count > settings.maxMembers { out.removeLast(out.count - max(1, settings.maxMembers)) }
            fullStateCache = out
            return out
        }
    }

    /// `a < b` in `NodeIdentity`'s order (address: host, port; then uid), without the generic tuple
    /// comparison, which dominates sorting a thousand identities in debug builds.
    static func precedes(_ a: NodeIdentity, _ b: NodeIdentity) -> Bool {
        if a.address.host != b.address.host { return a.address.host < b.address.host }
        if a.address.port != b.address.port { return a.address.port < b.address.port }
        return a.uid < b.uid
    }

    /// Whole nanoseconds of `d` (negative: 0), for the machine's `UInt64` clock.
    static func nanoseconds(_ d: Duration) -> UInt64 {
        let c = d.components
        guard c.seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(c.seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        return whole &+ UInt64(max(0, c.attoseconds) / 1_000_000_000)
    }
}
