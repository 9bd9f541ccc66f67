import Dispatch
import Foundation
import Glibc
import Synchronization
import XCTest
@testable import ActorCluster

/// One-way delivery accounting, name resolution off the I/O thread, unreachable peers (seeds and others).
final class TransportDeliveryTests: XCTestCase {
    private let localhost = "127.0.0.1"

    private func startNode(settings: TransportSettings = .default, port: UInt16 = 0,
                           recorder: TransportRecorder = TransportRecorder()) throws -> TransportTestNode {
        try startTransportNode(settings: settings, port: port, recorder: recorder)
    }

    private func freePort() throws -> UInt16 { try freeLoopbackPort() }

    private static func payload(_ n: Int) -> (inout [UInt8]) -> Void {
        { $0.append(contentsOf: withUnsafeBytes(of: UInt32(n).bigEndian, Array.init)) }
    }

    private static func number(_ bytes: some Collection<UInt8>) -> Int {
        bytes.prefix(4).reduce(0) { $0 << 8 | Int($1) }
    }

    private func fastBackoff() -> TransportSettings {
        var s = TransportSettings.default
        s.reconnectBackoffInitial = .milliseconds(10)
        s.reconnectBackoffMax = .milliseconds(40)
        return s
    }

    /// Which accepted frames were reported undelivered, and how often each.
    final class Reports: Sendable {
        let state = Mutex<(ids: [Int: Int], errors: [TransportError])>(([:], []))
        func handler(_ id: Int) -> UndeliveredHandler {
            { error in self.state.withLock { $0.ids[id, default: 0] += 1; $0.errors.append(error) } }
        }
        var count: Int { state.withLock { $0.ids.count } }
        var maxPerFrame: Int { state.withLock { $0.ids.values.max() ?? 0 } }
        var ids: Set<Int> { state.withLock { Set($0.ids.keys) } }
        var errors: [TransportError] { state.withLock { $0.errors } }
    }

    // MARK: - 3. one-way delivery: delivered or reported

    func test_messagesToAPeerThatStartsLate_areEachReceivedOrReportedUndelivered() async throws {
        let port = try freePort()
        var a = ClusterSettings()
        a.nodeName = "a"
        a.listen = NodeAddress(host: localhost, port: 0)
        a.transport = fastBackoff()
        let sender = try ClusterSystem(settings: a, logger: Logger(level: .error))
        defer { sender.shutdown() }
        let recipient = ClusterSystem.ActorID(node: NodeIdentity(address: NodeAddress(host: localhost, port: port), uid: 0), path: "/sink")

        let received = Mutex<Set<Int>>([])
        let undelivered = Mutex<[Int: [RemoteCallError]]>([:])
        var accepted: Set<Int> = []
        var refusedAtOnce = 0
        var receiver: ClusterSystem?
        defer { receiver?.shutdown() }
        let start = ContinuousClock.now
        // Bounded in count (2,000) and time (the loop ends 300 ms after the receiver is up, at most 10 s).
        var receiverUpAt: ContinuousClock.Instant?
        for n in 0..<2_000 {
            if receiver == nil, ContinuousClock.now - start > .milliseconds(400) {
                var b = ClusterSettings()
                b.nodeName = "b"
                b.listen = NodeAddress(host: localhost, port: port)
                let r = try ClusterSystem(settings: b, logger: Logger(level: .error))
                try r.registerMessageSink(path: "/sink") { _, bytes in received.withLock { _ = $0.insert(Self.number(bytes)) } }
                receiver = r
                receiverUpAt = ContinuousClock.now
            }
            if let up = receiverUpAt, ContinuousClock.now - up > .milliseconds(300) { break }
            if ContinuousClock.now - start > .seconds(10) { break }
            do {
                try sender.sendMessage(withUnsafeBytes(of: UInt32(n).bigEndian, Array.init), to: recipient) { error in
                    undelivered.withLock { $0[n, default: []].append(error) }
                }
                accepted.insert(n)
            } catch RemoteCallError.nodeUnreachable {
                refusedAtOnce += 1
            }
            try await Task.sleep(for: .milliseconds(1))  // pacing of the sender, not a wait for a condition
        }
        // Every accepted message ends up received or reported, within a deadline.
        let accounted = {
            received.withLock { $0 }.union(undelivered.withLock { Set($0.keys) })
        }
        transportWaitUntil("every accepted message received or reported") { accounted() == accepted }
        let got = received.withLock { $0 }
        let lost = undelivered.withLock { $0 }
        XCTAssertEqual(accepted.count, got.count + lost.count, "sent == received + undelivered")
        XCTAssertTrue(got.isDisjoint(with: Set(lost.keys)), "a message both received and reported")
        XCTAssertTrue(got.isSubset(of: accepted))
        XCTAssertGreaterThan(lost.count, 0, "dials failed while messages were queued")
        XCTAssertGreaterThan(got.count, 0)
        XCTAssertGreaterThan(refusedAtOnce, 0, "sends during backoff fail at once")
        XCTAssertEqual(lost.values.map(\.count).max(), 1, "reported exactly once")
        for errors in lost.values {
            guard case .nodeUnreachable(_, let reason)? = errors.first else { return XCTFail("\(errors)") }
            XCTAssertTrue(reason.contains("dial failed"), reason)
        }
        XCTAssertEqual(sender.metrics.value("hotline_frames_undelivered_dial_failed_total"), lost.count)
    }

