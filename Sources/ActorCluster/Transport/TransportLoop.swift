import CEpoll
import Glibc

// Event-loop side of `Transport`: accepting, dialing, reading, handshakes, association changes, timers.
// Everything here runs on the loop thread except `flush`, which runs on whichever thread holds a peer's
// flusher role.

extension Transport {
    // MARK: - Events

    func connectionEvent(_ c: Connection, _ events: UInt32) {
        guard !c.isClosed else { return }
        if case .connecting = c.phase {
            finishConnect(c)
            return
        }
        let readable = cepoll_EPOLLIN() | cepoll_EPOLLRDHUP() | cepoll_EPOLLHUP() | cepoll_EPOLLERR()
        if events & readable != 0 { onReadable(c) }
        if !c.isClosed, events & cepoll_EPOLLOUT() != 0 { onWritable(c) }
    }

    func acceptConnections() {
        guard let listener = core.listener, !core.closing else { return }
        // Bounded per readiness event; level-triggered epoll reports the rest next round.
        for _ in 0..<64 {
            let fd = cepoll_accept(listener.socket.fd)
            if fd < 0 {
                let e = cepoll_errno()
                if e == EINTR || e == ECONNABORTED { continue }
                if e == EAGAIN || e == EWOULDBLOCK { return }
                // EMFILE/ENFILE/ENOBUFS/ENOMEM: stop accepting for a moment instead of spinning.
                pauseListener(errno: e)
                return
            }
            let loopback = Socket.peerIsLoopback(fd: fd)
            var refusal: String?
            switch Transport.admission(open: openConnections.load(ordering: .relaxed),
                                       handshaking: counters.handshakingConnections.value,
                                       loopback: loopback, settings: settings) {
            case .admit:
                break
            case .evictOldestHandshaking(let why):
                if !evictOldestHandshaking(for: Socket.peerName(fd: fd), loopback: loopback, why: why) { refusal = why }
            case .refuse(let why):
                refusal = why
            }
            if let why = refusal {
                counters.connectionsRefused.increment()
                let refused = SocketHandle(fd: fd, token: core.takeToken())
                Socket.shutdown(fd: refused.fd)
                logger.logLimited(limitLog, .warning, "transport.accept.refused",
                                  ["peer": Socket.peerName(fd: fd), "reason": why,
                                   "open": openConnections.load(ordering: .relaxed),
                                   "handshaking": counters.handshakingConnections.value])
                continue  // `refused` goes out of scope: fd closed
            }
            counters.connectionsAccepted.increment()
            Socket.setNoDelay(fd: fd)
            let token = core.takeToken()
            let socket = SocketHandle(fd: fd, token: token)
            let machine = makeMachine(role: .acceptor)
            let c = Connection(id: token, socket: socket, role: .acceptor, phase: .handshaking, machine: machine,
                               remote: Socket.peerName(fd: fd), transport: self)
            c.isLoopback = loopback
            let rc = loop.register(fd: fd, token: token, events: Interest.read, handler: c)
            guard rc == 0 else {
                logger.warning("transport.accept.failed", ["peer": c.remote, "error": Socket.errorText(rc)])
                continue  // `socket` goes out of scope: fd closed
            }
            core.connections[token] = c
            openConnections.add(1, ordering: .relaxed)
            c.inHandshakeShare = true
            counters.handshakingConnections.increment()
            core.handshakeOrder.append(token)
            core.compactHandshakeOrder(handshaking: counters.handshakingConnections.value)
            c.timer = loop.schedule(afterNs: settings.handshakeTimeout.nanoseconds) { [weak self, weak c] in
                guard let self, let c else { return }
                self.handshakeTimedOut(c)
            }
            logger.debug("transport.accepted", ["peer": c.remote])
        }
    }

    enum Admission: Equatable {
        case admit
        /// Admit after closing the inbound connection that has been handshaking longest (a stranger so far).
        case evictOldestHandshaking(String)
        case refuse(String)
    }

    /// What to do with a socket just accepted. `open` connections of every kind count against `maxConnections`,
    /// `handshaking` inbound ones against `maxHandshakingConnections`; the last `loopbackReservedConnections` of
    /// each are kept for peers on 127.0.0.0/8. Beyond the handshaking share, or at the total cap while strangers
    /// are handshaking, the oldest handshaking connection makes room: a flood of strangers can only push out
    /// other strangers, and a member's handshake (one round trip) completes unless the flood turns the whole
    /// share over within that time. Refused only when every open connection is a member (or a dial of ours).
    static func admission(open: Int, handshaking: Int, loopback: Bool, settings: TransportSettings) -> Admission {
        let reserve = max(0, settings.loopbackReservedConnections)
        let maxTotal = max(1, settings.maxConnections - (loopback ? 0 : reserve))
        let maxHandshaking = max(1, settings.maxHandshakingConnections + (loopback ? reserve : 0))
        if handshaking >= maxHandshaking {
            return .evictOldestHandshaking("maxHandshakingConnections \(settings.maxHandshakingConnections) reached")
        }
        if open >= maxTotal {
            let why = "maxConnections \(settings.maxConnections) reached" + (loopback ? "" : " (\(reserve) kept for loopback)")
            return handshaking > 0 ? .evictOldestHandshaking(why) : .refuse(why)
        }
        return .admit
    }

