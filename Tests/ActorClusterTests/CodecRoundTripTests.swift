import Foundation
import XCTest

@testable import ActorCluster

// MARK: - Helpers shared by the Codec* test files

func codecEncode<T: Encodable>(_ value: T) throws -> [UInt8] { try Wire.BinaryEncoder().encode(value) }

func codecDecode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], maxDepth: Int = 256) throws -> T {
    var decoder = Wire.BinaryDecoder()
    decoder.maxDepth = maxDepth
    return try decoder.decode(type, from: bytes)
}

func codecHex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
}

/// Encodes, decodes as the same type, and compares.
func assertCodecRoundTrip<T: Codable & Equatable>(
    _ value: T, file: StaticString = #filePath, line: UInt = #line
) {
    do {
        let bytes = try codecEncode(value)
        let back = try codecDecode(T.self, bytes)
        XCTAssertEqual(back, value, "bytes: \(codecHex(bytes))", file: file, line: line)
    } catch {
        XCTFail("round trip of \(value) threw \(error)", file: file, line: line)
    }
}

/// Asserts that decoding throws a `Wire.DecodingError` (and not some other error).
func assertCodecDecodeThrows<T: Decodable>(
    _ type: T.Type, _ bytes: [UInt8], maxDepth: Int = 256, file: StaticString = #filePath, line: UInt = #line,
    _ check: (Wire.DecodingError) -> Bool = { _ in true }
) {
    do {
        let value = try codecDecode(type, bytes, maxDepth: maxDepth)
        XCTFail("expected a throw, decoded \(value) from \(codecHex(bytes))", file: file, line: line)
    } catch let error as Wire.DecodingError {
        XCTAssertTrue(check(error), "unexpected error \(error)", file: file, line: line)
    } catch {
        XCTFail("expected Wire.DecodingError, got \(Swift.type(of: error)): \(error)", file: file, line: line)
    }
}

// MARK: - Types

private struct Ping: Codable, Equatable {
    var id: UInt64
    var name: String
}

private struct Widths: Codable, Equatable {
    var i: Int, i8: Int8, i16: Int16, i32: Int32, i64: Int64
    var u: UInt, u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64
}

private struct Level3: Codable, Equatable { var leaf: String; var values: [Double] }
private struct Level2: Codable, Equatable { var level3: Level3; var maybe: Level3?; var count: Int }
private struct Level1: Codable, Equatable { var level2: Level2; var list: [Level2]; var flag: Bool }

private enum Event: Codable, Equatable {
    case ping
    case hangUp
    case call(from: String, to: String, at: Date)
    case raw(Int, String)
    case mixed(Int, label: String?)
}

private indirect enum Expr: Codable, Equatable {
    case num(Int)
    case neg(Expr)
    case add(Expr, Expr)
    case call(name: String, args: [Expr])
}

private class Animal: Codable {
    var name: String
    var legs: Int
    init(name: String, legs: Int) {
        self.name = name
        self.legs = legs
    }
}

/// Writes its superclass through `superEncoder()` (key "super").
private final class Dog: Animal, Equatable {
    var breed: String
    private enum DogKeys: String, CodingKey { case breed }

    init(name: String, breed: String) {
        self.breed = breed
        super.init(name: name, legs: 4)
    }

    required init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: DogKeys.self)
        breed = try c.decode(String.self, forKey: .breed)
        try super.init(from: c.superDecoder())
    }

    override func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: DogKeys.self)
        try c.encode(breed, forKey: .breed)
        try super.encode(to: c.superEncoder())
    }

    static func == (a: Dog, b: Dog) -> Bool { a.name == b.name && a.legs == b.legs && a.breed == b.breed }
}

/// Shares one encoder with its superclass (both write into the same keyed container).
private final class Cat: Animal, Equatable {
    var indoor: Bool
    private enum CatKeys: String, CodingKey { case indoor }

    init(name: String, indoor: Bool) {
        self.indoor = indoor
        super.init(name: name, legs: 4)
    }

    required init(from decoder: any Decoder) throws {
        indoor = try decoder.container(keyedBy: CatKeys.self).decode(Bool.self, forKey: .indoor)
        try super.init(from: decoder)
    }

    override func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CatKeys.self)
        try c.encode(indoor, forKey: .indoor)
        try super.encode(to: encoder)
    }

    static func == (a: Cat, b: Cat) -> Bool { a.name == b.name && a.legs == b.legs && a.indoor == b.indoor }
}

