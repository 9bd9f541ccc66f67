import Foundation
import XCTest

@testable import ActorCluster

/// A rich message shape: strings, arrays, dictionaries, optionals, an enum with payloads, Date, UUID, Data.
private struct FuzzRecord: Codable {
    enum Status: Codable {
        case open
        case assigned(to: String, priority: Int8)
        case closed(Date, reason: String?)
        case merged([UUID])
    }

    struct Note: Codable {
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
    var owners: [UUID: String]
    var score: Double?
    var flags: [Bool?]
    var grid: [[Int16]]
    var link: URL?
    var history: [Status]?
}

/// `depth` nested unkeyed containers.
private final class Chain: Codable {
    let next: Chain?
    init(next: Chain?) { self.next = next }

    static func ofDepth(_ depth: Int) -> Chain {
        var chain = Chain(next: nil)
        for _ in 1..<max(depth, 1) { chain = Chain(next: chain) }
        return chain
    }

    init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        next = c.isAtEnd ? nil : try c.decode(Chain.self)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        if let next { try c.encode(next) }
    }
}

final class CodecFuzzTests: XCTestCase {
    /// Override with `CODEC_FUZZ_SEED=<decimal or 0xhex>` to reproduce or explore.
    private static let seed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["CODEC_FUZZ_SEED"] {
            if text.hasPrefix("0x"), let v = UInt64(text.dropFirst(2), radix: 16) { return v }
            if let v = UInt64(text) { return v }
        }
        return 0xC0DE_C5EE_D000_0001
    }()

    /// A fixed UUID per `n`, so the corpus is the same on every run.
    private static func uuid(_ n: UInt8) -> UUID {
        UUID(uuid: (n, 1, 2, 3, 4, 5, 0x46, 7, 0x88, 9, 10, 11, 12, 13, 14, n))
    }

    /// Dictionaries encode in hash order, which Swift seeds per process: run with
    /// `SWIFT_DETERMINISTIC_HASHING=1` as well as `CODEC_FUZZ_SEED` to replay a failure byte for byte.
    private static func sampleRecords() -> [FuzzRecord] {
        let base = Date(timeIntervalSinceReferenceDate: 800_000_000.25)
        let full = FuzzRecord(
            id: 1 << 40, title: "市民反映铁东区供暖不热，请尽快处理。",
            status: .assigned(to: "dispatcher-7", priority: -3),
            createdAt: base, caseID: uuid(1),
            attachment: Data((0..<40).map { UInt8($0 * 3) }),
            notes: [
                .init(author: "王", text: "已联系热力公司", tags: ["heating", "urgent"], at: base),
                .init(author: "li", text: "", tags: nil, at: base.addingTimeInterval(-1e9)),
            ],
            counters: ["calls": 3, "transfers": -1], byCode: [12345: "铁东区", -1: "unknown"],
            owners: [uuid(2): "a", uuid(3): "b"], score: 0.75, flags: [true, nil, false], grid: [[1, -2], [], [300]],
            link: URL(string: "https://hotline.example/cases/1"), history: [.open, .closed(base, reason: nil)])
        let small = FuzzRecord(
            id: 0, title: "", status: .open, createdAt: Date(timeIntervalSince1970: 0), caseID: uuid(4),
            attachment: Data(), notes: [], counters: [:], byCode: [:], owners: [:], score: nil, flags: [],
            grid: [], link: nil, history: nil)
        let big = FuzzRecord(
            id: .max, title: String(repeating: "长文本", count: 60), status: .merged([uuid(5), uuid(6), uuid(7)]),
            createdAt: .distantPast, caseID: uuid(8), attachment: Data(repeating: 0xEE, count: 200),
            notes: (0..<6).map { .init(author: "a\($0)", text: String(repeating: "n", count: 30 * $0), tags: ["t\($0)"], at: base) },
            counters: Dictionary(uniqueKeysWithValues: (0..<20).map { ("k\($0)", $0 * 1000) }),
            byCode: [1: "x"], owners: [:], score: -.infinity, flags: [nil], grid: [[Int16.min, Int16.max]],
            link: nil, history: [.closed(base, reason: "done"), .assigned(to: "", priority: 127)])
        return [full, small, big]
    }

    /// Decodes as `T`; anything but a value, a `Wire.DecodingError` or a `Swift.DecodingError` is a failure.
    /// Returns whether a value came back.
    @discardableResult
    private func probe<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ context: @autoclosure () -> String) -> Bool {
        do {
            _ = try Wire.BinaryDecoder().decode(type, from: bytes)
            return true
        } catch is Wire.DecodingError {
            return false
        } catch is DecodingError {
            return false
        } catch {
            XCTFail("unexpected error type \(error) for \(context()) input \(codecHex(bytes))")
            return false
        }
    }

    /// Writes a correct top-level header in front of `body`.
    private static func framed(_ body: [UInt8]) -> [UInt8] {
        var w = Wire.ByteWriter(capacity: body.count + 10)
        w.writeVarint(UInt64(body.count) + 1)
        w.writeBytes(body)
        return w.bytes
    }

    func test_randomBytesNeverCrashTheDecoder() {
        let seed = Self.seed
        print("CodecFuzzTests.random seed: 0x\(String(seed, radix: 16)) (set CODEC_FUZZ_SEED to reproduce)")
        var rng = SplitMix64(seed: seed)
        let clock = ContinuousClock()
        let start = clock.now
        var decoded = 0
        let iterations = 100_000
        for i in 0..<iterations {
            let length = rng.below(257)
            var bytes = [UInt8](repeating: 0, count: length)
            for j in 0..<length { bytes[j] = rng.byte() }
            // Half of the inputs get a well-formed top-level header, so they reach the containers.
            if i & 1 == 1 { bytes = Self.framed(bytes) }
            if probe(FuzzRecord.self, bytes, "random #\(i) seed 0x\(String(seed, radix: 16))") { decoded += 1 }
            if i % 8 == 0 { probe([String: [Int?]].self, bytes, "random #\(i)") }
        }
        print("CodecFuzzTests.random: \(iterations) inputs, \(decoded) decoded, \(clock.now - start)")
    }

    func test_mutatedValidEncodingsNeverCrashTheDecoder() throws {
        let seed = Self.seed ^ 0xA5A5_A5A5_A5A5_A5A5
        print("CodecFuzzTests.mutations seed: 0x\(String(Self.seed, radix: 16)) (set CODEC_FUZZ_SEED and SWIFT_DETERMINISTIC_HASHING=1 to reproduce)")
        var rng = SplitMix64(seed: seed)
        let corpus = try Self.sampleRecords().map { try codecEncode($0) }
        for bytes in corpus { XCTAssertTrue(probe(FuzzRecord.self, bytes, "corpus")) }
        let interesting: [UInt64] = [0, 1, 2, 126, 127, 128, 129, 255, 256, 16383, 16384, 1 << 31, 1 << 32, 1 << 62, .max - 1, .max]

        let clock = ContinuousClock()
        let start = clock.now
        var decoded = 0
        let iterations = 100_000
        for i in 0..<iterations {
            var bytes = corpus[rng.below(corpus.count)]
            for _ in 0...rng.below(3) {
                let n = bytes.count
                switch rng.below(8) {
                case 0 where n > 0:  // bit flip
                    bytes[rng.below(n)] ^= 1 << UInt8(rng.below(8))
                case 1 where n > 0:  // random byte
                    bytes[rng.below(n)] = rng.byte()
                case 2:  // insertion
                    bytes.insert(contentsOf: (0...rng.below(4)).map { _ in rng.byte() }, at: rng.below(n + 1))
                case 3 where n > 0:  // deletion
                    let at = rng.below(n)
                    bytes.removeSubrange(at..<min(n, at + 1 + rng.below(8)))
                case 4:  // truncation
                    bytes.removeSubrange(rng.below(n + 1)...)
                case 5 where n > 0:  // length/key varint tampering: replace one byte with a whole varint
                    var w = Wire.ByteWriter(capacity: 10)
                    let value = rng.chance(2) ? interesting[rng.below(interesting.count)] : UInt64(rng.below(n + 2))
                    w.writeVarint(value)
                    let at = rng.below(n)
                    bytes.replaceSubrange(at...at, with: w.bytes)
                case 6 where n > 1:  // duplicate a chunk somewhere else
                    let from = rng.below(n)
                    let chunk = Array(bytes[from..<min(n, from + 1 + rng.below(24))])
                    bytes.insert(contentsOf: chunk, at: rng.below(n + 1))
                default:  // off-by-one in a byte that is likely a small header
                    if n > 0 {
                        let at = rng.below(n)
                        bytes[at] = rng.chance(2) ? bytes[at] &+ 1 : bytes[at] &- 1
                    }
                }
            }
            // Re-frame most inputs so the top-level header matches and decoding gets past it.
            if rng.below(4) != 0, !bytes.isEmpty {
                var reader = Wire.ByteReader(bytes)
                if (try? reader.readVarint()) != nil {
                    bytes = Self.framed(Array(bytes[reader.position...]))
                }
            }
            if probe(FuzzRecord.self, bytes, "mutation #\(i) seed 0x\(String(seed, radix: 16))") { decoded += 1 }
        }
        print("CodecFuzzTests.mutations: \(iterations) inputs, \(decoded) decoded, \(clock.now - start)")
    }

    func test_slotClaimingAHugeLengthThrows() throws {
        var huge = Wire.ByteWriter()
        huge.writeVarint(1 << 62)
        let header = huge.bytes
        // Top level.
        assertCodecDecodeThrows(String.self, header + [1, 2, 3]) { if case .truncated = $0 { true } else { false } }
        assertCodecDecodeThrows(FuzzRecord.self, header + [1, 2, 3])
        // h = UInt64.max: body length 2^64 - 2.
        assertCodecDecodeThrows(Data.self, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00])
        // A varint longer than 10 bytes.
        assertCodecDecodeThrows(Data.self, [UInt8](repeating: 0x80, count: 11) + [0x01]) {
            if case .overlongVarint = $0 { true } else { false }
        }
        // Inside a keyed container: key "title", then the huge slot.
        var keyed = Wire.ByteWriter()
        keyed.writeVarint(UInt64("title".utf8.count) << 1)
        keyed.writeBytes("title".utf8)
        keyed.writeBytes(header)
        keyed.writeBytes([1, 2, 3])
        assertCodecDecodeThrows(FuzzRecord.self, Self.framed(keyed.bytes))
        assertCodecDecodeThrows([String: String].self, Self.framed(keyed.bytes))
        // A string key claiming 2^62 bytes.
        var longKey = Wire.ByteWriter()
        longKey.writeVarint(1 << 63)
        longKey.writeBytes([0x61, 0x02, 0x02])
        assertCodecDecodeThrows([String: Int].self, Self.framed(longKey.bytes))
        // An element of an unkeyed container.
        assertCodecDecodeThrows([String].self, Self.framed([0x02, 0x61] + header + [0x62]))
    }

    func test_nestingDeeperThanMaxDepthThrows() throws {
        XCTAssertNotNil(try codecDecode(Chain.self, try codecEncode(Chain.ofDepth(256))))
        assertCodecDecodeThrows(Chain.self, try codecEncode(Chain.ofDepth(257))) {
            if case .depthLimitExceeded(256, _) = $0 { true } else { false }
        }
        let eight = try codecEncode(Chain.ofDepth(8))
        XCTAssertNotNil(try codecDecode(Chain.self, eight, maxDepth: 8))
        assertCodecDecodeThrows(Chain.self, eight, maxDepth: 7) {
            if case .depthLimitExceeded(7, _) = $0 { true } else { false }
        }
        // Struct/enum nesting counts too: each `Expr`-like level is a keyed container plus the payload's.
        struct Box: Codable { var inner: [Box] }
        var box = Box(inner: [])
        for _ in 0..<200 { box = Box(inner: [box]) }  // 2 containers per level
        assertCodecDecodeThrows(Box.self, try codecEncode(box)) {
            if case .depthLimitExceeded = $0 { true } else { false }
        }
    }

    func test_hugelyNestedInputThrowsWithoutExhaustingTheStack() {
        // 100,000 nested slots: s(s(s(...s()...))). Built inside out in O(n).
        let depth = 100_000
        var headers: [UInt64] = []
        headers.reserveCapacity(depth)
        var length: UInt64 = 0
        for _ in 0..<depth {
            let h = length + 1
            headers.append(h)
            var w = Wire.ByteWriter(capacity: 10)
            w.writeVarint(h)
            length += UInt64(w.bytes.count)
        }
        var bytes = Wire.ByteWriter(capacity: Int(length))
        for h in headers.reversed() { bytes.writeVarint(h) }
        XCTAssertEqual(UInt64(bytes.bytes.count), length)
        assertCodecDecodeThrows(Chain.self, bytes.bytes) { if case .depthLimitExceeded = $0 { true } else { false } }
        probe(FuzzRecord.self, bytes.bytes, "deep")
        probe([[[[[[[[String]]]]]]]].self, bytes.bytes, "deep")
    }
}
