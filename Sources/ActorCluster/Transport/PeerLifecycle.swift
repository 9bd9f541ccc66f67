/// The lifecycle of one peer address as a pure state machine: idle, dialling (requested, resolving, connecting,
/// handshaking), awaiting the peer's own connection, associated, backing off, removed (forgotten or given up) and
/// closed (transport shut down). It is fed events with the current monotonic time (ns) and answers the actions
/// the transport carries out. No I/O, no clock, no randomness here: the backoff jitter comes in with the event.
///
/// Every transition of a peer's lifecycle lives here; the transport (`TransportLoop.swift`) only turns socket,
/// timer and API calls into events and carries out the actions. It runs under the peer's lock (`Peer.state`),
/// so the hot path stays one lock: a send asks `sendVerdict` (pure) and, only when it must dial, feeds
/// `.dialRequested`.
///
///     idle ──send, associate──▶ dialing: requested ─▶ resolving ─▶ connecting ─▶ handshaking ──established──▶ associated
///     dialing ──resolve / connect / handshake failed──▶ backingOff          associated ──connection closed──▶ backingOff
///     dialing(handshaking) ──rejected as duplicate──▶ awaitingInbound ──nothing came in time──▶ backingOff
///     backingOff ──over: seed──▶ dialing;  over: non-seed──▶ idle, or removed (never failed / failed too long)
///     any but removed, closed ──inbound connection won / new uid at the address──▶ associated
///     any ──shutdown──▶ closed
///
/// Generations: every state change bumps `generation`; timers and name resolutions carry the generation they
/// were started in and are ignored when it moved on. Connection-carrying events are ignored unless they name
/// the connection the state refers to (`currentConn`) in a state they fit; a handshake outcome (`established`,
/// `rejectedAsDuplicate`) on a connection the state no longer refers to closes that orphan.
struct PeerLifecycle: Sendable, Equatable {
    /// Timing settings (from `TransportSettings`).
    struct Config: Sendable, Equatable {
        /// Reconnect delay after failed dials and lost associations.
        var backoff: Backoff
        /// How long, in ns, a dial rejected as `duplicate` waits for the peer's own connection (the handshake timeout).
        var awaitInboundNs: Int64
        /// A non-seed whose dials have failed without interruption for this many ns is given up.
        var giveUpAfterNs: UInt64
        /// At most one `transport.peer.unreachable` warning per this many ns per address.
        var unreachableLogIntervalNs: UInt64

        init(backoff: Backoff, awaitInboundNs: Int64, giveUpAfterNs: UInt64, unreachableLogIntervalNs: UInt64) {
            self.backoff = backoff
            self.awaitInboundNs = awaitInboundNs
            self.giveUpAfterNs = giveUpAfterNs
            self.unreachableLogIntervalNs = unreachableLogIntervalNs
        }

        init(_ settings: TransportSettings) {
            self.init(backoff: Backoff(initial: settings.reconnectBackoffInitial, max: settings.reconnectBackoffMax),
                      awaitInboundNs: settings.handshakeTimeout.nanoseconds,
                      giveUpAfterNs: UInt64(max(0, settings.giveUpUnreachableAfter.nanoseconds)),
                      unreachableLogIntervalNs: UInt64(max(0, settings.unreachableLogInterval.nanoseconds)))
        }

        static let `default` = Config(TransportSettings())
    }

    /// How far our own dial got.
    enum Dial: Sendable, Equatable {
        /// Asked for (by a send, a seed, a backoff that ended); the loop has not begun it yet.
        case requested
        /// The host name is being resolved (a dotted IPv4 literal passes through at once).
        case resolving
        /// TCP connect in progress on connection `conn`.
        case connecting(conn: UInt64)
        /// Connected; our offer is out and the handshake runs on `conn`.
        case handshaking(conn: UInt64)
    }

