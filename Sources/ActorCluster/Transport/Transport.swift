import Glibc
import Synchronization

/// Receives association changes and inbound frames from a `Transport`. Every method is called on the transport's
/// event-loop thread and must not block (it delays every connection of the node).
public protocol TransportDelegate: AnyObject, Sendable {
    /// Handshake completed with `peer`; frames flow both ways. Called on the event-loop thread.
    func transport(_ transport: Transport, associated peer: NodeIdentity)
    /// The association with `peer` is gone (closed, reset, handshake-replaced, or the address now answers with
    /// another uid). Frames still queued to it are dropped (their senders' undelivered handlers are called). Called
    /// once per lost association.
    func transport(_ transport: Transport, disassociated peer: NodeIdentity, reason: String)
    /// A dial to `address` failed before any association (name resolution failed or timed out, refused, connect
    /// timeout, handshake rejected/timed out). Frames queued for that address are dropped (their senders' undelivered
    /// handlers are called). `refused` is true only when the TCP connect itself failed with ECONNREFUSED (nothing
    /// listens at the address: the host answered); false for every other failure, a connect or handshake timeout
    /// included (the address may be partitioned away or the host down).
    func transport(_ transport: Transport, dialFailed address: NodeAddress, reason: String, refused: Bool)
    /// One inbound frame (kinds ≥ 0x10 only; transport kinds are handled inside). `payload` is a slice of the read
    /// buffer (no copy per frame). Called on the event-loop thread, in order per connection; must not block.
    func transport(_ transport: Transport, received kind: Wire.FrameKind, payload: ArraySlice<UInt8>, from peer: NodeIdentity)
}

/// Counters a transport emits (names are the Prometheus names in `Metrics`).
struct TransportCounters: Sendable {
    let framesIn: Counter
    let bytesIn: Counter
    let framesOut: Counter
    let bytesOut: Counter
    let socketWrites: Counter
    let framesMalformed: Counter
    let sendQueueFull: Counter
    let handshakeTimeouts: Counter
    let handshakeFailures: Counter
    let handshakeDuplicates: Counter
    let authFailures: Counter
    let reconnectAttempts: Counter
    let dialFailures: Counter
    let associations: Counter
    let disassociations: Counter
    let idleTimeouts: Counter
    let connectionsRefused: Counter
    let connectionsAccepted: Counter
    let undeliveredDialFailed: Counter
    let undeliveredAssociationLost: Counter
    let undeliveredPeerRestarted: Counter
    let undeliveredShutdown: Counter
    let undeliveredTooLarge: Counter
    let peersGivenUp: Counter
    let peersUnreachable: Gauge
    let readBudgetExceeded: Counter
    let outboundBudgetExceeded: Counter
    let peersStalled: Counter
    let dialsRefused: Counter
    let peerTableFull: Counter
    let connectionsEvicted: Counter
    let readBufferBytes: Gauge
    let handshakeReadBufferBytes: Gauge
    let handshakingConnections: Gauge
    let faultInjectionDropped: Counter

