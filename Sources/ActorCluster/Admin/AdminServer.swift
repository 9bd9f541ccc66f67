import CEpoll
import Glibc
import Synchronization

/// Settings of the admin port. Every bound has a default; see `Docs/operations.md` ("Admin port").
public struct AdminSettings: Sendable {
    /// Where to listen (port 0 = ephemeral). Beyond loopback a token is required for every endpoint.
    public var bind: NodeAddress
    /// Bearer token (`--admin-token-file`); nil = none (the POST endpoints are then refused with 403).
    public var token: [UInt8]?
    public var limits = HTTPLimits()
    /// Open connections at most. At the limit a new connection takes the place of the longest-idle one (nothing
    /// received of a request, nothing pending, nothing unwritten: an idle keep-alive, or a connection that never
    /// sent a byte), which is closed; when every open connection is busy the new one gets 503 and is closed. So
    /// idle connections cannot keep an operator's health probe out.
    public var maxConnections = 64
    /// A kept-alive connection with no request under way is closed after this.
    public var idleTimeout: Duration = .seconds(10)
    /// A request (from its first byte, or from accept) must be complete within this, else the connection closes.
    public var requestTimeout: Duration = .seconds(5)
    /// A route still computing after this is answered 503.
    public var handlerTimeout: Duration = .seconds(5)
    /// Requests of one connection parsed ahead of their answers (pipelining); reading pauses beyond.
    public var maxPipelined = 16
    /// Unwritten answer bytes of one connection beyond which reading pauses.
    public var maxOutputBytes = 1 << 20

    public init(bind: NodeAddress, token: [UInt8]? = nil) {
        self.bind = bind
        self.token = token
    }
}

public enum AdminServerError: Error, Sendable, CustomStringConvertible {
    case tokenRequired(NodeAddress)
    case bindFailed(String)

    public var description: String {
        switch self {
        case .tokenRequired(let a): "the admin port \(a) is beyond loopback: a token file is required"
        case .bindFailed(let why): why
        }
    }
}

/// The admin port: a small HTTP/1.1 server on its own epoll event-loop thread (non-blocking sockets), serving
/// `AdminRouter`'s routes for one `ClusterSystem`. Health, readiness, associations, metrics; extra GET routes
/// the node registers with `addRoute` before `start`.
public final class AdminServer: Sendable {
    public let settings: AdminSettings
    private let system: ClusterSystem
    private let router: Mutex<AdminRouter>
    private let loop = EventLoop()
    private let state: AdminLoopState
    private let bound = Mutex<NodeAddress?>(nil)

    /// - Parameter readiness: what `/ready` reports once the node runs (e.g. "configured").
    /// - Throws: `AdminServerError.tokenRequired` when binding beyond loopback without a token.
    public init(system: ClusterSystem, settings: AdminSettings,
                readiness: @escaping @Sendable () async -> AdminReadiness = { .ready() }) throws {
        if !settings.bind.isLoopback && settings.token == nil { throw AdminServerError.tokenRequired(settings.bind) }
        self.settings = settings
        self.system = system
        let name = system.settings.nodeName
        router = Mutex(AdminRouter(
            token: settings.token, tokenForEverything: !settings.bind.isLoopback,
            snapshot: { [system] in
                AdminSnapshot(nodeName: name, node: system.node, uptimeMs: system.uptimeMs, running: !system.isShutDown,
                              associated: system.associatedNodes, unreachable: system.transport.unreachablePeers,
                              metrics: system.metrics.samples(), membership: system.membership?.snapshot)
                    .withHistograms(system.metrics.allHistograms())
            },
            readiness: readiness))
        if system.settings.transport.faultInjection {
            let transport = system.transport
            router.withLock { $0.setBlockedPeers = { try transport.setBlockedPeers($0) } }
        }
        if let membership = system.membership {
            router.withLock {
                $0.commands = AdminCommands(
                    leave: { membership.leave() },
                    down: { uid in
                        guard let member = membership.members.first(where: { $0.node.uid == uid }) else { return false }
                        membership.down(member.node)
                        return true
                    })
            }
        }
        state = AdminLoopState(settings: settings, metrics: system.metrics)
    }

    /// Adds a GET route answering JSON (call before `start`). `path` is matched exactly.
    public func addRoute(_ path: String, _ route: @escaping AdminRouter.Route) {
        router.withLock { $0.extraRoutes[path] = route }
    }

