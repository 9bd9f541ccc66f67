// libFuzzer harness for the wire layer: the frame parser, the handshake payload decoders and state machine,
// the call / reply envelope decoders and the binary value decoder.
//
// Input: byte 0 selects the decoder (`Kind`, modulo the number of kinds), the rest is its input. Every decoder
// must return or throw — never trap — and whatever decodes must survive a round trip (encode, decode again,
// compare), so a decoder that accepts what its encoder cannot reproduce is found too.
//
// `HOTLINE_FUZZ_WRITE_CORPUS=DIR` makes the binary write its seed corpus (built from the real encoders) into
// DIR and exit, instead of fuzzing.

@testable import ActorCluster
import CFuzzDriver
import Foundation

enum Kind: UInt8, CaseIterable {
    case frames = 0, offer, challenge, response, reject, call, reply, record, chain, values, acceptor, dialer
}

// MARK: - Representative Codable types

struct FuzzRecord: Codable, Equatable {
    enum Status: Codable, Equatable {
        case open
        case assigned(to: String, priority: Int8)
        case closed(Date, reason: String?)
        case merged([UUID])
    }
    struct Note: Codable, Equatable {
        var author: String
        var text: String
        var tags: [String]?
        var at: Date
    }
    var id: UInt64
    var title: String
    var status: Status
    var createdAt: Date
    var caseID: UUID
    var attachment: Data
    var notes: [Note]
    var counters: [String: Int]
    var byCode: [Int: String]
    var score: Double?
    var flags: [Bool?]
    var grid: [[Int16]]
    var link: URL?
    var node: NodeIdentity?
}

/// Nested unkeyed containers, as deep as the input says (the decoder's depth limit must hold).
final class Chain: Codable {
    let next: Chain?
    init(next: Chain?) { self.next = next }
    init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        next = c.isAtEnd ? nil : try c.decode(Chain.self)
    }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        if let next { try c.encode(next) }
    }
    var depth: Int { 1 + (next?.depth ?? 0) }
}

/// A grab bag of standard shapes decoded one after another from the same bytes.
struct Values: Codable, Equatable {
    var text: String
    var bytes: [UInt8]
    var map: [String: [Int]]
    var nested: [[String: String?]]
    var pair: [Int64: UInt32]
    var small: [UInt8: Int32]?
    var real: Float
}

// MARK: - Fixed handshake parties

let secret = Array("hotline-fuzz-secret-0123456789".utf8)
let acceptorID = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 7101), uid: 0xA11CE)
let dialerID = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 7102), uid: 0xD1A1)
let nonceA = [UInt8](repeating: 0xAA, count: ClusterAuth.nonceBytes)
let nonceD = [UInt8](repeating: 0xDD, count: ClusterAuth.nonceBytes)

func machine(_ role: Handshake.Machine.Role, auth: ClusterAuth) -> Handshake.Machine {
    Handshake.Machine(role: role, local: role == .acceptor ? acceptorID : dialerID, clusterName: "hotline",
                      versions: 1...1, auth: auth, nonce: role == .acceptor ? nonceA : nonceD)
}

func check(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(what())") }
}

// MARK: - One input