    func test_aPeerThatNeverStarts_everyAcceptedFrameIsReportedOnce_withTheDialFailure() throws {
        let closed = NodeAddress(host: localhost, port: try freePort())
        let a = try startNode(settings: fastBackoff())
        let reports = Reports()
        var accepted = 0
        var n = 0
        let deadline = ContinuousClock.now + .seconds(5)
        // Until a few dials have failed with frames queued (bounded by count and time).
        while (a.counter("hotline_dial_failures_total") < 5 || accepted < 5), n < 100_000, ContinuousClock.now < deadline {
            n += 1
            if (try? a.transport.send(.message, to: NodeIdentity(address: closed, uid: 0), onUndelivered: reports.handler(n),
                                      Self.payload(n))) != nil {
                accepted += 1
            }
        }
        transportWaitUntil("every accepted frame reported") { reports.count == accepted }
        XCTAssertEqual(reports.maxPerFrame, 1)
        XCTAssertEqual(a.counter("hotline_frames_undelivered_dial_failed_total"), accepted)
        XCTAssertTrue(reports.errors.allSatisfy {
            if case .nodeUnreachable(let address, let reason) = $0 { return address == closed && reason.contains("connect") }
            return false
        }, "\(reports.errors.prefix(3))")
    }

    func test_framesQueuedAtShutdown_areReportedAsShutDown() throws {
        // A raw listener that accepts but never answers the offer: frames stay queued behind the handshake.
        let (listener, port) = try XCTUnwrap(TransportRawSocket.listen())
        let a = try startNode()
        let reports = Reports()
        let peer = NodeIdentity(address: NodeAddress(host: localhost, port: port), uid: 0)
        for n in 0..<50 {
            try a.transport.send(.message, to: peer, onUndelivered: reports.handler(n), Self.payload(n))
        }
        let conn = try XCTUnwrap(listener.accept(timeoutMs: 5_000))
        XCTAssertEqual(conn.readFrame()?.0, .handshakeOffer)
        XCTAssertEqual(reports.count, 0)
        a.transport.shutdown()
        XCTAssertEqual(reports.count, 50)
        XCTAssertEqual(reports.maxPerFrame, 1)
        XCTAssertTrue(reports.errors.allSatisfy { $0 == .shutDown })
        XCTAssertEqual(a.counter("hotline_frames_undelivered_shutdown_total"), 50)
        XCTAssertThrowsError(try a.transport.send(.message, to: peer, onUndelivered: reports.handler(99), Self.payload(99)))
        XCTAssertEqual(reports.count, 50, "a send that throws is never reported")
    }

    func test_associationLost_reportsExactlyTheFramesNotCompletelyWritten() {
        // The peer state directly: frames gathered into a batch count as delivered only once fully written.
        var s = PeerState()
        let reports = Reports()
        for n in 0..<6 {
            let bytes = [UInt8](repeating: UInt8(n), count: 100)
            s.data.append(OutFrame(bytes: bytes, uid: 0, counted: true, onUndelivered: reports.handler(n)))
            s.queuedBytes += 100
        }
        let (batch, frames) = s.gather(limit: 350)
        XCTAssertEqual(frames, 3)
        s.partial = batch
        s.partialOffset = 250  // frames 0 and 1 written, frame 2 half written
        s.queuedBytes -= 250
        s.settlePartial()
        let dropped = s.dropAll()
        XCTAssertEqual(dropped.count, 4)
        for h in dropped.handlers { h(.nodeUnreachable(NodeAddress(host: localhost, port: 1), reason: "lost")) }
        XCTAssertEqual(reports.ids, [2, 3, 4, 5])
        XCTAssertEqual(s.queuedBytes, 0)
        XCTAssertTrue(s.dropAll().isEmpty, "dropped once only")
    }