    /// Closes an inbound connection still handshaking, to admit `newcomer`: the oldest that has not yet sent a
    /// valid offer (silent or garbage connections go first, so a flood of them cannot push out a member that is
    /// half-way through proving itself), else the oldest of all. A newcomer from another host never pushes out a
    /// loopback connection (local operator tools keep their reserve). False when there is none.
    private func evictOldestHandshaking(for newcomer: String, loopback: Bool, why: String) -> Bool {
        var victim: Connection?
        // Bounded by the list (twice); stale ids (completed or closed) at the head are dropped, a victim further
        // in is marked 0 (no connection has token 0) and skipped later.
        for onlyBeforeOffer in [true, false] where victim == nil {
            var i = core.handshakeHead
            while i < core.handshakeOrder.count {
                let id = core.handshakeOrder[i]
                guard let c = core.connections[id], c.inHandshakeShare, !c.isClosed else {
                    if i == core.handshakeHead { core.handshakeHead += 1 }
                    i += 1
                    continue
                }
                let beforeOffer = c.machine.state == .awaitingOffer
                if (loopback || !c.isLoopback) && (beforeOffer || !onlyBeforeOffer) {
                    victim = c
                    core.handshakeOrder[i] = 0
                    if i == core.handshakeHead { core.handshakeHead += 1 }
                    break
                }
                i += 1
            }
        }
        core.compactHandshakeOrder(handshaking: counters.handshakingConnections.value)
        guard let victim else { return false }
        counters.connectionsEvicted.increment()
        logger.logLimited(limitLog, .warning, "transport.accept.evicted",
                          ["peer": victim.remote, "newcomer": newcomer, "reason": why,
                           "handshaking": counters.handshakingConnections.value])
        close(victim, reason: "evicted while handshaking: \(why)")
        return true
    }

    private func pauseListener(errno e: Int32) {
        guard let listener = core.listener, !core.listenerPaused else { return }
        core.listenerPaused = true
        logger.error("transport.accept.paused", ["error": Socket.errorText(e), "pause_ms": 100])
        loop.setInterest(fd: listener.socket.fd, token: listener.socket.token, events: Interest.none)
        _ = loop.schedule(afterNs: 100_000_000) { [weak self] in
            guard let self, !self.core.closing, let l = self.core.listener else { return }
            self.core.listenerPaused = false
            self.loop.setInterest(fd: l.socket.fd, token: l.socket.token, events: Interest.read)
        }
    }

    func makeMachine(role: Handshake.Machine.Role,
                     dialed: (address: NodeAddress, connectedIP: String?)? = nil) -> Handshake.Machine {
        Handshake.Machine(role: role, local: core.local, clusterName: clusterName, versions: settings.protocolVersions,
                          auth: settings.auth, operatorCredential: settings.operatorCredential,
                          maxFrameBytes: settings.maxFrameBytes, dialed: dialed)
    }

    // MARK: - Dialing

    /// Loop thread: begins a requested dial (the lifecycle answers `.resolve` when it still is one).
    func startDial(_ p: Peer) {
        guard !core.closing else { return }
        feed(p, .dialBegins)
    }

    /// Loop thread (`.resolve`): a dotted literal connects at once; a name is resolved off the loop thread and the
    /// dial goes on when the answer (or the timeout) comes back.
    private func resolve(_ p: Peer, generation: UInt64, reconnect: Bool) {
        if reconnect { counters.reconnectAttempts.increment() }
        if let ip = Socket.literalIPv4(p.address.host) {
            connect(p, ip: ip, generation: generation)
            return
        }
        resolver.resolve(p.address.host) { [weak self] outcome in
            guard let self, !self.core.closing else { return }
            switch outcome {
            case .address(let ip): self.connect(p, ip: ip, generation: generation)
            case .failed(let why): self.feed(p, .failedBeforeConnect(generation: generation, reason: why))
            }
        }
    }

    /// Loop thread: makes the socket of the dial of `generation` and, when the lifecycle says it is still this
    /// dial's (`.connect`), starts its TCP connect.
    private func connect(_ p: Peer, ip: in_addr, generation: UInt64) {
        let fd = cepoll_tcp_socket()
        guard fd >= 0 else {
            let e = cepoll_errno()
            feed(p, .failedBeforeConnect(generation: generation, reason: "socket: \(Socket.errorText(e))"))
            return
        }
        let token = core.takeToken()
        let socket = SocketHandle(fd: fd, token: token)
        let fx = p.state.withLock { $0.handle(.connectStarted(conn: token, generation: generation), nowNs: Monotonic.nowNs()) }
        // A stale dial (the state moved on): nothing to do; the socket closes with its handle.
        guard fx.actions == [.connect(conn: token)] else { return }
        let c = Connection(id: token, socket: socket, role: .dialer(p), phase: .connecting,
                           machine: makeMachine(role: .dialer, dialed: (p.address, Socket.dottedIPv4(ip))),
                           remote: p.address.description, transport: self)
        c.faultAddress = p.address
        let rc = loop.register(fd: fd, token: token, events: Interest.write, handler: c)
        guard rc == 0 else {
            feed(p, .connectionClosed(conn: token, reason: "epoll_ctl: \(Socket.errorText(rc))", refused: false))
            return
        }
        core.connections[token] = c
        openConnections.add(1, ordering: .relaxed)
        logger.debug("transport.dialing", ["peer": p.address])
        switch Socket.startConnect(fd: fd, to: ip, port: p.address.port) {
        case .connected:
            finishConnect(c)
        case .inProgress:
            scheduleConnectTimeout(c)
        case .failed(let e, _):
            if isFaultBlocked(c.faultAddress) {
                // A partition hides the refusal: the connect times out instead.
                scheduleConnectTimeout(c)
                _ = parkIfFaultBlocked(c)
            } else {
                close(c, reason: Socket.connectFailureReason(e), refused: e == ECONNREFUSED)
            }
        }
    }

    private func scheduleConnectTimeout(_ c: Connection) {
        c.timer = loop.schedule(afterNs: settings.connectTimeout.nanoseconds) { [weak self, weak c] in
            guard let self, let c, case .connecting = c.phase else { return }
            self.close(c, reason: "connect timed out after \(self.settings.connectTimeout)")
        }
    }

