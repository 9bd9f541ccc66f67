import XCTest
@testable import ActorCluster

final class HandshakeTests: XCTestCase {
    private let a = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 7101), uid: 0x10)
    private let b = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 7102), uid: 0x20)
    private let secret = ClusterAuth.secrets(current: Array("correct horse battery staple".utf8), previous: nil)
    private let nonceA = [UInt8](repeating: 0xA1, count: 32)
    private let nonceB = [UInt8](repeating: 0xB2, count: 32)

    private func machine(_ role: Handshake.Machine.Role, local: NodeIdentity, cluster: String = "c",
                         versions: ClosedRange<UInt16> = 1...1, auth: ClusterAuth? = nil,
                         nonce: [UInt8]? = nil) -> Handshake.Machine {
        Handshake.Machine(role: role, local: local, clusterName: cluster, versions: versions, auth: auth ?? secret,
                          nonce: nonce ?? (local == a ? nonceA : nonceB))
    }

    /// Runs a whole handshake between a dialer and an acceptor in memory; returns both last steps.
    private func run(_ dialer: inout Handshake.Machine, _ acceptor: inout Handshake.Machine,
                     phase: Handshake.PeerPhase = .none) -> (dialer: Handshake.Machine.Step, acceptor: Handshake.Machine.Step) {
        let offer = dialer.makeOffer().encode()
        let challenge = acceptor.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in phase })
        guard case .send(let k1, let p1) = challenge else { return (.violation("no challenge"), challenge) }
        let response = dialer.receive(k1, payload: p1[...], phaseOf: { _ in .none })
        guard case .send(let k2, let p2) = response else { return (response, challenge) }
        let verdict = acceptor.receive(k2, payload: p2[...], phaseOf: { _ in phase })
        switch verdict {
        case .accept:
            return (dialer.receive(.handshakeAccept, payload: Handshake.Accept().encode()[...], phaseOf: { _ in .none }), verdict)
        case .reject(let r, _):
            return (dialer.receive(.handshakeReject, payload: r.encode()[...], phaseOf: { _ in .none }), verdict)
        default:
            return (response, verdict)
        }
    }

    // MARK: codecs

    func test_payloads_roundTrip() throws {
        let offer = Handshake.Offer(versions: 1...3, clusterName: "prod-ü", identity: a, nonce: nonceA)
        let bytes = offer.encode()
        XCTAssertEqual(Array(bytes.prefix(4)), Array("HTLN".utf8))
        XCTAssertEqual(Array(bytes[4..<8]), [0, 1, 0, 3])
        XCTAssertEqual(try Handshake.Offer.decode(bytes[...]), offer)
        // Reserved trailing bytes are ignored.
        XCTAssertEqual(try Handshake.Offer.decode((bytes + [9, 9, 9])[...]), offer)
        let challenge = Handshake.Challenge(version: 2, identity: b, nonce: nonceB,
                                            proofs: [[UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 32)])
        XCTAssertEqual(try Handshake.Challenge.decode(challenge.encode()[...]), challenge)
        let open = Handshake.Challenge(version: 1, identity: b, nonce: nonceB, proofs: [])
        XCTAssertEqual(try Handshake.Challenge.decode(open.encode()[...]), open)
        let response = Handshake.Response(proofs: [[UInt8](repeating: 3, count: 32)])
        XCTAssertEqual(try Handshake.Response.decode(response.encode()[...]), response)
        let withOperator = Handshake.Response(proofs: [[UInt8](repeating: 3, count: 32)], operatorProof: [UInt8](repeating: 4, count: 32))
        XCTAssertEqual(try Handshake.Response.decode(withOperator.encode()[...]), withOperator)
        let challengeWithOperator = Handshake.Challenge(version: 1, identity: b, nonce: nonceB, proofs: [], operatorProof: [UInt8](repeating: 5, count: 32))
        XCTAssertEqual(try Handshake.Challenge.decode(challengeWithOperator.encode()[...]), challengeWithOperator)
        // One encoding per message: "no operator proof" is absent, not a count of 0 (HostileInputTests seed
        // 5237195282733832079 had a response with a 0 appended accepted).
        XCTAssertThrowsError(try Handshake.Response.decode((response.encode() + [0])[...]))
        XCTAssertThrowsError(try Handshake.Challenge.decode((open.encode() + [0])[...]))
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
    }

    func test_everyTruncation_ofEachPayload_throws() {
        let offer = Handshake.Offer(versions: 1...2, clusterName: "cluster", identity: a, nonce: nonceA).encode()
        for n in 0..<offer.count {
            XCTAssertThrowsError(try Handshake.Offer.decode(offer[..<n]), "offer prefix \(n)")
        }
        let challenge = Handshake.Challenge(version: 1, identity: b, nonce: nonceB, proofs: [[UInt8](repeating: 4, count: 32)]).encode()
        for n in 0..<challenge.count {
            XCTAssertThrowsError(try Handshake.Challenge.decode(challenge[..<n]), "challenge prefix \(n)")
        }
        let response = Handshake.Response(proofs: [[UInt8](repeating: 4, count: 32)]).encode()
        for n in 0..<response.count {
            XCTAssertThrowsError(try Handshake.Response.decode(response[..<n]), "response prefix \(n)")
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
        // A nonce that is not 32 bytes, a cluster name over 255 bytes.
        XCTAssertThrowsError(try Handshake.Offer.decode(Handshake.Offer(versions: 1...1, clusterName: "c", identity: a,
                                                                        nonce: [1, 2, 3]).encode()[...]))
        XCTAssertThrowsError(try Handshake.Offer.decode(Handshake.Offer(versions: 1...1, clusterName: String(repeating: "x", count: 256),
                                                                        identity: a, nonce: nonceA).encode()[...]))
        // uid 0 is reserved; empty host.
        XCTAssertThrowsError(try Handshake.Challenge.decode(Handshake.Challenge(version: 1, identity: NodeIdentity(address: b.address, uid: 0),
                                                                                nonce: nonceB, proofs: []).encode()[...]))
        XCTAssertThrowsError(try Handshake.Challenge.decode(Handshake.Challenge(version: 1, identity: NodeIdentity(address: NodeAddress(host: "", port: 1), uid: 1),
                                                                                nonce: nonceB, proofs: []).encode()[...]))
        // Three proofs, a short proof, trailing bytes.
        let p = [UInt8](repeating: 9, count: 32)
        XCTAssertThrowsError(try Handshake.Response.decode(Handshake.Response(proofs: [p, p, p]).encode()[...]))
        XCTAssertThrowsError(try Handshake.Response.decode(Handshake.Response(proofs: [[1]]).encode()[...]))
        XCTAssertThrowsError(try Handshake.Response.decode((Handshake.Response(proofs: [p]).encode() + [0, 7])[...]))
        // Random bytes never trap.
        var rng = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? Handshake.Offer.decode(bytes[...])
            _ = try? Handshake.Offer.decode((Handshake.magic + bytes)[...])
            _ = try? Handshake.Challenge.decode(bytes[...])
            _ = try? Handshake.Response.decode(bytes[...])
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

    // MARK: the whole exchange

    func test_membersWithTheSameSecretAssociateAtTheHighestCommonVersion() {
        var dialer = machine(.dialer, local: a, versions: 1...7)
        var acceptor = machine(.acceptor, local: b, versions: 1...4)
        XCTAssertEqual(dialer.state, .awaitingChallenge)
        let (d, acc) = run(&dialer, &acceptor)
        XCTAssertEqual(acc, .accept(peer: a, version: 4, resolution: .fresh))
        XCTAssertEqual(d, .established(peer: b, version: 4))
        XCTAssertEqual(dialer.state, .established(peer: b, version: 4))
        XCTAssertEqual(acceptor.state, .established(peer: a, version: 4))
    }

    func test_aWrongSecretOrNoSecretIsRefusedOnBothSides() {
        let wrong = ClusterAuth.secrets(current: Array("not the cluster secret".utf8), previous: nil)
        // A dialer with the wrong secret: the acceptor's proof does not verify, the dialer closes and never
        // sends a proof of its own.
        var d1 = machine(.dialer, local: a, auth: wrong)
        var a1 = machine(.acceptor, local: b)
        let (step1, _) = run(&d1, &a1)
        guard case .authFailed(let claimed, _) = step1 else { return XCTFail("\(step1)") }
        XCTAssertEqual(claimed, b)
        XCTAssertEqual(d1.state, .failed)
        // The dialer tells the acceptor with a reject (reason authFailed): the acceptor learns the secrets differ.
        let told = a1.receive(.handshakeReject, payload: Handshake.Reject(.authFailed, "x").encode()[...], phaseOf: { _ in .none })
        XCTAssertEqual(told, .rejected(Handshake.Reject(.authFailed, "x")))
        XCTAssertEqual(a1.state, .failed)
        // A dialer without a secret (open) answers with no proof: refused as authFailed.
        var d2 = machine(.dialer, local: a, auth: .open)
        var a2 = machine(.acceptor, local: b)
        let (step2, verdict2) = run(&d2, &a2)
        guard case .reject(let r2, _) = verdict2 else { return XCTFail("\(verdict2)") }
        XCTAssertEqual(r2.reason, .authFailed)
        XCTAssertEqual(step2, .rejected(Handshake.Reject(.authFailed, "proof not accepted")))
        XCTAssertEqual(a2.state, .failed)
        // An acceptor with the wrong secret refuses the dialer's proof... after the dialer refused its own.
        var d3 = machine(.dialer, local: a)
        var a3 = machine(.acceptor, local: b, auth: wrong)
        guard case .authFailed = run(&d3, &a3).dialer else { return XCTFail() }
    }

    func test_aReplayedResponseFromAnEarlierConnectionIsRefused() {
        // Record a good handshake, then replay the dialer's response on a new connection (new acceptor nonce).
        var d1 = machine(.dialer, local: a)
        var a1 = machine(.acceptor, local: b, nonce: [UInt8](repeating: 1, count: 32))
        let offer = d1.makeOffer().encode()
        guard case .send(_, let challenge) = a1.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in .none }),
              case .send(_, let recordedResponse) = d1.receive(.handshakeChallenge, payload: challenge[...], phaseOf: { _ in .none })
        else { return XCTFail() }
        var a2 = machine(.acceptor, local: b, nonce: [UInt8](repeating: 2, count: 32))
        _ = a2.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in .none })
        let verdict = a2.receive(.handshakeResponse, payload: recordedResponse[...], phaseOf: { _ in .none })
        guard case .reject(let r, _) = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(r.reason, .authFailed)
    }

    func test_aReflectedChallengeProofIsRefused() {
        // An attacker dials b claiming a's identity and reflects b's own acceptor proof back as its response.
        var acceptor = machine(.acceptor, local: b)
        let offer = Handshake.Offer(versions: 1...1, clusterName: "c", identity: a, nonce: nonceA).encode()
        guard case .send(_, let challengeBytes) = acceptor.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in .none }),
              let challenge = try? Handshake.Challenge.decode(challengeBytes[...]) else { return XCTFail() }
        let reflected = Handshake.Response(proofs: challenge.proofs).encode()
        let verdict = acceptor.receive(.handshakeResponse, payload: reflected[...], phaseOf: { _ in .associated(uid: a.uid) })
        guard case .reject(let r, _) = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(r.reason, .authFailed)
    }

    func test_aClaimedIdentityChangesNothingUntilProven() {
        // A stranger claims a live member's address with a new uid: before its proof, nothing is replaced;
        // with a bad proof it is refused, and the live association was never touched (no accept step).
        let impostor = NodeIdentity(address: a.address, uid: 0x99)
        var acceptor = machine(.acceptor, local: b)
        var consulted = 0
        let offer = Handshake.Offer(versions: 1...1, clusterName: "c", identity: impostor, nonce: nonceA).encode()
        let first = acceptor.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in consulted += 1; return .associated(uid: a.uid) })
        guard case .send = first else { return XCTFail("\(first)") }
        XCTAssertEqual(consulted, 0, "the tie-break is not even consulted for an unproven offer")
        let forged = Handshake.Response(proofs: [[UInt8](repeating: 0, count: 32)]).encode()
        let verdict = acceptor.receive(.handshakeResponse, payload: forged[...], phaseOf: { _ in consulted += 1; return .associated(uid: a.uid) })
        guard case .reject(let r, let peer) = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(r.reason, .authFailed)
        XCTAssertEqual(peer, impostor)
        XCTAssertEqual(consulted, 0)
        // The member's real new incarnation, proving the secret, replaces the old one.
        var real = machine(.dialer, local: impostor)
        var acceptor2 = machine(.acceptor, local: b)
        let (_, verdict2) = run(&real, &acceptor2, phase: .associated(uid: a.uid))
        XCTAssertEqual(verdict2, .accept(peer: impostor, version: 1, resolution: .replacesAssociation(oldUID: a.uid)))
    }

    func test_rotation_eitherTheCurrentOrThePreviousSecretIsAccepted() {
        let old = Array("the old cluster secret".utf8), new = Array("the new cluster secret".utf8)
        let oldOnly = ClusterAuth.secrets(current: old, previous: nil)
        let rotated = ClusterAuth.secrets(current: new, previous: old)
        let newOnly = ClusterAuth.secrets(current: new, previous: nil)
        // Mid rolling restart: restarted (new+old) and not-yet-restarted (old) nodes talk both ways.
        for (dAuth, aAuth) in [(rotated, oldOnly), (oldOnly, rotated), (rotated, rotated), (rotated, newOnly), (newOnly, rotated)] {
            var d = machine(.dialer, local: a, auth: dAuth)
            var acc = machine(.acceptor, local: b, auth: aAuth)
            XCTAssertEqual(run(&d, &acc).dialer, .established(peer: b, version: 1))
        }
        // But the old secret alone and the new alone share nothing.
        var d = machine(.dialer, local: a, auth: oldOnly)
        var acc = machine(.acceptor, local: b, auth: newOnly)
        guard case .authFailed = run(&d, &acc).dialer else { return XCTFail() }
    }

    func test_operatorProofs_recognisedOnlyByAVerifierAndWrongOnesRefused() {
        let key = Array("the operator secret of this city".utf8)
        let tool = OperatorCredential(key: key, use: .present)
        let node = OperatorCredential(key: key, use: .verify)
        // A tool presenting the right operator secret to a node that verifies it: an operator.
        var d = Handshake.Machine(role: .dialer, local: a, clusterName: "c", versions: 1...1, auth: secret, operatorCredential: tool)
        var acc = Handshake.Machine(role: .acceptor, local: b, clusterName: "c", versions: 1...1, auth: secret, operatorCredential: node)
        XCTAssertEqual(run(&d, &acc).dialer, .established(peer: b, version: 1))
        XCTAssertTrue(acc.peerIsOperator)
        XCTAssertFalse(d.peerIsOperator, "nodes never present the operator secret")
        // A plain member (no credential) is associated, not an operator.
        var m = machine(.dialer, local: a)
        var acc2 = Handshake.Machine(role: .acceptor, local: b, clusterName: "c", versions: 1...1, auth: secret, operatorCredential: node)
        XCTAssertEqual(run(&m, &acc2).dialer, .established(peer: b, version: 1))
        XCTAssertFalse(acc2.peerIsOperator)
        // A wrong operator secret is refused outright.
        var forger = Handshake.Machine(role: .dialer, local: a, clusterName: "c", versions: 1...1, auth: secret,
                                       operatorCredential: OperatorCredential(key: Array("a guessed operator secret......".utf8), use: .present))
        var acc3 = Handshake.Machine(role: .acceptor, local: b, clusterName: "c", versions: 1...1, auth: secret, operatorCredential: node)
        guard case .reject(let r, _) = run(&forger, &acc3).acceptor else { return XCTFail() }
        XCTAssertEqual(r.reason, .authFailed)
        // A node that does not verify ignores operator proofs: the tool is a plain member there.
        var d4 = Handshake.Machine(role: .dialer, local: a, clusterName: "c", versions: 1...1, auth: secret, operatorCredential: tool)
        var acc4 = machine(.acceptor, local: b)
        XCTAssertEqual(run(&d4, &acc4).dialer, .established(peer: b, version: 1))
        XCTAssertFalse(acc4.peerIsOperator)
    }

    /// Field report: a process without the secret relayed a member's handshake to the node it pointed at
    /// (the member dialed the relay), then injected its own calls into the authenticated connection.
    func test_theDialerRefusesANodeOtherThanTheOneItDialed() {
        let relay = NodeAddress(host: "127.0.0.1", port: 7499)
        var d = Handshake.Machine(role: .dialer, local: a, clusterName: "c", versions: 1...1, auth: secret,
                                  dialed: (relay, "127.0.0.1"), nonce: nonceA)
        var acc = machine(.acceptor, local: b)
        guard case .authFailed(let claimed, let why) = run(&d, &acc).dialer else { return XCTFail() }
        XCTAssertEqual(claimed, b)
        XCTAssertTrue(why.contains("dialed 127.0.0.1:7499"), why)
        // Dialing the node's own address, or its name when it advertises the IP connected to: accepted.
        for (dialed, ip) in [(b.address, "127.0.0.1"), (NodeAddress(host: "localhost", port: b.address.port), "127.0.0.1"),
                             (NodeAddress(host: "node-b.example", port: b.address.port), "127.0.0.1")] {
            var d2 = Handshake.Machine(role: .dialer, local: a, clusterName: "c", versions: 1...1, auth: secret,
                                       dialed: (dialed, ip), nonce: nonceA)
            var acc2 = machine(.acceptor, local: b)
            XCTAssertEqual(run(&d2, &acc2).dialer, .established(peer: b, version: 1), "\(dialed)")
        }
        XCTAssertFalse(Handshake.answers(b.address, dialed: NodeAddress(host: "node-b.example", port: b.address.port),
                                         connectedIP: "10.9.9.9"))
    }

    func test_openNodesAssociateWithoutProofs() {
        var d = machine(.dialer, local: a, auth: .open)
        var acc = machine(.acceptor, local: b, auth: .open)
        XCTAssertEqual(run(&d, &acc).dialer, .established(peer: b, version: 1))
    }

    func test_noCommonVersion_clusterMismatch_badMagic_malformed_areRejectedWithTheirReason() {
        var m = machine(.acceptor, local: b, versions: 3...4)
        let offer12 = Handshake.Offer(versions: 1...2, clusterName: "c", identity: a, nonce: nonceA).encode()
        guard case .reject(let r1, let p1) = m.receive(.handshakeOffer, payload: offer12[...], phaseOf: { _ in .none }) else { return XCTFail() }
        XCTAssertEqual(r1.reason, .noCommonVersion)
        XCTAssertEqual(p1, a)
        m = machine(.acceptor, local: b, cluster: "blue")
        let green = Handshake.Offer(versions: 1...1, clusterName: "green", identity: a, nonce: nonceA).encode()
        guard case .reject(let r2, _) = m.receive(.handshakeOffer, payload: green[...], phaseOf: { _ in .none }) else { return XCTFail() }
        XCTAssertEqual(r2.reason, .clusterMismatch)
        m = machine(.acceptor, local: b)
        guard case .reject(let r3, nil) = m.receive(.handshakeOffer, payload: [1, 2, 3, 4, 5][...], phaseOf: { _ in .none }) else { return XCTFail() }
        XCTAssertEqual(r3.reason, .badMagic)
        m = machine(.acceptor, local: b)
        guard case .reject(let r4, nil) = m.receive(.handshakeOffer, payload: Handshake.magic[...], phaseOf: { _ in .none }) else { return XCTFail() }
        XCTAssertEqual(r4.reason, .malformed)
        // An offer naming the acceptor's own uid.
        m = machine(.acceptor, local: b)
        let selfOffer = Handshake.Offer(versions: 1...1, clusterName: "c", identity: b, nonce: nonceA).encode()
        guard case .reject(let r5, _) = m.receive(.handshakeOffer, payload: selfOffer[...], phaseOf: { _ in .none }) else { return XCTFail() }
        XCTAssertEqual(r5.reason, .duplicate)
    }

    func test_dialer_refusesAChallengeOutsideItsVersionsAndReportsRejects() {
        var outOfRange = machine(.dialer, local: a, versions: 1...3)
        let c9 = Handshake.Challenge(version: 9, identity: b, nonce: nonceB, proofs: []).encode()
        guard case .violation = outOfRange.receive(.handshakeChallenge, payload: c9[...], phaseOf: { _ in .none }) else { return XCTFail() }
        var rejected = machine(.dialer, local: a)
        let reject = Handshake.Reject(.clusterMismatch, "nope").encode()
        XCTAssertEqual(rejected.receive(.handshakeReject, payload: reject[...], phaseOf: { _ in .none }),
                       .rejected(Handshake.Reject(.clusterMismatch, "nope")))
    }

    func test_everyStateRefusesEveryFrameItDoesNotExpect() {
        let expected: [String: Set<Wire.FrameKind>] = [
            "awaitingOffer": [.handshakeOffer],
            "awaitingChallenge": [.handshakeChallenge, .handshakeReject],
            "awaitingResponse": [.handshakeResponse, .handshakeReject],
            "awaitingAccept": [.handshakeAccept, .handshakeReject],
        ]
        func fresh(_ state: String) -> Handshake.Machine {
            var acceptor = machine(.acceptor, local: b)
            var dialer = machine(.dialer, local: a)
            switch state {
            case "awaitingOffer": return acceptor
            case "awaitingChallenge": return dialer
            case "awaitingResponse":
                _ = acceptor.receive(.handshakeOffer, payload: dialer.makeOffer().encode()[...], phaseOf: { _ in .none })
                return acceptor
            default:
                guard case .send(_, let c) = acceptor.receive(.handshakeOffer, payload: dialer.makeOffer().encode()[...], phaseOf: { _ in .none })
                else { return dialer }
                _ = dialer.receive(.handshakeChallenge, payload: c[...], phaseOf: { _ in .none })
                return dialer
            }
        }
        for (state, allowed) in expected {
            for kind in Wire.FrameKind.allCases where !allowed.contains(kind) {
                var m = fresh(state)
                guard case .violation = m.receive(kind, payload: [][...], phaseOf: { _ in .none }) else {
                    return XCTFail("\(state) took \(kind)")
                }
                XCTAssertEqual(m.state, .failed, "\(state) after \(kind)")
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
        // Each side answers the other's response while its own dial is in flight; exactly one connection survives.
        var onB = machine(.acceptor, local: b)
        var onA = machine(.acceptor, local: a)
        var fromA = machine(.dialer, local: a)
        var fromB = machine(.dialer, local: b)
        let bAnswers = run(&fromA, &onB, phase: .dialing).acceptor
        let aAnswers = run(&fromB, &onA, phase: .dialing).acceptor
        XCTAssertEqual(bAnswers, .accept(peer: a, version: 1, resolution: .replacesOwnDial))
        guard case .reject(let r, b) = aAnswers else { return XCTFail("\(aAnswers)") }
        XCTAssertEqual(r.reason, .duplicate)
    }
}
