import ActorCluster
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A district office's snapshot of its cases (the bytes it hands its replicated stream at compaction, Raft §7),
/// laid out so that a restart reads it without decoding a single event of a closed case: one header per case
/// carrying everything the office keeps in memory for it (its index entry), in front of the case's encoded
/// events, which stay on disk until the case is asked for.
///
/// Layout (version 3), all integers big-endian:
///
/// | bytes | field |
/// |---|---|
/// | 4 | magic `HCA3` |
/// | 4 | version, 3 |
/// | 8 | reserved, 0 |
/// | … | records, to the end of the file |
///
/// A record:
///
/// | bytes | field |
/// |---|---|
/// | 4 | length of the rest of the record (≤ `maxRecordBytes`) |
/// | 4 | CRC-32C (Castagnoli) of the record's bytes after this field |
/// | 1 | status: position in `CaseStatus.allCases` |
/// | 1 | flags: 1 live (open, or an assignment awaiting delivery: replayed at recovery), 2 merged (`mergedInto` follows), 4 category, 8 phone key, 16 closed at |
/// | 2 | number: year |
/// | 4 | number: serial |
/// | 2 + k | id: UTF-8 length, bytes |
/// | 2 + k | lead case id (`mergedInto`), if flag 2 |
/// | 2 + k | category, if flag 4 |
/// | 2 + k | phone key (`IntakeMatcher.phoneKey` of the contact's phone), if flag 8 |
/// | 8 | closed at: the last closure's instant, IEEE-754 seconds since 1970 (bit pattern), if flag 16 |
/// | 2 | intake keys: count `m` — the case's own and every linked repeat contact's |
/// | m × (2 + k, 2 + k) | each: channel, external id |
/// | 4 + k | the case's events: length, then `Wire.BinaryEncoder` bytes of `[CaseEvent]` |
///
/// Every read checks a record's CRC-32C — a case asked for, the records compaction copies into the next snapshot,
/// the headers a recovery parses — so that a bit flipped in the file (a cache, not fsynced) is found where it is
/// read and never copied into a snapshot the replicas would take as good.
/// Version 1 (`HCA1`, never released) carried only the case's own intake key, version 2 (`HCA2`) no CRC per
/// record; both are refused.
/// Strings longer than 65 535 bytes are refused (`ArchiveError.tooLong`).
public enum CaseArchive {
    static let magic: [UInt8] = Array("HCA3".utf8)
    static let version: UInt32 = 3
    static let statuses = CaseStatus.allCases
    /// Bytes before the first record.
    public static let fileHeaderBytes = 16
    /// The largest record accepted when reading (a case's events are at most half a frame; 64 MiB is far above).
    public static let maxRecordBytes = 64 << 20

    /// What the office keeps of a case without its events: a record's header.
    public struct Header: Sendable, Hashable {
        public var id: CaseID
        public var number: CaseNumber
        public var status: CaseStatus
        /// Open, or an assignment awaiting delivery: decoded and replayed at recovery.
        public var live: Bool
        public var mergedInto: CaseID?
        public var category: String?
        public var phoneKey: String?
        public var closedAt: Date?
        public var intakeKeys: [IntakeKey]

        /// The header of a case log.
        public init(_ log: CaseLog) {
            let o = log.order
            id = log.id
            number = o.number
            status = o.status
            live = o.status.isOpen || !o.assignmentsAwaitingDelivery.isEmpty
            mergedInto = o.mergedInto
            category = o.classification?.category
            phoneKey = IntakeMatcher.phoneKey(o.contact.phone)
            closedAt = o.status == .closed ? o.closures.last?.at : nil
            var keys: [IntakeKey] = []
            if let k = o.intake.intakeKey { keys.append(k) }
            for c in o.repeatContacts { if let k = c.intakeKey, !keys.contains(k) { keys.append(k) } }
            intakeKeys = keys
        }

        public init(id: CaseID, number: CaseNumber, status: CaseStatus, live: Bool, mergedInto: CaseID?, category: String?,
                    phoneKey: String?, closedAt: Date?, intakeKeys: [IntakeKey]) {
            self.id = id; self.number = number; self.status = status; self.live = live; self.mergedInto = mergedInto
            self.category = category; self.phoneKey = phoneKey; self.closedAt = closedAt; self.intakeKeys = intakeKeys
        }
    }