    enum State: Sendable, Equatable {
        /// Nothing in progress; the next send dials. Nothing is queued in this state.
        case idle
        /// Our dial is in progress; frames queue until it associates.
        case dialing(Dial)
        /// Our dial was rejected as `duplicate`: the peer keeps its own connection to us; wait for it (frames stay
        /// queued).
        case awaitingInbound
        /// Handshake complete with `peer` on connection `conn`.
        case associated(NodeIdentity, conn: UInt64)
        /// A dial failed or the association was lost; sends fail fast until `untilNs` (monotonic).
        case backingOff(untilNs: UInt64, reason: String)
        /// Out of the transport's table: forgotten (never failed) or given up (failed for `giveUpAfterNs`). A
        /// sender holding this entry looks it up again. Terminal.
        case removed(givenUp: Bool)
        /// The transport shut down. Terminal.
        case closed
    }

    /// What happened. Connection ids are the transport's connection tokens; generations are `generation` values
    /// handed out in actions.
    enum Event: Sendable, Equatable {
        /// A send found the peer idle or its backoff over (or asked to dial now) and queued a frame: dial.
        case dialRequested
        /// `Transport.associate(with:)`: keep this address associated (a seed); dial when idle.
        case associateRequested
        /// `Transport.forget(_:)`: stop redialling automatically.
        case forgetRequested
        /// The loop picked up a requested dial.
        case dialBegins
        /// The address resolved and the loop made socket `conn` for the dial of `generation`.
        case connectStarted(conn: UInt64, generation: UInt64)
        /// The TCP connect of `conn` completed; the handshake starts.
        case connected(conn: UInt64)
        /// The dial of `generation` failed before any connection existed (name resolution, no socket).
        case failedBeforeConnect(generation: UInt64, reason: String)
        /// Connection `conn` closed (EOF, reset, write error, idle timeout, stalled reader, malformed frame,
        /// connect or handshake failure or timeout). `refused`: the TCP connect itself failed with ECONNREFUSED.
        case connectionClosed(conn: UInt64, reason: String, refused: Bool)
        /// Our dial on `conn` was rejected as `duplicate` (the peer keeps its own connection, tie-break).
        case rejectedAsDuplicate(conn: UInt64)
        /// The wait for the peer's own connection that began in `generation` timed out.
        case awaitInboundExpired(generation: UInt64)
        /// Our dial on `conn` completed the handshake with `peer` (keyed by the dialed address).
        case established(conn: UInt64, peer: NodeIdentity)
        /// An inbound connection `conn` from `peer` proved itself and won the tie-break (or replaces an
        /// association with another uid: a new incarnation at the address).
        case inboundAccepted(conn: UInt64, peer: NodeIdentity)
        /// The backoff timer of `generation` fired.
        case backoffFired(generation: UInt64)
        /// The give-up timer of `generation` fired (an idle non-seed whose dials failed).
        case giveUpCheck(generation: UInt64)
        /// A refused send created this entry and left it unused: remove it when it holds nothing worth keeping.
        case discardIfUnused
        /// The transport shuts down.
        case shutdown
    }

    /// What the transport must do, in order. Actions on the peer's queues and socket (`dropQueued`, `attach`,
    /// `detach`, the decision of `flush`) are carried out under the peer's lock, in the same critical section as
    /// the transition; the others after it.
    enum Action: Sendable, Equatable {
        /// Begin the dial on the loop (it feeds `.dialBegins`).
        case startDial
        /// Resolve the host (or take the literal) for the dial of `generation`, then make a socket and feed
        /// `.connectStarted`. `reconnect`: the dial follows a failure or a lost association (counted).
        case resolve(generation: UInt64, reconnect: Bool)
        /// The socket `conn` is this dial's: register it and start the TCP connect.
        case connect(conn: UInt64)
        /// Close connection `conn` (an own dial abandoned or superseded, a replaced association). Its closing
        /// is no dial failure and no lost association: the state no longer refers to it.
        case closeConnection(conn: UInt64, reason: String)
        /// Drop every queued frame and the unwritten rest of the batch being written; report them undelivered.
        case dropQueued(Transport.UndeliveredReason, reason: String)
        /// Make connection `conn` the association's: its socket is written to; frames queued for another uid
        /// than `peer.uid` (or 0) are dropped as `peerRestarted`.
        case attach(conn: UInt64, peer: NodeIdentity)
        /// The association's socket is gone: stop writing to it.
        case detach
        /// Write the queued frames now when something is queued and nobody holds the flusher role.
        case flush
        case scheduleBackoff(generation: UInt64, delayNs: Int64)
        case scheduleAwaitInbound(generation: UInt64, delayNs: Int64)
        case scheduleGiveUpCheck(generation: UInt64, delayNs: Int64)
        /// Tell the delegate (and the association table) that `peer` is associated.
        case reportAssociated(NodeIdentity)
        /// Tell the delegate that the association with `peer` is gone.
        case reportDisassociated(NodeIdentity, reason: String)
        /// Tell the delegate that the dial failed; the next is in `retryNs`.
        case reportDialFailed(reason: String, refused: Bool, retryNs: Int64)
        /// Log `transport.peer.unreachable` (rate-limited per address here).
        case warnUnreachable(attempts: Int, unreachableMs: UInt64, lastAssociatedMs: UInt64?, seed: Bool, reason: String)
        /// Remove the entry from the table: nothing worth remembering (no failed dials).
        case forgetEntry
        /// Remove the entry from the table: its dials failed for `giveUpAfterNs`.
        case giveUpEntry(attempts: Int, unreachableMs: UInt64)
    }

