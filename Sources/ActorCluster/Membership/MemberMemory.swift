import Foundation
import Glibc
import Synchronization

/// The last member set this node's cluster agreed on (keep-majority, `Membership.Quorum`), kept in a file of the
/// node's data directory so that a restart remembers it: a node restarted after a power loss waits for a majority
/// of those addresses before it forms a cluster (`Membership.Machine.remembered`), instead of forming one alone and
/// taking over streams it holds no replica of.
///
/// The file is JSON, `{"version": 1, "agreed": ["HOST:PORT", …]}`, written whole to `FILE.tmp`, fsynced, renamed
/// over `FILE`, and the directory fsynced — so after a crash it is the old set or the new one, never a torn one.
/// It is written (on the membership's event-loop thread) whenever this node holds quorum and the agreed set's
/// addresses changed: joins, downs and leaves, rare events.
///
/// Before that, the file marks contact: `{"version": 1, "agreed": []}` is written (`recordContact`) the first time
/// this node, still joining, completes a handshake with another node — before any frame of its own reaches that
/// node (the transport reports an association before it flushes). From then on another cluster may have admitted
/// it, so a restart on this directory must not form a cluster of its own (`formsNoCluster`): a newcomer killed in
/// its join window and restarted first after a power loss formed a cluster of one, handed out case numbers from 1
/// again, and the old members merged into it (breaker, 2026-12-02). A node that never talked to another (a seed
/// started alone, a start whose listen port was taken) writes nothing and still forms a new cluster.
public final class MemberMemory: Sendable {
    /// The file's path.
    public let path: String
    /// The addresses last written, or read at open, sorted (empty: no file, or `forget` was asked and nothing
    /// was agreed since). A node's later incarnation (it rejoins after the cluster downed it) starts from these.
    public var remembered: [NodeAddress] { saved.withLock { $0 } }
    private let saved: Mutex<[NodeAddress]>
    /// The file exists (a contact mark or an agreed set), or `forget` was asked: `recordContact` writes nothing.
    private let contactKept: Mutex<Bool>
    /// The node forms no cluster and joins only a running one (`Membership.Machine.formsNoCluster`): no agreed set
    /// is remembered (and `forget` was not asked) while the file marks contact with a cluster, or the data
    /// directory holds a cluster's state without a file.
    public let formsNoCluster: Bool
    /// The operator's `--force-new-cluster` (`forget`): this node founds a cluster if no running one answers, whatever
    /// its place among the seeds (`Membership.Machine`'s `forceNewCluster`).
    public let forcedNewCluster: Bool
    /// What the file held at open.
    public enum Found: Sendable, Equatable {
        /// No file (or `forget` was asked).
        case absent
        /// The contact mark (`recordContact`): no agreed set.
        case contact
        /// An agreed set.
        case agreed
    }
    /// What the file held at open (for the log).
    public let foundAs: Found

    /// What the file could not be read as.
    public struct Unreadable: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    private struct File: Codable {
        var version: Int
        var agreed: [String]
    }

    /// Opens (reads) the file at `path`; a missing file remembers nothing.
    ///
    /// - Parameters:
    ///   - forget: ignore the file, readable or not (the operator's `--force-new-cluster`: most of the
    ///     old cluster is gone for good); it is overwritten once this node agrees on a new set.
    ///   - holdsState: the data directory holds state a cluster gave this node (replicas): with no file, it
    ///     must not form a cluster of its own (`formsNoCluster`).
    /// - Throws: `Unreadable` when the file exists but is not a member file of this version (the node must not
    ///   guess: an operator removes it, or starts with `forget`).
    public init(path: String, forget: Bool = false, holdsState: Bool = false) throws {
        self.path = path
        var addresses: [NodeAddress] = []
        var contact = false
        // lstat, not `fileExists`: a dangling symlink is an unreadable file, not a missing one.
        var st = stat()
        if !forget, lstat(path, &st) == 0 {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw Unreadable(path: path, reason: "cannot read (\(error.localizedDescription))")
            }
            let file: File
            do {
                file = try JSONDecoder().decode(File.self, from: data)
            } catch {
                throw Unreadable(path: path, reason: "not a member file (\(error))")
            }
            guard file.version == 1 else { throw Unreadable(path: path, reason: "version \(file.version), expected 1") }
            guard file.agreed.count <= 4096 else { throw Unreadable(path: path, reason: "\(file.agreed.count) addresses, at most 4096") }
            // An agreed set is written only with quorum, so never empty (this node's own address is in it): no
            // addresses is the contact mark (`recordContact`).
            contact = file.agreed.isEmpty
            for text in file.agreed {
                guard let address = NodeAddress(parsing: text) else {
                    throw Unreadable(path: path, reason: "\"\(text)\" is not HOST:PORT")
                }
                addresses.append(address)
            }
        }
        saved = Mutex(forget ? [] : Array(Set(addresses)).sorted())
        contactKept = Mutex(forget || contact || !addresses.isEmpty)
        formsNoCluster = !forget && addresses.isEmpty && (holdsState || contact)
        forcedNewCluster = forget
        foundAs = contact ? .contact : addresses.isEmpty ? .absent : .agreed
    }

    /// Marks, durably, that this node (still joining) is in contact with another node: from now on a cluster may
    /// list it, and a restart on this data directory joins only a running cluster (`formsNoCluster`). Writes
    /// `{"version": 1, "agreed": []}` when no file exists and `forget` was not asked; nothing otherwise. Returns
    /// whether it wrote.
    ///
    /// - Throws: `DurabilityError.io` naming the failed call; nothing is marked then (a later contact retries).
    @discardableResult
    public func recordContact() throws -> Bool {
        guard !contactKept.withLock({ $0 }), saved.withLock({ $0.isEmpty }) else { return false }
        try write([])
        contactKept.withLock { $0 = true }
        return true
    }

    /// Writes `addresses` as the agreed set unless they are what the file already holds. Returns whether it
    /// wrote.
    ///
    /// - Throws: `DurabilityError.io` naming the failed call (disk full, …); the file then still holds the
    ///   previous set.
    @discardableResult
    public func save(_ addresses: [NodeAddress]) throws -> Bool {
        let sorted = Array(Set(addresses)).sorted()
        guard saved.withLock({ $0 }) != sorted else { return false }
        try write(sorted)
        saved.withLock { $0 = sorted }
        contactKept.withLock { $0 = true }
        return true
    }

    /// Replaces the file with `agreed` durably (temporary file, fsync, rename, directory fsync).
    private func write(_ agreed: [NodeAddress]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array(try encoder.encode(File(version: 1, agreed: agreed.map(\.description)))) + [0x0A]
        try LogFiles.replaceFile(path, via: path + ".tmp", with: [bytes], sync: true)
        let directory = (path as NSString).deletingLastPathComponent
        let dirFD = try LogFiles.openFile(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(dirFD) }
        try LogFiles.syncDirectory(dirFD, path: directory)
    }
}