    private func finishConnect(_ c: Connection) {
        let err = Socket.pendingError(fd: c.socket.fd)
        guard err == 0 else {
            if parkIfFaultBlocked(c) { return }
            close(c, reason: Socket.connectFailureReason(err), refused: err == ECONNREFUSED)
            return
        }
        if let t = c.timer { loop.cancel(t) }
        if case .dialer(let p) = c.role { feed(p, .connected(conn: c.id)) }
        Socket.setNoDelay(fd: c.socket.fd)
        c.phase = .handshaking
        c.timer = loop.schedule(afterNs: settings.handshakeTimeout.nanoseconds) { [weak self, weak c] in
            guard let self, let c else { return }
            self.handshakeTimedOut(c)
        }
        c.handshakeOut = Wire.FrameParser.encode(.handshakeOffer, payload: c.machine.makeOffer().encode())
        c.handshakeOutOffset = 0
        loop.setInterest(fd: c.socket.fd, token: c.socket.token, events: Interest.read)
        writeHandshakeOut(c)
    }

    /// Writes the pending handshake bytes of a not-yet-associated connection (loop only).
    private func writeHandshakeOut(_ c: Connection) {
        if c.handshakeOutOffset == 0, !c.handshakeOut.isEmpty, isFaultBlocked(c.faultAddress) {
            // Fault injection: the frame is lost on the way (a frame begun is finished, or the stream would break).
            counters.faultInjectionDropped.increment()
            c.handshakeOut = []
            loop.setInterest(fd: c.socket.fd, token: c.socket.token, events: Interest.read)
            return
        }
        var attempts = 0
        while c.handshakeOutOffset < c.handshakeOut.count, attempts < 16 {
            attempts += 1
            let offset = c.handshakeOutOffset
            let result = c.handshakeOut.withUnsafeBytes { raw -> IOResult in
                guard let base = raw.baseAddress else { return .wouldBlock }
                return Socket.write(fd: c.socket.fd, from: base + offset, count: raw.count - offset)
            }
            switch result {
            case .bytes(let n):
                c.handshakeOutOffset += n
                counters.bytesOut.increment(by: n)
            case .wouldBlock, .eof:
                loop.setInterest(fd: c.socket.fd, token: c.socket.token, events: Interest.readWrite)
                return
            case .error(let e):
                close(c, reason: "write: \(Socket.errorText(e))")
                return
            }
        }
        if c.handshakeOutOffset >= c.handshakeOut.count {
            if !c.handshakeOut.isEmpty { counters.framesOut.increment() }
            c.handshakeOut = []
            c.handshakeOutOffset = 0
            loop.setInterest(fd: c.socket.fd, token: c.socket.token, events: Interest.read)
        }
    }

    private func handshakeTimedOut(_ c: Connection) {
        guard !c.isClosed else { return }
        switch c.phase {
        case .handshaking, .connecting:
            counters.handshakeTimeouts.increment()
            logger.logLimited(limitLog, .warning, "transport.handshake.timeout", ["peer": c.remote, "timeout": settings.handshakeTimeout])
            close(c, reason: "handshake timed out after \(settings.handshakeTimeout)")
        default:
            return
        }
    }

    // MARK: - Reading

    private func onReadable(_ c: Connection) {
        var chunk = min(max(settings.readChunkBytes, 512), 16 << 20)
        var reads = 0
        while reads < 8, !c.isClosed {
            reads += 1
            // Strangers' frames are small (offers, responses): read them in small chunks.
            if c.chargedToHandshake { chunk = min(chunk, Self.handshakeReadChunk) }
            guard c.prepareBuffer(chunk: chunk, admit: { setReadCharge(c, $0, check: true) }) else {
                readBudgetExceeded(c)
                return
            }
            let offset = c.end
            let fd = c.socket.fd
            let result = c.buffer.withUnsafeMutableBytes { raw -> IOResult in
                guard let base = raw.baseAddress, raw.count > offset else { return .wouldBlock }
                return Socket.read(fd: fd, into: base + offset, count: raw.count - offset)
            }
            switch result {
            case .bytes(let n):
                c.end += n
                // Bytes from a blocked address (fault injection) are dropped: they do not keep the association alive.
                if !isFaultBlocked(c.faultAddress) { c.lastReadNs = Monotonic.nowNs() }
                counters.bytesIn.increment(by: n)
                let filled = c.end >= c.buffer.count
                processFrames(c)
                releaseConsumedBuffer(c)
                // A short read drained the socket; level-triggered epoll reports more data later.
                if !filled { return }
            case .wouldBlock:
                releaseConsumedBuffer(c)
                return
            case .eof:
                if parkIfFaultBlocked(c) { return }
                close(c, reason: "connection closed by peer")
                return
            case .error(let e):
                if parkIfFaultBlocked(c) { return }
                close(c, reason: "read: \(Socket.errorText(e))")
                return
            }
        }
    }

    /// Read chunk of connections still handshaking.
    static let handshakeReadChunk = 4 << 10

    /// Sets `c`'s charge against its read budget to `bytes`. With `check`, refuses (false, nothing changed) a
    /// growth that would take the pool beyond its limit.
    @discardableResult
    func setReadCharge(_ c: Connection, _ bytes: Int, check: Bool) -> Bool {
        let gauge = c.chargedToHandshake ? counters.handshakeReadBufferBytes : counters.readBufferBytes
        let limit = c.chargedToHandshake ? settings.maxHandshakeReadBufferBytes : settings.maxReadBufferBytes
        let delta = bytes - c.readCharge
        if check, delta > 0, gauge.value + delta > max(0, limit) { return false }
        if delta != 0 { gauge.increment(by: delta) }
        c.readCharge = bytes
        return true
    }

    /// Every byte read was parsed: the buffer goes (the next read takes a fresh one anyway), and its charge.
    private func releaseConsumedBuffer(_ c: Connection) {
        guard !c.isClosed, c.start >= c.end, c.delivered || c.end == 0 else { return }
        c.dropBuffer()
        setReadCharge(c, 0, check: false)
    }