    /// What a send finds (`sendVerdict`).
    enum SendVerdict: Sendable, Equatable {
        /// Queue the frame (associated, or a dial or the wait for the peer's connection is in progress).
        case queue
        /// Queue the frame and dial (feed `.dialRequested` once the frame is admitted).
        case queueAndDial
        /// Fail the send with `nodeUnreachable(reason)`.
        case refuse(String)
        /// The entry was removed from the table: look the address up again.
        case lookAgain
        /// The transport shut down.
        case shutDown
    }

    let config: Config
    private(set) var state: State = .idle
    /// Bumped on every state change.
    private(set) var generation: UInt64 = 0
    /// A seed (`associate(with:)`): redialled when its backoff ends, never given up.
    private(set) var persistent = false
    /// Consecutive failed dials (backoff exponent); 0 after an association.
    private(set) var failures = 0
    /// The next dial is a reconnect (after a failure or a lost association).
    private(set) var redial = false
    /// Monotonic ns when the current run of failed dials began (nil while none failed since the last association).
    private(set) var unreachableSinceNs: UInt64?
    /// Monotonic ns of the last `warnUnreachable` (rate limit).
    private(set) var lastUnreachableLogNs: UInt64?
    /// Monotonic ns of the last completed handshake (nil: never associated).
    private(set) var lastAssociatedNs: UInt64?

    init(config: Config = .default) {
        self.config = config
    }

    // MARK: - Queries

    var isDialing: Bool {
        if case .dialing = state { return true }
        return false
    }

    var isAssociated: Bool {
        if case .associated = state { return true }
        return false
    }

    var isRemoved: Bool {
        if case .removed = state { return true }
        return false
    }

    /// The connection the state refers to: our dial's, or the association's.
    var currentConn: UInt64? {
        switch state {
        case .dialing(.connecting(let conn)), .dialing(.handshaking(let conn)), .associated(_, let conn): conn
        default: nil
        }
    }

    /// The associated connection, when associated with `uid` (0: any).
    func associatedConn(uid: UInt64) -> UInt64? {
        if case .associated(let id, let conn) = state, uid == 0 || id.uid == uid { return conn }
        return nil
    }

    /// What the handshake's tie-break (`Handshake.decideInbound`) needs to know about this address.
    var tieBreakPhase: Handshake.PeerPhase {
        switch state {
        case .idle, .backingOff, .removed, .closed: .none
        case .dialing: .dialing
        case .awaitingInbound: .awaitingInbound
        case .associated(let id, _): .associated(uid: id.uid)
        }
    }

    /// What a send of a frame for `uid` (0: whichever node answers) finds. Pure: a `.queueAndDial` takes effect
    /// only when the frame is admitted and `.dialRequested` is fed. `dialNow`: dial at once even while backing off.
    func sendVerdict(uid: UInt64, dialNow: Bool, nowNs: UInt64) -> SendVerdict {
        switch state {
        case .associated(let id, _):
            if uid != 0 && id.uid != uid {
                let wanted = NodeIdentity(address: id.address, uid: uid)
                return .refuse("node at \(id.address) is now \(id), not uid \(wanted.uidHex)")
            }
            return .queue
        case .backingOff(let until, let reason):
            if nowNs < until && !dialNow { return .refuse("backing off after: \(reason)") }
            return .queueAndDial
        case .idle:
            return .queueAndDial
        case .dialing, .awaitingInbound:
            return .queue
        case .removed:
            return .lookAgain
        case .closed:
            return .shutDown
        }
    }

