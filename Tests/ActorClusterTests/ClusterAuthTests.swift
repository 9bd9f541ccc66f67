@testable import ActorCluster
import Distributed
import Foundation
import Glibc
import Synchronization
import XCTest

/// Cluster authentication end to end over loopback: members prove the shared secret in the handshake;
/// strangers (no secret, a wrong one, a replayed or forged handshake, a claimed identity) are refused and
/// counted, and a live association is never touched by an offer that has not proven the secret.
final class ClusterAuthTests: ClusterSystemTestCase {
    let secret = ClusterAuth.secrets(current: Array("a cluster secret of 32 bytes....".utf8), previous: nil)
    /// A system proving `auth`, redialling fast (restarts in the rotation test).
    private func node(_ name: String, auth: ClusterAuth, port: UInt16 = 0, seeds: [NodeAddress] = []) throws -> ClusterSystem {
        try makeSystem(name, auth: auth, port: port, seeds: seeds) { $0.transport.reconnectBackoffMax = .milliseconds(200) }
    }

    private func authFailures(_ s: ClusterSystem) -> Int { s.metrics.value("hotline_handshake_auth_failures_total") }

    private func expectRefused(_ caller: ClusterSystem, _ node: NodeIdentity, file: StaticString = #filePath,
                               line: UInt = #line) async {
        do {
            _ = try await NodeProbe.on(node, system: caller).info()
            XCTFail("a caller without the secret was served", file: file, line: line)
        } catch RemoteCallError.nodeUnreachable(_, let reason) {
            XCTAssertTrue(reason.contains("authFailed") || reason.contains("proof"), reason, file: file, line: line)
        } catch {
            XCTFail("expected nodeUnreachable, got \(error)", file: file, line: line)
        }
    }

    func test_wrongSecretAndNoSecretAreRefusedAndCountedOnBothSides() async throws {
        let member = try node("member", auth: secret)
        let probe = try NodeProbe.start(on: member, nodeName: "member")
        let friend = try node("friend", auth: secret)
        let served = try await NodeProbe.on(member.node, system: friend).info()
        XCTAssertEqual(served.name, "member")

        let wrong = try node("wrong", auth: .secrets(current: Array("another secret, not the cluster's".utf8), previous: nil))
        await expectRefused(wrong, member.node)
        XCTAssertEqual(authFailures(wrong), 1, "the dialer refused the acceptor's proof")
        let counted = await waitFor { self.authFailures(member) == 1 }
        XCTAssertTrue(counted, "the acceptor learns the secrets differ")

        let open = try node("open", auth: .open)
        await expectRefused(open, member.node)
        let counted2 = await waitFor { self.authFailures(member) == 2 }
        XCTAssertTrue(counted2, "an answer without a proof is refused and counted")

        // The member's own association never noticed.
        let again = try await NodeProbe.on(member.node, system: friend).info()
        XCTAssertEqual(again.name, "member")
        XCTAssertEqual(friend.metrics.value("hotline_disassociations_total"), 0)
        withExtendedLifetime(probe) {}
    }

    func test_anOfferClaimingALiveMembersIdentityChangesNothingWithoutTheSecret() async throws {
        let a = try node("a", auth: secret)
        let b = try node("b", auth: secret, seeds: [a.node.address])
        let probeA = try NodeProbe.start(on: a, nodeName: "a")
        let probeB = try NodeProbe.start(on: b, nodeName: "b")
        let associated = await waitFor { a.associatedNodes == [b.node] }
        XCTAssertTrue(associated)

        // Claim b's address with a new uid, then with b's real uid (readable from any node's info()).
        for claimed in [NodeIdentity(address: b.node.address, uid: 0xBAD), b.node] {
            let conn = try XCTUnwrap(TransportRawSocket.connect(to: a.node.address))
            let offer = Handshake.Offer(versions: 1...1, clusterName: "hotline", identity: claimed, nonce: ClusterAuth.makeNonce())
            conn.write(Wire.FrameParser.encode(.handshakeOffer, payload: offer.encode()))
            guard let (kind, _) = conn.readFrame() else { return XCTFail("no challenge") }
            XCTAssertEqual(kind, .handshakeChallenge)
            // No secret: a forged proof.
            conn.write(Wire.FrameParser.encode(.handshakeResponse,
                                               payload: Handshake.Response(proofs: [[UInt8](repeating: 0x42, count: 32)]).encode()))
            guard let (answer, payload) = conn.readFrame() else { return XCTFail("no answer") }
            XCTAssertEqual(answer, .handshakeReject)
            XCTAssertEqual(try Handshake.Reject.decode(payload[...]).reason, .authFailed)
        }
        XCTAssertEqual(authFailures(a), 2)
        // a still talks to the real b, over the same association.
        XCTAssertEqual(a.associatedNodes, [b.node])
        let info = try await NodeProbe.on(b.node, system: a).info()
        XCTAssertEqual(info.node, b.node)
        XCTAssertEqual(a.metrics.value("hotline_disassociations_total"), 0)
        withExtendedLifetime((probeA, probeB)) {}
    }

