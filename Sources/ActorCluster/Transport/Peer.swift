import Synchronization

/// Told, exactly once, that a frame accepted by `Transport.send` was dropped before it was handed to the kernel.
public typealias UndeliveredHandler = @Sendable (TransportError) -> Void

/// One encoded frame (header + payload) waiting to be written, tagged with the uid it was addressed to
/// (0 = any node at the address, e.g. frames sent before the uid was known).
struct OutFrame: Sendable {
    var bytes: [UInt8]
    var uid: UInt64
    /// Counted in the undelivered counters when dropped (every kind but heartbeats).
    var counted = true
    var onUndelivered: UndeliveredHandler?
}

/// Frames taken out of a peer's queues without being written: how many to count, whom to tell.
struct DroppedFrames: Sendable {
    var count = 0
    var handlers: [UndeliveredHandler] = []

    var isEmpty: Bool { count == 0 && handlers.isEmpty }

    mutating func add(counted: Bool, _ handler: UndeliveredHandler?) {
        if counted { count += 1 }
        if let handler { handlers.append(handler) }
    }

    mutating func add(_ f: OutFrame) { add(counted: f.counted, f.onUndelivered) }

    mutating func merge(_ o: DroppedFrames) {
        count += o.count
        handlers += o.handlers
    }
}

/// A frame inside the batch being written: undelivered until `partialOffset` reaches `end`.
struct PartialNote: Sendable {
    var end: Int
    var counted: Bool
    var onUndelivered: UndeliveredHandler?
}

/// FIFO of frames with O(1) amortised pop (head index + occasional compaction).
struct FrameQueue: Sendable {
    private var items: [OutFrame] = []
    private var head = 0

    var isEmpty: Bool { head >= items.count }
    var count: Int { items.count - head }
    var first: OutFrame? { head < items.count ? items[head] : nil }

    mutating func append(_ f: OutFrame) { items.append(f) }

    mutating func popFirst() -> OutFrame? {
        guard head < items.count else { return nil }
        let f = items[head]
        items[head].bytes = []
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return f
    }

    /// Empties the queue, noting every frame in `dropped`.
    mutating func removeAll(into dropped: inout DroppedFrames) {
        for i in head..<items.count { dropped.add(items[i]) }
        items.removeAll()
        head = 0
    }

    /// Empties the queue without noting anything.
    /// - Returns: the frames and bytes removed.
    mutating func removeAllSilently() -> (frames: Int, bytes: Int) {
        var bytes = 0
        for i in head..<items.count { bytes += items[i].bytes.count }
        let frames = count
        items.removeAll()
        head = 0
        return (frames, bytes)
    }

    /// Keeps frames for which `keep` is true; returns (bytes removed, uids of removed frames), noting removed
    /// frames in `dropped`.
    mutating func filter(into dropped: inout DroppedFrames, _ keep: (OutFrame) -> Bool) -> (bytes: Int, uids: Set<UInt64>) {
        var kept: [OutFrame] = []
        var removedBytes = 0
        var uids: Set<UInt64> = []
        for i in head..<items.count {
            if keep(items[i]) {
                kept.append(items[i])
            } else {
                removedBytes += items[i].bytes.count
                uids.insert(items[i].uid)
                dropped.add(items[i])
            }
        }
        items = kept
        head = 0
        return (removedBytes, uids)
    }
}

/// Node-wide sums over every peer entry of a transport, kept up to date by `PeerState`'s observers.
final class TransportBudgets: Sendable {
    /// Queued-but-unwritten outbound bytes over all peers (`hotline_outbound_queued_bytes`).
    let outboundBytes: Gauge
    /// Peers in `.dialing` (resolving, connecting or handshaking a dial of ours) (`hotline_dials_in_flight`).
    let dialsInFlight: Gauge

    init(_ m: Metrics) {
        outboundBytes = m.gauge("hotline_outbound_queued_bytes", help: "Queued-but-unwritten outbound bytes over all peers.")
        dialsInFlight = m.gauge("hotline_dials_in_flight", help: "Dials of this node in progress (resolve, connect, handshake).")
    }
}

/// What the lock-side actions of a transition produced, for the transport to carry out the rest (outside the lock).
struct PeerEffects: Sendable {
    var actions: [PeerLifecycle.Action] = []
    /// Frames dropped by `.dropQueued`.
    var dropped = DroppedFrames()
    /// Frames for another uid dropped by `.attach`, and those uids.
    var restarted = DroppedFrames()
    var restartedUIDs: Set<UInt64> = []
    /// Frames longer than the limit the peer announced (`peerMaxFrameBytes`), dropped by `.attach`.
    var tooLong: [(frame: OutFrame, length: Int)] = []
    var peerMaxFrameBytes: Int?
    /// `.flush` took the flusher role: the caller must flush.
    var flushNow = false

    var attached: Bool {
        actions.contains { if case .attach = $0 { true } else { false } }
    }
}

