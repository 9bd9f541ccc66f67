/// Tunables of a `Transport`. All sizes in bytes, all durations as `Duration`.
public struct TransportSettings: Sendable {
    /// Upper bound of a frame's length field (kind + payload), in bytes. A peer sending a larger length is dropped;
    /// `send` of a larger frame throws `TransportError.frameTooLarge`. Frames read before the handshake completes are
    /// further limited to `Handshake.maxHandshakeFrameBytes` (64 KiB).
    public var maxFrameBytes: Int = Wire.defaultMaxFrameBytes
    /// A connection whose handshake has not completed this long after it was accepted / connected is closed.
    public var handshakeTimeout: Duration = .seconds(2)
    /// A dial whose TCP connect has not completed by then fails (`dialFailed`).
    public var connectTimeout: Duration = .seconds(2)
    /// Queued-but-unwritten bytes per peer address (frames waiting for the handshake included). A `send` that
    /// would go beyond throws `TransportError.outboundQueueFull`.
    public var maxOutboundBytesPerPeer: Int = 64 << 20
    /// First delay after a failed dial or a lost association; doubles per consecutive failure.
    public var reconnectBackoffInitial: Duration = .milliseconds(100)
    /// Cap of the reconnect delay. The actual delay is drawn uniformly from [d/2, d] ("equal jitter").
    public var reconnectBackoffMax: Duration = .seconds(5)
    /// Protocol versions this node speaks; the highest common version wins.
    public var protocolVersions: ClosedRange<UInt16> = 1...1
    /// Bytes requested per `read(2)`, clamped to 512 B ... 16 MiB (a larger buffer is used only to complete one
    /// large frame).
    public var readChunkBytes: Int = 64 << 10
    /// An associated connection sends a `heartbeat` control frame this often, so a quiet but healthy peer
    /// is never mistaken for a dead one.
    public var heartbeatInterval: Duration = .seconds(1)
    /// An association that has received nothing at all (not even a heartbeat) for this long is closed as
    /// hung or partitioned: `disassociated` fires and pending calls fail. Trade-off: shorter notices a
    /// frozen peer sooner, longer tolerates GC-like stalls and loaded machines. The membership layer's
    /// SWIM failure detector refines this; this is the transport's own keep-alive.
    public var idleTimeout: Duration = .seconds(5)
    /// Open connections (inbound and outbound, any phase) beyond which an accepted socket is closed at once
    /// (`hotline_connections_refused_total`). Bounds descriptors, and memory at roughly this many times
    /// the largest frame being read.
    public var maxConnections: Int = 512
    /// Proof sent in offers and accepts (opaque bytes, may be empty).
    public var authProof: [UInt8] = []
    /// Verifies a peer's auth proof (from its offer or accept). Returning false rejects the offer with
    /// `authFailed` or fails the dial. Default: accept everything.
    public var verifyAuthProof: @Sendable (_ proof: [UInt8], _ peer: NodeIdentity) -> Bool = { _, _ in true }

    public init() {}

    public static var `default`: TransportSettings { TransportSettings() }
}