    /// A relay without the secret between a member and a node: the member dials the relay, the relay passes
    /// bytes through to the node. The member refuses (the node that answered is not the one it dialed), so
    /// the relay never gets an authenticated connection to inject calls into.
    func test_aRelayPassingAMembersHandshakeThroughIsRefusedByTheMember() async throws {
        let target = try node("node", auth: secret)
        let probe = try NodeProbe.start(on: target, nodeName: "node")
        let (listener, port) = try XCTUnwrap(TransportRawSocket.listen())
        let relayDone = Atomic<Bool>(false)
        nonisolated(unsafe) let relayListener = listener
        let pump = Thread {
            guard let inbound = relayListener.accept(timeoutMs: 5_000),
                  let outbound = TransportRawSocket.connect(to: target.node.address) else { return }
            let deadline = ContinuousClock.now + .seconds(5)
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while ContinuousClock.now < deadline, !relayDone.load(ordering: .relaxed) {
                var fds = [pollfd(fd: inbound.fd, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: outbound.fd, events: Int16(POLLIN), revents: 0)]
                guard poll(&fds, 2, 50) >= 0 else { break }
                for (i, (from, to)) in [(inbound, outbound), (outbound, inbound)].enumerated() where fds[i].revents != 0 {
                    let n = Glibc.read(from.fd, &buffer, buffer.count)
                    if n <= 0 { return }
                    _ = to.write(Array(buffer[0..<n]))
                }
            }
        }
        pump.start()
        defer { relayDone.store(true, ordering: .relaxed) }
        let member = try node("member", auth: secret)
        let viaRelay = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: port), uid: 0)
        do {
            _ = try await NodeProbe.on(viaRelay, system: member).info()
            XCTFail("the member associated through a relay")
        } catch RemoteCallError.nodeUnreachable(_, let reason) {
            XCTAssertTrue(reason.contains("authFailed") || reason.contains("answered"), reason)
        }
        XCTAssertEqual(authFailures(member), 1)
        XCTAssertEqual(target.associatedNodes, [], "the node never associated with anyone through the relay")
        withExtendedLifetime(probe) {}
    }

    func test_aRecordedHandshakeReplayedOnANewConnectionIsRefused() async throws {
        let a = try node("a", auth: secret)
        // Record a real member's offer and response (as an eavesdropper on the path would).
        let member = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 1), uid: 0x5EED)
        var machine = Handshake.Machine(role: .dialer, local: member, clusterName: "hotline", versions: 1...1, auth: secret)
        let offer = machine.makeOffer().encode()
        let first = try XCTUnwrap(TransportRawSocket.connect(to: a.node.address))
        first.write(Wire.FrameParser.encode(.handshakeOffer, payload: offer))
        let (k1, challenge) = try XCTUnwrap(first.readFrame())
        XCTAssertEqual(k1, .handshakeChallenge)
        guard case .send(_, let response) = machine.receive(k1, payload: challenge[...], phaseOf: { _ in .none }) else {
            return XCTFail("the member's machine did not answer")
        }
        first.write(Wire.FrameParser.encode(.handshakeResponse, payload: response))
        XCTAssertEqual(first.readFrame()?.0, .handshakeAccept, "the genuine exchange is accepted")
        // Replay both on a fresh connection: a's new nonce makes the old proof worthless.
        let replay = try XCTUnwrap(TransportRawSocket.connect(to: a.node.address))
        replay.write(Wire.FrameParser.encode(.handshakeOffer, payload: offer))
        XCTAssertEqual(replay.readFrame()?.0, .handshakeChallenge)
        replay.write(Wire.FrameParser.encode(.handshakeResponse, payload: response))
        guard let (kind, payload) = replay.readFrame() else { return XCTFail("no answer") }
        XCTAssertEqual(kind, .handshakeReject)
        XCTAssertEqual(try Handshake.Reject.decode(payload[...]).reason, .authFailed)
        withExtendedLifetime(first) {}
    }

    func test_rotation_aRollingRestartFromTheOldSecretToTheNewKeepsMembersTalking() async throws {
        let old = Array("the old cluster secret, 32 bytes".utf8), new = Array("the new cluster secret, 32 bytes".utf8)
        var a = try node("a", auth: .secrets(current: old, previous: nil))
        var b = try node("b", auth: .secrets(current: old, previous: nil))
        var pa = try NodeProbe.start(on: a, nodeName: "a")
        var pb = try NodeProbe.start(on: b, nodeName: "b")
        let (portA, portB) = (a.node.address.port, b.node.address.port)
        /// Both directions answer (a restarted peer's address backs off for a moment: retry within a deadline).
        func check(_ step: String) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while true {
                do {
                    let x = try await NodeProbe.on(b.node, system: a).info()
                    let y = try await NodeProbe.on(a.node, system: b).info()
                    XCTAssertEqual([x.name, y.name], ["b", "a"], step)
                    return
                } catch RemoteCallError.nodeUnreachable(_, let reason) where ContinuousClock.now < deadline {
                    XCTAssertFalse(reason.contains("authFailed"), "\(step): \(reason)")
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
        }
        try await check("before")
        // Step 1: restart each node with current = new, previous = old, one at a time.
        a.shutdown()
        a = try node("a", auth: .secrets(current: new, previous: old), port: portA)
        pa = try NodeProbe.start(on: a, nodeName: "a")
        try await check("a rotated, b not yet")
        b.shutdown()
        b = try node("b", auth: .secrets(current: new, previous: old), port: portB)
        pb = try NodeProbe.start(on: b, nodeName: "b")
        try await check("both rotated")
        // Step 2: drop the old secret, one at a time.
        a.shutdown()
        a = try node("a", auth: .secrets(current: new, previous: nil), port: portA)
        pa = try NodeProbe.start(on: a, nodeName: "a")
        try await check("a on the new secret only")
        // A node still on the old secret alone is now a stranger.
        let stale = try node("stale", auth: .secrets(current: old, previous: nil))
        await expectRefused(stale, a.node)
        withExtendedLifetime((pa, pb)) {}
    }

    private func waitFor(_ condition: @escaping () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }
}
