extension Membership.Machine {
    // MARK: Joining

    /// The join: this node's state, as a push–pull request, to every seed but its own address (uid 0:
    /// whichever node listens there). Re-sent every `joinRetryInterval` while joining (seeds may be down).
    mutating func sendJoin(nowNs now: UInt64) {
        for seed in seeds where seed != myself.node.address {
            joinSentNs[seed] = now
            stats.pushPulls += 1
            send(.pushPull(members: fullState(), isReply: false), to: NodeIdentity(address: seed, uid: 0))
        }
    }

    /// The join was answered (any push–pull), or this node is a seed that heard from nobody: it is `up`. The
    /// agreed quorum set starts as the active set it learned; `quorumChanged` is emitted once. `answeredBy`:
    /// the member whose push–pull reply made this node up gets the new `up` entry at once (it lists this node
    /// as joining until then).
    mutating func becomeUp(nowNs now: UInt64, answeredBy: NodeIdentity?) {
        guard myself.status == .joining else { return }
        myself.status = .up
        seedDeadlineNs = nil
        joinedThrough = answeredBy
        formedWithRemembered = answeredBy == nil && !remembered.isEmpty
        remembered = []
        outbox.append(.event(.memberChanged(myself, previous: .joining)))
        agree(on: agreementSet())
        statusDirty = false
        agreedStale = !suspicions.isEmpty
        _ = quorum.evaluate(reachable: agreedReachable, lowestReachable: lowestAgreedReachable())
        emitQuorum()
        startTimers(nowNs: now)
        if let peer = answeredBy { send(.pushPull(members: [myself], isReply: true), to: peer) }
    }

    // MARK: Leaving

    /// Graceful leave: `leaving` at a new incarnation, gossiped and pushed to every active member directly;
    /// `removed` after `leaveGossipTime`. A node still joining is removed at once (nobody knows it).
    mutating func leave(nowNs now: UInt64) {
        switch myself.status {
        case .joining:
            myself.status = .removed
            outbox.append(.event(.memberChanged(myself, previous: .joining)))
        case .up, .suspect:
            let previous = myself.status
            myself.incarnation &+= 1
            myself.status = .leaving
            outbox.append(.event(.memberChanged(myself, previous: previous)))
            leaveDeadlineNs = now &+ timing.leaveGossipNs
            probes.removeAll()
            probeByTarget.removeAll()
            // A push (a reply: it asks for nothing back) of the one changed entry.
            for (node, record) in records.sorted(by: { Membership.precedes($0.key, $1.key) }) where record.member.status.isActive {
                send(.pushPull(members: [myself], isReply: true), to: node)
            }
        case .leaving, .down, .removed:
            break
        }
    }

    /// The leave gossip time is over: this node is `removed` and from now on sends nothing.
    mutating func finishLeave(nowNs now: UInt64) {
        let previous = myself.status
        guard !previous.isTerminal else { return }
        myself.status = .removed
        leaveDeadlineNs = nil
        stopProtocol()
        outbox.append(.event(.memberChanged(myself, previous: previous)))
    }

    /// The cluster downed this uid (gossip said so, or the operator): final. The node stops probing and
    /// answering; the process must rejoin with a new uid (the shell does that).
    mutating func selfDown(nowNs now: UInt64) {
        let previous = myself.status
        guard !previous.isTerminal else { return }
        myself.status = .down
        stopProtocol()
        outbox.append(.event(.memberChanged(myself, previous: previous)))
    }

    mutating func stopProtocol() {
        probes.removeAll()
        probeByTarget.removeAll()
        relays.removeAll()
        suspicions.removeAll()
        verification = nil
    }

    // MARK: Operator

    /// The operator downs `node` (uid 0: whichever live member is listed at that address). Works without
    /// quorum, and the member leaves the agreed quorum set.
    mutating func operatorDown(_ node: NodeIdentity, nowNs now: UInt64) {
        if node.matches(myself.node) {
            stats.downsByOperator += 1
            if myself.status == .joining || myself.status.isActive { selfDown(nowNs: now) }
            return
        }
        let targets = node.uid == 0 ? (liveByAddress[node.address] ?? []).sorted(by: Membership.precedes) : [node]
        for target in targets { markDown(target, reason: .byOperator, nowNs: now) }
    }
}
