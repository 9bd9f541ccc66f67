import Distributed
import Foundation
import Glibc
import Synchronization
import XCTest
@testable import ActorCluster

// Node-wide budgets: each test replays one measured attack at small scale (small limits), then checks that the
// node is up, the limit held (its counter moved, the memory/queue figure stayed within the bound) and a
// legitimate member still gets through within a stated latency.

extension TransportRawSocket {
    /// A blocking socket with a tiny receive buffer (a reader that barely reads), connected to `address`.
    static func connectSlowReader(to address: NodeAddress) -> TransportRawSocket? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        let s = TransportRawSocket(fd: fd)
        var size: Int32 = 4096
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = address.port.bigEndian
        _ = inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return rc == 0 ? s : nil
    }

    /// Plays the dialer's side of an open (no secret) handshake by hand: offer out, challenge in, response out,
    /// accept in. The node then treats this socket as the member `identity`.
    func completeHandshakeAsDialer(as identity: NodeIdentity, cluster: String) -> Bool {
        var machine = Handshake.Machine(role: .dialer, local: identity, clusterName: cluster, versions: 1...1, auth: .open)
        guard write(Wire.FrameParser.encode(.handshakeOffer, payload: machine.makeOffer().encode())),
              let (challengeKind, challenge) = readFrame(),
              case .send(let kind, let response) = machine.receive(challengeKind, payload: challenge[...], phaseOf: { _ in .none }),
              write(Wire.FrameParser.encode(kind, payload: response)),
              let (acceptKind, accept) = readFrame(),
              case .established = machine.receive(acceptKind, payload: accept[...], phaseOf: { _ in .none }) else { return false }
        return true
    }
}

private let budgetFiller = [UInt8](repeating: 0x5A, count: 1 << 20)

final class BudgetTests: XCTestCase {
    private let cluster = "budget"

    private func startNode(_ settings: TransportSettings = .default, file: StaticString = #filePath,
                           line: UInt = #line) throws -> TransportTestNode {
        let metrics = Metrics()
        let logs = LogSink.capturing()
        let uid = NodeIdentity.randomUID()
        let recorder = TransportRecorder()
        let transport = Transport(clusterName: cluster, uid: uid, settings: settings,
                                  logger: Logger(level: .info, context: [("node", "\(uid)")], sink: logs), metrics: metrics)
        transport.setDelegate(recorder)
        addTeardownBlock { transport.shutdown() }
        let identity = try transport.start(listen: NodeAddress(host: "127.0.0.1", port: 0))
        return TransportTestNode(transport: transport, recorder: recorder, identity: identity, metrics: metrics, logs: logs)
    }

    private func rawIdentity(_ i: Int, host: String = "127.0.0.1") -> NodeIdentity {
        NodeIdentity(address: NodeAddress(host: host, port: UInt16(20_000 + i)), uid: NodeIdentity.randomUID())
    }

    /// `member` sends one message to `node` and it arrives within `within`.
    private func assertMessageArrives(from member: TransportTestNode, to node: TransportTestNode, within: Duration,
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let before = node.recorder.frameCount
        let t0 = ContinuousClock.now
        try member.transport.send(.message, to: node.identity) { $0.append(contentsOf: [1, 2, 3]) }
        transportWaitUntil("a member's frame arrives", timeout: within, file: file, line: line) {
            node.recorder.frameCount > before
        }
        XCTAssertLessThan(ContinuousClock.now - t0, within, file: file, line: line)
    }

    /// Writes `first`, waits (deadline) until the node has read it, then writes `more`: two reads on the node,
    /// so the second one sizes the buffer for the frame the first announced.
    private func dribble(_ raw: TransportRawSocket, to node: TransportTestNode, _ first: [UInt8], then more: [UInt8]) {
        let before = node.counter("hotline_bytes_in_total")
        raw.write(first)
        transportWaitUntil("the node read the first bytes") { node.counter("hotline_bytes_in_total") >= before + first.count }
        raw.write(more)
    }

    private func warnings(_ node: TransportTestNode, _ event: String) -> [String] {
        node.logs.captured.filter { $0.contains("level=warning") && $0.contains("event=\(event) ") }
    }

    // MARK: 8. Logger

    func test_logValuesFromTheNetworkAreEscaped_andTheRateLimiterCountsWhatItHolds() throws {
        let evil = "evil\u{1B}[2J\nts=0 level=error\u{202E}\u{7F}"
        let q = Logger.quote(evil)
        XCTAssertFalse(q.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "\u{202E}" })
        XCTAssertTrue(q.contains("\\u{1B}"), q)
        XCTAssertTrue(q.contains("\\n"), q)
        XCTAssertTrue(q.contains("\\u{202E}"), q)
        XCTAssertEqual(Logger.quote("铁东区"), "铁东区", "printable text stays readable")
        XCTAssertEqual(Logger.quote("a\\b"), "\"a\\\\b\"", "a backslash forces quoting, so escapes are unambiguous")

