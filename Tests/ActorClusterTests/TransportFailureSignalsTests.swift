import CEpoll
import Glibc
import Synchronization
import XCTest
@testable import ActorCluster

/// What the membership layer needs from the transport: whether a dial was refused, dialling at once during a
/// backoff (`dialNow`), and fault injection for partitions (`setBlockedPeers`). Real transports on loopback.
final class TransportFailureSignalsTests: XCTestCase {
    private let localhost = "127.0.0.1"

    private func startNode(settings: TransportSettings = .default, port: UInt16 = 0) throws -> TransportTestNode {
        try startTransportNode(settings: settings, port: port)
    }

    private func freePort() throws -> UInt16 { try freeLoopbackPort() }

    private static func payload(_ n: Int) -> (inout [UInt8]) -> Void {
        { $0.append(contentsOf: withUnsafeBytes(of: UInt32(n).bigEndian, Array.init)) }
    }

    private static func numbers(_ frames: [TransportRecorder.Frame]) -> [Int] {
        frames.map { $0.payload.prefix(4).reduce(0) { $0 << 8 | Int($1) } }
    }

    /// The errors each undelivered frame was reported with.
    final class Undelivered: Sendable {
        let errors = Mutex<[Int: TransportError]>([:])
        func handler(_ id: Int) -> UndeliveredHandler { { e in self.errors.withLock { $0[id] = e } } }
        subscript(_ id: Int) -> TransportError? { errors.withLock { $0[id] } }
    }

    // MARK: - refused

    func test_aDialToAClosedPort_isRefused_inTheDelegate_theUndeliveredReport_andTheBackoffError() throws {
        let closed = NodeAddress(host: localhost, port: try freePort())
        let a = try startNode()
        let undelivered = Undelivered()
        try a.transport.send(.message, to: NodeIdentity(address: closed, uid: 0), onUndelivered: undelivered.handler(1), Self.payload(1))
        transportWaitUntil("dial failed") { a.recorder.dialFailed.count == 1 && undelivered[1] != nil }
        XCTAssertEqual(a.recorder.dialRefused, [true])
        XCTAssertEqual(a.recorder.dialFailed.first?.1, Socket.connectRefusedReason)
        XCTAssertEqual(undelivered[1]?.isConnectionRefused, true, "\(String(describing: undelivered[1]))")
        XCTAssertThrowsError(try a.transport.send(.message, to: NodeIdentity(address: closed, uid: 0), Self.payload(2))) { error in
            XCTAssertEqual((error as? TransportError)?.isConnectionRefused, true, "backing off after a refusal: \(error)")
        }
    }

    func test_aHandshakeTimeout_aNameThatDoesNotResolve_andAHandshakeReject_areNotRefused() throws {
        var settings = TransportSettings.default
        settings.handshakeTimeout = .milliseconds(200)
        settings.resolveHost = { _ in .failed("no such host") }
        let a = try startNode(settings: settings)
        let undelivered = Undelivered()
        // Something listens but never answers the offer.
        let (silent, silentPort) = try XCTUnwrap(TransportRawSocket.listen())
        try a.transport.send(.message, to: NodeIdentity(address: NodeAddress(host: localhost, port: silentPort), uid: 0),
                             onUndelivered: undelivered.handler(1), Self.payload(1))
        let held = silent.accept(timeoutMs: 5_000)
        XCTAssertNotNil(held)
        try a.transport.send(.message, to: NodeIdentity(address: NodeAddress(host: "nx.test", port: 1), uid: 0),
                             onUndelivered: undelivered.handler(2), Self.payload(2))
        // A node of another cluster rejects the offer.
        let other = try { () throws -> TransportTestNode in
            let metrics = Metrics()
            let t = Transport(clusterName: "other", uid: NodeIdentity.randomUID(), logger: Logger(level: .error), metrics: metrics)
            addTeardownBlock { t.shutdown() }
            let id = try t.start(listen: NodeAddress(host: localhost, port: 0))
            return TransportTestNode(transport: t, recorder: TransportRecorder(), identity: id, metrics: metrics, logs: .capturing())
        }()
        try a.transport.send(.message, to: other.identity, onUndelivered: undelivered.handler(3), Self.payload(3))
        transportWaitUntil("three dials failed") { a.recorder.dialFailed.count == 3 && undelivered[3] != nil }
        let reasons = a.recorder.dialFailed.map(\.1)
        XCTAssertTrue(reasons.contains { $0.contains("handshake timed out") }, "\(reasons)")
        XCTAssertTrue(reasons.contains("no such host"), "\(reasons)")
        XCTAssertTrue(reasons.contains { $0.contains("clusterMismatch") || $0.contains("rejected") }, "\(reasons)")
        XCTAssertEqual(a.recorder.dialRefused, [false, false, false])
        for id in 1...3 { XCTAssertEqual(undelivered[id]?.isConnectionRefused, false, "frame \(id): \(String(describing: undelivered[id]))") }
    }