    func test_associationLostWithFramesQueued_reportsThemAndCounts() throws {
        // b's loop stalls on the first frame, so a's 256 KiB frames pile up in a's queue; then a drops the link.
        let gate = DispatchSemaphore(value: 0)
        let stalled = Atomic<Bool>(false)
        let b = try startNode(recorder: TransportRecorder(onFrame: { _, _, _, _ in
            if !stalled.exchange(true, ordering: .relaxed) { _ = gate.wait(timeout: .now() + 10) }
        }))
        let a = try startNode()
        let reports = Reports()
        let big = [UInt8](repeating: 7, count: 256 << 10)
        try a.transport.send(.message, to: b.identity, Self.payload(0))
        transportWaitUntil("b stalled") { stalled.load(ordering: .relaxed) }
        var accepted = 0
        for n in 1...64 {
            do {
                try a.transport.send(.message, to: b.identity, onUndelivered: reports.handler(n)) {
                    Self.payload(n)(&$0)
                    $0.append(contentsOf: big)
                }
                accepted += 1
            } catch {
                break
            }
        }
        transportWaitUntil("a backlog") { a.transport.queuedBytes(to: b.identity.address) > 1 << 20 }
        a.transport.rejectMalformed(from: b.identity, reason: "test drops the link")
        transportWaitUntil("a reports the unwritten frames") { reports.count > 0 && a.transport.associatedPeers.isEmpty }
        gate.signal()
        XCTAssertEqual(reports.maxPerFrame, 1)
        XCTAssertEqual(a.counter("hotline_frames_undelivered_association_lost_total"), reports.count)
        XCTAssertLessThanOrEqual(reports.count, accepted)
        // The reported frames are the tail: everything after the first unreported... i.e. a suffix of the sends.
        let ids = reports.ids
        XCTAssertEqual(ids, Set((ids.min() ?? 1)...accepted))
        XCTAssertEqual(a.transport.queuedBytes(to: b.identity.address), 0)
    }

    // MARK: - 5. name resolution off the I/O thread

    func test_aNameThatNeverResolves_doesNotDelayOtherPeers_andItsDialFailsWithTheTimeout() throws {
        let release = DispatchSemaphore(value: 0)
        let asked = Mutex<[String]>([])
        var settings = fastBackoff()
        settings.resolveTimeout = .milliseconds(300)
        settings.resolveHost = { host in
            asked.withLock { $0.append(host) }
            // A DNS server that never answers (released at the end of the test; bounded at 30 s).
            _ = release.wait(timeout: .now() + 30)
            return .failed("released")
        }
        addTeardownBlock { for _ in 0..<4 { release.signal() } }
        let a = try startNode(settings: settings)
        let b = try startNode(recorder: TransportRecorder(onFrame: { t, kind, payload, from in
            if kind == .message { try? t.send(.reply, to: from) { $0.append(contentsOf: payload) } }
        }))
        let slow = NodeAddress(host: "never-answers.invalid", port: 7101)
        a.transport.associate(with: slow)

        var rtts: [Duration] = []
        for n in 0..<200 {
            let t0 = ContinuousClock.now
            try a.transport.send(.message, to: b.identity, Self.payload(n))
            guard transportWaitUntil("reply \(n)", timeout: .seconds(5), { a.recorder.frameCount == n + 1 }) else { break }
            rtts.append(ContinuousClock.now - t0)
        }
        XCTAssertEqual(rtts.count, 200)
        let p99 = rtts.sorted()[min(rtts.count - 1, rtts.count * 99 / 100)]
        XCTAssertLessThan(p99, .milliseconds(200), "p99 round trip while a name lookup hangs")
        XCTAssertEqual(a.recorder.frames.map { Self.number($0.payload) }, Array(0..<200))

        transportWaitUntil("the slow name's dial fails with the timeout reason") {
            a.recorder.dialFailed.contains { $0.0 == slow && $0.1.contains("name resolution timed out") }
        }
        XCTAssertEqual(asked.withLock { $0 }, ["never-answers.invalid"], "one lookup in flight per name; numeric addresses skip the resolver")
        XCTAssertEqual(a.counter("hotline_name_resolutions_total"), 1)
        XCTAssertGreaterThanOrEqual(a.counter("hotline_name_resolution_timeouts_total"), 1)
        XCTAssertEqual(a.transport.associatedPeers, [b.identity])
        a.transport.forget(slow)
    }

