@testable import ActorCluster
import Distributed
@testable import HotlineCLI
import Foundation
import Hotline
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Seeded hostile input against a live `hotline node` process (with a cluster secret, hosting the whole
/// hotline), from raw TCP connections:
///
/// (a) before the handshake: random bytes, random kinds and lengths, truncated offers, a valid offer followed by
///     garbage, zero and oversized lengths, non-handshake frames;
/// (b) a valid offer, then a mutated response (flipped, truncated, extra or missing proofs, trailing bytes, wrong
///     frame kinds) — the node must never accept one, and must accept the unmutated control response;
/// (c) after a real handshake (the harness's secret): random and mutated call envelopes (recipients × real targets,
///     mutated arguments, huge declared counts, bad UTF-8, trailing bytes) and reply, message, membership,
///     heartbeat, handshake and unknown-kind frames.
///
/// After each batch: the process is running, a legitimate `NodeProbe.info()` through a `ClusterSystem` client
/// answers within `callBound`, and the node's RSS (`/proc/PID/status` VmRSS) is below `rssBoundKiB`.
/// `FUZZ_SEED=<n>` replays a run; each batch also stops at its time budget (the count covered is printed).
final class HostileInputTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// A legitimate call after a batch must answer within this.
    static let callBound: Duration = .milliseconds(500)
    /// Resident set size bound for the node process, in KiB (200 MB).
    static let rssBoundKiB = 200 * 1024

    func test_seededHostileInputFromRawConnectionsNeverHurtsALiveNode() async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["FUZZ_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)
        print("HostileInputTests seed: \(seed) (FUZZ_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let node = try harness.startNode("hostile", extra: [
            "--catalog", Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path,
            "--calendar", Self.repo.appendingPathComponent("Deploy/calendars/cn-2026.json").path])
        let client = try harness.clientSystem(callTimeout: .seconds(5))
        let port = node.node.address.port
        let pid = node.process.processIdentifier
        _ = try await NodeProbe.on(node.node, system: client).info() // the client's own connection, set up once

        let started = ContinuousClock.now
        var counts: [String: Int] = [:]
        func healthy(after batch: String) async throws {
            XCTAssertTrue(node.isRunning, "node died after batch \(batch) (seed \(seed))")
            guard node.isRunning else { throw XCTSkip("node is gone") }
            let t0 = ContinuousClock.now
            let info = try await NodeProbe.on(node.node, system: client).info()
            let took = ContinuousClock.now - t0
            XCTAssertEqual(info.name, "hostile")
            XCTAssertLessThan(took, Self.callBound, "info() after batch \(batch) took \(took) (seed \(seed))")
            if let rss = NodeProcess.residentKiB(pid: pid) {
                XCTAssertLessThan(rss, Self.rssBoundKiB, "node RSS \(rss) KiB after batch \(batch) (seed \(seed))")
                print("after \(batch): node alive, info() in \(took), VmRSS \(rss / 1024) MiB")
            } else {
                print("after \(batch): node alive, info() in \(took) (VmRSS unreadable)")
            }
        }

        // (a) Before the handshake.
        let a = preHandshake(port: port, rng: &rng, budget: .seconds(4), max: 2_000)
        counts["a.preHandshake", default: 0] += a
        try await healthy(after: "a")

        // (b) Mutated handshake responses.
        let b = try mutatedHandshakes(port: port, auth: harness.secret.auth, rng: &rng, budget: .seconds(3), max: 600)
        counts["b.handshakes", default: 0] += b
        try await healthy(after: "b")

        // (c) After a real handshake.
        let targets = try await learnTargets(client: client, node: node.node)
        let c = try postHandshake(port: port, auth: harness.secret.auth, targets: targets, rng: &rng,
                                  budget: .seconds(7), max: 6_000)
        counts["c.framesAfterHandshake", default: 0] += c.frames
        counts["c.connections", default: 0] += c.connections
        try await healthy(after: "c")

        let total = a + b + c.frames
        print("HostileInputTests: \(total) hostile inputs (\(counts.sorted { $0.key < $1.key })) in "
              + "\(ContinuousClock.now - started) (seed \(seed))")
        XCTAssertTrue(node.isRunning, "the node died (seed \(seed))")
    }

    // MARK: - (a) before the handshake

    /// One hostile opening per connection. Returns the number of connections used.
    private func preHandshake(port: UInt16, rng: inout SplitMix64, budget: Duration, max: Int) -> Int {
        let deadline = ContinuousClock.now + budget
        var done = 0
        while done < max && ContinuousClock.now < deadline {
            guard let peer = RawConn.connect(port: port, sendTimeoutSeconds: 1).0 else { XCTFail("connect failed at input \(done)"); break }
            let offer = Self.offer(&rng)
            var bytes: [UInt8]
            switch rng.below(10) {
            case 0: bytes = rng.bytes(rng.below(300)) // pure noise
            case 1: // random kind, random length, random payload
                let length = UInt32(truncatingIfNeeded: rng.next() >> UInt64(rng.below(64)))
                bytes = Self.header(length: length, kind: rng.byte()) + rng.bytes(rng.below(200))
            case 2: // truncated offer (frame header claims all of it)
                let frame = Wire.FrameParser.encode(.handshakeOffer, payload: offer)
                bytes = Array(frame.prefix(rng.below(frame.count)))
            case 3: // offer payload cut short, but the frame length says so (a complete, malformed offer)
                bytes = Wire.FrameParser.encode(.handshakeOffer, payload: offer.prefix(rng.below(offer.count)))
            case 4: // valid offer, then garbage frames / bytes
                bytes = Wire.FrameParser.encode(.handshakeOffer, payload: offer) + rng.bytes(1 + rng.below(100))
            case 5: // oversized or zero lengths
                let lengths: [UInt32] = [0, UInt32(Handshake.maxHandshakeFrameBytes) + 1, UInt32(Wire.defaultMaxFrameBytes),
                                         UInt32(Wire.defaultMaxFrameBytes) + 1, .max, 0x8000_0000]
                bytes = Self.header(length: lengths[rng.below(lengths.count)], kind: Wire.FrameKind.handshakeOffer.rawValue)
                    + rng.bytes(rng.below(64))
            case 6: // a frame other than an offer first
                let kinds = Wire.FrameKind.allCases.filter { $0 != .handshakeOffer }
                bytes = Wire.FrameParser.encode(kinds[rng.below(kinds.count)], payload: rng.bytes(rng.below(80)))
            case 7: // the offer with single bytes mutated
                var o = offer
                for _ in 0...rng.below(4) { o[rng.below(o.count)] = rng.byte() }
                bytes = Wire.FrameParser.encode(.handshakeOffer, payload: o)
            case 8: // a large claimed frame below the handshake limit, only partly sent
                bytes = Self.header(length: UInt32(1 + rng.below(Handshake.maxHandshakeFrameBytes)),
                                    kind: Wire.FrameKind.handshakeOffer.rawValue) + rng.bytes(rng.below(2_000))
            default: // valid offer with garbage inside the frame after the nonce (reserved: ignored), then noise
                bytes = Wire.FrameParser.encode(.handshakeOffer, payload: offer + rng.bytes(rng.below(40)))
                    + Self.header(length: UInt32(rng.below(100)), kind: rng.byte())
            }
            // Sometimes in pieces, sometimes wait for the node's answer (challenge, reject or close).
            if rng.chance(4) && bytes.count > 1 {
                let cut = 1 + rng.below(bytes.count - 1)
                _ = peer.send(Array(bytes[..<cut]))
                _ = peer.send(Array(bytes[cut...]))
            } else {
                _ = peer.send(bytes)
            }
            if rng.chance(5) { _ = peer.readFrame(timeoutMs: 20, skippingHeartbeats: true) }
            peer.close()
            done += 1
        }
        return done
    }

    // MARK: - (b) mutated handshakes

    /// A valid offer, then a (usually) mutated response. Returns the number of handshakes tried.
    private func mutatedHandshakes(port: UInt16, auth: ClusterAuth, rng: inout SplitMix64, budget: Duration,
                                   max: Int) throws -> Int {
        let deadline = ContinuousClock.now + budget
        var done = 0, controls = 0
        while done < max && ContinuousClock.now < deadline {
            guard let peer = RawConn.connect(port: port, sendTimeoutSeconds: 1).0 else { XCTFail("connect failed at handshake \(done)"); break }
            defer { peer.close() }
            var machine = Self.dialer(&rng, auth: auth)
            _ = peer.send(Wire.FrameParser.encode(.handshakeOffer, payload: machine.makeOffer().encode()))
            guard case .frame(.handshakeChallenge, let challenge) = peer.readFrame(timeoutMs: 2_000, skippingHeartbeats: true) else {
                XCTFail("no challenge for a valid offer (handshake \(done))")
                done += 1
                continue
            }
            guard case .send(.handshakeResponse, let response) = machine.receive(.handshakeChallenge, payload: challenge[...],
                                                                                   phaseOf: { _ in .none }) else {
                XCTFail("the node's challenge does not verify under the harness secret")
                break
            }
            let control = rng.chance(10)
            var frames: [UInt8]
            if control {
                frames = Wire.FrameParser.encode(.handshakeResponse, payload: response)
            } else {
                var r = response
                switch rng.below(8) {
                case 0: r[1 + rng.below(r.count - 1)] ^= 1 << UInt8(rng.below(8)) // one bit of the proof
                case 1: r = Array(r.prefix(rng.below(r.count))) // truncated
                case 2: r += rng.bytes(1 + rng.below(8)) // trailing bytes
                case 3: r = [0] // no proof
                case 4: r = [UInt8(rng.below(256))] + rng.bytes(rng.below(100)) // random count and bytes
                case 5: // two proofs (count 2), both wrong: [2, 32, proof…, 32, proof…]
                    r = [2] + r.dropFirst() + r.dropFirst()
                    r[2] ^= 0xFF
                    r[r.count - 1] ^= 0xFF
                case 6: r = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] // huge proof count
                default: r = Handshake.Response(proofs: [Array(challenge.suffix(32))]).encode() // reflected proof
                }
                switch rng.below(6) {
                case 0: // wrong kind carrying the response bytes
                    let kinds: [Wire.FrameKind] = [.handshakeOffer, .handshakeAccept, .handshakeChallenge, .call, .message,
                                                   .membership, .heartbeat]
                    frames = Wire.FrameParser.encode(kinds[rng.below(kinds.count)], payload: r)
                case 1: frames = Wire.FrameParser.encode(.handshakeReject, payload: rng.bytes(rng.below(30)))
                default: frames = Wire.FrameParser.encode(.handshakeResponse, payload: r)
                }
            }
            if rng.chance(5) { frames += rng.bytes(1 + rng.below(40)) } // and noise after it
            _ = peer.send(frames)
            let answer = peer.readFrame(timeoutMs: 2_000, skippingHeartbeats: true)
            if control {
                guard case .frame(.handshakeAccept, _) = answer else {
                    XCTFail("the unmutated response was not accepted (handshake \(done)): \(answer)")
                    break
                }
                controls += 1
            } else if case .frame(.handshakeAccept, _) = answer {
                XCTFail("the node accepted a mutated handshake response (handshake \(done), seed replays it)")
            }
            done += 1
        }
        if done >= 20 { XCTAssertGreaterThan(controls, 0, "no control handshake ran") }
        return done
    }

    // MARK: - (c) after a real handshake

    struct Target {
        var type: String
        var target: String
        /// Encoded arguments of a legitimate call, to mutate.
        var arguments: [[UInt8]]
    }

    /// Real distributed-function identifiers, learned by sending each where it does not belong.
    private func learnTargets(client: ClusterSystem, node: NodeIdentity) async throws -> [Target] {
        let at = { (path: String) in ClusterSystem.wellKnownID(path, on: node) }
        let enc = Wire.BinaryEncoder()
        let calls: [(String, [[UInt8]], (ClusterSystem.ActorID) async throws -> Void)] = [
            ("NodeProbe", [], { _ = try await NodeProbe.resolve(id: $0, using: client).info() }),
            ("NodeProbe", [try enc.encode([UInt8]([1, 2, 3]))], { _ = try await NodeProbe.resolve(id: $0, using: client).echo([1, 2, 3]) }),
            ("NodeProbe", [try enc.encode("text ✓")], { _ = try await NodeProbe.resolve(id: $0, using: client).echoText("text ✓") }),
            ("NodeProbe", [try enc.encode("boom")], { try await NodeProbe.resolve(id: $0, using: client).fail("boom") }),
            ("HotlineNode", [], { _ = try await HotlineNode.resolve(id: $0, using: client).info() }),
            ("HotlineNode", [try enc.encode("2026-000001")],
             { _ = try await HotlineNode.resolve(id: $0, using: client).findCase("2026-000001") }),
            ("IntakeDesk", [], { _ = try await IntakeDesk.resolve(id: $0, using: client).acceptedCount() }),
            ("DistrictOffice", [], { _ = try await DistrictOffice.resolve(id: $0, using: client).statusCounts() }),
            ("Analyst", [try enc.encode(Date?.none)], { _ = try await Analyst.resolve(id: $0, using: client).report(asOf: nil) }),
        ]
        var targets: [Target] = []
        for (type, args, call) in calls {
            let wrong = type == "NodeProbe" ? HotlinePaths.node : NodeProbe.path
            do {
                try await call(at(wrong))
                XCTFail("\(type) function ran at \(wrong)")
            } catch RemoteCallError.noSuchTarget(_, let target) {
                targets.append(Target(type: type, target: target, arguments: args))
            }
        }
        XCTAssertEqual(targets.count, calls.count)
        return targets
    }

    /// Hostile frames on authenticated connections. After each, a legitimate `NodeProbe.info` call on the same
    /// connection: its reply shows the node has processed the frame (frames on a connection are handled in
    /// order) and kept the connection; a close means it refused it, and the next frame goes on a new connection
    /// (with a new handshake). Neither within two seconds is a failure.
    private func postHandshake(port: UInt16, auth: ClusterAuth, targets: [Target], rng: inout SplitMix64,
                               budget: Duration, max: Int) throws -> (frames: Int, connections: Int) {
        let probeTarget = targets[0].target // NodeProbe.info
        var probeID: UInt64 = 0xFFFF_0000_0000_0000
        var kept = 0, closed = 0
        var answers: [String: Int] = [:] // the node's replies to the hostile calls, by status
        let paths = [NodeProbe.path, HotlinePaths.node, HotlinePaths.intake, HotlinePaths.dispatchGroup("G1"),
                     HotlinePaths.district("210302"), HotlinePaths.callback, HotlinePaths.supervision,
                     HotlinePaths.analysis, "/no/such/actor", ""]
        let deadline = ContinuousClock.now + budget
        var sent = 0, connections = 0
        var peer: RawConn?
        while sent < max && ContinuousClock.now < deadline {
            if peer == nil || !peer!.isOpen {
                peer?.close()
                peer = try Self.handshake(port: port, auth: auth, rng: &rng)
                connections += 1
                guard peer != nil else { XCTFail("a real handshake failed after \(sent) frames"); break }
            }
            let frame: [UInt8]
            switch rng.below(20) {
            case 0..<12: frame = Wire.FrameParser.encode(.call, payload: Self.callEnvelope(&rng, targets: targets, paths: paths))
            case 12, 13: frame = Wire.FrameParser.encode(.reply, payload: Self.replyEnvelope(&rng))
            case 14: // message to a random or real-looking path
                var w = Wire.ByteWriter(capacity: 64)
                w.writeString(rng.chance(2) ? paths[rng.below(paths.count)] : "/sink/\(rng.below(10))")
                w.writeBytes(rng.bytes(rng.below(100)))
                frame = Wire.FrameParser.encode(.message, payload: rng.chance(4) ? rng.bytes(rng.below(20)) : w.bytes)
            case 15: frame = Wire.FrameParser.encode(.membership, payload: rng.bytes(rng.below(200)))
            case 16: frame = Wire.FrameParser.encode(.heartbeat, payload: rng.bytes(rng.below(3)))
            case 17: // a handshake frame after the handshake
                let kinds: [Wire.FrameKind] = [.handshakeOffer, .handshakeAccept, .handshakeReject, .handshakeChallenge,
                                               .handshakeResponse]
                frame = Wire.FrameParser.encode(kinds[rng.below(kinds.count)], payload: rng.bytes(rng.below(60)))
            case 18: // unknown kind or a length above the limit
                frame = rng.chance(2) ? Self.header(length: UInt32(1 + rng.below(100)), kind: 0x30 + rng.byte() % 0xC0)
                    : Self.header(length: UInt32(Wire.defaultMaxFrameBytes) + 1 + UInt32(rng.below(1000)), kind: 0x10)
            default: // a frame whose declared length is a little more than what is sent, then the next frames
                let call = Wire.FrameParser.encode(.call, payload: Self.callEnvelope(&rng, targets: targets, paths: paths))
                frame = Array(call.prefix(Swift.max(Wire.headerBytes, call.count - 1 - rng.below(4))))
            }
            let partial = frame.count > Wire.headerBytes && Self.declaredLength(frame) + Wire.lengthFieldBytes > frame.count
            sent += 1
            guard peer!.send(frame), !partial else { peer!.close(); continue }
            // The probe call, then wait for its reply (or the close).
            probeID += 1
            var probe: [UInt8] = []
            CallEnvelope.encode(callID: probeID, recipientPath: NodeProbe.path, target: probeTarget, generics: [],
                                arguments: [], baggage: [:], into: &probe)
            guard peer!.send(Wire.FrameParser.encode(.call, payload: probe)) else { closed += 1; peer!.close(); continue }
            var answered = false
            let waitUntil = ContinuousClock.now + .seconds(2)
            read: while ContinuousClock.now < waitUntil {
                switch peer!.readFrame(timeoutMs: 2_000, skippingHeartbeats: true) {
                case .frame(.reply, let payload):
                    guard let (id, reply) = try? ReplyEnvelope.decode(payload[...]) else {
                        XCTFail("the node sent a reply that does not decode")
                        break read
                    }
                    if id == probeID { answered = true; break read }
                    answers[String("\(reply)".prefix { $0 != "(" }), default: 0] += 1
                case .frame: continue
                case .closed, .malformed: break read
                case .timeout: break read
                }
            }
            if answered { kept += 1 } else if !peer!.isOpen { closed += 1 } else {
                XCTFail("no answer and no close within 2 s after hostile frame \(sent) (kind \(frame.count > 4 ? frame[4] : 0))")
                peer!.close()
            }
        }
        peer?.close()
        print("after-handshake frames: \(sent) sent, \(kept) kept the connection, \(closed) closed it, on \(connections) "
              + "connections; replies to hostile calls: \(answers.sorted { $0.key < $1.key })")
        if sent >= 500 {
            XCTAssertGreaterThan(answers["noSuchTarget", default: 0], 0, "no hostile call reached the target check")
            XCTAssertGreaterThan(answers["invocationFailed", default: 0], 0, "no hostile call reached argument decoding")
        }
        return (sent, connections)
    }

    /// A call envelope: mostly well-formed around real targets with mutations, sometimes raw and hostile.
    static func callEnvelope(_ rng: inout SplitMix64, targets: [Target], paths: [String]) -> [UInt8] {
        let t = targets[rng.below(targets.count)]
        var path = paths[rng.below(paths.count)]
        var target = t.target
        var args = t.arguments
        switch rng.below(6) {
        case 0: break // as is (right or wrong recipient)
        case 1: // mutated target
            var bytes = Array(target.utf8)
            bytes[rng.below(bytes.count)] = rng.byte()
            target = String(decoding: bytes, as: UTF8.self)
        case 2: target = String(target.prefix(rng.below(target.count))) // truncated target
        case 3: // mutated argument bytes, or random arguments
            if !args.isEmpty && rng.chance(2) {
                let i = rng.below(args.count)
                if !args[i].isEmpty { args[i][rng.below(args[i].count)] = rng.byte() }
                if rng.chance(3) { args[i] = Array(args[i].prefix(rng.below(args[i].count + 1))) }
            } else {
                args = (0..<rng.below(4)).map { _ in rng.bytes(rng.below(24)) }
            }
        case 4: path = String(decoding: rng.bytes(rng.below(20)), as: UTF8.self)
        default: break
        }
        if rng.chance(3) {
            // Raw: bad UTF-8, huge declared counts and lengths, trailing bytes.
            var w = Wire.ByteWriter(capacity: 256)
            w.writeVarint(rng.next())
            let badUTF8: [UInt8] = [0xC3, 0x28, 0xFF, 0xED, 0xA0, 0x80] // invalid sequences, a surrogate
            func field(_ s: String) {
                switch rng.below(5) {
                case 0: w.writeLengthPrefixed(Array(s.utf8) + badUTF8.prefix(1 + rng.below(badUTF8.count)))
                case 1: w.writeVarint(rng.chance(2) ? UInt64.max : UInt64(1) << UInt64(20 + rng.below(40))) // huge length
                default: w.writeString(s)
                }
            }
            field(path)
            field(target)
            let huge = [UInt64.max, UInt64(Int.max), 1 << 32, 1 << 20, 1000]
            w.writeVarint(rng.chance(4) ? huge[rng.below(huge.count)] : UInt64(rng.below(2)))
            w.writeVarint(rng.chance(4) ? huge[rng.below(huge.count)] : UInt64(args.count))
            for a in args { w.writeLengthPrefixed(a) }
            if rng.chance(3) { w.writeVarint(rng.chance(2) ? huge[rng.below(huge.count)] : 1); field("hotline.time"); field("x") }
            if rng.chance(4) { w.writeBytes(rng.bytes(1 + rng.below(10))) }
            return w.bytes
        }
        var out: [UInt8] = []
        let generics = rng.chance(8) ? [rng.chance(2) ? "Si" : "\u{01}\u{02}\u{03}\u{04}"] : []
        let baggage = rng.chance(5) ? ["hotline.time": rng.chance(2) ? "\(rng.below(1_000_000_000))" : "not a time"] : [:]
        CallEnvelope.encode(callID: rng.next() >> UInt64(rng.below(64)), recipientPath: path, target: target,
                            generics: generics, arguments: args, baggage: baggage, into: &out)
        return out
    }

    /// Replies nobody asked for: random call ids and statuses, sometimes malformed.
    static func replyEnvelope(_ rng: inout SplitMix64) -> [UInt8] {
        let replies: [ReplyEnvelope] = [.value(rng.bytes(rng.below(30))[...]), .void, .thrown(typeName: "T", message: "m"),
                                        .noSuchActor(path: "/x"), .invocationFailed("why"), .noSuchTarget(path: "/p", target: "t"),
                                        .resultTooLarge(bytes: rng.below(1 << 30), limit: rng.below(1 << 24)),
                                        .thrownTyped(wireName: rng.chance(2) ? "hotline.HotlineError" : "cluster.RemoteCallError",
                                                     typeName: "T", message: "m", payload: rng.bytes(rng.below(30))[...])]
        var out: [UInt8] = []
        replies[rng.below(replies.count)].encode(callID: UInt64(rng.below(100)), into: &out)
        switch rng.below(4) {
        case 0: out[rng.below(out.count)] = rng.byte()
        case 1: out += rng.bytes(1 + rng.below(4))
        case 2: out = Array(out.prefix(rng.below(out.count)))
        default: break
        }
        return out
    }

    // MARK: - Helpers

    /// The length field of an encoded frame.
    static func declaredLength(_ frame: [UInt8]) -> Int {
        frame.prefix(4).reduce(0) { $0 << 8 | Int($1) }
    }

    static func header(length: UInt32, kind: UInt8) -> [UInt8] {
        [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), kind]
    }

    /// A dialer with a fresh uid. Handshakes that may complete claim 127.0.0.1:1 (nothing listens there, so
    /// the node's attempts to reach the "member" after the connection closes fail at once and never reach
    /// another process); a newer uid at that address replaces the older association.
    static func dialer(_ rng: inout SplitMix64, auth: ClusterAuth, port: UInt16 = 1) -> Handshake.Machine {
        let identity = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: port), uid: rng.next() | 1)
        return Handshake.Machine(role: .dialer, local: identity, clusterName: "hotline", versions: 1...1, auth: auth,
                                 nonce: rng.bytes(ClusterAuth.nonceBytes))
    }

    static func offer(_ rng: inout SplitMix64) -> [UInt8] {
        dialer(&rng, auth: .open, port: UInt16(truncatingIfNeeded: rng.next())).makeOffer().encode()
    }

    /// A raw connection that has completed a real handshake with the harness's secret.
    static func handshake(port: UInt16, auth: ClusterAuth, rng: inout SplitMix64) throws -> RawConn? {
        guard let peer = RawConn.connect(port: port, sendTimeoutSeconds: 1).0 else { return nil }
        var machine = dialer(&rng, auth: auth)
        _ = peer.send(Wire.FrameParser.encode(.handshakeOffer, payload: machine.makeOffer().encode()))
        guard case .frame(.handshakeChallenge, let challenge) = peer.readFrame(timeoutMs: 2_000, skippingHeartbeats: true),
              case .send(.handshakeResponse, let response) = machine.receive(.handshakeChallenge, payload: challenge[...],
                                                                             phaseOf: { _ in .none }) else {
            peer.close()
            return nil
        }
        _ = peer.send(Wire.FrameParser.encode(.handshakeResponse, payload: response))
        guard case .frame(.handshakeAccept, _) = peer.readFrame(timeoutMs: 2_000, skippingHeartbeats: true) else {
            peer.close()
            return nil
        }
        return peer
    }

}