private struct IntKeyed: Codable, Equatable {
    var a: String
    var b: Int
    enum CodingKeys: Int, CodingKey {
        case a = 1
        case b = 200
    }
}

/// Encodes two values into one single-value container.
private struct DoubleWriter: Encodable {
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(1)
        try c.encode(2)
    }
}

/// Asks one encoder for a keyed and then an unkeyed container.
private struct KindSwitcher: Encodable {
    private enum K: CodingKey { case x }
    func encode(to encoder: any Encoder) throws {
        var keyed = encoder.container(keyedBy: K.self)
        try keyed.encode(1, forKey: .x)
        var unkeyed = encoder.unkeyedContainer()
        try unkeyed.encode(2)
    }
}

/// Keeps writing into a nested container after its parent moved on.
private struct Interleaver: Encodable {
    private enum K: CodingKey { case a, b }
    func encode(to encoder: any Encoder) throws {
        var outer = encoder.container(keyedBy: K.self)
        var first = outer.nestedUnkeyedContainer(forKey: .a)
        try first.encode(1)
        try outer.encode(2, forKey: .b)
        try first.encode(3)
    }
}

/// A `String` wrapper whose decoder validates its input (throws `Swift.DecodingError`).
private struct Upper: Codable, Equatable {
    var text: String
    init(_ text: String) { self.text = text }
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        text = try c.decode(String.self)
        guard text == text.uppercased() else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not upper case")
        }
    }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

// MARK: - Tests

final class CodecRoundTripTests: XCTestCase {
    func test_smallStructEncodesToTheDocumentedSixteenBytes() throws {
        // The worked example in Docs/wire-codec.md.
        let bytes = try codecEncode(Ping(id: 300, name: "abc"))
        XCTAssertEqual(
            bytes,
            [0x10, 0x04, 0x69, 0x64, 0x03, 0xAC, 0x02, 0x08, 0x6E, 0x61, 0x6D, 0x65, 0x04, 0x61, 0x62, 0x63],
            codecHex(bytes))
        XCTAssertLessThan(bytes.count, 20)
        XCTAssertEqual(try codecDecode(Ping.self, bytes), Ping(id: 300, name: "abc"))
        XCTAssertLessThan(try codecEncode(Ping(id: 1 << 34, name: "abc")).count, 20)  // 5-byte varint id
    }

    func test_documentedExamplesEncodeToTheirDocumentedBytes() throws {
        // Docs/wire-codec.md, "Worked examples".
        struct Report: Codable, Equatable { var id: UInt64; var tags: [String]; var note: String? }
        let report = Report(id: 7, tags: ["热", ""], note: nil)
        XCTAssertEqual(
            try codecEncode(report),
            [0x11, 0x04, 0x69, 0x64, 0x02, 0x07, 0x08, 0x74, 0x61, 0x67, 0x73, 0x06, 0x04, 0xE7, 0x83, 0xAD, 0x01])
        assertCodecRoundTrip(report)

        enum Status: Codable, Equatable { case open; case assigned(to: String) }
        XCTAssertEqual(
            try codecEncode(Status.assigned(to: "王")),
            [0x12, 0x10, 0x61, 0x73, 0x73, 0x69, 0x67, 0x6E, 0x65, 0x64, 0x08, 0x04, 0x74, 0x6F, 0x04, 0xE7, 0x8E, 0x8B])
        XCTAssertEqual(try codecEncode(Status.open), [0x07, 0x08, 0x6F, 0x70, 0x65, 0x6E, 0x01])
        assertCodecRoundTrip(Status.assigned(to: "王"))
        assertCodecRoundTrip(Status.open)
        XCTAssertEqual(try codecEncode(Int?.some(5)), try codecEncode(5))
    }

