/// Quorum replication of append-only streams (one stream per singleton that must not lose its state, e.g. an
/// office's event log): an owner appends entries; each entry is durable on `W` of the stream's `R` replicas
/// before the owner answers; an owner that takes over first reads the stream from a quorum of replicas and
/// only then serves; a replica refuses an owner whose ballot is older than one it promised (fencing).
///
/// The protocol is the log replication of Raft (Ongaro and Ousterhout, "In Search of an Understandable
/// Consensus Algorithm", USENIX ATC 2014, §5.3–§5.4: log matching, the commit rule for entries of the current
/// term, an up-to-date log wins) with the leader chosen by placement instead of an election, and the election
/// replaced by the prepare phase of Paxos (Lamport, "Paxos Made Simple", 2001, §2.2): the owner's ballot
/// (= placement epoch, `Ballot`) must be promised by a majority of replicas before it writes.
///
/// Pure parts (`ReplicaLog`, `ReplicationOwner`) take inputs and return actions and are tested without
/// sockets; `ReplicaStore` (persistence), `Replicator` (the per-node service) and `ReplicatedStream` (the
/// owner's shell) do the I/O.
public enum Replication {}

extension Replication {
    /// An owner's epoch for one stream: a round number, ordered first, then the owner's identity (two owners
    /// never share a ballot). A replica that promised ballot `b` refuses every message with a lower ballot.
    public struct Ballot: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
        public var round: UInt64
        public var node: NodeIdentity

        public init(round: UInt64, node: NodeIdentity) {
            self.round = round
            self.node = node
        }

        /// The highest round an owner uses or a replica accepts (2⁶²): rounds grow by one per takeover, so this is
        /// never reached honestly, and arithmetic on rounds cannot overflow.
        public static let maxRound: UInt64 = 1 << 62

        /// Lower than every real ballot (round 0 is never used by an owner).
        public static let zero = Ballot(round: 0, node: NodeIdentity(address: NodeAddress(host: "", port: 0), uid: 0))

        public static func < (a: Ballot, b: Ballot) -> Bool { (a.round, a.node) < (b.round, b.node) }

