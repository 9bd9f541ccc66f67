import XCTest
@testable import ActorCluster

final class HandshakeTests: XCTestCase {
    private let a = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 7101), uid: 0x10)
    private let b = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 7102), uid: 0x20)

    private func machine(_ role: Handshake.Machine.Role, local: NodeIdentity, cluster: String = "c",
                         versions: ClosedRange<UInt16> = 1...1,
                         verify: @escaping @Sendable ([UInt8], NodeIdentity) -> Bool = { _, _ in true }) -> Handshake.Machine {
        Handshake.Machine(role: role, local: local, clusterName: cluster, versions: versions, authProof: [1, 2],
                          verifyProof: verify)
    }

    // MARK: codecs

    func test_offer_roundTrips() throws {
        let offer = Handshake.Offer(versions: 1...3, clusterName: "prod-ü", identity: a, authProof: [0xDE, 0xAD])
        let bytes = offer.encode()
        XCTAssertEqual(Array(bytes.prefix(4)), Array("HTLN".utf8))
        XCTAssertEqual(Array(bytes[4..<8]), [0, 1, 0, 3])
        XCTAssertEqual(try Handshake.Offer.decode(bytes[...]), offer)
        // Reserved trailing bytes are ignored.
        XCTAssertEqual(try Handshake.Offer.decode((bytes + [9, 9, 9])[...]), offer)
        let empty = Handshake.Offer(versions: 1...1, clusterName: "", identity: a, authProof: [])
        XCTAssertEqual(try Handshake.Offer.decode(empty.encode()[...]), empty)
    }

    func test_accept_roundTrips() throws {
        let accept = Handshake.Accept(version: 2, identity: b, authProof: Array(repeating: 5, count: 300))
        XCTAssertEqual(try Handshake.Accept.decode(accept.encode()[...]), accept)
        XCTAssertEqual(Array(accept.encode().prefix(2)), [0, 2])
    }

    func test_reject_roundTrips_forEveryReason() throws {
        let reasons: [Handshake.RejectReason] = [.badMagic, .noCommonVersion, .clusterMismatch, .authFailed, .duplicate,
                                                 .shuttingDown, .malformed, .other(200)]
        for (i, reason) in reasons.enumerated() {
            let reject = Handshake.Reject(reason, "why \(i)")
            let bytes = reject.encode()
            XCTAssertEqual(bytes[0], reason.code)
            XCTAssertEqual(try Handshake.Reject.decode(bytes[...]), reject)
            XCTAssertEqual(Handshake.RejectReason(code: reason.code), reason)
        }
        XCTAssertEqual(Handshake.RejectReason.badMagic.code, 1)
        XCTAssertEqual(Handshake.RejectReason.shuttingDown.code, 6)
    }

    func test_everyTruncation_ofEachPayload_throws() {
        let offer = Handshake.Offer(versions: 1...2, clusterName: "cluster", identity: a, authProof: [1, 2, 3]).encode()
        for n in 0..<offer.count {
            XCTAssertThrowsError(try Handshake.Offer.decode(offer[..<n]), "offer prefix \(n)")
        }
        let accept = Handshake.Accept(version: 1, identity: b, authProof: [4]).encode()
        for n in 0..<accept.count {
            XCTAssertThrowsError(try Handshake.Accept.decode(accept[..<n]), "accept prefix \(n)")
        }
        let reject = Handshake.Reject(.duplicate, "text").encode()
        for n in 0..<reject.count {
            XCTAssertThrowsError(try Handshake.Reject.decode(reject[..<n]), "reject prefix \(n)")
        }
    }

    func test_garbagePayloads_throw() {
        XCTAssertThrowsError(try Handshake.Offer.decode(Array("GET / HTTP/1.1\r\n".utf8)[...])) { error in
            XCTAssertEqual(error as? Handshake.OfferError, .badMagic)
        }
        XCTAssertThrowsError(try Handshake.Offer.decode([][...]))
        // Right magic, min > max.
        XCTAssertThrowsError(try Handshake.Offer.decode((Handshake.magic + [0, 2, 0, 1, 0])[...])) { error in
            guard case .malformed = error as? Handshake.OfferError else { return XCTFail("\(error)") }
        }
        // Invalid UTF-8 cluster name.
        XCTAssertThrowsError(try Handshake.Offer.decode((Handshake.magic + [0, 1, 0, 1, 2, 0xC3, 0x28])[...]))
        // Overlong varint length.
        XCTAssertThrowsError(try Handshake.Offer.decode((Handshake.magic + [0, 1, 0, 1] + Array(repeating: 0xFF, count: 11))[...]))
        // uid 0 is reserved.
        let zeroUID = Handshake.Accept(version: 1, identity: NodeIdentity(address: b.address, uid: 0), authProof: []).encode()
        XCTAssertThrowsError(try Handshake.Accept.decode(zeroUID[...]))
        // Empty host.
        let noHost = Handshake.Accept(version: 1, identity: NodeIdentity(address: NodeAddress(host: "", port: 1), uid: 1), authProof: []).encode()
        XCTAssertThrowsError(try Handshake.Accept.decode(noHost[...]))
        // Trailing bytes after an accept / reject.
        XCTAssertThrowsError(try Handshake.Accept.decode((Handshake.Accept(version: 1, identity: b, authProof: []).encode() + [0])[...]))
        XCTAssertThrowsError(try Handshake.Reject.decode((Handshake.Reject(.duplicate, "").encode() + [0])[...]))
        // Random bytes never trap.
        var rng = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? Handshake.Offer.decode(bytes[...])
            _ = try? Handshake.Offer.decode((Handshake.magic + bytes)[...])
            _ = try? Handshake.Accept.decode(bytes[...])
            _ = try? Handshake.Reject.decode(bytes[...])
        }
    }

    // MARK: negotiation

    func test_versionNegotiation_picksTheHighestCommonVersion_orNone() {
        XCTAssertEqual(Handshake.negotiate(offered: 1...5, supported: 2...3), 3)
        XCTAssertEqual(Handshake.negotiate(offered: 1...2, supported: 2...9), 2)
        XCTAssertEqual(Handshake.negotiate(offered: 4...4, supported: 1...9), 4)
        XCTAssertNil(Handshake.negotiate(offered: 1...2, supported: 3...4))
        XCTAssertNil(Handshake.negotiate(offered: 5...6, supported: 3...4))
    }

    func test_acceptor_answersWithTheHighestCommonVersion() {
        var acceptor = machine(.acceptor, local: b, versions: 1...4)
        let offer = Handshake.Offer(versions: 2...7, clusterName: "c", identity: a, authProof: []).encode()
        let step = acceptor.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in .none })
        guard case .accept(let accept, let peer, let resolution) = step else { return XCTFail("\(step)") }
        XCTAssertEqual(accept.version, 4)
        XCTAssertEqual(accept.identity, b)
        XCTAssertEqual(accept.authProof, [1, 2])
        XCTAssertEqual(peer, a)
        XCTAssertEqual(resolution, .fresh)
        XCTAssertEqual(acceptor.state, .established(peer: a, version: 4))
    }

    func test_noCommonVersion_isRejected() {
        var acceptor = machine(.acceptor, local: b, versions: 3...4)
        let offer = Handshake.Offer(versions: 1...2, clusterName: "c", identity: a, authProof: []).encode()
        let step = acceptor.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in .none })
        guard case .reject(let r, let peer) = step else { return XCTFail("\(step)") }
        XCTAssertEqual(r.reason, .noCommonVersion)
        XCTAssertEqual(peer, a)
        XCTAssertEqual(acceptor.state, .failed)
    }

    func test_clusterMismatch_isRejected() {
        var acceptor = machine(.acceptor, local: b, cluster: "blue")
        let offer = Handshake.Offer(versions: 1...1, clusterName: "green", identity: a, authProof: []).encode()
        guard case .reject(let r, _) = acceptor.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in .none }) else {
            return XCTFail()
        }
        XCTAssertEqual(r.reason, .clusterMismatch)
    }

    func test_badMagic_andMalformedOffers_areRejectedWithTheirReason() {
        var m1 = machine(.acceptor, local: b)
        guard case .reject(let r1, nil) = m1.receive(.handshakeOffer, payload: [1, 2, 3, 4, 5][...], phaseOf: { _ in .none }) else {
            return XCTFail()
        }
        XCTAssertEqual(r1.reason, .badMagic)
        var m2 = machine(.acceptor, local: b)
        guard case .reject(let r2, nil) = m2.receive(.handshakeOffer, payload: Handshake.magic[...], phaseOf: { _ in .none }) else {
            return XCTFail()
        }
        XCTAssertEqual(r2.reason, .malformed)
    }

    func test_authProof_isVerifiedOnBothSides() {
        var acceptor = machine(.acceptor, local: b, verify: { proof, _ in proof == [7] })
        let bad = Handshake.Offer(versions: 1...1, clusterName: "c", identity: a, authProof: [8]).encode()
        guard case .reject(let r, _) = acceptor.receive(.handshakeOffer, payload: bad[...], phaseOf: { _ in .none }) else {
            return XCTFail()
        }
        XCTAssertEqual(r.reason, .authFailed)

        var dialer = machine(.dialer, local: a, verify: { proof, _ in proof == [7] })
        let accept = Handshake.Accept(version: 1, identity: b, authProof: [8]).encode()
        guard case .violation = dialer.receive(.handshakeAccept, payload: accept[...], phaseOf: { _ in .none }) else {
            return XCTFail()
        }
    }

    func test_dialer_establishesOnAValidAccept_andReportsRejects() {
        var dialer = machine(.dialer, local: a, versions: 1...3)
        XCTAssertEqual(dialer.state, .awaitingAccept)
        XCTAssertEqual(dialer.makeOffer(), Handshake.Offer(versions: 1...3, clusterName: "c", identity: a, authProof: [1, 2]))
        let accept = Handshake.Accept(version: 2, identity: b, authProof: []).encode()
        XCTAssertEqual(dialer.receive(.handshakeAccept, payload: accept[...], phaseOf: { _ in .none }),
                       .established(peer: b, version: 2))
        XCTAssertEqual(dialer.state, .established(peer: b, version: 2))

        var rejected = machine(.dialer, local: a)
        let reject = Handshake.Reject(.clusterMismatch, "nope").encode()
        XCTAssertEqual(rejected.receive(.handshakeReject, payload: reject[...], phaseOf: { _ in .none }),
                       .rejected(Handshake.Reject(.clusterMismatch, "nope")))

        var outOfRange = machine(.dialer, local: a, versions: 1...3)
        let accept9 = Handshake.Accept(version: 9, identity: b, authProof: []).encode()
        guard case .violation = outOfRange.receive(.handshakeAccept, payload: accept9[...], phaseOf: { _ in .none }) else {
            return XCTFail()
        }
    }

    func test_anyNonHandshakeFrameBeforeTheHandshake_isAViolation() {
        for kind in Wire.FrameKind.allCases where kind != .handshakeOffer {
            var acceptor = machine(.acceptor, local: b)
            guard case .violation = acceptor.receive(kind, payload: [][...], phaseOf: { _ in .none }) else {
                return XCTFail("acceptor took \(kind)")
            }
            XCTAssertEqual(acceptor.state, .failed)
        }
        for kind in Wire.FrameKind.allCases where kind != .handshakeAccept && kind != .handshakeReject {
            var dialer = machine(.dialer, local: a)
            guard case .violation = dialer.receive(kind, payload: [][...], phaseOf: { _ in .none }) else {
                return XCTFail("dialer took \(kind)")
            }
        }
    }

    // MARK: tie-break

    func test_tieBreak_keepsTheConnectionDialedByTheSmallerIdentity_inBothOrders() {
        // a (uid 0x10) precedes b (uid 0x20).
        XCTAssertTrue(Handshake.precedes(a, b))
        XCTAssertFalse(Handshake.precedes(b, a))
        // b receives a's offer while b's own dial is in flight: a's dial wins → b accepts, abandoning its dial.
        XCTAssertEqual(Handshake.decideInbound(local: b, remote: a, phase: .dialing), .accept(.replacesOwnDial))
        // a receives b's offer while a's own dial is in flight: a's dial wins → a rejects the inbound.
        guard case .rejectDuplicate = Handshake.decideInbound(local: a, remote: b, phase: .dialing) else { return XCTFail() }
        // Same uids, addresses decide: lower address wins.
        let x = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 1), uid: 5)
        let y = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 2), uid: 5)
        XCTAssertTrue(Handshake.precedes(x, y))
        XCTAssertEqual(Handshake.decideInbound(local: y, remote: NodeIdentity(address: x.address, uid: 4), phase: .dialing),
                       .accept(.replacesOwnDial))
        // The uid is compared before the address.
        let lowUIDHighPort = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 9999), uid: 1)
        XCTAssertTrue(Handshake.precedes(lowUIDHighPort, x))
    }

    func test_tieBreakTable() {
        struct Row {
            var local: NodeIdentity, remote: NodeIdentity, phase: Handshake.PeerPhase, expected: Handshake.InboundDecision?
        }
        let reject: Handshake.InboundDecision? = nil  // any rejectDuplicate
        let rows: [Row] = [
            Row(local: a, remote: b, phase: .none, expected: .accept(.fresh)),
            Row(local: b, remote: a, phase: .none, expected: .accept(.fresh)),
            Row(local: a, remote: b, phase: .awaitingInbound, expected: .accept(.fresh)),
            Row(local: a, remote: b, phase: .dialing, expected: reject),
            Row(local: b, remote: a, phase: .dialing, expected: .accept(.replacesOwnDial)),
            Row(local: a, remote: b, phase: .associated(uid: b.uid), expected: reject),
            Row(local: b, remote: a, phase: .associated(uid: a.uid), expected: reject),
            Row(local: a, remote: b, phase: .associated(uid: 0x99), expected: .accept(.replacesAssociation(oldUID: 0x99))),
            Row(local: a, remote: NodeIdentity(address: b.address, uid: a.uid), phase: .none, expected: reject),
        ]
        for (i, row) in rows.enumerated() {
            let got = Handshake.decideInbound(local: row.local, remote: row.remote, phase: row.phase)
            if let expected = row.expected {
                XCTAssertEqual(got, expected, "row \(i)")
            } else if case .rejectDuplicate = got {
            } else {
                XCTFail("row \(i): expected a duplicate reject, got \(got)")
            }
        }
    }

    func test_simultaneousDial_bothSidesAgreeOnTheSurvivor() {
        // Each side answers the other's offer while its own dial is in flight; exactly one connection survives.
        var onB = machine(.acceptor, local: b)
        var onA = machine(.acceptor, local: a)
        let offerFromA = machine(.dialer, local: a).makeOffer().encode()
        let offerFromB = machine(.dialer, local: b).makeOffer().encode()
        let bAnswers = onB.receive(.handshakeOffer, payload: offerFromA[...], phaseOf: { _ in .dialing })
        let aAnswers = onA.receive(.handshakeOffer, payload: offerFromB[...], phaseOf: { _ in .dialing })
        guard case .accept(_, a, .replacesOwnDial) = bAnswers else { return XCTFail("\(bAnswers)") }
        guard case .reject(let r, b) = aAnswers else { return XCTFail("\(aAnswers)") }
        XCTAssertEqual(r.reason, .duplicate)
    }
}
