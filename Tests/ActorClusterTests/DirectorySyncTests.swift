import XCTest
import Foundation
@testable import ActorCluster

/// The stream directory a member reads when it joins a running cluster (`Replication.DirectorySync`), the store's
/// side of it (pages, learning, the journaled completeness) and the recovering owner's rule that an incomplete
/// directory's silence does not make a stream new.
final class DirectorySyncTests: XCTestCase {
    typealias R = Replication

    static func node(_ i: Int) -> NodeIdentity {
        NodeIdentity(address: NodeAddress(host: "10.0.0.\(i)", port: 7000), uid: UInt64(100 + i))
    }

    let five = (1...5).map(node)
    let ms: UInt64 = 1_000_000

    func page(_ streams: [String], next: String? = nil, complete: Bool = true) -> R.DirectoryPage {
        let b = R.Ballot(round: 1, node: Self.node(1))
        return R.DirectoryPage(entries: streams.map { R.DirectoryEntry(stream: $0, config: R.Config(members: [Self.node(1).address], ballot: b, index: 1)) },
                               next: next, complete: complete)
    }

    func test_aNodeThatFormedTheClusterIsCompleteAndOneThatJoinedReadsAMajorityOfCompleteDirectories() {
        var formed = R.DirectorySync()
        XCTAssertEqual(formed.handle(.up(.formedNew, stored: nil), nowNs: 0), [.record(complete: true)])
        XCTAssertEqual(formed.phase, .complete)
        var again = R.DirectorySync()
        XCTAssertEqual(again.handle(.up(.formedWithRemembered, stored: true), nowNs: 0), [], "already journaled")

        var s = R.DirectorySync(retryMs: 1_000)
        XCTAssertEqual(s.handle(.up(.joinedRunningCluster, stored: true), nowNs: 0), [.record(complete: false)],
                       "joined a running cluster: it may have missed streams while away")
        let others = Array(five[1...4])
        XCTAssertEqual(s.handle(.members(others), nowNs: 1), others.map { .ask($0, after: nil) })
        XCTAssertEqual(s.needed, 3)
        // A two-page directory: the second page is asked at once.
        XCTAssertEqual(s.handle(.page(page(["a", "b"], next: "b"), from: five[1], asked: nil), nowNs: 2), [.ask(five[1], after: "b")])
        XCTAssertEqual(s.handle(.page(page(["c"]), from: five[1], asked: "b"), nowNs: 3), [])
        // A member whose own directory is incomplete does not count; it is read again after the retry interval.
        XCTAssertEqual(s.handle(.page(page(["a"], complete: false), from: five[2], asked: nil), nowNs: 4), [])
        XCTAssertEqual(s.handle(.failed(from: five[3]), nowNs: 5), [])
        XCTAssertEqual(s.readCount, 1)
        XCTAssertEqual(s.phase, .reading)
        XCTAssertEqual(s.handle(.tick, nowNs: 500 * ms), [], "not before the retry interval")
        XCTAssertEqual(Set(s.handle(.tick, nowNs: 1_100 * ms)), [.ask(five[2], after: nil), .ask(five[3], after: nil)])
        XCTAssertEqual(s.handle(.page(page(["a", "b", "c"]), from: five[2], asked: nil), nowNs: 1_101 * ms), [])
        XCTAssertEqual(s.readCount, 2)
        // A late answer to a request not in flight is ignored; the third complete directory completes it.
        XCTAssertEqual(s.handle(.page(page(["a"]), from: five[1], asked: nil), nowNs: 1_102 * ms), [])
        XCTAssertEqual(s.handle(.page(page([]), from: five[4], asked: nil), nowNs: 1_103 * ms), [.record(complete: true)])
        XCTAssertEqual(s.phase, .complete)
        XCTAssertNil(s.nextWakeupNs)
    }

    func test_aNodeWhoseStoreSaysIncompleteReadsEvenWhenItFormedTheClusterAgainAndNeverCompletesAlone() {
        var fresh = R.DirectorySync()
        XCTAssertEqual(fresh.handle(.up(.formedNew, stored: false), nowNs: 0), [.record(complete: true)], "a new cluster's first member")
        var s = R.DirectorySync()
        XCTAssertEqual(s.handle(.up(.formedWithRemembered, stored: false), nowNs: 0), [])
        XCTAssertEqual(s.phase, .reading)
        XCTAssertEqual(s.handle(.members([]), nowNs: 1), [], "right after forming, the others are not listed yet: not alone")
        XCTAssertEqual(s.phase, .reading)
        XCTAssertEqual(s.handle(.members([five[1], five[2]]), nowNs: 1), [.ask(five[1], after: nil), .ask(five[2], after: nil)])
        XCTAssertEqual(s.needed, 2)
        // The others go away before answering: nobody to learn from, it stays incomplete (never "complete" for being
        // alone: that is how a restarted node looks before the others are listed).
        XCTAssertEqual(s.handle(.members([]), nowNs: 2), [])
        XCTAssertEqual(s.phase, .reading)
        XCTAssertEqual(s.handle(.members([five[1]]), nowNs: 3), [.ask(five[1], after: nil)], "listed again: asked again")
        XCTAssertEqual(s.handle(.page(page(["a"]), from: five[1], asked: nil), nowNs: 4), [.record(complete: true)])
    }