    init(_ m: Metrics) {
        framesIn = m.counter("hotline_frames_in_total", help: "Frames read from peers (all kinds).")
        bytesIn = m.counter("hotline_bytes_in_total", help: "Bytes read from peer sockets.")
        framesOut = m.counter("hotline_frames_out_total", help: "Frames handed to peer sockets (all kinds).")
        bytesOut = m.counter("hotline_bytes_out_total", help: "Bytes written to peer sockets.")
        socketWrites = m.counter("hotline_socket_writes_total",
                                 help: "write(2) calls that moved queued frames to peer sockets (frames_out / this = frames per write).")
        framesMalformed = m.counter("hotline_frames_malformed_total", help: "Connections closed for a malformed frame.")
        sendQueueFull = m.counter("hotline_send_queue_full_total", help: "Sends refused because the peer's outbound queue was full.")
        handshakeTimeouts = m.counter("hotline_handshake_timeouts_total", help: "Connections closed because the handshake did not complete in time.")
        handshakeFailures = m.counter("hotline_handshake_failures_total", help: "Handshakes rejected (sent or received, duplicates excepted), violated or with an undecodable offer.")
        authFailures = m.counter("hotline_handshake_auth_failures_total", help: "Handshakes refused because a proof of the cluster secret was missing or wrong (either side).")
        handshakeDuplicates = m.counter("hotline_handshake_duplicates_total", help: "Offers rejected as duplicate (tie-break or existing association); not failures.")
        reconnectAttempts = m.counter("hotline_reconnect_attempts_total", help: "Dials after a failed dial or a lost association.")
        dialFailures = m.counter("hotline_dial_failures_total", help: "Dials that failed before an association.")
        associations = m.counter("hotline_associations_total", help: "Associations established.")
        disassociations = m.counter("hotline_disassociations_total", help: "Associations lost.")
        connectionsRefused = m.counter("hotline_connections_refused_total", help: "Accepted sockets closed at once: maxConnections reached.")
        idleTimeouts = m.counter("hotline_idle_timeouts_total", help: "Associations closed after receiving nothing for idleTimeout.")
        connectionsAccepted = m.counter("hotline_connections_accepted_total", help: "Inbound TCP connections accepted.")
        undeliveredDialFailed = m.counter("hotline_frames_undelivered_dial_failed_total",
                                          help: "Frames accepted by send, dropped because the dial failed (resolve, connect or handshake).")
        undeliveredAssociationLost = m.counter("hotline_frames_undelivered_association_lost_total",
                                               help: "Frames accepted by send, dropped unwritten because the association was lost or replaced.")
        undeliveredPeerRestarted = m.counter("hotline_frames_undelivered_peer_restarted_total",
                                             help: "Frames for a node uid dropped because its address now answers with another uid.")
        undeliveredTooLarge = m.counter("hotline_frames_undelivered_too_large_total",
                                        help: "Frames queued before a handshake that exceeded the frame limit the peer announced in it.")
        undeliveredShutdown = m.counter("hotline_frames_undelivered_shutdown_total",
                                        help: "Frames accepted by send, dropped unwritten by transport shutdown.")
        peersGivenUp = m.counter("hotline_peers_given_up_total",
                                 help: "Non-seed peer addresses forgotten after failing to dial for giveUpUnreachableAfter.")
        peersUnreachable = m.gauge("hotline_peers_unreachable",
                                   help: "Peer addresses whose dials have failed since their last association (seeds included).")
        readBudgetExceeded = m.counter("hotline_read_budget_exceeded_total",
                                       help: "Connections closed because their read buffer would exceed the node-wide read budget.")
        outboundBudgetExceeded = m.counter("hotline_outbound_budget_exceeded_total",
                                           help: "Sends refused because the node-wide outbound byte budget was reached.")
        peersStalled = m.counter("hotline_peers_stalled_total",
                                 help: "Associations closed because the peer stopped reading (queue above stalledPeerBytes for stalledPeerTimeout).")
        dialsRefused = m.counter("hotline_dials_refused_total", help: "Sends refused because maxDialsInFlight dials were in progress.")
        peerTableFull = m.counter("hotline_peer_table_full_total",
                                  help: "New peer entries refused (send or inbound association) because maxPeerEntries were held.")
        connectionsEvicted = m.counter("hotline_connections_evicted_total",
                                       help: "Handshaking inbound connections closed to make room for a new connection.")
        readBufferBytes = m.gauge("hotline_read_buffer_bytes",
                                  help: "Read-buffer bytes holding incomplete frames, associated connections.")
        handshakeReadBufferBytes = m.gauge("hotline_handshake_read_buffer_bytes",
                                           help: "Read-buffer bytes holding incomplete frames, connections still handshaking.")
        handshakingConnections = m.gauge("hotline_connections_handshaking",
                                         help: "Inbound connections accepted and still handshaking.")
        faultInjectionDropped = m.counter("hotline_fault_injection_dropped_total",
                                          help: "Frames to or from a blocked address dropped by fault injection (setBlockedPeers).")
    }
}

/// Event-loop-confined state of a transport (only the loop thread touches it).
final class LoopState: @unchecked Sendable {
    var connections: [UInt64: Connection] = [:]
    var listener: Listener?
    var local = NodeIdentity(address: NodeAddress(host: "0.0.0.0", port: 0), uid: 0)
    /// Next epoll token (0 is the loop's eventfd, 1 the listener).
    var nextToken: UInt64 = 2
    /// `shutdown` began: no delegate calls, no backoff timers, no new connections.
    var closing = false
    var listenerPaused = false
    /// Ids of inbound connections in accept order, for evicting the oldest handshaking one; entries of
    /// connections that completed or closed are skipped (and compacted away).
    var handshakeOrder: [UInt64] = []
    var handshakeHead = 0

    /// Drops consumed and stale entries once they are more than twice the live ones (amortised O(1) per
    /// accept; the list stays O(handshaking)).
    func compactHandshakeOrder(handshaking: Int) {
        guard handshakeOrder.count >= 64 + 2 * handshaking else { return }
        handshakeOrder = handshakeOrder[handshakeHead...].filter { connections[$0]?.inHandshakeShare == true }
        handshakeHead = 0
    }

