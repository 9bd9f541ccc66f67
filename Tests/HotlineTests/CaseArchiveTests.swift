import ActorCluster
import Foundation
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// `CaseArchive` version 2 without a node: records round-trip, the streaming sink parses headers across any page
/// boundary and writes the bytes to its file, records are copied between files as byte ranges, and damaged or
/// truncated archives are clear errors.
final class CaseArchiveTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("case-archive-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        super.tearDown()
    }

    func header(_ i: Int, live: Bool = false, lead: Int? = nil) -> CaseArchive.Header {
        CaseArchive.Header(id: CaseID("case-\(i)"), number: CaseNumber(year: 2026, serial: i), status: live ? .dispatched : .closed,
                           live: live, mergedInto: lead.map { CaseID("case-\($0)") }, category: i % 2 == 0 ? "heating-failure" : nil,
                           phoneKey: "1380000\(i)", closedAt: live ? nil : Date(timeIntervalSince1970: 1_767_225_600 + Double(i)),
                           intakeKeys: [IntakeKey(channel: "8890", externalID: "ext-\(i)"), IntakeKey(channel: "12345", externalID: "repeat-\(i)")])
    }

    func events(_ i: Int) -> [UInt8] { Array(repeating: UInt8(i % 251), count: 10 + i * 7) }

    func test_recordsRoundTripAndTheSinkBuildsTheIndexWhateverThePageSize() throws {
        let records = (1...40).map { (header($0, live: $0 % 10 == 0, lead: $0 % 7 == 0 ? 1 : nil), events($0)) }
        let bytes = try CaseArchive.build(records)
        var seen: [CaseArchive.Header] = []
        try CaseArchive.forEach(in: bytes) { h, e in
            seen.append(h)
            XCTAssertEqual(Array(e), events(h.number.serial))
        }
        XCTAssertEqual(seen, records.map(\.0))
        for page in [1, 7, 64, 4_096] {
            let sink = CaseArchive.Sink(path: { [dir] info in "\(dir!)/p\(page)-\(info.index).archive" })
            let info = Replication.SnapshotInfo(index: 9, ballot: .zero, config: nil, size: bytes.count, checksum: CRC32C.checksum(bytes))
            try sink.begin(info)
            for at in stride(from: 0, to: bytes.count, by: page) { try sink.append(Array(bytes[at..<min(bytes.count, at + page)])) }
            let source = try sink.finish(info)
            XCTAssertEqual(source.size, bytes.count)
            XCTAssertEqual(source.checksum, info.checksum)
            let (index, file) = sink.take()
            let archive = try XCTUnwrap(file)
            XCTAssertEqual(try archive.read(offset: 0, count: bytes.count), bytes, "page \(page): the file holds the snapshot")
            XCTAssertEqual(index.archived.count, 36, "closed cases as index entries")
            XCTAssertEqual(index.live.map(\.id), [10, 20, 30, 40].map { CaseID("case-\($0)") }, "live cases with their events")
            XCTAssertEqual(index.live.first?.events, events(10))
            XCTAssertEqual(index.byIntakeKey.count, 80, "every intake key, the repeat contacts' too")
            XCTAssertEqual(index.byIntakeKey[IntakeKey(channel: "12345", externalID: "repeat-21")], CaseID("case-21"))
            XCTAssertEqual(index.childrenOf[CaseID("case-1")], Set([7, 14, 21, 28, 35].map { CaseID("case-\($0)") }))
            let entry = try XCTUnwrap(index.archived[CaseID("case-33")])
            XCTAssertEqual(entry.number.serial, 33)
            XCTAssertEqual(entry.phoneKey, "138000033")
            XCTAssertEqual(try archive.read(offset: entry.location.eventsOffset, count: Int(entry.location.eventsLength)), events(33),
                           "a closed case's events read back with pread")
        }
    }

    func test_recordsAreCopiedBetweenFilesAsByteRanges() throws {
        let first = try CaseArchive.FileWriter(path: dir + "/a.archive")
        var locations: [CaseArchive.Location] = []
        for i in 1...30 { locations.append(try first.append(header(i), events: events(i)[...])) }
        let a = try first.finish()
        let second = try CaseArchive.FileWriter(path: dir + "/b.archive")
        let kept = locations.enumerated().filter { $0.offset % 3 != 0 }.map(\.element)
        let moved = try second.copy(kept, from: a)
        try second.append(header(99), events: events(99)[...])
        let b = try second.finish()
        let whole = try b.read(offset: 0, count: b.size)
        XCTAssertEqual(b.checksum, CRC32C.checksum(whole))
        var serials: [Int] = []
        try CaseArchive.forEach(in: whole) { h, e in
            serials.append(h.number.serial)
            XCTAssertEqual(Array(e), events(h.number.serial))
        }
        XCTAssertEqual(serials, (1...30).filter { ($0 - 1) % 3 != 0 } + [99])
        for (old, new) in zip(kept, moved) {
            XCTAssertEqual(try b.read(offset: new.eventsOffset, count: Int(new.eventsLength)),
                           try a.read(offset: old.eventsOffset, count: Int(old.eventsLength)))
        }
    }

    func test_damagedOrTruncatedArchivesAreClearErrors() throws {
        let bytes = try CaseArchive.build((1...5).map { (header($0), events($0)) })
        let info = Replication.SnapshotInfo(index: 3, ballot: .zero, config: nil, size: bytes.count - 9, checksum: 0)
        // Truncated inside a record: the sink refuses to finish.
        let sink = CaseArchive.Sink(path: { [dir] _ in "\(dir!)/t.archive" })
        try sink.begin(info)
        try sink.append(Array(bytes.dropLast(9)))
        XCTAssertThrowsError(try sink.finish(info)) { error in
            XCTAssertTrue("\(error)".contains("ends inside a record"), "\(error)")
        }
        XCTAssertThrowsError(try CaseArchive.forEach(in: Array(bytes.dropLast(9))) { _, _ in })
        // Version 1, or not an archive at all.
        var v1 = bytes
        v1[3] = UInt8(ascii: "1")
        XCTAssertThrowsError(try CaseArchive.forEach(in: v1) { _, _ in }) { XCTAssertTrue("\($0)".contains("not a version-3")) }
        let other = CaseArchive.Sink(path: { [dir] _ in "\(dir!)/o.archive" })
        try other.begin(info)
        XCTAssertThrowsError(try other.append(v1))
        // A record length above the limit, and a byte changed (the status): the record's CRC-32C.
        var huge = bytes
        huge[CaseArchive.fileHeaderBytes] = 0x7F
        XCTAssertThrowsError(try CaseArchive.forEach(in: huge) { _, _ in }) { XCTAssertTrue("\($0)".contains("malformed"), "\($0)") }
        var status = bytes
        status[CaseArchive.fileHeaderBytes + 4] = 0xEE
        XCTAssertThrowsError(try CaseArchive.forEach(in: status) { _, _ in }) { XCTAssertTrue("\($0)".contains("CRC-32C"), "\($0)") }
        // A file shorter than its snapshot says.
        XCTAssertThrowsError(try CaseArchive.File(path: dir + "/t.archive", size: bytes.count + 1, checksum: 0))
    }

    /// Breaker finding: one bit flipped in an office's archive file (a cache, not fsynced) was copied by compaction
    /// into the next snapshot, which every replica then took as good (a case unreadable for ever, or silently
    /// changed, or a retried intake given a new case). Every record now carries a CRC-32C that each read checks:
    /// reading the case, copying it into the next archive, parsing it at recovery.
    func test_aFlippedBitInARecordIsFoundWhenTheCaseIsReadCopiedOrRecovered() throws {
        let writer = try CaseArchive.FileWriter(path: dir + "/f.archive")
        var locations: [CaseArchive.Location] = []
        for i in 1...4 { locations.append(try writer.append(header(i), events: events(i)[...])) }
        _ = try writer.finish(deleteOnRelease: false)
        // One bit of case 3's events, then one of case 2's intake keys (its header), flipped on disk.
        for (location, at) in [(locations[2], Int(locations[2].eventsOffset) + 3), (locations[1], Int(locations[1].offset) + 20)] {
            let fd = open(dir + "/f.archive", O_RDWR)
            var byte: UInt8 = 0
            XCTAssertEqual(pread(fd, &byte, 1, off_t(at)), 1)
            byte ^= 0x04
            XCTAssertEqual(pwrite(fd, &byte, 1, off_t(at)), 1)
            close(fd)
            _ = location
        }
        let size = Int((try FileManager.default.attributesOfItem(atPath: dir + "/f.archive")[.size] as? NSNumber)?.intValue ?? 0)
        let damaged = try CaseArchive.File(path: dir + "/f.archive", size: size, checksum: 0)
        // The test's events are not encoded `CaseEvent`s: an intact record passes its check and fails only to decode.
        XCTAssertThrowsError(try damaged.events(at: locations[0])) { XCTAssertFalse("\($0)".contains("CRC-32C"), "\($0)") }
        for k in [1, 2] {
            XCTAssertThrowsError(try damaged.events(at: locations[k])) { XCTAssertTrue("\($0)".contains("CRC-32C"), "\($0)") }
        }
        // Compaction copies nothing of it.
        let next = try CaseArchive.FileWriter(path: dir + "/g.archive")
        XCTAssertThrowsError(try next.copy(locations, from: damaged)) { XCTAssertTrue("\($0)".contains("CRC-32C"), "\($0)") }
        XCTAssertNoThrow(try CaseArchive.FileWriter(path: dir + "/h.archive").copy([locations[0], locations[3]], from: damaged))
        // A recovery parsing it stops at the damaged record.
        let whole = try damaged.read(offset: 0, count: damaged.size)
        XCTAssertThrowsError(try CaseArchive.forEach(in: whole) { _, _ in }) { XCTAssertTrue("\($0)".contains("CRC-32C"), "\($0)") }
    }
}
