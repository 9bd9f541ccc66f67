import XCTest
@testable import ActorCluster

/// `Membership.Machine` input by input: exact actions, events, counters and timers. Times are virtual ns.
final class MembershipMachineTests: XCTestCase {
    typealias Machine = Membership.Machine
    typealias Member = Membership.Member
    private let ms: UInt64 = 1_000_000
    private let t0: UInt64 = 1_000_000_000

    private func address(_ i: Int) -> NodeAddress { NodeAddress(host: "10.0.0.\(i)", port: 7000) }
    private func node(_ i: Int, uid: UInt64? = nil) -> NodeIdentity { NodeIdentity(address: address(i), uid: uid ?? UInt64(100 + i)) }
    private func member(_ i: Int, _ status: Membership.Status = .up, inc: UInt64 = 0, uid: UInt64? = nil) -> Member {
        Member(node: node(i, uid: uid), name: "n\(i)", roles: [], status: status, incarnation: inc)
    }

    /// Node 0 `up` among nodes 0..<n, all up (no join phase).
    private func converged(_ n: Int, settings: Membership.Settings = .default) -> Machine {
        Machine(node: node(0), name: "n0", roles: [], converged: (0..<n).map { member($0) }, settings: settings, nowNs: t0, randomSeed: 7)
    }

    private func sends(_ actions: [Membership.Action]) -> [(message: Membership.Message, to: NodeIdentity, dialNow: Bool)] {
        actions.compactMap { if case .send(let m, let to, let d) = $0 { return (m, to, d) }; return nil }
    }

    private func events(_ actions: [Membership.Action]) -> [Membership.Event] {
        actions.compactMap { if case .event(let e) = $0 { return e }; return nil }
    }

    private func gossip(_ message: Membership.Message) -> [Member] {
        switch message {
        case .ping(_, let g), .ack(_, let g), .pingReq(_, _, let g), .nack(_, _, let g): g
        case .pushPull(let members, _): members
        }
    }

    /// Ticks until the machine sends its next periodic ping; returns the ping's seq, target and the time.
    private func nextPing(_ m: inout Machine) -> (seq: UInt64, target: NodeIdentity, at: UInt64) {
        for _ in 0..<20 {
            let now = m.nextWakeupNs
            for s in sends(m.handle(.tick, nowNs: now)) {
                if case .ping(let seq, _) = s.message { return (seq, s.to, now) }
            }
        }
        XCTFail("no ping")
        return (0, node(0), 0)
    }

    // MARK: Joining

    func test_noSeeds_isUpAtOnce_aClusterOfOne() {
        var m = Machine(node: node(0), name: "n0", roles: ["r"], seeds: [], nowNs: t0, randomSeed: 1)
        XCTAssertEqual(m.myself.status, .up)
        XCTAssertTrue(m.hasQuorum)
        XCTAssertEqual(m.members, [m.myself])
        XCTAssertEqual(m.agreedMembers, [node(0)])
        XCTAssertLessThan(m.nextWakeupNs, t0 + 11_000 * ms)
        XCTAssertTrue(sends(m.handle(.tick, nowNs: m.nextWakeupNs)).isEmpty, "nobody to probe")
    }