    func takeToken() -> UInt64 {
        let t = nextToken
        nextToken &+= 1
        return t
    }
}

/// TCP transport between cluster nodes: one connection per peer pair, a handshake first on every connection,
/// length-prefixed frames (`Wire`), non-blocking I/O on one epoll event-loop thread.
///
/// Threading: `send` may be called from any thread. It appends the encoded frame to the peer's queue under that
/// peer's lock and, when the connection is idle, writes it directly from the calling thread (the "flusher" role;
/// frames appended meanwhile by other threads are coalesced into the same write). Otherwise the loop thread
/// flushes on EPOLLOUT. Everything else (reads, handshakes, timers, dialing) happens on the loop thread, which
/// also calls the delegate.
public final class Transport: Sendable {
    public let clusterName: String
    public let uid: UInt64
    public let settings: TransportSettings
    let logger: Logger
    let metrics: Metrics
    let counters: TransportCounters
    let loop = EventLoop()
    /// Runs Swift concurrency jobs on this transport's I/O thread (see `ClusterSettings.inboundExecution`).
    public var taskExecutor: any TaskExecutor { ioExecutor }
    private let ioExecutor: EventLoopTaskExecutor
    let core = LoopState()
    let resolver: HostResolver
    /// Node-wide outbound bytes and dials in flight (shared with every peer entry).
    let budgets: TransportBudgets
    /// Timing of every peer's lifecycle (backoff, give-up, waits), from `settings`.
    let peerConfig: PeerLifecycle.Config
    /// Fault injection: addresses whose frames are dropped both ways (`setBlockedPeers`). Written under the
    /// `peers` lock too, so a new entry starts with the right flag.
    let blockedPeers = Mutex<Set<NodeAddress>>([])
    /// One warning per limit per `limitLogInterval` (`Logger.logLimited`).
    let limitLog: LogRateLimiter

    private enum Lifecycle {
        case created
        case running(NodeIdentity)
        case stopped
    }

    private let lifecycle = Mutex(Lifecycle.created)
    /// Set once `shutdown` starts (read on every `send`).
    let stopping = Atomic<Bool>(false)
    let peers = Mutex<[NodeAddress: Peer]>([:])
    let delegateBox = Mutex<(any TransportDelegate)?>(nil)
    let associationTable = Mutex<[NodeAddress: NodeIdentity]>([:])
    /// Associated peers that proved the operator secret in their handshake (at most one per address).
    let operatorPeers = Mutex<Set<NodeIdentity>>([])
    let openConnections = Atomic<Int>(0)

    /// `settings.coalesceWindow` in ns (0: off).
    let coalesceWindowNs: UInt64

    /// Biggest coalesced write, in bytes.
    static let batchBytes = 256 << 10
    /// Bytes a sending thread writes itself before leaving the rest to the loop.
    static let senderFlushBudget = 512 << 10
    /// Bytes the loop writes for one peer per readiness event before serving others.
    static let loopFlushBudget = 4 << 20

    /// - Parameters:
    ///   - clusterName: must match the peer's for a handshake to succeed.
    ///   - uid: this node's random 64-bit id (`NodeIdentity.randomUID()`), never 0.
    public init(clusterName: String, uid: UInt64, settings: TransportSettings = .default, logger: Logger, metrics: Metrics) {
        self.clusterName = clusterName
        self.uid = uid
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.counters = TransportCounters(metrics)
        self.ioExecutor = EventLoopTaskExecutor(loop: loop)
        self.resolver = HostResolver(loop: loop, settings: settings, metrics: metrics)
        self.budgets = TransportBudgets(metrics)
        self.peerConfig = PeerLifecycle.Config(settings)
        self.limitLog = LogRateLimiter(interval: settings.limitLogInterval)
        self.coalesceWindowNs = UInt64(max(0, settings.coalesceWindow.nanoseconds))
    }

    deinit {
        loop.stop()
    }

    /// Sets the receiver of association events and frames. Held strongly until `shutdown` clears it.
    public func setDelegate(_ d: TransportDelegate) {
        delegateBox.withLock { $0 = d }
    }

    var delegate: (any TransportDelegate)? { delegateBox.withLock { $0 } }

    /// This node's identity once `start` returned; nil before and after `shutdown`.
    public var localNode: NodeIdentity? {
        lifecycle.withLock { state in
            if case .running(let id) = state { return id }
            return nil
        }
    }