        public var description: String { "\(round)@\(node)" }
    }

    /// One entry of a stream: its position (1-based, gap-free), the ballot of the owner that wrote it, and the
    /// application's bytes (empty: a barrier an owner writes when it takes over, or a change of the replica
    /// set; applications never see them).
    public struct Entry: Codable, Sendable, Hashable {
        public var index: UInt64
        public var ballot: Ballot
        public var payload: [UInt8]
        /// On barriers and replica-set changes: the addresses of the replica set the owner writes to from here
        /// on (the stream's configuration). A recovering owner needs promises from a read quorum of the latest
        /// one any replica reports, so that a node that restarts alone cannot take over with a stale log.
        public var replicaSet: [NodeAddress]?

        public init(index: UInt64, ballot: Ballot, payload: [UInt8], replicaSet: [NodeAddress]? = nil) {
            self.index = index
            self.ballot = ballot
            self.payload = payload
            self.replicaSet = replicaSet
        }

        /// True for an owner's takeover barrier.
        public var isBarrier: Bool { payload.isEmpty }
    }

    /// A replica set recorded in a stream: the addresses, and the position of the entry that recorded them
    /// (later positions win).
    public struct Config: Codable, Sendable, Hashable {
        public var members: [NodeAddress]
        public var ballot: Ballot
        public var index: UInt64

        public init(members: [NodeAddress], ballot: Ballot, index: UInt64) {
            self.members = members
            self.ballot = ballot
            self.index = index
        }

        /// Position order: ballot, then index.
        public func isNewer(than other: Config?) -> Bool {
            guard let other else { return true }
            return (ballot, index) > (other.ballot, other.index)
        }
    }

    /// A stream's snapshot (Raft §7, log compaction): the application's state after entries 1 … `index`, as
    /// opaque bytes the application made (the replicas never interpret them). Entries through `index` are
    /// dropped once a replica holds the snapshot; a replica or a recovering owner that needs them is sent the
    /// snapshot instead (in pages of at most `Settings.maxBatchBytes`, like Raft's InstallSnapshot), then the
    /// entries after it.
    public struct SnapshotInfo: Codable, Sendable, Hashable, CustomStringConvertible {
        /// The last entry the snapshot covers (Raft's "last included index"); ≥ 1.
        public var index: UInt64
        /// That entry's ballot (Raft's "last included term"): a log holding `index` with this ballot agrees with
        /// the snapshot (Raft §5.3, Log Matching).
        public var ballot: Ballot
        /// The latest replica set recorded at or before `index` (`Entry.replicaSet`), nil when none.
        public var config: Config?
        /// Length of the snapshot's bytes (≤ `Settings.maxSnapshotBytes`).
        public var size: Int
        /// CRC-32C (Castagnoli) of the bytes: a replica installs a snapshot only when its pages add up to it.
        public var checksum: UInt32

        public init(index: UInt64, ballot: Ballot, config: Config?, size: Int, checksum: UInt32) {
            self.index = index
            self.ballot = ballot
            self.config = config
            self.size = size
            self.checksum = checksum
        }

        public var description: String { "snapshot through \(index)@\(ballot.round) (\(size) bytes)" }
    }

    /// Owner → replica.
    public enum Request: Codable, Sendable, Hashable {
        /// "Promise to refuse ballots below `ballot`, and tell me how far your log goes" (Paxos phase 1a).
        case prepare(stream: String, ballot: Ballot)
        /// Entries after `after` (at most `maxBytes` of payload, at least one entry when there is one).
        case fetch(stream: String, ballot: Ballot, after: UInt64, maxBytes: Int)
        /// Raft AppendEntries: `entries` follow `prevIndex`, whose entry has ballot `prevBallot`
        /// (`prevIndex` 0: the start); `commitIndex` is how far the owner knows entries are committed.
        case append(stream: String, ballot: Ballot, prevIndex: UInt64, prevBallot: Ballot, entries: [Entry],
                    commitIndex: UInt64)
        /// Raft §7 InstallSnapshot: `chunk` is the snapshot's bytes from `offset` (pages in order, from 0); the
        /// page that completes `info.size` installs it (the replica keeps its entries after `info.index` when it
        /// holds `info.index` with `info.ballot`, else drops its whole log).
        case installSnapshot(stream: String, ballot: Ballot, info: SnapshotInfo, offset: Int, chunk: [UInt8])
        /// A page of the replica's snapshot through `index`: at most `maxBytes` from `offset` (a recovering owner
        /// reads it before the entries after it).
        case fetchSnapshot(stream: String, ballot: Ballot, index: UInt64, offset: Int, maxBytes: Int)
        /// The stream directory: "the stream exists and its replica set `config` is committed" — sent by an owner
        /// (serving, or recovering with the set the promises name) to every member in its view (replica or not, later
        /// joiners too) once per set. A member keeps
        /// the newest it is told (`ReplicaLog.recorded`, journaled) and names it in its promises, so that a
        /// recovering owner whose own replicas hold nothing of the stream waits for a read quorum of that set
        /// instead of taking the stream for new. Answered `recorded`.
        case record(stream: String, ballot: Ballot, config: Config)

        public var stream: String {
            switch self {
            case .prepare(let s, _), .fetch(let s, _, _, _), .append(let s, _, _, _, _, _),
                 .installSnapshot(let s, _, _, _, _), .fetchSnapshot(let s, _, _, _, _), .record(let s, _, _): s
            }
        }

        public var ballot: Ballot {
            switch self {
            case .prepare(_, let b), .fetch(_, let b, _, _), .append(_, let b, _, _, _, _),
                 .installSnapshot(_, let b, _, _, _), .fetchSnapshot(_, let b, _, _, _), .record(_, let b, _): b
            }
        }
    }

    /// Replica → owner.
    public enum Reply: Codable, Sendable, Hashable {
        /// The promise (Paxos phase 1b) with the replica's log position: last index, the ballot of its last
        /// entry (`Ballot.zero` when empty) and how far it knows entries are committed.
        /// `config`: the latest replica set recorded in the replica's log (`Entry.replicaSet`) and where it is.
        /// `previousConfig`: while the replica does not know `config` committed (its index above `commitIndex`),
        /// the set recorded before it (an earlier entry or the snapshot's) — entries may have been committed by a
        /// quorum of that set alone, so a recovering owner needs a read quorum of it too (Raft §6: while a new
        /// configuration is not committed, decisions need majorities of the old and the new); nil otherwise.
        /// `directoryComplete`: this member's stream directory covers every stream the cluster had when it joined
        /// (`DirectorySync`); a member that joined a running cluster and has not yet read the directory from a
        /// majority answers false, and a recovering owner does not count its silence as "no such stream".
        case promised(lastIndex: UInt64, lastBallot: Ballot, commitIndex: UInt64, config: Config? = nil,
                      previousConfig: Config? = nil, directoryComplete: Bool = true)
        /// A page of entries in index order (empty: nothing after `after`).
        case entries([Entry])
        /// The request is malformed (a round above `Ballot.maxRound`, entries that do not follow `prevIndex` one by
        /// one, an entry with a ballot above the request's): nothing changed.
        case refused(reason: String)
        /// The entries are durable here; the log matches the owner's through `matchIndex`.
        case accepted(matchIndex: UInt64)
        /// The log does not hold `prevIndex` with `prevBallot`: resend from `commitIndex + 1` (committed entries
        /// are the same on every replica, Raft §5.3 Log Matching) or from `lastIndex + 1` if that is lower.
        case mismatch(lastIndex: UInt64, commitIndex: UInt64)
        /// Fenced: the replica promised `promised`, higher than the request's ballot.
        case rejected(promised: Ballot)
        /// To a fetch: the entries asked for are compacted into the replica's snapshot `info`; read it with
        /// `fetchSnapshot`, then fetch after `info.index`.
        case compacted(SnapshotInfo)
        /// To `fetchSnapshot`: `bytes` of snapshot `info` from `offset` (the snapshot asked for is gone when
        /// `info.index` differs: start again from 0 with this one).
        case snapshotPage(info: SnapshotInfo, offset: Int, bytes: [UInt8])
        /// To `installSnapshot`: the replica holds the snapshot's first `received` bytes (the next page must start
        /// there); `installed`: the whole snapshot is durable and the log matches the owner's through `info.index`.
        case snapshotReceived(received: Int, installed: Bool)
        /// To `record`: the member durably knows `config` (or a newer set) as the stream's committed replica set.
        case recorded(Config)
    }

    /// One stream in a member's stream directory: the newest replica set it knows committed (a recorded set, or
    /// one in its own log at or below its commit index, or its snapshot's).
    public struct DirectoryEntry: Codable, Sendable, Hashable {
        public var stream: String
        public var config: Config

        public init(stream: String, config: Config) {
            self.stream = stream
            self.config = config
        }
    }

    /// A page of a member's stream directory, in stream-name order (`Replicator.directory(after:)`).
    public struct DirectoryPage: Codable, Sendable, Hashable {
        /// At most `ReplicaStore.directoryPageEntries` entries, names above the `after` asked for.
        public var entries: [DirectoryEntry]
        /// The name to ask after for the next page; nil on the last page.
        public var next: String?
        /// Whether the answering member's directory is complete (`ReplicaStore.directoryComplete`).
        public var complete: Bool

        public init(entries: [DirectoryEntry], next: String?, complete: Bool) {
            self.entries = entries
            self.next = next
            self.complete = complete
        }
    }

    /// Tunables, with LAN defaults.
    public struct Settings: Sendable, Hashable, Codable {
        /// Replicas per stream (`R`); every eligible node when fewer.
        public var replicas: Int = 3
        /// Replicas that must hold an entry durably before it is committed (`W`); nil: a majority of `R`.
        public var writeQuorum: Int?
        /// How often an owner sends an (empty) append to each replica that has nothing in flight, carrying
        /// the commit index, catching up replicas that lag and telling a paused owner it was fenced, in ms.
        public var heartbeatMs: Int = 500
        /// A request without a reply after this long is sent again, in ms.
        public var requestTimeoutMs: Int = 2_000
        /// How long a recovering owner waits for the replicas outside the quorum to answer its prepare
        /// before it decides (it waits less when all have answered), in ms.
        public var recoveryGraceMs: Int = 300
        /// Payload bytes per fetch or append message (the frame limit bounds it too).
        public var maxBatchBytes: Int = 1 << 20
        /// An append not committed within this long fails with `Failure.appendTimedOut` (it may still be
        /// committed later), in ms: below callers' call timeouts, so they get an answer they can act on.
        public var appendTimeoutMs: Int = 3_000
        /// The largest snapshot a replica accepts or an owner fetches, in bytes (Raft §7).
        public var maxSnapshotBytes: Int = 4 << 30

        public init() {}

        /// `W` for a replica set of `count` members: the setting, else a majority; never above `count`.
        public func quorum(of count: Int) -> Int {
            let n = max(1, count)
            return min(n, max(1, writeQuorum ?? (n / 2 + 1)))
        }

        /// Promises a recovering owner needs from a set of `count` replicas: `count - W + 1`, so that every
        /// write quorum of an earlier owner and this read quorum share a replica (the acknowledged entries are
        /// seen, and that owner can no longer gather `W` acknowledgements: it is fenced).
        public func readQuorum(of count: Int) -> Int { max(1, max(1, count) - quorum(of: count) + 1) }
    }

    /// Why an append or a recovery failed.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// A replica promised a higher ballot: another owner took the stream over. Nothing more is written.
        case fenced(stream: String, by: Ballot)
        /// The owner is not serving (still recovering, or stopped).
        case notServing(stream: String, phase: String)
        /// The owner stopped (the stream moved away) before the entry was committed; it may or may not be.
        case stopped(stream: String)
        /// No write quorum acknowledged the entry within `appendTimeoutMs`; it may still be committed (an owner
        /// that gets this should recover from the replicas before it serves again).
        case appendTimedOut(stream: String, index: UInt64, afterMs: Int)
        /// Too many of the stream's replicas refuse to store anything (`StoreError.isStorageRefusal`: a full disk,
        /// a failed journal) for a write quorum: appends fail at once instead of waiting for `appendTimedOut`.
        /// `reasons`: each refusing replica's address and error.
        case replicasRefused(stream: String, reasons: [String])

        public var description: String {
            switch self {
            case .fenced(let s, let b): "stream \(s): fenced by a newer owner (ballot \(b))"
            case .notServing(let s, let phase): "stream \(s): owner is not serving (\(phase))"
            case .stopped(let s): "stream \(s): owner stopped before the entry was committed"
            case .appendTimedOut(let s, let i, let ms): "stream \(s): entry \(i) not acknowledged by a write quorum within \(ms) ms"
            case .replicasRefused(let s, let reasons): "stream \(s): too few replicas can store it (\(reasons.joined(separator: "; ")))"
            }
        }
    }
}
