import Glibc

/// Errors thrown by `DataDirectory`, `DurableLog` and `GroupCommitLog`. Paths are as given to `open`, joined with
/// the file name.
public enum DurabilityError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another open holds the exclusive `flock` on `<path>/LOCK` (another process, or another open in this one).
    /// `holderPID` is the pid written in the lock file, when it could be read.
    case directoryLocked(path: String, holderPID: Int32?)
    /// A system call failed: `operation` (e.g. "fdatasync"), the file, and `errno`.
    case io(path: String, operation: String, errno: Int32)
    /// A record that is not in the last segment failed validation (`offset` in bytes from the start of the
    /// segment): acknowledged data in the middle of the log is damaged, and the log refuses to open rather than
    /// drop it. Also thrown when a segment is missing (a gap in the sequences) or a record read later fails its CRC.
    case corrupt(segment: String, offset: Int, reason: String)
    /// A payload of `bytes` bytes is above `DurableLog.Options.maxRecordBytes`; nothing of the batch was written.
    case recordTooLarge(bytes: Int, limit: Int)
    /// A snapshot of `bytes` bytes is above `DurableLog.Options.maxSnapshotBytes`; nothing was written.
    case snapshotTooLarge(bytes: Int, limit: Int)
    /// `GroupCommitLog`: `pendingBytes` are already waiting to be written and the payload would pass
    /// `maxPendingBytes` (`limit`). Retry later.
    case overloaded(pendingBytes: Int, limit: Int)
    /// Records below `firstAvailable` were compacted away (they are in a snapshot); `requested` was asked for.
    case compacted(requested: UInt64, firstAvailable: UInt64)
    /// The argument cannot be applied (an empty batch, a snapshot above the last sequence, ...).
    case invalidArgument(String)
    /// An earlier write or fsync failed, so what the kernel holds for the file is unknown (a failed fsync may drop
    /// dirty pages without a second error). The log refuses further writes; reopen it to recover from disk.
    case failed(reason: String)
    /// The log (or directory) was closed.
    case closed

    public var description: String {
        switch self {
        case .directoryLocked(let path, let pid):
            "data directory \(path) is locked by \(pid.map { "process \($0)" } ?? "another process")"
        case .io(let path, let op, let errno):
            "\(op) failed on \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        case .corrupt(let segment, let offset, let reason): "corrupt log \(segment) at offset \(offset): \(reason)"
        case .recordTooLarge(let bytes, let limit): "record of \(bytes) bytes above maximum \(limit)"
        case .snapshotTooLarge(let bytes, let limit): "snapshot of \(bytes) bytes above maximum \(limit)"
        case .overloaded(let pending, let limit): "log overloaded: \(pending) bytes pending (limit \(limit))"
        case .compacted(let requested, let first):
            "sequence \(requested) was compacted into a snapshot; first on disk is \(first)"
        case .invalidArgument(let reason): "invalid argument: \(reason)"
        case .failed(let reason): "log failed after an I/O error, reopen it: \(reason)"
        case .closed: "log closed"
        }
    }
}