    /// Binds and listens (SO_REUSEADDR, port 0 = ephemeral), starts the event-loop thread, returns this node's
    /// identity with the real port (and `listen.host` as given).
    /// - Throws: `TransportError.bindFailed` (socket/bind/listen errors, an invalid event loop, or a second
    ///   `start`); `TransportError.shutDown` after `shutdown`.
    public func start(listen: NodeAddress) throws -> NodeIdentity {
        signal(SIGPIPE, SIG_IGN)
        let canStart = lifecycle.withLock { state -> TransportError? in
            switch state {
            case .created: return nil
            case .running: return .bindFailed(listen, errno: EALREADY, message: "transport already started")
            case .stopped: return .shutDown
            }
        }
        if let canStart { throw canStart }
        guard loop.isValid else {
            throw TransportError.bindFailed(listen, errno: loop.creationErrno, message: "cannot create epoll/eventfd")
        }
        let (fd, port) = try Socket.listen(on: listen)
        let identity = NodeIdentity(address: NodeAddress(host: listen.host, port: port), uid: uid)
        let handle = SocketHandle(fd: fd, token: 1)
        let listener = Listener(socket: handle, transport: self)
        // Configure the loop-confined state before the thread exists (happens-before via pthread_create).
        core.local = identity
        core.listener = listener
        let registered = loop.register(fd: fd, token: handle.token, events: cepollIn, handler: listener)
        guard registered == 0 else {
            core.listener = nil
            throw TransportError.bindFailed(listen, errno: registered, message: "epoll_ctl: \(Socket.errorText(registered))")
        }
        guard loop.start(name: "hotline-io") else {
            core.listener = nil
            throw TransportError.bindFailed(listen, errno: EAGAIN, message: "cannot start the event-loop thread")
        }
        lifecycle.withLock { $0 = .running(identity) }
        logger.info("transport.listening", ["address": identity.address, "uid": identity.uidHex, "cluster": clusterName])
        return identity
    }

    private var cepollIn: UInt32 { Interest.read }

    /// Currently associated peers, sorted.
    public var associatedPeers: [NodeIdentity] {
        associationTable.withLock { Array($0.values) }.sorted()
    }

    /// Whether `peer`'s current association proved the operator secret (`TransportSettings.operatorCredential`).
    public func isOperator(_ peer: NodeIdentity) -> Bool {
        operatorPeers.withLock { $0.contains(peer) }
    }

    /// Open TCP connections (handshaking or associated), for diagnostics and tests.
    public var connectionCount: Int { openConnections.load(ordering: .relaxed) }

    /// Bytes queued but not yet written to `address` (pending-handshake frames included).
    public func queuedBytes(to address: NodeAddress) -> Int {
        guard let p = peers.withLock({ $0[address] }) else { return 0 }
        return p.state.withLock { $0.queuedBytes }
    }

    /// Peer addresses with per-address state (associated, dialling, backing off, or remembered), for tests.
    public var knownPeerCount: Int { peers.withLock { $0.count } }

    /// An address whose dials have been failing since its last association.
    public struct UnreachablePeer: Sendable, Equatable {
        public var address: NodeAddress
        /// Dialled by `associate(with:)` (never given up).
        public var isSeed: Bool
        /// Failed dials in a row.
        public var failedDials: Int
        /// Milliseconds since the first failed dial of this run.
        public var unreachableForMs: Int
        /// Milliseconds since the last association ended being new (handshake completed), nil when never associated.
        public var sinceLastAssociationMs: Int?
    }

    /// Addresses currently failing to dial, sorted by address. Taken from every peer's lock: diagnostics only.
    public var unreachablePeers: [UnreachablePeer] {
        let now = Monotonic.nowNs()
        let all = peers.withLock { Array($0.values) }
        return all.compactMap { p in
            p.state.withLock { s -> UnreachablePeer? in
                let life = s.life
                guard let since = life.unreachableSinceNs else { return nil }
                return UnreachablePeer(address: p.address, isSeed: life.persistent, failedDials: life.failures,
                                       unreachableForMs: Int((now &- since) / 1_000_000),
                                       sinceLastAssociationMs: life.lastAssociatedNs.map { Int((now &- $0) / 1_000_000) })
            }
        }.sorted { $0.address.description < $1.address.description }
    }