    /// Field report: four seeds whose names hung (each `getaddrinfo` blocked ~10 s) held every resolver slot,
    /// so a good seed's name was refused for 12 s, and the blocked threads starved the task pool.
    func test_severalHangingNames_leaveRoomForAGoodName_andDoNotStarveTasks() async throws {
        let release = DispatchSemaphore(value: 0)
        var settings = fastBackoff()
        settings.resolveTimeout = .milliseconds(300)
        settings.resolveHost = { host in
            if host == "good.test" { return .ipv4("127.0.0.1") }
            _ = release.wait(timeout: .now() + 30)  // hangs until the end of the test (bounded)
            return .failed("released")
        }
        addTeardownBlock { for _ in 0..<16 { release.signal() } }
        let a = try startNode(settings: settings)
        let b = try startNode()
        // More hanging names than the node's slots (8): waiters that time out free their slots.
        for i in 0..<10 { a.transport.associate(with: NodeAddress(host: "hang\(i).test", port: 7101)) }
        // Tasks still run promptly while ten lookups block their threads (2 cores).
        let t0 = ContinuousClock.now
        let answers = await withTaskGroup(of: Int.self) { group in
            for i in 0..<64 { group.addTask { await Task.yield(); return i } }
            return await group.reduce(0) { $0 + $1 }
        }
        XCTAssertEqual(answers, (0..<64).reduce(0, +))
        XCTAssertLessThan(ContinuousClock.now - t0, .milliseconds(500))
        // The good name resolves and associates.
        let good = NodeIdentity(address: NodeAddress(host: "good.test", port: b.identity.address.port), uid: b.identity.uid)
        // A non-seed dials when something is sent: keep sending (a send during backoff fails at once).
        XCTAssertTrue(transportWaitUntil("the good name associates", timeout: .seconds(5)) {
            _ = try? a.transport.send(.message, to: good, Self.payload(1))
            return a.transport.associatedPeers.contains { $0.uid == b.identity.uid }
        })
    }

    func test_resolvedNamesAreDialled_andFailuresAreCachedForTheNegativeTTL() throws {
        let asked = Mutex<[String]>([])
        var settings = fastBackoff()
        settings.resolveNegativeTTL = .seconds(60)
        settings.resolveHost = { host in
            asked.withLock { $0.append(host) }
            return host == "peer-b.test" ? .ipv4("127.0.0.1") : .failed("no such host \(host)")
        }
        let a = try startNode(settings: settings)
        let b = try startNode()
        let named = NodeIdentity(address: NodeAddress(host: "peer-b.test", port: b.identity.address.port), uid: 0)
        try a.transport.send(.message, to: named, Self.payload(1))
        transportWaitUntil("frame through the resolved name") { b.recorder.frameCount == 1 }

        let nx = NodeAddress(host: "nx.test", port: 7101)
        a.transport.associate(with: nx)
        transportWaitUntil("three failed dials to the unknown name") {
            a.recorder.dialFailed.filter { $0.0 == nx }.count >= 3
        }
        XCTAssertTrue(a.recorder.dialFailed.filter { $0.0 == nx }.allSatisfy { $0.1 == "no such host nx.test" })
        XCTAssertEqual(asked.withLock { $0 }.sorted(), ["nx.test", "peer-b.test"], "each name looked up once (cache)")
        XCTAssertEqual(a.counter("hotline_name_resolution_failures_total"), 1)
        a.transport.forget(nx)
    }

    func test_resolverCache_expiresEntries_andStaysBounded() {
        var cache = ResolverCache(capacity: 3, ttlNs: 1_000, negativeTTLNs: 100)
        cache.insert("a", .address(1), nowNs: 0)
        cache.insert("x", .failed("nx"), nowNs: 0)
        XCTAssertEqual(cache.lookup("a", nowNs: 500), .address(1))
        XCTAssertEqual(cache.lookup("x", nowNs: 50), .failed("nx"))
        XCTAssertNil(cache.lookup("x", nowNs: 100), "negative entries expire sooner")
        XCTAssertNil(cache.lookup("a", nowNs: 1_000))
        for i in 0..<10 { cache.insert("h\(i)", .address(UInt32(i)), nowNs: 2_000 + UInt64(i)) }
        XCTAssertEqual(cache.count, 3)
        XCTAssertEqual(cache.lookup("h9", nowNs: 2_100), .address(9))
        XCTAssertNil(cache.lookup("h0", nowNs: 2_100), "oldest evicted")
    }

    // MARK: - 6. unreachable peers