    func test_aNonBlockingConnectToAClosedPort_failsWithECONNREFUSED_atOnceOrWhenItCompletes() throws {
        let port = try freePort()
        let fd = cepoll_tcp_socket()
        XCTAssertGreaterThanOrEqual(fd, 0)
        let socket = SocketHandle(fd: fd, token: 0)
        var loopback = in_addr()
        _ = inet_pton(AF_INET, localhost, &loopback)
        switch Socket.startConnect(fd: socket.fd, to: loopback, port: port) {
        case .failed(let e, _):
            XCTAssertEqual(e, ECONNREFUSED, "the immediate-failure path")
        case .inProgress:
            var p = pollfd(fd: socket.fd, events: Int16(POLLOUT), revents: 0)
            XCTAssertEqual(poll(&p, 1, 5_000), 1)
            XCTAssertEqual(Socket.pendingError(fd: socket.fd), ECONNREFUSED, "the completion path")
        case .connected:
            XCTFail("nothing listens there")
        }
        // Both paths make the same reason, which is what `isConnectionRefused` recognises.
        XCTAssertEqual(Socket.connectFailureReason(ECONNREFUSED), Socket.connectRefusedReason)
        XCTAssertNotEqual(Socket.connectFailureReason(ETIMEDOUT), Socket.connectRefusedReason)
        let address = NodeAddress(host: localhost, port: port)
        XCTAssertTrue(TransportError.nodeUnreachable(address, reason: "dial failed: \(Socket.connectRefusedReason)").isConnectionRefused)
        XCTAssertFalse(TransportError.nodeUnreachable(address, reason: "dial failed: handshake timed out after 2 s").isConnectionRefused)
        XCTAssertFalse(TransportError.shutDown.isConnectionRefused)
    }

    // MARK: - dialNow

    func test_dialNow_duringTheBackoff_dialsAtOnce_andFindsWhetherAnythingListensThere() throws {
        var settings = TransportSettings.default
        settings.reconnectBackoffInitial = .seconds(30)
        settings.reconnectBackoffMax = .seconds(30)
        let port = try freePort()
        let address = NodeAddress(host: localhost, port: port)
        let a = try startNode(settings: settings)
        try a.transport.send(.message, to: NodeIdentity(address: address, uid: 0), Self.payload(1))
        transportWaitUntil("first dial refused") { a.recorder.dialFailed.count == 1 }
        // Without dialNow the 30 s backoff holds; with it the address is dialled at once.
        XCTAssertThrowsError(try a.transport.send(.message, to: NodeIdentity(address: address, uid: 0), Self.payload(2)))
        try a.transport.send(.message, to: NodeIdentity(address: address, uid: 0), dialNow: true, Self.payload(3))
        transportWaitUntil("second dial refused, long before the backoff ends", timeout: .seconds(5)) {
            a.recorder.dialFailed.count == 2
        }
        XCTAssertEqual(a.recorder.dialRefused, [true, true])
        XCTAssertGreaterThanOrEqual(a.counter("hotline_reconnect_attempts_total"), 1)

        // Now something listens there: a probe with dialNow finds it at once.
        let b = try startNode(settings: settings, port: port)
        try a.transport.send(.message, to: NodeIdentity(address: address, uid: 0), dialNow: true, Self.payload(4))
        transportWaitUntil("associated and delivered", timeout: .seconds(5)) { Self.numbers(b.recorder.frames) == [4] }

        // After a lost association the same: b is gone, the probe learns it at once.
        b.transport.shutdown()
        transportWaitUntil("lost") { a.recorder.disassociated.count == 1 }
        XCTAssertThrowsError(try a.transport.send(.message, to: b.identity, Self.payload(5)))
        try a.transport.send(.message, to: b.identity, dialNow: true, Self.payload(6))
        transportWaitUntil("refused at once", timeout: .seconds(5)) { a.recorder.dialFailed.count == 3 }
        XCTAssertEqual(a.recorder.dialRefused, [true, true, true])
    }

