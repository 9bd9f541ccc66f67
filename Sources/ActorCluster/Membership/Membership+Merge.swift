extension Membership.Machine {
    /// Why this node declares a member down (each has its own counter in `Stats`).
    enum DownReason: Sendable {
        /// Its suspicion timed out unrefuted while this side had quorum (SWIM §4.2, Lifeguard §4.2).
        case suspicion
        /// Refused by this node and by every intermediary that answered: nothing listens at its address.
        case confirmedCrash
        /// A new uid talked to this node from the same address: the old process is gone.
        case replaced
        /// The operator said so.
        case byOperator
    }

    // MARK: Messages

    mutating func receive(_ message: Membership.Message, from sender: NodeIdentity, nowNs now: UInt64) {
        guard sender.uid != 0, sender != myself.node else { return }
        if isGone(sender) {
            answerGone(sender, nowNs: now)
            return
        }
        noteContact(sender)
        switch message {
        case .ping(let seq, let gossip):
            merge(gossip, from: sender, nowNs: now)
            guard heard(sender, nowNs: now) else { return }
            send(.ack(seq: seq, gossip: piggyback(for: sender)), to: sender)
        case .ack(let seq, let gossip):
            merge(gossip, from: sender, nowNs: now)
            guard heard(sender, nowNs: now) else { return }
            ackArrived(seq, nowNs: now)
        case .pingReq(let seq, let target, let gossip):
            merge(gossip, from: sender, nowNs: now)
            guard heard(sender, nowNs: now) else { return }
            relay(seq: seq, target: target, origin: sender, nowNs: now)
        case .nack(let seq, let targetRefused, let gossip):
            merge(gossip, from: sender, nowNs: now)
            guard heard(sender, nowNs: now) else { return }
            nackArrived(seq, targetRefused: targetRefused, nowNs: now)
        case .pushPull(let members, let isReply):
            merge(members, from: sender, accusations: false, nowNs: now)
            guard heard(sender, nowNs: now) else { return }
            if myself.status == .joining, isReply || (rememberedMajorityHeard && mayFormCluster) {
                becomeUp(nowNs: now, answeredBy: isReply ? sender : nil)
            }
            // Still joining (it waits for a majority of its remembered members, or for a seed): an answer would make
            // the joiner up.
            if !isReply, myself.status.isActive {
                admitJoiner(sender, nowNs: now)
                stats.pushPulls += 1
                send(.pushPull(members: fullState(), isReply: true), to: sender)
            }
        }
    }

    /// A join (a push–pull request) from a member this node lists as `joining`: the answer about to go makes it
    /// `up` (`becomeUp`), so this node lists it `up` at the same incarnation now and gossips that. Without this,
    /// the answering member counted the joiner in its agreed set as unreachable for the round trip until the
    /// joiner's own `up` entry came back: a cluster of one lost its quorum (and its readiness) each time a
    /// second node joined it.
    mutating func admitJoiner(_ node: NodeIdentity, nowNs now: UInt64) {
        guard myself.status.isActive, let current = records[node]?.member, current.status == .joining else { return }
        var next = current
        next.status = .up
        transition(to: next, from: current, accuser: myself.node, nowNs: now)
    }

    /// While joining, the first exchange of membership with another node: `Action.recordContact`, once.
    mutating func noteContact(_ peer: NodeIdentity) {
        guard myself.status == .joining, !contactRecorded, peer.address != myself.node.address else { return }
        contactRecorded = true
        outbox.append(.recordContact(peer))
    }

    /// `sender` is held down, or removed and remembered: its content is not believed.
    func isGone(_ node: NodeIdentity) -> Bool {
        if let record = records[node] { return record.member.status.isTerminal }
        return tombstones.contains(node)
    }

    /// A downed member still talks (paused, then resumed): tell it, at most once a second, with its down entry
    /// first and the full state after, so it learns it must rejoin as a new uid.
    mutating func answerGone(_ node: NodeIdentity, nowNs now: UInt64) {
        guard myself.status.isActive else { return }
        if let last = goneNoticeNs[node], now &- last < 1_000_000_000 { return }
        if goneNoticeNs.count >= 1024 { goneNoticeNs = goneNoticeNs.filter { now &- $0.value < 1_000_000_000 } }
        if goneNoticeNs.count >= 1024 { goneNoticeNs.removeAll() }
        goneNoticeNs[node] = now
        let entry = records[node]?.member ?? Membership.Member(node: node, name: "", roles: [], status: .down, incarnation: 0)
        send(.pushPull(members: [entry] + fullState().filter { $0.node != node }, isReply: true), to: node)
    }

    /// Something came straight from `node` (a message or a handshake). Returns false when that made this node
    /// terminal (nothing more to do). A new uid at the address of a listed live member means that member's
    /// process is gone: it is down at once, without suspicion.
    @discardableResult
    mutating func heard(_ node: NodeIdentity, nowNs now: UInt64) -> Bool {
        guard !myself.status.isTerminal else { return false }
        if records[node] != nil {
            lastHeard[node] = now
            heardDirectly[node] = now
        }
        if node.address != myself.node.address {
            heardFromOther = true
            seedDeadlineNs = nil
        }
        if let listed = liveByAddress[node.address] {
            for old in listed where old != node { markDown(old, reason: .replaced, nowNs: now) }
        }
        return true
    }

    /// The transport completed a handshake with `peer`. While joining, a seed answering gets the join at once. So
    /// does any node that dialled a node with no seed but itself and nothing remembered that must not form a
    /// cluster (`formsNoCluster`): only a node that lists this address dials it — a member of a running cluster
    /// probing this address's earlier incarnation. Without that, such a node (restarted without its member file)
    /// stayed `joining` while the cluster probed it (breaker, 2026-12-02). Nodes with seeds join only through them:
    /// a fresh seed that lists this address and formed a cluster of its own dials it too.
    ///
    /// While joining, a handshake with any other node (a client of this node's actors, the command line) is not
    /// contact: it neither stops a seed from forming its cluster alone nor is recorded (`Action.recordContact`)
    /// until membership is exchanged. Before, one `hotline case` in a fresh seed's first second kept it from ever
    /// forming its cluster (breaker, 2026-12-03).
    mutating func associated(_ peer: NodeIdentity, nowNs now: UInt64) {
        guard peer.uid != 0, peer != myself.node, !isGone(peer) else { return }
        guard myself.status == .joining else {
            heard(peer, nowNs: now)
            return
        }
        guard peer.address != myself.node.address else { return }
        let joinsAnyDialler = formsNoCluster && remembered.isEmpty && seeds.allSatisfy { $0 == myself.node.address }
        guard seeds.contains(peer.address) || joinsAnyDialler else { return }
        // This node's join (queued for a seed, or about to go) reaches the peer once the transport flushes, after
        // these actions: the contact is recorded first.
        noteContact(peer)
        heard(peer, nowNs: now)
        if let last = joinSentNs[peer.address], now &- last < timing.probeTimeoutNs { return }
        if joinSentNs.count >= max(64, settings.maxMembers) { joinSentNs.removeAll() }
        joinSentNs[peer.address] = now
        stats.pushPulls += 1
        send(.pushPull(members: fullState(), isReply: false), to: peer)
    }

    // MARK: Merging

    /// `accusations`: the updates ride on a probe message, so a suspect entry in them is the sender's own
    /// accusation (only accusers disseminate suspicions, see `transition`). Push–pull state is a snapshot, not
    /// an accusation: it never confirms a suspicion.
    mutating func merge(_ updates: [Membership.Member], from sender: NodeIdentity, accusations: Bool = true, nowNs now: UInt64) {
        staleLiveGossip = []
        for update in updates.prefix(settings.maxMembers + 1) {
            if myself.status.isTerminal { return }
            apply(update, from: sender, accusation: accusations, nowNs: now)
        }
        if !staleLiveGossip.isEmpty { correctStale(sender, about: staleLiveGossip, nowNs: now) }
        staleLiveGossip = []
    }

    /// `sender` still lists as live some uids this node holds down or removed (a down it never heard of: it joined
    /// after the down was gossiped, or it was on the other side of a partition when it was). It is told, at most
    /// once a second, with their down (or removed) entries, so it takes the down too and, when that member next
    /// talks to it, tells the member it must rejoin as a new uid (`answerGone`). Without this, two members that
    /// each downed the other (each side of a partition healing while members died) never learned it, and the
    /// cluster kept two views for good: each side's singletons fought over the same streams (chaos seed 346299).
    mutating func correctStale(_ sender: NodeIdentity, about nodes: [NodeIdentity], nowNs now: UInt64) {
        guard myself.status.isActive else { return }
        if let last = correctionNs[sender], now &- last < 1_000_000_000 { return }
        if correctionNs.count >= 1024 { correctionNs = correctionNs.filter { now &- $0.value < 1_000_000_000 } }
        if correctionNs.count >= 1024 { correctionNs.removeAll() }
        correctionNs[sender] = now
        let entries = nodes.prefix(64).map { node in
            records[node]?.member ?? Membership.Member(node: node, name: "", roles: [], status: .removed, incarnation: 0)
        }
        stats.staleGossipCorrected += 1
        send(.pushPull(members: Array(entries), isReply: true), to: sender)
    }

    /// One received view of a member. It replaces the local one iff `Member.supersedes` says so. About a
    /// tombstoned uid, or at a lower incarnation: ignored (`staleGossipIgnored`). The same suspicion from
    /// another sender, in a probe message: a Lifeguard confirmation (§4.2). New uids beyond `maxMembers` are
    /// refused.
    mutating func apply(_ update: Membership.Member, from sender: NodeIdentity, accusation: Bool, nowNs now: UInt64) {
        if update.node == myself.node {
            aboutSelf(update, nowNs: now)
            return
        }
        guard update.node.uid != 0 else { return }
        if let record = records[update.node] {
            let current = record.member
            if update.supersedes(current) {
                var next = update
                // A down made up for a removed uid (`correctStale`, `answerGone`) carries no name: keep the one known.
                if next.name.isEmpty { next.name = current.name; next.roles = current.roles }
                // A leaving member is never downed by gossip: it is gone, as it announced.
                if next.status == .down, current.status == .leaving { next.status = .removed }
                transition(to: next, from: current, accuser: sender, nowNs: now)
            } else if update.status == .suspect, current.status == .suspect, update.incarnation == current.incarnation {
                if accusation { _ = suspicions[update.node]?.confirm(by: sender) }
            } else if update.incarnation < current.incarnation || (current.status.isTerminal && !update.status.isTerminal) {
                stats.staleGossipIgnored += 1
                if current.status.isTerminal && !update.status.isTerminal && update.node != sender { staleLiveGossip.append(update.node) }
            }
            return
        }
        if tombstones.contains(update.node) {
            stats.staleGossipIgnored += 1
            if !update.status.isTerminal && update.node != sender { staleLiveGossip.append(update.node) }
            return
        }
        if update.status == .removed {
            tombstones.add(update.node, expiresNs: now &+ timing.tombstoneTTLNs)
            return
        }
        guard records.count + 1 < settings.maxMembers else {
            stats.membersRefused += 1
            return
        }
        transition(to: update, from: nil, accuser: sender, nowNs: now)
    }

    /// Gossip about this node. Suspect at its incarnation or above: refute (SWIM §4.2) by raising the
    /// incarnation above it; the new own entry rides first in every message from now on; local health worsens
    /// (Lifeguard §4.1: being suspected hints that this node is slow). Down (or removed): the cluster has
    /// downed this uid.
    mutating func aboutSelf(_ update: Membership.Member, nowNs now: UInt64) {
        guard !myself.status.isTerminal else { return }
        switch update.status {
        case .down, .removed:
            if myself.status == .leaving { finishLeave(nowNs: now) } else { selfDown(nowNs: now) }
        case .suspect:
            guard myself.status == .up, update.incarnation >= myself.incarnation else { return }
            myself.incarnation = update.incarnation &+ 1
            stats.refutations += 1
            health.raise()
        case .up, .joining, .leaving:
            // Only this node announces its own state; a view of it at a higher incarnation than its own (it
            // forgot one?) is overtaken so the cluster keeps believing this node.
            if update.incarnation > myself.incarnation, myself.status == .up { myself.incarnation = update.incarnation &+ 1 }
        }
    }

    // MARK: Status changes

    /// The single place where another member's entry changes: table, indexes, event (`memberChanged`, only
    /// when the status changed), dissemination, and the status's side effects (suspicion timer, probe order,
    /// removal schedule, tombstone).
    mutating func transition(to next: Membership.Member, from previous: Membership.Member?, accuser: NodeIdentity,
                             nowNs now: UInt64, disseminate: Bool = true) {
        let node = next.node
        let oldStatus = previous?.status
        let statusChanged = oldStatus != next.status
        let wasActive = oldStatus?.isActive ?? false
        if wasActive != next.status.isActive { activeCount += next.status.isActive ? 1 : -1 }
        let wasLive = previous.map { !$0.status.isTerminal } ?? false
        if wasLive != !next.status.isTerminal {
            if wasLive {
                liveByAddress[node.address]?.removeAll { $0 == node }
                if liveByAddress[node.address]?.isEmpty == true { liveByAddress[node.address] = nil }
            } else {
                liveByAddress[node.address, default: []].append(node)
            }
        }
        if next.status == .removed {
            records[node] = nil
            lastHeard[node] = nil
            heardDirectly[node] = nil
            tombstones.add(node, expiresNs: now &+ timing.tombstoneTTLNs)
        } else {
            records[node] = Record(member: next, sinceNs: statusChanged ? now : (records[node]?.sinceNs ?? now))
        }
        // The accuser of a suspicion is implicitly the sender of the suspect entry (Lifeguard §4.2 counts
        // distinct accusers): so only an accuser (this node, after its own failed probe) disseminates one. A
        // suspicion learned from others is applied but not re-gossiped; the suspect still hears of it from
        // everyone who holds it, in their pings to it (buddy system, Lifeguard §4.3).
        let spread = disseminate && (next.status != .suspect || accuser == myself.node)
        if spread { gossip.enqueue(next) } else { gossip.remove(node) }
        if statusChanged {
            if wasActive != next.status.isActive { agreedStale = true }
            if quorum.agreed.contains(node), Self.isReachable(oldStatus) != Self.isReachable(next.status) {
                agreedReachable += Self.isReachable(next.status) ? 1 : -1
                statusDirty = true
            }
            outbox.append(.event(.memberChanged(next, previous: oldStatus)))
            // A down learned from another member was decided with quorum (suspicion) or proof (confirmed
            // crash, replaced uid, operator): the uid is gone for good, so it leaves this node's agreed set
            // too. Otherwise a node that did not itself down it could count it forever and never regain quorum
            // (e.g. after an operator downed the stopped members on another node).
            if next.status.isTerminal, accuser != myself.node { forgetAgreed(node) }
            // A joiner counts against this side's quorum until it is up (it may be up on another side already).
            if next.status == .joining, myself.status.isActive { includeJoiningInAgreed(node) }
            // A new uid live at the address of an agreed uid that is down (a crash confirmed without quorum stays
            // agreed, `markDown`): that process is gone for certain now — replaced — so it no longer counts.
            if next.status.isActive {
                for old in quorum.agreed where old.address == node.address && old != node && old != myself.node
                    && (records[old].map { $0.member.status.isTerminal } ?? true) {
                    forgetAgreed(old)
                }
            }
        }
        switch next.status {
        case .joining:
            break
        case .up:
            suspicions[node] = nil
            if !wasActive { insertIntoProbeOrder(node) }
        case .suspect:
            if suspicions[node]?.incarnation != next.incarnation {
                suspicions[node] = Membership.Suspicion(accuser: accuser, incarnation: next.incarnation,
                                                        activeMembers: activeCount + (myself.status.isActive ? 1 : 0),
                                                        settings: settings, nowNs: now)
            }
            if !wasActive { insertIntoProbeOrder(node) }
        case .leaving, .down, .removed:
            suspicions[node] = nil
            if let seq = probeByTarget.removeValue(forKey: node) { probes[seq] = nil }
            if next.status == .down, statusChanged { removals.append((node, now &+ timing.removeDownNs)) }
        }
    }

    /// Counts as reachable for keep-majority: active and not suspect.
    static func isReachable(_ status: Membership.Status?) -> Bool {
        guard let status else { return false }
        return status.isActive && status != .suspect
    }

    /// This node declares `node` down. A leaving member is removed instead (it left; it did not fail), unless
    /// the operator downs it. Proven departures (replacement, operator; a confirmed crash only while this side holds
    /// quorum) leave the agreed quorum set.
    mutating func markDown(_ node: NodeIdentity, reason: DownReason, nowNs now: UInt64) {
        guard let record = records[node], !record.member.status.isTerminal else { return }
        if record.member.status == .leaving, reason != .byOperator {
            markRemoved(node, disseminate: true, nowNs: now)
            return
        }
        switch reason {
        case .suspicion: stats.downsBySuspicion += 1
        case .confirmedCrash: stats.downsConfirmedCrash += 1
        case .replaced: stats.downsReplaced += 1
        case .byOperator: stats.downsByOperator += 1
        }
        // A crash confirmed while this side lacks quorum does not shrink the agreed set: the member is down (it is
        // dead), but counting it out would let a cut-off minority make itself a majority of what is left. Before
        // (breaker, 2026-12-02): a 2 | 3 partition healed as two of the three were SIGKILLed; the third, alone,
        // counted them out, held "1 of 1" and took over district offices with empty logs while the other two held
        // the cases. It leaves the agreed set when this side next agrees with quorum (or the operator downs it).
        if reason == .replaced || reason == .byOperator || (reason == .confirmedCrash && quorum.hasQuorum) { forgetAgreed(node) }
        var down = record.member
        down.status = .down
        transition(to: down, from: record.member, accuser: myself.node, nowNs: now)
    }

    /// `node` leaves the member list for a tombstone. `disseminate`: gossip the removal (a leaving member
    /// that is gone); a down member's timed removal is not gossiped, every node times it out itself.
    mutating func markRemoved(_ node: NodeIdentity, disseminate: Bool, nowNs now: UInt64) {
        guard let record = records[node] else { return }
        var removed = record.member
        removed.status = .removed
        transition(to: removed, from: record.member, accuser: myself.node, nowNs: now, disseminate: disseminate)
    }

    /// Down members listed `removeDownAfter` become removed (tombstoned).
    mutating func runRemovals(nowNs now: UInt64) {
        while removalsHead < removals.count, removals[removalsHead].dueNs <= now {
            let node = removals[removalsHead].node
            removalsHead += 1
            if records[node]?.member.status == .down { markRemoved(node, disseminate: false, nowNs: now) }
        }
        if removalsHead > 64, removalsHead * 2 > removals.count {
            removals.removeFirst(removalsHead)
            removalsHead = 0
        }
    }
}