    func test_unreachableSeed_isRedialledForever_withAGaugeAndRateLimitedWarnings() throws {
        let port = try freePort()
        let seed = NodeAddress(host: localhost, port: port)
        var settings = fastBackoff()
        settings.unreachableLogInterval = .milliseconds(300)
        settings.giveUpUnreachableAfter = .milliseconds(50)  // applies to non-seeds only
        let a = try startNode(settings: settings)
        let t0 = ContinuousClock.now
        a.transport.associate(with: seed)
        transportWaitUntil("many failed redials over more than a second") {
            a.counter("hotline_dial_failures_total") >= 20 && ContinuousClock.now - t0 > .milliseconds(1_000)
        }
        // Logs first, then the clock: a warning logged in between cannot push the count above the bound.
        let warnings = a.logs.captured.filter { $0.contains("event=transport.peer.unreachable") }
        let elapsed = ContinuousClock.now - t0
        XCTAssertEqual(a.counter("hotline_peers_unreachable"), 1)
        XCTAssertEqual(a.counter("hotline_peers_given_up_total"), 0, "seeds are never given up")
        let info = try XCTUnwrap(a.transport.unreachablePeers.first)
        XCTAssertEqual(info.address, seed)
        XCTAssertTrue(info.isSeed)
        XCTAssertGreaterThanOrEqual(info.failedDials, 20)
        XCTAssertNil(info.sinceLastAssociationMs)
        let bound = Int(elapsed / .milliseconds(300)) + 1
        XCTAssertGreaterThanOrEqual(warnings.count, 2)
        XCTAssertLessThanOrEqual(warnings.count, bound, "rate-limited to one per 300 ms")
        XCTAssertTrue(warnings.allSatisfy { $0.contains("last_associated=never") && $0.contains("seed=true") }, "\(warnings)")
        XCTAssertTrue(warnings.last?.contains("attempts=") ?? false)

        let b = try startNode(port: port)
        transportWaitUntil("the seed comes up and is associated") { a.transport.associatedPeers == [b.identity] }
        XCTAssertEqual(a.counter("hotline_peers_unreachable"), 0)
        XCTAssertTrue(a.transport.unreachablePeers.isEmpty)
        a.transport.forget(seed)
    }

    func test_nonSeedPeer_isGivenUpAfterTheSetting_stateRemoved_andTheNextSendDialsAfresh() throws {
        let closed = NodeAddress(host: localhost, port: try freePort())
        let peer = NodeIdentity(address: closed, uid: 0)
        var settings = fastBackoff()
        settings.giveUpUnreachableAfter = .milliseconds(300)
        let a = try startNode(settings: settings)
        let reports = Reports()
        try a.transport.send(.message, to: peer, onUndelivered: reports.handler(1), Self.payload(1))
        transportWaitUntil("dial failed") { a.recorder.dialFailed.count == 1 }
        XCTAssertEqual(a.counter("hotline_peers_unreachable"), 1)
        XCTAssertEqual(a.transport.knownPeerCount, 1)
        transportWaitUntil("given up") { a.counter("hotline_peers_given_up_total") == 1 }
        XCTAssertEqual(a.transport.knownPeerCount, 0, "per-address state removed")
        XCTAssertEqual(a.counter("hotline_peers_unreachable"), 0)
        XCTAssertEqual(a.recorder.dialFailed.count, 1, "a non-seed is not redialled by itself")
        XCTAssertTrue(a.logs.captured.contains { $0.contains("event=transport.peer.given_up") && $0.contains("\(closed)") })

        // Something sends again: a fresh dial (accepted, not refused), which fails and is reported.
        try a.transport.send(.message, to: peer, onUndelivered: reports.handler(2), Self.payload(2))
        transportWaitUntil("second dial failed") { a.recorder.dialFailed.count == 2 }
        transportWaitUntil("both reported") { reports.ids == [1, 2] }
        // During the backoff that follows, sends fail at once.
        XCTAssertThrowsError(try a.transport.send(.message, to: peer, Self.payload(3))) { error in
            guard case .nodeUnreachable = error as? TransportError else { return XCTFail("\(error)") }
        }
    }

    func test_nonSeedPeerLostAfterAnAssociation_isForgottenOnceItsBackoffEnds() throws {
        let a = try startNode(settings: fastBackoff())
        let b = try startNode()
        try a.transport.send(.message, to: b.identity, Self.payload(1))
        transportWaitUntil("frame") { b.recorder.frameCount == 1 }
        XCTAssertEqual(a.transport.knownPeerCount, 1)
        b.transport.shutdown()
        transportWaitUntil("lost") { a.recorder.disassociated.count == 1 }
        transportWaitUntil("forgotten after the backoff") { a.transport.knownPeerCount == 0 }
        XCTAssertEqual(a.counter("hotline_peers_given_up_total"), 0)
    }
}