    /// Where a record is in an archive file: its first byte (the length prefix), its whole length, and where its
    /// events start and how long they are.
    public struct Location: Sendable, Hashable {
        public var offset: Int64
        public var length: UInt32
        public var eventsAt: UInt32
        public var eventsLength: UInt32
        public var eventsOffset: Int { Int(offset) + Int(eventsAt) }
    }

    public enum ArchiveError: Error, Sendable, Hashable, CustomStringConvertible {
        case tooLong(field: String, bytes: Int)
        case malformed(offset: Int, reason: String)
        case io(String)

        public var description: String {
            switch self {
            case .tooLong(let f, let n): "case archive: \(f) of \(n) bytes is too long"
            case .malformed(let at, let why): "case archive: malformed at byte \(at): \(why)"
            case .io(let why): "case archive: \(why)"
            }
        }
    }

    /// The file header.
    static var fileHeader: [UInt8] { magic + [0, 0, 0, 3] + [UInt8](repeating: 0, count: 8) }

    /// Bytes of a record before its header: the length prefix and the CRC-32C.
    static let recordPrefixBytes = 8

    /// Checks the CRC-32C of the record `bytes` (the whole record, length prefix first).
    ///
    /// - Throws: `ArchiveError.malformed` at `offset` when the bytes do not match it.
    static func verify(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        guard bytes.count >= recordPrefixBytes else { throw ArchiveError.malformed(offset: offset, reason: "record shorter than its prefix") }
        let stored = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[recordPrefixBytes...]))
        guard stored == computed else {
            throw ArchiveError.malformed(offset: offset, reason: "record's bytes do not match its CRC-32C")
        }
    }

    /// Encodes one record: the length prefix, the header, the events. Returns the bytes and where the events start.
    public static func record(_ h: Header, events: ArraySlice<UInt8>) throws -> (bytes: [UInt8], eventsAt: Int) {
        var b: [UInt8] = []
        b.reserveCapacity(96 + events.count)
        func put16(_ v: Int) { b.append(UInt8(truncatingIfNeeded: v >> 8)); b.append(UInt8(truncatingIfNeeded: v)) }
        func put32(_ v: UInt32) { for s in [24, 16, 8, 0] { b.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
        func str(_ s: String, _ field: String) throws {
            let u = Array(s.utf8)
            guard u.count <= 0xFFFF else { throw ArchiveError.tooLong(field: field, bytes: u.count) }
            put16(u.count); b += u
        }
        guard (0...0xFFFF).contains(h.number.year), (0...Int(UInt32.max)).contains(h.number.serial) else {
            throw ArchiveError.tooLong(field: "number", bytes: 0)
        }
        guard h.intakeKeys.count <= 0xFFFF, events.count <= maxRecordBytes else {
            throw ArchiveError.tooLong(field: "intake keys or events", bytes: events.count)
        }
        put32(0)
        put32(0)
        b.append(UInt8(statuses.firstIndex(of: h.status)!))
        var flags: UInt8 = h.live ? 1 : 0
        if h.mergedInto != nil { flags |= 2 }
        if h.category != nil { flags |= 4 }
        if h.phoneKey != nil { flags |= 8 }
        if h.closedAt != nil { flags |= 16 }
        b.append(flags)
        put16(h.number.year)
        put32(UInt32(h.number.serial))
        try str(h.id.rawValue, "id")
        if let m = h.mergedInto { try str(m.rawValue, "lead id") }
        if let c = h.category { try str(c, "category") }
        if let p = h.phoneKey { try str(p, "phone key") }
        if let at = h.closedAt {
            let bits = at.timeIntervalSince1970.bitPattern
            for s in stride(from: 56, through: 0, by: -8) { b.append(UInt8(truncatingIfNeeded: bits >> UInt64(s))) }
        }
        put16(h.intakeKeys.count)
        for k in h.intakeKeys { try str(k.channel, "channel"); try str(k.externalID, "external id") }
        put32(UInt32(events.count))
        let eventsAt = b.count
        b += events
        let rest = UInt32(b.count - 4)
        for (i, s) in [24, 16, 8, 0].enumerated() { b[i] = UInt8(truncatingIfNeeded: rest >> UInt32(s)) }
        let crc = b.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[recordPrefixBytes...])) }
        for (i, s) in [24, 16, 8, 0].enumerated() { b[4 + i] = UInt8(truncatingIfNeeded: crc >> UInt32(s)) }
        return (b, eventsAt)
    }

    /// Parses the header of the record at the start of `p` (its length prefix included); returns it, the record's
    /// whole length and where its events start and how long they are. Nil when `p` does not hold the whole
    /// record yet.
    ///
    /// - Throws: `ArchiveError.malformed` (a length above `maxRecordBytes`, bytes that do not match the record's
    ///   CRC-32C, an unknown status, fields that run past the record).
    static func parse(_ p: UnsafeRawBufferPointer, at base: Int) throws -> (Header, length: Int, eventsAt: Int, eventsLength: Int)? {
        guard p.count >= 4 else { return nil }
        let rest = Int(p[0]) << 24 | Int(p[1]) << 16 | Int(p[2]) << 8 | Int(p[3])
        guard rest <= maxRecordBytes else { throw ArchiveError.malformed(offset: base, reason: "record of \(rest) bytes") }
        guard p.count >= 4 + rest else { return nil }
        let end = 4 + rest
        guard end >= recordPrefixBytes else { throw ArchiveError.malformed(offset: base, reason: "record of \(rest) bytes") }
        try verify(UnsafeRawBufferPointer(rebasing: p[0..<end]), at: base)
        var at = recordPrefixBytes
        func need(_ n: Int) throws {
            guard at + n <= end else { throw ArchiveError.malformed(offset: base + at, reason: "field runs past its record") }
        }
        func u8() throws -> Int { try need(1); defer { at += 1 }; return Int(p[at]) }
        func u16() throws -> Int { try need(2); defer { at += 2 }; return Int(p[at]) << 8 | Int(p[at + 1]) }
        func u32() throws -> Int {
            try need(4); defer { at += 4 }
            return Int(p[at]) << 24 | Int(p[at + 1]) << 16 | Int(p[at + 2]) << 8 | Int(p[at + 3])
        }
        func string() throws -> String {
            let n = try u16()
            try need(n)
            defer { at += n }
            return String(decoding: UnsafeRawBufferPointer(rebasing: p[at..<at + n]), as: UTF8.self)
        }
        let s = try u8()
        guard s < statuses.count else { throw ArchiveError.malformed(offset: base + at - 1, reason: "status \(s)") }
        let flags = try u8()
        let year = try u16()
        let serial = try u32()
        let id = try string()
        let merged = flags & 2 != 0 ? CaseID(try string()) : nil
        let category = flags & 4 != 0 ? try string() : nil
        let phone = flags & 8 != 0 ? try string() : nil
        var closedAt: Date?
        if flags & 16 != 0 {
            try need(8)
            var bits: UInt64 = 0
            for i in 0..<8 { bits = bits << 8 | UInt64(p[at + i]) }
            at += 8
            closedAt = Date(timeIntervalSince1970: Double(bitPattern: bits))
        }
        let m = try u16()
        var keys: [IntakeKey] = []
        keys.reserveCapacity(m)
        for _ in 0..<m { keys.append(IntakeKey(channel: try string(), externalID: try string())) }
        let n = try u32()
        guard at + n == end else { throw ArchiveError.malformed(offset: base + at, reason: "record length does not match its fields") }
        let header = Header(id: CaseID(id), number: CaseNumber(year: year, serial: serial), status: statuses[s], live: flags & 1 != 0,
                            mergedInto: merged, category: category, phoneKey: phone, closedAt: closedAt, intakeKeys: keys)
        return (header, end, at, n)
    }

    /// Every record of an archive held in memory, in order (tests, tools): header and events.
    ///
    /// - Throws: `ArchiveError.malformed`.
    public static func forEach(in bytes: [UInt8], _ body: (Header, ArraySlice<UInt8>) throws -> Void) throws {
        guard bytes.count >= fileHeaderBytes, Array(bytes[0..<8]) == Array(fileHeader[0..<8]) else {
            throw ArchiveError.malformed(offset: 0, reason: "not a version-3 case archive")
        }
        var at = fileHeaderBytes
        while at < bytes.count {
            guard let (h, length, eventsAt, n) = try bytes.withUnsafeBytes({ try parse(UnsafeRawBufferPointer(rebasing: $0[at...]), at: at) }) else {
                throw ArchiveError.malformed(offset: at, reason: "truncated record")
            }
            try body(h, bytes[(at + eventsAt)..<(at + eventsAt + n)])
            at += length
        }
    }

    /// An archive built in memory (tests, tools).
    public static func build(_ records: [(Header, [UInt8])]) throws -> [UInt8] {
        var out = fileHeader
        for (h, events) in records { out += try record(h, events: events[...]).bytes }
        return out
    }
}

