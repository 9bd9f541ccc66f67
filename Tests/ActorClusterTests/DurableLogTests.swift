@testable import ActorCluster
import Foundation
import Glibc
import XCTest

/// The durable log: CRC-32C vectors, round trips across reopen, segment rolls, recovery from torn and damaged
/// tails (truncated and reported) and damaged middles (refused), snapshots with compaction and fallback, the
/// directory lock, group commit, and a seeded random crash test.
final class DurableLogTests: XCTestCase {
    private var root: URL!

    override func setUp() {
        super.setUp()
        root = FileManager.default.temporaryDirectory.appendingPathComponent("durable-log-\(UUID().uuidString)")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: root)
        super.tearDown()
    }

    // MARK: Helpers

    private func dir(_ name: String = "log") -> String { root.appendingPathComponent(name).path }

    private func options(segmentBytes: Int = 64 << 20, fsync: DurableLog.FsyncPolicy = .never) -> DurableLog.Options {
        DurableLog.Options(segmentBytes: segmentBytes, fsync: fsync, maxRecordBytes: 1 << 16, maxSnapshotBytes: 1 << 20)
    }

    private func payload(_ seq: UInt64, _ size: Int = 24) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: Int(seq) &* 31 &+ $0) }
    }

    private func files(_ path: String, _ prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasPrefix(prefix) }.sorted()
            .map { path + "/" + $0 }
    }

    private func size(_ file: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? NSNumber)?.intValue ?? -1
    }

    private func truncate(_ file: String, to length: Int) {
        XCTAssertEqual(Glibc.truncate(file, off_t(length)), 0, "truncate \(file)")
    }

    private func flipBit(_ file: String, at offset: Int) {
        let fd = Glibc.open(file, O_RDWR)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var b: UInt8 = 0
        XCTAssertEqual(pread(fd, &b, 1, off_t(offset)), 1)
        b ^= 0x10
        XCTAssertEqual(pwrite(fd, &b, 1, off_t(offset)), 1)
        Glibc.close(fd)
    }

    private func appendBytes(_ file: String, _ bytes: [UInt8]) {
        let fd = Glibc.open(file, O_WRONLY | O_APPEND)
        XCTAssertGreaterThanOrEqual(fd, 0)
        XCTAssertEqual(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, bytes.count)
        Glibc.close(fd)
    }

    /// Every record from `from`, in order, read in `maxBytes` pages.
    private func readAll(_ log: DurableLog, from: UInt64 = 1, maxBytes: Int = 1 << 20) throws -> [(UInt64, [UInt8])] {
        var out: [(UInt64, [UInt8])] = []
        var next = from
        for _ in 0..<100_000 {
            let before = out.count
            next = try log.read(from: next, maxBytes: maxBytes) { out.append(($0, $1)) }
            if out.count == before { break }
        }
        return out
    }

    private func assertRecords(_ log: DurableLog, _ range: ClosedRange<UInt64>, size: Int = 24,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let records = try readAll(log, from: range.lowerBound)
        XCTAssertEqual(records.map(\.0), Array(range), file: file, line: line)
        for (seq, p) in records where p != payload(seq, size) {
            XCTFail("payload of \(seq) differs", file: file, line: line)
        }
    }

    // MARK: CRC-32C

    func test_crc32cMatchesTheCheckValueAndRFC3720Vectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum(Array(0...31)), 0x46DD_794E, "RFC 3720 §B.4 incrementing bytes")
        XCTAssertEqual(CRC32C.checksum(Array((0...31).reversed())), 0x113F_DB5C, "RFC 3720 §B.4 decrementing bytes")
        // Hardware and software agree on every length and alignment, chained or not.
        let random = (0..<4_099).map { _ in UInt8.random(in: 0...255) }
        random.withUnsafeBytes { all in
            for (from, to) in [(0, 0), (0, 1), (1, 8), (3, 17), (5, 4_099), (0, 4_096)] {
                let slice = UnsafeRawBufferPointer(rebasing: all[from..<to])
                XCTAssertEqual(CRC32C.checksum(slice), CRC32C.software(slice), "\(from)..<\(to)")
                XCTAssertEqual(CRC32C.checksum(slice, seed: 0xDEAD_BEEF), CRC32C.software(slice, seed: 0xDEAD_BEEF))
            }
        }
        XCTAssertEqual(CRC32C.checksum([]), 0)
        // Chaining with a seed equals one pass, at every split (slicing-by-8 and the byte loop agree).
        var rng = SplitMix64(seed: 7)
        let data = rng.bytes(100)
        let whole = CRC32C.checksum(data)
        for split in 0...data.count {
            XCTAssertEqual(CRC32C.checksum(Array(data[split...]), seed: CRC32C.checksum(Array(data[..<split]))), whole)
        }
    }

    // MARK: Round trips

    func test_roundTripAcrossReopenAndSequencesContinue() throws {
        do {
            let (log, report) = try DurableLog.open(directory: dir(), options: options(fsync: .always))
            XCTAssertEqual(report.lastSequence, 0)
            XCTAssertEqual(report.records, 0)
            XCTAssertEqual(try log.append([payload(1)]), 1...1)
            XCTAssertEqual(try log.append([payload(2), payload(3), payload(4)]), 2...4)
            XCTAssertEqual(log.firstSequence, 1)
            XCTAssertEqual(log.lastSequence, 4)
            try log.close()
            XCTAssertThrowsError(try log.append([payload(5)])) { XCTAssertEqual($0 as? DurabilityError, .closed) }
        }
        let (log, report) = try DurableLog.open(directory: dir(), options: options(fsync: .always))
        XCTAssertEqual(report.records, 4)
        XCTAssertEqual(report.lastSequence, 4)
        XCTAssertEqual(report.truncatedBytes, 0)
        XCTAssertNil(report.truncatedAt)
        XCTAssertEqual(try log.append([payload(5)]), 5...5)
        try assertRecords(log, 1...5)
        // Reading past the end gives nothing; the return value is where to continue.
        XCTAssertEqual(try log.read(from: 6, maxBytes: 100) { _, _ in XCTFail("record past the end") }, 6)
        try log.close()
    }

    func test_segmentsRollAndReadsCrossThemBoundedByBytes() throws {
        // 24-byte payloads are 40-byte records; 200-byte segments hold 5.
        let (log, _) = try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))
        for seq in 1...23 { try log.append([payload(UInt64(seq))]) }
        try log.append((24...30).map { payload(UInt64($0)) })  // one batch larger than a segment stays whole
        let segments = files(dir(), "seg-")
        XCTAssertEqual(segments.map { ($0 as NSString).lastPathComponent }.prefix(3),
                       ["seg-00000000000000000001.log", "seg-00000000000000000006.log", "seg-00000000000000000011.log"])
        XCTAssertEqual(segments.count, 6)
        XCTAssertEqual(size(segments.last!), 7 * 40)
        try assertRecords(log, 1...30)
        // A page holds as many whole payloads as fit in maxBytes (at least one).
        var page: [UInt64] = []
        XCTAssertEqual(try log.read(from: 4, maxBytes: 3 * 24) { s, _ in page.append(s) }, 7)
        XCTAssertEqual(page, [4, 5, 6])
        page = []
        XCTAssertEqual(try log.read(from: 9, maxBytes: 1) { s, _ in page.append(s) }, 10)
        XCTAssertEqual(page, [9])
        try log.close()

        let (again, report) = try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))
        XCTAssertEqual(report.segments, 6)
        XCTAssertEqual(report.records, 30)
        XCTAssertEqual(try again.append([payload(31)]), 31...31)
        XCTAssertEqual(files(dir(), "seg-").count, 7, "the oversized last segment is full: a new one starts")
        try assertRecords(again, 1...31)
    }

    func test_recordTooLargeWritesNothing() throws {
        let (log, _) = try DurableLog.open(directory: dir(), options: options())
        try log.append([payload(1)])
        let before = size(files(dir(), "seg-")[0])
        XCTAssertThrowsError(try log.append([payload(2), [UInt8](repeating: 1, count: (1 << 16) + 1)])) {
            XCTAssertEqual($0 as? DurabilityError, .recordTooLarge(bytes: (1 << 16) + 1, limit: 1 << 16))
        }
        XCTAssertThrowsError(try log.append([])) { XCTAssertEqual($0 as? DurabilityError, .invalidArgument("empty batch")) }
        XCTAssertEqual(size(files(dir(), "seg-")[0]), before)
        XCTAssertEqual(log.lastSequence, 1)
        XCTAssertEqual(try log.append([payload(2)]), 2...2)
        try assertRecords(log, 1...2)
    }

    // MARK: Torn and damaged tails

    func test_aTornLastRecordIsTruncatedAtEveryByteOffset() throws {
        let source = dir("source")
        do {
            let (log, _) = try DurableLog.open(directory: source, options: options())
            for seq in 1...5 { try log.append([payload(UInt64(seq))]) }
            try log.close()
        }
        let original = try Data(contentsOf: URL(fileURLWithPath: files(source, "seg-")[0]))
        XCTAssertEqual(original.count, 5 * 40)
        let lastStart = 4 * 40
        for kept in 0..<40 {
            let d = dir("cut-\(kept)")
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            let segment = d + "/seg-00000000000000000001.log"
            try original.prefix(lastStart + kept).write(to: URL(fileURLWithPath: segment))
            let (log, report) = try DurableLog.open(directory: d, options: options())
            XCTAssertEqual(report.records, 4, "cut after \(kept) bytes of the last record")
            XCTAssertEqual(report.lastSequence, 4)
            if kept == 0 {
                XCTAssertEqual(report.truncatedBytes, 0)
                XCTAssertNil(report.truncatedAt)
            } else {
                XCTAssertEqual(report.truncatedBytes, kept)
                XCTAssertEqual(report.truncatedAt, .init(segment: segment, offset: lastStart))
                XCTAssertEqual(report.reason, kept < 16 ? "torn record: \(kept) of 16 header bytes"
                                                        : "torn record: \(kept) of 40 bytes")
            }
            XCTAssertEqual(size(segment), lastStart, "the torn bytes are gone from disk")
            XCTAssertEqual(try log.append([payload(5)]), 5...5, "appends continue at the right sequence")
            try assertRecords(log, 1...5)
            try log.close()
            try FileManager.default.removeItem(atPath: d)
        }
    }

    func test_garbageAfterTheLastRecordIsTruncated() throws {
        let (log, _) = try DurableLog.open(directory: dir(), options: options())
        for seq in 1...3 { try log.append([payload(UInt64(seq))]) }
        try log.close()
        let segment = files(dir(), "seg-")[0]
        var rng = SplitMix64(seed: 99)
        appendBytes(segment, rng.bytes(100))
        let (again, report) = try DurableLog.open(directory: dir(), options: options())
        XCTAssertEqual(report.records, 3)
        XCTAssertEqual(report.truncatedBytes, 100)
        XCTAssertEqual(report.truncatedAt?.offset, 120)
        XCTAssertNotNil(report.reason)
        XCTAssertEqual(try again.append([payload(4)]), 4...4)
        try assertRecords(again, 1...4)

        // Zeroes (what a crash can leave in a preallocated extent) are damage too.
        try again.close()
        appendBytes(files(dir(), "seg-")[0], [UInt8](repeating: 0, count: 64))
        let (third, report3) = try DurableLog.open(directory: dir(), options: options())
        XCTAssertEqual(report3.truncatedBytes, 64)
        XCTAssertEqual(report3.reason, "crc mismatch at sequence 0")
        XCTAssertEqual(third.lastSequence, 4)
    }

    func test_aFlippedBitInTheLastRecordIsTruncatedAsACRCMismatch() throws {
        let (log, _) = try DurableLog.open(directory: dir(), options: options())
        for seq in 1...17 { try log.append([payload(UInt64(seq))]) }
        try log.close()
        let segment = files(dir(), "seg-")[0]
        flipBit(segment, at: 16 * 40 + 16 + 5)  // payload byte 5 of record 17
        let (again, report) = try DurableLog.open(directory: dir(), options: options())
        XCTAssertEqual(report.reason, "crc mismatch at sequence 17")
        XCTAssertEqual(report.truncatedAt, .init(segment: segment, offset: 16 * 40))
        XCTAssertEqual(report.truncatedBytes, 40)
        XCTAssertEqual(report.lastSequence, 16)
        XCTAssertEqual(try again.append([payload(17)]), 17...17)
        try assertRecords(again, 1...17)
    }

    func test_damageInAMiddleSegmentIsRefusedNotDropped() throws {
        let (log, _) = try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))
        for seq in 1...15 { try log.append([payload(UInt64(seq))]) }
        try log.close()
        let segments = files(dir(), "seg-")
        XCTAssertEqual(segments.count, 3)
        flipBit(segments[1], at: 2 * 40 + 20)  // record 8
        XCTAssertThrowsError(try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))) {
            XCTAssertEqual($0 as? DurabilityError, .corrupt(segment: segments[1], offset: 80, reason: "crc mismatch at sequence 8"))
            XCTAssertTrue("\($0)".contains(segments[1]), "the message names the file")
        }
        XCTAssertEqual(size(segments[1]), 200, "nothing was truncated")
        // The lock was released by the failed open.
        flipBit(segments[1], at: 2 * 40 + 20)
        let (again, report) = try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))
        XCTAssertEqual(report.records, 15)
        try again.close()

        // A missing middle segment is a gap: refused too.
        try FileManager.default.removeItem(atPath: segments[1])
        XCTAssertThrowsError(try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))) {
            guard case .corrupt(let segment, 0, _)? = $0 as? DurabilityError else { return XCTFail("\($0)") }
            XCTAssertEqual(segment, segments[2])
        }
    }

    // MARK: Snapshots

    func test_snapshotsCompactOldSegmentsAndReopenGivesSnapshotPlusTail() throws {
        let metrics = Metrics()
        let (log, _) = try DurableLog.open(directory: dir(), options: options(segmentBytes: 200), metrics: metrics)
        for seq in 1...12 { try log.append([payload(UInt64(seq))]) }
        XCTAssertThrowsError(try log.writeSnapshot(through: 13, [1])) {
            guard case .invalidArgument? = $0 as? DurabilityError else { return XCTFail("\($0)") }
        }
        try log.writeSnapshot(through: 12, Array("state@12".utf8))
        XCTAssertEqual(files(dir(), "seg-").count, 3, "the first snapshot keeps everything (its fallback is the empty state)")
        for seq in 13...27 { try log.append([payload(UInt64(seq))]) }
        try log.writeSnapshot(through: 27, Array("state@27".utf8))
        // Segments 1–5 and 6–10 are ≤ 12 (the older snapshot): deleted; 11–15 holds 13–15: kept.
        XCTAssertEqual(files(dir(), "seg-").map { ($0 as NSString).lastPathComponent }.first, "seg-00000000000000000011.log")
        XCTAssertEqual(log.firstSequence, 11)
        XCTAssertEqual(metrics.value("log_segments_deleted_total"), 2)
        XCTAssertThrowsError(try log.read(from: 3, maxBytes: 100) { _, _ in }) {
            XCTAssertEqual($0 as? DurabilityError, .compacted(requested: 3, firstAvailable: 11))
        }
        for seq in 28...40 { try log.append([payload(UInt64(seq))]) }
        try log.writeSnapshot(through: 40, Array("state@40".utf8))
        XCTAssertEqual(files(dir(), "snap-").map { ($0 as NSString).lastPathComponent },
                       ["snap-00000000000000000027.snap", "snap-00000000000000000040.snap"], "the newest two are kept")
        XCTAssertEqual(log.firstSequence, 26)
        try log.close()

        let (again, report) = try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))
        XCTAssertEqual(report.snapshotSequence, 40)
        XCTAssertEqual(report.lastSequence, 40)
        XCTAssertEqual(report.records, 15, "only the records since the older snapshot are scanned")
        let snapshot = try XCTUnwrap(try again.latestSnapshot())
        XCTAssertEqual(snapshot.sequence, 40)
        XCTAssertEqual(snapshot.bytes, Array("state@40".utf8))
        XCTAssertEqual(try readAll(again, from: 41).count, 0)
        XCTAssertEqual(try again.append([payload(41)]), 41...41)
        try assertRecords(again, 26...41)
        try again.close()
    }

    func test_sequencesContinueAfterTheSnapshotWhenNoSegmentRemains() throws {
        let d = dir()
        do {
            let (log, _) = try DurableLog.open(directory: d, options: options())
            try log.append((1...9).map { payload(UInt64($0)) })
            try log.writeSnapshot(through: 9, Array("state@9".utf8))
            try log.close()
        }
        // The log lost its segment (here: deleted; e.g. a tail lost after the snapshot was made durable).
        for s in files(d, "seg-") { try FileManager.default.removeItem(atPath: s) }
        let (log, report) = try DurableLog.open(directory: d, options: options())
        XCTAssertEqual(report.lastSequence, 9)
        XCTAssertEqual(report.segments, 0)
        XCTAssertEqual(log.firstSequence, 10)
        XCTAssertThrowsError(try log.read(from: 1, maxBytes: 100) { _, _ in })
        XCTAssertEqual(try log.append([payload(10)]), 10...10)
        try log.close()
        let (again, report2) = try DurableLog.open(directory: d, options: options())
        XCTAssertEqual(report2.lastSequence, 10)
        try assertRecords(again, 10...10)
    }

    func test_aCorruptNewestSnapshotFallsBackToTheOlderOne() throws {
        let (log, _) = try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))
        for seq in 1...10 { try log.append([payload(UInt64(seq))]) }
        try log.writeSnapshot(through: 10, Array("state@10".utf8))
        for seq in 11...20 { try log.append([payload(UInt64(seq))]) }
        try log.writeSnapshot(through: 20, Array("state@20".utf8))
        try log.close()
        let newest = files(dir(), "snap-").last!
        flipBit(newest, at: DurableLog.snapshotHeaderBytes + 2)

        let (again, report) = try DurableLog.open(directory: dir(), options: options(segmentBytes: 200))
        XCTAssertEqual(report.snapshotSequence, 10)
        XCTAssertEqual(report.corruptSnapshots, ["\(newest): crc mismatch"])
        XCTAssertEqual(report.lastSequence, 20)
        let snapshot = try XCTUnwrap(try again.latestSnapshot())
        XCTAssertEqual(snapshot.sequence, 10)
        XCTAssertEqual(snapshot.bytes, Array("state@10".utf8))
        try assertRecords(again, 11...20)  // the tail after the older snapshot is still there
        XCTAssertTrue(FileManager.default.fileExists(atPath: newest + ".corrupt"), "set aside for inspection")

        // Damage found later (after open) falls back as well, and is reported.
        try again.writeSnapshot(through: 20, Array("state@20 again".utf8))
        flipBit(files(dir(), "snap-").filter { $0.hasSuffix(".snap") }.last!, at: 15)  // the sequence's low byte: 20 → 4
        let fallback = try XCTUnwrap(try again.latestSnapshot())
        XCTAssertEqual(fallback.sequence, 10)
        XCTAssertEqual(again.lastSnapshotProblem?.hasSuffix("header sequence 4 differs from the file name's 20"), true,
                       again.lastSnapshotProblem ?? "no problem recorded")
        try again.close()
    }

    // MARK: Lock

    func test_aSecondOpenOfALockedDirectoryFailsUntilClosed() throws {
        let first = try DataDirectory.open(dir("data"))
        XCTAssertThrowsError(try DataDirectory.open(dir("data"))) {
            XCTAssertEqual($0 as? DurabilityError, .directoryLocked(path: dir("data"), holderPID: getpid()))
        }
        first.close()
        XCTAssertFalse(first.isOpen)
        do {
            let second = try DataDirectory.open(dir("data"))
            XCTAssertEqual(try String(contentsOfFile: dir("data") + "/LOCK", encoding: .utf8), "\(getpid())\n")
            withExtendedLifetime(second) {}
        }
        // `second` was never closed: its deinit released the lock.
        let third = try DataDirectory.open(dir("data"))
        third.close()

        let (log, _) = try DurableLog.open(directory: dir(), options: options())
        XCTAssertThrowsError(try DurableLog.open(directory: dir(), options: options())) {
            XCTAssertEqual($0 as? DurabilityError, .directoryLocked(path: dir(), holderPID: getpid()))
        }
        try log.close()
        let (again, _) = try DurableLog.open(directory: dir(), options: options())
        try again.close()
    }

    // MARK: Fsync policies

    func test_fsyncPoliciesCountTheirFsyncs() throws {
        let always = Metrics()
        let (a, _) = try DurableLog.open(directory: dir("always"), options: options(fsync: .always), metrics: always)
        for seq in 1...5 { try a.append([payload(UInt64(seq))]) }
        XCTAssertEqual(always.value("log_fsyncs_total"), 5)
        XCTAssertFalse(a.hasUnsyncedWrites)
        try a.close()

        let interval = Metrics()
        let (b, _) = try DurableLog.open(directory: dir("interval"), options: options(fsync: .interval(milliseconds: 600_000)),
                                         metrics: interval)
        for seq in 1...5 { try b.append([payload(UInt64(seq))]) }
        XCTAssertEqual(interval.value("log_fsyncs_total"), 0, "the interval has not elapsed")
        XCTAssertTrue(b.hasUnsyncedWrites)
        try b.sync()
        XCTAssertEqual(interval.value("log_fsyncs_total"), 1)
        try b.sync()
        XCTAssertEqual(interval.value("log_fsyncs_total"), 1, "nothing pending, no fsync")
        try b.close()

        let zero = Metrics()
        let (c, _) = try DurableLog.open(directory: dir("zero"), options: options(fsync: .interval(milliseconds: 0)), metrics: zero)
        for seq in 1...3 { try c.append([payload(UInt64(seq))]) }
        XCTAssertEqual(zero.value("log_fsyncs_total"), 3, "a 0 ms interval fsyncs every append")
        XCTAssertEqual(zero.value("log_appended_records_total"), 3)
        XCTAssertEqual(zero.value("log_appended_bytes_total"), 3 * 40)
        try c.close()
    }

    // MARK: Group commit

    func test_groupCommitGivesConcurrentAppendsGapFreeSequencesWithFewerFsyncs() async throws {
        let metrics = Metrics()
        let (log, _) = try GroupCommitLog.open(directory: dir(), options: options(fsync: .always), metrics: metrics)
        let sequences = try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
            for i in 0..<200 {
                group.addTask { (i, try await log.append(Array("record \(i)".utf8))) }
            }
            var out: [(Int, UInt64)] = []
            for try await r in group { out.append(r) }
            return out
        }
        XCTAssertEqual(sequences.map(\.1).sorted(), Array(1...200))
        XCTAssertEqual(log.lastSequence, 200)
        let counters = log.counters
        print("group commit: 200 appends in \(counters.batches) batches, \(metrics.value("log_fsyncs_total")) fsyncs")
        XCTAssertEqual(counters.records, 200)
        XCTAssertLessThan(counters.batches, 200)
        XCTAssertEqual(metrics.value("log_fsyncs_total"), counters.batches, "one fsync per batch")
        // Each caller got the sequence its own payload was written at.
        let records = try await log.read(from: 1, maxBytes: 1 << 20)
        XCTAssertEqual(records.count, 200)
        let bySequence = Dictionary(uniqueKeysWithValues: records.map { ($0.sequence, $0.payload) })
        for (i, seq) in sequences { XCTAssertEqual(bySequence[seq], Array("record \(i)".utf8)) }

        try await log.writeSnapshot(through: 200, [42])
        let snapshot = try await log.latestSnapshot()
        XCTAssertEqual(snapshot?.sequence, 200)
        try await log.close()
        do {
            _ = try await log.append([1])
            XCTFail("append after close")
        } catch {
            XCTAssertEqual(error as? DurabilityError, .closed)
        }
        let (reopened, report) = try DurableLog.open(directory: dir(), options: options())
        XCTAssertEqual(report.lastSequence, 200)
        try reopened.close()
    }

    func test_groupCommitRefusesOversizedRecords() async throws {
        let (log, _) = try GroupCommitLog.open(directory: dir(), options: options(), maxPendingBytes: 1 << 10)
        do {
            _ = try await log.append([UInt8](repeating: 0, count: (1 << 16) + 1))
            XCTFail("oversized record accepted")
        } catch {
            XCTAssertEqual(error as? DurabilityError, .recordTooLarge(bytes: (1 << 16) + 1, limit: 1 << 16))
        }
        // A payload above maxPendingBytes still goes through an empty queue.
        let seq = try await log.append([UInt8](repeating: 1, count: 2 << 10))
        XCTAssertEqual(seq, 1)
        try await log.close()
    }

    func test_groupCommitRefusesAppendsAboveMaxPendingBytes() async throws {
        let (log, _) = try GroupCommitLog.open(directory: dir(), options: options(), maxPendingBytes: 1000)
        log.suspendForTesting()  // the first append waits in the queue
        let first = Task { try await log.append([UInt8](repeating: 1, count: 600)) }
        var queued = false
        for _ in 0..<2000 where !queued {
            queued = log.pendingBytes == 600
            if !queued { await Task.yield() }
        }
        XCTAssertTrue(queued)
        do {
            _ = try await log.append([UInt8](repeating: 2, count: 600))
            XCTFail("accepted above maxPendingBytes")
        } catch {
            XCTAssertEqual(error as? DurabilityError, .overloaded(pendingBytes: 600, limit: 1000))
        }
        log.resumeForTesting()
        let seq = try await first.value
        XCTAssertEqual(seq, 1)
        XCTAssertEqual(log.pendingBytes, 0)
        let again = try await log.append([3])
        XCTAssertEqual(again, 2, "nothing of the refused append was written")
        try await log.close()
    }

    func test_groupCommitFsyncsAnIntervalPolicysTailWithoutAnotherAppend() async throws {
        let metrics = Metrics()
        let (log, _) = try GroupCommitLog.open(directory: dir(), options: options(fsync: .interval(milliseconds: 1000)),
                                               metrics: metrics)
        // The open counts as the last fsync, so this append (well within 1 s of it) is written but not fsynced.
        _ = try await log.append([1])
        XCTAssertEqual(metrics.value("log_fsyncs_total"), 0)
        var synced = false
        for _ in 0..<500 where !synced {  // ≤ 5 s
            synced = metrics.value("log_fsyncs_total") >= 1
            if !synced { try await Task.sleep(for: .milliseconds(10)) }
        }
        XCTAssertTrue(synced, "the scheduled sync ran")
        try await log.close()
    }

    // MARK: Seeded random crashes

    /// Random batches, then a crash in the middle of the last batch's write, simulated by cutting the last segment
    /// at a random offset within that batch (never below what earlier appends made durable), sometimes followed by
    /// garbage. Every record of earlier batches must survive, the batch keeps exactly its records that were
    /// written whole, and appends continue gap-free.
    func test_seededRandomCrashesLoseOnlyTheTornBatch() throws {
        let seed = ProcessInfo.processInfo.environment["DURABLE_LOG_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        print("DurableLogTests random crash seed: \(seed) (rerun with DURABLE_LOG_SEED=\(seed))")
        var rng = SplitMix64(seed: seed)
        var model: [UInt64: [UInt8]] = [:]
        let opts = DurableLog.Options(segmentBytes: 2048, fsync: .always, maxRecordBytes: 1024)
        var snapshotAt: UInt64 = 0
        for round in 0..<30 {
            let (log, report) = try DurableLog.open(directory: dir(), options: opts)
            XCTAssertEqual(report.lastSequence, UInt64(model.count), "round \(round), seed \(seed)")
            // Durable batches.
            for _ in 0..<(1 + rng.below(4)) {
                let batch = (0..<(1 + rng.below(6))).map { _ in rng.bytes(rng.below(300)) }
                let range = try log.append(batch)
                XCTAssertEqual(range.lowerBound, UInt64(model.count) + 1)
                for (i, p) in batch.enumerated() { model[range.lowerBound + UInt64(i)] = p }
            }
            if rng.chance(5) {
                try log.writeSnapshot(through: log.lastSequence, Array("\(log.lastSequence)".utf8))
                snapshotAt = log.lastSequence
            }
            // The batch being written at the crash.
            let torn = (0..<(1 + rng.below(6))).map { _ in rng.bytes(rng.below(300)) }
            let range = try log.append(torn)
            try log.close()
            let segment = try XCTUnwrap(files(dir(), "seg-").last)
            let end = size(segment)
            let batchBytes = torn.reduce(0) { $0 + 16 + $1.count }
            let start = end - batchBytes
            let cut = start + rng.below(batchBytes + 1)
            truncate(segment, to: cut)
            if rng.chance(4) { appendBytes(segment, rng.bytes(1 + rng.below(64))) }
            var whole = 0
            var at = start
            while whole < torn.count, at + 16 + torn[whole].count <= cut {
                at += 16 + torn[whole].count
                whole += 1
            }
            for (i, p) in torn.prefix(whole).enumerated() { model[range.lowerBound + UInt64(i)] = p }

            let (recovered, r) = try DurableLog.open(directory: dir(), options: opts)
            XCTAssertEqual(r.lastSequence, UInt64(model.count), "round \(round), seed \(seed): \(r)")
            let records = try readAll(recovered, from: recovered.firstSequence)
            let last = UInt64(model.count)
            XCTAssertEqual(records.map(\.0), last >= recovered.firstSequence ? Array(recovered.firstSequence...last) : [],
                           "round \(round), seed \(seed)")
            for (seq, p) in records where model[seq] != p { XCTFail("round \(round), seed \(seed): payload \(seq) differs") }
            XCTAssertLessThanOrEqual(recovered.firstSequence, snapshotAt + 1, "round \(round): nothing after the snapshot was compacted")
            if snapshotAt > 0 { XCTAssertEqual(try recovered.latestSnapshot()?.sequence, snapshotAt) }
            try recovered.close()
        }
    }
}