/// The connection an `.attach` makes the association's, and what comes with it.
struct Attachment: Sendable {
    var socket: SocketHandle
    /// The largest frame the peer reads, from its handshake.
    var peerMaxFrameBytes: Int?
    /// Written ahead of every queued frame (the acceptor's `handshakeAccept`).
    var firstFrame: [UInt8]?
}

/// Per-address state shared by sending threads and the event loop (guarded by `Peer.state`): the lifecycle
/// (`PeerLifecycle`) and the outbound queues.
///
/// Outbound bytes live here, not on a connection: frames queued before the handshake completes survive the
/// simultaneous-connect tie-break, whichever connection wins.
struct PeerState: Sendable {
    /// Node-wide totals this entry adds to (outbound bytes, dials in flight); nil in unit tests of the queues.
    var budgets: TransportBudgets?
    /// Where the address stands; changed only through `handle`.
    private(set) var life: PeerLifecycle
    /// The associated connection's socket; the flusher writes to it. nil unless associated.
    var socket: SocketHandle?
    var control = FrameQueue()
    var data = FrameQueue()
    /// Bytes in `control` + `data` + the unwritten rest of `partial` (every change also moves the node-wide sum).
    var queuedBytes = 0 {
        didSet { budgets?.outboundBytes.increment(by: queuedBytes - oldValue) }
    }
    /// Monotonic ns since which the queue has been at or above `stalledPeerBytes` (sampled at heartbeats).
    var stalledSinceNs: UInt64?
    /// Monotonic ns of the last write that moved bytes of the queue into the socket (nil: none yet).
    var lastWriteProgressNs: UInt64?
    /// Monotonic ns since which the queue has been non-empty (sampled at heartbeats; nil while empty).
    var queuedSinceNs: UInt64?
    /// The batch being written (coalesced frames), and how much of it went out.
    var partial: [UInt8] = []
    var partialOffset = 0
    /// Frames of `partial` not yet fully written (ascending `end`), so a drop can tell their senders.
    var partialNotes: [PartialNote] = []
    /// Someone (a sending thread or the loop) holds the flusher role: only it writes to `socket`.
    var flushing = false
    /// A call thread (`CallThread`) queued frames here and will take the flusher role when its batch is done;
    /// until then anyone else may take it (the I/O thread's heartbeats and membership frames never wait for it).
    var flushDeferred = false
    /// EPOLLOUT is in the socket's interest mask (the socket was full or the flusher ran out of budget).
    var outArmed = false
    /// The largest frame (length field, bytes) the associated peer reads, from its handshake; nil before one.
    var peerMaxFrameBytes: Int?
    /// Fault injection (`Transport.setBlockedPeers`): frames to this address are dropped instead of written.
    var faultBlocked = false

    init(config: PeerLifecycle.Config = .default) {
        life = PeerLifecycle(config: config)
    }

    var isAssociated: Bool { life.isAssociated }

    /// Feeds `event` to the lifecycle and carries out, here under the lock, the actions on the queues and the
    /// socket (`attaching` is the connection an `.attach` takes); keeps `hotline_dials_in_flight` in step.
    /// - Returns: every action (the caller carries out the others) and what the lock-side ones produced.
    mutating func handle(_ event: PeerLifecycle.Event, nowNs: UInt64, jitter: Double = Double.random(in: 0...1),
                         attaching: Attachment? = nil) -> PeerEffects {
        let wasDialing = life.isDialing
        var fx = PeerEffects()
        fx.actions = life.handle(event, nowNs: nowNs, jitter: jitter)
        if let budgets, wasDialing != life.isDialing { budgets.dialsInFlight.increment(by: life.isDialing ? 1 : -1) }
        for action in fx.actions {
            switch action {
            case .detach:
                socket = nil
                outArmed = false
            case .dropQueued:
                fx.dropped.merge(dropAll())
            case .attach(_, let peer):
                guard let attaching else { continue }
                socket = attaching.socket
                outArmed = false
                stalledSinceNs = nil
                (fx.restartedUIDs, fx.restarted) = keepFrames(for: peer.uid)
                peerMaxFrameBytes = attaching.peerMaxFrameBytes
                fx.peerMaxFrameBytes = attaching.peerMaxFrameBytes
                if let limit = attaching.peerMaxFrameBytes { fx.tooLong = dropFrames(longerThan: limit) }
                if let first = attaching.firstFrame {
                    partial = first
                    partialOffset = 0
                    queuedBytes += first.count
                }
            case .flush:
                if queuedBytes > 0 && !flushing {
                    flushing = true
                    fx.flushNow = true
                }
            default:
                break
            }
        }
        return fx
    }

    /// Drops every queued frame not yet begun (the batch being written is finished first, or the stream would be
    /// cut mid-frame) without telling their senders: fault injection, where frames are lost as on the network.
    /// - Returns: the number of frames dropped.
    mutating func dropQueuedSilently() -> Int {
        let c = control.removeAllSilently()
        let d = data.removeAllSilently()
        queuedBytes = max(0, queuedBytes - c.bytes - d.bytes)
        return c.frames + d.frames
    }