    /// Two nodes that joined a first one were powered off before either had read the directory: restarted, each
    /// reads the other's incomplete one and the first's complete one — having read every other member it is
    /// complete (they would otherwise wait for each other forever).
    func test_havingReadEveryOtherMembersDirectoryCompleteOrNotItIsComplete() {
        var s = R.DirectorySync()
        _ = s.handle(.up(.formedWithRemembered, stored: false), nowNs: 0)
        XCTAssertEqual(s.handle(.members([five[0], five[2]]), nowNs: 1), [.ask(five[0], after: nil), .ask(five[2], after: nil)])
        XCTAssertEqual(s.handle(.page(page(["a"], complete: false), from: five[2], asked: nil), nowNs: 2), [])
        XCTAssertEqual(s.phase, .reading, "one incomplete directory is not enough")
        XCTAssertEqual(s.handle(.page(page(["a", "b"]), from: five[0], asked: nil), nowNs: 3), [.record(complete: true)])
    }

    func test_theStoreServesPagesLearnsNewerSetsAndJournalsItsCompleteness() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dirsync-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b1 = R.Ballot(round: 1, node: five[0]), b2 = R.Ballot(round: 2, node: five[1])
        let first = R.Config(members: five[0..<3].map(\.address), ballot: b1, index: 1)
        let newer = R.Config(members: five[1..<4].map(\.address), ballot: b2, index: 7)
        do {
            let (store, _) = try await R.ReplicaStore.open(directory: dir)
            let initial = await store.directoryComplete
            XCTAssertNil(initial, "a new store was never told")
            // A replica of "office": its barrier is committed, so its set is in the directory.
            _ = try await store.handle(.append(stream: "office", ballot: b1, prevIndex: 0, prevBallot: .zero,
                                               entries: [R.Entry(index: 1, ballot: b1, payload: [], replicaSet: first.members)],
                                               commitIndex: 1))
            // Learned: a newer set wins, an older one changes nothing.
            let learned = try await store.learn([R.DirectoryEntry(stream: "numbers", config: newer),
                                                 R.DirectoryEntry(stream: "office", config: newer),
                                                 R.DirectoryEntry(stream: "", config: newer)])
            XCTAssertEqual(learned, 2, "the empty name is skipped")
            let again = try await store.learn([R.DirectoryEntry(stream: "numbers", config: first)])
            XCTAssertEqual(again, 0)
            try await store.setDirectoryComplete(false)
            let p = await store.directoryPage(after: nil, limit: 1)
            XCTAssertEqual(p, R.DirectoryPage(entries: [R.DirectoryEntry(stream: "numbers", config: newer)], next: "numbers", complete: false))
            let promise = try await store.handle(.prepare(stream: "numbers", ballot: R.Ballot(round: 3, node: five[4])))
            XCTAssertEqual(promise, .promised(lastIndex: 0, lastBallot: .zero, commitIndex: 0, config: newer, previousConfig: nil,
                                              directoryComplete: false), "an incomplete directory says so in its promises")
            try await store.close()
        }
        // Restarted on the same directory: the journal keeps what was learned and that the directory is incomplete.
        let (store, _) = try await R.ReplicaStore.open(directory: dir)
        let complete = await store.directoryComplete
        XCTAssertEqual(complete, false)
        let all = await store.directoryPage(after: nil)
        XCTAssertEqual(all.entries.map(\.stream), ["numbers", "office"])
        XCTAssertEqual(all.entries.map(\.config), [newer, newer])
        XCTAssertNil(all.next)
        try await store.setDirectoryComplete(true)
        await store.compact()
        try await store.close()
        let (compacted, _) = try await R.ReplicaStore.open(directory: dir)
        let kept = await compacted.directoryComplete
        XCTAssertEqual(kept, true, "the store snapshot keeps it too")
    }

    /// A node's data directory with a member file missing joins only a running cluster when its store holds a
    /// cluster's state — not when it holds only its own local stream, written in its first moments (breaker,
    /// 2026-12-03: a fresh seed killed 69 ms after start, restarted, waited for a cluster for ever).
    func test_onlyStreamsNamingAnotherNodeAreAClustersState() async throws {
        let me = five[0], other = five[1]
        let store = R.ReplicaStore(journal: nil)
        var holds = await store.holdsClusterState(besides: me.address)
        XCTAssertFalse(holds, "empty")
        let mine = R.Ballot(round: 1, node: me)
        _ = try await store.handle(.append(stream: "queue/me", ballot: mine, prevIndex: 0, prevBallot: .zero,
                                           entries: [R.Entry(index: 1, ballot: mine, payload: [], replicaSet: [me.address]),
                                                     R.Entry(index: 2, ballot: mine, payload: [1, 2])], commitIndex: 2))
        holds = await store.holdsClusterState(besides: me.address)
        XCTAssertFalse(holds, "its own stream, its own ballot and set")
        holds = await store.holdsClusterState(besides: other.address)
        XCTAssertTrue(holds, "seen from another address, the same stream is that node's")
        _ = try await store.handle(.prepare(stream: "office", ballot: R.Ballot(round: 4, node: other)))
        holds = await store.holdsClusterState(besides: me.address)
        XCTAssertTrue(holds, "a promise to another node's owner")
    }

    /// The join window (breaker, 2026-12-02): a stream's set was recorded by the old members only; two members
    /// joined and had not been told it when the power went. An owner whose promises come from a majority of every
    /// member asked — the two newcomers among them — must not take the stream for new while their directories are
    /// incomplete; a complete member's answer counts.
    func test_promisesFromMembersWhoseDirectoryIsIncompleteDoNotMakeAStreamNew() {
        var settings = R.Settings()
        settings.recoveryGraceMs = 50
        var (o, _) = R.Owner.start(stream: "numbers", me: five[3], round: 5, replicas: [five[3], five[4], five[2]],
                                   others: [five[0], five[1]], settings: settings, nowNs: 0)
        let req = R.Request.prepare(stream: "numbers", ballot: o.ballot)
        let empty = { (complete: Bool) in R.Reply.promised(lastIndex: 0, lastBallot: .zero, commitIndex: 0, directoryComplete: complete) }
        _ = o.handle(.reply(empty(false), to: req, from: five[3]), nowNs: 1)
        _ = o.handle(.reply(empty(false), to: req, from: five[4]), nowNs: 2)
        _ = o.handle(.reply(empty(true), to: req, from: five[2]), nowNs: 3)
        _ = o.handle(.tick, nowNs: 500 * ms)
        XCTAssertEqual(o.phase, .preparing, "three of five answered, but only one knows the whole directory")
        XCTAssertTrue((o.waitingFor ?? "").contains("1 of 5 members answered with a complete stream directory (need 3)"), o.waitingFor ?? "")
        // A newcomer that has read the directory since answers again, complete: still no set named — 2 of 5.
        _ = o.handle(.reply(empty(true), to: req, from: five[4]), nowNs: 501 * ms)
        XCTAssertEqual(o.phase, .preparing)
        // An old member answers naming the set: the owner now waits for a read quorum of it instead.
        let b1 = R.Ballot(round: 1, node: five[0])
        let set = R.Config(members: five[0..<3].map(\.address), ballot: b1, index: 1)
        _ = o.handle(.reply(.promised(lastIndex: 4, lastBallot: b1, commitIndex: 4, config: set), to: req, from: five[0]), nowNs: 502 * ms)
        _ = o.handle(.tick, nowNs: 1_000 * ms)
        XCTAssertEqual(o.phase, .fetching, "it reads the stream from the member that holds it, never opens it as new")
    }

    /// A stream of this node's own (its intake queue: replicas = itself, nobody else asked) opens while the node
    /// is still reading the directory — on the minority side of a partition it cannot finish that read, and its
    /// queue is what takes requests there.
    func test_aStreamOnlyThisNodeIsAskedAboutOpensWhileItsDirectoryIsIncomplete() {
        var settings = R.Settings()
        settings.recoveryGraceMs = 50
        var (o, _) = R.Owner.start(stream: "queue", me: five[0], round: 1, replicas: [five[0]], others: [], settings: settings, nowNs: 0)
        let req = R.Request.prepare(stream: "queue", ballot: o.ballot)
        _ = o.handle(.reply(.promised(lastIndex: 0, lastBallot: .zero, commitIndex: 0, directoryComplete: false), to: req, from: five[0]), nowNs: 1)
        XCTAssertNotEqual(o.phase, .preparing)
    }
}
