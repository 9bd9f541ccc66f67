import Foundation
import Glibc

/// A node-local, append-only, crash-safe log of opaque byte records under one directory, with snapshots that
/// compact it. Records get gap-free sequences starting at 1.
///
/// On disk (all integers big-endian; see `Docs/durability.md`, "Local log"):
/// - segment files `seg-<20-digit first sequence>.log`, each a run of records
///   `[length: 4 bytes][crc: 4 bytes][sequence: 8 bytes][payload: length bytes]`, where `crc` is CRC-32C
///   (Castagnoli, RFC 3720 §B.4) over the sequence bytes and the payload;
/// - snapshot files `snap-<20-digit sequence>.snap` (header: magic "LSNP", version, sequence, length, CRC-32C);
/// - `LOCK`, held with `flock` by the open log (`DataDirectory`).
///
/// `open` validates every record (length within `maxRecordBytes`, CRC, sequence = previous + 1). A bad record in
/// the last segment is a torn or damaged tail: the file is truncated there (`ftruncate` + `fsync`) and the loss is
/// reported in `RecoveryReport`. A bad record in an earlier segment is damage to acknowledged data: `open` throws
/// `DurabilityError.corrupt` rather than drop it.
///
/// Not thread-safe and not `Sendable`: use one instance from one thread or actor at a time (`GroupCommitLog`
/// wraps it in a serial queue for concurrent appenders).
public final class DurableLog {
    /// When appended records are flushed to stable storage (`fdatasync(2)`).
    public enum FsyncPolicy: Sendable, Equatable {
        /// `fdatasync` before `append` returns: a returned append survives a crash or power loss.
        case always
        /// `fdatasync` during an `append` (or `sync()`) when at least `milliseconds` passed since the last one: a
        /// crash loses at most the writes since the last fsync — those of the last interval if appends keep coming,
        /// and anything not followed by a later append or `sync()` otherwise (`GroupCommitLog` schedules that sync).
        case interval(milliseconds: Int)
        /// Never fsync (tests and benchmarks only): the kernel writes back when it likes; a power loss may lose or
        /// tear anything, a process crash loses nothing the kernel accepted.
        case never
    }

    /// Bounds and policies of a log. Sizes in bytes.
    public struct Options: Sendable, Equatable {
        /// A new segment is started before a batch that would take the current one above this; a single batch
        /// larger than this gets a segment of its own. Default 64 MiB.
        public var segmentBytes: Int = 64 << 20
        /// Default `.always`.
        public var fsync: FsyncPolicy = .always
        /// Largest payload of one record (the length field is 4 bytes, so at most 2³² − 1). Recovery treats a
        /// length above it as damage, so never lower it for a log that holds larger records. Default 16 MiB.
        public var maxRecordBytes: Int = 16 << 20
        /// Largest snapshot payload written or read back. Default 1 GiB.
        public var maxSnapshotBytes: Int = 1 << 30

        public init(segmentBytes: Int = 64 << 20, fsync: FsyncPolicy = .always, maxRecordBytes: Int = 16 << 20,
                    maxSnapshotBytes: Int = 1 << 30) {
            self.segmentBytes = segmentBytes
            self.fsync = fsync
            self.maxRecordBytes = maxRecordBytes
            self.maxSnapshotBytes = maxSnapshotBytes
        }
    }

    /// What `open` found and repaired.
    public struct RecoveryReport: Sendable, Equatable, CustomStringConvertible {
        /// A byte position: segment file path and offset (bytes from its start).
        public struct Position: Sendable, Equatable {
            public var segment: String
            public var offset: Int
        }

        /// Valid records found in the segments (after any truncation).
        public var records = 0
        /// Segment files kept.
        public var segments = 0
        /// The last sequence (0 for a new log); appends continue at `lastSequence + 1`.
        public var lastSequence: UInt64 = 0
        /// Sequence of the newest valid snapshot, 0 when there is none.
        public var snapshotSequence: UInt64 = 0
        /// Bytes cut off the end of the last segment (a torn or damaged tail), 0 when it was intact.
        public var truncatedBytes = 0
        /// Where the cut was made, nil when nothing was truncated.
        public var truncatedAt: Position?
        /// Why it was cut, e.g. "torn record: 12 of 40 bytes", "crc mismatch at sequence 17".
        public var reason: String?
        /// Newer snapshot files that failed validation, each "<path>: <reason>"; they were renamed to
        /// `<name>.corrupt` and an older snapshot was used.
        public var corruptSnapshots: [String] = []
        /// Wall time of the recovery, ms.
        public var elapsedMs: Double = 0