func fuzzOne(_ data: [UInt8]) {
    guard let first = data.first else { return }
    let kind = Kind(rawValue: first % UInt8(Kind.allCases.count))!
    let body = data[1...]
    switch kind {
    case .frames: fuzzFrames(body)
    case .offer:
        guard let o = try? Handshake.Offer.decode(body) else { return }
        let again = try? Handshake.Offer.decode(o.encode()[...])
        check(again == o, "offer round trip")
    case .challenge:
        guard let c = try? Handshake.Challenge.decode(body) else { return }
        check((try? Handshake.Challenge.decode(c.encode()[...])) == c, "challenge round trip")
    case .response:
        guard let r = try? Handshake.Response.decode(body) else { return }
        check((try? Handshake.Response.decode(r.encode()[...])) == r, "response round trip")
    case .reject:
        guard let r = try? Handshake.Reject.decode(body) else { return }
        check((try? Handshake.Reject.decode(r.encode()[...])) == r, "reject round trip")
    case .call:
        guard let c = try? CallEnvelope.decode(body) else { return }
        var out: [UInt8] = []
        CallEnvelope.encode(callID: c.callID, recipientPath: c.recipientPath, target: c.target,
                            generics: c.genericSubstitutions, arguments: c.arguments.map { Array($0) },
                            baggage: c.baggage, into: &out)
        guard let again = try? CallEnvelope.decode(out[...]) else { fatalError("call envelope re-encoding does not decode") }
        check(again.callID == c.callID && again.recipientPath == c.recipientPath && again.target == c.target
              && again.genericSubstitutions == c.genericSubstitutions && again.baggage == c.baggage
              && again.arguments.map { Array($0) } == c.arguments.map { Array($0) }, "call envelope round trip")
    case .reply:
        guard let (id, reply) = try? ReplyEnvelope.decode(body) else { return }
        var out: [UInt8] = []
        reply.encode(callID: id, into: &out)
        guard let (id2, reply2) = try? ReplyEnvelope.decode(out[...]) else { fatalError("reply re-encoding does not decode") }
        check(id2 == id && "\(reply2)" == "\(reply)", "reply round trip")
    case .record: roundTrip(FuzzRecord.self, body)
    case .chain:
        var decoder = Wire.BinaryDecoder()
        decoder.maxDepth = 64
        guard let chain = try? decoder.decode(Chain.self, from: body) else { return }
        check(chain.depth <= 64, "chain deeper than maxDepth")
    case .values: roundTrip(Values.self, body)
    case .acceptor: fuzzMachine(.acceptor, body)
    case .dialer: fuzzMachine(.dialer, body)
    }
}

/// Decodes `T`; when that works, encoding the value and decoding it again must work too.
func roundTrip<T: Codable>(_ type: T.Type, _ bytes: ArraySlice<UInt8>) {
    guard let value = try? Wire.BinaryDecoder().decode(T.self, from: bytes) else { return }
    let encoded: [UInt8]
    do { encoded = try Wire.BinaryEncoder().encode(value) } catch { fatalError("decoded \(T.self) does not encode: \(error)") }
    do { _ = try Wire.BinaryDecoder().decode(T.self, from: encoded) } catch {
        fatalError("re-encoded \(T.self) does not decode: \(error)")
    }
}

/// The whole buffer through `parseAll` under both limits, and the same stream fed in two pieces.
func fuzzFrames(_ bytes: ArraySlice<UInt8>) {
    for limit in [Handshake.maxHandshakeFrameBytes, Wire.defaultMaxFrameBytes, 16] {
        let parser = Wire.FrameParser(maxFrameBytes: limit)
        let (frames, consumed, error) = parser.parseAll(bytes)
        check(consumed >= 0 && consumed <= bytes.count, "consumed \(consumed) of \(bytes.count)")
        var offset = 0
        for f in frames {
            check(f.payload.count + 1 <= limit, "frame above limit")
            let encoded = Wire.FrameParser.encode(f.kind, payload: f.payload)
            let start = bytes.startIndex + offset
            check(bytes[start..<(start + encoded.count)].elementsEqual(encoded), "frame does not re-encode to its bytes")
            offset += encoded.count
        }
        check(offset == consumed, "consumed \(consumed) but frames cover \(offset)")
        // Split delivery: the frames of a prefix are a prefix of the frames of the whole.
        if !bytes.isEmpty {
            let cut = bytes.startIndex + Int(bytes[bytes.startIndex]) % (bytes.count + 1)
            let head = parser.parseAll(bytes[..<cut])
            check(head.frames.count <= frames.count && zip(head.frames, frames).allSatisfy { $0 == $1 },
                  "split delivery changed the frames")
            if head.error == nil, error == nil {
                let rest = parser.parseAll(bytes[(bytes.startIndex + head.consumed)...])
                check(head.frames.count + rest.frames.count == frames.count, "split delivery lost frames")
            }
        }
        if case .error = parser.parse(bytes) { check(frames.isEmpty, "parse error but parseAll returned frames") }
    }
}

