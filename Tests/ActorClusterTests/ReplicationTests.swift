import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import ActorCluster

/// The replication protocol without sockets: replicas are `ReplicaLog` values, owners are `Replication.Owner`
/// machines, and a simulated network delivers (or drops) their messages in a seeded order.
final class ReplicationTests: XCTestCase {
    typealias R = Replication

    static func node(_ i: Int) -> NodeIdentity {
        NodeIdentity(address: NodeAddress(host: "10.0.0.\(i)", port: 7000), uid: UInt64(100 + i))
    }

    /// A simulated cluster: replica logs by node, in-flight messages, a clock.
    struct Net {
        var replicas: [NodeIdentity: R.ReplicaLog] = [:]
        var down: Set<NodeIdentity> = []
        var inFlight: [(request: R.Request, to: NodeIdentity, from: NodeIdentity)] = []
        var nowNs: UInt64 = 1_000
        var rng: SplitMix
        /// Every action of every owner, in the order they happened.
        var trace: [(NodeIdentity, R.Owner.Action)] = []
        /// Each owner's snapshot bytes (what its shell holds: the application's, or the one its recovery read).
        var snapshots: [NodeIdentity: [UInt8]] = [:]
        /// The snapshot pages an owner's recovery has read so far.
        var fetched: [NodeIdentity: [UInt8]] = [:]
        /// What each owner's last recovery found: index → payload (the snapshot's decoded, then the entries).
        var recoveredState: [NodeIdentity: [UInt64: String]] = [:]

        init(nodes: [NodeIdentity], seed: UInt64) {
            for n in nodes { replicas[n] = R.ReplicaLog() }
            rng = SplitMix(seed: seed)
        }

        /// Queues the owner's sends; plays its shell for snapshots (pages out of `snapshots`, recovery's pages
        /// into `fetched`, the state a recovery found into `recoveredState`).
        mutating func enqueue(_ actions: [R.Owner.Action], from owner: NodeIdentity, ballot: R.Ballot = .zero) {
            for a in actions {
                switch a {
                case .send(let request, let to):
                    inFlight.append((request, to, owner))
                case .sendSnapshot(let info, let offset, let maxBytes, let to):
                    guard let bytes = snapshots[owner], bytes.count == info.size else { continue }
                    let chunk = Array(bytes[offset..<min(info.size, offset + maxBytes)])
                    inFlight.append((.installSnapshot(stream: "s", ballot: ballot, info: info, offset: offset, chunk: chunk), to, owner))
                case .snapshotPage(let info, let offset, let bytes):
                    if offset == 0 { fetched[owner] = [] }
                    fetched[owner, default: []] += bytes
                    // Complete: the owner's snapshot (catching up may send it to lagging replicas).
                    if fetched[owner]?.count == info.size { snapshots[owner] = fetched[owner] }
                case .ready(let snapshot, let entries):
                    var state = snapshot == nil ? [:] : Net.decodeState(snapshots[owner] ?? [])
                    for e in entries { state[e.index] = String(decoding: e.payload, as: UTF8.self) }
                    recoveredState[owner] = state
                    fetched[owner] = nil
                case .committed, .fenced, .sourceUnusable:
                    break
                }
            }
        }

        /// A test application's snapshot: its state as lines "index:payload".
        static func encodeState(_ state: [UInt64: String]) -> [UInt8] {
            Array(state.keys.sorted().map { "\($0):\(state[$0]!)\n" }.joined().utf8)
        }

        static func decodeState(_ bytes: [UInt8]) -> [UInt64: String] {
            var state: [UInt64: String] = [:]
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, let i = UInt64(parts[0]) { state[i] = String(parts[1]) }
            }
            return state
        }