        public var description: String {
            var s = "\(records) records in \(segments) segments, last sequence \(lastSequence), snapshot \(snapshotSequence)"
            if let at = truncatedAt {
                s += ", truncated \(truncatedBytes) bytes at \(at.segment):\(at.offset) (\(reason ?? ""))"
            }
            for c in corruptSnapshots { s += ", corrupt snapshot \(c)" }
            return s + String(format: ", %.1f ms", elapsedMs)
        }
    }

    /// Header bytes of a record: length (4), CRC-32C (4), sequence (8).
    public static let recordHeaderBytes = 16
    /// Header bytes of a snapshot file: magic "LSNP" (4), version (4), sequence (8), length (8), CRC-32C (4).
    public static let snapshotHeaderBytes = 28
    static let snapshotMagic: UInt32 = 0x4C53_4E50  // "LSNP"
    static let snapshotVersion: UInt32 = 1
    /// One sparse-index entry (sequence → offset) per this many bytes of a segment, so `read(from:)` starts its
    /// scan near the record. Memory: 16 bytes per 256 KiB on disk.
    static let indexIntervalBytes = 256 << 10

    struct Segment {
        var firstSequence: UInt64
        var path: String
        /// Valid bytes (the append offset for the active segment).
        var bytes: Int
        /// `firstSequence - 1` while empty.
        var lastSequence: UInt64
        /// Ascending (sequence, offset) pairs; the first record of the segment is always at offset 0.
        var index: [(sequence: UInt64, offset: Int)] = []
        var isEmpty: Bool { lastSequence < firstSequence }
    }

    /// The log's directory, as given to `open`.
    public let directory: String
    public let options: Options
    private let dataDirectory: DataDirectory
    private let ownsDataDirectory: Bool
    private var dirFD: Int32
    private var segments: [Segment]
    /// Descriptor of the last segment (appends), -1 when there is none yet (the next append creates it).
    private var activeFD: Int32 = -1
    /// Sequences of the snapshot files on disk (not set aside as corrupt), ascending.
    private var snapshots: [UInt64]
    private var unsyncedBytes = 0
    private var lastSync = ContinuousClock.now
    private var failure: String?
    private var isClosed = false
    private let metrics: LogMetrics?

    /// The last appended (or snapshot-covered) sequence; 0 for an empty log.
    public private(set) var lastSequence: UInt64

    /// The first sequence still in a segment on disk; `lastSequence + 1` when no record is on disk (everything is
    /// in the snapshot, or the log is empty).
    public var firstSequence: UInt64 {
        segments.first(where: { !$0.isEmpty })?.firstSequence ?? lastSequence + 1
    }

    /// True when appended bytes have not been fsynced yet (`.interval` and `.never` policies).
    public var hasUnsyncedWrites: Bool { unsyncedBytes > 0 }

    /// The last problem `latestSnapshot()` found with a snapshot file (it then fell back to an older one).
    public private(set) var lastSnapshotProblem: String?

    private init(dataDirectory: DataDirectory, owns: Bool, dirFD: Int32, options: Options, segments: [Segment],
                 snapshots: [UInt64], lastSequence: UInt64, metrics: Metrics?) {
        self.directory = dataDirectory.path
        self.dataDirectory = dataDirectory
        self.ownsDataDirectory = owns
        self.dirFD = dirFD
        self.options = options
        self.segments = segments
        self.snapshots = snapshots
        self.lastSequence = lastSequence
        self.metrics = metrics.map(LogMetrics.init)
    }

    deinit {
        if activeFD >= 0 { Glibc.close(activeFD) }
        if dirFD >= 0 { Glibc.close(dirFD) }
        if ownsDataDirectory { dataDirectory.close() }
    }

    // MARK: Open and recovery

    /// Opens (creating if missing) the log in `directory`, locking it (`DataDirectory`), and recovers it.
    /// - Returns: the log, positioned to append at `lastSequence + 1`, and what recovery found.
    /// - Throws: `DurabilityError.directoryLocked` when another open holds the directory; `.corrupt` when a record
    ///   before the last segment is damaged or a segment is missing; `.invalidArgument` for impossible options;
    ///   `.io` when a system call fails.
    public static func open(directory: String, options: Options = Options(),
                            metrics: Metrics? = nil) throws -> (DurableLog, RecoveryReport) {
        let dir = try DataDirectory.open(directory)
        do {
            return try open(in: dir, owns: true, options: options, metrics: metrics)
        } catch {
            dir.close()
            throw error
        }
    }