/// Frames from the input fed to a handshake machine (open and with a secret).
func fuzzMachine(_ role: Handshake.Machine.Role, _ bytes: ArraySlice<UInt8>) {
    let (frames, _, _) = Wire.FrameParser(maxFrameBytes: Handshake.maxHandshakeFrameBytes).parseAll(bytes)
    for auth in [ClusterAuth.open, .secrets(current: secret, previous: nil)] {
        var m = machine(role, auth: auth)
        for f in frames.prefix(8) {
            let phase: Handshake.PeerPhase = f.payload.count % 2 == 0 ? .none : .dialing
            let step = m.receive(f.kind, payload: f.payload, phaseOf: { _ in phase })
            if case .secrets = auth, role == .acceptor, case .accept = step {
                fatalError("acceptor with a secret accepted a fuzzed dialer")
            }
            if case .secrets = auth, role == .dialer, case .send(.handshakeResponse, _) = step {
                fatalError("dialer with a secret accepted a fuzzed challenge proof")
            }
            if case .failed = m.state { break }
        }
    }
}

// MARK: - Seed corpus

/// Deterministic UUIDs for the corpus (one new value per call).
nonisolated(unsafe) var uuidCounter: UInt8 = 0
func fixedUUID() -> UUID {
    uuidCounter &+= 1
    let n = uuidCounter
    return UUID(uuid: (n, 1, 2, 3, 4, 5, 0x46, 7, 0x88, 9, 10, 11, 12, 13, 14, n))
}