    /// Adds a route for every path under `prefix`, any method, with the request (call before `start`); every
    /// request to it needs the bearer token (`AdminRouter.prefixRoutes`).
    public func addPrefixRoute(_ prefix: String, _ route: @escaping AdminRouter.RequestRoute) {
        router.withLock { $0.prefixRoutes.append((prefix, route)) }
    }

    /// The bound address once started.
    public var address: NodeAddress? { bound.withLock { $0 } }

    /// Binds, listens and starts the loop thread. Returns the bound address (real port).
    public func start() throws -> NodeAddress {
        guard loop.isValid else { throw AdminServerError.bindFailed("cannot create epoll/eventfd") }
        let (fd, port): (Int32, UInt16)
        do {
            (fd, port) = try Socket.listen(on: settings.bind, backlog: 64)
        } catch {
            throw AdminServerError.bindFailed("\(error)")
        }
        let address = NodeAddress(host: settings.bind.host, port: port)
        let handle = SocketHandle(fd: fd, token: 1)
        state.router = router.withLock { $0 }
        state.loop = loop
        let listener = AdminListener(socket: handle, state: state)
        state.listener = listener
        let rc = loop.register(fd: fd, token: handle.token, events: Interest.read, handler: listener)
        guard rc == 0, loop.start(name: "admin-io") else {
            state.listener = nil
            throw AdminServerError.bindFailed("cannot start the admin event loop (errno \(rc))")
        }
        loop.execute { [state] in state.scheduleSweep() }
        bound.withLock { $0 = address }
        system.logger.info("admin.listening", ["address": address, "token": settings.token == nil ? "none" : "set"])
        return address
    }

    /// Closes every connection and the listener, stops the loop thread. Idempotent.
    public func shutdown() {
        loop.execute { [state] in state.closeAll() }
        loop.stop()
    }

    deinit { loop.stop() }
}

/// Loop-thread confined state of the admin server (`@unchecked Sendable`: touched only on the loop thread,
/// or before the thread starts).
final class AdminLoopState: @unchecked Sendable {
    let settings: AdminSettings
    var router: AdminRouter!
    var loop: EventLoop!
    var listener: AdminListener?
    var connections: [UInt64: AdminConnection] = [:]
    var nextToken: UInt64 = 2
    let requests: Counter
    let badRequests: Counter
    let refused: Counter
    let timedOut: Counter
    let evicted: Counter
    let open: Gauge

    init(settings: AdminSettings, metrics: Metrics) {
        self.settings = settings
        requests = metrics.counter("hotline_admin_requests_total", help: "Requests answered by the admin port")
        badRequests = metrics.counter("hotline_admin_bad_requests_total",
                                      help: "Admin port requests refused as malformed or over a limit (connection closed)")
        refused = metrics.counter("hotline_admin_connections_refused_total",
                                  help: "Admin port connections refused at the connection limit")
        timedOut = metrics.counter("hotline_admin_timeouts_total",
                                   help: "Admin port connections closed for a slow request, idleness or a stalled reader")
        evicted = metrics.counter("hotline_admin_idle_evictions_total",
                                  help: "Idle admin port connections closed at the connection limit to admit a new one")
        open = metrics.gauge("hotline_admin_connections", help: "Open admin port connections")
    }

    static let sweepIntervalNs: Int64 = 100_000_000

    func scheduleSweep() {
        _ = loop.schedule(afterNs: Self.sweepIntervalNs) { [weak self] in
            guard let self else { return }
            let now = Monotonic.nowNs()
            for c in Array(connections.values) { c.sweep(now: now) }
            scheduleSweep()
        }
    }

    func closeAll() {
        for c in Array(connections.values) { c.close() }
        if let l = listener {
            loop.deregister(fd: l.socket.fd, token: l.socket.token)
            listener = nil
        }
    }

    func accept(fd: Int32) {
        if connections.count >= settings.maxConnections {
            // A connection accepted but not yet read from may have its request waiting in the kernel: read first.
            for c in Array(connections.values) where !c.receivedAny { c.readNow() }
            if let idlest = connections.values.filter(\.isIdle).min(by: { $0.lastActivityNs < $1.lastActivityNs }) {
                evicted.increment()
                idlest.close()
            }
        }
        guard connections.count < settings.maxConnections else {
            refused.increment()
            let bytes = HTTPResponse.error(503, "too many admin connections").serialized(close: true)
            _ = bytes.withUnsafeBytes { Socket.write(fd: fd, from: $0.baseAddress!, count: $0.count) }
            _ = Glibc.close(fd)
            return
        }
        let token = nextToken
        nextToken &+= 1
        let c = AdminConnection(socket: SocketHandle(fd: fd, token: token), state: self)
        guard loop.register(fd: fd, token: token, events: Interest.read, handler: c) == 0 else { return }
        connections[token] = c
        open.set(connections.count)
    }