    /// The connection `c` asked for more read buffer than its pool has left: it is closed (the others keep theirs).
    private func readBudgetExceeded(_ c: Connection) {
        counters.readBudgetExceeded.increment()
        let handshake = c.chargedToHandshake
        logger.logLimited(limitLog, .warning, "transport.limit.read_buffer",
                          ["peer": c.remote, "pool": handshake ? "handshake" : "members",
                           "held": handshake ? counters.handshakeReadBufferBytes.value : counters.readBufferBytes.value,
                           "limit": handshake ? settings.maxHandshakeReadBufferBytes : settings.maxReadBufferBytes])
        close(c, reason: "node-wide read buffer budget exceeded")
    }

    private func processFrames(_ c: Connection) {
        var target = delegate
        // Bounded: each frame consumes at least a 5-byte header of the buffer.
        while !c.isClosed, c.start < c.end {
            switch c.parser.parse(c.buffer[c.start..<c.end]) {
            case .needMore:
                return
            case .error(let e):
                counters.framesMalformed.increment()
                if case .associated = c.phase {
                    logger.warning("transport.frame.malformed", ["peer": c.remote, "reason": e.description])
                } else {
                    logger.logLimited(limitLog, .warning, "transport.frame.malformed", key: "transport.frame.malformed.stranger",
                                      ["peer": c.remote, "reason": e.description])
                }
                close(c, reason: "malformed frame: \(e)")
                return
            case .frame(let frame, let consumed):
                c.start += consumed
                c.delivered = true
                if settings.faultInjection, faultDrops(c, frame) {
                    counters.faultInjectionDropped.increment()
                    continue
                }
                counters.framesIn.increment()
                switch c.phase {
                case .associated(_, let identity):
                    if frame.kind.rawValue >= 0x10 {
                        target?.transport(self, received: frame.kind, payload: frame.payload, from: identity)
                    } else if frame.kind != .heartbeat {
                        counters.framesMalformed.increment()
                        logger.warning("transport.frame.malformed", ["peer": c.remote, "reason": "\(frame.kind) after handshake"])
                        close(c, reason: "\(frame.kind) frame after handshake")
                    }
                case .handshaking:
                    handshakeFrame(c, frame)
                    target = delegate
                case .connecting, .closed:
                    return
                }
            }
        }
    }

    // MARK: - Fault injection

    /// Whether `frame`, read from `c`, is dropped because its sender's address is blocked (`setBlockedPeers`). An
    /// offer names its sender: an accepted connection learns its address from it.
    private func faultDrops(_ c: Connection, _ frame: Wire.FrameParser.Frame) -> Bool {
        if c.faultAddress == nil, frame.kind == .handshakeOffer, let offer = try? Handshake.Offer.decode(frame.payload) {
            c.faultAddress = offer.identity.address
        }
        return isFaultBlocked(c.faultAddress)
    }

    /// A connection to a blocked address that failed (refused, reset, closed by the peer) is not told so, as a
    /// partition would hide it: reads stop and only this node's own timers (connect, handshake, idle) end it.
    /// - Returns: false (nothing done) when the address is not blocked.
    private func parkIfFaultBlocked(_ c: Connection) -> Bool {
        guard isFaultBlocked(c.faultAddress) else { return false }
        loop.deregister(fd: c.socket.fd, token: c.socket.token)
        logger.debug("transport.fault_injection.hidden_close", ["peer": c.remote])
        return true
    }

    // MARK: - Handshake

    private func phaseForTieBreak(_ address: NodeAddress) -> Handshake.PeerPhase {
        guard let p = peers.withLock({ $0[address] }) else { return .none }
        return p.state.withLock { $0.life.tieBreakPhase }
    }

    private func handshakeFrame(_ c: Connection, _ frame: Wire.FrameParser.Frame) {
        if core.closing || stopping.load(ordering: .relaxed), !c.isDialer {
            sendRejectAndClose(c, Handshake.Reject(.shuttingDown, "node is shutting down"))
            return
        }
        let step = c.machine.receive(frame.kind, payload: frame.payload, phaseOf: { phaseForTieBreak($0) })
        switch step {
        case .send(let kind, let payload):
            c.handshakeOut = Wire.FrameParser.encode(kind, payload: payload)
            c.handshakeOutOffset = 0
            writeHandshakeOut(c)
        case .accept(let peerID, _, let resolution):
            let room = peers.withLock { $0[peerID.address] != nil || $0.count < max(1, settings.maxPeerEntries) }
            guard room else {
                counters.peerTableFull.increment()
                logger.logLimited(limitLog, .warning, "transport.limit.peer_table", ["peer": peerID,
                                                                                     "limit": settings.maxPeerEntries])
                sendRejectAndClose(c, Handshake.Reject(.other(Self.rejectOverloaded), "peer table full"))
                return
            }
            acceptInbound(c, peer: peerID, resolution: resolution)
        case .authFailed(let claimed, let why):
            counters.handshakeFailures.increment()
            counters.authFailures.increment()
            logger.logLimited(limitLog, .warning, "transport.handshake.auth_failed", ["peer": c.remote, "claimed": claimed, "reason": why])
            sendRejectAndClose(c, Handshake.Reject(.authFailed, "your proof of the cluster secret is not accepted"))
        case .reject(let reject, let peerID):
            if reject.reason == .duplicate {
                counters.handshakeDuplicates.increment()
            } else {
                counters.handshakeFailures.increment()
            }
            if reject.reason == .authFailed { counters.authFailures.increment() }
            if reject.reason == .badMagic || reject.reason == .malformed { counters.framesMalformed.increment() }
            if reject.reason == .duplicate {
                logger.debug("transport.handshake.rejected", ["peer": peerID.map { "\($0)" } ?? c.remote, "reason": reject])
            } else {
                logger.logLimited(limitLog, .warning, "transport.handshake.rejected",
                                  ["peer": peerID.map { "\($0)" } ?? c.remote, "reason": reject])
            }
            sendRejectAndClose(c, reject)
        case .established(let peerID, _):
            dialerEstablished(c, peer: peerID)
        case .rejected(let reject):
            dialerRejected(c, reject)
        case .violation(let why):
            counters.handshakeFailures.increment()
            logger.logLimited(limitLog, .warning, "transport.handshake.violation", ["peer": c.remote, "reason": why])
            close(c, reason: why)
        }
    }