func corpus() -> [(String, [UInt8])] {
    var out: [(String, [UInt8])] = []
    func add(_ name: String, _ kind: Kind, _ bytes: [UInt8]) { out.append((name, [kind.rawValue] + bytes)) }
    let open = machine(.dialer, auth: .open)
    let offer = open.makeOffer().encode()
    let offers: [Handshake.Offer] = [
        open.makeOffer(),
        Handshake.Offer(versions: 1...3, clusterName: "", identity: dialerID, nonce: nonceD),
        Handshake.Offer(versions: 2...2, clusterName: String(repeating: "c", count: 255),
                        identity: NodeIdentity(address: NodeAddress(host: "[::1]", port: 0), uid: .max), nonce: nonceA),
        Handshake.Offer(versions: 0...UInt16.max, clusterName: "城市", identity: acceptorID, nonce: nonceD),
    ]
    for (i, o) in offers.enumerated() { add("offer-\(i)", .offer, o.encode()) }
    add("offer-trailing", .offer, offer + [1, 2, 3])
    add("offer-truncated", .offer, Array(offer.prefix(20)))
    let auth = ClusterAuth.secrets(current: secret, previous: Array("previous-secret-0123456789".utf8))
    let transcript = ClusterAuth.Transcript(clusterName: "hotline", offeredVersions: 1...1, version: 1, dialer: dialerID,
                                            acceptor: acceptorID, dialerNonce: nonceD, acceptorNonce: nonceA)
    for (i, proofs) in [[], auth.proofs(.acceptor, transcript), [auth.proofs(.acceptor, transcript)[0]]].enumerated() {
        add("challenge-\(i)", .challenge, Handshake.Challenge(version: 1, identity: acceptorID, nonce: nonceA, proofs: proofs).encode())
        add("response-\(i)", .response, Handshake.Response(proofs: proofs).encode())
    }
    for code in [1, 2, 3, 4, 5, 6, 7, 200] as [UInt8] {
        add("reject-\(code)", .reject, Handshake.Reject(Handshake.RejectReason(code: code), "reason \(code) ✓").encode())
    }
    let calls: [(UInt64, String, String, [String], [[UInt8]], [String: String])] = [
        (1, "/system/probe", "$s12ActorCluster9NodeProbeC4infoAA0C4InfoVyYaKFTE", [], [], [:]),
        (2, "/system/probe", "$s12ActorCluster9NodeProbeC4echoySays5UInt8VGAGYaKFTE", [], [[0x02, 0x01, 0x02]], [:]),
        (UInt64.max, "/district/210302", "target", ["Si", "SS"], [[], [0], [1, 2, 3]], ["hotline.time": "800000000"]),
        (0, "", "", [], [], ["k": "v", "ключ": "значение"]),
    ]
    for (i, c) in calls.enumerated() {
        var bytes: [UInt8] = []
        CallEnvelope.encode(callID: c.0, recipientPath: c.1, target: c.2, generics: c.3, arguments: c.4, baggage: c.5, into: &bytes)
        add("call-\(i)", .call, bytes)
        add("frame-call-\(i)", .frames, Wire.FrameParser.encode(.call, payload: bytes))
    }
    let replies: [ReplyEnvelope] = [.value([1, 2, 3]), .void, .thrown(typeName: "Hotline.Err", message: "boom"),
                                    .noSuchActor(path: "/x"), .invocationFailed("why"),
                                    .noSuchTarget(path: "/system/probe", target: "t"),
                                    .resultTooLarge(bytes: 9_000_000, limit: 8_388_608)]
    for (i, r) in replies.enumerated() {
        var bytes: [UInt8] = []
        r.encode(callID: UInt64(i) * 1000, into: &bytes)
        add("reply-\(i)", .reply, bytes)
        add("frame-reply-\(i)", .frames, Wire.FrameParser.encode(.reply, payload: bytes))
    }
    add("frames-handshake", .frames, Wire.FrameParser.encode(.handshakeOffer, payload: offer)
        + Wire.FrameParser.encode(.heartbeat, payload: []) + Wire.FrameParser.encode(.handshakeAccept, payload: []))
    add("frames-message", .frames, Wire.FrameParser.encode(.message, payload: [4, 0x2F, 0x61, 0x62, 0x63, 9, 9]))
    add("frames-zero", .frames, [0, 0, 0, 0, 1])
    add("frames-huge", .frames, [0xFF, 0xFF, 0xFF, 0xFF, 0x10])
    add("frames-badkind", .frames, [0, 0, 0, 1, 0x7F])
    let base = Date(timeIntervalSinceReferenceDate: 800_000_000.25)
    let records = [
        FuzzRecord(id: 1, title: "供暖", status: .open, createdAt: base, caseID: UUID(uuid: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)),
                   attachment: Data([1, 2, 3]), notes: [.init(author: "a", text: "t", tags: ["x", "y"], at: base)],
                   counters: ["a": 1, "b": -2], byCode: [1: "one", 300: "three hundred"], score: 4.5, flags: [true, nil, false],
                   grid: [[1, -2], [], [3]], link: URL(string: "https://example.org/a?b=c"), node: dialerID),
        FuzzRecord(id: .max, title: "", status: .assigned(to: "district", priority: -3), createdAt: base, caseID: fixedUUID(),
                   attachment: Data(), notes: [], counters: [:], byCode: [:], score: nil, flags: [], grid: [], link: nil, node: nil),
        FuzzRecord(id: 0, title: "x", status: .closed(base, reason: nil), createdAt: base, caseID: fixedUUID(), attachment: Data(count: 40),
                   notes: [], counters: [:], byCode: [:], score: -0.0, flags: [nil], grid: [[]], link: nil, node: nil),
        FuzzRecord(id: 7, title: "m", status: .merged([fixedUUID(), fixedUUID()]), createdAt: base, caseID: fixedUUID(), attachment: Data(),
                   notes: [], counters: ["z": 0], byCode: [-1: ""], score: .infinity, flags: [true], grid: [], link: nil, node: acceptorID),
    ]
    for (i, r) in records.enumerated() { add("record-\(i)", .record, try! Wire.BinaryEncoder().encode(r)) }
    var chain = Chain(next: nil)
    for depth in 1...70 {
        if [1, 2, 5, 63, 64, 70].contains(depth) { add("chain-\(depth)", .chain, try! Wire.BinaryEncoder().encode(chain)) }
        chain = Chain(next: chain)
    }
    let values = [
        Values(text: "hello", bytes: [0, 255], map: ["a": [1, 2], "": []], nested: [["k": "v", "n": nil]], pair: [-5: 7],
               small: [1: -1], real: 1.5),
        Values(text: "", bytes: [], map: [:], nested: [], pair: [:], small: nil, real: .nan),
    ]
    for (i, v) in values.enumerated() { add("values-\(i)", .values, try! Wire.BinaryEncoder().encode(v)) }
    // Handshake machines: the acceptor gets a real offer (+ a response), the dialer a real challenge (+ accept).
    var acceptor = machine(.acceptor, auth: .open)
    if case .send(_, let challenge) = acceptor.receive(.handshakeOffer, payload: offer[...], phaseOf: { _ in .none }) {
        var dialer = open
        if case .send(_, let response) = dialer.receive(.handshakeChallenge, payload: challenge[...], phaseOf: { _ in .none }) {
            add("acceptor-open", .acceptor, Wire.FrameParser.encode(.handshakeOffer, payload: offer)
                + Wire.FrameParser.encode(.handshakeResponse, payload: response))
            add("dialer-open", .dialer, Wire.FrameParser.encode(.handshakeChallenge, payload: challenge)
                + Wire.FrameParser.encode(.handshakeAccept, payload: []))
        }
    }
    let secretDialer = machine(.dialer, auth: .secrets(current: secret, previous: nil))
    add("acceptor-secret", .acceptor, Wire.FrameParser.encode(.handshakeOffer, payload: secretDialer.makeOffer().encode())
        + Wire.FrameParser.encode(.handshakeResponse, payload: Handshake.Response(proofs: [Array(repeating: 1, count: 32)]).encode()))
    add("dialer-reject", .dialer, Wire.FrameParser.encode(.handshakeReject, payload: Handshake.Reject(.duplicate, "dup").encode()))
    seededVariants(add)
    return out
}