    func test_join_sendsPushPullToEverySeedButItsOwnAddress_andRetries() {
        var m = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0), address(1), address(2)], nowNs: t0, randomSeed: 1)
        XCTAssertEqual(m.myself.status, .joining)
        XCTAssertFalse(m.hasQuorum)
        XCTAssertEqual(m.nextWakeupNs, t0, "the first tick sends the join")
        let first = sends(m.handle(.tick, nowNs: t0))
        XCTAssertEqual(first.map(\.to), [.anyIncarnation(at: address(1)), .anyIncarnation(at: address(2))])
        for s in first { XCTAssertEqual(s.message, .pushPull(members: [m.myself], isReply: false)) }
        XCTAssertTrue(sends(m.handle(.tick, nowNs: t0 + 200 * ms)).isEmpty)
        XCTAssertEqual(m.nextWakeupNs, t0 + 500 * ms)
        XCTAssertEqual(sends(m.handle(.tick, nowNs: t0 + 500 * ms)).count, 2, "retried every joinRetryInterval")
        // Seeds refuse: still joining, still retrying.
        XCTAssertTrue(m.handle(.unreachable(address(1), refused: true), nowNs: t0 + 600 * ms).isEmpty)
        XCTAssertEqual(m.myself.status, .joining)
        _ = m.handle(.tick, nowNs: t0 + 1000 * ms)
        XCTAssertEqual(m.myself.status, .up, "it is its own first seed and heard from nobody for 1 s: it forms the cluster")
    }

    /// Akka's first-seed rule: a fresh node listed among its own seeds after another one forms no cluster — not
    /// alone after `seedJoinTimeout`, not with another joining node — and joins once a running cluster answers.
    /// (Breaker, 2026-12-03: a newcomer listed as its own seed, killed before its first handshake and restarted
    /// alone during a full outage, formed a cluster of one and handed out case numbers a second time.)
    func test_join_aFreshNodeListedAfterAnotherSeedNeverFormsACluster_andJoinsARunningOne() {
        var m = Machine(node: node(0), name: "n0", roles: [], seeds: [address(1), address(2), address(0)], nowNs: t0, randomSeed: 1)
        XCTAssertTrue(m.waitsForFirstSeed)
        _ = m.handle(.tick, nowNs: t0)
        _ = m.handle(.tick, nowNs: t0 + 5_000 * ms)
        XCTAssertEqual(m.myself.status, .joining, "not the first seed: it does not form a cluster alone")
        XCTAssertEqual(m.nextWakeupNs, t0 + 5_500 * ms, "only the join retry is armed, no seed deadline")
        // Another fresh node (the second seed, also not first) sends its join: merged, not answered.
        let other = Membership.Member(node: node(2), name: "n2", roles: [], status: .joining, incarnation: 0)
        let answer = sends(m.handle(.received(.pushPull(members: [other], isReply: false), from: node(2)), nowNs: t0 + 5_600 * ms))
        XCTAssertFalse(answer.contains { if case .pushPull(_, true) = $0.message { return true } else { return false } },
                       "a join from another joiner is not answered")
        XCTAssertEqual(m.myself.status, .joining)
        // The first seed's cluster answers: it joins.
        let seedMember = Membership.Member(node: node(1), name: "n1", roles: [], status: .up, incarnation: 0)
        _ = m.handle(.received(.pushPull(members: [seedMember], isReply: true), from: node(1)), nowNs: t0 + 5_700 * ms)
        XCTAssertEqual(m.myself.status, .up)
        XCTAssertFalse(m.waitsForFirstSeed)

        // The operator's --force-new-cluster: it founds after seedJoinTimeout whatever its place among the seeds.
        var forced = Machine(node: node(0), name: "n0", roles: [], seeds: [address(1), address(0)], forceNewCluster: true,
                             nowNs: t0, randomSeed: 1)
        XCTAssertFalse(forced.waitsForFirstSeed)
        _ = forced.handle(.tick, nowNs: t0)
        _ = forced.handle(.tick, nowNs: t0 + 1_000 * ms)
        XCTAssertEqual(forced.myself.status, .up)

        // Its own first seed, the same node forms alone as before.
        var first = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0), address(1)], nowNs: t0, randomSeed: 1)
        XCTAssertFalse(first.waitsForFirstSeed)
        _ = first.handle(.tick, nowNs: t0)
        _ = first.handle(.tick, nowNs: t0 + 1_000 * ms)
        XCTAssertEqual(first.myself.status, .up)
    }

    func test_join_aPushPullReplyMakesItUp_withOneQuorumEvent() {
        var m = Machine(node: node(0), name: "n0", roles: [], seeds: [address(1)], nowNs: t0, randomSeed: 1)
        _ = m.handle(.tick, nowNs: t0)
        let actions = m.handle(.received(.pushPull(members: [member(1), member(2), member(3, .down)], isReply: true), from: node(1)),
                               nowNs: t0 + 2 * ms)
        XCTAssertEqual(m.myself.status, .up)
        XCTAssertEqual(events(actions), [
            .memberChanged(member(1), previous: nil),
            .memberChanged(member(2), previous: nil),
            .memberChanged(member(3, .down), previous: nil),
            .memberChanged(m.myself, previous: .joining),
            .quorumChanged(hasQuorum: true, reachable: 3, of: 3),
        ])
        // The member that answered hears of the new `up` entry at once (it lists this node as joining).
        XCTAssertEqual(sends(actions).map(\.message), [.pushPull(members: [m.myself], isReply: true)])
        XCTAssertEqual(m.agreedMembers, [node(0), node(1), node(2)])
        XCTAssertTrue(m.hasQuorum)
        XCTAssertEqual(m.lastHeardAgeMs(node(1), nowNs: t0 + 12 * ms), 10)
        XCTAssertNil(m.lastHeardAgeMs(node(2), nowNs: t0 + 12 * ms), "heard of, not from")
    }

    func test_join_aJoinRequestFromAnotherSeedMakesItUp_andIsAnsweredWithFullState() {
        var m = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0), address(1)], nowNs: t0, randomSeed: 1)
        let actions = m.handle(.received(.pushPull(members: [member(1, .joining)], isReply: false), from: node(1)), nowNs: t0 + ms)
        XCTAssertEqual(m.myself.status, .up)
        let reply = sends(actions).filter { if case .pushPull(_, true) = $0.message { return $0.to == node(1) }; return false }
        XCTAssertEqual(reply.count, 1)
        XCTAssertEqual(reply.first.map { gossip($0.message) }, [m.myself, member(1)],
                       "self first, then by identity; the joiner it answers is up from now on")
        XCTAssertEqual(m.stats.pushPulls, 1, "the one it answered: it was up before its own join went out")
    }

    /// A fresh node that does not list itself among its seeds never forms a cluster with another joiner: it merges
    /// the join but does not answer it, and stays joining until a seed answers (breaker, 2026-12-02: two fresh
    /// nodes whose only seed was dead formed a cluster of their own and later merged into the old one).
    func test_join_aFreshNodeNotAmongItsSeedsDoesNotFormAClusterWithAnotherJoiner() {
        var m = Machine(node: node(6), name: "n6", roles: [], seeds: [address(1)], nowNs: t0, randomSeed: 1)
        let actions = m.handle(.received(.pushPull(members: [member(7, .joining)], isReply: false), from: node(7)), nowNs: t0 + ms)
        XCTAssertEqual(m.myself.status, .joining)
        XCTAssertTrue(replies(actions, to: node(7)).isEmpty, "an answer would make the other joiner up")
        XCTAssertEqual(m.members.first { $0.node == node(7) }?.status, .joining, "merged: it knows of it")
        // Time passes: it never forms a cluster alone either (it is not a seed).
        for i in 1...10 { _ = m.handle(.tick, nowNs: t0 + UInt64(i) * 500 * ms) }
        XCTAssertEqual(m.myself.status, .joining)
        XCTAssertFalse(m.hasQuorum)
        // Its seed answers: it is up, in the seed's cluster.
        _ = m.handle(.received(.pushPull(members: [member(1), member(6, .joining)], isReply: true), from: node(1)), nowNs: t0 + 6_000 * ms)
        XCTAssertEqual(m.myself.status, .up)
    }

    /// Breaker, 2026-12-02: a node killed right after joining, before it wrote its member file, restarted as its
    /// own seed with replicas but nothing remembered, answered a restarted member's join, and the two formed a
    /// cluster apart. Such a node forms no cluster: not as a seed after the timeout, not by answering a joiner.
    func test_join_aSeedWithStateButNoRememberedSetFormsNoClusterAndJoinsOnlyARunningOne() {
        var m = Machine(node: node(6), name: "n6", roles: [], seeds: [address(6), address(1)], formsNoCluster: true,
                        nowNs: t0, randomSeed: 1)
        for i in 1...10 { _ = m.handle(.tick, nowNs: t0 + UInt64(i) * 500 * ms) }
        XCTAssertEqual(m.myself.status, .joining, "a seed would have formed a cluster alone by now")
        let actions = m.handle(.received(.pushPull(members: [member(7, .joining)], isReply: false), from: node(7)), nowNs: t0 + 6_000 * ms)
        XCTAssertEqual(m.myself.status, .joining)
        XCTAssertTrue(replies(actions, to: node(7)).isEmpty, "an answer would make the other joiner up")
        XCTAssertNil(m.joinedThrough)
        _ = m.handle(.received(.pushPull(members: [member(1), member(6, .joining)], isReply: true), from: node(1)), nowNs: t0 + 7_000 * ms)
        XCTAssertEqual(m.myself.status, .up)
        XCTAssertEqual(m.joinedThrough, node(1), "it joined a running cluster")
        XCTAssertFalse(m.formedWithRemembered)
        // Without seeds there is nobody to join: a cluster of one, as before.
        let alone = Machine(node: node(6), name: "n6", roles: [], seeds: [], formsNoCluster: true, nowNs: t0, randomSeed: 1)
        XCTAssertEqual(alone.myself.status, .up)
        XCTAssertNil(alone.joinedThrough, "it formed its cluster")
    }

    /// Breaker, 2026-12-02: a node restarted without its member file, whose only seed was itself, stayed `joining`
    /// while the running cluster probed its address: it never sent a join to anyone.
    func test_join_aNodeWhoseOnlySeedIsItselfJoinsThroughAMemberThatDialsIt() {
        var m = Machine(node: node(6), name: "n6", roles: [], seeds: [address(6)], formsNoCluster: true, nowNs: t0, randomSeed: 1)
        for i in 1...6 { XCTAssertTrue(sends(m.handle(.tick, nowNs: t0 + UInt64(i) * 500 * ms)).isEmpty, "nobody to join") }
        XCTAssertEqual(m.myself.status, .joining)
        // A member of the running cluster dials this address (it probes the earlier incarnation): the join goes to it.
        let actions = m.handle(.associated(node(1)), nowNs: t0 + 4_000 * ms)
        let joins = sends(actions).filter { if case .pushPull(_, false) = $0.message { return $0.to == node(1) }; return false }
        XCTAssertEqual(joins.count, 1)
        XCTAssertTrue(sends(m.handle(.associated(node(1)), nowNs: t0 + 4_001 * ms)).isEmpty, "not twice at once")
        _ = m.handle(.received(.pushPull(members: [member(1), member(6, .joining)], isReply: true), from: node(1)), nowNs: t0 + 4_010 * ms)
        XCTAssertEqual(m.myself.status, .up)
        XCTAssertEqual(m.joinedThrough, node(1))
        // A node with another seed joins only through its seeds: a node that dials it may be a fresh seed that
        // formed a cluster of its own.
        var seeded = Machine(node: node(6), name: "n6", roles: [], seeds: [address(6), address(2)], formsNoCluster: true,
                             nowNs: t0, randomSeed: 1)
        _ = seeded.handle(.tick, nowNs: t0)
        XCTAssertFalse(sends(seeded.handle(.associated(node(1)), nowNs: t0 + 4_000 * ms)).contains { $0.to == node(1) })
    }

    func test_join_aClusterOfOneKeepsItsQuorumWhileASecondNodeJoins() {
        var m = Machine(node: node(1), name: "n1", roles: [], seeds: [], nowNs: t0, randomSeed: 1)
        XCTAssertTrue(m.hasQuorum)
        // node(0) precedes node(1): counted unreachable, it would take the tie-break and the quorum with it.
        let actions = m.handle(.received(.pushPull(members: [member(0, .joining)], isReply: false), from: node(0)), nowNs: t0 + ms)
        XCTAssertTrue(m.hasQuorum, "the answer makes the joiner up: it counts as reachable at once")
        XCTAssertFalse(events(actions).contains { if case .quorumChanged(false, _, _) = $0 { return true }; return false })
        XCTAssertEqual(m.members.first { $0.node == node(0) }?.status, .up)
        XCTAssertEqual(m.agreedMembers, [node(0), node(1)])
        let reply = sends(actions).filter { if case .pushPull(_, true) = $0.message { return $0.to == node(0) }; return false }
        XCTAssertEqual(reply.first.map { gossip($0.message) }, [m.myself, member(0)])
        // The joiner's own `up` entry that follows changes nothing.
        XCTAssertTrue(events(m.handle(.received(.pushPull(members: [member(0)], isReply: true), from: node(0)), nowNs: t0 + 2 * ms)).isEmpty)
        XCTAssertTrue(m.hasQuorum)
    }

    // MARK: Restart with a remembered member set

    private func replies(_ actions: [Membership.Action], to target: NodeIdentity) -> [[Member]] {
        sends(actions).compactMap { if case .pushPull(let members, true) = $0.message, $0.to == target { return members }; return nil }
    }

    func test_remembered_aRestartedSeedDoesNotFormAClusterAlone_andAJoinFromAnotherRestartedMemberCompletesAMajority() {
        let all = (0..<3).map(address)
        var m = Machine(node: node(0), name: "n0", roles: [], seeds: all, remembered: all, nowNs: t0, randomSeed: 1)
        XCTAssertEqual(m.rememberedWait?.heard, [address(0)])
        XCTAssertEqual(m.rememberedWait?.of, all)
        for step in 0..<10 { _ = m.handle(.tick, nowNs: t0 + UInt64(step) * 500 * ms) }
        XCTAssertEqual(m.myself.status, .joining, "4.5 s of silence: it waits, it does not form a cluster of one")
        XCTAssertFalse(m.hasQuorum)
        // Another restarted member's join: 2 of 3 heard, a majority — up, and the joiner gets the answer.
        let actions = m.handle(.received(.pushPull(members: [member(1, .joining)], isReply: false), from: node(1)), nowNs: t0 + 5000 * ms)
        XCTAssertEqual(m.myself.status, .up)
        XCTAssertNil(m.rememberedWait)
        XCTAssertTrue(m.formedWithRemembered, "it formed the cluster again, no member's answer made it up")
        XCTAssertNil(m.joinedThrough)
        XCTAssertTrue(m.hasQuorum)
        XCTAssertEqual(m.agreedMembers, [node(0), node(1)])
        XCTAssertEqual(replies(actions, to: node(1)).count, 1)
    }

    func test_remembered_ofFive_twoRestartedMembersWait_theThirdMakesAMajority() {
        let all = (0..<5).map(address)
        var m = Machine(node: node(0), name: "n0", roles: [], seeds: all, remembered: all, nowNs: t0, randomSeed: 1)
        _ = m.handle(.tick, nowNs: t0)
        let first = m.handle(.received(.pushPull(members: [member(1, .joining)], isReply: false), from: node(1)), nowNs: t0 + 10 * ms)
        XCTAssertEqual(m.myself.status, .joining, "2 of 5")
        XCTAssertTrue(replies(first, to: node(1)).isEmpty, "an answer would make node 1 up with a minority")
        XCTAssertEqual(m.rememberedWait?.heard, [address(0), address(1)])
        // A member of no remembered address counts for nothing.
        _ = m.handle(.received(.pushPull(members: [member(7, .joining)], isReply: false), from: node(7)), nowNs: t0 + 20 * ms)
        XCTAssertEqual(m.myself.status, .joining)
        let third = m.handle(.received(.pushPull(members: [member(2, .joining)], isReply: false), from: node(2)), nowNs: t0 + 30 * ms)
        XCTAssertEqual(m.myself.status, .up, "3 of 5")
        XCTAssertEqual(replies(third, to: node(2)).count, 1)
        // Node 1's join, retried, is answered now.
        let retried = m.handle(.received(.pushPull(members: [member(1, .joining)], isReply: false), from: node(1)), nowNs: t0 + 510 * ms)
        XCTAssertEqual(replies(retried, to: node(1)).count, 1)
    }

    func test_remembered_aReplyFromAMemberAlreadyUpMakesItUp() {
        let all = (0..<5).map(address)
        var m = Machine(node: node(0), name: "n0", roles: [], seeds: [address(1)], remembered: all, nowNs: t0, randomSeed: 1)
        _ = m.handle(.tick, nowNs: t0)
        _ = m.handle(.received(.pushPull(members: [member(1), member(2)], isReply: true), from: node(1)), nowNs: t0 + 2 * ms)
        XCTAssertEqual(m.myself.status, .up, "node 1's cluster is running: it kept its quorum")
        XCTAssertTrue(m.hasQuorum)
    }

    func test_remembered_withoutSeeds_itWaitsForJoinsInsteadOfBeingUpAtOnce_butOneRememberedAddressIsAClusterOfOne() {
        var waiting = Machine(node: node(0), name: "n0", roles: [], seeds: [], remembered: [address(0), address(1), address(2)],
                              nowNs: t0, randomSeed: 1)
        XCTAssertEqual(waiting.myself.status, .joining)
        XCTAssertTrue(sends(waiting.handle(.tick, nowNs: t0)).isEmpty, "no seed to send a join to: the others come to it")
        _ = waiting.handle(.received(.pushPull(members: [member(2, .joining)], isReply: false), from: node(2)), nowNs: t0 + ms)
        XCTAssertEqual(waiting.myself.status, .up)

        let single = Machine(node: node(0), name: "n0", roles: [], seeds: [], remembered: [address(0)], nowNs: t0, randomSeed: 1)
        XCTAssertEqual(single.myself.status, .up)
        XCTAssertNil(single.rememberedWait)
        var seed = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0)], remembered: [address(0)], nowNs: t0, randomSeed: 1)
        _ = seed.handle(.tick, nowNs: t0 + 1000 * ms)
        XCTAssertEqual(seed.myself.status, .up, "a cluster of one remembered: it forms alone, as before")
    }

    func test_join_associatedWithASeed_sendsTheJoinToItAtOnce() {
        var m = Machine(node: node(0), name: "n0", roles: [], seeds: [address(1)], nowNs: t0, randomSeed: 1)
        _ = m.handle(.tick, nowNs: t0)
        XCTAssertTrue(sends(m.handle(.associated(node(1)), nowNs: t0 + ms)).isEmpty, "a join just went there")
        XCTAssertTrue(sends(m.handle(.associated(node(5)), nowNs: t0 + 200 * ms)).isEmpty, "not a seed")
        let later = sends(m.handle(.associated(node(1)), nowNs: t0 + 300 * ms))
        XCTAssertEqual(later.map(\.to), [node(1)])
        XCTAssertEqual(later.first?.message, .pushPull(members: [m.myself], isReply: false))
    }

    func test_join_selfListedSeed_formsTheClusterAloneAfterTheTimeout_unlessItHeardFromAnother() {
        var alone = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0), address(1)], nowNs: t0, randomSeed: 1)
        _ = alone.handle(.tick, nowNs: t0)
        XCTAssertEqual(alone.myself.status, .joining)
        XCTAssertLessThanOrEqual(alone.nextWakeupNs, t0 + 1000 * ms)
        _ = alone.handle(.tick, nowNs: t0 + 999 * ms)
        XCTAssertEqual(alone.myself.status, .joining)
        let up = alone.handle(.tick, nowNs: t0 + 1000 * ms)
        XCTAssertEqual(alone.myself.status, .up)
        XCTAssertEqual(events(up), [.memberChanged(alone.myself, previous: .joining), .quorumChanged(hasQuorum: true, reachable: 1, of: 1)])

        var heard = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0), address(1)], nowNs: t0, randomSeed: 1)
        _ = heard.handle(.tick, nowNs: t0)
        _ = heard.handle(.associated(node(1)), nowNs: t0 + 400 * ms)
        _ = heard.handle(.tick, nowNs: t0 + 1500 * ms)
        XCTAssertEqual(heard.myself.status, .joining, "another seed answers: wait for its reply, do not split")
    }

    /// Breaker, 2026-12-03: one `hotline case` sent to a fresh seed in its first second kept it from ever forming its
    /// cluster, and was recorded as contact with a cluster. A handshake is contact only with a node this one joins
    /// through, or once membership is exchanged.
    func test_join_aClientsHandshakeIsNoContact_aSeedsIsRecordedBeforeTheJoinGoes() {
        var seed = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0), address(1)], nowNs: t0, randomSeed: 1)
        _ = seed.handle(.tick, nowNs: t0)
        let client = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 46621), uid: 77)
        XCTAssertEqual(seed.handle(.associated(client), nowNs: t0 + 100 * ms), [], "a client: nothing")
        _ = seed.handle(.tick, nowNs: t0 + 1000 * ms)
        XCTAssertEqual(seed.myself.status, .up, "it still forms its cluster alone after 1 s")

        var joiner = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0), address(1)], nowNs: t0, randomSeed: 1)
        _ = joiner.handle(.tick, nowNs: t0)
        let actions = joiner.handle(.associated(node(1)), nowNs: t0 + 100 * ms)
        XCTAssertEqual(actions.first, .recordContact(node(1)), "recorded before anything else is done")
        XCTAssertEqual(sends(Array(actions.dropFirst())).map(\.to), [node(1)], "then the join")
        let later = joiner.handle(.associated(node(1)), nowNs: t0 + 300 * ms)
        XCTAssertFalse(later.contains(.recordContact(node(1))), "once")

        var answered = Machine(node: node(0), name: "n0", roles: [], seeds: [address(0)], nowNs: t0, randomSeed: 1)
        let join = answered.handle(.received(.pushPull(members: [member(2, .joining)], isReply: false), from: node(2)), nowNs: t0 + ms)
        XCTAssertEqual(join.first, .recordContact(node(2)), "a member's message: recorded before it is answered")
        XCTAssertEqual(answered.myself.status, .up)
    }

    // MARK: Probing

    func test_ping_fromAnUnknownPeer_isAcked_andTheSenderLearned() {
        var m = converged(2)
        let actions = m.handle(.received(.ping(seq: 7, gossip: [member(5)]), from: node(5)), nowNs: t0 + ms)
        XCTAssertEqual(events(actions), [.memberChanged(member(5), previous: nil)])
        let acks = sends(actions)
        XCTAssertEqual(acks.count, 1)
        XCTAssertEqual(acks.first?.to, node(5))
        guard case .ack(7, let g)? = acks.first?.message else { return XCTFail("\(acks)") }
        XCTAssertEqual(g.first, m.myself, "own entry first")
        XCTAssertTrue(g.contains(member(5)), "the new member's entry is gossiped on")
    }

    func test_probe_pingThenPingReqsThenSuspect_withLocalHealthAndSuspicionTimeout() {
        var m = converged(4)
        let (seq, target, start) = nextPing(&m)
        XCTAssertEqual(m.stats.probesSent, 1)
        XCTAssertEqual(m.nextWakeupNs, start + 100 * ms, "the probe timeout")
        let reqs = sends(m.handle(.tick, nowNs: start + 100 * ms))
        XCTAssertEqual(reqs.count, 2, "k = 3, but only two other members")
        for r in reqs {
            XCTAssertEqual(r.message, .pingReq(seq: seq, target: target, gossip: gossip(r.message)))
            XCTAssertNotEqual(r.to, target)
            XCTAssertFalse(r.dialNow)
        }
        XCTAssertEqual(m.stats.pingReqsSent, 2)
        XCTAssertEqual(m.nextWakeupNs, start + 300 * ms, "the end of the protocol period")
        let end = m.handle(.tick, nowNs: start + 300 * ms)
        XCTAssertEqual(m.member(target)?.status, .suspect)
        XCTAssertEqual(events(end), [.memberChanged(m.member(target)!, previous: .up)], "3 of 4 reachable: quorum holds, no flip")
        XCTAssertEqual(m.stats.suspicions, 1)
        XCTAssertEqual(m.stats.probesFailed, 1)
        XCTAssertEqual(m.localHealthMultiplier, 2, "no nacks came back from two ping-reqs")
        // N = 4: min = 3 · 1 · 300 ms = 0.9 s, max = 2.7 s; no confirmation yet.
        XCTAssertEqual(m.suspicionDeadlineNs(target), start + 300 * ms + 2700 * ms)
        // The next probe is stretched: period × 2.
        let (_, _, next) = nextPing(&m)
        XCTAssertGreaterThanOrEqual(next, start + 300 * ms)
        // Buddy system: a ping to the suspect carries its suspect entry right after this node's own.
        let buddy = m.piggyback(for: target)
        XCTAssertEqual(buddy.prefix(2).map(\.node), [node(0), target])
        XCTAssertEqual(buddy[1].status, .suspect)
    }

    func test_probe_ackedInTime_lowersLocalHealth_andNothingElseHappens() {
        var m = converged(3)
        let (seq, target, start) = nextPing(&m)
        // Starved once: a tick served 150 ms after the wakeup it asked for.
        _ = m.handle(.tick, nowNs: m.nextWakeupNs + 150 * ms)
        XCTAssertEqual(m.localHealthMultiplier, 2)
        let actions = m.handle(.received(.ack(seq: seq, gossip: [member(Int(target.uid) - 100)]), from: target), nowNs: start + 2 * ms)
        XCTAssertTrue(events(actions).isEmpty)
        XCTAssertEqual(m.localHealthMultiplier, 1)
        XCTAssertEqual(m.stats.probesFailed, 0)
        XCTAssertEqual(m.lastHeardAgeMs(target, nowNs: start + 2 * ms), 0)
    }

    func test_relay_pingReqIsPingedOnAndTheAckForwarded_elseNack_refusedAtOnce() {
        var m = converged(4)
        let origin = node(1), target = node(2)
        let ping = sends(m.handle(.received(.pingReq(seq: 55, target: target, gossip: [member(1)]), from: origin), nowNs: t0 + ms))
        XCTAssertEqual(ping.count, 1)
        XCTAssertEqual(ping.first?.to, target)
        XCTAssertEqual(ping.first?.dialNow, true, "a relayed ping dials at once")
        guard case .ping(let relaySeq, _)? = ping.first?.message else { return XCTFail() }
        let forwarded = sends(m.handle(.received(.ack(seq: relaySeq, gossip: [member(2)]), from: target), nowNs: t0 + 3 * ms))
        XCTAssertEqual(forwarded.map(\.to), [origin])
        XCTAssertEqual(forwarded.first.map { if case .ack(55, _) = $0.message { true } else { false } }, true)

        _ = m.handle(.received(.pingReq(seq: 56, target: target, gossip: []), from: origin), nowNs: t0 + 10 * ms)
        let nack = sends(m.handle(.tick, nowNs: t0 + 110 * ms)).filter { if case .nack = $0.message { true } else { false } }
        XCTAssertEqual(nack.map(\.to), [origin])
        XCTAssertEqual(nack.first.map { if case .nack(56, false, _) = $0.message { true } else { false } }, true)

        _ = m.handle(.received(.pingReq(seq: 57, target: target, gossip: []), from: origin), nowNs: t0 + 200 * ms)
        let refused = sends(m.handle(.unreachable(target.address, refused: true), nowNs: t0 + 201 * ms)).filter {
            if case .nack = $0.message { true } else { false }
        }
        XCTAssertEqual(refused.map(\.to), [origin])
        XCTAssertEqual(refused.first.map { if case .nack(57, true, _) = $0.message { true } else { false } }, true)
    }

    // MARK: Connection hints and crash confirmation

    func test_connectionLost_probesAtOnce_thenRefusedEverywhere_isAConfirmedCrash() {
        var m = converged(5)
        let victim = node(3)
        let now = t0 + 50 * ms
        let probe = sends(m.handle(.connectionLost(victim), nowNs: now))
        let pings = probe.filter { if case .ping = $0.message { return true }; return false }
        let reqs = probe.filter { if case .pingReq = $0.message { return true }; return false }
        XCTAssertEqual(pings.map(\.to), [victim])
        XCTAssertEqual(reqs.count, 3, "ping-reqs at once, not after the probe timeout")
        XCTAssertTrue(probe.allSatisfy(\.dialNow))
        guard case .ping(let seq, _)? = pings.first?.message else { return XCTFail() }
        XCTAssertTrue(events(m.handle(.unreachable(victim.address, refused: true), nowNs: now + ms)).isEmpty, "waits for an intermediary")
        let down = m.handle(.received(.nack(seq: seq, targetRefused: true, gossip: []), from: reqs[0].to), nowNs: now + 2 * ms)
        XCTAssertEqual(events(down).first, .memberChanged(member(3, .down), previous: .up))
        XCTAssertEqual(m.stats.downsConfirmedCrash, 1)
        XCTAssertEqual(m.stats.suspicions, 0)
        XCTAssertFalse(m.agreedMembers.contains(victim))
        XCTAssertTrue(m.hasQuorum)
    }

    func test_connectionLost_toALiveMember_changesNothingWhenItAcks() {
        var m = converged(4)
        let peer = node(2)
        let probe = sends(m.handle(.connectionLost(peer), nowNs: t0 + 50 * ms))
        guard case .ping(let seq, _)? = probe.first(where: { $0.to == peer })?.message else { return XCTFail() }
        _ = m.handle(.received(.ack(seq: seq, gossip: [member(2)]), from: peer), nowNs: t0 + 52 * ms)
        let later = m.handle(.tick, nowNs: t0 + 400 * ms)
        XCTAssertTrue(events(later).isEmpty)
        XCTAssertEqual(m.member(peer)?.status, .up)
    }

    func test_refusedButAnIntermediaryGotNoAnswer_isOnlyASuspicion() {
        var m = converged(4)
        let victim = node(3)
        let probe = sends(m.handle(.connectionLost(victim), nowNs: t0))
        guard case .ping(let seq, _)? = probe.first?.message else { return XCTFail() }
        _ = m.handle(.unreachable(victim.address, refused: true), nowNs: t0 + ms)
        _ = m.handle(.received(.nack(seq: seq, targetRefused: false, gossip: []), from: node(1)), nowNs: t0 + 2 * ms)
        _ = m.handle(.received(.nack(seq: seq, targetRefused: true, gossip: []), from: node(2)), nowNs: t0 + 3 * ms)
        XCTAssertEqual(m.member(victim)?.status, .up)
        _ = m.handle(.tick, nowNs: t0 + 300 * ms)
        XCTAssertEqual(m.member(victim)?.status, .suspect)
        XCTAssertEqual(m.stats.downsConfirmedCrash, 0)
    }

    func test_twoMemberCluster_refusedWithNoPossibleIntermediary_isAConfirmedCrash() {
        var m = converged(2)
        _ = m.handle(.connectionLost(node(1)), nowNs: t0)
        let actions = m.handle(.unreachable(address(1), refused: true), nowNs: t0 + ms)
        XCTAssertEqual(events(actions).first, .memberChanged(member(1, .down), previous: .up))
        XCTAssertTrue(m.hasQuorum, "alone in the agreed set now")
    }

    // MARK: Merge rules

    func test_refutation_suspectAboutItselfRaisesItsIncarnation() {
        var m = converged(3)
        let actions = m.handle(.received(.ping(seq: 1, gossip: [member(1), member(0, .suspect, inc: 0)]), from: node(1)), nowNs: t0 + ms)
        XCTAssertEqual(m.myself.incarnation, 1)
        XCTAssertEqual(m.myself.status, .up)
        XCTAssertEqual(m.stats.refutations, 1)
        XCTAssertEqual(m.localHealthMultiplier, 2)
        XCTAssertTrue(events(actions).isEmpty, "no status change of its own")
        XCTAssertEqual(sends(actions).first.map { gossip($0.message).first }, member(0, inc: 1), "the ack carries the refutation")
        // A suspicion at a lower incarnation than its own is old news.
        _ = m.handle(.received(.ping(seq: 2, gossip: [member(0, .suspect, inc: 0)]), from: node(2)), nowNs: t0 + 2 * ms)
        XCTAssertEqual(m.myself.incarnation, 1)
        XCTAssertEqual(m.stats.refutations, 1)
    }

    func test_downAboutItself_isFinal_andTheMachineFallsSilent() {
        var m = converged(3)
        let actions = m.handle(.received(.pushPull(members: [member(0, .down)], isReply: true), from: node(1)), nowNs: t0 + ms)
        var down = member(0)
        down.status = .down
        XCTAssertEqual(events(actions), [.memberChanged(down, previous: .up), .quorumChanged(hasQuorum: false, reachable: 0, of: 3)])
        XCTAssertEqual(m.nextWakeupNs, .max)
        XCTAssertFalse(m.hasQuorum)
        XCTAssertTrue(m.handle(.received(.ping(seq: 3, gossip: []), from: node(1)), nowNs: t0 + 2 * ms).isEmpty)
        XCTAssertTrue(m.handle(.tick, nowNs: t0 + 10_000 * ms).isEmpty)
    }

    func test_staleIncarnationGossip_isIgnored() {
        var m = converged(3)
        _ = m.handle(.received(.ping(seq: 1, gossip: [member(1, inc: 3)]), from: node(1)), nowNs: t0 + ms)
        XCTAssertEqual(m.member(node(1))?.incarnation, 3)
        let actions = m.handle(.received(.ping(seq: 2, gossip: [member(1, .suspect, inc: 2)]), from: node(2)), nowNs: t0 + 2 * ms)
        XCTAssertTrue(events(actions).isEmpty)
        XCTAssertEqual(m.member(node(1))?.status, .up)
        XCTAssertEqual(m.stats.staleGossipIgnored, 1)
        XCTAssertNil(m.suspicionDeadlineNs(node(1)))
    }

    func test_sameSuspicionTwice_oneEvent_andADistinctAccuserConfirms() {
        var m = converged(10)
        let first = m.handle(.received(.ping(seq: 1, gossip: [member(1), member(5, .suspect)]), from: node(1)), nowNs: t0)
        XCTAssertEqual(events(first), [.memberChanged(member(5, .suspect), previous: .up)])
        let deadline = m.suspicionDeadlineNs(node(5))!
        XCTAssertEqual(deadline, t0 + 2700 * ms, "N = 10: max = 3 · 3 · 1 · 300 ms")
        XCTAssertTrue(events(m.handle(.received(.ping(seq: 2, gossip: [member(5, .suspect)]), from: node(1)), nowNs: t0 + ms)).isEmpty)
        XCTAssertEqual(m.suspicionDeadlineNs(node(5)), deadline, "the same accuser again is no confirmation")
        _ = m.handle(.received(.ack(seq: 99, gossip: [member(5, .suspect)]), from: node(2)), nowNs: t0 + 2 * ms)
        XCTAssertEqual(m.suspicionDeadlineNs(node(5)), t0 + 1800 * ms, "C = 1 of K = 3: max − (max − min) · log 2 / log 4")
        // Push–pull state is a snapshot, not an accusation.
        _ = m.handle(.received(.pushPull(members: [member(5, .suspect)], isReply: true), from: node(3)), nowNs: t0 + 3 * ms)
        XCTAssertEqual(m.suspicionDeadlineNs(node(5)), t0 + 1800 * ms)
        // A suspicion learned from others is not gossiped on by this node (it is no accuser).
        let relayed = m.piggyback(for: node(7))
        XCTAssertFalse(relayed.contains { $0.node == node(5) })
    }

    func test_gossipAboutATombstonedUid_isIgnored_andTombstonesExpireAfterTheirTTL() {
        var settings = Membership.Settings()
        settings.tombstoneTTL = .seconds(60)
        var m = converged(3, settings: settings)
        let down = m.handle(.down(node(2)), nowNs: t0)
        XCTAssertEqual(events(down).first, .memberChanged(member(2, .down), previous: .up))
        XCTAssertEqual(m.stats.downsByOperator, 1)
        let removed = m.handle(.tick, nowNs: t0 + 5000 * ms)
        XCTAssertEqual(events(removed), [.memberChanged(member(2, .removed), previous: .down)])
        XCTAssertNil(m.member(node(2)))
        XCTAssertTrue(m.tombstoned(node(2)))
        XCTAssertEqual(m.tombstoneCount, 1)
        let stale = m.handle(.received(.ping(seq: 1, gossip: [member(1), member(2, inc: 9)]), from: node(1)), nowNs: t0 + 6000 * ms)
        XCTAssertTrue(events(stale).isEmpty)
        XCTAssertNil(m.member(node(2)))
        XCTAssertEqual(m.stats.staleGossipIgnored, 1)
        XCTAssertLessThanOrEqual(m.nextWakeupNs, t0 + 65_000 * ms)
        _ = m.handle(.tick, nowNs: t0 + 65_000 * ms)
        XCTAssertEqual(m.tombstoneCount, 0)
        XCTAssertFalse(m.tombstoned(node(2)))
    }

    func test_aDownedMemberThatTalks_isToldItIsDown_atMostOnceASecond() {
        var m = converged(3)
        _ = m.handle(.down(node(2)), nowNs: t0)
        let answer = sends(m.handle(.received(.ping(seq: 4, gossip: [member(2)]), from: node(2)), nowNs: t0 + ms))
        XCTAssertEqual(answer.count, 1, "no ack: a push–pull")
        guard case .pushPull(let members, true)? = answer.first?.message else { return XCTFail("\(answer)") }
        XCTAssertEqual(members.first, member(2, .down))
        XCTAssertEqual(members.filter { $0.node == node(2) }.count, 1)
        XCTAssertEqual(m.member(node(2))?.status, .down, "its content is not believed")
        XCTAssertTrue(sends(m.handle(.received(.ping(seq: 5, gossip: []), from: node(2)), nowNs: t0 + 500 * ms)).filter { $0.to == node(2) }.isEmpty)
        XCTAssertEqual(sends(m.handle(.received(.ping(seq: 6, gossip: []), from: node(2)), nowNs: t0 + 1002 * ms)).filter { $0.to == node(2) }.count, 1)
        // Once removed, the tombstone still answers (with a down entry made up for it).
        _ = m.handle(.tick, nowNs: t0 + 6000 * ms)
        let late = sends(m.handle(.received(.ping(seq: 7, gossip: []), from: node(2)), nowNs: t0 + 6001 * ms)).filter { $0.to == node(2) }
        guard case .pushPull(let again, true)? = late.first?.message else { return XCTFail("\(late)") }
        XCTAssertEqual(again.first?.node, node(2))
        XCTAssertEqual(again.first?.status, .down)
    }

    /// A member that gossips a uid this node removed as live is told (once a second), takes the removal, and then
    /// tells that uid itself it is down when it talks: two members that each downed the other across a healing
    /// partition both rejoin as new uids instead of keeping two views for good (chaos seed 346299).
    func test_gossipListingARemovedUidAsLive_isCorrected_andTheReceiverTellsThatUidItIsDown() {
        var m = converged(3)
        _ = m.handle(.down(node(2)), nowNs: t0)
        _ = m.handle(.tick, nowNs: t0 + 5000 * ms)
        XCTAssertTrue(m.tombstoned(node(2)))
        // Node 1 never heard of the down: it lists node 2 as up.
        let out = sends(m.handle(.received(.ping(seq: 1, gossip: [member(1), member(2)]), from: node(1)), nowNs: t0 + 6000 * ms))
        let corrections = out.filter { s in
            if case .pushPull(_, true) = s.message { return s.to == node(1) }
            return false
        }
        XCTAssertEqual(corrections.count, 1)
        guard case .pushPull(let entries, true)? = corrections.first?.message else { return XCTFail("\(out)") }
        XCTAssertEqual(entries.map(\.node), [node(2)])
        XCTAssertEqual(entries.first?.status, .removed)
        XCTAssertEqual(m.stats.staleGossipCorrected, 1)
        // At most once a second per sender.
        let again = sends(m.handle(.received(.ping(seq: 2, gossip: [member(2)]), from: node(1)), nowNs: t0 + 6500 * ms))
        XCTAssertTrue(again.allSatisfy { if case .pushPull = $0.message { false } else { true } })
        // Node 1 (here: a machine of its own) takes the removal; node 2 then talks to it and is told it is down.
        var other = Machine(node: node(1), name: "n1", roles: [], converged: (0..<3).map { member($0) }, settings: .default,
                            nowNs: t0, randomSeed: 9)
        let taken = other.handle(.received(corrections[0].message, from: node(0)), nowNs: t0 + 6001 * ms)
        XCTAssertEqual(events(taken), [.memberChanged(member(2, .removed), previous: .up)])
        let told = sends(other.handle(.received(.ping(seq: 9, gossip: []), from: node(2)), nowNs: t0 + 6002 * ms)).filter { $0.to == node(2) }
        guard case .pushPull(let notice, true)? = told.first?.message else { return XCTFail("\(told)") }
        XCTAssertEqual(notice.first?.node, node(2))
        XCTAssertTrue(notice.first?.status.isTerminal ?? false)
    }

    func test_aNewUidAtAKnownAddress_learnedDirectly_downsTheOldUidAtOnce() {
        var m = converged(4)
        let restarted = member(2, uid: 999)
        // Learned through someone else's gossip: both listed, the old one untouched.
        _ = m.handle(.received(.ping(seq: 1, gossip: [member(1), restarted]), from: node(1)), nowNs: t0)
        XCTAssertEqual(m.member(node(2))?.status, .up)
        XCTAssertEqual(m.member(restarted.node)?.status, .up)
        // Then the new uid talks to this node itself.
        let actions = m.handle(.received(.ping(seq: 2, gossip: [restarted]), from: restarted.node), nowNs: t0 + ms)
        XCTAssertEqual(events(actions), [.memberChanged(member(2, .down), previous: .up)])
        XCTAssertEqual(m.stats.downsReplaced, 1)
        XCTAssertFalse(m.agreedMembers.contains(node(2)))
        // A handshake is direct too.
        var n = converged(3)
        _ = n.handle(.associated(NodeIdentity(address: address(1), uid: 5)), nowNs: t0)
        XCTAssertEqual(n.member(node(1))?.status, .down)
    }

    // MARK: Bounds

    func test_newMembersBeyondMaxMembers_areRefused() {
        var settings = Membership.Settings()
        settings.maxMembers = 4
        var m = converged(3, settings: settings)
        _ = m.handle(.received(.pushPull(members: [member(1), member(5), member(6), member(7)], isReply: true), from: node(1)), nowNs: t0)
        XCTAssertEqual(m.members.count, 4)
        XCTAssertEqual(m.stats.membersRefused, 2)
        XCTAssertEqual(m.fullState().count, 4)
    }

    func test_tombstones_areCapped_oldestDroppedFirst() {
        var settings = Membership.Settings()
        settings.maxTombstones = 2
        var m = converged(5, settings: settings)
        for (i, peer) in [1, 2, 3].enumerated() { _ = m.handle(.down(node(peer)), nowNs: t0 + UInt64(i) * ms) }
        _ = m.handle(.tick, nowNs: t0 + 6000 * ms)
        XCTAssertEqual(m.tombstoneCount, 2)
        XCTAssertFalse(m.tombstoned(node(1)))
        XCTAssertTrue(m.tombstoned(node(2)))
        XCTAssertTrue(m.tombstoned(node(3)))
    }

    // MARK: Quorum

    func test_withoutQuorum_anExpiredSuspectStaysSuspect() {
        var m = converged(5)
        // Three of five suspected by others: 2 reachable of 5.
        let actions = m.handle(.received(.ping(seq: 1, gossip: [member(1), member(2, .suspect), member(3, .suspect), member(4, .suspect)]),
                                         from: node(1)), nowNs: t0)
        XCTAssertTrue(events(actions).contains(.quorumChanged(hasQuorum: false, reachable: 2, of: 5)))
        XCTAssertFalse(m.hasQuorum)
        for step in 0...200 { _ = m.handle(.tick, nowNs: t0 + UInt64(step) * 100 * ms) }
        XCTAssertGreaterThanOrEqual(m.members.filter { $0.status == .suspect }.count, 3)
        XCTAssertFalse(m.members.contains { $0.status == .down })
        XCTAssertEqual(m.stats.downsBySuspicion, 0)
    }

    func test_quorumRule_majorityOrHalfWithTheLowestIdentity() {
        XCTAssertTrue(Membership.Quorum.decide(reachable: 3, of: 5, lowestReachable: false))
        XCTAssertFalse(Membership.Quorum.decide(reachable: 2, of: 5, lowestReachable: true))
        XCTAssertTrue(Membership.Quorum.decide(reachable: 2, of: 4, lowestReachable: true))
        XCTAssertFalse(Membership.Quorum.decide(reachable: 2, of: 4, lowestReachable: false))
        XCTAssertTrue(Membership.Quorum.decide(reachable: 1, of: 1, lowestReachable: true))
        XCTAssertFalse(Membership.Quorum.decide(reachable: 0, of: 0, lowestReachable: false))
    }

    // MARK: Leave

    func test_leave_announcesLeaving_pushesItToEveryone_thenRemovedAndSilent() {
        var m = converged(3)
        let actions = m.handle(.leave, nowNs: t0)
        var leaving = member(0, .leaving, inc: 1)
        leaving.roles = []
        XCTAssertEqual(m.myself, leaving)
        XCTAssertEqual(events(actions), [.memberChanged(leaving, previous: .up)])
        XCTAssertEqual(sends(actions).map(\.to), [node(1), node(2)])
        XCTAssertTrue(sends(actions).allSatisfy { $0.message == .pushPull(members: [leaving], isReply: true) })
        XCTAssertEqual(m.nextWakeupNs, t0 + 1000 * ms)
        let end = m.handle(.tick, nowNs: t0 + 1000 * ms)
        XCTAssertEqual(m.myself.status, .removed)
        XCTAssertEqual(events(end).first, .memberChanged(member(0, .removed, inc: 1), previous: .leaving))
        XCTAssertTrue(m.handle(.received(.ping(seq: 1, gossip: []), from: node(1)), nowNs: t0 + 1001 * ms).isEmpty)
    }

    func test_aLeavingMember_isNotProbed_andIsRemovedWhenItsConnectionEnds_neverSuspected() {
        var m = converged(3)
        let arrived = m.handle(.received(.pushPull(members: [member(2, .leaving, inc: 1)], isReply: true), from: node(2)), nowNs: t0)
        XCTAssertEqual(events(arrived), [.memberChanged(member(2, .leaving, inc: 1), previous: .up)])
        for _ in 0..<5 {
            let (seq, target, at) = nextPing(&m)
            XCTAssertEqual(target, node(1))
            _ = m.handle(.received(.ack(seq: seq, gossip: [member(1)]), from: node(1)), nowNs: at + ms)
        }
        // A late suspicion of it (lower rank than leaving) changes nothing.
        _ = m.handle(.received(.ping(seq: 9, gossip: [member(2, .suspect, inc: 5)]), from: node(1)), nowNs: m.nextWakeupNs)
        XCTAssertEqual(m.member(node(2))?.status, .leaving)
        let gone = m.handle(.connectionLost(node(2)), nowNs: m.nextWakeupNs)
        XCTAssertEqual(events(gone), [.memberChanged(member(2, .removed, inc: 1), previous: .leaving)])
        XCTAssertTrue(m.tombstoned(node(2)))
    }

    // MARK: Robustness

    func test_everyInputInEveryOwnState_isHandledWithoutCrashing() {
        let peer = node(1), stranger = node(9), zero = NodeIdentity.anyIncarnation(at: address(1)), selfNode = node(0)
        var inputs: [Membership.Input] = [.tick, .leave]
        for from in [peer, stranger, selfNode, zero] {
            for gossip in [[], [member(1)], [member(0, .suspect, inc: 4)], [member(1, .down)], [member(9, .removed)]] {
                inputs += [
                    .received(.ping(seq: 1, gossip: gossip), from: from),
                    .received(.ack(seq: 1, gossip: gossip), from: from),
                    .received(.pingReq(seq: 2, target: peer, gossip: gossip), from: from),
                    .received(.pingReq(seq: 3, target: selfNode, gossip: gossip), from: from),
                    .received(.nack(seq: 1, targetRefused: true, gossip: gossip), from: from),
                    .received(.pushPull(members: gossip, isReply: false), from: from),
                    .received(.pushPull(members: gossip, isReply: true), from: from),
                ]
            }
            inputs += [.associated(from), .connectionLost(from), .down(from)]
        }
        inputs += [.unreachable(address(1), refused: true), .unreachable(address(1), refused: false), .unreachable(address(0), refused: true),
                   .down(.anyIncarnation(at: address(0)))]
        func states() -> [(String, Machine)] {
            var up = converged(3)
            var leaving = converged(3); _ = leaving.handle(.leave, nowNs: t0)
            var down = converged(3); _ = down.handle(.received(.pushPull(members: [member(0, .down)], isReply: true), from: node(1)), nowNs: t0)
            var removed = converged(3); _ = removed.handle(.leave, nowNs: t0); _ = removed.handle(.tick, nowNs: t0 + 2000 * ms)
            let joining = Machine(node: selfNode, name: "n0", roles: [], seeds: [address(1), address(0)], nowNs: t0, randomSeed: 3)
            _ = up.handle(.tick, nowNs: up.nextWakeupNs)
            return [("joining", joining), ("up", up), ("leaving", leaving), ("down", down), ("removed", removed)]
        }
        for (name, initial) in states() {
            let before = initial.myself.status
            for (i, input) in inputs.enumerated() {
                var m = initial
                let actions = m.handle(input, nowNs: t0 + 3000 * ms + UInt64(i))
                if before.isTerminal { XCTAssertTrue(actions.isEmpty, "\(name): \(input)") }
            }
            // And all of them in a row, with time passing.
            var m = initial
            for (i, input) in inputs.enumerated() { _ = m.handle(input, nowNs: t0 + 3000 * ms + UInt64(i) * 10 * ms) }
            _ = m.handle(.tick, nowNs: t0 + 100_000 * ms)
        }
    }

    // MARK: Components

    func test_suspicionTimeout_lifeguardBounds_andConfirmations() {
        let period: UInt64 = 300 * ms
        let ten = Membership.Suspicion.bounds(activeMembers: 10, alpha: 3, beta: 3, protocolPeriodNs: period)
        XCTAssertEqual(ten.minNs, 900 * ms)
        XCTAssertEqual(ten.maxNs, 2700 * ms)
        XCTAssertEqual(Membership.Suspicion.bounds(activeMembers: 2, alpha: 3, beta: 3, protocolPeriodNs: period).minNs, 900 * ms, "log10 N < 1 counts as 1")
        let thousand = Membership.Suspicion.bounds(activeMembers: 1000, alpha: 3, beta: 3, protocolPeriodNs: period)
        XCTAssertEqual(Double(thousand.minNs), 2700e6, accuracy: 1e3)
        func timeout(_ c: Int) -> UInt64 { Membership.Suspicion.timeoutNs(confirmations: c, wanted: 3, minNs: 900 * ms, maxNs: 2700 * ms) }
        XCTAssertEqual(timeout(0), 2700 * ms)
        XCTAssertEqual(Double(timeout(1)), 1800e6, accuracy: 1e3)
        XCTAssertEqual(Double(timeout(2)), 2700e6 - 1800e6 * log(3) / log(4), accuracy: 1e3)
        XCTAssertEqual(timeout(3), 900 * ms)
        XCTAssertEqual(Membership.Suspicion.timeoutNs(confirmations: 0, wanted: 0, minNs: 900 * ms, maxNs: 2700 * ms), 900 * ms,
                       "K < 1: nobody can confirm, the minimum")
        var s = Membership.Suspicion(accuser: node(1), incarnation: 0, activeMembers: 10, settings: .default, nowNs: t0)
        XCTAssertEqual(s.wanted, 3)
        XCTAssertFalse(s.confirm(by: node(1)), "the first accuser is not a confirmation")
        XCTAssertTrue(s.confirm(by: node(2)))
        XCTAssertFalse(s.confirm(by: node(2)))
        XCTAssertTrue(s.confirm(by: node(3)))
        XCTAssertTrue(s.confirm(by: node(4)))
        XCTAssertFalse(s.confirm(by: node(5)), "K reached")
        XCTAssertEqual(s.deadlineNs, t0 + 900 * ms)
    }

    func test_gossipQueue_leastSentFirst_replacement_retransmitLimit_capacity() {
        XCTAssertEqual(Membership.GossipQueue.retransmitLimit(multiplier: 4, members: 9), 4)
        XCTAssertEqual(Membership.GossipQueue.retransmitLimit(multiplier: 4, members: 10), 8)
        XCTAssertEqual(Membership.GossipQueue.retransmitLimit(multiplier: 4, members: 99), 8)
        XCTAssertEqual(Membership.GossipQueue.retransmitLimit(multiplier: 4, members: 100), 12)
        XCTAssertEqual(Membership.GossipQueue.retransmitLimit(multiplier: 4, members: 1000), 16)
        XCTAssertEqual(Membership.GossipQueue.retransmitLimit(multiplier: 4, members: 0), 4)
        var q = Membership.GossipQueue(capacity: 3)
        q.enqueue(member(1))
        q.enqueue(member(2))
        XCTAssertEqual(q.take(max: 1, limit: 2).map(\.node), [node(2)], "newest first among the least sent")
        XCTAssertEqual(q.take(max: 5, limit: 2).map(\.node), [node(1), node(2)], "unsent before once-sent")
        XCTAssertEqual(q.take(max: 5, limit: 2).map(\.node), [node(1)], "node 2 was sent twice: done")
        XCTAssertEqual(q.count, 0)
        q.enqueue(member(1))
        _ = q.take(max: 5, limit: 3)
        q.enqueue(member(1, .suspect))
        XCTAssertEqual(q.take(max: 5, limit: 3), [member(1, .suspect)], "a newer update replaces the queued one, count reset")
        XCTAssertEqual(q.count, 1)
        XCTAssertEqual(q.take(max: 5, limit: 3, excluding: node(1)), [])
        q.enqueue(member(2))
        q.enqueue(member(3))
        q.enqueue(member(4))
        XCTAssertEqual(q.count, 3, "capacity: the most-sent entry made room")
        XCTAssertEqual(Set(q.take(max: 5, limit: 3).map(\.node)), [node(2), node(3), node(4)])
        // Many replacements leave stale slots behind; they are compacted away.
        for i in 0..<500 { q.enqueue(member(2, inc: UInt64(i))) }
        XCTAssertEqual(q.take(max: 1, limit: 9), [member(2, inc: 499)])
    }

    func test_localHealth_saturatesAtBothEnds() {
        var h = Membership.LocalHealth(maxMultiplier: 3)
        h.lower()
        XCTAssertEqual(h.multiplier, 1)
        for _ in 0..<5 { h.raise() }
        XCTAssertEqual(h.multiplier, 3)
        XCTAssertEqual(h.scaled(100), 300)
        h.lower()
        XCTAssertEqual(h.multiplier, 2)
    }
}