extension CaseArchive {
    /// An archive in a file: the office's copy of its stream's snapshot, read with `pread` (a closed case's
    /// events on demand) and sent to replicas page by page (`Replication.SnapshotSource`). The file is deleted
    /// when the last reference goes (`deleteOnRelease`) — an office keeps only the current one.
    public final class File: Replication.SnapshotSource, @unchecked Sendable {
        public let path: String
        public let size: Int
        public let checksum: UInt32
        private let fd: Int32
        private let deleteOnRelease: Bool

        /// Opens `path` (written completely: `size` bytes with CRC-32C `checksum`).
        ///
        /// - Throws: `ArchiveError.io` (missing, or not `size` bytes).
        public init(path: String, size: Int, checksum: UInt32, deleteOnRelease: Bool = true) throws {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ArchiveError.io("open \(path): \(String(cString: strerror(errno)))") }
            var st = stat()
            guard fstat(fd, &st) == 0, Int(st.st_size) == size else {
                close(fd)
                throw ArchiveError.io("\(path) does not have its \(size) bytes")
            }
            self.path = path
            self.size = size
            self.checksum = checksum
            self.fd = fd
            self.deleteOnRelease = deleteOnRelease
        }

        deinit {
            close(fd)
            if deleteOnRelease { unlink(path) }
        }

