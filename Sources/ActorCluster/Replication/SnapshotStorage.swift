import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Replication {
    /// Where a replica keeps the bytes of one stream's snapshot (Raft §7): the snapshot it installed, and the one
    /// whose InstallSnapshot pages are arriving. `ReplicaLog` (pure) holds only the `SnapshotInfo`s and calls this
    /// for the bytes; `MemorySnapshotStorage` is the in-memory one (tests, stores without a journal),
    /// `FileSnapshotStorage` the one of a store with a data directory.
    public protocol SnapshotStorage: Sendable {
        /// At most `count` bytes of the installed snapshot `info` from `offset` (fewer at its end).
        ///
        /// - Throws: `SnapshotStorageError` (missing or damaged file, I/O).
        func read(_ info: SnapshotInfo, offset: Int, count: Int) throws -> [UInt8]
        /// Stores a page of the incoming snapshot `info` at `offset` (pages arrive in order; offset 0 drops any
        /// earlier pending bytes first).
        ///
        /// - Throws: `SnapshotStorageError` (I/O).
        mutating func writePending(_ info: SnapshotInfo, offset: Int, bytes: [UInt8]) throws
        /// Makes the complete pending snapshot `info` the installed one, durable when it returns. The snapshot it
        /// replaces stays readable until `prune(keeping:)` (its `SnapshotInfo` may still be the durable one).
        ///
        /// - Throws: `SnapshotStorageError` (I/O).
        mutating func install(_ info: SnapshotInfo) throws
        /// Forgets the pending snapshot.
        mutating func dropPending()
        /// Deletes every snapshot but `info` (nil: all of them) and the pending one.
        mutating func prune(keeping info: SnapshotInfo?)
    }

    /// Why snapshot bytes could not be read or written.
    public struct SnapshotStorageError: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { "snapshot storage: \(reason)" }
    }

    /// Snapshot bytes in memory (a value: a copy of the log copies them).
    public struct MemorySnapshotStorage: SnapshotStorage, Hashable {
        public private(set) var installed: [UInt8] = []
        public private(set) var installedIndex: UInt64 = 0
        public private(set) var pending: [UInt8] = []

        public init() {}

        public func read(_ info: SnapshotInfo, offset: Int, count: Int) throws -> [UInt8] {
            guard info.index == installedIndex, installed.count == info.size else {
                throw SnapshotStorageError("snapshot through \(info.index) is not held")
            }
            let from = min(max(0, offset), installed.count)
            return Array(installed[from..<min(installed.count, from + max(0, count))])
        }

        public mutating func writePending(_ info: SnapshotInfo, offset: Int, bytes: [UInt8]) throws {
            if offset == 0 {
                pending = []
                pending.reserveCapacity(info.size)
            }
            guard offset == pending.count else { throw SnapshotStorageError("page at \(offset), holds \(pending.count)") }
            pending += bytes
        }

        public mutating func install(_ info: SnapshotInfo) throws {
            guard pending.count == info.size else { throw SnapshotStorageError("pending snapshot incomplete") }
            installed = pending
            installedIndex = info.index
            pending = []
        }

        public mutating func dropPending() { pending = [] }

        public mutating func prune(keeping info: SnapshotInfo?) {
            pending = []
            if info?.index != installedIndex { installed = []; installedIndex = 0 }
        }
    }

    /// One stream's snapshots in files of a directory: `<hex of the stream name>.<index>.snap` for each installed
    /// snapshot, `<hex>.partial` for the one arriving. Pages are appended to the partial file; `install` fsyncs
    /// it, renames it to its index's name and fsyncs the directory; reads are `pread`s. Nothing is held in memory
    /// but the path.
    public final class FileSnapshotStorage: SnapshotStorage, @unchecked Sendable {
        public let directory: String
        public let stream: String
        private let prefix: String

        public init(directory: String, stream: String) {
            self.directory = directory
            self.stream = stream
            prefix = Self.prefix(of: stream)
        }

        static func prefix(of stream: String) -> String {
            stream.utf8.map { String(format: "%02x", $0) }.joined()
        }

        public func path(of index: UInt64) -> String { "\(directory)/\(prefix).\(index).snap" }
        private var partialPath: String { "\(directory)/\(prefix).partial" }

        /// Size of the installed file for `info`, or nil when it is missing.
        public func fileSize(_ info: SnapshotInfo) -> Int? {
            var st = stat()
            guard stat(path(of: info.index), &st) == 0 else { return nil }
            return Int(st.st_size)
        }

        public func read(_ info: SnapshotInfo, offset: Int, count: Int) throws -> [UInt8] {
            let fd = open(path(of: info.index), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SnapshotStorageError("open \(path(of: info.index)): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let from = min(max(0, offset), info.size)
            let n = min(max(0, count), info.size - from)
            var out = [UInt8](repeating: 0, count: n)
            var done = 0
            // Bounded: each pread advances or the loop ends.
            while done < n {
                let r = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, n - done, off_t(from + done)) }
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { throw SnapshotStorageError("\(path(of: info.index)) is shorter than its \(info.size) bytes") }
                done += r
            }
            return out
        }

        public func writePending(_ info: SnapshotInfo, offset: Int, bytes: [UInt8]) throws {
            let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (offset == 0 ? O_TRUNC : 0)
            let fd = open(partialPath, flags, 0o644)
            guard fd >= 0 else { throw SnapshotStorageError("open \(partialPath): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var done = 0
            while done < bytes.count {
                let r = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
                if r < 0 && errno == EINTR { continue }
                guard r > 0 else { throw SnapshotStorageError("write \(partialPath): \(String(cString: strerror(errno)))") }
                done += r
            }
        }

        public func install(_ info: SnapshotInfo) throws {
            let fd = open(partialPath, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { throw SnapshotStorageError("open \(partialPath): \(String(cString: strerror(errno)))") }
            guard ftruncate(fd, off_t(info.size)) == 0, fsync(fd) == 0 else {
                let why = String(cString: strerror(errno))
                close(fd)
                throw SnapshotStorageError("fsync \(partialPath): \(why)")
            }
            close(fd)
            guard rename(partialPath, path(of: info.index)) == 0 else {
                throw SnapshotStorageError("rename to \(path(of: info.index)): \(String(cString: strerror(errno)))")
            }
            let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dfd >= 0 { _ = fsync(dfd); close(dfd) }
        }

        public func dropPending() { unlink(partialPath) }

        public func prune(keeping info: SnapshotInfo?) {
            let keep = info.map { "\(prefix).\($0.index).snap" }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
            for name in names where name.hasPrefix(prefix + ".") && name != keep {
                let rest = name.dropFirst(prefix.count + 1)
                guard rest == "partial" || (rest.hasSuffix(".snap") && UInt64(rest.dropLast(5)) != nil) else { continue }
                unlink("\(directory)/\(name)")
            }
        }

        /// Writes a complete snapshot file for `info` from `bytes` pages at once (tools that build a data
        /// directory, e.g. `hotline bench recovery`): the same file `install` leaves.
        public func writeInstalled(_ info: SnapshotInfo, pages: (_ offset: Int) throws -> [UInt8]) throws {
            var offset = 0
            repeat {
                let page = try pages(offset)
                guard !page.isEmpty || info.size == 0 else { throw SnapshotStorageError("source ended at \(offset) of \(info.size)") }
                try writePending(info, offset: offset, bytes: page)
                offset += page.count
            } while offset < info.size
            try install(info)
        }
    }
}

extension Replication {
    /// An owner's snapshot as the application hands it to `ReplicatedStream.compact` (Raft §7): its size, its
    /// CRC-32C, and a reader of byte ranges — so a snapshot kept in a file is sent to replicas page by page and
    /// never held whole in memory.
    public protocol SnapshotSource: Sendable {
        /// Length in bytes.
        var size: Int { get }
        /// CRC-32C (Castagnoli) of the bytes.
        var checksum: UInt32 { get }
        /// At most `count` bytes from `offset` (fewer only at the end).
        ///
        /// - Throws: whatever reading the source throws (a damaged or missing file).
        func read(offset: Int, count: Int) throws -> [UInt8]
    }

    /// Where a recovering owner's shell puts the snapshot pages it fetches, in order, as they arrive (the
    /// application may parse them on the way: nothing is read twice). `begin` starts a snapshot afresh (earlier
    /// pages are dropped); `finish` is called once its `size` bytes have arrived and their CRC-32C matched.
    public protocol SnapshotSink: AnyObject, Sendable {
        /// - Throws: stops the recovery (the stream fails; its owner recovers again).
        func begin(_ info: SnapshotInfo) throws
        func append(_ bytes: [UInt8]) throws
        /// The complete snapshot, as the source the stream sends lagging replicas pages from from now on.
        func finish(_ info: SnapshotInfo) throws -> any SnapshotSource
    }

    /// Snapshot bytes in memory: a source, and a sink that collects pages (the default of a stream whose
    /// application gives no sink).
    public final class MemorySnapshot: SnapshotSource, SnapshotSink, @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [UInt8]
        private var sum: UInt32

        public init(_ bytes: [UInt8] = []) {
            storage = bytes
            sum = CRC32C.checksum(bytes)
        }

        public var bytes: [UInt8] { lock.withLock { storage } }
        public var size: Int { lock.withLock { storage.count } }
        public var checksum: UInt32 { lock.withLock { sum } }

        public func read(offset: Int, count: Int) throws -> [UInt8] {
            lock.withLock {
                let from = min(max(0, offset), storage.count)
                return Array(storage[from..<min(storage.count, from + max(0, count))])
            }
        }

        public func begin(_ info: SnapshotInfo) throws {
            lock.withLock { storage = []; storage.reserveCapacity(info.size); sum = 0 }
        }

        public func append(_ bytes: [UInt8]) throws {
            lock.withLock { storage += bytes; sum = CRC32C.checksum(bytes, seed: sum) }
        }

        public func finish(_ info: SnapshotInfo) throws -> any SnapshotSource { self }
    }
}