        let limiter = LogRateLimiter(interval: .seconds(10))
        XCTAssertEqual(limiter.admit("x", nowNs: 1_000), 0)
        for i in 1...5 { XCTAssertNil(limiter.admit("x", nowNs: 1_000 + UInt64(i) * 1_000_000_000)) }
        XCTAssertEqual(limiter.admit("y", nowNs: 2_000), 0, "keys are limited separately")
        XCTAssertEqual(limiter.admit("x", nowNs: 1_000 + 10_000_000_000), 5, "the next line tells how many were held")
        XCTAssertEqual(LogRateLimiter(interval: .zero).admit("x", nowNs: 1), 0)

        // On a live node: a stranger from a cluster whose name carries control characters (host names are
        // validated by the offer decoder; cluster names, paths, targets and reasons are not).
        let node = try startNode()
        let raw = try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))
        let claimed = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 1), uid: 42)
        let offer = Handshake.Offer(versions: 1...1, clusterName: "other\u{1B}]0;pwned\u{7}\nlevel=error", identity: claimed,
                                    nonce: ClusterAuth.makeNonce())
        raw.write(Wire.FrameParser.encode(.handshakeOffer, payload: offer.encode()))
        XCTAssertTrue(raw.waitClosed(timeoutMs: 2_000))
        transportWaitUntil("rejection logged") { !self.warnings(node, "transport.handshake.rejected").isEmpty }
        for line in node.logs.captured {
            XCTAssertFalse(line.dropLast().unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "\u{202E}" },
                           "raw control character in \(line.debugDescription)")
        }
        let line = warnings(node, "transport.handshake.rejected")[0]
        XCTAssertTrue(line.contains("u{1B}") && line.contains("pwned"), line)
    }

    func test_aFloodOfGarbageConnectionsLogsAtMostOneLinePerEventPerInterval_andEveryOneIsCounted() throws {
        let node = try startNode()
        let member = try startNode()
        try member.transport.send(.message, to: node.identity) { $0.append(0) }
        transportWaitUntil("member associated") { node.recorder.frameCount == 1 }
        let flood = 200
        for i in 0..<flood {
            let raw = try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))
            raw.write([0, 0, 0, 3, 0x7F, 1, 2])  // unknown kind
            XCTAssertTrue(raw.waitClosed(timeoutMs: 2_000), "garbage connection \(i) not closed")
        }
        transportWaitUntil("every one counted") { node.counter("hotline_frames_malformed_total") == flood }
        let lines = warnings(node, "transport.frame.malformed")
        XCTAssertEqual(lines.count, 1, "one line per 10 s; got \(lines.count)")
        try assertMessageArrives(from: member, to: node, within: .seconds(1))
    }

    // MARK: 1. Read buffers

    func test_membersAnnouncingLargeFramesAndSendingThemSlowly_areHeldToTheNodeWideReadBudget() throws {
        var settings = TransportSettings.default
        settings.maxFrameBytes = 1 << 20
        settings.maxReadBufferBytes = 1 << 20
        let node = try startNode(settings)
        let member = try startNode()
        try member.transport.send(.message, to: node.identity) { $0.append(0) }
        transportWaitUntil("member associated") { node.recorder.frameCount == 1 }

        // Four "members" each announce a 768 KiB frame and send 10 bytes of it.
        var slow: [TransportRawSocket] = []
        for i in 0..<4 {
            let raw = try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))
            XCTAssertTrue(raw.completeHandshakeAsDialer(as: rawIdentity(i), cluster: cluster))
            var header = [UInt8](repeating: 0, count: 5)
            Wire.FrameParser.writeHeader(into: &header, at: 0, kind: .message, payloadBytes: 768 << 10)
            dribble(raw, to: node, header + [UInt8](repeating: 1, count: 10), then: [UInt8](repeating: 1, count: 10))
            slow.append(raw)
            transportWaitUntil("connection \(i) sized or closed") {
                node.counter("hotline_read_budget_exceeded_total") == max(0, i) || node.metrics.value("hotline_read_buffer_bytes") >= 768 << 10
            }
        }
        transportWaitUntil("three over budget") { node.counter("hotline_read_budget_exceeded_total") == 3 }
        XCTAssertLessThanOrEqual(node.metrics.value("hotline_read_buffer_bytes"), 1 << 20)
        XCTAssertEqual(slow.filter { $0.waitClosed(timeoutMs: 300) }.count, 3, "the connections asking beyond are closed")
        XCTAssertEqual(warnings(node, "transport.limit.read_buffer").count, 1, "rate-limited")
        try assertMessageArrives(from: member, to: node, within: .seconds(1))
        slow.removeAll()
        transportWaitUntil("charge released") { node.metrics.value("hotline_read_buffer_bytes") == 0 }
    }

    func test_strangersHoldingPartialHandshakeFrames_useOnlyTheSmallHandshakeBudget() throws {
        var settings = TransportSettings.default
        settings.maxHandshakeReadBufferBytes = 160 << 10
        settings.handshakeTimeout = .seconds(30)
        let node = try startNode(settings)
        var strangers: [TransportRawSocket] = []
        for _ in 0..<5 {
            let raw = try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))
            var header = [UInt8](repeating: 0, count: 5)
            Wire.FrameParser.writeHeader(into: &header, at: 0, kind: .handshakeOffer, payloadBytes: 60 << 10)
            dribble(raw, to: node, header + Array("HTLN".utf8), then: [0, 1])
            strangers.append(raw)
        }
        transportWaitUntil("three strangers over budget") { node.counter("hotline_read_budget_exceeded_total") == 3 }
        XCTAssertLessThanOrEqual(node.metrics.value("hotline_handshake_read_buffer_bytes"), 160 << 10)
        XCTAssertEqual(node.metrics.value("hotline_read_buffer_bytes"), 0, "members' budget untouched")
        let member = try startNode()
        try assertMessageArrives(from: member, to: node, within: .seconds(2))
        withExtendedLifetime(strangers) {}
    }

    // MARK: 2. Outbound queues

    func test_slowConsumersAreHeldToTheNodeWideOutboundBudget_andDisconnectedWhenTheyStall() throws {
        var settings = TransportSettings.default
        settings.maxOutboundBytesPerPeer = 1 << 20
        settings.maxOutboundBytesTotal = 3 << 19  // 1.5 MiB
        settings.stalledPeerBytes = 256 << 10
        settings.stalledPeerTimeout = .seconds(1)
        settings.heartbeatInterval = .milliseconds(100)
        settings.idleTimeout = .seconds(30)
        let node = try startNode(settings)
        let member = try startNode()
        try member.transport.send(.message, to: node.identity) { $0.append(0) }
        transportWaitUntil("member associated") { node.recorder.frameCount == 1 }

        var consumers: [(TransportRawSocket, NodeIdentity)] = []
        for i in 0..<2 {
            let raw = try XCTUnwrap(TransportRawSocket.connectSlowReader(to: node.identity.address))
            let id = rawIdentity(i)
            XCTAssertTrue(raw.completeHandshakeAsDialer(as: id, cluster: cluster))
            consumers.append((raw, id))
        }
        transportWaitUntil("consumers associated") { node.transport.associatedPeers.count == 3 }
        let stalledAt = ContinuousClock.now
        var refusedTotal = 0
        /// Sends 64 KiB frames to `id` until its queue refuses one; true when one was refused.
        func fill(_ id: NodeIdentity) -> Bool {
            // Bounded: at most 400 frames of 64 KiB (the kernel takes some; the queue takes the rest).
            for _ in 0..<400 {
                do {
                    try node.transport.send(.message, to: id) { $0.append(contentsOf: budgetFiller[0..<(64 << 10)]) }
                } catch TransportError.outboundQueueFull {
                    return true
                } catch {
                    XCTFail("\(error)")
                    return false
                }
            }
            return false
        }
        let (first, second) = (consumers[0].1, consumers[1].1)
        if fill(first) { refusedTotal += 1 }
        // The second consumer is filled while the first is kept at its cap: on an idle host the I/O thread hands
        // the first one's queue to the kernel as it fills (its socket buffers grow to megabytes), and the second
        // then never met the node-wide budget (this test failed 3 of 4 runs so). Bounded: 400 frames of 64 KiB.
        var secondRefused = false
        for _ in 0..<400 where !secondRefused {
            _ = fill(first)
            do {
                try node.transport.send(.message, to: second) { $0.append(contentsOf: budgetFiller[0..<(64 << 10)]) }
            } catch TransportError.outboundQueueFull {
                secondRefused = true
            } catch {
                XCTFail("\(error)")
                break
            }
            XCTAssertLessThanOrEqual(node.metrics.value("hotline_outbound_queued_bytes"), (3 << 19) + (64 << 10))
        }
        if secondRefused { refusedTotal += 1 }
        XCTAssertEqual(refusedTotal, 2)
        XCTAssertGreaterThanOrEqual(node.counter("hotline_outbound_budget_exceeded_total"), 1, "the second consumer hit the node-wide budget")
        XCTAssertGreaterThanOrEqual(node.counter("hotline_send_queue_full_total"), 1, "the first hit its per-peer cap")

        // Both stopped reading. The node keeps having things to send them (topped up every 20 ms; the kernel's
        // send buffer takes some); they are closed after stalledPeerTimeout (1 s) + a heartbeat, memory released.
        let deadline = ContinuousClock.now + .seconds(5)
        while node.counter("hotline_peers_stalled_total") < 2, ContinuousClock.now < deadline {
            for (_, id) in consumers where node.transport.associatedPeers.contains(id) {
                for _ in 0..<64 {
                    do {
                        try node.transport.send(.message, to: id) { $0.append(contentsOf: budgetFiller[0..<(64 << 10)]) }
                    } catch {
                        break
                    }
                }
                XCTAssertLessThanOrEqual(node.metrics.value("hotline_outbound_queued_bytes"), (3 << 19) + (64 << 10))
            }
            usleep(20_000)
        }
        XCTAssertEqual(node.counter("hotline_peers_stalled_total"), 2)
        XCTAssertLessThan(ContinuousClock.now - stalledAt, .seconds(4))
        transportWaitUntil("queues released") { node.metrics.value("hotline_outbound_queued_bytes") < 1024 }
        for (raw, _) in consumers { XCTAssertTrue(raw.waitClosed(timeoutMs: 3_000)) }
        XCTAssertEqual(warnings(node, "transport.limit.stalled_peer").count, 1, "rate-limited")
        // The member never noticed, both ways.
        try assertMessageArrives(from: member, to: node, within: .seconds(1))
        try assertMessageArrives(from: node, to: member, within: .seconds(1))
        XCTAssertTrue(member.recorder.disassociated.isEmpty)
    }

    // MARK: 5. Dials

    func test_sendsThatWouldDialBeyondTheDialBudget_failAtOnce_andHoldNoDescriptor() throws {
        var settings = TransportSettings.default
        settings.maxDialsInFlight = 4
        settings.handshakeTimeout = .seconds(20)
        let node = try startNode(settings)
        let member = try startNode()
        try node.transport.send(.message, to: member.identity) { $0.append(0) }
        transportWaitUntil("member associated") { member.recorder.frameCount == 1 }

        // Listeners that never accept: the kernel completes the connect, the handshake then hangs.
        var blackHoles: [TransportRawSocket] = []
        for _ in 0..<10 { blackHoles.append(try XCTUnwrap(TransportRawSocket.listen()).0) }
        var refused = 0
        let t0 = ContinuousClock.now
        for hole in blackHoles {
            let target = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: hole.localPort), uid: 0)
            do {
                try node.transport.send(.message, to: target) { $0.append(1) }
            } catch TransportError.nodeUnreachable(_, let reason) {
                XCTAssertTrue(reason.contains("too many dials"), reason)
                refused += 1
            }
        }
        XCTAssertLessThan(ContinuousClock.now - t0, .milliseconds(500), "refusals are immediate")
        XCTAssertEqual(refused, 6)
        XCTAssertEqual(node.counter("hotline_dials_refused_total"), 6)
        XCTAssertLessThanOrEqual(node.metrics.value("hotline_dials_in_flight"), 4)
        transportWaitUntil("the four dials connected") { node.transport.connectionCount == 5 }
        XCTAssertEqual(node.transport.knownPeerCount, 5, "refused sends leave no per-address entry")
        XCTAssertEqual(warnings(node, "transport.limit.dials").count, 1, "rate-limited")
        try assertMessageArrives(from: node, to: member, within: .seconds(1))
        try assertMessageArrives(from: member, to: node, within: .seconds(1))
    }

    // MARK: 6. Per-address state

    func test_perAddressStateExistsOnlyForProvenPeers_isRemovedWhenTheyGo_andTheTableIsCapped() throws {
        // A node with a secret: strangers claiming many host names create nothing.
        var secured = TransportSettings.default
        secured.auth = .secrets(current: Array("budget-test-secret-0123456789".utf8), previous: nil)
        secured.limitLogInterval = .zero
        let guarded = try startNode(secured)
        for i in 0..<50 {
            let raw = try XCTUnwrap(TransportRawSocket.connect(to: guarded.identity.address))
            let offer = Handshake.Offer(versions: 1...1, clusterName: cluster, identity: rawIdentity(i, host: "claimed-\(i).example"),
                                        nonce: ClusterAuth.makeNonce())
            raw.write(Wire.FrameParser.encode(.handshakeOffer, payload: offer.encode()))
            guard let (kind, _) = raw.readFrame() else { return XCTFail("no challenge") }
            XCTAssertEqual(kind, .handshakeChallenge)
            XCTAssertEqual(guarded.transport.knownPeerCount, 0, "nothing before the proof")
            raw.write(Wire.FrameParser.encode(.handshakeResponse, payload: [1, 32] + [UInt8](repeating: 0, count: 32)))
            XCTAssertTrue(raw.waitClosed(timeoutMs: 2_000))
        }
        XCTAssertEqual(guarded.counter("hotline_handshake_auth_failures_total"), 50)
        XCTAssertEqual(guarded.transport.knownPeerCount, 0)

        // An open node (loopback): peers that did associate are forgotten when they go, and the table is capped.
        var settings = TransportSettings.default
        settings.maxPeerEntries = 20
        settings.reconnectBackoffInitial = .milliseconds(20)
        let node = try startNode(settings)
        var held: [TransportRawSocket] = []
        var rejected = 0
        for i in 0..<30 {
            let raw = try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))
            if raw.completeHandshakeAsDialer(as: rawIdentity(i, host: "10.9.\(i / 250).\(i % 250)"), cluster: cluster) {
                held.append(raw)
            } else {
                rejected += 1
            }
        }
        XCTAssertEqual(held.count, 20)
        XCTAssertEqual(rejected, 10)
        XCTAssertEqual(node.counter("hotline_peer_table_full_total"), 10)
        XCTAssertLessThanOrEqual(node.transport.knownPeerCount, 20)
        held.removeAll()
        transportWaitUntil("entries removed after they left", timeout: .seconds(5)) { node.transport.knownPeerCount == 0 }
        let member = try startNode()
        try assertMessageArrives(from: member, to: node, within: .seconds(1))
    }

    // MARK: 7. Connections

    func test_admission_keepsAShareForMembersAndAReserveForLoopback() {
        var s = TransportSettings.default
        s.maxConnections = 100
        s.maxHandshakingConnections = 25
        s.loopbackReservedConnections = 10
        XCTAssertEqual(Transport.admission(open: 10, handshaking: 5, loopback: false, settings: s), .admit)
        if case .evictOldestHandshaking = Transport.admission(open: 30, handshaking: 25, loopback: false, settings: s) {} else {
            XCTFail("a remote stranger beyond the share pushes out the oldest")
        }
        XCTAssertEqual(Transport.admission(open: 30, handshaking: 25, loopback: true, settings: s), .admit,
                       "loopback has 10 more handshaking slots")
        // Members fill the node: remote connections stop 10 short, loopback ones get the reserve.
        if case .refuse = Transport.admission(open: 90, handshaking: 0, loopback: false, settings: s) {} else {
            XCTFail("remote refused at maxConnections - reserve when no stranger can make room")
        }
        XCTAssertEqual(Transport.admission(open: 90, handshaking: 0, loopback: true, settings: s), .admit)
        if case .refuse = Transport.admission(open: 100, handshaking: 0, loopback: true, settings: s) {} else {
            XCTFail("loopback refused at maxConnections")
        }
        if case .evictOldestHandshaking = Transport.admission(open: 100, handshaking: 3, loopback: true, settings: s) {} else {
            XCTFail("at the cap a handshaking stranger makes room")
        }
    }

    /// The attack re-run: 600 strangers reconnecting as fast as they were closed (~15,000 a second) pushed
    /// out new members half-way through their handshake (3 of 8 failed). A connection that has sent a valid
    /// offer is now pushed out only when no connection that has not is left.
    func test_aConnectionThatSentAValidOfferOutlastsSilentNewcomers() throws {
        var settings = TransportSettings.default
        settings.auth = .secrets(current: Array("budget-test-secret-0123456789".utf8), previous: nil)
        settings.maxHandshakingConnections = 4
        settings.loopbackReservedConnections = 0
        settings.handshakeTimeout = .seconds(30)
        let node = try startNode(settings)
        var strangers: [TransportRawSocket] = []
        for _ in 0..<3 { strangers.append(try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))) }
        // A newcomer that offers (the first step of a member's handshake) and gets its challenge.
        let offering = try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))
        let offer = Handshake.Offer(versions: 1...1, clusterName: cluster, identity: NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 1), uid: 0xABC),
                                    nonce: ClusterAuth.makeNonce())
        offering.write(Wire.FrameParser.encode(.handshakeOffer, payload: offer.encode()))
        XCTAssertEqual(offering.readFrame()?.0, .handshakeChallenge)
        // Twenty silent newcomers: each pushes out a silent one, never the offering connection.
        for _ in 0..<20 { strangers.append(try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))) }
        transportWaitUntil("silent connections pushed out") { node.counter("hotline_connections_evicted_total") >= 20 }
        // Still open: its (wrong) response is answered with a reject, not a closed socket.
        offering.write(Wire.FrameParser.encode(.handshakeResponse, payload: Handshake.Response(proofs: [[UInt8](repeating: 1, count: 32)]).encode()))
        XCTAssertEqual(offering.readFrame()?.0, .handshakeReject)
        withExtendedLifetime(strangers) {}
    }

    func test_aFloodOfSilentStrangersNeverLocksOutAMember() throws {
        var settings = TransportSettings.default
        settings.auth = .secrets(current: Array("budget-test-secret-0123456789".utf8), previous: nil)
        settings.maxConnections = 40
        settings.maxHandshakingConnections = 10
        settings.loopbackReservedConnections = 4
        settings.handshakeTimeout = .seconds(30)
        let node = try startNode(settings)
        var strangers: [TransportRawSocket] = []
        for _ in 0..<60 { strangers.append(try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))) }
        transportWaitUntil("strangers beyond the share pushed out") { node.counter("hotline_connections_evicted_total") == 46 }
        XCTAssertEqual(node.metrics.value("hotline_connections_handshaking"), 14, "10 + the loopback reserve of 4")
        XCTAssertEqual(node.transport.connectionCount, 14)
        XCTAssertEqual(warnings(node, "transport.accept.evicted").count, 1, "rate-limited")

        // A member connects while the strangers hold on: its connection pushes out the oldest of them.
        var memberSettings = TransportSettings.default
        memberSettings.auth = settings.auth
        let member = try startNode(memberSettings)
        try assertMessageArrives(from: member, to: node, within: .seconds(1))
        // More strangers arrive: they push out strangers, never the member's association.
        for _ in 0..<30 { strangers.append(try XCTUnwrap(TransportRawSocket.connect(to: node.identity.address))) }
        transportWaitUntil("the newcomers pushed out strangers") { node.counter("hotline_connections_evicted_total") == 76 }
        try assertMessageArrives(from: member, to: node, within: .seconds(1))
        XCTAssertTrue(node.recorder.disassociated.isEmpty)
        XCTAssertLessThanOrEqual(node.metrics.value("hotline_connections_handshaking"), 14)
        XCTAssertEqual(node.transport.associatedPeers.count, 1)
        withExtendedLifetime(strangers) {}
    }
}