        public func read(offset: Int, count: Int) throws -> [UInt8] {
            let from = min(max(0, offset), size)
            let n = min(max(0, count), size - from)
            var out = [UInt8](repeating: 0, count: n)
            var done = 0
            // Bounded: each pread advances or the loop ends.
            while done < n {
                let r = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, n - done, off_t(from + done)) }
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { throw ArchiveError.io("\(path): short read at \(from + done) of \(size)") }
                done += r
            }
            return out
        }

        /// The events of the record at `location`, decoded (the whole record is read and its CRC-32C checked).
        ///
        /// - Throws: `ArchiveError.io`, `.malformed` (bytes that do not match the CRC-32C), or the decoder's error.
        public func events(at location: Location) throws -> [CaseEvent] {
            let bytes = try read(offset: Int(location.offset), count: Int(location.length))
            guard bytes.count == Int(location.length), Int(location.eventsAt) + Int(location.eventsLength) <= bytes.count else {
                throw ArchiveError.io("\(path) ended inside the record at \(location.offset)")
            }
            try bytes.withUnsafeBytes { try CaseArchive.verify($0, at: Int(location.offset)) }
            return try Wire.BinaryDecoder().decode([CaseEvent].self,
                                                   from: bytes[Int(location.eventsAt)..<(Int(location.eventsAt) + Int(location.eventsLength))])
        }
    }

    /// Writes a new archive file: whole records (a live case, encoded now) and byte ranges copied from the
    /// previous archive (closed cases, untouched: no decoding). Keeps the running size and CRC-32C.
    public final class FileWriter {
        public let path: String
        private let fd: Int32
        public private(set) var size = 0
        public private(set) var checksum: UInt32 = 0
        private var buffer: [UInt8] = []
        private let checksummed: Bool
        private static let flushBytes = 1 << 20

        /// - Parameter header: write the file header first (false: the bytes written are a whole archive already).
        /// - Parameter checksummed: keep the running CRC-32C (false: the caller knows it, e.g. a snapshot whose
        ///   pages the stream checks; `finish` is then given it).
        /// - Throws: `ArchiveError.io`.
        public init(path: String, header: Bool = true, checksummed: Bool = true) throws {
            self.checksummed = checksummed
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw ArchiveError.io("create \(path): \(String(cString: strerror(errno)))") }
            self.path = path
            self.fd = fd
            buffer.reserveCapacity(Self.flushBytes * 2)
            if header { try write(CaseArchive.fileHeader) }
        }

        deinit { close(fd) }

        func writeRaw(_ bytes: [UInt8]) throws { try write(bytes) }

        private func write(_ bytes: [UInt8]) throws {
            buffer += bytes
            if checksummed { checksum = CRC32C.checksum(bytes, seed: checksum) }
            size += bytes.count
            if buffer.count >= Self.flushBytes { try flush() }
        }

        private func flush() throws {
            var done = 0
            while done < buffer.count {
                let r = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, buffer.count - done) }
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { throw ArchiveError.io("write \(path): \(String(cString: strerror(errno)))") }
                done += r
            }
            buffer.removeAll(keepingCapacity: true)
        }

        /// Appends a record; returns where it is.
        @discardableResult
        public func append(_ header: Header, events: ArraySlice<UInt8>) throws -> Location {
            let (bytes, eventsAt) = try CaseArchive.record(header, events: events)
            let at = size
            try write(bytes)
            return Location(offset: Int64(at), length: UInt32(bytes.count), eventsAt: UInt32(eventsAt),
                            eventsLength: UInt32(events.count))
        }

        /// Copies records of `source` (whole records, in the order given); returns each one's new location.
        /// Adjacent records are copied in one read.
        public func copy(_ locations: [Location], from source: File) throws -> [Location] {
            var out: [Location] = []
            out.reserveCapacity(locations.count)
            var i = 0
            while i < locations.count {
                // A run of records adjacent in the source, at most 4 MiB (one read).
                var j = i + 1
                var end = Int(locations[i].offset) + Int(locations[i].length)
                while j < locations.count, Int(locations[j].offset) == end, end - Int(locations[i].offset) < 4 << 20 {
                    end += Int(locations[j].length)
                    j += 1
                }
                let start = Int(locations[i].offset)
                let bytes = try source.read(offset: start, count: end - start)
                guard bytes.count == end - start else { throw ArchiveError.io("\(source.path) ended inside a record") }
                // Each record's CRC-32C is checked before it goes into the next snapshot: a bit flipped in this
                // cache must not become a snapshot every replica takes as good.
                try bytes.withUnsafeBytes { b in
                    for k in i..<j {
                        let from = Int(locations[k].offset) - start
                        try CaseArchive.verify(UnsafeRawBufferPointer(rebasing: b[from..<(from + Int(locations[k].length))]),
                                               at: Int(locations[k].offset))
                    }
                }
                let base = size
                try write(bytes)
                for k in i..<j {
                    var l = locations[k]
                    l.offset = Int64(base + Int(l.offset) - start)
                    out.append(l)
                }
                i = j
            }
            return out
        }

        /// Writes what is buffered; returns the file, opened for reading.
        ///
        /// - Throws: `ArchiveError.io`, or `.malformed` when `expecting` is given and the bytes' CRC-32C differs.
        public func finish(expecting: UInt32? = nil, deleteOnRelease: Bool = true) throws -> File {
            if !checksummed, let expecting { checksum = expecting }
            if let expecting, expecting != checksum {
                throw ArchiveError.malformed(offset: size, reason: "checksum \(checksum) differs from the snapshot's \(expecting)")
            }
            try flush()
            // Not fsynced: the file is the office's copy of what its replicas hold durably (a node that crashes
            // recovers it from them), so the page cache is enough.
            return try File(path: path, size: size, checksum: checksum, deleteOnRelease: deleteOnRelease)
        }
    }

    /// Where a recovering office's stream puts the snapshot pages it fetches (`Replication.SnapshotSink`): written
    /// to the office's archive file as they arrive, and parsed on the way — each record's header (and, for a live
    /// case, its events) is kept for the office; nothing is read twice. Holds at most one record plus one page.
    public final class Sink: Replication.SnapshotSink, @unchecked Sendable {
        private let lock = NSLock()
        private let pathFor: @Sendable (Replication.SnapshotInfo) -> String
        private var writer: FileWriter?
        private var pendingBytes: [UInt8] = []
        /// Archive offset of `pendingBytes[0]`.
        private var pendingAt = 0
        private var sawHeader = false
        private var index = Index()
        private var failure: ArchiveError?
        private var done: File?

        /// - Parameter path: the file to write a snapshot to.
        public init(path: @escaping @Sendable (Replication.SnapshotInfo) -> String) {
            pathFor = path
        }

        public func begin(_ info: Replication.SnapshotInfo) throws {
            try lock.withLock {
                writer = nil
                pendingBytes = []
                pendingAt = 0
                sawHeader = false
                index = Index()
                failure = nil
                done = nil
                // The stream checks the pages' CRC-32C; the file takes the snapshot's.
                writer = try FileWriter(path: pathFor(info), header: false, checksummed: false)
            }
        }

        public func append(_ bytes: [UInt8]) throws {
            try lock.withLock {
                guard let writer else { throw ArchiveError.io("snapshot page before its start") }
                try writer.writeRaw(bytes)
                pendingBytes += bytes
                try parsePending()
            }
        }

        private func parsePending() throws {
            if !sawHeader {
                guard pendingBytes.count >= CaseArchive.fileHeaderBytes else { return }
                guard Array(pendingBytes[0..<8]) == Array(CaseArchive.fileHeader[0..<8]) else {
                    throw ArchiveError.malformed(offset: 0, reason: "not a version-3 case archive")
                }
                sawHeader = true
                pendingBytes.removeFirst(CaseArchive.fileHeaderBytes)
                pendingAt = CaseArchive.fileHeaderBytes
            }
            var used = 0
            try pendingBytes.withUnsafeBytes { p in
                while let (h, length, eventsAt, n) = try CaseArchive.parse(UnsafeRawBufferPointer(rebasing: p[used...]), at: pendingAt + used) {
                    let location = Location(offset: Int64(pendingAt + used), length: UInt32(length), eventsAt: UInt32(eventsAt),
                                            eventsLength: UInt32(n))
                    let events = h.live ? Array(p[(used + eventsAt)..<(used + eventsAt + n)]) : nil
                    index.add(h, at: location, events: events)
                    used += length
                }
            }
            if used > 0 {
                pendingBytes.removeFirst(used)
                pendingAt += used
            }
        }

        public func finish(_ info: Replication.SnapshotInfo) throws -> any Replication.SnapshotSource {
            try lock.withLock {
                guard let writer else { throw ArchiveError.io("snapshot finished before its start") }
                guard pendingBytes.isEmpty, sawHeader else {
                    throw ArchiveError.malformed(offset: pendingAt, reason: "the archive ends inside a record (\(pendingBytes.count) bytes left)")
                }
                let file = try writer.finish(expecting: info.checksum)
                self.writer = nil
                done = file
                return file
            }
        }

        /// The index built from the headers and the file, once `finish` ran (handed out once).
        public func take() -> (index: Index, file: File?) {
            lock.withLock {
                defer { index = Index(); done = nil }
                return (index, done)
            }
        }
    }
}


