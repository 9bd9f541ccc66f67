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
    /// A dial to a host *name* (not a dotted IPv4 literal, not "localhost") waits at most this long for the name
    /// to resolve; then it fails as unreachable with reason "name resolution timed out" (`dialFailed`, backoff as
    /// for any failed dial). Resolution never runs on the I/O thread. Trade-off: shorter gives up sooner on a slow
    /// DNS server, longer tolerates one. Default 2 s.
    public var resolveTimeout: Duration = .seconds(2)
    /// How long a resolved name is reused without asking again. Trade-off: longer spares the DNS server and dial
    /// latency, shorter follows address changes sooner. Default 30 s.
    public var resolveCacheTTL: Duration = .seconds(30)
    /// How long a failed resolution (unknown name, resolver error) is remembered: dials in that time fail at once
    /// with the same reason. Timeouts are not cached (the lookup still in flight is reused). Default 5 s.
    public var resolveNegativeTTL: Duration = .seconds(5)
    /// Names kept in the resolution cache (expired entries go first, then the oldest). Default 256.
    public var resolveCacheEntries: Int = 256
    /// Distinct names being resolved at once (each may hold a resolver thread blocked in `getaddrinfo` until the
    /// system resolver gives up, 10 s or more, well past `resolveTimeout`). A dial to a new name beyond it fails
    /// at once as unreachable. Trade-off: bounds threads against a DNS server that never answers, while leaving
    /// room for good names when a few seeds' names hang (the process-wide resolver pool has 16 threads).
    /// Default 8.
    public var maxConcurrentResolutions: Int = 8
    /// Resolves a host name to a dotted IPv4 address; blocking is allowed (it runs on the transport's resolver
    /// threads, never on the I/O thread). Injectable for tests. Default: `getaddrinfo` (AF_INET).
    public var resolveHost: @Sendable (_ host: String) -> HostResolution = { Socket.systemResolve($0) }
    /// While an address keeps failing to dial, `transport.peer.unreachable` (warning) is logged at the first failure
    /// and then at most once per this interval per address, with the attempt count and the time since the last
    /// association. Trade-off: shorter is noisier, longer hides a dead peer longer. Default 30 s.
    public var unreachableLogInterval: Duration = .seconds(30)
    /// A peer that is not a seed (dialled only because something was sent to it) and whose dials have failed
    /// without interruption for this long is given up: its per-address state is removed (bounding the address
    /// table), `transport.peer.given_up` is logged and `hotline_peers_given_up_total` counted. Nothing redials it;
    /// the next send to it starts a fresh dial with a fresh backoff. Seeds (`associate(with:)`) are never given up.
    /// Trade-off: shorter frees state sooner and restarts the backoff sooner, longer keeps failing fast longer.
    /// Default 60 s.
    public var giveUpUnreachableAfter: Duration = .seconds(60)
    /// How members prove they belong (`ClusterAuth`): the cluster secret(s), proven by HMAC-SHA256 in the
    /// handshake both ways. Default `.open` (no proof, anyone may join): for loopback-only development and tests;
    /// `hotline node` refuses it on any other listen address.
    public var auth: ClusterAuth = .open
    /// The operator secret: operator tools `present` it, nodes `verify` it (`OperatorCredential`); calls from
    /// peers that proved it may run functions restricted with `ClusterSystem.restrictToOperators(_:)`.
    /// Default nil: this process neither presents nor recognises operators.
    public var operatorCredential: OperatorCredential? = nil

    public init() {}

    public static var `default`: TransportSettings { TransportSettings() }
}
