import XCTest
@testable import ActorCluster

/// Feeds chunks like a connection does: append to the unparsed tail, take every complete frame, keep the rest.
struct FrameParserTestReassembler {
    var parser: Wire.FrameParser
    var tail: [UInt8] = []
    var frames: [(Wire.FrameKind, [UInt8])] = []
    var error: Wire.FrameParser.Error?

    init(max: Int = Wire.defaultMaxFrameBytes) { parser = Wire.FrameParser(maxFrameBytes: max) }

    mutating func feed(_ chunk: ArraySlice<UInt8>) {
        guard error == nil else { return }
        var buffer = tail
        buffer.append(contentsOf: chunk)
        let (parsed, consumed, err) = parser.parseAll(buffer[...])
        for f in parsed { frames.append((f.kind, Array(f.payload))) }
        tail = Array(buffer[consumed...])
        error = err
    }
}

final class FrameParserTests: XCTestCase {
    private func frame(_ kind: Wire.FrameKind, _ payload: [UInt8]) -> [UInt8] {
        Wire.FrameParser.encode(kind, payload: payload)
    }

    func test_manyFramesInOneBuffer_areParsedInOrder_andTheTailIsLeft() {
        var buffer: [UInt8] = []
        var expected: [(Wire.FrameKind, [UInt8])] = []
        for i in 0..<500 {
            let kind: Wire.FrameKind = i % 3 == 0 ? .call : (i % 3 == 1 ? .reply : .membership)
            let payload = (0..<(i % 37)).map { UInt8(truncatingIfNeeded: $0 &+ i) }
            buffer += frame(kind, payload)
            expected.append((kind, payload))
        }
        let partial = frame(.message, [1, 2, 3, 4])
        buffer += partial.prefix(6)
        let (frames, consumed, error) = Wire.FrameParser().parseAll(buffer[...])
        XCTAssertNil(error)
        XCTAssertEqual(frames.count, 500)
        for (f, e) in zip(frames, expected) {
            XCTAssertEqual(f.kind, e.0)
            XCTAssertEqual(Array(f.payload), e.1)
        }
        XCTAssertEqual(consumed, buffer.count - 6)
        XCTAssertEqual(Wire.FrameParser().parse(buffer[consumed...]), .needMore(frameBytes: partial.count))
    }

    func test_payloadsAreSlicesOfTheInput_notCopies() {
        let buffer = frame(.call, [9, 8, 7]) + frame(.reply, [])
        let (frames, _, _) = Wire.FrameParser().parseAll(buffer[...])
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(frames[0].payload.startIndex, 5)
        XCTAssertEqual(frames[1].payload.startIndex, 13)
        XCTAssertTrue(frames[1].payload.isEmpty)
    }

    func test_aFrameSplitAtEveryBytePosition_isReassembled() {
        let frames = [frame(.call, Array(0..<200)), frame(.heartbeat, []), frame(.reply, [0xFF, 0x00, 0x10])]
        let stream = frames.flatMap { $0 }
        for cut in 0...stream.count {
            var r = FrameParserTestReassembler()
            r.feed(stream[..<cut])
            r.feed(stream[cut...])
            XCTAssertNil(r.error, "cut \(cut)")
            XCTAssertEqual(r.frames.count, 3, "cut \(cut)")
            XCTAssertEqual(r.frames.map { $0.1 }, [Array(0..<200), [], [0xFF, 0x00, 0x10]], "cut \(cut)")
            XCTAssertTrue(r.tail.isEmpty, "cut \(cut)")
        }
        // And byte by byte.
        var r = FrameParserTestReassembler()
        for i in stream.indices { r.feed(stream[i...i]) }
        XCTAssertEqual(r.frames.count, 3)
    }

    func test_needMore_reportsTheWholeFrameSize_onceTheLengthIsKnown() {
        let f = frame(.message, Array(repeating: 1, count: 100))
        let p = Wire.FrameParser()
        XCTAssertEqual(p.parse(f[..<3]), .needMore(frameBytes: nil))
        XCTAssertEqual(p.parse(f[..<4]), .needMore(frameBytes: 105))
        XCTAssertEqual(p.parse(f[..<104]), .needMore(frameBytes: 105))
        XCTAssertEqual(p.parse([][...]), .needMore(frameBytes: nil))
    }