    /// Opens the log in an already locked `DataDirectory` (its lock stays with the caller: `close()` does not
    /// release it). Otherwise as `open(directory:options:metrics:)`. One log per directory: the lock cannot stop a
    /// second log opened in the same `DataDirectory`.
    public static func open(in directory: DataDirectory, options: Options = Options(),
                            metrics: Metrics? = nil) throws -> (DurableLog, RecoveryReport) {
        try open(in: directory, owns: false, options: options, metrics: metrics)
    }

    private static func open(in dataDirectory: DataDirectory, owns: Bool, options: Options,
                             metrics: Metrics?) throws -> (DurableLog, RecoveryReport) {
        guard options.segmentBytes > 0, options.maxRecordBytes > 0, options.maxRecordBytes <= Int(UInt32.max),
              options.maxSnapshotBytes >= 0 else {
            throw DurabilityError.invalidArgument("segmentBytes and maxRecordBytes must be positive, maxRecordBytes ≤ 2³² − 1")
        }
        if case .interval(let ms) = options.fsync, ms < 0 {
            throw DurabilityError.invalidArgument("fsync interval \(ms) ms is negative")
        }
        guard dataDirectory.isOpen else { throw DurabilityError.closed }
        let started = ContinuousClock.now
        let path = dataDirectory.path
        var report = RecoveryReport()

        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw DurabilityError.io(path: path, operation: "list directory", errno: EIO)
        }
        let dirFD = try LogFiles.openFile(path, O_RDONLY | O_DIRECTORY)
        var keepDirFD = false
        defer { if !keepDirFD { Glibc.close(dirFD) } }

        // Leftovers of a snapshot write that crashed before its rename.
        for name in names where name.hasPrefix("snap-") && name.hasSuffix(".tmp") { try LogFiles.unlink(path + "/" + name) }

        // Snapshots: the newest valid one bounds what the segments must hold.
        var snapshots = names.compactMap { LogFiles.parse($0, prefix: "snap-", suffix: ".snap") }.sorted()
        var snapshotSequence: UInt64 = 0
        while let newest = snapshots.last {
            let file = path + "/" + LogFiles.snapshotName(newest)
            if let problem = try validateSnapshot(file, sequence: newest, limit: options.maxSnapshotBytes) {
                report.corruptSnapshots.append("\(file): \(problem)")
                try LogFiles.rename(file, file + ".corrupt")
                snapshots.removeLast()
                continue
            }
            snapshotSequence = newest
            break
        }
        report.snapshotSequence = snapshotSequence

        // Segments, in sequence order; each starts where the previous ended, or (after a snapshot that covers
        // records lost from a torn tail) anywhere up to snapshot + 1.
        let segmentFirsts = names.compactMap { LogFiles.parse($0, prefix: "seg-", suffix: ".log") }.sorted()
        var segments: [Segment] = []
        var expected = segmentFirsts.first ?? snapshotSequence + 1
        for (i, first) in segmentFirsts.enumerated() {
            let file = path + "/" + LogFiles.segmentName(first)
            let isLast = i == segmentFirsts.count - 1
            let continues = first == expected || (first > expected && first <= snapshotSequence + 1)
            let coveredStart = i > 0 || first <= snapshotSequence + 1
            if !continues || !coveredStart {
                throw DurabilityError.corrupt(segment: file, offset: 0, reason: i == 0
                    ? "log starts at sequence \(first) but the newest valid snapshot covers only up to \(snapshotSequence)"
                    : "segment starts at sequence \(first), expected \(expected) (a segment is missing or overlaps)")
            }
            let fd = try LogFiles.openFile(file, isLast ? O_RDWR : O_RDONLY)
            defer { Glibc.close(fd) }
            let size = try LogFiles.fileSize(fd, path: file)
            var segment = Segment(firstSequence: first, path: file, bytes: 0, lastSequence: first - 1)
            var reader = ReadAheadFile(fd: fd, path: file, end: size)
            var offset = 0
            var lastIndexed = -indexIntervalBytes
            while offset < size {
                let check = try checkRecord(&reader, at: offset, expected: segment.lastSequence + 1,
                                            maxRecordBytes: options.maxRecordBytes) { _, _ in }
                switch check {
                case .ok(let sequence, let length):
                    if offset - lastIndexed >= indexIntervalBytes {
                        segment.index.append((sequence, offset))
                        lastIndexed = offset
                    }
                    segment.lastSequence = sequence
                    offset += recordHeaderBytes + length
                    report.records += 1
                case .bad(let reason):
                    guard isLast else { throw DurabilityError.corrupt(segment: file, offset: offset, reason: reason) }
                    guard ftruncate(fd, off_t(offset)) == 0 else {
                        throw DurabilityError.io(path: file, operation: "ftruncate", errno: errno)
                    }
                    try LogFiles.fsync(fd, path: file)
                    report.truncatedBytes = size - offset
                    report.truncatedAt = RecoveryReport.Position(segment: file, offset: offset)
                    report.reason = reason
                    metrics?.counter("log_truncated_bytes_total", help: "Bytes cut off a torn or damaged log tail at recovery")
                        .increment(by: size - offset)
                    segment.bytes = offset
                    offset = size  // stop
                    continue
                }
                segment.bytes = offset
            }
            expected = segment.lastSequence + 1
            segments.append(segment)
        }