    func remove(_ c: AdminConnection) {
        connections[c.socket.token] = nil
        open.set(connections.count)
    }
}

final class AdminListener: EventHandler {
    let socket: SocketHandle
    unowned let state: AdminLoopState

    init(socket: SocketHandle, state: AdminLoopState) {
        self.socket = socket
        self.state = state
    }

    func handleEvents(_ events: UInt32) {
        for _ in 0..<64 {
            let fd = cepoll_accept(socket.fd)
            if fd < 0 { return }
            state.accept(fd: fd)
        }
    }
}

/// One admin connection: reads into the parser, answers requests in order, writes without blocking.
final class AdminConnection: EventHandler {
    struct Slot {
        var id: UInt64
        var createdNs: UInt64
        var response: HTTPResponse?
        var close: Bool
    }

    let socket: SocketHandle
    unowned let state: AdminLoopState
    private var parser: HTTPRequestParser
    private var slots: [Slot] = []
    private var nextSlot: UInt64 = 0
    private var out: [UInt8] = []
    private var outOffset = 0
    /// No more requests are read (an error, `Connection: close`, or the peer's EOF).
    private var stopReading = false
    private var closeAfterFlush = false
    private var closed = false
    /// When the request being received began (accept, or its first byte); nil while idle between requests.
    private var requestStartNs: UInt64?
    private(set) var lastActivityNs: UInt64
    /// A byte was ever read from the peer.
    private(set) var receivedAny = false
    private var interest = Interest.read

    init(socket: SocketHandle, state: AdminLoopState) {
        self.socket = socket
        self.state = state
        parser = HTTPRequestParser(limits: state.settings.limits)
        let now = Monotonic.nowNs()
        requestStartNs = now
        lastActivityNs = now
    }

    func handleEvents(_ events: UInt32) {
        if events & (cepoll_EPOLLIN() | cepoll_EPOLLRDHUP() | cepoll_EPOLLHUP() | cepoll_EPOLLERR()) != 0 { readAvailable() }
        if !closed, events & cepoll_EPOLLOUT() != 0 { flush() }
    }

    /// Nothing of a request received, no request pending, nothing left to write: closing it loses nothing.
    var isIdle: Bool {
        !closed && !closeAfterFlush && slots.isEmpty && outOffset == out.count && (requestStartNs == nil || !receivedAny)
    }

    private var mayRead: Bool {
        !stopReading && slots.count < state.settings.maxPipelined && out.count - outOffset < state.settings.maxOutputBytes
    }

    /// Reads what the peer has sent so far (without waiting for the loop's readiness event).
    func readNow() { if !closed { readAvailable() } }

    private func readAvailable() {
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        var total = 0
        while mayRead, total < 256 << 10 {
            let r = chunk.withUnsafeMutableBytes { Socket.read(fd: socket.fd, into: $0.baseAddress!, count: $0.count) }
            switch r {
            case .bytes(let n):
                total += n
                receivedAny = true
                lastActivityNs = Monotonic.nowNs()
                if requestStartNs == nil { requestStartNs = lastActivityNs }
                parser.append(chunk[0..<n])
                processRequests()
            case .wouldBlock:
                updateInterest()
                return
            case .eof, .error:
                // The peer is gone or half-closed: answer what was asked, then close.
                stopReading = true
                if slots.isEmpty && out.count == outOffset { close() } else { closeAfterFlush = true; updateInterest() }
                return
            }
        }
        if !closed { updateInterest() }
    }