    /// The entry for `address`, created when missing while the table holds fewer than `maxPeerEntries` (always
    /// when `force`: seeds). nil when the table is full (counted, warning rate-limited).
    func peerEntry(_ address: NodeAddress, force: Bool = false) -> Peer? {
        let p = peers.withLock { table -> Peer? in
            if let p = table[address] { return p }
            guard force || table.count < max(1, settings.maxPeerEntries) else { return nil }
            let blocked = settings.faultInjection && blockedPeers.withLock { $0.contains(address) }
            let p = Peer(address: address, budgets: budgets, config: peerConfig, faultBlocked: blocked)
            table[address] = p
            return p
        }
        if p == nil {
            counters.peerTableFull.increment()
            logger.logLimited(limitLog, .warning, "transport.limit.peer_table", ["peer": address,
                                                                                 "limit": settings.maxPeerEntries])
        }
        return p
    }

    /// Removes an entry a refused send created and left unused (idle, nothing queued, not a seed, no failures).
    func discardIfUnused(_ p: Peer) {
        feedUnderTable(p, .discardIfUnused, perform: false)
    }

    private enum SendOutcome {
        case queued
        case queuedAndDial
        /// The caller took the flusher role; `recent`: this peer's last write was within `coalesceWindow`.
        case queuedAndFlush(recent: Bool)
        /// Sent from a call thread: it takes the flusher role when its batch is done (`flushDeferred`).
        case queuedAndFlushAfterBatch(CallThread)
        case failed(TransportError)
        /// A node-wide budget refused the frame.
        case refused(TransportError, Budget)
    }

    private enum Budget {
        case outboundTotal
        case dials
    }

    /// Bytes reserved for an outbound frame before its payload is written (header included).
    static let initialFrameCapacity = 256

