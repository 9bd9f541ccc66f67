import Foundation
import XCTest

@testable import ActorCluster

// Two versions of the same wire types. The rule: unknown keys are skipped, absent keys decode as nil, so
// adding optional fields is compatible in both directions.

private enum V1 {
    struct Case: Codable, Equatable {
        var id: Int
        var name: String
    }

    enum Message: Codable, Equatable {
        case opened(Case)
        case escalated(caseID: Int, Payload)
        case closed(id: Int)
    }

    struct Payload: Codable, Equatable {
        var level: Int
    }

    struct Envelope: Codable, Equatable {
        var seq: UInt64
        var body: Case
        var history: [Case]
    }
}

private enum V2 {
    struct Case: Codable, Equatable {
        var id: Int
        var name: String
        var note: String?
        var tags: [String]?
        var location: Location?
    }

    struct Location: Codable, Equatable {
        var district: String
        var coordinates: [Double]
        var extra: [String: Int]?
    }

    enum Message: Codable, Equatable {
        case opened(Case)
        case escalated(caseID: Int, Payload)
        case closed(id: Int)
    }

    /// Gained an optional field.
    struct Payload: Codable, Equatable {
        var level: Int
        var reason: String?
    }

    struct Envelope: Codable, Equatable {
        var seq: UInt64
        var body: Case
        var history: [Case]
        var trace: [UInt8]?
    }
}

final class CodecSchemaEvolutionTests: XCTestCase {
    private let fullV2 = V2.Case(
        id: 42, name: "市民反映铁东区供暖不热", note: "请尽快处理。", tags: ["heating", "铁东区", ""],
        location: V2.Location(district: "铁东区", coordinates: [41.1, 122.9], extra: ["floor": 5, "unit": 2]))

    func test_newerFieldIsIgnoredByOlderDecoder() throws {
        let bytes = try codecEncode(fullV2)
        let old = try codecDecode(V1.Case.self, bytes)
        XCTAssertEqual(old, V1.Case(id: 42, name: "市民反映铁东区供暖不热"))
    }

    func test_olderEncodingDecodesAsNewerWithNilNewFields() throws {
        let bytes = try codecEncode(V1.Case(id: 7, name: "old"))
        let new = try codecDecode(V2.Case.self, bytes)
        XCTAssertEqual(new, V2.Case(id: 7, name: "old", note: nil, tags: nil, location: nil))
    }

    func test_newerEncodingWithNewFieldsNilIsByteIdenticalToOlder() throws {
        XCTAssertEqual(
            try codecEncode(V2.Case(id: 7, name: "old", note: nil, tags: nil, location: nil)),
            try codecEncode(V1.Case(id: 7, name: "old")))
    }

    func test_newerFieldsInsideArraysAndNestedStructsAreIgnored() throws {
        let envelope = V2.Envelope(seq: 9, body: fullV2, history: [fullV2, fullV2], trace: Array(repeating: 7, count: 300))
        let old = try codecDecode(V1.Envelope.self, try codecEncode(envelope))
        let oldCase = V1.Case(id: 42, name: fullV2.name)
        XCTAssertEqual(old, V1.Envelope(seq: 9, body: oldCase, history: [oldCase, oldCase]))

        let back = try codecDecode(V2.Envelope.self, try codecEncode(old))
        let newCase = V2.Case(id: 42, name: fullV2.name)
        XCTAssertEqual(back, V2.Envelope(seq: 9, body: newCase, history: [newCase, newCase], trace: nil))
    }

    func test_enumPayloadThatGainedAnOptionalFieldDecodesInBothDirections() throws {
        let newMessage = V2.Message.escalated(caseID: 3, V2.Payload(level: 2, reason: "no heating for 3 days"))
        XCTAssertEqual(
            try codecDecode(V1.Message.self, try codecEncode(newMessage)),
            V1.Message.escalated(caseID: 3, V1.Payload(level: 2)))

        let oldMessage = V1.Message.escalated(caseID: 3, V1.Payload(level: 2))
        XCTAssertEqual(
            try codecDecode(V2.Message.self, try codecEncode(oldMessage)),
            V2.Message.escalated(caseID: 3, V2.Payload(level: 2, reason: nil)))

        XCTAssertEqual(try codecDecode(V1.Message.self, try codecEncode(V2.Message.opened(fullV2))), .opened(V1.Case(id: 42, name: fullV2.name)))
        XCTAssertEqual(try codecDecode(V2.Message.self, try codecEncode(V1.Message.closed(id: 1))), .closed(id: 1))
    }

    func test_fieldOrderDoesNotMatter() throws {
        struct Reordered: Codable, Equatable {
            var name: String
            var tags: [String]?
            var id: Int
        }
        let bytes = try codecEncode(fullV2)
        XCTAssertEqual(try codecDecode(Reordered.self, bytes), Reordered(name: fullV2.name, tags: fullV2.tags, id: 42))
        XCTAssertEqual(
            try codecDecode(V2.Case.self, try codecEncode(Reordered(name: "n", tags: ["t"], id: 1))),
            V2.Case(id: 1, name: "n", tags: ["t"]))
    }

    func test_unknownKeysOfAnyShapeAreSkipped() throws {
        // Integer keys, nil slots, long bodies and nested containers the decoder knows nothing about.
        var body = Wire.ByteWriter()
        body.writeVarint(999 << 1 | 1)  // integer key 999
        body.writeVarint(0)  // nil slot
        let junk = [UInt8](repeating: 0xFF, count: 500)  // not valid anything
        body.writeVarint(UInt64("blob".utf8.count) << 1)
        body.writeBytes("blob".utf8)
        body.writeVarint(UInt64(junk.count) + 1)
        body.writeBytes(junk)
        let known = try codecEncode(V1.Case(id: 5, name: "kept"))
        body.writeBytes(known.dropFirst())  // the known entries (the body of V1.Case's slot)
        var framed = Wire.ByteWriter()
        framed.writeVarint(UInt64(body.bytes.count) + 1)
        framed.writeBytes(body.bytes)
        XCTAssertEqual(try codecDecode(V1.Case.self, framed.bytes), V1.Case(id: 5, name: "kept"))
    }

    func test_removingARequiredFieldIsNotCompatible() throws {
        struct IDOnly: Codable { var id: Int }
        let bytes = try codecEncode(IDOnly(id: 1))
        assertCodecDecodeThrows(V1.Case.self, bytes) { $0 == .keyNotFound(key: "name", path: "") }
    }

    func test_newEnumCaseIsRejectedByOlderDecoder() throws {
        enum Newer: Codable { case opened(V1.Case), merged(into: Int) }
        XCTAssertThrowsError(try codecDecode(V1.Message.self, try codecEncode(Newer.merged(into: 4))))
    }
}