    private func sendRejectAndClose(_ c: Connection, _ reject: Handshake.Reject) {
        if isFaultBlocked(c.faultAddress) {
            counters.faultInjectionDropped.increment()
            close(c, reason: "handshake rejected: \(reject)")
            return
        }
        let bytes = Wire.FrameParser.encode(.handshakeReject, payload: reject.encode())
        // Best effort: a fresh socket's buffer takes a small frame at once.
        let n = bytes.withUnsafeBytes { raw -> IOResult in
            guard let base = raw.baseAddress else { return .wouldBlock }
            return Socket.write(fd: c.socket.fd, from: base, count: raw.count)
        }
        if case .bytes(let w) = n {
            counters.bytesOut.increment(by: w)
            counters.framesOut.increment()
        }
        close(c, reason: "handshake rejected: \(reject)")
    }

    private func dialerRejected(_ c: Connection, _ reject: Handshake.Reject) {
        guard case .dialer(let p) = c.role else {
            // The dialer refused our (the acceptor's) proof: the secrets differ.
            counters.handshakeFailures.increment()
            if reject.reason == .authFailed { counters.authFailures.increment() }
            logger.logLimited(limitLog, .warning, "transport.handshake.refused_by_dialer", ["peer": c.remote, "reason": reject])
            close(c, reason: "handshake refused by the dialer: \(reject)")
            return
        }
        if reject.reason == .duplicate {
            // The peer keeps (or will keep) its own connection to us: wait for it, frames stay pending.
            logger.debug("transport.dial.duplicate", ["peer": p.address, "reason": reject.message])
            feed(p, .rejectedAsDuplicate(conn: c.id))
            return
        }
        counters.handshakeFailures.increment()
        logger.warning("transport.dial.rejected", ["peer": p.address, "reason": reject])
        close(c, reason: "handshake rejected: \(reject)")
    }

    // MARK: - Association

    /// Reject code 8: a node-wide limit refused the association (old versions read it as a plain refusal).
    static let rejectOverloaded: UInt8 = 8

    private func acceptInbound(_ c: Connection, peer identity: NodeIdentity, resolution: Handshake.InboundResolution) {
        // Checked by the caller (`maxPeerEntries`); forced so a race with a sender cannot strand the connection.
        guard let p = peerEntry(identity.address, force: true) else { return }
        // `resolution` is what the tie-break saw; the lifecycle applies it (it sees the same state: both run here).
        _ = resolution
        associate(c, p, identity, inbound: true)
    }

    private func dialerEstablished(_ c: Connection, peer advertised: NodeIdentity) {
        guard case .dialer(let p) = c.role else { return }
        // Keyed by the dialed address, so the caller finds the association under the address it used.
        let identity = NodeIdentity(address: p.address, uid: advertised.uid)
        if advertised.address != p.address {
            logger.info("transport.peer.address", ["dialed": p.address, "advertised": advertised.address])
        }
        associate(c, p, identity, inbound: false)
    }

    /// The one way a connection becomes an association: our dial completed (`inbound` false) or an inbound
    /// connection proved itself and won the tie-break (`inbound`: the accept goes out ahead of every queued frame).
    /// The lifecycle decides (a superseded dial is closed instead); this carries it out.
    private func associate(_ c: Connection, _ p: Peer, _ identity: NodeIdentity, inbound: Bool) {
        let event: PeerLifecycle.Event = inbound ? .inboundAccepted(conn: c.id, peer: identity)
            : .established(conn: c.id, peer: identity)
        let accept = inbound ? Wire.FrameParser.encode(.handshakeAccept, payload: Handshake.Accept().encode()) : nil
        let attachment = Attachment(socket: c.socket, peerMaxFrameBytes: c.machine.peerMaxFrameBytes.map(Int.init),
                                    firstFrame: accept)
        let fx = p.state.withLock { $0.handle(event, nowNs: Monotonic.nowNs(), attaching: attachment) }
        if fx.attached {
            if inbound { counters.framesOut.increment() }
            connectionAssociated(c, p, identity)
        }
        perform(fx, p, connection: c)
    }

    /// The connection side of an association: handshake timer off, keep-alive on, member read budget.
    private func connectionAssociated(_ c: Connection, _ p: Peer, _ identity: NodeIdentity) {
        if let t = c.timer { loop.cancel(t) }
        c.timer = nil
        c.phase = .associated(p, identity)
        c.remote = identity.description
        c.faultAddress = p.address
        c.parser.maxFrameBytes = max(1, settings.maxFrameBytes)
        leaveHandshakeShare(c)
        // From now on its read buffer counts against the members' budget.
        let held = c.readCharge
        setReadCharge(c, 0, check: false)
        c.chargedToHandshake = false
        setReadCharge(c, held, check: false)
        c.handshakeOut = []
        c.lastReadNs = Monotonic.nowNs()
        scheduleKeepalive(c)
    }

    private func leaveHandshakeShare(_ c: Connection) {
        guard c.inHandshakeShare else { return }
        c.inHandshakeShare = false
        counters.handshakingConnections.decrement()
    }

    // MARK: - Keep-alive

    private func scheduleKeepalive(_ c: Connection) {
        c.timer = loop.schedule(afterNs: max(1_000_000, settings.heartbeatInterval.nanoseconds)) { [weak self, weak c] in
            guard let self, let c else { return }
            self.keepalive(c)
        }
    }

