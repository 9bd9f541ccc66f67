import Foundation
import Glibc
import Synchronization

/// A node's data directory, held exclusively: `open` takes a non-blocking exclusive `flock(2)` on `<path>/LOCK` and
/// writes this process's pid into it, so a second holder (another process, or a second `open` in this process —
/// `flock` locks belong to the open file description) is refused instead of corrupting the files. The kernel drops
/// the lock when the process dies, so a crashed holder never leaves the directory locked.
public final class DataDirectory: Sendable {
    /// The directory, as given to `open`.
    public let path: String
    /// The lock file's descriptor, -1 once closed.
    private let lockFD: Mutex<Int32>

    private init(path: String, lockFD: Int32) {
        self.path = path
        self.lockFD = Mutex(lockFD)
    }

    /// Creates `path` (and its parents) if missing and locks it.
    /// - Throws: `DurabilityError.directoryLocked(path:holderPID:)` when another open holds the lock;
    ///   `DurabilityError.io` when the directory or lock file cannot be created.
    public static func open(_ path: String) throws -> DataDirectory {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw DurabilityError.io(path: path, operation: "mkdir", errno: errno == 0 ? EIO : errno)
        }
        let lockPath = path + "/LOCK"
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DurabilityError.io(path: lockPath, operation: "open", errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            let holder = readPID(fd)
            Glibc.close(fd)
            if e == EWOULDBLOCK { throw DurabilityError.directoryLocked(path: path, holderPID: holder) }
            throw DurabilityError.io(path: lockPath, operation: "flock", errno: e)
        }
        let pid = Array("\(getpid())\n".utf8)
        // The pid is informational (for the error above); failing to write it does not fail the open.
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        return DataDirectory(path: path, lockFD: fd)
    }

    /// The pid in the lock file (at most 32 bytes read), nil when missing or unreadable.
    private static func readPID(_ fd: Int32) -> Int32? {
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }

    /// True until `close()`.
    public var isOpen: Bool { lockFD.withLock { $0 >= 0 } }

    /// Releases the lock (the LOCK file stays). Idempotent.
    public func close() {
        lockFD.withLock { fd in
            guard fd >= 0 else { return }
            flock(fd, LOCK_UN)
            Glibc.close(fd)
            fd = -1
        }
    }

    deinit { close() }
}
