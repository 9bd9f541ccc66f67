/// One TCP connection (dialed or accepted). Confined to the event-loop thread: every field is read and written
/// only there (hence `@unchecked Sendable`, needed only to be referenced from loop tasks).
///
/// Reads: each read goes into a fresh buffer (payload slices handed to the delegate share it, so it is never
/// written again), except that a buffer is kept while it holds no delivered frame and has room — that is how one
/// large frame is completed without copying. Only the incomplete tail is copied into the next buffer.
final class Connection: EventHandler, @unchecked Sendable {
    enum Role {
        case dialer(Peer)
        case acceptor
    }

    enum Phase {
        /// Dialer: TCP connect in progress.
        case connecting
        /// Waiting for the offer (acceptor) or the accept (dialer).
        case handshaking
        case associated(Peer, NodeIdentity)
        case closed
    }

    let id: UInt64
    let socket: SocketHandle
    let role: Role
    var phase: Phase
    var machine: Handshake.Machine
    /// Remote end for logs: the dialed address, the socket peer until an offer names the node, then the node.
    var remote: String
    /// The peer's listening address, for fault injection (`Transport.setBlockedPeers`): the dialed address, or
    /// the address an inbound connection's offer names; nil until known.
    var faultAddress: NodeAddress?
    /// Handshake bytes (offer) not yet written; only before association.
    var handshakeOut: [UInt8] = []
    var handshakeOutOffset = 0
    /// Connect or handshake timer.
    var timer: UInt64?
    /// Monotonic ns of the last bytes read (keep-alive).
    var lastReadNs: UInt64 = 0
    var parser: Wire.FrameParser

    // Read buffer: bytes start..<end are unparsed.
    var buffer: [UInt8] = []
    var start = 0
    var end = 0
    /// A frame from `buffer` went to the delegate (or was consumed): the next read uses a fresh buffer.
    var delivered = false
    /// Bytes of `buffer` charged to the node-wide read budget (the buffer's size while it holds unparsed bytes).
    var readCharge = 0
    /// The charge is in the handshake pool (`maxHandshakeReadBufferBytes`) rather than the members' one.
    var chargedToHandshake = true
    /// Counted among the inbound connections still handshaking (`maxHandshakingConnections`).
    var inHandshakeShare = false
    /// Accepted from 127.0.0.0/8 (`loopbackReservedConnections`).
    var isLoopback = false

    weak var transport: Transport?

    init(id: UInt64, socket: SocketHandle, role: Role, phase: Phase, machine: Handshake.Machine, remote: String,
         transport: Transport) {
        self.id = id
        self.socket = socket
        self.role = role
        self.phase = phase
        self.machine = machine
        self.remote = remote
        self.parser = Wire.FrameParser(maxFrameBytes: Handshake.maxHandshakeFrameBytes)
        self.transport = transport
    }

    var isClosed: Bool {
        if case .closed = phase { return true }
        return false
    }

    var isDialer: Bool {
        if case .dialer = role { return true }
        return false
    }

    func handleEvents(_ events: UInt32) {
        transport?.connectionEvent(self, events)
    }

    /// Makes room for the next read of up to `chunk` bytes (see the type's comment). `admit` is asked before a
    /// new buffer of that many bytes is allocated; when it says no, nothing changes and this returns false.
    func prepareBuffer(chunk: Int, admit: (Int) -> Bool) -> Bool {
        let tail = end - start
        var frameBytes = 0
        if tail > 0, case .needMore(let fb?) = parser.parse(buffer[start..<end]) { frameBytes = fb }
        if !delivered, end < buffer.count, start + frameBytes <= buffer.count { return true }
        let size = max(tail + chunk, frameBytes)
        guard admit(size) else { return false }
        let old = buffer
        let oldStart = start
        buffer = [UInt8](unsafeUninitializedCapacity: size) { dst, initialized in
            if tail > 0 {
                old.withUnsafeBufferPointer { src in
                    if let s = src.baseAddress, let d = dst.baseAddress {
                        d.update(from: s + oldStart, count: tail)
                    }
                }
            }
            initialized = size
        }
        start = 0
        end = tail
        delivered = false
        return true
    }

    /// Releases the read buffer.
    func dropBuffer() {
        buffer = []
        start = 0
        end = 0
    }
}

/// The listening socket's handler.
final class Listener: EventHandler, @unchecked Sendable {
    let socket: SocketHandle
    weak var transport: Transport?

    init(socket: SocketHandle, transport: Transport) {
        self.socket = socket
        self.transport = transport
    }

    func handleEvents(_ events: UInt32) {
        transport?.acceptConnections()
    }
}