    /// Closes an association that has been silent longer than `idleTimeout`; otherwise sends a heartbeat.
    private func keepalive(_ c: Connection) {
        guard case .associated(let p, let identity) = c.phase else { return }
        let now = Monotonic.nowNs()
        let silentNs = now &- c.lastReadNs
        if Int64(clamping: silentNs) > settings.idleTimeout.nanoseconds {
            counters.idleTimeouts.increment()
            close(c, reason: "nothing received for \(silentNs / 1_000_000) ms (peer hung or partitioned)")
            return
        }
        // A peer that stopped reading: its queue stayed at or above `stalledPeerBytes` for `stalledPeerTimeout`,
        // or — whatever its size, e.g. when the node-wide budget keeps every queue small — bytes have waited that
        // long without a single byte of them being written while its socket refused more.
        let threshold = max(1, settings.stalledPeerBytes)
        let timeoutNs = UInt64(max(0, settings.stalledPeerTimeout.nanoseconds))
        let stalled = p.state.withLock { s -> Int? in
            var noProgress = false
            if s.queuedBytes > 0 {
                let queuedSince = s.queuedSinceNs ?? now
                s.queuedSinceNs = queuedSince
                // Only while the socket refuses bytes (EPOLLOUT armed) is the peer the one not reading: bytes a
                // writer of this node has not offered yet (a call thread finishing its batch) are not its doing.
                noProgress = s.outArmed && now &- max(queuedSince, s.lastWriteProgressNs ?? 0) >= timeoutNs
            } else {
                s.queuedSinceNs = nil
            }
            guard s.queuedBytes >= threshold || noProgress else {
                s.stalledSinceNs = nil
                return nil
            }
            let since = s.stalledSinceNs ?? now
            s.stalledSinceNs = since
            return (now &- since >= timeoutNs || noProgress) ? s.queuedBytes : nil
        }
        if let queued = stalled {
            counters.peersStalled.increment()
            logger.logLimited(limitLog, .warning, "transport.limit.stalled_peer",
                              ["peer": identity, "queued": queued, "threshold": threshold,
                               "after": settings.stalledPeerTimeout])
            close(c, reason: "peer stopped reading: \(queued) bytes queued for \(settings.stalledPeerTimeout)")
            return
        }
        try? send(.heartbeat, to: identity) { _ in }
        scheduleKeepalive(c)
    }

    // MARK: - Closing

    /// Closes `c` (idempotent) and tells its peer's lifecycle, which decides the consequences: a lost association
    /// (`disassociated` + backoff), a failed dial (`dialFailed` + backoff), or nothing (a dial abandoned or
    /// superseded, an inbound connection still handshaking). `refused`: the TCP connect failed with ECONNREFUSED.
    /// Loop thread only.
    func close(_ c: Connection, reason: String, refused: Bool = false) {
        guard !c.isClosed else { return }
        let previous = c.phase
        c.phase = .closed
        if let t = c.timer { loop.cancel(t) }
        c.timer = nil
        loop.deregister(fd: c.socket.fd, token: c.socket.token)
        Socket.shutdown(fd: c.socket.fd)
        core.connections[c.id] = nil
        openConnections.subtract(1, ordering: .relaxed)
        leaveHandshakeShare(c)
        setReadCharge(c, 0, check: false)
        c.dropBuffer()
        c.handshakeOut = []
        guard !core.closing else { return }
        switch previous {
        case .associated(let p, _):
            feed(p, .connectionClosed(conn: c.id, reason: reason, refused: false))
        case .connecting, .handshaking:
            if case .dialer(let p) = c.role {
                feed(p, .connectionClosed(conn: c.id, reason: reason, refused: refused))
            } else {
                logger.debug("transport.inbound.closed", ["peer": c.remote, "reason": reason])
            }
        case .closed:
            return
        }
    }

    // MARK: - Peer lifecycle

    /// Feeds `event` to `p`'s lifecycle under its lock and carries out the actions.
    func feed(_ p: Peer, _ event: PeerLifecycle.Event) {
        let fx = p.state.withLock { $0.handle(event, nowNs: Monotonic.nowNs()) }
        perform(fx, p)
    }

    /// The same holding the table's lock too, for events that may remove the entry (`.forgetEntry`,
    /// `.giveUpEntry`): it leaves the table in the same critical section as its state becomes `removed`. No
    /// effect when `p` is no longer the table's entry for its address. `perform` false: the caller only wanted
    /// the entry gone (no log line).
    func feedUnderTable(_ p: Peer, _ event: PeerLifecycle.Event, perform carryOut: Bool = true) {
        let fx = peers.withLock { table -> PeerEffects? in
            guard table[p.address] === p else { return nil }
            let fx = p.state.withLock { $0.handle(event, nowNs: Monotonic.nowNs()) }
            if fx.actions.contains(where: { if case .forgetEntry = $0 { true } else if case .giveUpEntry = $0 { true } else { false } }) {
                table[p.address] = nil
            }
            return fx
        }
        if carryOut, let fx { perform(fx, p) }
    }