    private func processRequests() {
        let before = nextSlot
        while !stopReading, slots.count < state.settings.maxPipelined, let result = parser.next() {
            let id = nextSlot
            nextSlot &+= 1
            let now = Monotonic.nowNs()
            requestStartNs = parser.bufferedBytes > 0 ? now : nil
            switch result {
            case .failure(let error):
                state.badRequests.increment()
                stopReading = true
                slots.append(Slot(id: id, createdNs: now, response: .error(error.status, error.message), close: true))
            case .success(let request):
                state.requests.increment()
                let close = !request.keepAlive
                if close { stopReading = true }
                switch state.router.handle(request) {
                case .now(let response):
                    slots.append(Slot(id: id, createdNs: now, response: response, close: close))
                case .later(let compute):
                    slots.append(Slot(id: id, createdNs: now, response: nil, close: close))
                    let loop = state.loop!
                    let target = WeakConnection(connection: self)
                    Task {
                        let response = await compute()
                        loop.execute { target.connection?.complete(id, response) }
                    }
                }
            }
        }
        if nextSlot != before { flush() } else { updateInterest() }
    }

    private func complete(_ id: UInt64, _ response: HTTPResponse) {
        guard !closed, let i = slots.firstIndex(where: { $0.id == id }), slots[i].response == nil else { return }
        slots[i].response = response
        flush()
    }

    /// Moves finished answers (in request order) to the output and writes what the socket takes.
    private func flush() {
        guard !closed else { return }
        // Requests left in the parser while the pipelining bound was reached are parsed once answers drain.
        let hadBacklog = slots.count >= state.settings.maxPipelined
        while let first = slots.first, let response = first.response {
            slots.removeFirst()
            out.append(contentsOf: response.serialized(close: first.close))
            if first.close {
                closeAfterFlush = true
                slots.removeAll()
                break
            }
        }
        while outOffset < out.count {
            let r = out.withUnsafeBytes { Socket.write(fd: socket.fd, from: $0.baseAddress! + outOffset, count: out.count - outOffset) }
            switch r {
            case .bytes(let n):
                outOffset += n
                lastActivityNs = Monotonic.nowNs()
            case .wouldBlock:
                updateInterest()
                return
            case .eof, .error:
                close()
                return
            }
        }
        out.removeAll(keepingCapacity: out.capacity <= 64 << 10)
        outOffset = 0
        if closeAfterFlush && slots.isEmpty {
            close()
            return
        }
        // Reading may have paused on the pipelining bound: parse what is buffered, then read on.
        if hadBacklog && !stopReading && parser.bufferedBytes > 0 {
            processRequests()
            return
        }
        updateInterest()
    }

    private func updateInterest() {
        guard !closed else { return }
        var wanted: UInt32 = mayRead ? Interest.read : Interest.none
        if outOffset < out.count { wanted |= Interest.write }
        if wanted != interest {
            interest = wanted
            state.loop.setInterest(fd: socket.fd, token: socket.token, events: wanted)
        }
    }

    func sweep(now: UInt64) {
        guard !closed else { return }
        let s = state.settings
        if let start = requestStartNs, slots.isEmpty, now &- start > s.requestTimeout.admNs {
            // Slow client: the request did not arrive in time.
            state.timedOut.increment()
            if out.count == outOffset {
                let bytes = HTTPResponse.error(408, "request not complete within the time limit").serialized(close: true)
                _ = bytes.withUnsafeBytes { Socket.write(fd: socket.fd, from: $0.baseAddress!, count: $0.count) }
            }
            close()
            return
        }
        if requestStartNs == nil, now &- lastActivityNs > s.idleTimeout.admNs {
            if !slots.isEmpty || outOffset < out.count {
                // Waiting on a stalled reader (output not drained) or on routes: bounded by the same timeout.
                if outOffset < out.count { state.timedOut.increment(); close(); return }
            } else {
                state.timedOut.increment()
                close()
                return
            }
        }
        var changed = false
        for i in slots.indices where slots[i].response == nil && now &- slots[i].createdNs > s.handlerTimeout.admNs {
            slots[i].response = .error(503, "the answer was not ready in time")
            changed = true
        }
        if changed { flush() }
    }

    func close() {
        guard !closed else { return }
        closed = true
        state.loop.deregister(fd: socket.fd, token: socket.token)
        Socket.shutdown(fd: socket.fd)
        slots.removeAll()
        out = []
        state.remove(self)
    }
}

extension Duration {
    /// Nanoseconds, clamped at 0 (for comparisons with monotonic differences).
    fileprivate var admNs: UInt64 { UInt64(max(0, nanoseconds)) }
}

/// A connection handed to a route's task; dereferenced only back on the loop thread.
private struct WeakConnection: @unchecked Sendable {
    weak var connection: AdminConnection?
}