    /// Encodes one frame: reserves the 5-byte header in a fresh `[UInt8]`, calls `writePayload` to append the
    /// payload, patches the header, enqueues. Control kinds go ahead of queued data frames. If not associated with
    /// `peer.address`, dials it (unless backing off → throws `.nodeUnreachable` at once; with `dialNow`, dials at
    /// once instead) and keeps the frame in a bounded pending queue until the handshake completes. If the
    /// handshake shows a different uid than `peer.uid` (node restarted), frames for the old uid are dropped and
    /// `disassociated(old identity)` is reported; while associated with another uid, `send` throws
    /// `.nodeUnreachable`. `peer.uid == 0` means "whichever node answers at that address".
    ///
    /// Delivery: a frame that `send` accepts (returns without throwing) is either handed to the kernel on a live,
    /// handshaked connection to `peer` — in send order per address while the association lives; TCP may still lose
    /// it if the connection breaks afterwards — or dropped because the dial failed (name resolution, connect,
    /// handshake), the association was lost or replaced before it was written, the address now answers with
    /// another uid, or the transport shut down. A dropped frame is counted in
    /// `hotline_frames_undelivered_<reason>_total` and `onUndelivered` (when given) is called exactly once, with
    /// `.nodeUnreachable(address, reason:)` or `.shutDown`, on an arbitrary thread (usually the I/O thread; must
    /// not block); `TransportError.isConnectionRefused` tells a dial refused by the host (ECONNREFUSED) apart. It
    /// is never called for a frame that `send` rejected by throwing. Frames dropped by fault injection
    /// (`setBlockedPeers`) count as handed to the kernel and lost on the way: they are not reported.
    ///
    /// - Parameter dialNow: when the address is backing off after a failed dial or a lost association, dial it
    ///   at once instead of throwing `.nodeUnreachable` (for probes that must learn now whether anything still
    ///   listens there). No effect in any other state; `maxDialsInFlight` still applies. Default false.
    /// - Throws: `TransportError.frameTooLarge` (length field kind + payload above `maxFrameBytes`),
    ///   `.outboundQueueFull` (queued bytes + this frame above `maxOutboundBytesPerPeer`), `.nodeUnreachable`
    ///   (backing off, another uid at the address, the local address, or a handshake kind 0x01–0x03 which only the
    ///   transport may send), `.shutDown` (not started or shut down), or whatever `writePayload` throws.
    public func send(_ kind: Wire.FrameKind, to peer: NodeIdentity, dialNow: Bool = false,
                     onUndelivered: UndeliveredHandler? = nil, _ writePayload: (inout [UInt8]) throws -> Void) throws {
        guard !stopping.load(ordering: .acquiring), let local = localNode else { throw TransportError.shutDown }
        switch kind {
        case .handshakeOffer, .handshakeAccept, .handshakeReject, .handshakeChallenge, .handshakeResponse:
            throw TransportError.nodeUnreachable(peer.address, reason: "frame kind \(kind) is reserved to the transport")
        default: break
        }
        var frame = [UInt8]()
        // One allocation for a typical frame: growing from the header's 5 bytes reallocated and copied it two or
        // three times per message (2–3 % of a stream's CPU); a larger frame still grows geometrically.
        frame.reserveCapacity(Self.initialFrameCapacity)
        frame.append(contentsOf: repeatElement(0, count: Wire.headerBytes))
        try writePayload(&frame)
        // The limit that matters is the reader's: the peer's announced one once associated (checked in
        // `enqueue`); until then this node's own.
        let length = frame.count - Wire.lengthFieldBytes
        guard length <= Wire.maxFrameBytesCeiling else {
            throw TransportError.frameTooLarge(bytes: length, max: Wire.maxFrameBytesCeiling)
        }
        Wire.FrameParser.writeHeader(into: &frame, at: 0, kind: kind, payloadBytes: frame.count - Wire.headerBytes)
        guard peer.address != local.address else {
            throw TransportError.nodeUnreachable(peer.address, reason: "that is this node's own address")
        }
        let now = Monotonic.nowNs()
        let limit = settings.maxOutboundBytesPerPeer
        let frameBytes = frame.count
        let out = OutFrame(bytes: frame, uid: peer.uid, counted: kind != .heartbeat, onUndelivered: onUndelivered)
        // Built only when thrown: an interpolated string per send was 1 % of a stream's CPU.
        var tableFull: TransportError {
            .nodeUnreachable(peer.address, reason: "peer table full (\(settings.maxPeerEntries) addresses)")
        }
        guard var p = peerEntry(peer.address) else { throw tableFull }
        var result: SendOutcome?
        // On a call thread the write waits for the end of its batch, so the frames of every job of the batch (the
        // replies of every call of one read) go out in one write(2).
        let callThread = loop.isInLoop ? nil : CallThread.current
        // Bounded: a removed (given-up) entry is out of the table, so the next lookup makes a fresh one.
        for _ in 0..<4 {
            result = p.state.withLock { s -> SendOutcome? in
                // Checked under the peer's lock: shutdown drops (and reports) every queue after setting `stopping`.
                if stopping.load(ordering: .acquiring) { return .failed(.shutDown) }
                return enqueue(&s, out, kind: kind, peer: peer, dialNow: dialNow, now: now, limit: limit,
                               frameBytes: frameBytes, callThread: callThread)
            }
            if result != nil { break }
            guard let next = peerEntry(peer.address) else { throw tableFull }
            p = next
        }
        switch result ?? .failed(.nodeUnreachable(peer.address, reason: "peer state kept changing")) {
        case .failed(let e):
            if case .outboundQueueFull = e { counters.sendQueueFull.increment() }
            discardIfUnused(p)
            throw e
        case .refused(let e, let budget):
            switch budget {
            case .outboundTotal:
                counters.outboundBudgetExceeded.increment()
                logger.logLimited(limitLog, .warning, "transport.limit.outbound_bytes",
                                  ["peer": peer.address, "queued_total": budgets.outboundBytes.value,
                                   "limit": settings.maxOutboundBytesTotal])
            case .dials:
                counters.dialsRefused.increment()
                logger.logLimited(limitLog, .warning, "transport.limit.dials",
                                  ["peer": peer.address, "limit": settings.maxDialsInFlight])
            }
            discardIfUnused(p)
            throw e
        case .queued:
            return
        case .queuedAndDial:
            // When the loop is stopping, the frame stays queued and shutdown drops and reports it.
            let dialPeer = p
            loop.execute { [self] in startDial(dialPeer) }
        case .queuedAndFlush(let recent):
            startFlush(p, recent: recent)
        case .queuedAndFlushAfterBatch(let thread):
            thread.runAfterBatch { [self] in flushAfterBatch(p) }
        }
    }

    /// A call thread's batch is done: it takes the flusher role of `p` for the frames it queued, unless someone
    /// else holds it (that flusher writes them) or wrote them already.
    private func flushAfterBatch(_ p: Peer) {
        let take = p.state.withLock { s -> Bool in
            s.flushDeferred = false
            guard s.isAssociated, !s.flushing, !s.outArmed, s.queuedBytes > 0 else { return false }
            s.flushing = true
            return true
        }
        if take { flush(p, budgetBytes: Self.senderFlushBudget) }
    }

