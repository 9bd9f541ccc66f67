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

    func startDial(_ p: Peer) {
        guard !core.closing else { return }
        let go = p.state.withLock { s -> (Bool, Bool, UInt64) in
            guard case .dialing(nil) = s.phase else { return (false, false, 0) }
            let redial = s.redial
            s.redial = false
            return (true, redial, s.generation)
        }
        guard go.0 else { return }
        if go.1 { counters.reconnectAttempts.increment() }
        if let ip = Socket.literalIPv4(p.address.host) {
            connect(p, ip: ip)
            return
        }
        // A name: resolved off the loop thread; the dial goes on when the answer (or the timeout) comes back.
        let generation = go.2
        resolver.resolve(p.address.host) { [weak self] outcome in
            guard let self, !self.core.closing else { return }
            let current = p.state.withLock { s -> Bool in
                guard case .dialing(nil) = s.phase, s.generation == generation else { return false }
                return true
            }
            guard current else { return }
            switch outcome {
            case .address(let ip): self.connect(p, ip: ip)
            case .failed(let why): self.dialFailed(p, connID: nil, reason: why)
            }
        }
    }

    /// Loop thread: creates the socket and starts the TCP connect of a dial in `.dialing(nil)`.
    private func connect(_ p: Peer, ip: in_addr) {
        let fd = cepoll_tcp_socket()
        guard fd >= 0 else {
            let e = cepoll_errno()
            dialFailed(p, connID: nil, reason: "socket: \(Socket.errorText(e))")
            return
        }
        let token = core.takeToken()
        let socket = SocketHandle(fd: fd, token: token)
        let claimed = p.state.withLock { s -> Bool in
            guard case .dialing(nil) = s.phase else { return false }
            s.phase = .dialing(connID: token)
            return true
        }
        guard claimed else { return }
        let c = Connection(id: token, socket: socket, role: .dialer(p), phase: .connecting,
                           machine: makeMachine(role: .dialer, dialed: (p.address, Socket.dottedIPv4(ip))),
                           remote: p.address.description, transport: self)
        let rc = loop.register(fd: fd, token: token, events: Interest.write, handler: c)
        guard rc == 0 else {
            dialFailed(p, connID: token, reason: "epoll_ctl: \(Socket.errorText(rc))")
            return
        }
        core.connections[token] = c
        openConnections.add(1, ordering: .relaxed)
        logger.debug("transport.dialing", ["peer": p.address])
        switch Socket.startConnect(fd: fd, to: ip, port: p.address.port) {
        case .connected:
            finishConnect(c)
        case .inProgress:
            c.timer = loop.schedule(afterNs: settings.connectTimeout.nanoseconds) { [weak self, weak c] in
                guard let self, let c, case .connecting = c.phase else { return }
                self.close(c, reason: "connect timed out after \(self.settings.connectTimeout)")
            }
        case .failed(_, let text):
            close(c, reason: "connect: \(text)")
        }
    }

    private func finishConnect(_ c: Connection) {
        let err = Socket.pendingError(fd: c.socket.fd)
        guard err == 0 else {
            close(c, reason: "connect: \(Socket.errorText(err))")
            return
        }
        if let t = c.timer { loop.cancel(t) }
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
                c.lastReadNs = Monotonic.nowNs()
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
                close(c, reason: "connection closed by peer")
                return
            case .error(let e):
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

    // MARK: - Handshake

    private func phaseForTieBreak(_ address: NodeAddress) -> Handshake.PeerPhase {
        guard let p = peers.withLock({ $0[address] }) else { return .none }
        return p.state.withLock { s in
            switch s.phase {
            case .idle, .backingOff: .none
            case .dialing: .dialing
            case .awaitingInbound: .awaitingInbound
            case .associated(let id, _): .associated(uid: id.uid)
            }
        }
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
            let gen = p.state.withLock { s -> UInt64? in
                guard case .dialing(let cid) = s.phase, cid == c.id else { return nil }
                s.phase = .awaitingInbound
                s.generation &+= 1
                return s.generation
            }
            c.abandoned = true
            logger.debug("transport.dial.duplicate", ["peer": p.address, "reason": reject.message])
            close(c, reason: "rejected as duplicate")
            if let gen {
                _ = loop.schedule(afterNs: settings.handshakeTimeout.nanoseconds) { [weak self] in
                    self?.awaitingInboundExpired(p, generation: gen)
                }
            }
            return
        }
        counters.handshakeFailures.increment()
        logger.warning("transport.dial.rejected", ["peer": p.address, "reason": reject])
        close(c, reason: "handshake rejected: \(reject)")
    }

    private func awaitingInboundExpired(_ p: Peer, generation: UInt64) {
        guard !core.closing else { return }
        let expired = p.state.withLock { s -> Bool in
            guard s.generation == generation, case .awaitingInbound = s.phase else { return false }
            s.phase = .dialing(connID: nil)  // so that dialFailed applies
            return true
        }
        if expired { dialFailed(p, connID: nil, reason: "peer kept its own connection but did not complete it") }
    }

    // MARK: - Association

    /// Reject code 8: a node-wide limit refused the association (old versions read it as a plain refusal).
    static let rejectOverloaded: UInt8 = 8

    private func acceptInbound(_ c: Connection, peer identity: NodeIdentity, resolution: Handshake.InboundResolution) {
        // Checked by the caller (`maxPeerEntries`); forced so a race with a sender cannot strand the connection.
        guard let p = peerEntry(identity.address, force: true) else { return }
        let acceptFrame = Wire.FrameParser.encode(.handshakeAccept, payload: Handshake.Accept().encode())
        var abandonedDial: UInt64?
        var replaced: (NodeIdentity, UInt64)?
        var droppedUIDs: Set<UInt64> = []
        var lostFrames = DroppedFrames()
        var restartFrames = DroppedFrames()
        var tooLong: [(frame: OutFrame, length: Int)] = []
        let peerLimit = c.machine.peerMaxFrameBytes.map(Int.init)
        let flushNow = p.state.withLock { s -> Bool in
            switch s.phase {
            case .dialing(let cid): abandonedDial = cid
            case .associated(let old, let cid):
                replaced = (old, cid)
                lostFrames = s.dropAll()
            default: break
            }
            s.phase = .associated(identity, connID: c.id)
            s.generation &+= 1
            s.socket = c.socket
            s.outArmed = false
            markAssociated(&s)
            (droppedUIDs, restartFrames) = s.keepFrames(for: identity.uid)
            s.peerMaxFrameBytes = peerLimit
            if let peerLimit { tooLong = s.dropFrames(longerThan: peerLimit) }
            // The accept goes out first, ahead of any pending frame.
            s.partial = acceptFrame
            s.partialOffset = 0
            s.queuedBytes += acceptFrame.count
            counters.framesOut.increment()
            if s.flushing { return false }
            s.flushing = true
            return true
        }
        _ = resolution
        if let cid = abandonedDial, let own = core.connections[cid] {
            own.abandoned = true
            close(own, reason: "simultaneous connect: keeping the connection dialed by \(identity)")
        }
        var lost: [(NodeIdentity, String)] = []
        if let (old, cid) = replaced {
            if let oldConn = core.connections[cid] { close(oldConn, reason: "replaced by \(identity)") }
            counters.disassociations.increment()
            lost.append((old, "address \(identity.address) now answers with uid \(identity.uidHex)"))
        }
        reportTooLong(tooLong, to: identity, limit: peerLimit)
        reportUndelivered(lostFrames, to: p.address, .associationLost, reason: "association replaced by \(identity)")
        reportUndelivered(restartFrames, to: p.address, .peerRestarted,
                          reason: "address \(p.address) now answers with uid \(identity.uidHex)")
        completeAssociation(c, p, identity, flushNow: flushNow, droppedUIDs: droppedUIDs, lost: lost)
    }

    private func dialerEstablished(_ c: Connection, peer advertised: NodeIdentity) {
        guard case .dialer(let p) = c.role else { return }
        // Keyed by the dialed address, so the caller finds the association under the address it used.
        let identity = NodeIdentity(address: p.address, uid: advertised.uid)
        if advertised.address != p.address {
            logger.info("transport.peer.address", ["dialed": p.address, "advertised": advertised.address])
        }
        var droppedUIDs: Set<UInt64> = []
        var restartFrames = DroppedFrames()
        var tooLong: [(frame: OutFrame, length: Int)] = []
        let peerLimit = c.machine.peerMaxFrameBytes.map(Int.init)
        let result = p.state.withLock { s -> Bool? in
            guard case .dialing(let cid) = s.phase, cid == c.id else { return nil }
            s.phase = .associated(identity, connID: c.id)
            s.generation &+= 1
            s.socket = c.socket
            s.outArmed = false
            markAssociated(&s)
            (droppedUIDs, restartFrames) = s.keepFrames(for: identity.uid)
            s.peerMaxFrameBytes = peerLimit
            if let peerLimit { tooLong = s.dropFrames(longerThan: peerLimit) }
            if s.queuedBytes == 0 || s.flushing { return false }
            s.flushing = true
            return true
        }
        guard let flushNow = result else {
            c.abandoned = true
            close(c, reason: "dial superseded")
            return
        }
        reportTooLong(tooLong, to: identity, limit: peerLimit)
        reportUndelivered(restartFrames, to: p.address, .peerRestarted,
                          reason: "address \(p.address) now answers with uid \(identity.uidHex)")
        completeAssociation(c, p, identity, flushNow: flushNow, droppedUIDs: droppedUIDs, lost: [])
    }

    private func completeAssociation(_ c: Connection, _ p: Peer, _ identity: NodeIdentity, flushNow: Bool,
                                     droppedUIDs: Set<UInt64>, lost: [(NodeIdentity, String)]) {
        if let t = c.timer { loop.cancel(t) }
        c.timer = nil
        c.phase = .associated(p, identity)
        c.remote = identity.description
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
        associationTable.withLock { $0[p.address] = identity }
        let isOperator = c.machine.peerIsOperator
        operatorPeers.withLock { set in
            set = set.filter { $0.address != p.address }
            if isOperator { set.insert(identity) }
        }
        counters.associations.increment()
        refreshUnreachableGauge()
        if flushNow { flush(p, budgetBytes: Self.loopFlushBudget) }
        logger.info("transport.association.up", ["peer": identity])
        let target = delegate
        for (old, why) in lost {
            logger.info("transport.association.down", ["peer": old, "reason": why])
            target?.transport(self, disassociated: old, reason: why)
        }
        target?.transport(self, associated: identity)
        for uid in droppedUIDs.sorted() where uid != identity.uid && uid != 0 {
            let old = NodeIdentity(address: p.address, uid: uid)
            if lost.contains(where: { $0.0 == old }) { continue }
            target?.transport(self, disassociated: old,
                              reason: "address \(p.address) now answers with uid \(identity.uidHex)")
        }
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
        // long without a single byte of them being written.
        let threshold = max(1, settings.stalledPeerBytes)
        let timeoutNs = UInt64(max(0, settings.stalledPeerTimeout.nanoseconds))
        let stalled = p.state.withLock { s -> Int? in
            var noProgress = false
            if s.queuedBytes > 0 {
                let queuedSince = s.queuedSinceNs ?? now
                s.queuedSinceNs = queuedSince
                noProgress = now &- max(queuedSince, s.lastWriteProgressNs ?? 0) >= timeoutNs
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

    /// Closes `c` (idempotent) and applies the consequences: lost association → `disassociated` + backoff;
    /// failed dial → `dialFailed` + backoff. Loop thread only.
    func close(_ c: Connection, reason: String) {
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
        case .associated(let p, let identity):
            let backoffGen = p.state.withLock { s -> (UInt64, Int64, DroppedFrames)? in
                guard case .associated(_, let cid) = s.phase, cid == c.id else { return nil }
                s.socket = nil
                s.outArmed = false
                let dropped = s.dropAll()
                let (gen, delay) = enterBackoff(&s, reason: reason, countFailure: false)
                return (gen, delay, dropped)
            }
            guard let (gen, delay, dropped) = backoffGen else { return }
            reportUndelivered(dropped, to: p.address, .associationLost, reason: "association lost: \(reason)")
            associationTable.withLock { table in
                if table[p.address] == identity { table[p.address] = nil }
            }
            operatorPeers.withLock { _ = $0.remove(identity) }
            counters.disassociations.increment()
            logger.info("transport.association.down", ["peer": identity, "reason": reason])
            scheduleBackoff(p, generation: gen, delayNs: delay)
            delegate?.transport(self, disassociated: identity, reason: reason)
        case .connecting, .handshaking:
            if case .dialer(let p) = c.role, !c.abandoned {
                dialFailed(p, connID: c.id, reason: reason)
            } else if !c.isDialer {
                logger.debug("transport.inbound.closed", ["peer": c.remote, "reason": reason])
            }
        case .closed:
            return
        }
    }

    /// Puts the peer into backoff. Returns the new generation and the delay in ns.
    private func enterBackoff(_ s: inout PeerState, reason: String, countFailure: Bool) -> (UInt64, Int64) {
        let delay = backoff.delay(failures: s.failures).nanoseconds
        if countFailure { s.failures += 1 }
        s.phase = .backingOff(untilNs: Monotonic.nowNs() &+ UInt64(delay), reason: reason)
        s.redial = true
        s.generation &+= 1
        return (s.generation, delay)
    }

    private func scheduleBackoff(_ p: Peer, generation: UInt64, delayNs: Int64) {
        _ = loop.schedule(afterNs: delayNs) { [weak self] in
            self?.backoffExpired(p, generation: generation)
        }
    }

    private struct UnreachableWarning {
        var attempts: Int
        var unreachableMs: UInt64
        var lastAssociated: String
        var seed: Bool
    }

    func dialFailed(_ p: Peer, connID: UInt64?, reason: String) {
        guard !core.closing else { return }
        let now = Monotonic.nowNs()
        let intervalNs = UInt64(max(0, settings.unreachableLogInterval.nanoseconds))
        let result = p.state.withLock { s -> (UInt64, Int64, DroppedFrames, UnreachableWarning?)? in
            guard case .dialing(let cid) = s.phase, cid == connID else { return nil }
            let dropped = s.dropAll()
            let since = s.unreachableSinceNs ?? now
            s.unreachableSinceNs = since
            let (gen, delay) = enterBackoff(&s, reason: reason, countFailure: true)
            var warning: UnreachableWarning?
            if s.lastUnreachableLogNs.map({ now &- $0 >= intervalNs }) ?? true {
                s.lastUnreachableLogNs = now
                warning = UnreachableWarning(
                    attempts: s.failures, unreachableMs: (now &- since) / 1_000_000,
                    lastAssociated: s.lastAssociatedNs.map { "\((now &- $0) / 1_000_000) ms ago" } ?? "never",
                    seed: s.persistent)
            }
            return (gen, delay, dropped, warning)
        }
        guard let (gen, delay, dropped, warning) = result else { return }
        counters.dialFailures.increment()
        // A member's calls can make this node dial any number of addresses: one info line per interval for all.
        logger.logLimited(limitLog, .info, "transport.dial.failed", ["peer": p.address, "reason": reason, "retry_ms": delay / 1_000_000])
        if let w = warning {
            let fields: KeyValuePairs<String, Any> = ["peer": p.address, "attempts": w.attempts, "unreachable_ms": w.unreachableMs,
                                                      "last_associated": w.lastAssociated, "seed": w.seed, "reason": reason]
            if w.seed {
                // Seeds are few (configured): each keeps its own line every `unreachableLogInterval`.
                logger.warning("transport.peer.unreachable", fields)
            } else {
                // Other addresses come from callers (any number of them): one line per interval for all.
                logger.logLimited(limitLog, .warning, "transport.peer.unreachable", key: "transport.peer.unreachable.non_seed", fields)
            }
        }
        refreshUnreachableGauge()
        scheduleBackoff(p, generation: gen, delayNs: delay)
        reportUndelivered(dropped, to: p.address, .dialFailed, reason: "dial failed: \(reason)")
        delegate?.transport(self, dialFailed: p.address, reason: reason)
    }

    /// Under the peer's lock, at a completed handshake: the failure run (if any) is over.
    private func markAssociated(_ s: inout PeerState) {
        s.stalledSinceNs = nil
        s.failures = 0
        s.unreachableSinceNs = nil
        s.lastUnreachableLogNs = nil
        s.lastAssociatedNs = Monotonic.nowNs()
    }

    /// Sets `hotline_peers_unreachable` from the peer table (O(peers); called on dial failures, associations and
    /// give-ups, which the backoff keeps infrequent).
    func refreshUnreachableGauge() {
        let all = peers.withLock { Array($0.values) }
        var n = 0
        for p in all where p.state.withLock({ $0.unreachableSinceNs != nil }) { n += 1 }
        counters.peersUnreachable.set(n)
    }

    enum UndeliveredReason {
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

    private func backoffExpired(_ p: Peer, generation: UInt64) {
        guard !core.closing else { return }
        let dial = p.state.withLock { s -> Bool in
            guard s.generation == generation, case .backingOff = s.phase else { return false }
            s.generation &+= 1
            if s.persistent {
                s.phase = .dialing(connID: nil)
                return true
            }
            s.phase = .idle
            return false
        }
        if dial {
            startDial(p)
        } else {
            idleNonSeed(p)
        }
    }

    /// Loop thread: a non-seed peer just went idle after its backoff. Forgotten at once when it had no failed dials
    /// (an association was lost; nothing to remember), given up when its dials have failed for
    /// `giveUpUnreachableAfter`, else checked again when that time is reached.
    private func idleNonSeed(_ p: Peer) {
        let now = Monotonic.nowNs()
        let giveUpNs = UInt64(max(0, settings.giveUpUnreachableAfter.nanoseconds))
        enum Step { case keep, forget, giveUp(attempts: Int, ms: UInt64), recheck(UInt64, afterNs: Int64) }
        let step = peers.withLock { table -> Step in
            guard table[p.address] === p else { return .keep }
            let step = p.state.withLock { s -> Step in
                guard !s.persistent, case .idle = s.phase, s.queuedBytes == 0 else { return .keep }
                guard let since = s.unreachableSinceNs else {
                    s.removed = true
                    return .forget
                }
                let elapsed = now &- since
                if elapsed >= giveUpNs {
                    s.removed = true
                    return .giveUp(attempts: s.failures, ms: elapsed / 1_000_000)
                }
                return .recheck(s.generation, afterNs: Int64(giveUpNs - elapsed))
            }
            switch step {
            case .forget, .giveUp: table[p.address] = nil
            default: break
            }
            return step
        }
        switch step {
        case .keep:
            return
        case .forget:
            logger.debug("transport.peer.forgotten", ["peer": p.address])
        case .giveUp(let attempts, let ms):
            // Log and gauge first, counter last: whoever sees the counter move sees the rest too.
            logger.logLimited(limitLog, .warning, "transport.peer.given_up",
                              ["peer": p.address, "attempts": attempts, "unreachable_ms": ms, "after": settings.giveUpUnreachableAfter])
            refreshUnreachableGauge()
            counters.peersGivenUp.increment()
        case .recheck(let gen, let afterNs):
            _ = loop.schedule(afterNs: afterNs) { [weak self] in
                guard let self, !self.core.closing else { return }
                guard p.state.withLock({ $0.generation == gen }) else { return }
                self.idleNonSeed(p)
            }
        }
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
            let dropped = p.state.withLock { s -> DroppedFrames in
                s.socket = nil
                s.outArmed = false
                s.phase = .idle
                return s.dropAll()
            }
            reportUndelivered(dropped, to: p.address, .shutdown, reason: "transport shut down")
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