        let lastRecord = expected - 1
        let lastSequence = max(lastRecord, snapshotSequence)
        // An empty last segment that does not start at the next sequence (its records were lost and the snapshot
        // covers them) is removed; the next append starts a segment at the right sequence.
        if let last = segments.last, last.isEmpty, last.firstSequence != lastSequence + 1 {
            try LogFiles.unlink(last.path)
            try LogFiles.syncDirectory(dirFD, path: path)
            segments.removeLast()
        }
        let log = DurableLog(dataDirectory: dataDirectory, owns: owns, dirFD: dirFD, options: options, segments: segments,
                             snapshots: snapshots, lastSequence: lastSequence, metrics: metrics)
        keepDirFD = true
        // Append to the last segment only if it ends at the last sequence (else the next append rolls).
        if let last = segments.last, last.lastSequence == lastSequence || (last.isEmpty && last.firstSequence == lastSequence + 1) {
            log.activeFD = try LogFiles.openFile(last.path, O_RDWR)
        }
        log.metrics?.segments.set(segments.count)
        report.segments = segments.count
        report.lastSequence = lastSequence
        let elapsed = ContinuousClock.now - started
        report.elapsedMs = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return (log, report)
    }

    enum RecordCheck {
        case ok(sequence: UInt64, length: Int)
        case bad(String)
    }

    /// Validates the record at `offset` of `file` (bounds, CRC, `expected` sequence) and hands its payload to
    /// `payload` when it is valid.
    static func checkRecord(_ file: inout ReadAheadFile, at offset: Int, expected: UInt64, maxRecordBytes: Int,
                            payload: (UInt64, UnsafeRawBufferPointer) throws -> Void) throws -> RecordCheck {
        let remaining = file.end - offset
        guard remaining >= recordHeaderBytes else {
            return .bad("torn record: \(remaining) of \(recordHeaderBytes) header bytes")
        }
        let (length, crc, sequence) = try file.withBytes(at: offset, count: recordHeaderBytes) { b in
            (Int(LogFiles.bigEndianUInt32(b, 0)), LogFiles.bigEndianUInt32(b, 4), LogFiles.bigEndianUInt64(b, 8))
        }
        guard length <= maxRecordBytes else {
            return .bad("record length \(length) above limit \(maxRecordBytes)")
        }
        guard remaining >= recordHeaderBytes + length else {
            return .bad("torn record: \(remaining) of \(recordHeaderBytes + length) bytes")
        }
        return try file.withBytes(at: offset, count: recordHeaderBytes + length) { b in
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[8...])) == crc else {
                return .bad("crc mismatch at sequence \(sequence)")
            }
            guard sequence == expected else { return .bad("sequence \(sequence) where \(expected) was expected") }
            try payload(sequence, UnsafeRawBufferPointer(rebasing: b[recordHeaderBytes...]))
            return .ok(sequence: sequence, length: length)
        }
    }

    // MARK: Append

    /// Appends `payloads` as consecutive records with one `pwrite`, then fsyncs per `options.fsync`.
    /// - Returns: the sequences given, `lastSequence + 1 ... lastSequence + payloads.count`.
    /// - Throws: `.recordTooLarge(bytes:limit:)` (nothing written) when a payload is above `maxRecordBytes`;
    ///   `.invalidArgument` for an empty batch; `.io` when the write fails (the segment is cut back to its previous
    ///   end; if that fails too the log turns `.failed`); `.failed` after a failed fsync (the kernel may have dropped
    ///   the dirty pages, so nothing after the last good fsync is trusted; reopen to recover); `.closed`.
    @discardableResult
    public func append(_ payloads: [[UInt8]]) throws -> ClosedRange<UInt64> {
        try checkWritable()
        guard !payloads.isEmpty else { throw DurabilityError.invalidArgument("empty batch") }
        var total = 0
        for p in payloads {
            guard p.count <= options.maxRecordBytes else {
                throw DurabilityError.recordTooLarge(bytes: p.count, limit: options.maxRecordBytes)
            }
            total += Self.recordHeaderBytes + p.count
        }
        if activeFD < 0 || (segments[segments.count - 1].bytes > 0 && segments[segments.count - 1].bytes + total > options.segmentBytes) {
            try roll()
        }
        let first = lastSequence + 1
        let start = segments[segments.count - 1].bytes
        let path = segments[segments.count - 1].path
        var offsets: [Int] = []
        offsets.reserveCapacity(payloads.count)
        let buffer = [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            var at = 0
            for (i, p) in payloads.enumerated() {
                offsets.append(start + at)
                raw.storeBytes(of: UInt32(p.count).bigEndian, toByteOffset: at, as: UInt32.self)
                raw.storeBytes(of: (first + UInt64(i)).bigEndian, toByteOffset: at + 8, as: UInt64.self)
                p.withUnsafeBytes { src in
                    if src.count > 0 { (raw.baseAddress! + at + 16).copyMemory(from: src.baseAddress!, byteCount: src.count) }
                }
                let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(at + 8)..<(at + 16 + p.count)]))
                raw.storeBytes(of: crc.bigEndian, toByteOffset: at + 4, as: UInt32.self)
                at += 16 + p.count
            }
            initialized = total
        }
        do {
            try buffer.withUnsafeBytes { try LogFiles.writeAll(activeFD, $0, at: start, path: path) }
        } catch {
            // Cut a partial write back so the file ends at the last whole record.
            if ftruncate(activeFD, off_t(start)) != 0 { failure = "\(error); ftruncate back to \(start) failed too" }
            throw error
        }
        var segment = segments[segments.count - 1]
        var lastIndexed = segment.index.last?.offset ?? -Self.indexIntervalBytes
        for (i, offset) in offsets.enumerated() where offset - lastIndexed >= Self.indexIntervalBytes {
            segment.index.append((first + UInt64(i), offset))
            lastIndexed = offset
        }
        segment.bytes = start + total
        segment.lastSequence = first + UInt64(payloads.count) - 1
        segments[segments.count - 1] = segment
        lastSequence = segment.lastSequence
        unsyncedBytes += total
        metrics?.records.increment(by: payloads.count)
        metrics?.bytes.increment(by: total)
        switch options.fsync {
        case .always: try syncNow()
        case .interval(let ms): if ContinuousClock.now - lastSync >= .milliseconds(ms) { try syncNow() }
        case .never: break
        }
        return first...lastSequence
    }

    /// Fsyncs what was appended and not yet fsynced (a no-op when nothing is pending, and under `.never`).
    /// - Throws: `.failed` when the fsync fails (see `append`); `.closed`.
    public func sync() throws {
        try checkWritable()
        if unsyncedBytes > 0 && options.fsync != .never { try syncNow() }
    }

    private func syncNow() throws {
        guard activeFD >= 0 else { return }
        let started = ContinuousClock.now
        do {
            try LogFiles.fdatasync(activeFD, path: segments[segments.count - 1].path)
        } catch {
            failure = "\(error)"
            throw DurabilityError.failed(reason: "\(error)")
        }
        let now = ContinuousClock.now
        lastSync = now
        unsyncedBytes = 0
        if let m = metrics {
            m.fsyncs.increment()
            let d = (now - started).components
            m.fsyncSeconds.observe(Double(d.seconds) + Double(d.attoseconds) / 1e18)
        }
    }

    /// Starts segment `seg-<lastSequence + 1>.log`, after making the current one durable (so only the last
    /// segment can ever have a torn tail), and fsyncs the directory so the new entry survives a crash.
    private func roll() throws {
        if activeFD >= 0 {
            if unsyncedBytes > 0 && options.fsync != .never { try syncNow() }
            Glibc.close(activeFD)
            activeFD = -1
        }
        let first = lastSequence + 1
        let file = directory + "/" + LogFiles.segmentName(first)
        let fd = try LogFiles.openFile(file, O_RDWR | O_CREAT | O_EXCL)
        if options.fsync != .never {
            do { try LogFiles.syncDirectory(dirFD, path: directory) } catch {
                Glibc.close(fd)
                try? LogFiles.unlink(file)
                throw error
            }
        }
        activeFD = fd
        segments.append(Segment(firstSequence: first, path: file, bytes: 0, lastSequence: first - 1))
        metrics?.segments.set(segments.count)
    }

    private func checkWritable() throws {
        if isClosed { throw DurabilityError.closed }
        if let failure { throw DurabilityError.failed(reason: failure) }
    }

    // MARK: Read

    /// Replays records from `sequence` in order, calling `body(sequence, payload)` for each, and stops before the
    /// payload bytes delivered would pass `maxBytes` (at least one record is delivered when one exists, whatever its
    /// size, so a reader always progresses) or at `lastSequence`.
    /// - Returns: the next sequence to ask for (`sequence` itself when nothing was delivered).
    /// - Throws: `.compacted(requested:firstAvailable:)` when `sequence` is below `firstSequence` (restore the
    ///   snapshot, then read from `snapshot + 1`); `.corrupt` when a record fails validation since `open`; `.io`;
    ///   `.closed`; whatever `body` throws (the read stops there).
    @discardableResult
    public func read(from sequence: UInt64, maxBytes: Int, _ body: (UInt64, [UInt8]) throws -> Void) throws -> UInt64 {
        if isClosed { throw DurabilityError.closed }
        let from = max(sequence, 1)
        guard from <= lastSequence else { return from }
        let first = firstSequence
        guard from >= first else { throw DurabilityError.compacted(requested: from, firstAvailable: first) }
        // The first segment holding a record ≥ from (segments' last sequences ascend).
        var lo = 0, hi = segments.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if segments[mid].lastSequence < from { lo = mid + 1 } else { hi = mid }
        }
        var next = from
        var delivered = 0
        var deliveredBytes = 0
        var i = lo
        while i < segments.count, next <= lastSequence {
            let segment = segments[i]
            i += 1
            if segment.isEmpty { continue }
            let fd = try LogFiles.openFile(segment.path, O_RDONLY)
            defer { Glibc.close(fd) }
            var reader = ReadAheadFile(fd: fd, path: segment.path, end: segment.bytes)
            // Start at the last index entry at or before `next`.
            var offset = 0
            var expected = segment.firstSequence
            if let entry = segment.index.last(where: { $0.sequence <= next }) {
                offset = entry.offset
                expected = entry.sequence
            }
            var stop = false
            while offset < segment.bytes, !stop {
                let check = try Self.checkRecord(&reader, at: offset, expected: expected, maxRecordBytes: options.maxRecordBytes) { seq, payload in
                    guard seq >= next else { return }
                    if delivered > 0 && deliveredBytes + payload.count > maxBytes {
                        stop = true
                        return
                    }
                    try body(seq, Array(payload))
                    delivered += 1
                    deliveredBytes += payload.count
                    next = seq + 1
                }
                switch check {
                case .ok(let seq, let length):
                    offset += Self.recordHeaderBytes + length
                    expected = seq + 1
                case .bad(let reason):
                    throw DurabilityError.corrupt(segment: segment.path, offset: offset, reason: reason)
                }
            }
            if stop { break }
            // A gap covered by the snapshot (records lost from a torn tail the snapshot includes) is skipped.
            if next <= segment.lastSequence { break }
            if i < segments.count, next < segments[i].firstSequence { next = segments[i].firstSequence }
        }
        return next
    }

    // MARK: Snapshots and compaction

    /// Writes `bytes` as the snapshot of the state through `sequence`: the log is fsynced first, then
    /// `snap-<sequence>.snap.tmp` is written and fsynced, renamed to `snap-<sequence>.snap`, and the directory
    /// fsynced, so a crash leaves either the old snapshots or the new one whole. The newest 2 snapshots are kept;
    /// then segments whose records are all at or below the OLDER kept snapshot are deleted (oldest first), so that
    /// a damaged newest snapshot can always fall back to the older one plus the log after it. Restart reads one
    /// snapshot and at most the records since the older one, whatever the history.
    /// - Throws: `.snapshotTooLarge` (nothing written); `.invalidArgument` when `sequence` is above `lastSequence`
    ///   or below the newest snapshot; `.io`; `.failed`; `.closed`.
    public func writeSnapshot(through sequence: UInt64, _ bytes: [UInt8]) throws {
        try checkWritable()
        guard bytes.count <= options.maxSnapshotBytes else {
            throw DurabilityError.snapshotTooLarge(bytes: bytes.count, limit: options.maxSnapshotBytes)
        }
        guard sequence <= lastSequence else {
            throw DurabilityError.invalidArgument("snapshot through \(sequence) is above the last sequence \(lastSequence)")
        }
        if let newest = snapshots.last, sequence < newest {
            throw DurabilityError.invalidArgument("snapshot through \(sequence) is older than the newest snapshot \(newest)")
        }
        // The records the snapshot covers must be durable before the snapshot says so.
        if unsyncedBytes > 0 && options.fsync != .never { try syncNow() }

        let final = directory + "/" + LogFiles.snapshotName(sequence)
        let tmp = final + ".tmp"
        var header = [UInt8](repeating: 0, count: Self.snapshotHeaderBytes)
        header.withUnsafeMutableBytes { h in
            h.storeBytes(of: Self.snapshotMagic.bigEndian, toByteOffset: 0, as: UInt32.self)
            h.storeBytes(of: Self.snapshotVersion.bigEndian, toByteOffset: 4, as: UInt32.self)
            h.storeBytes(of: sequence.bigEndian, toByteOffset: 8, as: UInt64.self)
            h.storeBytes(of: UInt64(bytes.count).bigEndian, toByteOffset: 16, as: UInt64.self)
        }
        let crc = CRC32C.checksum(bytes, seed: CRC32C.checksum(Array(header[0..<24])))
        header.withUnsafeMutableBytes { $0.storeBytes(of: crc.bigEndian, toByteOffset: 24, as: UInt32.self) }
        try LogFiles.replaceFile(final, via: tmp, with: [header, bytes], sync: options.fsync != .never)
        if options.fsync != .never { try LogFiles.syncDirectory(dirFD, path: directory) }
        if snapshots.last != sequence { snapshots.append(sequence) }
        metrics?.snapshots.increment()

        while snapshots.count > 2 {
            try LogFiles.unlink(directory + "/" + LogFiles.snapshotName(snapshots.removeFirst()))
        }
        try compact(through: snapshots.count >= 2 ? snapshots[snapshots.count - 2] : 0)
    }

    /// Deletes segments (oldest first, never the one being appended to) whose records are all ≤ `sequence`.
    private func compact(through sequence: UInt64) throws {
        var removed = 0
        while segments.count > 1, !segments[0].isEmpty, segments[0].lastSequence <= sequence {
            try LogFiles.unlink(segments[0].path)
            segments.removeFirst()
            removed += 1
        }
        guard removed > 0 else { return }
        if options.fsync != .never { try LogFiles.syncDirectory(dirFD, path: directory) }
        metrics?.segmentsDeleted.increment(by: removed)
        metrics?.segments.set(segments.count)
    }

    /// The newest snapshot that passes validation (magic, version, length, sequence, CRC-32C), or nil when there is
    /// none. A damaged one is renamed to `<name>.corrupt`, recorded in `lastSnapshotProblem`, counted in
    /// `log_snapshots_corrupt_total`, and the next older one is tried.
    /// - Throws: `.io` when a snapshot file cannot be read or renamed; `.closed`.
    public func latestSnapshot() throws -> (sequence: UInt64, bytes: [UInt8])? {
        if isClosed { throw DurabilityError.closed }
        while let newest = snapshots.last {
            let file = directory + "/" + LogFiles.snapshotName(newest)
            switch try Self.loadSnapshot(file, sequence: newest, limit: options.maxSnapshotBytes) {
            case .success(let bytes): return (newest, bytes)
            case .failure(let problem):
                lastSnapshotProblem = "\(file): \(problem.reason)"
                metrics?.snapshotsCorrupt.increment()
                try LogFiles.rename(file, file + ".corrupt")
                snapshots.removeLast()
            }
        }
        return nil
    }

    struct SnapshotProblem: Error { var reason: String }

    /// Nil when the snapshot file is valid, else why not. Streams the payload through the CRC in 1 MiB reads.
    static func validateSnapshot(_ file: String, sequence: UInt64, limit: Int) throws -> String? {
        try readSnapshot(file, sequence: sequence, limit: limit, keep: false).failureReason
    }

    static func loadSnapshot(_ file: String, sequence: UInt64, limit: Int) throws -> Result<[UInt8], SnapshotProblem> {
        try readSnapshot(file, sequence: sequence, limit: limit, keep: true)
    }

    private static func readSnapshot(_ file: String, sequence: UInt64, limit: Int,
                                     keep: Bool) throws -> Result<[UInt8], SnapshotProblem> {
        let fd = try LogFiles.openFile(file, O_RDONLY)
        defer { Glibc.close(fd) }
        let size = try LogFiles.fileSize(fd, path: file)
        func bad(_ r: String) -> Result<[UInt8], SnapshotProblem> { .failure(SnapshotProblem(reason: r)) }
        guard size >= snapshotHeaderBytes else { return bad("\(size) bytes, shorter than the \(snapshotHeaderBytes)-byte header") }
        var reader = ReadAheadFile(fd: fd, path: file, end: size)
        let (magic, version, seq, length, crc, headerCRC) = try reader.withBytes(at: 0, count: snapshotHeaderBytes) { h in
            (LogFiles.bigEndianUInt32(h, 0), LogFiles.bigEndianUInt32(h, 4), LogFiles.bigEndianUInt64(h, 8),
             LogFiles.bigEndianUInt64(h, 16), LogFiles.bigEndianUInt32(h, 24),
             CRC32C.checksum(UnsafeRawBufferPointer(rebasing: h[0..<24])))
        }
        guard magic == snapshotMagic else { return bad("bad magic 0x\(String(magic, radix: 16))") }
        guard version == snapshotVersion else { return bad("unknown version \(version)") }
        guard seq == sequence else { return bad("header sequence \(seq) differs from the file name's \(sequence)") }
        guard length <= UInt64(limit) else { return bad("length \(length) above limit \(limit)") }
        guard UInt64(size - snapshotHeaderBytes) == length else {
            return bad("\(size - snapshotHeaderBytes) payload bytes where the header says \(length)")
        }
        var running = headerCRC
        var payload: [UInt8] = []
        if keep { payload.reserveCapacity(Int(length)) }
        var offset = snapshotHeaderBytes
        while offset < size {
            let n = min(ReadAheadFile.chunkBytes, size - offset)
            try reader.withBytes(at: offset, count: n) { chunk in
                running = CRC32C.checksum(chunk, seed: running)
                if keep { payload.append(contentsOf: chunk) }
            }
            offset += n
        }
        guard running == crc else { return bad("crc mismatch") }
        return .success(payload)
    }

    // MARK: Close

    /// Fsyncs pending writes (unless `.never`), closes the files and, when `open(directory:)` took it, releases the
    /// directory lock. Idempotent; later calls other than `close()` throw `.closed`.
    /// - Throws: `.failed` when the final fsync fails (the files are closed anyway).
    public func close() throws {
        guard !isClosed else { return }
        isClosed = true
        var syncError: Error?
        if failure == nil, unsyncedBytes > 0, options.fsync != .never {
            do { try syncNow() } catch { syncError = error }
        }
        if activeFD >= 0 { Glibc.close(activeFD) }
        activeFD = -1
        if dirFD >= 0 { Glibc.close(dirFD) }
        dirFD = -1
        if ownsDataDirectory { dataDirectory.close() }
        if let syncError { throw syncError }
    }
}