        /// Delivers every message (in a seeded random order when `shuffle`) to its replica and feeds the
        /// replies to the owners; bounded rounds.
        mutating func run(_ owners: inout [NodeIdentity: R.Owner], shuffle: Bool = false, dropRate: Double = 0,
                          rounds: Int = 200) -> [NodeIdentity: [R.Owner.Action]] {
            var out: [NodeIdentity: [R.Owner.Action]] = [:]
            var round = 0
            while round < rounds {
                round += 1
                if inFlight.isEmpty {
                    // Time passes: heartbeats, retries, the recovery grace.
                    nowNs += 100_000_000
                    var any = false
                    for k in owners.keys.sorted() {
                        let actions = owners[k]!.handle(.tick, nowNs: nowNs)
                        if ProcessInfo.processInfo.environment["REPLICATION_DEBUG"] != nil,
                           actions.contains(where: { if case .send(.fetch, _) = $0 { true } else { false } }) {
                            print("  FETCH decided on tick by \(k)")
                        }
                        out[k, default: []] += actions
                        trace += actions.map { (k, $0) }
                        enqueue(actions, from: k, ballot: owners[k]!.ballot)
                        any = any || !actions.isEmpty
                    }
                    if !any && owners.values.allSatisfy({ $0.nextWakeupNs == nil }) { break }
                    continue
                }
                let i = shuffle ? Int(rng.next() % UInt64(inFlight.count)) : 0
                let m = inFlight.remove(at: i)
                guard owners[m.from] != nil else { continue }
                let input: R.Owner.Input
                // Uid 0: whichever incarnation listens at that address (the last one up, as the transport would).
                let target = m.to.uid != 0 ? m.to
                    : (replicas.keys.filter { $0.address == m.to.address && !down.contains($0) }.sorted().last ?? m.to)
                if down.contains(target) || Double(rng.next() % 1000) / 1000 < dropRate {
                    input = .failed(m.request, to: m.to)
                } else {
                    var log = replicas[target] ?? R.ReplicaLog()
                    let (reply, _) = log.handle(m.request)
                    replicas[target] = log
                    if ProcessInfo.processInfo.environment["REPLICATION_DEBUG"] != nil {
                        let what: String
                        switch m.request {
                        case .prepare(_, let b): what = "prepare \(b.round)"
                        case .fetch(_, let b, let after, _): what = "fetch \(b.round) after \(after)"
                        case .append(_, let b, let prev, _, let es, let c): what = "append \(b.round) prev \(prev) n \(es.count) c \(c)"
                        case .installSnapshot(_, let b, let info, let offset, let chunk): what = "install \(b.round) \(info) at \(offset) +\(chunk.count)"
                        case .fetchSnapshot(_, let b, let index, let offset, _): what = "fetchSnapshot \(b.round) \(index) at \(offset)"
                        case .record(_, let b, let config): what = "record \(b.round) \(config.members)"
                        }
                        print("  MSG \(m.from.address.host) -> \(m.to.address.host): \(what) => \(reply)")
                    }
                    input = .reply(reply, to: m.request, from: m.to)
                }
                if down.contains(m.from) { continue }
                let actions = owners[m.from]!.handle(input, nowNs: nowNs)
                if ProcessInfo.processInfo.environment["REPLICATION_DEBUG"] != nil,
                   actions.contains(where: { if case .send(.fetch, _) = $0 { true } else { false } }) {
                    print("  FETCH decided on input \(input)".prefix(300))
                }
                out[m.from, default: []] += actions
                trace += actions.map { (m.from, $0) }
                enqueue(actions, from: m.from, ballot: owners[m.from]!.ballot)
            }
            return out
        }
    }

    typealias SplitMix = SplitMix64

    let nodes = (1...3).map(node)
    var settings: R.Settings {
        var s = R.Settings()
        s.recoveryGraceMs = 50
        return s
    }

    func start(_ me: NodeIdentity, round: UInt64 = 1, _ net: inout Net, replicas: [NodeIdentity]? = nil)
        -> (NodeIdentity, R.Owner) {
        let (o, actions) = R.Owner.start(stream: "s", me: me, round: round, replicas: replicas ?? nodes, others: [],
                                         settings: settings, nowNs: net.nowNs)
        net.enqueue(actions, from: me)
        return (me, o)
    }

    func ready(_ actions: [R.Owner.Action]?) -> [[UInt8]]? {
        for case .ready(_, let entries) in actions ?? [] { return entries.map(\.payload) }
        return nil
    }

    func propose(_ owners: inout [NodeIdentity: R.Owner], _ who: NodeIdentity, _ text: String, _ net: inout Net) -> UInt64? {
        guard let (index, actions) = owners[who]!.propose(Array(text.utf8), nowNs: net.nowNs) else { return nil }
        net.enqueue(actions, from: who)
        return index
    }

    /// An owner on `me` (round 1) that recovered a fresh stream on `replicas` and committed `payloads`; returns the
    /// owners table for `Net.run`.
    func serving(_ me: NodeIdentity, replicas: [NodeIdentity], committing payloads: [String], _ net: inout Net) -> [NodeIdentity: R.Owner] {
        let (owner, actions) = R.Owner.start(stream: "s", me: me, round: 1, replicas: replicas, others: [], settings: settings, nowNs: net.nowNs)
        net.enqueue(actions, from: me)
        var owners = [me: owner]
        _ = net.run(&owners)
        for p in payloads { _ = propose(&owners, me, p, &net) }
        _ = net.run(&owners)
        return owners
    }

    func payloads(_ p: [[UInt8]]?) -> [String]? { p.map { $0.map { String(decoding: $0, as: UTF8.self) } } }

    func test_aFreshStreamRecoversEmptyAndCommitsOnAWriteQuorum() {
        var net = Net(nodes: nodes, seed: 1)
        let (a, oa) = start(nodes[0], &net)
        var owners = [a: oa]
        let out = net.run(&owners)
        XCTAssertEqual(payloads(ready(out[a])), [])
        XCTAssertEqual(owners[a]!.phase, .serving)
        net.down = [nodes[2]]
        XCTAssertEqual(propose(&owners, a, "one", &net), 2)  // 1 is the barrier
        XCTAssertEqual(propose(&owners, a, "two", &net), 3)
        let more = net.run(&owners)
        XCTAssertTrue(more[a]?.contains(.committed(through: 3)) ?? false, "two of three replicas suffice: \(more[a] ?? [])")
        XCTAssertEqual(net.replicas[nodes[1]]?.lastIndex, 3)
        XCTAssertEqual(net.replicas[nodes[2]]?.lastIndex, 1, "only the barrier, written while it was up")
    }

    func test_nothingIsCommittedWithoutAWriteQuorum() {
        var net = Net(nodes: nodes, seed: 2)
        let (a, oa) = start(nodes[0], &net)
        var owners = [a: oa]
        _ = net.run(&owners)
        net.down = [nodes[1], nodes[2]]
        _ = propose(&owners, a, "lonely", &net)
        let out = net.run(&owners, rounds: 50)
        XCTAssertFalse(out[a]?.contains { if case .committed = $0 { true } else { false } } ?? false)
        XCTAssertEqual(owners[a]!.commitIndex, 1)
    }

    func test_aNewOwnerRecoversEveryCommittedEntryAndFencesTheOldOne() {
        var net = Net(nodes: nodes, seed: 3)
        let (a, oa) = start(nodes[0], &net)
        var owners = [a: oa]
        _ = net.run(&owners)
        for i in 1...5 { _ = propose(&owners, a, "e\(i)", &net) }
        _ = net.run(&owners)
        XCTAssertEqual(owners[a]!.commitIndex, 6)
        // The old owner is paused (still thinks it serves); b takes over, with node a's replica down.
        net.down = [nodes[0]]
        let (b, ob) = start(nodes[1], &net)
        var owners2 = [b: ob]
        let out = net.run(&owners2)
        XCTAssertEqual(payloads(ready(out[b])), ["e1", "e2", "e3", "e4", "e5"])
        // a resumes: its next append is refused by the replicas that promised b's ballot.
        net.down = []
        _ = propose(&owners, a, "stale", &net)
        let stale = net.run(&owners)
        XCTAssertTrue(stale[a]?.contains { if case .fenced = $0 { true } else { false } } ?? false, "\(stale[a] ?? [])")
        XCTAssertFalse(net.replicas.values.contains { $0.entries.contains { $0.payload == Array("stale".utf8) } && $0.lastIndex > 7 })
    }

    func test_anEntryAcknowledgedByTwoSurvivesWhenOneOfThemAndTheOwnerDie() {
        var net = Net(nodes: nodes, seed: 4)
        let (a, oa) = start(nodes[0], &net)
        var owners = [a: oa]
        _ = net.run(&owners)
        net.down = [nodes[2]]
        _ = propose(&owners, a, "acked", &net)
        _ = net.run(&owners)
        XCTAssertEqual(owners[a]!.commitIndex, 2)  // on nodes 0 and 1
        // Node 0 dies; node 2 comes back empty-handed; node 1 holds the entry.
        net.down = [nodes[0]]
        let (c, oc) = start(nodes[2], &net)
        var owners2 = [c: oc]
        let out = net.run(&owners2)
        XCTAssertEqual(payloads(ready(out[c])), ["acked"])
        XCTAssertEqual(net.replicas[nodes[2]]?.entries.map(\.payload).filter { !$0.isEmpty }, [Array("acked".utf8)],
                       "the new owner's own replica caught up")
    }

    func test_anUncommittedDivergentSuffixIsReplacedOnTheLaggingReplica() {
        var net = Net(nodes: nodes, seed: 5)
        let (a, oa) = start(nodes[0], &net)
        var owners = [a: oa]
        _ = net.run(&owners)
        // a writes "lost" only to its own replica (the others are cut off), then dies.
        net.down = [nodes[1], nodes[2]]
        _ = propose(&owners, a, "lost", &net)
        _ = net.run(&owners, rounds: 5)
        XCTAssertEqual(net.replicas[nodes[0]]?.lastIndex, 2)
        net.down = [nodes[0]]
        let (b, ob) = start(nodes[1], &net)
        var owners2 = [b: ob]
        _ = net.run(&owners2)
        _ = propose(&owners2, b, "kept", &net)
        net.down = []
        _ = net.run(&owners2)
        // Node 0 comes back: the heartbeat replaces its uncommitted "lost" with b's log.
        let zero = net.replicas[nodes[0]]!.entries.map(\.payload).filter { !$0.isEmpty }
        XCTAssertEqual(zero, [Array("kept".utf8)])
        XCTAssertEqual(net.replicas[nodes[0]]?.entries, net.replicas[nodes[1]]?.entries)
    }

    func test_aPrepareBelowAPromiseIsRetriedAboveIt() {
        var net = Net(nodes: nodes, seed: 6)
        let (a, oa) = start(nodes[0], round: 7, &net)
        var owners = [a: oa]
        _ = net.run(&owners)
        net.down = [nodes[0]]
        let (b, ob) = start(nodes[1], round: 1, &net)
        var owners2 = [b: ob]
        let out = net.run(&owners2)
        XCTAssertNotNil(ready(out[b]))
        XCTAssertEqual(owners2[b]!.ballot.round, 8)
    }

    func test_aReplicaThatLostItsDataCatchesUpFromHeartbeats() {
        var net = Net(nodes: nodes, seed: 7)
        let (a, oa) = start(nodes[0], &net)
        var owners = [a: oa]
        _ = net.run(&owners)
        for i in 1...20 { _ = propose(&owners, a, "e\(i)", &net) }
        _ = net.run(&owners)
        net.replicas[nodes[2]] = R.ReplicaLog()  // its disk was replaced
        _ = net.run(&owners, rounds: 50)
        XCTAssertEqual(net.replicas[nodes[2]]?.lastIndex, 21)
        XCTAssertEqual(net.replicas[nodes[2]]?.entries, net.replicas[nodes[0]]?.entries)
    }

    func test_pageSizesBoundFetchesAndAppends() {
        var s = settings
        s.maxBatchBytes = 10
        var net = Net(nodes: nodes, seed: 8)
        var (o, actions) = R.Owner.start(stream: "s", me: nodes[0], round: 1, replicas: nodes, others: [], settings: s, nowNs: 0)
        net.enqueue(actions, from: nodes[0])
        var owners = [nodes[0]: o]
        _ = net.run(&owners)
        for _ in 1...10 { _ = propose(&owners, nodes[0], "123456", &net) }
        _ = net.run(&owners)
        net.down = [nodes[0]]
        (o, actions) = R.Owner.start(stream: "s", me: nodes[1], round: 1, replicas: nodes, others: [], settings: s, nowNs: net.nowNs)
        net.enqueue(actions, from: nodes[1])
        var owners2 = [nodes[1]: o]
        let out = net.run(&owners2, rounds: 500)
        XCTAssertEqual(ready(out[nodes[1]])?.count, 10)
    }

    /// Seeded chaos: a new owner starts at a random moment while the previous ones are still running and
    /// proposing (paused owners that resume), messages are dropped and reordered, replicas go down and come
    /// back. Invariants: no two owners see different entries committed at one index, and a final recovery
    /// with every replica up holds every entry any owner saw committed, at its index.
    func test_seededChaosNeverLosesACommittedEntry() {
        if let given = UInt64(ProcessInfo.processInfo.environment["REPLICATION_SEED"] ?? "") { return chaos(seed: given) }
        let runs = Int(ProcessInfo.processInfo.environment["REPLICATION_RUNS"] ?? "") ?? 8
        var first = SplitMix(seed: UInt64.random(in: 1...UInt64.max))
        for _ in 0..<runs { chaos(seed: first.next()) }
    }

    func chaos(seed: UInt64) {
        print("ReplicationTests chaos seed \(seed) (rerun: REPLICATION_SEED=\(seed))")
        var rng = SplitMix(seed: seed)
        let five = (1...5).map(Self.node)
        var net = Net(nodes: five, seed: seed)
        var owners: [NodeIdentity: R.Owner] = [:]
        var proposals: [NodeIdentity: [UInt64: String]] = [:]
        var committed: [UInt64: String] = [:]
        var counter = 0
        var readyCount = 0
        var fencedCount = 0
        var snapshotRecoveries = 0
        var compactions = 0
        /// What each owner's recovery found (its application's state before its own proposals).
        var recoveredBy: [NodeIdentity: [UInt64: String]] = [:]
        func observe(_ out: [NodeIdentity: [R.Owner.Action]]) {
            let ordered = net.trace
            net.trace = []
            for (who, a) in ordered {
                do {
                    switch a {
                    case .committed(let through):
                        if ProcessInfo.processInfo.environment["REPLICATION_DEBUG"] != nil {
                            print("COMMIT \(who) ballot \(owners[who]?.ballot.round ?? 0) through \(through)")
                        }
                        for (i, text) in proposals[who] ?? [:] where i <= through {
                            if let known = committed[i] { XCTAssertEqual(known, text, "seed \(seed): index \(i) committed twice") }
                            committed[i] = text
                        }
                    case .ready(let snapshot, let entries):
                        readyCount += 1
                        if snapshot != nil { snapshotRecoveries += 1 }
                        // The application's state: the snapshot's (decoded by the harness's shell) and the entries.
                        let state = net.recoveredState[who] ?? [:]
                        if ProcessInfo.processInfo.environment["REPLICATION_DEBUG"] != nil {
                            print("READY \(who) ballot \(owners[who]?.ballot.description ?? "?") \(snapshot.map { "\($0)" } ?? "") entries \(entries.map { "\($0.index):\(String(decoding: $0.payload, as: UTF8.self))@\($0.ballot.round)" })")
                            for n in five { print("  replica \(n.address.host) promised \(net.replicas[n]!.promised.round) snapshot \(net.replicas[n]!.snapshotIndex) \(net.replicas[n]!.entries.map { "\($0.index):\(String(decoding: $0.payload, as: UTF8.self))@\($0.ballot.round)" })") }
                        }
                        for (i, text) in state {
                            if let known = committed[i] { XCTAssertEqual(known, text, "seed \(seed): recovered index \(i)") }
                        }
                        for (i, text) in committed {
                            XCTAssertEqual(state[i], text, "seed \(seed): a new owner lost committed index \(i)")
                        }
                        recoveredBy[who] = state
                    case .fenced:
                        fencedCount += 1
                    case .send, .sendSnapshot, .snapshotPage, .sourceUnusable:
                        break
                    }
                }
            }
        }
        // A process never reuses a ballot for a stream (`ReplicatedStream` starts above the last round it used):
        // two owner instances with one ballot could write different entries under the same (index, ballot).
        var lastRound: [NodeIdentity: UInt64] = [:]
        // Each owner sees its own replica set: 3 of the 5, drawn at random (membership views differ and change),
        // and asks the other two at recovery, as the shell does.
        func view() -> (replicas: [NodeIdentity], others: [NodeIdentity]) {
            var order = five
            for i in stride(from: 4, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            return (Array(order.prefix(3)), Array(order.dropFirst(3)))
        }
        for term in 0..<16 {
            let who = five[Int(rng.next() % 5)]
            net.down = Set(five.filter { $0 != who && rng.next() % 4 == 0 }.prefix(2))
            if let old = owners[who] { lastRound[who] = max(lastRound[who] ?? 0, old.ballot.round) }
            let v = view()
            let (o, actions) = R.Owner.start(stream: "s", me: who, round: max(UInt64(term + 1), (lastRound[who] ?? 0) + 1),
                                             replicas: v.replicas, others: v.others, settings: settings, nowNs: net.nowNs)
            owners[who] = o  // replaces that node's earlier owner (same process, new stream instance)
            proposals[who] = [:]
            recoveredBy[who] = nil
            net.snapshots[who] = nil
            net.enqueue(actions, from: who)
            observe(net.run(&owners, shuffle: true, dropRate: 0.1, rounds: Int(rng.next() % 400) + 50))
            for _ in 0..<Int(rng.next() % 8) {
                counter += 1
                let proposer = owners.keys.sorted()[Int(rng.next() % UInt64(owners.count))]
                if let i = propose(&owners, proposer, "p\(counter)", &net) { proposals[proposer]![i] = "p\(counter)" }
                net.trace = []
            }
            // An owner's application compacts the stream (Raft §7): its state through its commit index (what it
            // recovered and its own proposals committed since) becomes the snapshot it hands its replicas.
            if rng.next() % 2 == 0, let compacting = owners.keys.sorted().randomElement(using: &rng),
               owners[compacting]!.phase == .serving {
                let through = owners[compacting]!.commitIndex
                var state = (recoveredBy[compacting] ?? [:]).filter { $0.key <= through }
                for (i, text) in proposals[compacting] ?? [:] where i <= through { state[i] = text }
                let bytes = Net.encodeState(state)
                if let (_, actions) = owners[compacting]!.compact(through: through, size: bytes.count,
                                                                   checksum: CRC32C.checksum(bytes), nowNs: net.nowNs) {
                    compactions += 1
                    net.snapshots[compacting] = bytes
                    net.enqueue(actions, from: compacting, ballot: owners[compacting]!.ballot)
                }
            }
            if rng.next() % 3 == 0 { net.down.insert(five[Int(rng.next() % 5)]) }
            // The replica set of a running owner changes (a member left its view, another joined).
            if rng.next() % 2 == 0, let changing = owners.keys.sorted().randomElement(using: &rng) {
                let v = view()
                let actions = owners[changing]!.handle(.replicasChanged(replicas: v.replicas, others: v.others), nowNs: net.nowNs)
                net.enqueue(actions, from: changing, ballot: owners[changing]!.ballot)
                net.trace += actions.map { (changing, $0) }
            }
            observe(net.run(&owners, shuffle: true, dropRate: 0.1, rounds: Int(rng.next() % 400) + 50))
        }
        // Every replica up, a final owner recovers.
        net.down = []
        net.inFlight = []
        owners = [:]
        let last = five[0]
        let v = view()
        let (o, actions) = R.Owner.start(stream: "s", me: last, round: 100, replicas: v.replicas, others: v.others,
                                         settings: settings, nowNs: net.nowNs)
        owners[last] = o
        proposals[last] = [:]
        net.enqueue(actions, from: last)
        let out = net.run(&owners, rounds: 5_000)
        observe(out)
        XCTAssertEqual(owners[last]?.phase, .serving, "seed \(seed)")
        print("ReplicationTests chaos: \(readyCount) recoveries (\(snapshotRecoveries) from a snapshot), \(compactions) compactions, \(fencedCount) fenced owners, \(committed.count) entries committed")
        XCTAssertGreaterThan(committed.count, 0, "seed \(seed): the chaos must commit something")
    }
    /// Found by the chaos test: when the fetch from the most up-to-date replica failed, the owner fell back to
    /// a replica with a shorter log and lost a committed entry.
    func test_aFailedFetchNeverFallsBackToALessUpToDateReplica() {
        let five = (1...5).map(Self.node)
        var (o, _) = R.Owner.start(stream: "s", me: five[3], round: 5, replicas: five, others: [], settings: settings, nowNs: 0)
        let b3 = R.Ballot(round: 3, node: five[1]), b4 = R.Ballot(round: 4, node: five[4])
        let req = R.Request.prepare(stream: "s", ballot: o.ballot)
        _ = o.handle(.reply(.promised(lastIndex: 11, lastBallot: b3, commitIndex: 11), to: req, from: five[0]), nowNs: 1)
        _ = o.handle(.reply(.promised(lastIndex: 11, lastBallot: b3, commitIndex: 11), to: req, from: five[1]), nowNs: 2)
        _ = o.handle(.reply(.promised(lastIndex: 13, lastBallot: b4, commitIndex: 13), to: req, from: five[2]), nowNs: 3)
        _ = o.handle(.reply(.promised(lastIndex: 13, lastBallot: b4, commitIndex: 13), to: req, from: five[3]), nowNs: 4)
        let fetch = o.handle(.tick, nowNs: 100_000_000)
        guard case .send(let first, let to)? = fetch.first, case .fetch = first else { return XCTFail("\(fetch)") }
        XCTAssertTrue(to == five[2] || to == five[3])
        let next = o.handle(.failed(first, to: to), nowNs: 100_000_001)
        guard case .sourceUnusable(to, _)? = next.first, case .send(let second, let to2)? = next.last else { return XCTFail("\(next)") }
        XCTAssertEqual(to2, to == five[2] ? five[3] : five[2], "the other replica with the same log end")
        // Both fail: the owner neither reads the shorter logs nor spins; a request timeout later it prepares again.
        let none = o.handle(.failed(second, to: to2), nowNs: 100_000_002)
        XCTAssertFalse(none.contains { if case .send = $0 { true } else { false } }, "\(none)")
        XCTAssertEqual(o.phase, .fetching)
        XCTAssertEqual(o.nextWakeupNs, 100_000_002 + UInt64(settings.requestTimeoutMs) * 1_000_000)
        XCTAssertTrue(o.handle(.tick, nowNs: 100_000_003).isEmpty)
        let again = o.handle(.tick, nowNs: 100_000_002 + UInt64(settings.requestTimeoutMs) * 1_000_000)
        XCTAssertEqual(o.phase, .preparing)
        XCTAssertTrue(again.allSatisfy { if case .send(.prepare, _) = $0 { true } else { false } } && again.count == 5, "\(again)")
    }

    /// Breaker findings: a member (buggy, or holding the secret) sent a prepare with round UInt64.max (every node
    /// trapped on `round + 1`, durably, so again at each restart) and appends with gaps or index 0 (a replica
    /// trapped in `removeSubrange`, or acknowledged and silently dropped a non-contiguous write).
    func test_malformedRequestsAreRefusedAndChangeNothing() {
        var log = R.ReplicaLog()
        let b = R.Ballot(round: 1, node: nodes[0])
        let huge = R.Ballot(round: .max, node: nodes[1])
        func e(_ i: UInt64, _ ballot: R.Ballot = b) -> R.Entry { R.Entry(index: i, ballot: ballot, payload: [1]) }
        let cases: [R.Request] = [
            .prepare(stream: "s", ballot: huge),
            .append(stream: "s", ballot: b, prevIndex: 0, prevBallot: .zero, entries: [e(5)], commitIndex: 0),
            .append(stream: "s", ballot: b, prevIndex: 0, prevBallot: .zero, entries: [e(0)], commitIndex: 0),
            .append(stream: "s", ballot: b, prevIndex: 0, prevBallot: .zero, entries: [e(1), e(3)], commitIndex: 0),
            .append(stream: "s", ballot: b, prevIndex: 0, prevBallot: .zero, entries: [e(1, huge)], commitIndex: 0),
            .append(stream: "s", ballot: b, prevIndex: .max, prevBallot: .zero, entries: [e(0)], commitIndex: 0),
            .append(stream: "s", ballot: b, prevIndex: 0, prevBallot: huge, entries: [], commitIndex: 0),
        ]
        for request in cases {
            let (reply, changes) = log.handle(request)
            guard case .refused = reply else { return XCTFail("\(request) → \(reply)") }
            XCTAssertEqual(changes, [])
            XCTAssertEqual(log, R.ReplicaLog())
        }
        // A well-formed one still works afterwards.
        let (ok, _) = log.handle(.append(stream: "s", ballot: b, prevIndex: 0, prevBallot: .zero, entries: [e(1), e(2)], commitIndex: 0))
        XCTAssertEqual(ok, .accepted(matchIndex: 2))
    }

    func test_anOwnerRejectedAtTheHighestRoundIsFencedInsteadOfOverflowing() {
        var (o, _) = R.Owner.start(stream: "s", me: nodes[0], round: .max, replicas: nodes, others: [], settings: settings, nowNs: 0)
        XCTAssertEqual(o.ballot.round, R.Ballot.maxRound)
        let top = R.Ballot(round: R.Ballot.maxRound, node: nodes[2])
        let actions = o.handle(.reply(.rejected(promised: top), to: .prepare(stream: "s", ballot: o.ballot), from: nodes[1]), nowNs: 1)
        XCTAssertEqual(actions, [.fenced(by: top)])
    }

    /// Breaker finding: after every node was killed, the node that had missed the last writes restarted alone,
    /// formed a one-node cluster (replica set of one, write quorum one), took every office over with its stale
    /// log and overwrote the others' longer logs when they came back. The stream records its replica set; a
    /// recovering owner needs a read quorum of the latest one any replica reports.
    func test_aNodeThatRestartsAloneDoesNotTakeOverWithItsStaleLog() {
        var net = Net(nodes: nodes, seed: 9)
        let (a, oa) = start(nodes[0], &net)
        var owners = [a: oa]
        _ = net.run(&owners)
        // Node 2 misses the later writes.
        net.down = [nodes[2]]
        for i in 1...5 { _ = propose(&owners, a, "late\(i)", &net) }
        _ = net.run(&owners)
        XCTAssertEqual(owners[a]!.commitIndex, 6)
        // Everyone dies; node 2 restarts first and alone: its own membership has only itself.
        net.down = [nodes[0], nodes[1]]
        let me = Self.node(3)
        let restarted = NodeIdentity(address: me.address, uid: 999)
        net.replicas[restarted] = net.replicas[nodes[2]]
        var (lone, actions) = R.Owner.start(stream: "s", me: restarted, round: 1, replicas: [restarted], others: [],
                                            settings: settings, nowNs: net.nowNs)
        net.enqueue(actions, from: restarted)
        var owners2 = [restarted: lone]
        let out = net.run(&owners2, rounds: 300)
        XCTAssertNil(ready(out[restarted]), "alone, it must not serve: it holds 1 of the 3 recorded replicas")
        XCTAssertEqual(owners2[restarted]!.phase, .preparing)
        // Node 0 comes back (new uid, same address): with 2 of the 3 recorded replicas it recovers the full log.
        let back = NodeIdentity(address: nodes[0].address, uid: 777)
        net.replicas[back] = net.replicas[nodes[0]]
        net.down = []
        lone = owners2[restarted]!
        actions = lone.handle(.replicasChanged(replicas: [restarted, back], others: []), nowNs: net.nowNs)
        owners2[restarted] = lone
        net.enqueue(actions, from: restarted)
        let later = net.run(&owners2, rounds: 500)
        XCTAssertEqual(payloads(ready(later[restarted])), (1...5).map { "late\($0)" })
    }

    /// An owner that waits in `preparing` (here: alone, holding 1 of the 3 recorded replicas) never asks to be woken
    /// in the past: a deadline of an answered prepare, or a grace period whose quorum was lost, made the shell
    /// fire its timer at once, forever (a node at 94 % CPU in a chaos run).
    func test_aWaitingOwnerNeverAsksToBeWokenInThePast() {
        var net = Net(nodes: nodes, seed: 4)
        let (a, oa) = start(nodes[0], &net)
        var owners = [a: oa]
        _ = net.run(&owners)
        _ = propose(&owners, a, "x", &net)
        _ = net.run(&owners)
        let restarted = NodeIdentity(address: nodes[2].address, uid: 999)
        net.replicas[restarted] = net.replicas[nodes[2]]
        net.down = [nodes[0], nodes[1]]
        var (lone, actions) = R.Owner.start(stream: "s", me: restarted, round: 1, replicas: [restarted], others: [],
                                            settings: settings, nowNs: net.nowNs)
        // Its own promise arrives (naming the recorded set of 3): it must wait for 2 of them.
        for case .send(let request, let to) in actions {
            var log = net.replicas[to]!
            let (reply, _) = log.handle(request)
            net.replicas[to] = log
            actions = lone.handle(.reply(reply, to: request, from: to), nowNs: net.nowNs)
        }
        XCTAssertEqual(lone.phase, .preparing)
        // Bounded: 50 wake-ups of 1 s each, as the shell would do them.
        var now = net.nowNs
        for _ in 0..<50 {
            now += 1_000_000_000
            _ = lone.handle(.tick, nowNs: now)
            if let next = lone.nextWakeupNs { XCTAssertGreaterThan(next, now, "asks to be woken in the past: a busy loop") }
        }
        XCTAssertEqual(lone.phase, .preparing)
    }

    // MARK: - Log compaction (Raft §7)

    /// The owner's application snapshots its state through its commit index and hands it to the stream.
    func compact(_ owners: inout [NodeIdentity: R.Owner], _ who: NodeIdentity, state: [UInt64: String], _ net: inout Net) -> R.SnapshotInfo? {
        let through = owners[who]!.commitIndex
        let bytes = Net.encodeState(state.filter { $0.key <= through })
        guard let (info, actions) = owners[who]!.compact(through: through, size: bytes.count, checksum: CRC32C.checksum(bytes),
                                                         nowNs: net.nowNs) else { return nil }
        net.snapshots[who] = bytes
        net.enqueue(actions, from: who, ballot: owners[who]!.ballot)
        return info
    }

    func test_compactionDropsThePrefixEverywhereAndANewOwnerRecoversTheSnapshotThenTheSuffixInPages() {
        var s = settings
        s.maxBatchBytes = 16  // snapshot pages of 16 bytes
        var net = Net(nodes: nodes, seed: 21)
        let (o, actions) = R.Owner.start(stream: "s", me: nodes[0], round: 1, replicas: nodes, others: [], settings: s, nowNs: net.nowNs)
        net.enqueue(actions, from: nodes[0])
        var owners = [nodes[0]: o]
        _ = net.run(&owners)
        var state: [UInt64: String] = [:]
        for i in 1...10 { if let at = propose(&owners, nodes[0], "e\(i)", &net) { state[at] = "e\(i)" } }
        _ = net.run(&owners)
        XCTAssertEqual(owners[nodes[0]]!.commitIndex, 11)
        XCTAssertEqual(owners[nodes[0]]!.heldEntries, 11)
        let info = compact(&owners, nodes[0], state: state, &net)
        XCTAssertEqual(info?.index, 11)
        XCTAssertEqual(owners[nodes[0]]!.heldEntries, 0, "the owner keeps no entry the snapshot covers")
        XCTAssertNil(compact(&owners, nodes[0], state: state, &net), "nothing new to cover")
        _ = net.run(&owners, rounds: 1_000)
        for n in nodes {
            XCTAssertEqual(net.replicas[n]?.snapshot, info, "\(n) installed the snapshot")
            XCTAssertEqual(net.replicas[n]?.snapshotBytes, net.snapshots[nodes[0]])
            XCTAssertEqual(net.replicas[n]?.entries, [], "\(n) dropped the entries it covers")
            XCTAssertEqual(net.replicas[n]?.lastIndex, 11)
        }
        for i in 11...13 { if let at = propose(&owners, nodes[0], "f\(i)", &net) { state[at] = "f\(i)" } }
        _ = net.run(&owners)
        XCTAssertEqual(owners[nodes[0]]!.commitIndex, 14)
        XCTAssertEqual(owners[nodes[0]]!.heldEntries, 3)
        // A new owner (the old one's node down): the snapshot in pages, then the suffix.
        net.down = [nodes[0]]
        let (b, actionsB) = R.Owner.start(stream: "s", me: nodes[1], round: 2, replicas: nodes, others: [], settings: s, nowNs: net.nowNs)
        net.enqueue(actionsB, from: nodes[1])
        var owners2 = [nodes[1]: b]
        let out = net.run(&owners2, rounds: 1_000)
        let pages = (out[nodes[1]] ?? []).filter { if case .snapshotPage = $0 { true } else { false } }.count
        XCTAssertGreaterThan(pages, 2, "the snapshot came in pages of 16 bytes")
        XCTAssertEqual(ready(out[nodes[1]]).map(payloads), ["f11", "f12", "f13"])
        XCTAssertEqual(net.recoveredState[nodes[1]], state, "snapshot + suffix = every committed payload at its index")
        XCTAssertEqual(owners2[nodes[1]]!.phase, .serving)
        XCTAssertEqual(owners2[nodes[1]]!.heldEntries, 4, "the suffix and its barrier")
    }

    func test_aReplicaThatLostItsDataIsSentTheSnapshotThenTheSuffix() {
        var s = settings
        s.maxBatchBytes = 20
        var net = Net(nodes: nodes, seed: 22)
        let (o, actions) = R.Owner.start(stream: "s", me: nodes[0], round: 1, replicas: nodes, others: [], settings: s, nowNs: net.nowNs)
        net.enqueue(actions, from: nodes[0])
        var owners = [nodes[0]: o]
        _ = net.run(&owners)
        var state: [UInt64: String] = [:]
        for i in 1...20 { if let at = propose(&owners, nodes[0], "e\(i)", &net) { state[at] = "e\(i)" } }
        _ = net.run(&owners)
        let info = compact(&owners, nodes[0], state: state, &net)
        _ = net.run(&owners, rounds: 1_000)
        for i in 21...25 { _ = propose(&owners, nodes[0], "g\(i)", &net) }
        _ = net.run(&owners)
        net.replicas[nodes[2]] = R.ReplicaLog()  // its disk was replaced
        _ = net.run(&owners, rounds: 1_000)
        XCTAssertEqual(net.replicas[nodes[2]]?.snapshot, info)
        XCTAssertEqual(net.replicas[nodes[2]]?.lastIndex, owners[nodes[0]]!.lastIndex)
        XCTAssertEqual(net.replicas[nodes[2]]?.entries, net.replicas[nodes[0]]?.entries)
        XCTAssertEqual(net.replicas[nodes[2]]?.snapshotBytes, net.snapshots[nodes[0]])
    }

    func test_aSnapshotKeepsTheMatchingSuffixAndDropsAConflictingLog() {
        let b1 = R.Ballot(round: 1, node: nodes[0]), b2 = R.Ballot(round: 2, node: nodes[1])
        func log(_ ballots: [R.Ballot]) -> R.ReplicaLog {
            var l = R.ReplicaLog()
            let entries = ballots.enumerated().map { R.Entry(index: UInt64($0.offset + 1), ballot: $0.element, payload: [UInt8($0.offset + 1)]) }
            _ = l.handle(.append(stream: "s", ballot: ballots.last!, prevIndex: 0, prevBallot: .zero, entries: entries, commitIndex: 0))
            return l
        }
        let bytes: [UInt8] = Array("state".utf8)
        let info = R.SnapshotInfo(index: 3, ballot: b1, config: nil, size: bytes.count, checksum: CRC32C.checksum(bytes))
        var matching = log([b1, b1, b1, b1, b2])
        var (reply, changes) = matching.handle(.installSnapshot(stream: "s", ballot: b2, info: info, offset: 0, chunk: bytes))
        XCTAssertEqual(reply, .snapshotReceived(received: 5, installed: true))
        XCTAssertEqual(changes.last, .snapshotInstalled(info))
        XCTAssertEqual(matching.entries.map(\.index), [4, 5], "entries after a matching index are kept")
        XCTAssertEqual(matching.lastIndex, 5)
        XCTAssertEqual(matching.commitIndex, 3)
        var conflicting = log([b1, b2, b2, b2])
        (reply, _) = conflicting.handle(.installSnapshot(stream: "s", ballot: b2, info: info, offset: 0, chunk: bytes))
        XCTAssertEqual(reply, .snapshotReceived(received: 5, installed: true))
        XCTAssertEqual(conflicting.entries, [], "a log that disagrees at the snapshot's index is dropped")
        XCTAssertEqual(conflicting.lastIndex, 3)
        // A fetch below the snapshot names it; the pages read back the bytes.
        (reply, _) = conflicting.handle(.fetch(stream: "s", ballot: b2, after: 0, maxBytes: 100))
        XCTAssertEqual(reply, .compacted(info))
        (reply, _) = conflicting.handle(.fetchSnapshot(stream: "s", ballot: b2, index: 3, offset: 2, maxBytes: 2))
        XCTAssertEqual(reply, .snapshotPage(info: info, offset: 2, bytes: Array("at".utf8)))
        // An append that starts inside the snapshot is matched from it.
        (reply, _) = conflicting.handle(.append(stream: "s", ballot: b2, prevIndex: 1, prevBallot: b1,
                                                entries: (2...4).map { R.Entry(index: UInt64($0), ballot: b2, payload: [9]) }, commitIndex: 4))
        XCTAssertEqual(reply, .accepted(matchIndex: 4))
        XCTAssertEqual(conflicting.entries.map(\.index), [4])
    }

    func test_snapshotPagesOutOfOrderOrDamagedInstallNothing() {
        let b = R.Ballot(round: 1, node: nodes[0])
        let bytes = Array("0123456789".utf8)
        let info = R.SnapshotInfo(index: 2, ballot: b, config: nil, size: 10, checksum: CRC32C.checksum(bytes))
        var l = R.ReplicaLog()
        var (reply, _) = l.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: 4, chunk: Array(bytes[4..<8])))
        XCTAssertEqual(reply, .snapshotReceived(received: 0, installed: false), "a page that does not continue: start at 0")
        (reply, _) = l.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: 0, chunk: Array(bytes[0..<4])))
        XCTAssertEqual(reply, .snapshotReceived(received: 4, installed: false))
        (reply, _) = l.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: 4, chunk: Array("XXXXXX".utf8)))
        guard case .refused = reply else { return XCTFail("a damaged snapshot must be refused: \(reply)") }
        XCTAssertNil(l.snapshot)
        XCTAssertNil(l.pending)
        (reply, _) = l.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: 0, chunk: Array(bytes[0..<11 - 1])))
        XCTAssertEqual(reply, .snapshotReceived(received: 10, installed: true))
        var tooBig = info
        tooBig.size = 1 << 40
        var small = R.ReplicaLog(maxSnapshotBytes: 1 << 20)
        guard case .refused = small.handle(.installSnapshot(stream: "s", ballot: b, info: tooBig, offset: 0, chunk: [1])).0 else {
            return XCTFail("a snapshot above the limit must be refused")
        }
        // Persisted changes replay to the same log (the bytes are the storage's, durable before the change).
        var fresh = R.ReplicaLog()
        var changes: [R.ReplicaLog.Change] = []
        for offset in stride(from: 0, to: 10, by: 3) {
            changes += fresh.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: offset, chunk: Array(bytes[offset..<min(10, offset + 3)]))).1
        }
        XCTAssertEqual(changes, [.promise(b), .snapshotInstalled(info)], "pages are the storage's; only the promise and the install are journalled")
        var replayed = R.ReplicaLog(storage: fresh.storage)
        for c in changes { XCTAssertTrue(replayed.restore(c), "\(c)") }
        XCTAssertEqual(replayed, fresh)
        XCTAssertEqual(replayed.snapshotBytes, bytes)
    }

    /// Snapshot bytes that went bad under a replica: `lost` (the file is gone: reads throw) or `flipped` (one
    /// byte differs from what was installed).
    struct DamagedStorage: R.SnapshotStorage {
        var inner: R.MemorySnapshotStorage
        var lost = false
        var flipped = false
        func read(_ info: R.SnapshotInfo, offset: Int, count: Int) throws -> [UInt8] {
            if lost { throw R.SnapshotStorageError("no file") }
            var bytes = try inner.read(info, offset: offset, count: count)
            if flipped, offset == 0, !bytes.isEmpty { bytes[0] ^= 0x20 }
            return bytes
        }
        mutating func writePending(_ info: R.SnapshotInfo, offset: Int, bytes: [UInt8]) throws {
            try inner.writePending(info, offset: offset, bytes: bytes)
        }
        mutating func install(_ info: R.SnapshotInfo) throws {
            try inner.install(info)
            lost = false
            flipped = false
        }
        mutating func dropPending() { inner.dropPending() }
        mutating func prune(keeping info: R.SnapshotInfo?) { inner.prune(keeping: info) }
    }

    /// Three replicas holding a compacted stream (snapshot through 11 in pages of 16 bytes, then 3 entries), its
    /// owner nodes[0] gone; returns the network and the committed state.
    func compactedStream(seed: UInt64) -> (Net, [UInt64: String], R.Settings, [NodeIdentity: R.Owner]) {
        var s = settings
        s.maxBatchBytes = 16
        var net = Net(nodes: nodes, seed: seed)
        let (o, actions) = R.Owner.start(stream: "s", me: nodes[0], round: 1, replicas: nodes, others: [], settings: s, nowNs: net.nowNs)
        net.enqueue(actions, from: nodes[0])
        var owners = [nodes[0]: o]
        _ = net.run(&owners)
        var state: [UInt64: String] = [:]
        for i in 1...10 { if let at = propose(&owners, nodes[0], "e\(i)", &net) { state[at] = "e\(i)" } }
        _ = net.run(&owners)
        XCTAssertNotNil(compact(&owners, nodes[0], state: state, &net))
        _ = net.run(&owners, rounds: 1_000)
        for i in 11...13 { if let at = propose(&owners, nodes[0], "f\(i)", &net) { state[at] = "f\(i)" } }
        _ = net.run(&owners, rounds: 1_000)
        XCTAssertEqual(owners[nodes[0]]!.commitIndex, 14)
        for n in nodes { XCTAssertEqual(net.replicas[n]?.snapshot?.index, 11, "\(n) installed the snapshot") }
        return (net, state, s, owners)
    }

    func damage(_ net: inout Net, _ node: NodeIdentity, lost: Bool = false, flipped: Bool = false) {
        var log = net.replicas[node]!
        let inner = log.storage as! R.MemorySnapshotStorage
        log.storage = DamagedStorage(inner: inner, lost: lost, flipped: flipped)
        net.replicas[node] = log
    }

    /// The breaker's data loss: the snapshot's bytes lost on two of three replicas, the third (which holds it
    /// whole) down. A new owner must not serve the shorter state those two could give: it stays unavailable,
    /// says why, and once the third is back it recovers every committed entry and repairs the two.
    func test_snapshotsLostOnAMajorityMakeTheStreamWaitForAWholeCopyNotServeAShorterOne() {
        var (net, state, s, _) = compactedStream(seed: 31)
        damage(&net, nodes[0], lost: true)
        damage(&net, nodes[1], lost: true)
        net.down = [nodes[2]]
        let (b, actions) = R.Owner.start(stream: "s", me: nodes[1], round: 2, replicas: nodes, others: [], settings: s, nowNs: net.nowNs)
        net.enqueue(actions, from: nodes[1])
        var owners = [nodes[1]: b]
        var out = net.run(&owners, rounds: 2_000)
        XCTAssertNil(ready(out[nodes[1]]), "recovered with a log shorter than the committed one")
        XCTAssertNotEqual(owners[nodes[1]]!.phase, .serving)
        for n in nodes.prefix(2) {
            XCTAssertNotNil(net.replicas[n]?.snapshotDamage, "\(n) knows its copy is damaged")
            XCTAssertEqual(net.replicas[n]?.lastIndex, 14, "\(n) keeps its log position")
        }
        // It alternates between preparing and reading: step to where it reads (bounded), then it names why it waits.
        for _ in 0..<2_000 where !(owners[nodes[1]]!.waitingFor ?? "").contains("could not read") {
            _ = net.run(&owners, rounds: 1)
        }
        let said = owners[nodes[1]]!.waitingFor ?? ""
        XCTAssertTrue(said.contains("could not read"), said)
        let unusable = (out[nodes[1]] ?? []).filter { if case .sourceUnusable = $0 { true } else { false } }
        XCTAssertFalse(unusable.isEmpty, "the shell is told which replicas could not be read")
        // Bounded: the owner only asks again after a request timeout, never in a busy loop.
        if let next = owners[nodes[1]]!.nextWakeupNs { XCTAssertGreaterThan(next, net.nowNs) }
        // The replica with the whole copy comes back: everything committed is recovered, and the damaged copies
        // are installed again.
        net.down = []
        out = net.run(&owners, rounds: 5_000)
        XCTAssertEqual(owners[nodes[1]]!.phase, .serving)
        XCTAssertEqual(net.recoveredState[nodes[1]], state, "every committed entry, none lost")
        for n in nodes {
            XCTAssertNil(net.replicas[n]?.snapshotDamage, "\(n) repaired")
            XCTAssertEqual(net.replicas[n]?.snapshotBytes, net.snapshots[nodes[1]], "\(n) holds the snapshot whole again")
            XCTAssertEqual(net.replicas[n]?.lastIndex, owners[nodes[1]]!.lastIndex)
        }
        // And appends are acknowledged by all three again.
        let at = propose(&owners, nodes[1], "after", &net)
        _ = net.run(&owners, rounds: 1_000)
        XCTAssertEqual(owners[nodes[1]]!.commitIndex, at)
        for n in nodes { XCTAssertEqual(net.replicas[n]?.lastIndex, at) }
    }

    /// One flipped byte in one replica's snapshot: the replica finds it when it serves the last page (CRC-32C),
    /// the owner reads the snapshot from another replica — from its start — and then installs it on the damaged one.
    func test_aFlippedByteInOneReplicasSnapshotIsReadFromAnotherAndRepaired() {
        for victim in nodes.prefix(2) {
            var (net, state, s, _) = compactedStream(seed: 32)
            damage(&net, victim, flipped: true)
            // The victim is the one the new owner reads first (highest key among equals) or not.
            let (b, actions) = R.Owner.start(stream: "s", me: nodes[1], round: 2, replicas: nodes, others: [], settings: s, nowNs: net.nowNs)
            net.enqueue(actions, from: nodes[1])
            var owners = [nodes[1]: b]
            let out = net.run(&owners, rounds: 5_000)
            XCTAssertEqual(owners[nodes[1]]!.phase, .serving, "victim \(victim)")
            XCTAssertEqual(net.recoveredState[nodes[1]], state, "victim \(victim): the state whole")
            XCTAssertEqual(net.fetched[nodes[1]] ?? net.snapshots[nodes[1]], net.snapshots[nodes[1]])
            let read = (out[nodes[1]] ?? []).contains { if case .sourceUnusable(victim, _) = $0 { true } else { false } }
            // The owner reads the replica with the lowest key among equals first: nodes[0]. A damaged copy that is
            // never read stays unnoticed (there is no background scrub), and harmless: it is checked when served.
            XCTAssertEqual(read, victim == nodes[0], "victim \(victim)")
            for n in nodes where n != victim || read {
                XCTAssertNil(net.replicas[n]?.snapshotDamage, "\(n) (victim \(victim))")
                XCTAssertEqual(net.replicas[n]?.snapshotBytes, net.snapshots[nodes[1]], "\(n) (victim \(victim))")
            }
        }
    }

    /// Breaker finding: the replicas holding the newest entries had lost their snapshot, and the one whose
    /// snapshot was whole lagged behind them: the office waited for ever, though together they held everything
    /// committed. The owner now reads the snapshot from the lagging replica and the entries after it from the
    /// most up-to-date one.
    func test_theNewestReplicasLostTheirSnapshotAndALaggingOneLendsItsOwn() {
        var (net, state, s, owners) = compactedStream(seed: 33)
        // nodes[2] misses the next entries: only nodes[0] and nodes[1] (a write quorum) hold them.
        net.down = [nodes[2]]
        for i in 20...22 { if let at = propose(&owners, nodes[0], "g\(i)", &net) { state[at] = "g\(i)" } }
        _ = net.run(&owners, rounds: 1_000)
        XCTAssertEqual(owners[nodes[0]]!.commitIndex, 17)
        XCTAssertEqual(net.replicas[nodes[2]]?.lastIndex, 14)
        // The owner goes; the two up-to-date replicas lose their snapshot files.
        damage(&net, nodes[0], lost: true)
        damage(&net, nodes[1], lost: true)
        net.down = []
        let (b, actions) = R.Owner.start(stream: "s", me: nodes[2], round: 2, replicas: nodes, others: [], settings: s, nowNs: net.nowNs)
        net.enqueue(actions, from: nodes[2])
        var next = [nodes[2]: b]
        let out = net.run(&next, rounds: 5_000)
        XCTAssertEqual(next[nodes[2]]!.phase, .serving, next[nodes[2]]!.waitingFor ?? "")
        XCTAssertEqual(net.recoveredState[nodes[2]], state, "the lagging replica's snapshot and the newest entries: every committed entry")
        XCTAssertTrue((out[nodes[2]] ?? []).contains { if case .sourceUnusable = $0 { true } else { false } })
        for n in nodes {
            XCTAssertNil(net.replicas[n]?.snapshotDamage, "\(n) repaired")
            XCTAssertEqual(net.replicas[n]?.lastIndex, next[nodes[2]]!.lastIndex, "\(n) caught up")
        }
    }

    /// Breaker finding (round 2): one node killed, then a second before the first was back: the replica set had
    /// shrunk to the two members up after the first death (write quorum two of two), so once the second died the
    /// office committed nothing, even with the first restarted on its data. A set now keeps its down members (by
    /// address) until live members replace them.
    func test_aReplicaSetKeepsItsDownMembersSoTwoSuccessiveDeathsLeaveAQuorum() {
        var net = Net(nodes: nodes, seed: 41)
        let (o, actions) = R.Owner.start(stream: "s", me: nodes[0], round: 1, replicas: nodes, others: [], settings: settings, nowNs: net.nowNs)
        net.enqueue(actions, from: nodes[0])
        var owners = [nodes[0]: o]
        _ = net.run(&owners)
        _ = propose(&owners, nodes[0], "a", &net)
        _ = net.run(&owners)
        // nodes[2] dies: the view has two members.
        net.down = [nodes[2]]
        var changed = owners[nodes[0]]!.handle(.replicasChanged(replicas: [nodes[0], nodes[1]], others: []), nowNs: net.nowNs)
        net.enqueue(changed, from: nodes[0], ballot: owners[nodes[0]]!.ballot)
        XCTAssertEqual(Set(owners[nodes[0]]!.replicas.map(\.address)), Set(nodes.map(\.address)), "the down member is kept")
        let b = propose(&owners, nodes[0], "b", &net)
        _ = net.run(&owners)
        XCTAssertEqual(owners[nodes[0]]!.commitIndex, b, "two of three commit")
        // nodes[1] dies too; nodes[2] restarts on its data (a new uid).
        let back = NodeIdentity(address: nodes[2].address, uid: 555)
        net.replicas[back] = net.replicas[nodes[2]]
        net.down = [nodes[1], nodes[2]]
        changed = owners[nodes[0]]!.handle(.replicasChanged(replicas: [nodes[0], back], others: []), nowNs: net.nowNs)
        net.enqueue(changed, from: nodes[0], ballot: owners[nodes[0]]!.ballot)
        let c = propose(&owners, nodes[0], "c", &net)
        _ = net.run(&owners, rounds: 1_000)
        XCTAssertEqual(owners[nodes[0]]!.commitIndex, c, "the owner and the restarted node commit")
        XCTAssertEqual(net.replicas[back]?.lastIndex, c)
        // A new owner on the restarted node, with nodes[1] still down: it recovers everything, and its set keeps
        // nodes[1] (at its address) instead of recording a set of two.
        let (n, start) = R.Owner.start(stream: "s", me: back, round: 2, replicas: [nodes[0], back], others: [], settings: settings, nowNs: net.nowNs)
        net.enqueue(start, from: back)
        var next = [back: n]
        let out = net.run(&next, rounds: 1_000)
        XCTAssertEqual(payloads(ready(out[back])), ["a", "b", "c"])
        XCTAssertEqual(Set(next[back]!.replicas.map(\.address)), Set(nodes.map(\.address)))
        // nodes[1] back, nodes[0] down: the kept member acknowledges with the owner.
        net.down = [nodes[0]]
        let d = propose(&next, back, "d", &net)
        _ = net.run(&next, rounds: 1_000)
        XCTAssertEqual(next[back]!.commitIndex, d)
    }

    /// Two sides of a partition must not both serve a stream. An owner cut off from two of its three replicas
    /// records a new set (itself and the members it still sees); that change is not committed (the old set's
    /// quorum is on the other side). The other side recovers with the old set's quorum and commits. An owner on
    /// the cut-off side must not then recover with a read quorum of the uncommitted new set alone: before
    /// (chaos seed 449123 and 812614, 2026-12-02) it did, served a log without the other side's entries, and the
    /// replicas that later followed it replaced committed entries (a case lost, a retried request given a
    /// second case). It needs the set before too; once the partition heals it recovers everything committed.
    func test_aSetChangeNotYetCommittedIsNoReadQuorumWithoutTheSetBeforeIt() {
        let five = (1...5).map(Self.node)
        let (n1, n2, n3, n4, n5) = (five[0], five[1], five[2], five[3], five[4])
        var net = Net(nodes: five, seed: 77)
        let (o, actions) = R.Owner.start(stream: "s", me: n4, round: 3, replicas: [n1, n2, n3], others: [], settings: settings, nowNs: net.nowNs)
        net.enqueue(actions, from: n4)
        var side = [n4: o]
        _ = net.run(&side)
        XCTAssertNotNil(propose(&side, n4, "a", &net))
        _ = net.run(&side)
        XCTAssertEqual(side[n4]!.commitIndex, 2)
        // The partition: n4 sees n3, n5 (and itself); its view's set becomes {n3, n4, n5}: recorded, not committed.
        net.down = [n1, n2]
        let changed = side[n4]!.handle(.replicasChanged(replicas: [n3, n4, n5], others: []), nowNs: net.nowNs)
        net.enqueue(changed, from: n4, ballot: side[n4]!.ballot)
        _ = propose(&side, n4, "b", &net)
        _ = net.run(&side, rounds: 300)
        XCTAssertEqual(side[n4]!.commitIndex, 2, "the set change needs two of {n1, n2, n3}")
        XCTAssertEqual(net.replicas[n5]?.latestConfig?.members, R.Owner.addresses([n3, n4, n5]))
        // The other side: an owner on n2 recovers with n1 and n2 (they hold the set {n1, n2, n3}) and commits "p".
        net.down = [n3, n4, n5]
        let (p, pStart) = R.Owner.start(stream: "s", me: n2, round: 4, replicas: [n1, n2, n3], others: [], settings: settings, nowNs: net.nowNs)
        net.enqueue(pStart, from: n2)
        var other = [n2: p]
        let pOut = net.run(&other, rounds: 500)
        XCTAssertEqual(payloads(ready(pOut[n2])), ["a"])
        let pIndex = propose(&other, n2, "p", &net)
        _ = net.run(&other, rounds: 300)
        XCTAssertEqual(other[n2]!.commitIndex, pIndex, "n1 and n2 commit it")
        // Back on the cut-off side, a new owner on n4 (a higher round): n3, n4 and n5 hold the new set, but
        // only n3 of the set before it answers — it must wait.
        net.down = [n1, n2]
        let (q, qStart) = R.Owner.start(stream: "s", me: n4, round: 5, replicas: [n3, n4, n5], others: [], settings: settings, nowNs: net.nowNs)
        net.enqueue(qStart, from: n4)
        var cut = [n4: q]
        let qOut = net.run(&cut, rounds: 500)
        XCTAssertNil(ready(qOut[n4]), "a read quorum of an uncommitted set alone is not enough")
        XCTAssertEqual(cut[n4]!.phase, .preparing)
        XCTAssertTrue(cut[n4]!.waitingFor?.contains("recorded before") ?? false, cut[n4]!.waitingFor ?? "nil")
        // The partition heals: it recovers every committed entry ("b" was never committed).
        net.down = []
        let healed = cut[n4]!.handle(.replicasChanged(replicas: [n3, n4, n5], others: [n1, n2]), nowNs: net.nowNs)
        net.enqueue(healed, from: n4, ballot: cut[n4]!.ballot)
        let later = net.run(&cut, rounds: 1_000)
        XCTAssertEqual(payloads(ready(later[n4])), ["a", "p"])
    }

    /// A replica never lets an append replace an entry it knows committed (defence in depth: an owner that
    /// recovered without it is refused instead of destroying it), and an owner never serves a log shorter than
    /// the one its fetch source promised.
    func test_aReplicaRefusesToReplaceACommittedEntry() {
        var log = R.ReplicaLog()
        let b1 = R.Ballot(round: 1, node: Self.node(1)), b2 = R.Ballot(round: 2, node: Self.node(2))
        let entries = (1...3).map { R.Entry(index: UInt64($0), ballot: b1, payload: Array("e\($0)".utf8)) }
        _ = log.handle(.append(stream: "s", ballot: b1, prevIndex: 0, prevBallot: .zero, entries: entries, commitIndex: 2))
        XCTAssertEqual(log.commitIndex, 2)
        // An owner that holds only entry 1 writes its barrier at 2: refused, nothing replaced.
        let (reply, changes) = log.handle(.append(stream: "s", ballot: b2, prevIndex: 1, prevBallot: b1,
                                                   entries: [R.Entry(index: 2, ballot: b2, payload: [])], commitIndex: 0))
        guard case .refused = reply else { return XCTFail("\(reply)") }
        XCTAssertFalse(changes.contains { if case .write = $0 { true } else { false } })
        XCTAssertEqual(log.lastIndex, 3)
        // Beyond the commit index a conflicting entry is replaced as before (Raft §5.3).
        let (again, _) = log.handle(.append(stream: "s", ballot: b2, prevIndex: 2, prevBallot: b1,
                                             entries: [R.Entry(index: 3, ballot: b2, payload: [])], commitIndex: 0))
        XCTAssertEqual(again, .accepted(matchIndex: 3))
        XCTAssertEqual(log.lastBallot, b2)
    }

    /// A replica that learned the latest replica set committed journals that (`Change.committed`, once per set):
    /// restarted, it still knows — its promise names no fallback set — where before it reported the set before
    /// the latest one. The store snapshot keeps the commit index too.
    func test_aRestartedReplicaStillKnowsTheLatestReplicaSetCommitted() async throws {
        let b1 = R.Ballot(round: 1, node: nodes[0]), b2 = R.Ballot(round: 2, node: nodes[1])
        let a = (1...4).map { NodeAddress(host: "10.0.0.\($0)", port: 7000) }
        let first = [a[0], a[1], a[2]], second = [a[0], a[1], a[3]]
        var l = R.ReplicaLog()
        var journal: [R.ReplicaLog.Change] = []
        journal += l.handle(.append(stream: "s", ballot: b1, prevIndex: 0, prevBallot: .zero,
                                    entries: [R.Entry(index: 1, ballot: b1, payload: [], replicaSet: first),
                                              R.Entry(index: 2, ballot: b1, payload: [2])], commitIndex: 2)).1
        journal += l.handle(.append(stream: "s", ballot: b2, prevIndex: 2, prevBallot: b1,
                                    entries: [R.Entry(index: 3, ballot: b2, payload: [], replicaSet: second)], commitIndex: 2)).1
        XCTAssertEqual(journal.filter { if case .committed = $0 { true } else { false } }, [.committed(2)],
                       "journaled when the first set became committed, not for the second (not committed yet)")
        let (_, commitSecond) = l.handle(.append(stream: "s", ballot: b2, prevIndex: 3, prevBallot: b2,
                                                 entries: [R.Entry(index: 4, ballot: b2, payload: [4])], commitIndex: 4))
        journal += commitSecond
        XCTAssertEqual(commitSecond.filter { if case .committed = $0 { true } else { false } }, [.committed(4)])
        let (_, quiet) = l.handle(.append(stream: "s", ballot: b2, prevIndex: 4, prevBallot: b2,
                                           entries: [R.Entry(index: 5, ballot: b2, payload: [5])], commitIndex: 5))
        XCTAssertTrue(quiet.allSatisfy { if case .committed = $0 { false } else { true } }, "no record per commit: \(quiet)")
        journal += quiet

        var restarted = R.ReplicaLog()
        for c in journal { XCTAssertTrue(restarted.restore(c)) }
        XCTAssertEqual(restarted.commitIndex, 4)
        let (promise, _) = restarted.handle(.prepare(stream: "s", ballot: R.Ballot(round: 3, node: nodes[2])))
        guard case .promised(_, _, _, let config, let previous, _) = promise else { return XCTFail("\(promise)") }
        XCTAssertEqual(config?.members, second)
        XCTAssertNil(previous, "it knows the latest set committed: no fallback")

        // A store snapshot keeps it (one written before it did reads as 0, as before).
        let stream = R.StoreSnapshot.Stream(name: "s", promised: b2, entries: l.entries, snapshot: nil, commitIndex: 4)
        let bytes = try Wire.BinaryEncoder().encode(R.StoreSnapshot(streams: [stream]))
        let kept = await R.ReplicaStore(journal: nil, snapshot: bytes).log(of: "s")?.commitIndex
        XCTAssertEqual(kept, 4)
    }

    /// The stream directory (breaker, 2026-12-02): a stream created while the cluster had three members holds its
    /// entries on those three only; two members that joined later never held a replica of it. After a power loss
    /// the two newcomers keep quorum between them, and an owner among them whose replicas hold nothing of the
    /// stream opened it empty (a majority of the members asked said "nothing"): every case of the office lost.
    /// Told the stream's committed set, they name it in their promises: the owner waits for a read quorum of that
    /// set, and recovers every entry once two of its members are back.
    func test_membersThatNeverHeldAReplicaNameTheStreamsSetAndAnOwnerAmongThemWaitsForIt() {
        let five = (1...5).map(Self.node)
        let first = Array(five[0..<3])
        var net = Net(nodes: five, seed: 21)
        var owners = serving(five[0], replicas: first, committing: (1...4).map { "case\($0)" }, &net)
        XCTAssertEqual(owners[five[0]]!.commitIndex, 5)
        // Two members join; the replica set stays.
        var owner = owners[five[0]]!
        net.enqueue(owner.handle(.replicasChanged(replicas: first, others: [five[3], five[4]]), nowNs: net.nowNs), from: five[0])
        owners[five[0]] = owner
        _ = net.run(&owners)
        XCTAssertEqual(owners[five[0]]!.recordedBy, five.map(\.address).sorted(), "every member acknowledged the set")
        for n in five {
            XCTAssertEqual(net.replicas[n]?.recorded?.members, first.map(\.address).sorted(), "\(n)")
        }
        XCTAssertEqual(net.replicas[five[3]]?.lastIndex, 0, "never a replica")

        // Power loss; the two newcomers come back first and an owner starts among them.
        net.down = Set(first)
        let (o4, prepares) = R.Owner.start(stream: "s", me: five[3], round: 2, replicas: [five[3], five[4]], others: [],
                                           settings: settings, nowNs: net.nowNs)
        net.enqueue(prepares, from: five[3])
        var owners2 = [five[3]: o4]
        let out = net.run(&owners2, rounds: 300)
        XCTAssertNil(ready(out[five[3]]), "its replicas hold nothing, but they name the set that does: it waits")
        XCTAssertEqual(owners2[five[3]]!.phase, .preparing)
        let waiting = owners2[five[3]]!.waitingFor ?? ""
        XCTAssertTrue(waiting.contains("0 of the 3 recorded replicas"), waiting)

        // One member of the recorded set is back: still not a read quorum of it (2 of 3).
        let back2 = NodeIdentity(address: five[1].address, uid: 802)
        net.replicas[back2] = net.replicas[five[1]]
        var waitingOwner = owners2[five[3]]!
        net.enqueue(waitingOwner.handle(.replicasChanged(replicas: [five[3], five[4], back2], others: []), nowNs: net.nowNs),
                    from: five[3])
        owners2[five[3]] = waitingOwner
        XCTAssertNil(ready(net.run(&owners2, rounds: 300)[five[3]]))
        // A second one: it recovers every entry.
        let back3 = NodeIdentity(address: five[2].address, uid: 803)
        net.replicas[back3] = net.replicas[five[2]]
        waitingOwner = owners2[five[3]]!
        net.enqueue(waitingOwner.handle(.replicasChanged(replicas: [five[3], five[4], back2], others: [back3]), nowNs: net.nowNs),
                    from: five[3])
        owners2[five[3]] = waitingOwner
        let later = net.run(&owners2, rounds: 500)
        XCTAssertEqual(payloads(ready(later[five[3]])), (1...4).map { "case\($0)" })
    }

    /// An owner that cannot recover yet still tells members that join meanwhile the set it learned from promises
    /// (breaker, 2026-12-01: new nodes joined a node whose office could not recover; once it died, they opened the
    /// office empty).
    func test_anOwnerThatCannotRecoverYetTellsJoiningMembersTheSetItWaitsFor() {
        let five = (1...5).map(Self.node)
        var net = Net(nodes: five, seed: 22)
        let owners = serving(nodes[0], replicas: nodes, committing: (1...3).map { "case\($0)" }, &net)
        XCTAssertEqual(owners[nodes[0]]!.commitIndex, 4)
        // Two of the three replicas are gone; an owner on a fourth node hears from the third only.
        net.down = [five[0], five[1]]
        let (o4, prepares) = R.Owner.start(stream: "s", me: five[3], round: 2, replicas: [five[3]], others: [five[2]],
                                           settings: settings, nowNs: net.nowNs)
        net.enqueue(prepares, from: five[3])
        var waiting = [five[3]: o4]
        XCTAssertNil(ready(net.run(&waiting, rounds: 200)[five[3]]), "1 of the 3 recorded replicas: it waits")
        // A fifth member joins while it waits: it is told the set.
        var o = waiting[five[3]]!
        net.enqueue(o.handle(.replicasChanged(replicas: [five[3]], others: [five[2], five[4]]), nowNs: net.nowNs), from: five[3])
        waiting[five[3]] = o
        _ = net.run(&waiting, rounds: 200)
        XCTAssertEqual(waiting[five[3]]!.phase, .preparing)
        XCTAssertEqual(net.replicas[five[4]]?.recorded?.members, nodes.map(\.address).sorted())
        XCTAssertEqual(net.replicas[five[4]]?.lastIndex, 0)
    }

    /// A member's directory entry: journaled and restored, kept by a store snapshot, named in promises (a
    /// committed set: no fallback set), an older one ignored, a record below a promise refused (fencing).
    func test_aRecordedSetIsJournaledKeptByTheStoreSnapshotAndNamedInPromises() async throws {
        let a = (1...4).map { NodeAddress(host: "10.0.0.\($0)", port: 7000) }
        let b1 = R.Ballot(round: 1, node: nodes[0]), b2 = R.Ballot(round: 2, node: nodes[1])
        let older = R.Config(members: [a[0], a[1], a[2]], ballot: b1, index: 1)
        let newer = R.Config(members: [a[0], a[1], a[3]], ballot: b2, index: 9)
        var l = R.ReplicaLog()
        let (r1, c1) = l.handle(.record(stream: "s", ballot: b2, config: newer))
        XCTAssertEqual(r1, .recorded(newer))
        XCTAssertEqual(c1, [.recorded(newer)])
        let (r2, c2) = l.handle(.record(stream: "s", ballot: b2, config: older))
        XCTAssertEqual(r2, .recorded(newer), "the newer set stays")
        XCTAssertEqual(c2, [])
        let (promise, _) = l.handle(.prepare(stream: "s", ballot: R.Ballot(round: 3, node: nodes[2])))
        XCTAssertEqual(promise, .promised(lastIndex: 0, lastBallot: .zero, commitIndex: 0, config: newer, previousConfig: nil))
        let (fenced, nothing) = l.handle(.record(stream: "s", ballot: b2, config: newer))
        XCTAssertEqual(fenced, .rejected(promised: R.Ballot(round: 3, node: nodes[2])))
        XCTAssertEqual(nothing, [])
        XCTAssertEqual(l.handle(.record(stream: "s", ballot: b1, config: newer)).0, .refused(reason: "recorded set's ballot above the request's"))

        var restarted = R.ReplicaLog()
        for c in c1 { XCTAssertTrue(restarted.restore(c)) }
        XCTAssertEqual(restarted.recorded, newer)
        let stream = R.StoreSnapshot.Stream(name: "s", promised: b2, entries: [], snapshot: nil, recorded: newer)
        let bytes = try Wire.BinaryEncoder().encode(R.StoreSnapshot(streams: [stream]))
        let store = R.ReplicaStore(journal: nil, snapshot: bytes)
        let kept = await store.log(of: "s")?.recorded
        XCTAssertEqual(kept, newer)
        let summary = await store.summary()
        XCTAssertEqual(summary.first?.recordedSet, newer.members.map(\.description))
    }

    /// A replica whose snapshot is damaged: its promise keeps its log position, it serves no snapshot, it
    /// acknowledges no append until a snapshot is installed again (same index: its entries after it are kept),
    /// and the changes it journals replay to the same log.
    func test_aReplicaWithADamagedSnapshotKeepsItsPositionRefusesToServeAndIsRepairedByAnInstall() {
        let b1 = R.Ballot(round: 1, node: nodes[0]), b2 = R.Ballot(round: 2, node: nodes[1])
        let bytes = Array("the state through 3".utf8)
        let info = R.SnapshotInfo(index: 3, ballot: b1, config: nil, size: bytes.count, checksum: CRC32C.checksum(bytes))
        var l = R.ReplicaLog()
        var journal: [R.ReplicaLog.Change] = []
        journal += l.handle(.append(stream: "s", ballot: b1, prevIndex: 0, prevBallot: .zero,
                                    entries: (1...5).map { R.Entry(index: UInt64($0), ballot: b1, payload: [UInt8($0)]) }, commitIndex: 5)).1
        journal += l.handle(.installSnapshot(stream: "s", ballot: b1, info: info, offset: 0, chunk: bytes)).1
        let storage = l.storage
        l.markDamaged("no file")
        var (reply, changes) = l.handle(.prepare(stream: "s", ballot: b2))
        journal += changes
        XCTAssertEqual(reply, .promised(lastIndex: 5, lastBallot: b1, commitIndex: 5, config: nil), "its true position")
        (reply, _) = l.handle(.fetchSnapshot(stream: "s", ballot: b2, index: 3, offset: 0, maxBytes: 100))
        guard case .refused = reply else { return XCTFail("a damaged snapshot must not be served: \(reply)") }
        (reply, _) = l.handle(.fetch(stream: "s", ballot: b2, after: 3, maxBytes: 100))
        XCTAssertEqual(reply, .entries([R.Entry(index: 4, ballot: b1, payload: [4]), R.Entry(index: 5, ballot: b1, payload: [5])]),
                       "entries after the snapshot are still served")
        (reply, _) = l.handle(.append(stream: "s", ballot: b2, prevIndex: 5, prevBallot: b1,
                                      entries: [R.Entry(index: 6, ballot: b2, payload: [6])], commitIndex: 5))
        XCTAssertEqual(reply, .mismatch(lastIndex: 0, commitIndex: 0), "no acknowledgement on a damaged snapshot")
        XCTAssertEqual(l.lastIndex, 5)
        (reply, changes) = l.handle(.installSnapshot(stream: "s", ballot: b2, info: info, offset: 0, chunk: bytes))
        journal += changes
        XCTAssertEqual(reply, .snapshotReceived(received: bytes.count, installed: true))
        XCTAssertNil(l.snapshotDamage)
        XCTAssertEqual(l.entries.map(\.index), [4, 5], "the same snapshot again: the entries after it are kept")
        XCTAssertEqual(l.snapshotBytes, bytes)
        (reply, changes) = l.handle(.append(stream: "s", ballot: b2, prevIndex: 5, prevBallot: b1,
                                            entries: [R.Entry(index: 6, ballot: b2, payload: [6])], commitIndex: 5))
        journal += changes
        XCTAssertEqual(reply, .accepted(matchIndex: 6))
        var replayed = R.ReplicaLog(storage: l.storage)
        for c in journal { XCTAssertTrue(replayed.restore(c), "\(c)") }
        XCTAssertEqual(replayed.snapshot, l.snapshot)
        XCTAssertEqual(replayed.entries, l.entries)
        XCTAssertEqual(replayed.promised, l.promised)
        // Repaired from an older snapshot instead: the log is reset first, and the journal says so.
        var older = R.ReplicaLog(storage: storage)
        for c in journal.prefix(3) { older.restore(c) }
        older.markDamaged("no file")
        let oldBytes = Array("through 2".utf8)
        let oldInfo = R.SnapshotInfo(index: 2, ballot: b1, config: nil, size: oldBytes.count, checksum: CRC32C.checksum(oldBytes))
        (reply, changes) = older.handle(.installSnapshot(stream: "s", ballot: b2, info: oldInfo, offset: 0, chunk: oldBytes))
        XCTAssertEqual(reply, .snapshotReceived(received: oldBytes.count, installed: true))
        XCTAssertEqual(changes.suffix(2), [.reset, .snapshotInstalled(oldInfo)])
        XCTAssertEqual(older.lastIndex, 2)
        XCTAssertNil(older.snapshotDamage)
        // Or from the log's first entry, when the owner has no snapshot.
        var fromStart = R.ReplicaLog(storage: storage)
        for c in journal.prefix(3) { fromStart.restore(c) }
        fromStart.markDamaged("no file")
        (reply, changes) = fromStart.handle(.append(stream: "s", ballot: b2, prevIndex: 0, prevBallot: .zero,
                                                    entries: (1...6).map { R.Entry(index: UInt64($0), ballot: b2, payload: [UInt8($0)]) }, commitIndex: 6))
        XCTAssertEqual(reply, .accepted(matchIndex: 6))
        XCTAssertNil(fromStart.snapshot)
        XCTAssertEqual(changes.dropFirst().first, .reset, "after the promise, the reset, then the write: \(changes)")
    }

    /// A replica serving its snapshot in order checks the bytes against the CRC-32C as they pass: a flipped byte
    /// is refused on the last page and the snapshot marked damaged.
    func test_aReplicaServingAFlippedSnapshotRefusesTheLastPageAndMarksItDamaged() {
        let b = R.Ballot(round: 1, node: nodes[0])
        let bytes = Array("0123456789abcdef".utf8)
        let info = R.SnapshotInfo(index: 2, ballot: b, config: nil, size: bytes.count, checksum: CRC32C.checksum(bytes))
        var l = R.ReplicaLog()
        _ = l.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: 0, chunk: bytes))
        l.storage = DamagedStorage(inner: l.storage as! R.MemorySnapshotStorage, flipped: true)
        var (reply, _) = l.handle(.fetchSnapshot(stream: "s", ballot: b, index: 2, offset: 0, maxBytes: 10))
        guard case .snapshotPage(_, 0, let first) = reply, first.count == 10 else { return XCTFail("\(reply)") }
        (reply, _) = l.handle(.fetchSnapshot(stream: "s", ballot: b, index: 2, offset: 10, maxBytes: 10))
        guard case .refused = reply else { return XCTFail("the page that ends a damaged snapshot must be refused: \(reply)") }
        XCTAssertNotNil(l.snapshotDamage)
        XCTAssertNotNil(l.takeStorageError())
    }

    /// A replica store with a journal on disk: a snapshot installed, the store compacted, reopened — the stream
    /// holds the snapshot and the suffix, and a store opened from the journal alone (no store snapshot) too.
    func test_aStoreKeepsAnInstalledSnapshotAcrossReopenAndCompaction() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replica-snap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = R.Ballot(round: 1, node: nodes[0])
        let bytes = Array(repeating: UInt8(7), count: 3_000)
        let info = R.SnapshotInfo(index: 5, ballot: b, config: nil, size: bytes.count, checksum: CRC32C.checksum(bytes))
        var options = R.ReplicaStore.journalOptions
        options.fsync = .never
        for compactFirst in [false, true] {
            try? FileManager.default.removeItem(atPath: dir)
            do {
                let (log, _) = try GroupCommitLog.open(directory: dir, options: options)
                let snapshots = R.ReplicaStore.snapshotDirectory(in: dir)
                try FileManager.default.createDirectory(atPath: snapshots, withIntermediateDirectories: true)
                let store = R.ReplicaStore(journal: log, snapshotDirectory: snapshots)
                let entries = (1...7).map { R.Entry(index: UInt64($0), ballot: b, payload: [UInt8($0)]) }
                _ = try await store.handle(.append(stream: "s", ballot: b, prevIndex: 0, prevBallot: .zero, entries: entries, commitIndex: 7))
                for offset in stride(from: 0, to: bytes.count, by: 1_000) {
                    _ = try await store.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: offset,
                                                                chunk: Array(bytes[offset..<offset + 1_000])))
                }
                if compactFirst { await store.compact() }
                let held = await store.log(of: "s")
                XCTAssertEqual(held?.snapshot, info)
                XCTAssertEqual(held?.entries.map(\.index), [6, 7])
                try await log.close()
            }
            let (reopened, _) = try await R.ReplicaStore.open(directory: dir, options: options)
            let held = await reopened.log(of: "s")
            XCTAssertEqual(held?.snapshot, info, "compacted first: \(compactFirst)")
            XCTAssertEqual(held?.snapshotBytes, bytes)
            XCTAssertEqual(held?.entries.map(\.index), [6, 7])
            let skipped = await reopened.restoreSkipped
            XCTAssertEqual(skipped, 0)
            let files = try FileManager.default.contentsOfDirectory(atPath: R.ReplicaStore.snapshotDirectory(in: dir))
            XCTAssertEqual(files, ["73.5.snap"], "one file per stream, the partial renamed")
        }
    }

    /// A snapshot file that is missing or truncated at reopen: the stream keeps its position but is marked
    /// damaged (listed, logged), the store does not crash, it serves no snapshot, and an install repairs it.
    func test_aStoreWithADamagedSnapshotFileKeepsItsPositionAndIsRepairedByAnInstall() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("replica-snapbad-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = R.Ballot(round: 1, node: nodes[0])
        let bytes = Array(repeating: UInt8(3), count: 2_000)
        let info = R.SnapshotInfo(index: 4, ballot: b, config: nil, size: bytes.count, checksum: CRC32C.checksum(bytes))
        var options = R.ReplicaStore.journalOptions
        options.fsync = .never
        do {
            // The journal is opened here so that it is closed (its directory lock released) before the reopen.
            let (log, _) = try GroupCommitLog.open(directory: dir, options: options)
            let snapshots = R.ReplicaStore.snapshotDirectory(in: dir)
            try FileManager.default.createDirectory(atPath: snapshots, withIntermediateDirectories: true)
            let store = R.ReplicaStore(journal: log, snapshotDirectory: snapshots)
            _ = try await store.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: 0, chunk: bytes))
            let page = try await store.handle(.fetchSnapshot(stream: "s", ballot: b, index: 4, offset: 1_500, maxBytes: 1_000))
            XCTAssertEqual(page, .snapshotPage(info: info, offset: 1_500, bytes: Array(bytes[1_500...])), "served with pread")
            try await log.close()
        }
        let file = R.ReplicaStore.snapshotDirectory(in: dir) + "/73.4.snap"
        XCTAssertTrue(truncate(file, 100) == 0)
        let (reopened, _) = try await R.ReplicaStore.open(directory: dir, options: options)
        let held = await reopened.log(of: "s")
        XCTAssertEqual(held?.snapshot, info, "the position is kept")
        XCTAssertNotNil(held?.snapshotDamage)
        XCTAssertEqual(held?.promised, b, "the promise is kept")
        let missing = await reopened.missingSnapshots
        XCTAssertEqual(missing.count, 1)
        let summary = await reopened.summary()
        XCTAssertNotNil(summary.first?.snapshotDamage, "the admin listing shows it")
        let served = try await reopened.handle(.fetchSnapshot(stream: "s", ballot: b, index: 4, offset: 0, maxBytes: 1_000))
        guard case .refused = served else { return XCTFail("a short snapshot file must not be served: \(served)") }
        // A damaged incoming snapshot (wrong checksum) is refused, and the replica still takes a good one.
        var bad = info
        bad.checksum ^= 1
        let refused = try await reopened.handle(.installSnapshot(stream: "s", ballot: b, info: bad, offset: 0, chunk: bytes))
        guard case .refused = refused else { return XCTFail("\(refused)") }
        let ok = try await reopened.handle(.installSnapshot(stream: "s", ballot: b, info: info, offset: 0, chunk: bytes))
        XCTAssertEqual(ok, .snapshotReceived(received: 2_000, installed: true))
        let repaired = await reopened.log(of: "s")
        XCTAssertNil(repaired?.snapshotDamage)
        XCTAssertEqual(repaired?.snapshotBytes, bytes)
    }
}
