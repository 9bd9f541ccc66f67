import Foundation
import Glibc

/// File-level helpers of the durable log: names, whole-buffer writes, fsyncs and a bounded read-ahead reader.
/// Every helper throws `DurabilityError.io` naming the file and the failed call; none retries beyond `EINTR`.
enum LogFiles {
    /// `seg-<20-digit first sequence>.log`.
    static func segmentName(_ firstSequence: UInt64) -> String { "seg-\(digits20(firstSequence)).log" }
    /// `snap-<20-digit sequence>.snap`.
    static func snapshotName(_ sequence: UInt64) -> String { "snap-\(digits20(sequence)).snap" }

    static func digits20(_ v: UInt64) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 20 - s.count)) + s
    }

    /// The sequence in a name `<prefix><20 digits><suffix>`, nil for any other name.
    static func parse(_ name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.utf8.count == prefix.utf8.count + 20 + suffix.utf8.count
        else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(digits)
    }

    static func openFile(_ path: String, _ flags: Int32) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DurabilityError.io(path: path, operation: "open", errno: errno) }
        return fd
    }

    /// Writes all of `bytes` at `offset` (a loop over short writes and `EINTR`).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DurabilityError.io(path: path, operation: "pwrite", errno: errno)
            }
            if n == 0 { throw DurabilityError.io(path: path, operation: "pwrite", errno: EIO) }
            done += n
        }
    }

    /// Reads exactly `count` bytes at `offset` into `into` (a loop over short reads and `EINTR`); a file shorter
    /// than that is `EIO` (something truncated it under the log).
    static func readAll(_ fd: Int32, _ into: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < into.count {
            let n = pread(fd, into.baseAddress! + done, into.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DurabilityError.io(path: path, operation: "pread", errno: errno)
            }
            if n == 0 { throw DurabilityError.io(path: path, operation: "pread (file shorter than expected)", errno: EIO) }
            done += n
        }
    }

    static func fileSize(_ fd: Int32, path: String) throws -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DurabilityError.io(path: path, operation: "fstat", errno: errno) }
        return Int(st.st_size)
    }

    static func fdatasync(_ fd: Int32, path: String) throws {
        while Glibc.fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw DurabilityError.io(path: path, operation: "fdatasync", errno: errno)
        }
    }

    static func fsync(_ fd: Int32, path: String) throws {
        while Glibc.fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw DurabilityError.io(path: path, operation: "fsync", errno: errno)
        }
    }

    /// `fsync` on the directory itself, so a created, renamed or removed entry survives a crash.
    static func syncDirectory(_ dirFD: Int32, path: String) throws { try fsync(dirFD, path: path) }

    static func unlink(_ path: String) throws {
        if Glibc.unlink(path) != 0 && errno != ENOENT {
            throw DurabilityError.io(path: path, operation: "unlink", errno: errno)
        }
    }

    /// Replaces the file at `path` whole: writes `parts` one after another to `tmp` (created or truncated),
    /// fsyncs it when `sync`, closes it and renames it over `path` — so a crash leaves the old file or the new
    /// one, never a torn one (the caller fsyncs the directory to make the rename itself durable). On failure
    /// `tmp` is removed and `path` is untouched.
    static func replaceFile(_ path: String, via tmp: String, with parts: [[UInt8]], sync: Bool) throws {
        let fd = try openFile(tmp, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            var offset = 0
            for part in parts {
                try part.withUnsafeBytes { try writeAll(fd, $0, at: offset, path: tmp) }
                offset += part.count
            }
            if sync { try fsync(fd, path: tmp) }
            Glibc.close(fd)
        } catch {
            Glibc.close(fd)
            try? unlink(tmp)
            throw error
        }
        try rename(tmp, path)
    }

    static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw DurabilityError.io(path: from, operation: "rename to \(to)", errno: errno) }
    }

    static func bigEndianUInt32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(bigEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    static func bigEndianUInt64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        UInt64(bigEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }
}

/// Reads a file front to back through one read-ahead buffer of at most `max(chunkBytes, largest request)` bytes
/// (requests are bounded by the log's `maxRecordBytes` + header), so scanning a segment never holds it whole.
struct ReadAheadFile {
    let fd: Int32
    let path: String
    /// Bytes of the file considered (reads never go past it).
    let end: Int
    static let chunkBytes = 1 << 20
    private var buffer: [UInt8] = []
    private var bufferStart = 0

    init(fd: Int32, path: String, end: Int) {
        self.fd = fd
        self.path = path
        self.end = end
    }

    /// Calls `body` with the `count` bytes at `offset`; the caller guarantees `offset + count <= end`.
    mutating func withBytes<T>(at offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        if offset < bufferStart || offset + count > bufferStart + buffer.count {
            let length = min(max(count, Self.chunkBytes), end - offset)
            if buffer.count != length { buffer = [UInt8](repeating: 0, count: length) }
            let (fd, path) = (self.fd, self.path)
            try buffer.withUnsafeMutableBytes { try LogFiles.readAll(fd, $0, at: offset, path: path) }
            bufferStart = offset
        }
        return try buffer.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[(offset - bufferStart)..<(offset - bufferStart + count)]))
        }
    }
}