    /// The sender took the flusher role of `p`: who writes, and when. On the I/O thread the write waits for the
    /// end of the loop's iteration, so every frame queued meanwhile (replies of every call in one read) goes out
    /// in one `write(2)` (a call thread does likewise through `flushAfterBatch`). From another thread it is left
    /// to the loop when the loop is awake anyway (no wake-up) or when this peer was written to less than
    /// `coalesceWindow` ago (a stream of sends: one wake-up, then whole batches while the sender keeps queuing);
    /// otherwise the sender writes it at once, itself.
    private func startFlush(_ p: Peer, recent: Bool) {
        if loop.isInLoop {
            loop.runBeforePoll { [self] in flush(p, budgetBytes: Self.loopFlushBudget) }
            return
        }
        let task: @Sendable () -> Void = { [self] in flush(p, budgetBytes: Self.loopFlushBudget) }
        if loop.executeIfAwake(task) { return }
        if recent, loop.execute(task) { return }
        flush(p, budgetBytes: Self.senderFlushBudget)
    }

    /// Under the peer's lock: what the lifecycle says about a send (`PeerLifecycle.sendVerdict`), then the size
    /// and budget checks, then the frame is queued (and the dial requested). nil: the entry was removed, look again.
    private func enqueue(_ s: inout PeerState, _ out: OutFrame, kind: Wire.FrameKind, peer: NodeIdentity, dialNow: Bool,
                         now: UInt64, limit: Int, frameBytes: Int, callThread: CallThread?) -> SendOutcome? {
        let dial: Bool
        switch s.life.sendVerdict(uid: peer.uid, dialNow: dialNow, nowNs: now) {
        case .queue: dial = false
        case .queueAndDial: dial = true
        case .refuse(let reason): return .failed(.nodeUnreachable(peer.address, reason: reason))
        case .lookAgain: return nil
        case .shutDown: return .failed(.shutDown)
        }
        let length = frameBytes - Wire.lengthFieldBytes
        if s.isAssociated {
            // The peer reads frames up to the limit it announced in the handshake; beyond it, it would close
            // the connection (and fail every other call on it).
            let peerMax = s.peerMaxFrameBytes ?? settings.maxFrameBytes
            if length > peerMax { return .failed(.frameTooLarge(bytes: length, max: peerMax)) }
        } else if length > settings.maxFrameBytes {
            // Not associated yet: the peer's limit is unknown; this node's own stands in for it.
            return .failed(.frameTooLarge(bytes: length, max: settings.maxFrameBytes))
        }
        if s.queuedBytes + frameBytes > limit {
            return .failed(.outboundQueueFull(peer.address, queuedBytes: s.queuedBytes))
        }
        if !kind.isControl, budgets.outboundBytes.value + frameBytes > settings.maxOutboundBytesTotal {
            return .refused(.outboundQueueFull(peer.address, queuedBytes: s.queuedBytes), .outboundTotal)
        }
        if dial, budgets.dialsInFlight.value >= max(1, settings.maxDialsInFlight) {
            return .refused(.nodeUnreachable(peer.address, reason: "too many dials in flight (\(settings.maxDialsInFlight))"),
                            .dials)
        }
        if dial { _ = s.handle(.dialRequested, nowNs: now) }
        if kind.isControl { s.control.append(out) } else { s.data.append(out) }
        s.queuedBytes += frameBytes
        if dial { return .queuedAndDial }
        if s.isAssociated && !s.flushing && !s.outArmed {
            if let callThread {
                // The role is taken when the batch is done, not now: meanwhile another sender (the I/O thread's
                // heartbeats and membership frames) may take it, and then writes these frames too.
                if s.flushDeferred { return .queued }
                s.flushDeferred = true
                return .queuedAndFlushAfterBatch(callThread)
            }
            s.flushing = true
            let recent = coalesceWindowNs > 0 && s.lastWriteProgressNs.map { now &- $0 < coalesceWindowNs } == true
            return .queuedAndFlush(recent: recent)
        }
        return .queued
    }

    /// Dials `address` without knowing its uid (seed nodes) and keeps redialing it with capped exponential backoff
    /// whenever the association drops, until `forget`. No effect after `shutdown` or for the local address.
    public func associate(with address: NodeAddress) {
        guard !stopping.load(ordering: .acquiring), let local = localNode, address != local.address else { return }
        for _ in 0..<4 {
            guard let p = peerEntry(address, force: true) else { return }
            let fx = p.state.withLock { s -> PeerEffects? in
                if s.life.isRemoved { return nil }
                return s.handle(.associateRequested, nowNs: Monotonic.nowNs())
            }
            guard let fx else { continue }
            perform(fx, p)
            return
        }
    }