/// A few dozen more small valid inputs per kind, with values drawn from a fixed seed (the corpus is the same
/// on every run, dictionaries aside: they encode in the process's hash order).
func seededVariants(_ add: (String, Kind, [UInt8]) -> Void) {
    var rng = SplitMix64(seed: 0x4854_4C4E_F022)
    func text(_ max: Int, _ alphabet: [String] = ["a", "Z", "0", ".", "-", "/", "供", "é", " ", "_"]) -> String {
        (0..<rng.below(max + 1)).map { _ in alphabet[rng.below(alphabet.count)] }.joined()
    }
    func bytes(_ max: Int) -> [UInt8] { (0..<rng.below(max + 1)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
    func identity() -> NodeIdentity {
        let host = rng.below(3) == 0 ? "node-\(rng.below(100)).example" : "10.\(rng.below(256)).\(rng.below(256)).\(rng.below(256))"
        return NodeIdentity(address: NodeAddress(host: host, port: UInt16(truncatingIfNeeded: rng.next())), uid: rng.next() | 1)
    }
    func nonce() -> [UInt8] { (0..<ClusterAuth.nonceBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
    func proofs() -> [[UInt8]] { (0..<rng.below(3)).map { _ in (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) } } }
    var frameStream: [[UInt8]] = []
    for i in 0..<24 {
        let lo = UInt16(rng.below(4)), hi = lo + UInt16(rng.below(3))
        let offer = Handshake.Offer(versions: lo...hi, clusterName: rng.below(2) == 0 ? "hotline" : text(12),
                                    identity: identity(), nonce: nonce()).encode()
        add("offer-s\(i)", .offer, offer)
        let challenge = Handshake.Challenge(version: UInt16(rng.below(3)), identity: identity(), nonce: nonce(), proofs: proofs()).encode()
        add("challenge-s\(i)", .challenge, challenge)
        let response = Handshake.Response(proofs: proofs()).encode()
        add("response-s\(i)", .response, response)
        let reject = Handshake.Reject(Handshake.RejectReason(code: UInt8(rng.below(10))), text(20)).encode()
        add("reject-s\(i)", .reject, reject)
        var call: [UInt8] = []
        let paths = ["/system/probe", "/hotline/node", "/hotline/intake", "/district/210302", "/x", text(10)]
        var baggage: [String: String] = [:]
        if rng.below(2) == 0 { baggage["hotline.time"] = "\(rng.below(1_000_000_000))" }
        CallEnvelope.encode(callID: rng.next() >> UInt64(rng.below(64)), recipientPath: paths[rng.below(paths.count)],
                            target: text(40), generics: (0..<rng.below(3)).map { _ in text(6) },
                            arguments: (0..<rng.below(4)).map { _ in bytes(12) }, baggage: baggage, into: &call)
        add("call-s\(i)", .call, call)
        let replies: [ReplyEnvelope] = [.value(bytes(16)[...]), .void, .thrown(typeName: text(12), message: text(20)),
                                        .noSuchActor(path: text(10)), .invocationFailed(text(15)),
                                        .noSuchTarget(path: text(8), target: text(30)),
                                        .resultTooLarge(bytes: rng.below(1 << 30), limit: rng.below(1 << 24))]
        var reply: [UInt8] = []
        replies[rng.below(replies.count)].encode(callID: rng.next() >> UInt64(rng.below(64)), into: &reply)
        add("reply-s\(i)", .reply, reply)
        let record = FuzzRecord(
            id: rng.next(), title: text(16),
            status: [.open, .assigned(to: text(8), priority: Int8(truncatingIfNeeded: rng.next())),
                     .closed(Date(timeIntervalSince1970: Double(rng.below(2_000_000_000))), reason: rng.below(2) == 0 ? nil : text(8)),
                     .merged((0..<rng.below(3)).map { _ in fixedUUID() })][rng.below(4)],
            createdAt: Date(timeIntervalSinceReferenceDate: Double(rng.below(1 << 30)) / 8), caseID: fixedUUID(),
            attachment: Data(bytes(20)),
            notes: (0..<rng.below(3)).map { _ in .init(author: text(5), text: text(20), tags: rng.below(2) == 0 ? nil : [text(4)], at: Date(timeIntervalSinceReferenceDate: Double(rng.below(1 << 30)))) },
            counters: Dictionary((0..<rng.below(4)).map { _ in (text(5), rng.below(1000) - 500) }, uniquingKeysWith: { a, _ in a }),
            byCode: Dictionary((0..<rng.below(4)).map { _ in (rng.below(1000) - 500, text(5)) }, uniquingKeysWith: { a, _ in a }),
            score: rng.below(3) == 0 ? nil : Double(Int64(bitPattern: rng.next())) / 1e9,
            flags: (0..<rng.below(5)).map { _ in [true, false, nil][rng.below(3)] },
            grid: (0..<rng.below(3)).map { _ in (0..<rng.below(4)).map { _ in Int16(truncatingIfNeeded: rng.next()) } },
            link: rng.below(2) == 0 ? nil : URL(string: "https://example.org/\(rng.below(1000))"),
            node: rng.below(2) == 0 ? nil : identity())
        add("record-s\(i)", .record, try! Wire.BinaryEncoder().encode(record))
        let values = Values(text: text(20), bytes: bytes(10),
                            map: Dictionary((0..<rng.below(3)).map { _ in (text(4), (0..<rng.below(4)).map { _ in rng.below(100) }) },
                                            uniquingKeysWith: { a, _ in a }),
                            nested: (0..<rng.below(3)).map { _ in [text(3): rng.below(2) == 0 ? nil : text(3)] },
                            pair: [Int64(bitPattern: rng.next()): UInt32(truncatingIfNeeded: rng.next())],
                            small: rng.below(2) == 0 ? nil : [UInt8(rng.below(256)): Int32(truncatingIfNeeded: rng.next())],
                            real: Float(rng.below(10_000)) / 7)
        add("values-s\(i)", .values, try! Wire.BinaryEncoder().encode(values))
        let kinds: [(Wire.FrameKind, [UInt8])] = [(.handshakeOffer, offer), (.handshakeChallenge, challenge),
                                                   (.handshakeResponse, response), (.handshakeReject, reject),
                                                   (.heartbeat, []), (.handshakeAccept, []), (.call, call), (.reply, reply),
                                                   (.message, bytes(20)), (.membership, bytes(20))]
        frameStream.append((0..<(1 + rng.below(4))).flatMap { _ in
            let (k, p) = kinds[rng.below(kinds.count)]
            return Wire.FrameParser.encode(k, payload: p)
        })
        add("frames-s\(i)", .frames, frameStream[i])
        if i % 2 == 0 {
            add("acceptor-s\(i)", .acceptor, Wire.FrameParser.encode(.handshakeOffer, payload: offer)
                + Wire.FrameParser.encode(.handshakeResponse, payload: response))
        } else {
            add("dialer-s\(i)", .dialer, Wire.FrameParser.encode(.handshakeChallenge, payload: challenge)
                + Wire.FrameParser.encode(.handshakeAccept, payload: []))
        }
    }
}

// MARK: - Entry point

@main
enum WireFuzz {
    static func main() {
        if let dir = ProcessInfo.processInfo.environment["HOTLINE_FUZZ_WRITE_CORPUS"] {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let items = corpus()
            for (name, bytes) in items {
                fuzzOne(bytes) // every seed must pass the harness itself
                _ = FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data(bytes))
            }
            print("wrote \(items.count) seed inputs to \(dir)")
            exit(0)
        }
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            fuzzOne(size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
            return 0
        })
    }
}

/// The libFuzzer callback by its conventional name as well (the runtime's own `main`, pulled in by
/// `-sanitize=fuzzer`, references it; `WireFuzz.main` above is the one that runs).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
