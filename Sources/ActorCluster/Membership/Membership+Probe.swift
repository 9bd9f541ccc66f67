extension Membership.Machine {
    /// One failure-detection probe of `target` (SWIM §3.1): a direct ping, then ping-reqs through others.
    struct Probe: Sendable, Equatable {
        let seq: UInt64
        let target: NodeIdentity
        /// Until then the direct ping alone; then the ping-req round (monotonic ns).
        let timeoutNs: UInt64
        /// No ack by then: the probe failed (end of its protocol period).
        var periodEndNs: UInt64
        /// The ping-req round ran (at the timeout, or at once after a lost connection or a failed send).
        var indirectStarted = false
        /// Ping-reqs sent; nacks expected back if the intermediaries can reach this node (Lifeguard §4.1).
        var pingReqsSent = 0
        /// Nacks of intermediaries whose ping got no ack in time.
        var plainNacks = 0
        /// Nacks of intermediaries that could not even connect to the target.
        var refusedNacks = 0
        /// This node's own connection to the target was refused (nothing listens there).
        var directRefused = false
    }

    /// A ping this node sends for another member's ping-req (it is the intermediary).
    struct Relay: Sendable, Equatable {
        let origin: NodeIdentity
        let originSeq: UInt64
        let target: NodeIdentity
        /// No ack by then: nack the origin (monotonic ns).
        let deadlineNs: UInt64
    }

    // MARK: Starting probes

    /// The next target of the round-robin (SWIM §4.3): up or suspect members other than this node, in a
    /// shuffled order, reshuffled when the round wraps.
    mutating func nextProbeTarget() -> NodeIdentity? {
        var skipped = 0
        while true {
            if probeCursor >= probeOrder.count {
                probeOrder = records.filter { Self.isProbeTarget($0.value.member.status) }.keys.sorted(by: Membership.precedes)
                probeOrder.shuffle(using: &rng)
                probeCursor = 0
                if probeOrder.isEmpty { return nil }
            }
            let node = probeOrder[probeCursor]
            probeCursor += 1
            if let status = records[node]?.member.status, Self.isProbeTarget(status), probeByTarget[node] == nil { return node }
            skipped += 1
            if skipped > probeOrder.count { return nil }
        }
    }

    static func isProbeTarget(_ status: Membership.Status) -> Bool { status == .up || status == .suspect }

    /// A member that became a probe target joins the current round at a random position (SWIM §4.3), so it is
    /// probed within one round.
    mutating func insertIntoProbeOrder(_ node: NodeIdentity) {
        let position = rng.below(probeOrder.count + 1)
        probeOrder.insert(node, at: position)
        if position < probeCursor { probeCursor += 1 }
    }

    mutating func probeNext(nowNs now: UInt64) {
        guard myself.status == .up, let target = nextProbeTarget() else { return }
        startProbe(target, dialNow: false, nowNs: now)
    }

    /// Sends the direct ping of a new probe; its timeout and period are stretched by local health.
    @discardableResult
    mutating func startProbe(_ target: NodeIdentity, dialNow: Bool, nowNs now: UInt64) -> UInt64 {
        let seq = newSeq()
        probes[seq] = Probe(seq: seq, target: target, timeoutNs: now &+ health.scaled(timing.probeTimeoutNs),
                            periodEndNs: now &+ health.scaled(timing.periodNs))
        probeByTarget[target] = seq
        stats.probesSent += 1
        send(.ping(seq: seq, gossip: piggyback(for: target)), to: target, dialNow: dialNow)
        return seq
    }

    /// A hint that `node` may be gone (lost connection, failed send): probe it now, out of turn, with the
    /// ping-req round at once rather than after the probe timeout. A probe already running is hurried the
    /// same way (its ping may have been lost with the connection, so it is sent again).
    mutating func probeNow(_ node: NodeIdentity, nowNs now: UInt64) {
        guard myself.status == .up else { return }
        if let seq = probeByTarget[node] {
            guard let probe = probes[seq], !probe.indirectStarted else { return }
            send(.ping(seq: seq, gossip: piggyback(for: node)), to: node, dialNow: true)
            startIndirect(seq, dialNow: true, nowNs: now)
        } else {
            let seq = startProbe(node, dialNow: true, nowNs: now)
            startIndirect(seq, dialNow: true, nowNs: now)
        }
    }

    /// SWIM §3.1's indirect probe: up to k random other `up` members ping the target for this node.
    mutating func startIndirect(_ seq: UInt64, dialNow: Bool, nowNs now: UInt64) {
        guard var probe = probes[seq], !probe.indirectStarted else { return }
        probe.indirectStarted = true
        let helpers = pickIntermediaries(excluding: probe.target, count: settings.indirectProbes)
        for helper in helpers {
            send(.pingReq(seq: seq, target: probe.target, gossip: piggyback(for: helper)), to: helper, dialNow: dialNow)
        }
        probe.pingReqsSent = helpers.count
        stats.pingReqsSent += helpers.count
        probes[seq] = probe
        checkCrashConfirmed(seq, nowNs: now)
    }

    /// Up to `count` distinct random `up` members other than this node and `target`.
    mutating func pickIntermediaries(excluding target: NodeIdentity, count: Int) -> [NodeIdentity] {
        guard count > 0 else { return [] }
        var candidates: [NodeIdentity] = []
        for node in probeOrder where node != target && records[node]?.member.status == .up { candidates.append(node) }
        let wanted = min(count, candidates.count)
        for i in 0..<wanted {
            candidates.swapAt(i, i + rng.below(candidates.count - i))
        }
        return Array(candidates.prefix(wanted))
    }

    // MARK: Probe outcomes

    mutating func runProbeTimers(nowNs now: UInt64) {
        guard !probes.isEmpty else { return }
        for seq in probes.keys.sorted() {
            guard let probe = probes[seq] else { continue }
            if !probe.indirectStarted, now >= probe.timeoutNs {
                startIndirect(seq, dialNow: false, nowNs: now)
                // A late timer must not skip the indirect round: the probe gets the rest of its period from now.
                if now >= probe.periodEndNs, var late = probes[seq] {
                    late.periodEndNs = now &+ health.scaled(timing.periodNs - timing.probeTimeoutNs)
                    probes[seq] = late
                }
            } else if probe.indirectStarted, now >= probe.periodEndNs {
                probeFailed(seq, nowNs: now)
            }
        }
    }

    /// An ack for `seq`: either this node's probe succeeded (direct or relayed), or this node relays it to
    /// the origin of a ping-req.
    mutating func ackArrived(_ seq: UInt64, nowNs now: UInt64) {
        if let probe = probes.removeValue(forKey: seq) {
            probeByTarget[probe.target] = nil
            if records[probe.target] != nil { lastHeard[probe.target] = now }
            if verification?.suspects.contains(probe.target) == true { verification?.acked.insert(probe.target) }
            health.lower()
        } else if let relay = relays.removeValue(forKey: seq) {
            send(.ack(seq: relay.originSeq, gossip: piggyback(for: relay.origin)), to: relay.origin)
        }
    }

    mutating func nackArrived(_ seq: UInt64, targetRefused: Bool, nowNs now: UInt64) {
        stats.nacksReceived += 1
        guard var probe = probes[seq] else { return }
        if targetRefused { probe.refusedNacks += 1 } else { probe.plainNacks += 1 }
        probes[seq] = probe
        checkCrashConfirmed(seq, nowNs: now)
    }

    /// Confirmed crash: this node's connection to the target was refused and every intermediary that answered
    /// was refused too (at least one answered, or none could be asked). Nothing listens at the target's
    /// address, and a live member always listens: it is `down` at once, quorum or not.
    mutating func checkCrashConfirmed(_ seq: UInt64, nowNs now: UInt64) {
        guard let probe = probes[seq], probe.directRefused, probe.indirectStarted, probe.plainNacks == 0,
              probe.refusedNacks > 0 || probe.pingReqsSent == 0 else { return }
        probes[seq] = nil
        probeByTarget[probe.target] = nil
        markDown(probe.target, reason: .confirmedCrash, nowNs: now)
    }

    /// No ack by the end of the period (SWIM §3.1): the target becomes suspect (SWIM §4.2) at its current
    /// incarnation; if it already is, this node's failure counts as a confirmation (Lifeguard §4.2).
    mutating func probeFailed(_ seq: UInt64, nowNs now: UInt64) {
        guard let probe = probes.removeValue(forKey: seq) else { return }
        probeByTarget[probe.target] = nil
        stats.probesFailed += 1
        // Lifeguard §4.1: intermediaries that could reach this node would have nacked; missing nacks say this
        // node's own links or scheduling are at fault.
        if probe.plainNacks + probe.refusedNacks < probe.pingReqsSent { health.raise() }
        guard let record = records[probe.target] else { return }
        switch record.member.status {
        case .up:
            var suspect = record.member
            suspect.status = .suspect
            stats.suspicions += 1
            transition(to: suspect, from: record.member, accuser: myself.node, nowNs: now)
        case .suspect:
            // This node now accuses too: it confirms, and disseminates its own accusation.
            if suspicions[probe.target]?.confirm(by: myself.node) == true { gossip.enqueue(record.member) }
        default:
            break
        }
    }

    // MARK: Relaying for others (intermediary)

    /// A ping-req: ping `target` for `origin` (SWIM §3.1) and answer with its ack, or with a nack if none
    /// comes within the probe timeout (Lifeguard §4.1). Relayed pings always dial at once: a ping-req means
    /// the origin already failed to reach the target.
    mutating func relay(seq: UInt64, target: NodeIdentity, origin: NodeIdentity, nowNs now: UInt64) {
        if target == myself.node {
            send(.ack(seq: seq, gossip: piggyback(for: origin)), to: origin)
            return
        }
        guard relays.count <= records.count else {
            send(.nack(seq: seq, targetRefused: false, gossip: piggyback(for: origin)), to: origin)
            return
        }
        let mySeq = newSeq()
        relays[mySeq] = Relay(origin: origin, originSeq: seq, target: target, deadlineNs: now &+ health.scaled(timing.probeTimeoutNs))
        send(.ping(seq: mySeq, gossip: piggyback(for: target)), to: target, dialNow: true)
    }

    mutating func runRelayTimers(nowNs now: UInt64) {
        guard !relays.isEmpty else { return }
        for seq in relays.keys.sorted() {
            guard let relay = relays[seq], now >= relay.deadlineNs else { continue }
            relays[seq] = nil
            send(.nack(seq: relay.originSeq, targetRefused: false, gossip: piggyback(for: relay.origin)), to: relay.origin)
        }
    }

    // MARK: Connection hints

    /// The transport lost its connection to `peer`: a hint, not a verdict. An active member is probed at once;
    /// a leaving one is gone (`removed`).
    mutating func connectionLost(_ peer: NodeIdentity, nowNs now: UInt64) {
        guard myself.status == .up || myself.status == .leaving, let record = records[peer] else { return }
        switch record.member.status {
        case .leaving: markRemoved(peer, disseminate: true, nowNs: now)
        case .up, .suspect: probeNow(peer, nowNs: now)
        default: break
        }
    }

    /// A dial or send to `address` failed (`refused`: nothing listens there). A probe of the member at that
    /// address counts its direct ping as failed and goes to the ping-req round at once; a member at that
    /// address not being probed is probed now; a pending relay to it is nacked at once when refused; a
    /// leaving member there is gone.
    mutating func unreachable(_ address: NodeAddress, refused: Bool, nowNs now: UInt64) {
        guard myself.status == .up || myself.status == .leaving else { return }
        let listed = liveByAddress[address] ?? []
        for node in listed where records[node]?.member.status == .leaving { markRemoved(node, disseminate: true, nowNs: now) }
        let seqs = probes.values.filter { $0.target.address == address }.map(\.seq).sorted()
        for seq in seqs {
            guard var probe = probes[seq] else { continue }
            if refused { probe.directRefused = true }
            probes[seq] = probe
            if probe.indirectStarted {
                checkCrashConfirmed(seq, nowNs: now)
            } else {
                startIndirect(seq, dialNow: true, nowNs: now)
            }
        }
        for node in listed where probeByTarget[node] == nil && Self.isProbeTarget(records[node]?.member.status ?? .down) {
            probeNow(node, nowNs: now)
            if refused, let seq = probeByTarget[node], var probe = probes[seq] {
                probe.directRefused = true
                probes[seq] = probe
                checkCrashConfirmed(seq, nowNs: now)
            }
        }
        if refused, !relays.isEmpty {
            for seq in relays.keys.sorted() {
                guard let relay = relays[seq], relay.target.address == address else { continue }
                relays[seq] = nil
                send(.nack(seq: relay.originSeq, targetRefused: true, gossip: piggyback(for: relay.origin)), to: relay.origin)
            }
        }
    }

    // MARK: Push–pull

    /// Periodic anti-entropy: full state with one random active member, and with every seed at which no
    /// active member is listed (so that clusters formed apart merge once the seeds can talk).
    mutating func pushPullRound(nowNs now: UInt64) {
        var candidates: [NodeIdentity] = []
        for node in probeOrder where records[node]?.member.status.isActive == true { candidates.append(node) }
        if !candidates.isEmpty {
            let peer = candidates[rng.below(candidates.count)]
            stats.pushPulls += 1
            send(.pushPull(members: fullState(), isReply: false), to: peer)
        }
        for seed in seeds where seed != myself.node.address {
            let listed = liveByAddress[seed] ?? []
            if listed.contains(where: { records[$0]?.member.status.isActive == true }) { continue }
            stats.pushPulls += 1
            send(.pushPull(members: fullState(), isReply: false), to: NodeIdentity(address: seed, uid: 0))
        }
    }
}