    /// Carries out, in order, the actions of a transition that are not on the peer's state (those were carried out
    /// under its lock by `PeerState.handle`). `connection`: the connection an `.attach` made the association's.
    /// Loop thread, except for transitions whose actions only queue work on the loop (`.startDial`) or report
    /// dropped frames (`associate(with:)`, `shutdown`).
    func perform(_ fx: PeerEffects, _ p: Peer, connection: Connection? = nil) {
        for action in fx.actions {
            switch action {
            case .startDial:
                loop.execute { [self] in startDial(p) }
            case .resolve(let generation, let reconnect):
                resolve(p, generation: generation, reconnect: reconnect)
            case .connect:
                break  // `connect` fed the event and goes on itself
            case .closeConnection(let conn, let reason):
                if let c = core.connections[conn] { close(c, reason: reason) }
            case .dropQueued(let why, let reason):
                reportUndelivered(fx.dropped, to: p.address, why, reason: reason)
            case .attach(_, let peer):
                reportTooLong(fx.tooLong, to: peer, limit: fx.peerMaxFrameBytes)
                reportUndelivered(fx.restarted, to: p.address, .peerRestarted,
                                  reason: "address \(p.address) now answers with uid \(peer.uidHex)")
            case .detach:
                break
            case .flush:
                if fx.flushNow { flush(p, budgetBytes: Self.loopFlushBudget) }
            case .scheduleBackoff(let generation, let delayNs):
                schedulePeerTimer(p, afterNs: delayNs, underTable: true, .backoffFired(generation: generation))
            case .scheduleAwaitInbound(let generation, let delayNs):
                schedulePeerTimer(p, afterNs: delayNs, underTable: false, .awaitInboundExpired(generation: generation))
            case .scheduleGiveUpCheck(let generation, let delayNs):
                schedulePeerTimer(p, afterNs: delayNs, underTable: true, .giveUpCheck(generation: generation))
            case .reportAssociated(let peer):
                reportAssociated(peer, p, fx, isOperator: connection?.machine.peerIsOperator ?? false)
            case .reportDisassociated(let peer, let reason):
                associationTable.withLock { table in
                    if table[p.address] == peer { table[p.address] = nil }
                }
                operatorPeers.withLock { _ = $0.remove(peer) }
                counters.disassociations.increment()
                logger.info("transport.association.down", ["peer": peer, "reason": reason])
                delegate?.transport(self, disassociated: peer, reason: reason)
            case .reportDialFailed(let reason, let refused, let retryNs):
                counters.dialFailures.increment()
                // A member's calls can make this node dial any number of addresses: one info line per interval for all.
                logger.logLimited(limitLog, .info, "transport.dial.failed",
                                  ["peer": p.address, "reason": reason, "retry_ms": retryNs / 1_000_000])
                refreshUnreachableGauge()
                delegate?.transport(self, dialFailed: p.address, reason: reason, refused: refused)
            case .warnUnreachable(let attempts, let unreachableMs, let lastAssociatedMs, let seed, let reason):
                let fields: KeyValuePairs<String, Any> = [
                    "peer": p.address, "attempts": attempts, "unreachable_ms": unreachableMs,
                    "last_associated": lastAssociatedMs.map { "\($0) ms ago" } ?? "never", "seed": seed, "reason": reason]
                if seed {
                    // Seeds are few (configured): each keeps its own line every `unreachableLogInterval`.
                    logger.warning("transport.peer.unreachable", fields)
                } else {
                    // Other addresses come from callers (any number of them): one line per interval for all.
                    logger.logLimited(limitLog, .warning, "transport.peer.unreachable",
                                      key: "transport.peer.unreachable.non_seed", fields)
                }
            case .forgetEntry:
                logger.debug("transport.peer.forgotten", ["peer": p.address])
            case .giveUpEntry(let attempts, let unreachableMs):
                // Log and gauge first, counter last: whoever sees the counter move sees the rest too.
                logger.logLimited(limitLog, .warning, "transport.peer.given_up",
                                  ["peer": p.address, "attempts": attempts, "unreachable_ms": unreachableMs,
                                   "after": settings.giveUpUnreachableAfter])
                refreshUnreachableGauge()
                counters.peersGivenUp.increment()
            }
        }
    }

    /// Loop thread: feeds `event` (a timer carrying its generation) after `afterNs`, unless shutting down.
    private func schedulePeerTimer(_ p: Peer, afterNs: Int64, underTable: Bool, _ event: PeerLifecycle.Event) {
        _ = loop.schedule(afterNs: afterNs) { [weak self] in
            guard let self, !self.core.closing else { return }
            if underTable { self.feedUnderTable(p, event) } else { self.feed(p, event) }
        }
    }

    /// `.reportAssociated`: the association table, counters, log, the delegate — and `disassociated` for the uids
    /// whose frames `.attach` dropped (the address now answers with another uid), unless already reported.
    private func reportAssociated(_ identity: NodeIdentity, _ p: Peer, _ fx: PeerEffects, isOperator: Bool) {
        associationTable.withLock { $0[p.address] = identity }
        operatorPeers.withLock { set in
            set = set.filter { $0.address != p.address }
            if isOperator { set.insert(identity) }
        }
        counters.associations.increment()
        refreshUnreachableGauge()
        logger.info("transport.association.up", ["peer": identity])
        let target = delegate
        target?.transport(self, associated: identity)
        for uid in fx.restartedUIDs.sorted() where uid != identity.uid && uid != 0 {
            let old = NodeIdentity(address: p.address, uid: uid)
            let reported = fx.actions.contains { if case .reportDisassociated(old, _) = $0 { true } else { false } }
            if reported { continue }
            target?.transport(self, disassociated: old, reason: "address \(p.address) now answers with uid \(identity.uidHex)")
        }
    }

    /// Sets `hotline_peers_unreachable` from the peer table (O(peers); called on dial failures, associations and
    /// give-ups, which the backoff keeps infrequent).
    func refreshUnreachableGauge() {
        let all = peers.withLock { Array($0.values) }
        var n = 0
        for p in all where p.state.withLock({ $0.life.unreachableSinceNs != nil }) { n += 1 }
        counters.peersUnreachable.set(n)
    }

    enum UndeliveredReason: Sendable, Equatable {
        case dialFailed, associationLost, peerRestarted, shutdown
    }

    /// Tells the senders of frames queued before the handshake that the peer's frame limit turned out too small
    /// for them (outside any peer lock).
    private func reportTooLong(_ frames: [(frame: OutFrame, length: Int)], to peer: NodeIdentity, limit: Int?) {
        guard let limit, !frames.isEmpty else { return }
        counters.undeliveredTooLarge.increment(by: frames.count)
        logger.warning("transport.frame.too_large_for_peer", ["peer": peer, "frames": frames.count, "limit": limit])
        for (frame, length) in frames { frame.onUndelivered?(.frameTooLarge(bytes: length, max: limit)) }
    }