    func test_zeroLength_isAnError() {
        XCTAssertEqual(Wire.FrameParser().parse([0, 0, 0, 0][...]), .error(.zeroLength))
        let (frames, consumed, error) = Wire.FrameParser().parseAll((frame(.call, [1]) + [0, 0, 0, 0, 0x10])[...])
        XCTAssertEqual(frames.count, 1)
        XCTAssertEqual(consumed, 6)
        XCTAssertEqual(error, .zeroLength)
    }

    func test_lengthAboveMax_isTooLarge_beforeTheFrameArrives_andTheMaxItselfIsFine() {
        let p = Wire.FrameParser(maxFrameBytes: 1000)
        XCTAssertEqual(p.parse([0, 0, 0x03, 0xE9][...]), .error(.tooLarge(1001)))
        XCTAssertEqual(p.parse([0xFF, 0xFF, 0xFF, 0xFF][...]), .error(.tooLarge(Int(UInt32.max))))
        let atMax = frame(.message, Array(repeating: 7, count: 999))
        guard case .frame(let f, let consumed) = p.parse(atMax[...]) else { return XCTFail("max-size frame rejected") }
        XCTAssertEqual(f.payload.count, 999)
        XCTAssertEqual(consumed, 1004)
        XCTAssertEqual(Wire.FrameParser(maxFrameBytes: 1000).parse(frame(.message, Array(repeating: 7, count: 1000))[...]),
                       .error(.tooLarge(1001)))
    }

    func test_unknownKind_isAnError_asSoonAsTheKindByteArrives() {
        XCTAssertEqual(Wire.FrameParser().parse([0, 0, 0, 9, 0x7F][...]), .error(.unknownKind(0x7F)))
        XCTAssertEqual(Wire.FrameParser().parse([0, 0, 0, 1, 0x00][...]), .error(.unknownKind(0)))
        for kind in Wire.FrameKind.allCases {
            XCTAssertEqual(Wire.FrameParser().parse([0, 0, 0, 1, kind.rawValue][...]),
                           .frame(.init(kind: kind, payload: [][...]), consumed: 5))
        }
    }

    func test_slicesWithNonZeroStartIndex_parseTheSame() {
        let stream = [0xAA, 0xBB] + frame(.call, [1, 2, 3])
        let slice = stream[2...]
        guard case .frame(let f, let consumed) = Wire.FrameParser().parse(slice) else { return XCTFail() }
        XCTAssertEqual(Array(f.payload), [1, 2, 3])
        XCTAssertEqual(consumed, 8)
    }

    func test_hundredThousandRandomBuffers_inRandomChunkSizes_neverCrash() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        var framesSeen = 0
        var errorsSeen = 0
        for round in 0..<100_000 {
            let count = Int.random(in: 0...48, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Bias some buffers toward plausible headers so deeper paths are exercised.
            if round % 3 == 0, bytes.count >= 5 {
                bytes[0] = 0
                bytes[1] = 0
                bytes[2] = 0
                bytes[3] = UInt8.random(in: 0...12, using: &rng)
                bytes[4] = Wire.FrameKind.allCases.randomElement(using: &rng)?.rawValue ?? 0x10
            }
            var r = FrameParserTestReassembler(max: Int.random(in: 1...64, using: &rng))
            var position = 0
            var steps = 0
            while position < bytes.count, steps < 64 {
                steps += 1
                let n = Int.random(in: 1...max(1, bytes.count - position), using: &rng)
                r.feed(bytes[position..<(position + n)])
                position += n
            }
            framesSeen += r.frames.count
            if r.error != nil { errorsSeen += 1 }
            // Whatever happened, the unparsed tail is shorter than one maximal frame.
            if r.error == nil, r.tail.count > 4 + r.parser.maxFrameBytes {
                XCTFail("round \(round): tail of \(r.tail.count) bytes kept")
            }
        }
        XCTAssertGreaterThan(framesSeen, 0)
        XCTAssertGreaterThan(errorsSeen, 0)
    }
}