    func test_dialNow_changesNothingWhenAssociatedOrAlreadyDialling() throws {
        let a = try startNode()
        let b = try startNode()
        try a.transport.send(.message, to: b.identity, dialNow: true, Self.payload(1))
        try a.transport.send(.message, to: b.identity, dialNow: true, Self.payload(2))
        transportWaitUntil("both delivered") { Self.numbers(b.recorder.frames) == [1, 2] }
        try a.transport.send(.message, to: b.identity, dialNow: true, Self.payload(3))
        transportWaitUntil("third delivered") { Self.numbers(b.recorder.frames) == [1, 2, 3] }
        XCTAssertEqual(a.counter("hotline_associations_total"), 1)
        XCTAssertEqual(a.transport.connectionCount, 1)
    }

    // MARK: - fault injection

    private func partitionSettings() -> TransportSettings {
        var s = TransportSettings.default
        s.faultInjection = true
        s.heartbeatInterval = .milliseconds(50)
        s.idleTimeout = .milliseconds(500)
        s.handshakeTimeout = .milliseconds(300)
        s.reconnectBackoffInitial = .milliseconds(10)
        s.reconnectBackoffMax = .milliseconds(40)
        return s
    }

    func test_setBlockedPeers_throwsUnlessFaultInjectionIsOn() throws {
        let a = try startNode()
        XCTAssertThrowsError(try a.transport.setBlockedPeers([NodeAddress(host: localhost, port: 1)])) { error in
            XCTAssertEqual(error as? TransportError, .faultInjectionDisabled)
        }
        XCTAssertThrowsError(try a.transport.setBlockedPeers([]))
        var settings = TransportSettings.default
        settings.faultInjection = true
        let b = try startNode(settings: settings)
        XCTAssertNoThrow(try b.transport.setBlockedPeers([NodeAddress(host: localhost, port: 1)]))
        XCTAssertNoThrow(try b.transport.setBlockedPeers([]))
    }