    /// Stops redialing `address` automatically. An existing association stays up.
    public func forget(_ address: NodeAddress) {
        guard let p = peers.withLock({ $0[address] }) else { return }
        _ = p.state.withLock { $0.handle(.forgetRequested, nowNs: Monotonic.nowNs()) }
    }

    /// Fault injection for partition tests: while an address is in `addresses`, every frame to it and from it —
    /// handshake frames included, both directions, on existing and new connections — is silently dropped and
    /// counted (frames) in `hotline_fault_injection_dropped_total`, as a network partition that drops packets
    /// would do. Nothing is refused and nothing is reported undelivered (dropped frames count as handed to the
    /// kernel and lost on the way): an existing association ends by this node's idle timeout (`idleTimeout`), a
    /// new dial's handshake times out (`handshakeTimeout`), and a refused or reset connection to a blocked address
    /// is hidden too, so only this node's own timeouts (connect, handshake, idle) end it. To partition two nodes,
    /// block each on the other: a node that does not block sees the connection close when the other's timeout
    /// ends it. Each call replaces the whole set (an empty set unblocks every address); unblocking restores normal
    /// behaviour for frames sent and received from then on (frames dropped stay lost; a connection whose close
    /// was hidden still ends by its timeout). Addresses match the peer's listening address exactly: the address
    /// dialled, or the one an inbound peer's handshake offer names. Callable from any thread.
    /// - Throws: `TransportError.faultInjectionDisabled` unless `TransportSettings.faultInjection` is true.
    public func setBlockedPeers(_ addresses: Set<NodeAddress>) throws {
        guard settings.faultInjection else { throw TransportError.faultInjectionDisabled }
        peers.withLock { table in
            blockedPeers.withLock { $0 = addresses }
            for (address, p) in table {
                let blocked = addresses.contains(address)
                p.state.withLock { $0.faultBlocked = blocked }
            }
        }
        let listed = addresses.map(\.description).sorted().joined(separator: ",")
        logger.warning("transport.fault_injection.blocked", ["peers": listed.isEmpty ? "none" : listed])
    }

    /// Whether frames to and from `address` are dropped by fault injection.
    func isFaultBlocked(_ address: NodeAddress?) -> Bool {
        guard settings.faultInjection, let address else { return false }
        return blockedPeers.withLock { $0.contains(address) }
    }

    /// Upper layer found a frame from `peer` whose payload does not decode: closes that connection, counts it in
    /// `hotline_frames_malformed_total`, logs once (warning) with the peer address. No effect when `peer` is no
    /// longer associated. Callable from any thread, including inside `received`.
    public func rejectMalformed(from peer: NodeIdentity, reason: String) {
        let action: @Sendable () -> Void = { [self] in
            guard let p = peers.withLock({ $0[peer.address] }) else { return }
            let cid = p.state.withLock { $0.life.associatedConn(uid: peer.uid) }
            guard let cid, let c = core.connections[cid], !c.isClosed else { return }
            counters.framesMalformed.increment()
            logger.warning("transport.frame.malformed", ["peer": peer, "reason": reason])
            close(c, reason: "malformed frame: \(reason)")
        }
        if loop.isInLoop { action() } else { loop.execute(action) }
    }

    /// Closes every connection, stops the loop thread (joined), releases fds. Idempotent. Frames still queued are
    /// dropped (counted in `hotline_frames_undelivered_shutdown_total`, their undelivered handlers called with
    /// `.shutDown`); later `send` calls throw `.shutDown`. Must not be called from a delegate callback (the loop thread
    /// then only requests its stop and is not joined).
    public func shutdown() {
        let wasRunning = lifecycle.withLock { state -> Bool? in
            switch state {
            case .stopped: return nil
            case .created:
                state = .stopped
                return false
            case .running:
                state = .stopped
                return true
            }
        }
        guard let wasRunning else { return }
        stopping.store(true, ordering: .releasing)
        if wasRunning {
            if loop.isInLoop {
                closeAll()
            } else {
                loop.execute { [self] in closeAll() }
            }
        }
        loop.stop()
        delegateBox.withLock { $0 = nil }
        let all = peers.withLock { table -> [Peer] in
            let v = Array(table.values)
            table.removeAll()
            return v
        }
        for p in all {
            let fx = p.state.withLock { $0.handle(.shutdown, nowNs: Monotonic.nowNs()) }
            perform(fx, p)
        }
        counters.peersUnreachable.set(0)
        associationTable.withLock { $0.removeAll() }
        operatorPeers.withLock { $0.removeAll() }
        if wasRunning { logger.info("transport.stopped", [:]) }
    }
}