    /// Counts dropped frames and tells their senders (outside any peer lock; any thread).
    func reportUndelivered(_ dropped: DroppedFrames, to address: NodeAddress, _ why: UndeliveredReason, reason: String) {
        guard !dropped.isEmpty else { return }
        let counter: Counter
        switch why {
        case .dialFailed: counter = counters.undeliveredDialFailed
        case .associationLost: counter = counters.undeliveredAssociationLost
        case .peerRestarted: counter = counters.undeliveredPeerRestarted
        case .shutdown: counter = counters.undeliveredShutdown
        }
        counter.increment(by: dropped.count)
        let error: TransportError = why == .shutdown ? .shutDown : .nodeUnreachable(address, reason: reason)
        for h in dropped.handlers { h(error) }
    }

    /// Shutdown, on the loop thread: closes the listener and every connection without delegate calls.
    func closeAll() {
        core.closing = true
        if let l = core.listener {
            loop.deregister(fd: l.socket.fd, token: l.socket.token)
            core.listener = nil
        }
        let all = Array(core.connections.values)
        for c in all { close(c, reason: "transport shut down") }
        let everyPeer = peers.withLock { Array($0.values) }
        for p in everyPeer {
            let fx = p.state.withLock { $0.handle(.shutdown, nowNs: Monotonic.nowNs()) }
            perform(fx, p)
        }
    }

    // MARK: - Writing

    private func onWritable(_ c: Connection) {
        switch c.phase {
        case .handshaking:
            writeHandshakeOut(c)
        case .associated(let p, _):
            let acquired = p.state.withLock { s -> Bool in
                guard s.socket === c.socket else { return false }
                if s.flushing {
                    // The current flusher re-arms EPOLLOUT if the socket fills again.
                    if s.outArmed {
                        s.outArmed = false
                        loop.setInterest(fd: c.socket.fd, token: c.socket.token, events: Interest.read)
                    }
                    return false
                }
                s.flushing = true
                return true
            }
            if acquired { flush(p, budgetBytes: Self.loopFlushBudget) }
        default:
            return
        }
    }

    private enum FlushJob {
        case write(SocketHandle, [UInt8], Int)
        case done
    }

    private enum FlushNext {
        case again
        case stop
        case closeConnection
    }

    /// Writes queued frames of `p` (control first) in coalesced batches. The caller holds the flusher role; it is
    /// released before returning. Stops when the queues are empty, the socket is full (EPOLLOUT armed: the loop
    /// continues), or `budgetBytes` were written (EPOLLOUT armed likewise). Any thread.
    func flush(_ p: Peer, budgetBytes: Int) {
        var written = 0
        // Bounded: each round writes a batch or ends; the budget ends it after budget / batch rounds at most.
        for _ in 0..<10_000 {
            let job = p.state.withLock { s -> FlushJob in
                guard let sock = s.socket else {
                    s.flushing = false
                    return .done
                }
                if s.partialOffset >= s.partial.count {
                    s.partial = []
                    s.partialOffset = 0
                    s.partialNotes = []
                    if s.faultBlocked {
                        // Fault injection: queued frames are lost on the way, unreported (as after the kernel).
                        let n = s.dropQueuedSilently()
                        if n > 0 { counters.faultInjectionDropped.increment(by: n) }
                        s.flushing = false
                        if s.outArmed {
                            s.outArmed = false
                            loop.setInterest(fd: sock.fd, token: sock.token, events: Interest.read)
                        }
                        return .done
                    }
                    if written >= budgetBytes, s.queuedBytes > 0 {
                        s.flushing = false
                        arm(&s, sock)
                        return .done
                    }
                    let (batch, frames) = s.gather(limit: Self.batchBytes)
                    if batch.isEmpty {
                        s.flushing = false
                        if s.outArmed {
                            s.outArmed = false
                            loop.setInterest(fd: sock.fd, token: sock.token, events: Interest.read)
                        }
                        return .done
                    }
                    counters.framesOut.increment(by: frames)
                    s.partial = batch
                } else if written >= budgetBytes {
                    s.flushing = false
                    arm(&s, sock)
                    return .done
                }
                return .write(sock, s.partial, s.partialOffset)
            }
            guard case .write(let sock, let buffer, let startOffset) = job else { return }
            var offset = startOffset
            var failure: Int32?
            var attempts = 0
            while offset < buffer.count, attempts < 64 {
                attempts += 1
                let at = offset
                let result = buffer.withUnsafeBytes { raw -> IOResult in
                    guard let base = raw.baseAddress else { return .wouldBlock }
                    return Socket.write(fd: sock.fd, from: base + at, count: raw.count - at)
                }
                if case .bytes(let n) = result {
                    offset += n
                    counters.socketWrites.increment()
                    continue
                }
                if case .error(let e) = result { failure = e }
                break
            }
            let progress = offset - startOffset
            written += progress
            if progress > 0 { counters.bytesOut.increment(by: progress) }
            let next = p.state.withLock { s -> FlushNext in
                // Association replaced or closed meanwhile: its state was reset; go around with the new state.
                guard s.socket === sock else { return .again }
                s.queuedBytes = max(0, s.queuedBytes - progress)
                if progress > 0 { s.lastWriteProgressNs = Monotonic.nowNs() }
                s.partialOffset = offset
                s.settlePartial()
                if failure != nil {
                    s.flushing = false
                    return .closeConnection
                }
                if offset < buffer.count {
                    s.flushing = false
                    arm(&s, sock)
                    return .stop
                }
                return .again
            }
            switch next {
            case .again:
                continue
            case .stop:
                return
            case .closeConnection:
                let token = sock.token
                let why = "write: \(Socket.errorText(failure ?? EIO))"
                loop.execute { [self] in
                    if let c = core.connections[token] { close(c, reason: why) }
                }
                return
            }
        }
        p.state.withLock { s in
            s.flushing = false
            if let sock = s.socket { arm(&s, sock) }
        }
    }

    private func arm(_ s: inout PeerState, _ sock: SocketHandle) {
        guard !s.outArmed else { return }
        s.outArmed = true
        loop.setInterest(fd: sock.fd, token: sock.token, events: Interest.readWrite)
    }
}