    /// Forgets the notes of frames of `partial` that are now completely written (handed to the kernel).
    mutating func settlePartial() {
        guard let first = partialNotes.first, first.end <= partialOffset else { return }
        var n = 0
        while n < partialNotes.count, partialNotes[n].end <= partialOffset { n += 1 }
        partialNotes.removeFirst(n)
    }

    /// Drops the unwritten rest of the partial batch, noting the frames not completely written.
    private mutating func dropPartial(into dropped: inout DroppedFrames) {
        for note in partialNotes where note.end > partialOffset { dropped.add(counted: note.counted, note.onUndelivered) }
        partialNotes = []
        partial = []
        partialOffset = 0
    }

    /// Removes queued frames whose length field exceeds `maxFrameBytes` (the peer would close the connection on
    /// them) and returns them, with their sizes, for their senders to be told.
    mutating func dropFrames(longerThan maxFrameBytes: Int) -> [(frame: OutFrame, length: Int)] {
        var tooLong: [(OutFrame, Int)] = []
        var dropped = DroppedFrames()
        let keep: (OutFrame) -> Bool = { f in
            let length = f.bytes.count - Wire.lengthFieldBytes
            if length > maxFrameBytes { tooLong.append((f, length)) }
            return length <= maxFrameBytes
        }
        let c = control.filter(into: &dropped, keep)
        let d = data.filter(into: &dropped, keep)
        queuedBytes = max(0, queuedBytes - c.bytes - d.bytes)
        return tooLong
    }

    /// Drops every queued frame and the partial batch.
    /// - Returns: the dropped frames (to count and to tell their senders, outside the lock).
    mutating func dropAll() -> DroppedFrames {
        var dropped = DroppedFrames()
        dropPartial(into: &dropped)
        control.removeAll(into: &dropped)
        data.removeAll(into: &dropped)
        queuedBytes = 0
        return dropped
    }

    /// Drops the partial batch and every frame addressed to a uid other than `uid` (or 0).
    /// - Returns: the uids whose frames were dropped, and the dropped frames.
    mutating func keepFrames(for uid: UInt64) -> (uids: Set<UInt64>, dropped: DroppedFrames) {
        var dropped = DroppedFrames()
        queuedBytes -= max(0, partial.count - partialOffset)
        dropPartial(into: &dropped)
        let c = control.filter(into: &dropped) { $0.uid == 0 || $0.uid == uid }
        let d = data.filter(into: &dropped) { $0.uid == 0 || $0.uid == uid }
        queuedBytes = max(0, queuedBytes - c.bytes - d.bytes)
        return (c.uids.union(d.uids), dropped)
    }

    private mutating func note(_ f: OutFrame, end: Int) {
        if f.counted || f.onUndelivered != nil {
            partialNotes.append(PartialNote(end: end, counted: f.counted, onUndelivered: f.onUndelivered))
        }
    }

    /// Moves whole frames (control first, then data) into one buffer of at most `limit` bytes; a single frame
    /// larger than `limit` is taken alone without copying.
    /// - Returns: the batch (empty when nothing is queued) and the number of frames in it.
    /// Notes of the frames gathered are appended to `partialNotes` (ends relative to the returned batch, which
    /// the caller makes the new `partial`).
    mutating func gather(limit: Int) -> (bytes: [UInt8], frames: Int) {
        let headFrame = control.first ?? data.first
        guard let headFrame else { return ([], 0) }
        if headFrame.bytes.count >= limit {
            if control.isEmpty { _ = data.popFirst() } else { _ = control.popFirst() }
            note(headFrame, end: headFrame.bytes.count)
            return (headFrame.bytes, 1)
        }
        var batch: [UInt8] = []
        batch.reserveCapacity(min(limit, queuedBytes))
        var frames = 0
        while let f = control.first, batch.count + f.bytes.count <= limit {
            batch.append(contentsOf: f.bytes)
            _ = control.popFirst()
            note(f, end: batch.count)
            frames += 1
        }
        if control.isEmpty {
            while let f = data.first, batch.count + f.bytes.count <= limit {
                batch.append(contentsOf: f.bytes)
                _ = data.popFirst()
                note(f, end: batch.count)
                frames += 1
            }
        }
        return (batch, frames)
    }
}

/// One peer address: its association state and outbound queues.
final class Peer: Sendable {
    let address: NodeAddress
    let state: Mutex<PeerState>

    init(address: NodeAddress, budgets: TransportBudgets? = nil, config: PeerLifecycle.Config = .default,
         faultBlocked: Bool = false) {
        self.address = address
        var s = PeerState(config: config)
        s.budgets = budgets
        s.faultBlocked = faultBlocked
        state = Mutex(s)
    }
}