// MARK: - 3 and 4: inbound calls

final class CallBudgetTests: XCTestCase {
    private var systems: [ClusterSystem] = []
    private var probes: [NodeProbe] = []

    private func makeSystem(_ name: String, configure: (inout ClusterSettings) -> Void = { _ in }) throws -> (ClusterSystem, Metrics) {
        var s = ClusterSettings()
        s.nodeName = name
        s.listen = NodeAddress(host: "127.0.0.1", port: 0)
        configure(&s)
        let metrics = Metrics()
        let system = try ClusterSystem(settings: s, logger: Logger(level: .error), metrics: metrics)
        systems.append(system)
        probes.append(try NodeProbe.start(on: system, nodeName: name))
        return (system, metrics)
    }

    override func tearDown() {
        for s in systems { s.shutdown() }
        systems = []
        probes = []
    }

    private func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return }
            try? await Task.sleep(for: .milliseconds(2))
        }
        XCTAssertTrue(condition(), "timed out after \(timeout) waiting for: \(what)")
    }

    func test_pipelinedSlowCallsBeyondTheInFlightLimits_areAnsweredOverloadedAtOnce_andAMemberStillGetsThrough() async throws {
        let (b, bm) = try makeSystem("b") { s in
            s.maxInboundCallsInFlight = 8
            s.maxInboundCallsInFlightPerPeer = 4
        }
        let (a, _) = try makeSystem("a")
        let (c, _) = try makeSystem("c")
        let (d, _) = try makeSystem("d")
        let fromA = try NodeProbe.on(b.node, system: a)
        _ = try await fromA.echo([1])  // associated

        // A pipelines 50 slow calls: 4 run, 46 are refused at once.
        let t0 = ContinuousClock.now
        let outcomes = await withTaskGroup(of: String.self) { group -> [String] in
            for _ in 0..<50 {
                group.addTask {
                    do {
                        _ = try await fromA.sleep(milliseconds: 1_500)
                        return "ran"
                    } catch RemoteCallError.remoteOverloaded(_, let perCaller, let limit) {
                        return perCaller && limit == 4 ? "refused" : "refused-wrong-scope"
                    } catch {
                        return "other \(error)"
                    }
                }
            }
            var refusedBy: ContinuousClock.Instant?
            var all: [String] = []
            for await o in group {
                all.append(o)
                if all.filter({ $0 == "refused" }).count == 46, refusedBy == nil { refusedBy = .now }
                if refusedBy == nil, all.count == 46 { refusedBy = .now }
            }
            if let refusedBy { XCTAssertLessThan(refusedBy - t0, .milliseconds(1_000), "refusals do not wait for the slow calls") }
            return all
        }
        XCTAssertEqual(outcomes.filter { $0 == "ran" }.count, 4, "\(outcomes)")
        XCTAssertEqual(outcomes.filter { $0 == "refused" }.count, 46, "\(outcomes)")
        XCTAssertEqual(bm.value("hotline_calls_refused_overloaded_total"), 46)
        await waitUntil("released after the replies") { bm.value("hotline_calls_in_flight") == 0 }

        // A holds its 4, C holds 4 more: the node is full; D is refused (node scope); while A alone is full, C's
        // calls run, within 1 s.
        let fromC = try NodeProbe.on(b.node, system: c)
        let fromD = try NodeProbe.on(b.node, system: d)
        _ = try await fromC.echo([1])
        _ = try await fromD.echo([1])
        let slowA = (0..<4).map { _ in Task { try await fromA.sleep(milliseconds: 1_500) } }
        await waitUntil("A's four in flight") { bm.value("hotline_calls_in_flight") == 4 }
        let t1 = ContinuousClock.now
        let echoed = try await fromC.echo([9, 9])
        XCTAssertEqual(echoed, [9, 9])
        XCTAssertLessThan(ContinuousClock.now - t1, .seconds(1), "a member's call is not held up by another's backlog")
        await waitUntil("the echo released (after its reply)") { bm.value("hotline_calls_in_flight") == 4 }
        let slowC = (0..<4).map { _ in Task { try await fromC.sleep(milliseconds: 1_500) } }
        await waitUntil("eight in flight") { bm.value("hotline_calls_in_flight") == 8 }
        do {
            _ = try await fromD.echo([1])
            XCTFail("the ninth call in flight was admitted")
        } catch RemoteCallError.remoteOverloaded(let node, let perCaller, let limit) {
            XCTAssertEqual(node, b.node)
            XCTAssertFalse(perCaller)
            XCTAssertEqual(limit, 8)
        }
        for t in slowA + slowC { _ = try await t.value }
        await waitUntil("all released") { bm.value("hotline_calls_in_flight") == 0 }
        let after = try await fromD.echo([3])
        XCTAssertEqual(after, [3])
    }

    /// The attack re-run found 8 slow consumers pipelining 1 MiB echoes held ~300 MB: the arguments of
    /// admitted calls were not counted anywhere. Call frames in flight now have a node-wide byte budget.
    func test_largeArgumentsInFlightAreHeldToTheNodeWideByteBudget() async throws {
        let (b, bm) = try makeSystem("b") { s in s.maxInboundCallBytesInFlight = 1 << 20 }
        let (a, _) = try makeSystem("a")
        let slow = try b.makeWellKnown(path: "/test/slow-echo") { SlowEcho(actorSystem: b) }
        let fromA = try SlowEcho.resolve(id: slow.id, using: a)
        _ = try await fromA.echo(after: 0, [1])
        let payload = [UInt8](repeating: 7, count: 300_000)
        // Slow calls carrying 300 KB each: three fit in 1 MiB, the rest are refused at once, naming the bytes.
        let outcomes = await withTaskGroup(of: String.self) { group -> [String] in
            for i in 0..<8 {
                group.addTask {
                    do {
                        _ = try await fromA.echo(after: 800 + i, payload)
                        return "ran"
                    } catch RemoteCallError.remoteOverloaded(_, let perCaller, let limit) {
                        return !perCaller && limit == 1 << 20 ? "refused" : "refused-wrong-scope"
                    } catch {
                        return "other \(error)"
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(outcomes.filter { $0 == "ran" }.count, 3, "\(outcomes)")
        XCTAssertEqual(outcomes.filter { $0 == "refused" }.count, 5, "\(outcomes)")
        XCTAssertGreaterThanOrEqual(bm.value("hotline_calls_refused_overloaded_total"), 5)
        // Once they finish, a large call runs again.
        let again = try await fromA.echo(after: 0, payload)
        XCTAssertEqual(again, payload.count)
        withExtendedLifetime(slow) {}
    }

    func test_callEnvelopeCountsAreCapped_soDecodingNeverAllocatesMoreThanTheFrame() throws {
        func envelope(generics: Int = 0, arguments: Int = 0, baggage: [String: String] = [:]) -> [UInt8] {
            var bytes: [UInt8] = []
            CallEnvelope.encode(callID: 1, recipientPath: "/system/probe", target: "t",
                                generics: Array(repeating: "Si", count: generics),
                                arguments: Array(repeating: [], count: arguments), baggage: baggage, into: &bytes)
            return bytes
        }
        XCTAssertEqual(try CallEnvelope.decode(envelope(generics: 16, arguments: 64)[...]).arguments.count, 64)
        XCTAssertThrowsError(try CallEnvelope.decode(envelope(arguments: 65)[...]))
        XCTAssertThrowsError(try CallEnvelope.decode(envelope(generics: 17)[...]))
        var many: [String: String] = [:]
        for i in 0..<33 { many["k\(i)"] = "v" }
        XCTAssertThrowsError(try CallEnvelope.decode(envelope(baggage: many)[...]))
        XCTAssertThrowsError(try CallEnvelope.decode(envelope(baggage: ["k": String(repeating: "x", count: 4_096)])[...]))
        XCTAssertNoThrow(try CallEnvelope.decode(envelope(baggage: ["k": String(repeating: "x", count: 4_000)])[...]))

        // The measured attack: a 1 MiB frame declaring a million empty arguments is refused before any allocation
        // proportional to the count (it used to cost ~32 bytes per declared argument).
        var bomb = envelope()
        bomb.removeLast()  // argument count 0
        var w = Wire.ByteWriter(appendingTo: bomb)
        w.writeVarint(1_000_000)
        bomb = w.bytes + [UInt8](repeating: 0, count: 1_000_000)
        let t0 = ContinuousClock.now
        XCTAssertThrowsError(try CallEnvelope.decode(bomb[...])) { error in
            XCTAssertTrue("\(error)".contains("argument count"), "\(error)")
        }
        XCTAssertLessThan(ContinuousClock.now - t0, .milliseconds(50))
        XCTAssertThrowsError(try CallEnvelope.checkLimits(generics: 0, arguments: 65, baggage: [:]))
        XCTAssertNoThrow(try CallEnvelope.checkLimits(generics: 16, arguments: 64, baggage: ["k": "v"]))
    }

    func test_aCallFrameDeclaringMillionsOfArguments_closesOnlyThatConnection_andMembersCallOn() async throws {
        let (b, bm) = try makeSystem("b")
        let (a, _) = try makeSystem("a")
        let fromA = try NodeProbe.on(b.node, system: a)
        _ = try await fromA.echo([1])
        // A raw member (open loopback node) sends the bomb.
        guard let raw = TransportRawSocket.connect(to: b.node.address) else { return XCTFail("connect") }
        let id = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 20_999), uid: NodeIdentity.randomUID())
        XCTAssertTrue(raw.completeHandshakeAsDialer(as: id, cluster: b.settings.clusterName))
        var payload: [UInt8] = []
        CallEnvelope.encode(callID: 1, recipientPath: "/system/probe", target: "t", generics: [], arguments: [],
                            baggage: [:], into: &payload)
        payload.removeLast()
        var w = Wire.ByteWriter(appendingTo: payload)
        w.writeVarint(4_000_000)
        payload = w.bytes + [UInt8](repeating: 0, count: 4_000_000)
        raw.write(Wire.FrameParser.encode(.call, payload: payload))
        XCTAssertTrue(raw.waitClosed(timeoutMs: 5_000), "the sender of the bomb is disconnected")
        await waitUntil("counted malformed") { bm.value("hotline_frames_malformed_total") == 1 }
        let t0 = ContinuousClock.now
        let echoed = try await fromA.echo([5])
        XCTAssertEqual(echoed, [5])
        XCTAssertLessThan(ContinuousClock.now - t0, .seconds(1))
        // And a sender never emits what a receiver would refuse.
        var many: [String: String] = [:]
        for i in 0..<40 { many["k\(i)"] = "v" }
        do {
            _ = try await ClusterSystem.CallBaggage.$current.withValue(many) { try await fromA.echo([1]) }
            XCTFail("baggage above the cap was sent")
        } catch RemoteCallError.invocationFailed(let why) {
            XCTAssertTrue(why.contains("baggage"), why)
        }
    }
}

/// Answers after a delay with the size of what it was given: calls that hold their argument for a while.
distributed actor SlowEcho {
    typealias ActorSystem = ClusterSystem
    distributed func echo(after milliseconds: Int, _ payload: [UInt8]) async throws -> Int {
        try await Task.sleep(for: .milliseconds(milliseconds))
        return payload.count
    }
}