/// A closed case an office holds only as an index entry: its latest events are a record of the office's archive
/// file (`CaseArchive.File`), read when the case is asked for or touched — or, for a closed case recovered from
/// the entries after the snapshot, the encoded changes that built it (`chunks`), until the next snapshot writes it
/// to the file.
public struct ArchivedCase: Sendable, Hashable {
    public var number: CaseNumber
    public var status: CaseStatus
    /// Where its record is in the archive file (meaningless while `chunks` is set).
    public var location: CaseArchive.Location
    /// The case's events as the encoded changes (`Wire.BinaryEncoder` bytes of `[CaseEvent]` each, in order) it
    /// was recovered from; nil: in the archive file.
    public var chunks: [[UInt8]]?
    public var mergedInto: CaseID?
    /// For intake matching (`IntakeMatcher`): the case's category, its contact's phone key, its last closure.
    public var category: String?
    public var phoneKey: String?
    public var closedAt: Date?

    public init(_ h: CaseArchive.Header, at location: CaseArchive.Location) {
        number = h.number
        status = h.status
        self.location = location
        mergedInto = h.mergedInto
        category = h.category
        phoneKey = h.phoneKey
        closedAt = h.closedAt
    }

    /// A case held as its encoded changes (not in the archive file yet).
    public init(_ h: CaseArchive.Header, chunks: [[UInt8]]) {
        self.init(h, at: CaseArchive.Location(offset: 0, length: 0, eventsAt: 0, eventsLength: 0))
        self.chunks = chunks
    }

    /// Bytes of its encoded events (approximately, for chunks: their sum).
    public var eventBytes: Int { chunks.map { $0.reduce(0) { $0 + $1.count } } ?? Int(location.eventsLength) }
}

extension CaseArchive {
    /// What an office rebuilds from an archive's headers: the index of its closed cases, the intake keys and merge
    /// links of all of them, and the live cases' encoded events (decoded and replayed by the office).
    public struct Index: Sendable {
        public var archived: [CaseID: ArchivedCase] = [:]
        public var byIntakeKey: [IntakeKey: CaseID] = [:]
        public var childrenOf: [CaseID: Set<CaseID>] = [:]
        public var live: [(id: CaseID, events: [UInt8])] = []

        public init() {}

        mutating func add(_ h: Header, at location: Location, events: [UInt8]?) {
            for k in h.intakeKeys { byIntakeKey[k] = h.id }
            if let lead = h.mergedInto { childrenOf[lead, default: []].insert(h.id) }
            if h.live, let events {
                live.append((h.id, events))
            } else {
                archived[h.id] = ArchivedCase(h, at: location)
            }
        }
    }
}