    // MARK: - Transitions

    /// Applies `event` at `nowNs` (monotonic). `jitter` in [0, 1] draws the backoff delay within [d/2, d].
    /// - Returns: the actions to carry out, in order; empty when the event is ignored (stale, or not for this state).
    mutating func handle(_ event: Event, nowNs: UInt64, jitter: Double) -> [Action] {
        switch state {
        case .closed:
            return []
        case .removed:
            // Out of the table: nothing reaches it but an inbound connection racing with the removal.
            if case .inboundAccepted(let conn, _) = event { return [.closeConnection(conn: conn, reason: "peer entry removed")] }
            return []
        default:
            break
        }
        switch event {
        case .dialRequested:
            switch state {
            case .idle, .backingOff:
                enter(.dialing(.requested))
                return [.startDial]
            default:
                return []
            }

        case .associateRequested:
            persistent = true
            guard case .idle = state else { return [] }
            enter(.dialing(.requested))
            return [.startDial]

        case .forgetRequested:
            persistent = false
            return []

        case .dialBegins:
            guard case .dialing(.requested) = state else { return [] }
            let reconnect = redial
            redial = false
            enter(.dialing(.resolving))
            return [.resolve(generation: generation, reconnect: reconnect)]

        case .connectStarted(let conn, let gen):
            guard case .dialing(.resolving) = state, gen == generation else { return [] }
            enter(.dialing(.connecting(conn: conn)))
            return [.connect(conn: conn)]

        case .connected(let conn):
            guard case .dialing(.connecting(conn)) = state else { return [] }
            enter(.dialing(.handshaking(conn: conn)))
            return []

        case .failedBeforeConnect(let gen, let reason):
            guard case .dialing(.resolving) = state, gen == generation else { return [] }
            return dialFailed(reason: reason, refused: false, nowNs: nowNs, jitter: jitter)

        case .connectionClosed(let conn, let reason, let refused):
            switch state {
            case .dialing(.connecting(conn)), .dialing(.handshaking(conn)):
                return dialFailed(reason: reason, refused: refused, nowNs: nowNs, jitter: jitter)
            case .associated(let peer, conn):
                return associationLost(peer, reason: reason, nowNs: nowNs, jitter: jitter)
            default:
                return []
            }

        case .rejectedAsDuplicate(let conn):
            let close = Action.closeConnection(conn: conn, reason: "rejected as duplicate")
            guard case .dialing(.handshaking(conn)) = state else { return currentConn == conn ? [] : [close] }
            enter(.awaitingInbound)
            return [close, .scheduleAwaitInbound(generation: generation, delayNs: config.awaitInboundNs)]

        case .awaitInboundExpired(let gen):
            guard case .awaitingInbound = state, gen == generation else { return [] }
            return dialFailed(reason: "peer kept its own connection but did not complete it", refused: false,
                              nowNs: nowNs, jitter: jitter)

        case .established(let conn, let peer):
            guard case .dialing(.handshaking(conn)) = state else {
                return currentConn == conn ? [] : [.closeConnection(conn: conn, reason: "dial superseded")]
            }
            return associate(peer, conn: conn, nowNs: nowNs, replacing: [])

        case .inboundAccepted(let conn, let peer):
            var before: [Action] = []
            var lost: [Action] = []
            switch state {
            case .dialing(.connecting(let own)), .dialing(.handshaking(let own)):
                before = [.closeConnection(conn: own, reason: "simultaneous connect: keeping the connection dialed by \(peer)")]
            case .associated(let old, let oldConn):
                before = [.closeConnection(conn: oldConn, reason: "replaced by \(peer)"),
                          .dropQueued(.associationLost, reason: "association replaced by \(peer)")]
                lost = [.reportDisassociated(old, reason: "address \(peer.address) now answers with uid \(peer.uidHex)")]
            default:
                break
            }
            return before + associate(peer, conn: conn, nowNs: nowNs, replacing: lost)

        case .backoffFired(let gen):
            guard case .backingOff = state, gen == generation else { return [] }
            if persistent {
                enter(.dialing(.requested))
                return [.startDial]
            }
            enter(.idle)
            return idleNonSeed(nowNs: nowNs)

        case .giveUpCheck(let gen):
            guard gen == generation else { return [] }
            return idleNonSeed(nowNs: nowNs)

        case .discardIfUnused:
            guard !persistent, case .idle = state, unreachableSinceNs == nil else { return [] }
            enter(.removed(givenUp: false))
            return [.forgetEntry]

        case .shutdown:
            unreachableSinceNs = nil
            enter(.closed)
            return [.detach, .dropQueued(.shutdown, reason: "transport shut down")]
        }
    }