extension Result where Failure == DurableLog.SnapshotProblem {
    var failureReason: String? {
        if case .failure(let p) = self { return p.reason }
        return nil
    }
}

/// The log's instruments in a node's `Metrics` (generic names: one log per `Metrics`).
struct LogMetrics {
    let records: Counter
    let bytes: Counter
    let fsyncs: Counter
    let fsyncSeconds: Histogram
    let snapshots: Counter
    let snapshotsCorrupt: Counter
    let segmentsDeleted: Counter
    let segments: Gauge

    init(_ m: Metrics) {
        records = m.counter("log_appended_records_total", help: "Records appended to the durable log")
        bytes = m.counter("log_appended_bytes_total", help: "Bytes appended to the durable log (headers included)")
        fsyncs = m.counter("log_fsyncs_total", help: "fdatasync calls on the durable log")
        fsyncSeconds = m.histogram("log_fsync_seconds", help: "Duration of one durable-log fdatasync")
        snapshots = m.counter("log_snapshots_written_total", help: "Snapshots written")
        snapshotsCorrupt = m.counter("log_snapshots_corrupt_total", help: "Snapshot files found damaged and set aside")
        segmentsDeleted = m.counter("log_segments_deleted_total", help: "Segments deleted by compaction")
        segments = m.gauge("log_segments", help: "Segment files of the durable log")
    }
}