    func test_primitiveSlotsHaveTheDocumentedLayout() throws {
        XCTAssertEqual(try codecEncode(true), [0x02, 0x01])
        XCTAssertEqual(try codecEncode(false), [0x02, 0x00])
        XCTAssertEqual(try codecEncode(0), [0x02, 0x00])
        XCTAssertEqual(try codecEncode(-1), [0x02, 0x01])
        XCTAssertEqual(try codecEncode(1), [0x02, 0x02])
        XCTAssertEqual(try codecEncode(UInt8(200)), [0x03, 0xC8, 0x01])
        XCTAssertEqual(try codecEncode(Float(1)), [0x05, 0x3F, 0x80, 0x00, 0x00])
        XCTAssertEqual(try codecEncode(Double(1)), [0x09, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try codecEncode(""), [0x01])
        XCTAssertEqual(try codecEncode(Optional<Int>.none), [0x00])
        XCTAssertEqual(try codecEncode([Int]()), [0x01])
        XCTAssertEqual(try codecEncode([1, 2]), [0x05, 0x02, 0x02, 0x02, 0x04])
        XCTAssertEqual(try codecEncode([Int?.none, 1]), [0x04, 0x00, 0x02, 0x02])
    }

    func test_integersOfEveryWidthRoundTripIncludingMinAndMax() throws {
        func check<I: FixedWidthInteger & Codable>(_ type: I.Type) {
            var values: [I] = [.min, .max, 0, 1, 63, 64, 127, 128, 255, 256, 16383, 16384]
            if I.isSigned { values += [-1, -64, -65, -128] }
            for v in values {
                assertCodecRoundTrip(v)
                assertCodecRoundTrip([v, v])
            }
        }
        check(Int.self); check(Int8.self); check(Int16.self); check(Int32.self); check(Int64.self)
        check(UInt.self); check(UInt8.self); check(UInt16.self); check(UInt32.self); check(UInt64.self)
        assertCodecRoundTrip(Widths(i: .min, i8: .min, i16: .min, i32: .min, i64: .min, u: 0, u8: 0, u16: 0, u32: 0, u64: 0))
        assertCodecRoundTrip(Widths(i: .max, i8: .max, i16: .max, i32: .max, i64: .max, u: .max, u8: .max, u16: .max, u32: .max, u64: .max))
        XCTAssertEqual(try codecEncode(UInt64.max).count, 11)  // header + 10-byte varint
    }

    func test_integerOutOfRangeForTheRequestedTypeThrows() throws {
        assertCodecDecodeThrows(UInt8.self, try codecEncode(256))
        assertCodecDecodeThrows(Int8.self, try codecEncode(-129))
        assertCodecDecodeThrows(UInt64.self, [0x0B] + [UInt8](repeating: 0xFF, count: 9) + [0x02])  // above UInt64.max
        assertCodecDecodeThrows(Int32.self, try codecEncode(Int64.max))
        assertCodecDecodeThrows(UInt16.self, try codecEncode(UInt32(70000)))
        // A zig-zag varint read as unsigned keeps its bits: 2 (zig-zag of 1) is 2, not 1.
        XCTAssertEqual(try codecDecode(UInt.self, try codecEncode(1)), 2)
    }

    func test_bytesLeftInsideAnIntegerSlotThrow() {
        assertCodecDecodeThrows(Int.self, [0x03, 0x02, 0x00])
        assertCodecDecodeThrows(UInt32.self, [0x03, 0x02, 0x00])
        assertCodecDecodeThrows(Int.self, [0x01])  // empty body
    }

    func test_boolIsOneByteAndOtherValuesThrow() throws {
        assertCodecRoundTrip(true)
        assertCodecRoundTrip(false)
        assertCodecRoundTrip([true, false, true])
        assertCodecDecodeThrows(Bool.self, [0x02, 0x02])
        assertCodecDecodeThrows(Bool.self, [0x03, 0x01, 0x00])
        assertCodecDecodeThrows(Bool.self, [0x01])
    }

    func test_floatingPointRoundTripsBitForBitIncludingInfinityAndNaN() throws {
        let doubles: [Double] = [
            0, -0.0, 1, -1.5, .pi, .infinity, -.infinity, .nan, -.nan, .signalingNaN,
            Double(bitPattern: 0x7FF8_0000_DEAD_BEEF), .leastNonzeroMagnitude, .greatestFiniteMagnitude, .ulpOfOne,
        ]
        for d in doubles {
            let back = try codecDecode(Double.self, try codecEncode(d))
            XCTAssertEqual(back.bitPattern, d.bitPattern, "\(d)")
            let array = try codecDecode([Double].self, try codecEncode([d]))
            XCTAssertEqual(array.map(\.bitPattern), [d.bitPattern])
        }
        let floats: [Float] = [0, -0.0, 3.25, .infinity, -.infinity, .nan, .signalingNaN, Float(bitPattern: 0x7FC0_1234), .leastNormalMagnitude]
        for f in floats {
            XCTAssertEqual(try codecDecode(Float.self, try codecEncode(f)).bitPattern, f.bitPattern, "\(f)")
        }
        assertCodecDecodeThrows(Double.self, [0x05, 0x3F, 0x80, 0x00, 0x00])  // 4 bytes is a Float
        assertCodecDecodeThrows(Float.self, [0x09, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0])
    }

    func test_stringsRoundTripByteForByteIncludingEmptyChineseAndEmoji() throws {
        let strings = [
            "", "a", "市民反映铁东区供暖不热，请尽快处理。", "👩‍👩‍👧‍👦 emoji 🚒🔥", "e\u{301} vs \u{E9}", "nul\u{0}byte",
            String(repeating: "長", count: 500),
        ]
        for s in strings {
            let bytes = try codecEncode(s)
            let back = try codecDecode(String.self, bytes)
            XCTAssertEqual(Array(back.utf8), Array(s.utf8))
            // The body is the raw UTF-8, nothing else.
            XCTAssertEqual(Array(bytes.suffix(s.utf8.count)), Array(s.utf8))
        }
        let chinese = "市民反映铁东区供暖不热，请尽快处理。"
        XCTAssertEqual(try codecEncode(chinese), [UInt8(chinese.utf8.count + 1)] + Array(chinese.utf8))
    }

    func test_invalidUTF8InAStringThrows() {
        assertCodecDecodeThrows(String.self, [0x03, 0xC3, 0x28]) { if case .invalidUTF8 = $0 { true } else { false } }
        assertCodecDecodeThrows(String.self, [0x02, 0xFF])
        assertCodecDecodeThrows([String].self, [0x04, 0x03, 0xE2, 0x82])
    }

    func test_dataAndByteArraysAreRawBytes() throws {
        XCTAssertEqual(try codecEncode(Data([1, 2, 3])), [0x04, 1, 2, 3])
        XCTAssertEqual(try codecEncode([UInt8]([1, 2, 3])), [0x04, 1, 2, 3])
        assertCodecRoundTrip(Data())
        assertCodecRoundTrip(Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }))
        assertCodecRoundTrip([UInt8]())
        assertCodecRoundTrip([UInt8](repeating: 0xAB, count: 300))
        assertCodecRoundTrip([Data([1]), Data(), Data([0, 0, 0])])
        assertCodecRoundTrip([[UInt8]]([[1, 2], [], [255]]))
        assertCodecRoundTrip(Optional(Data([9, 9])))
        // Nested inside a keyed container, still raw: key "d" (02 64), slot 03 05 06.
        struct Holder: Codable, Equatable { var d: [UInt8] }
        XCTAssertEqual(try codecEncode(Holder(d: [5, 6])), [0x06, 0x02, 0x64, 0x03, 0x05, 0x06])
        assertCodecRoundTrip(Holder(d: [5, 6]))
    }

    func test_dateRoundTripsExactlyIncludingBefore1970() throws {
        let dates = [
            Date(), Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -1_234_567_890.123_456_7),
            Date(timeIntervalSinceReferenceDate: -0.000_001), .distantPast, .distantFuture,
            Date(timeIntervalSinceReferenceDate: 1e-300),
        ]
        for d in dates {
            let bytes = try codecEncode(d)
            XCTAssertEqual(bytes.count, 9)
            XCTAssertEqual(bytes[0], 9)
            let back = try codecDecode(Date.self, bytes)
            XCTAssertEqual(back.timeIntervalSinceReferenceDate.bitPattern, d.timeIntervalSinceReferenceDate.bitPattern)
            XCTAssertEqual(back, d)
        }
        // 2001-01-01T00:00:01Z is one second after the reference date: binary64 1.0.
        XCTAssertEqual(try codecEncode(Date(timeIntervalSinceReferenceDate: 1)), [0x09, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0])
        assertCodecDecodeThrows(Date.self, [0x05, 0, 0, 0, 0])
    }

    func test_uuidIsSixteenRawBytesAndOtherLengthsThrow() throws {
        let uuid = UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F") ?? UUID()
        let bytes = try codecEncode(uuid)
        XCTAssertEqual(bytes, [0x11, 0xE6, 0x21, 0xE1, 0xF8, 0xC3, 0x6C, 0x49, 0x5A, 0x93, 0xFC, 0x0C, 0x24, 0x7A, 0x3E, 0x6E, 0x5F])
        assertCodecRoundTrip(uuid)
        assertCodecRoundTrip([UUID(), UUID()])
        assertCodecDecodeThrows(UUID.self, [0x10] + [UInt8](repeating: 1, count: 15))
        assertCodecDecodeThrows(UUID.self, [0x12] + [UInt8](repeating: 1, count: 17))
    }

    func test_urlRoundTripsAsItsAbsoluteString() throws {
        let url = URL(string: "https://hotline.example/cases/42?lang=zh#top")
        XCTAssertNotNil(url)
        if let url {
            XCTAssertEqual(try codecEncode(url), [UInt8(url.absoluteString.utf8.count + 1)] + Array(url.absoluteString.utf8))
            assertCodecRoundTrip(url)
            assertCodecRoundTrip([url])
        }
        assertCodecDecodeThrows(URL.self, [0x01])  // "" is not a URL
    }

    func test_decimalRoundTripsThroughItsDefaultCodable() {
        assertCodecRoundTrip(Decimal(string: "12345.6789") ?? 0)
        assertCodecRoundTrip(Decimal(-3))
        assertCodecRoundTrip([Decimal(0), Decimal(string: "1e-20") ?? 1])
    }

    func test_optionalsRoundTripIncludingNestedOptionals() throws {
        assertCodecRoundTrip(Optional<Int>.none)
        assertCodecRoundTrip(Optional(5))
        assertCodecRoundTrip(Optional(""))
        assertCodecRoundTrip(Optional<Int?>.none)
        assertCodecRoundTrip(Optional<Int?>.some(.some(7)))
        assertCodecRoundTrip([Int??.none, .some(.some(1))])
        // Like JSON, `.some(.none)` has the same encoding as `.none` (one nil slot).
        XCTAssertEqual(try codecEncode(Optional<Int?>.some(.none)), [0x00])
        XCTAssertEqual(try codecDecode(Int??.self, [0x00]), .none)
        struct Holder: Codable, Equatable { var a: Int?; var b: String?; var c: [Int?]? }
        assertCodecRoundTrip(Holder(a: nil, b: nil, c: nil))
        assertCodecRoundTrip(Holder(a: 1, b: "", c: [nil, 2]))
        // Absent optionals take no bytes at all.
        XCTAssertEqual(try codecEncode(Holder(a: nil, b: nil, c: nil)), [0x01])
        assertCodecDecodeThrows(Int.self, [0x00]) { if case .valueNotFound = $0 { true } else { false } }
    }

    func test_arraysRoundTripIncludingEmptyOptionalsAndNested() {
        assertCodecRoundTrip([Int]())
        assertCodecRoundTrip([String]())
        assertCodecRoundTrip([1, -2, 3])
        assertCodecRoundTrip([Int?.none, 1, nil])
        assertCodecRoundTrip([String?.none])
        assertCodecRoundTrip([["a", "b"], [], ["市民"]])
        assertCodecRoundTrip([[String]?.none, ["x"], [], nil])
        assertCodecRoundTrip([[[Int]]]([[[1], []], [], [[2, 3]]]))
        assertCodecRoundTrip((0..<2000).map { "item \($0)" })
        assertCodecRoundTrip(Set(["a", "b", "c"]))
    }

    func test_dictionariesRoundTripWithStringIntAndOtherKeys() throws {
        assertCodecRoundTrip([String: Int]())
        assertCodecRoundTrip(["one": 1, "two": 2, "三": 3, "": 0])
        assertCodecRoundTrip([1: "one", -7: "minus seven", 0: "zero", Int.max: "max", Int.min: "min"])
        assertCodecRoundTrip([UUID(): "a", UUID(): "b"])
        assertCodecRoundTrip(["nested": ["x": [1, 2]], "empty": [:]])
        assertCodecRoundTrip([true: "yes", false: "no"])
        assertCodecRoundTrip(Dictionary(uniqueKeysWithValues: (0..<500).map { ("key\($0)", $0) }))
        // Integer keys use the integer form: k = 5 << 1 | 1 = 0x0B.
        XCTAssertEqual(try codecEncode([5: true]), [0x04, 0x0B, 0x02, 0x01])
    }

    func test_intCodingKeysUseTheIntegerKeyForm() throws {
        let value = IntKeyed(a: "x", b: 1)
        // a = 1 → k 0x03; b = 200 → k 401 = 0x91 0x03.
        XCTAssertEqual(try codecEncode(value), [0x08, 0x03, 0x02, 0x78, 0x91, 0x03, 0x02, 0x02])
        assertCodecRoundTrip(value)
    }

    func test_enumsWithAssociatedValuesRoundTrip() {
        assertCodecRoundTrip(Event.ping)
        assertCodecRoundTrip(Event.hangUp)
        assertCodecRoundTrip(Event.call(from: "12345", to: "市民热线", at: Date()))
        assertCodecRoundTrip(Event.raw(-9, "unlabelled"))
        assertCodecRoundTrip(Event.mixed(3, label: nil))
        assertCodecRoundTrip(Event.mixed(3, label: "l"))
        assertCodecRoundTrip([Event.ping, .raw(1, ""), .hangUp])
        assertCodecRoundTrip(["e": Event.ping])
    }

    func test_recursiveIndirectEnumRoundTrips() {
        var expr = Expr.num(0)
        for i in 1...60 { expr = i % 3 == 0 ? .neg(expr) : .add(expr, .num(i)) }
        assertCodecRoundTrip(expr)
        assertCodecRoundTrip(Expr.call(name: "f", args: [.num(1), .call(name: "g", args: []), .neg(.num(2))]))
    }

    func test_structsNestedThreeDeepRoundTrip() {
        let l3 = Level3(leaf: "leaf 叶", values: [1.5, -.infinity])
        let l2 = Level2(level3: l3, maybe: nil, count: 2)
        let value = Level1(
            level2: l2, list: [l2, Level2(level3: l3, maybe: l3, count: -1)], flag: true)
        assertCodecRoundTrip(value)
    }

    func test_classWithSuperEncoderRoundTrips() throws {
        let dog = Dog(name: "Rex", breed: "collie")
        let bytes = try codecEncode(dog)
        let back = try codecDecode(Dog.self, bytes)
        XCTAssertEqual(back, dog)
        // The superclass fields live in a nested slot under the string key "super".
        XCTAssertNotNil(codecHex(bytes).range(of: codecHex([0x0A] + Array("super".utf8))))
    }

    func test_subclassSharingItsEncoderWithTheSuperclassRoundTrips() throws {
        let cat = Cat(name: "Tom", indoor: true)
        XCTAssertEqual(try codecDecode(Cat.self, try codecEncode(cat)), cat)
    }

    func test_largeBodiesGetMultiByteHeadersAfterShifting() throws {
        let long = String(repeating: "x", count: 200)
        let l3 = Level3(leaf: long, values: Array(repeating: 0.5, count: 40))
        let value = Level1(level2: Level2(level3: l3, maybe: l3, count: 1), list: Array(repeating: Level2(level3: l3, maybe: nil, count: 9), count: 30), flag: false)
        let bytes = try codecEncode(value)
        XCTAssertGreaterThan(bytes.count, 16384)  // needs a 3-byte top-level header
        var reader = Wire.ByteReader(bytes)
        XCTAssertEqual(try reader.readVarint(), UInt64(bytes.count - 3 + 1))
        XCTAssertEqual(try codecDecode(Level1.self, bytes), value)
    }

    func test_encodeAppendingToKeepsTheBytesAlreadyThere() throws {
        var buffer: [UInt8] = [0xAA, 0xBB, 0xCC, 0xDD, 0xEE]
        try Wire.BinaryEncoder().encode(Ping(id: 300, name: "abc"), appendingTo: &buffer)
        XCTAssertEqual(Array(buffer.prefix(5)), [0xAA, 0xBB, 0xCC, 0xDD, 0xEE])
        XCTAssertEqual(Array(buffer.dropFirst(5)), try codecEncode(Ping(id: 300, name: "abc")))
        XCTAssertEqual(try Wire.BinaryDecoder().decode(Ping.self, from: buffer[5...]), Ping(id: 300, name: "abc"))
        // A failed encode leaves the buffer untouched.
        var other: [UInt8] = [1, 2, 3]
        XCTAssertThrowsError(try Wire.BinaryEncoder().encode([DoubleWriter()], appendingTo: &other))
        XCTAssertEqual(other, [1, 2, 3])
    }

    func test_misusingTheEncoderAPIThrowsEncodingError() {
        func expect(_ value: some Encodable, _ check: (Wire.EncodingError) -> Bool) {
            do {
                _ = try codecEncode(value)
                XCTFail("expected an EncodingError")
            } catch let error as Wire.EncodingError {
                XCTAssertTrue(check(error), "\(error)")
            } catch {
                XCTFail("unexpected \(error)")
            }
        }
        expect(DoubleWriter()) { if case .singleValueAlreadyEncoded = $0 { true } else { false } }
        expect(["k": DoubleWriter()]) { $0 == .singleValueAlreadyEncoded(path: "k") }
        expect(KindSwitcher()) { if case .containerKindMismatch = $0 { true } else { false } }
        expect(Interleaver()) { if case .containerClosed = $0 { true } else { false } }
    }

    func test_decodingErrorsNameTheCodingPath() throws {
        struct Outer: Codable { var inner: [Inner] }
        struct Inner: Codable { var must: Int }
        struct InnerLoose: Codable { var other: Int }
        struct OuterLoose: Codable { var inner: [InnerLoose] }
        let bytes = try codecEncode(OuterLoose(inner: [InnerLoose(other: 1), InnerLoose(other: 2)]))
        assertCodecDecodeThrows(Outer.self, bytes) { $0 == .keyNotFound(key: "must", path: "inner[0]") }
        struct Typed: Codable { var inner: [String: UInt8] }
        let wide = try codecEncode(["inner": ["a": 1, "b": 999]])
        assertCodecDecodeThrows(Typed.self, wide) { error in
            if case .invalidValue(let why) = error { why.hasSuffix("at inner.b") } else { false }
        }
    }

    func test_typesOwnValidationErrorsPassThrough() throws {
        assertCodecRoundTrip(Upper("ABC"))
        XCTAssertThrowsError(try codecDecode(Upper.self, try codecEncode("abc"))) { error in
            XCTAssertTrue(error is DecodingError, "\(error)")
        }
    }

    func test_trailingBytesAfterTheTopLevelSlotThrow() {
        assertCodecDecodeThrows(Int.self, [0x02, 0x02, 0x00])
        assertCodecDecodeThrows(Int.self, [])  // no slot at all
    }

    func test_encoderAndDecoderHandlesFitAnExistentialsInlineBuffer() {
        // `any Encoder` / `any Decoder` / single-value containers are passed for every value; three words
        // or less means no heap box per value.
        XCTAssertLessThanOrEqual(MemoryLayout<_BinaryEncoderImpl>.size, 3 * MemoryLayout<Int>.size)
        XCTAssertLessThanOrEqual(MemoryLayout<_BinarySingleValueEncodingContainer>.size, 3 * MemoryLayout<Int>.size)
        XCTAssertLessThanOrEqual(MemoryLayout<_BinaryDecoderImpl>.size, 3 * MemoryLayout<Int>.size)
    }

    func test_duplicateKeysInAKeyedContainerLastOneWins() throws {
        // {"id": 1, "name": "a", "id": 2}
        let bytes: [UInt8] = [0x12, 0x04, 0x69, 0x64, 0x02, 0x01, 0x08, 0x6E, 0x61, 0x6D, 0x65, 0x02, 0x61, 0x04, 0x69, 0x64, 0x02, 0x02]
        let ping = try codecDecode(Ping.self, bytes)
        XCTAssertEqual(ping, Ping(id: 2, name: "a"))
        // allKeys lists each key once.
        let dict = try codecDecode([String: Data].self, bytes)
        XCTAssertEqual(dict.count, 2)
        // Large containers (hash-table duplicate detection) behave the same.
        var big = Wire.ByteWriter()
        for i in 0..<100 {
            let key = Array("k\(i % 40)".utf8)
            big.writeVarint(UInt64(key.count) << 1)  // string key form
            big.writeBytes(key)
            big.writeVarint(2)  // slot header: 1-byte body
            big.writeVarint(UInt64(i))
        }
        var framed = Wire.ByteWriter()
        framed.writeVarint(UInt64(big.bytes.count) + 1)
        framed.writeBytes(big.bytes)
        let decoded = try codecDecode([String: UInt8].self, framed.bytes)
        XCTAssertEqual(decoded.count, 40)
        XCTAssertEqual(decoded["k0"], 80)
        XCTAssertEqual(decoded["k39"], 79)
    }
}
