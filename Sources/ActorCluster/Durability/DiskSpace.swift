import Glibc

/// Watches the free space of the file system that holds a directory, so a writer refuses new writes while
/// the space left is below a reserve instead of running into `ENOSPC` half-way through a write.
///
/// A write that fails with `ENOSPC` leaves a log's in-memory state ahead of its file (`DurableLog` cuts the
/// file back, but a replica that already applied the change in memory must then stop answering until it
/// restarts). Checking first turns a filling disk into a refusal of that one request, which clears by itself
/// once space is freed — the behaviour of etcd's `NOSPACE` alarm, per request rather than latched.
///
/// Free space is read with `statvfs(3)` (`f_bavail × f_frsize`: what an unprivileged writer may use) at most
/// every `refreshMs` ms, and sooner when the bytes admitted since the last reading could have used half of
/// the margin above the reserve. Between readings the estimate is lowered by every admitted write.
public struct DiskSpace: Sendable {
    /// A reading: bytes available to the writer and the file system's size, both in bytes.
    public struct Reading: Sendable, Equatable {
        public var availableBytes: Int
        public var totalBytes: Int
        public init(availableBytes: Int, totalBytes: Int) {
            self.availableBytes = availableBytes
            self.totalBytes = totalBytes
        }
    }

    /// The directory watched.
    public let path: String
    /// Bytes that must stay free: writes are refused below it. Default: 5 % of the file system, at least
    /// 1 MiB and at most 256 MiB (room for a snapshot's start and the journal's own bookkeeping).
    public let reserveBytes: Int
    /// Longest time between two readings, in ms.
    public let refreshMs: Int
    private let read: @Sendable (String) -> Reading?
    private var last: Reading?
    private var lastAt: ContinuousClock.Instant?
    private var admittedSinceReading = 0

    /// - Parameters:
    ///   - reserveBytes: bytes to keep free; nil for the default above (computed from the first reading).
    ///   - read: how to read the file system (tests inject one); nil = `statvfs`.
    public init(path: String, reserveBytes: Int? = nil, refreshMs: Int = 50,
                read: (@Sendable (String) -> Reading?)? = nil) {
        self.path = path
        self.refreshMs = refreshMs
        self.read = read ?? Self.statvfsReading
        let first = self.read(path)
        self.last = first
        self.lastAt = first == nil ? nil : .now
        if let reserveBytes {
            self.reserveBytes = reserveBytes
        } else {
            self.reserveBytes = min(256 << 20, max(1 << 20, (first?.totalBytes ?? 0) / 20))
        }
    }

    /// The latest estimate of available bytes (nil when the file system cannot be read).
    public var availableBytes: Int? { last.map { $0.availableBytes - admittedSinceReading } }

    /// Whether `bytes` more may be written: true while the available space after them stays at or above
    /// `reserveBytes`. Admitted bytes are subtracted from the estimate. A file system that cannot be read
    /// admits everything (the write itself will report the error).
    public mutating func admit(_ bytes: Int) -> Bool {
        let now = ContinuousClock.now
        let stale = lastAt.map { now - $0 >= .milliseconds(refreshMs) } ?? true
        let margin = (last?.availableBytes ?? 0) - reserveBytes
        if stale || admittedSinceReading + bytes > margin / 2 {
            if let r = read(path) {
                last = r
                lastAt = now
                admittedSinceReading = 0
            }
        }
        guard let last else { return true }
        guard last.availableBytes - admittedSinceReading - bytes >= reserveBytes else { return false }
        admittedSinceReading += bytes
        return true
    }

    /// `statvfs(path)`, or nil when it fails.
    @Sendable public static func statvfsReading(_ path: String) -> Reading? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        let unit = Int(s.f_frsize == 0 ? s.f_bsize : s.f_frsize)
        return Reading(availableBytes: Int(s.f_bavail) &* unit, totalBytes: Int(s.f_blocks) &* unit)
    }
}