    private mutating func enter(_ next: State) {
        state = next
        generation &+= 1
    }

    private func backoffDelayNs(jitter: Double) -> Int64 {
        config.backoff.delay(failures: failures, unit: jitter).nanoseconds
    }

    /// Our dial (resolution, connect, handshake, or the wait for the peer's connection) failed.
    private mutating func dialFailed(reason: String, refused: Bool, nowNs: UInt64, jitter: Double) -> [Action] {
        let since = unreachableSinceNs ?? nowNs
        unreachableSinceNs = since
        let delay = backoffDelayNs(jitter: jitter)
        failures += 1
        enter(.backingOff(untilNs: nowNs &+ UInt64(delay), reason: reason))
        redial = true
        var actions: [Action] = [.dropQueued(.dialFailed, reason: "dial failed: \(reason)"),
                                 .scheduleBackoff(generation: generation, delayNs: delay)]
        if lastUnreachableLogNs.map({ nowNs &- $0 >= config.unreachableLogIntervalNs }) ?? true {
            lastUnreachableLogNs = nowNs
            actions.append(.warnUnreachable(attempts: failures, unreachableMs: (nowNs &- since) / 1_000_000,
                                            lastAssociatedMs: lastAssociatedNs.map { (nowNs &- $0) / 1_000_000 },
                                            seed: persistent, reason: reason))
        }
        actions.append(.reportDialFailed(reason: reason, refused: refused, retryNs: delay))
        return actions
    }

    /// The association with `peer` ended (its connection closed). Not a failed dial: the backoff restarts from
    /// its first step.
    private mutating func associationLost(_ peer: NodeIdentity, reason: String, nowNs: UInt64, jitter: Double) -> [Action] {
        let delay = backoffDelayNs(jitter: jitter)
        enter(.backingOff(untilNs: nowNs &+ UInt64(delay), reason: reason))
        redial = true
        return [.detach, .dropQueued(.associationLost, reason: "association lost: \(reason)"),
                .scheduleBackoff(generation: generation, delayNs: delay), .reportDisassociated(peer, reason: reason)]
    }

    /// The one way into `associated` (our dial or an inbound connection): the failure run is over.
    private mutating func associate(_ peer: NodeIdentity, conn: UInt64, nowNs: UInt64, replacing lost: [Action]) -> [Action] {
        enter(.associated(peer, conn: conn))
        failures = 0
        unreachableSinceNs = nil
        lastUnreachableLogNs = nil
        lastAssociatedNs = nowNs
        // Reported before the queued frames go: the delegate acts (e.g. records durably that this node was in
        // contact with a cluster) before the first of them reaches the peer.
        return [.attach(conn: conn, peer: peer)] + lost + [.reportAssociated(peer), .flush]
    }

    /// An idle non-seed: forgotten at once when none of its dials failed (an association was lost: nothing to
    /// remember), given up when they have failed for `giveUpAfterNs`, else checked again when that time comes.
    private mutating func idleNonSeed(nowNs: UInt64) -> [Action] {
        guard !persistent, case .idle = state else { return [] }
        guard let since = unreachableSinceNs else {
            enter(.removed(givenUp: false))
            return [.forgetEntry]
        }
        let elapsed = nowNs &- since
        if elapsed >= config.giveUpAfterNs {
            let attempts = failures
            unreachableSinceNs = nil
            enter(.removed(givenUp: true))
            return [.giveUpEntry(attempts: attempts, unreachableMs: elapsed / 1_000_000)]
        }
        return [.scheduleGiveUpCheck(generation: generation, delayNs: Int64(config.giveUpAfterNs - elapsed))]
    }
}