    func test_aPartitionBothWays_dropsEveryFrame_endsTheAssociationByIdleTimeout_newDialsTimeOut_andHealing() throws {
        let a = try startNode(settings: partitionSettings())
        let b = try startNode(settings: partitionSettings())
        try a.transport.send(.message, to: b.identity, Self.payload(1))
        transportWaitUntil("a → b") { Self.numbers(b.recorder.frames) == [1] }
        try b.transport.send(.message, to: a.identity, Self.payload(101))
        transportWaitUntil("b → a") { Self.numbers(a.recorder.frames) == [101] }

        try a.transport.setBlockedPeers([b.identity.address])
        try b.transport.setBlockedPeers([a.identity.address])
        // Accepted (the partition is not known to the sender), never delivered, never reported.
        let undelivered = Undelivered()
        try a.transport.send(.message, to: b.identity, onUndelivered: undelivered.handler(2), Self.payload(2))
        try b.transport.send(.message, to: a.identity, Self.payload(102))
        transportWaitUntil("both sides idle out") {
            a.recorder.disassociated.count == 1 && b.recorder.disassociated.count == 1
        }
        XCTAssertTrue(a.recorder.disassociated[0].1.contains("nothing received"), "\(a.recorder.disassociated)")
        XCTAssertTrue(b.recorder.disassociated[0].1.contains("nothing received"), "\(b.recorder.disassociated)")
        XCTAssertEqual(a.counter("hotline_idle_timeouts_total"), 1)
        XCTAssertEqual(b.counter("hotline_idle_timeouts_total"), 1)
        XCTAssertNil(undelivered[2], "a frame lost in a partition is not reported")

        // A new dial across the partition: TCP connects, the handshake is lost, it times out; nothing is refused.
        transportWaitUntil("a can send again (backoff over)") {
            (try? a.transport.send(.message, to: b.identity, onUndelivered: undelivered.handler(3), Self.payload(3))) != nil
        }
        transportWaitUntil("the dial failed") { a.recorder.dialFailed.count == 1 && undelivered[3] != nil }
        XCTAssertTrue(a.recorder.dialFailed[0].1.contains("handshake timed out"), "\(a.recorder.dialFailed)")
        XCTAssertEqual(a.recorder.dialRefused, [false])
        XCTAssertEqual(undelivered[3]?.isConnectionRefused, false)
        XCTAssertEqual(Self.numbers(a.recorder.frames), [101])
        XCTAssertEqual(Self.numbers(b.recorder.frames), [1])
        XCTAssertGreaterThanOrEqual(a.counter("hotline_fault_injection_dropped_total"), 3, "frame 2, heartbeats, the offer")
        XCTAssertGreaterThanOrEqual(b.counter("hotline_fault_injection_dropped_total"), 2, "frame 102, heartbeats")
        XCTAssertTrue(b.recorder.dialFailed.isEmpty && b.recorder.associated.count == 1)

        // Healed: everything flows again.
        try a.transport.setBlockedPeers([])
        try b.transport.setBlockedPeers([])
        transportWaitUntil("a → b after healing") {
            _ = try? a.transport.send(.message, to: b.identity, Self.payload(4))
            return Self.numbers(b.recorder.frames).contains(4)
        }
        try b.transport.send(.message, to: a.identity, Self.payload(104))
        transportWaitUntil("b → a after healing") { Self.numbers(a.recorder.frames).last == 104 }
        XCTAssertEqual(Self.numbers(b.recorder.frames).first, 1)
        XCTAssertFalse(Self.numbers(b.recorder.frames).contains(2), "frames lost in the partition stay lost")
        XCTAssertFalse(Self.numbers(a.recorder.frames).contains(102))
    }

    func test_blockingOnePeer_leavesTheOthersAlone_andItsOwnDialsInTimeOut() throws {
        let a = try startNode(settings: partitionSettings())
        let b = try startNode(settings: partitionSettings())
        let c = try startNode(settings: partitionSettings())
        try a.transport.setBlockedPeers([b.identity.address])
        try a.transport.send(.message, to: c.identity, Self.payload(1))
        try c.transport.send(.message, to: a.identity, Self.payload(201))
        transportWaitUntil("a ↔ c") { Self.numbers(c.recorder.frames) == [1] && Self.numbers(a.recorder.frames) == [201] }
        // b (which blocks nothing) dials a: a drops b's offer, so b's dial fails; it is not refused.
        try b.transport.send(.message, to: a.identity, Self.payload(301))
        transportWaitUntil("b's dial failed") { b.recorder.dialFailed.count == 1 }
        XCTAssertEqual(b.recorder.dialRefused, [false])
        XCTAssertFalse(a.recorder.associated.contains { $0.address == b.identity.address })
        XCTAssertFalse(Self.numbers(a.recorder.frames).contains(301))
        XCTAssertGreaterThanOrEqual(a.counter("hotline_fault_injection_dropped_total"), 1, "b's offer")
        // a ↔ c still flows.
        try a.transport.send(.message, to: c.identity, Self.payload(2))
        transportWaitUntil("a → c still") { Self.numbers(c.recorder.frames) == [1, 2] }
        XCTAssertEqual(a.transport.associatedPeers, [c.identity])
    }
}
