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
    /// A send from a thread other than the I/O thread, to a peer last written to less than this long ago, leaves
    /// the write to the I/O thread (one wake-up) instead of writing itself: a stream of sends then goes out in
    /// batches (one `write(2)` for everything queued meanwhile) rather than one system call per frame, and an
    /// occasional send (a call every round trip) is still written at once by its sender. Sends on the I/O thread
    /// are always written at the end of its loop iteration, and a send while the I/O thread is awake is left to
    /// it, whatever this is. Trade-off: longer batches more under moderate rates, at the price of a wake-up (tens
    /// of µs) on a send that would have been alone; `.zero` turns it off. Default 20 µs.
    public var coalesceWindow: Duration = .microseconds(20)
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
    /// Open connections (inbound and outbound, any phase). At the cap an accepted socket pushes out the oldest
    /// handshaking connection if there is one, else it is closed at once (`hotline_connections_refused_total`,
    /// warning `transport.accept.refused`, rate-limited). Bounds descriptors; read memory is bounded by
    /// `maxReadBufferBytes` / `maxHandshakeReadBufferBytes`. Default 512.
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
    /// Distinct names being resolved at once that some dial still waits for. A lookup every waiter gave up on
    /// (a name that hangs past `resolveTimeout`) keeps its resolver thread until `getaddrinfo` returns (10 s or
    /// more) but frees its slot, so names that hang do not lock out good ones. A dial to a new name beyond it
    /// fails at once as unreachable. Trade-off: bounds lookups a burst of dials can start, against failing dials
    /// to many new names at the same moment. The process-wide resolver pool (32 threads, 256 queued) bounds the
    /// threads: more distinct names hanging at once than that delay good names until lookups return. Default 8.
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

    // MARK: Node-wide budgets (every one counted on a metric and logged at warning, rate-limited, when hit)

    /// Bytes of read buffers holding an incomplete frame, summed over every *associated* connection. A connection
    /// whose next read (or the buffer for a large frame it announced) would take the sum beyond is closed — the
    /// connection that asks for more, not the others (`hotline_read_budget_exceeded_total`). Trade-off: bounds
    /// what members can pin by announcing large frames and sending them slowly (without it, each connection may
    /// hold `maxFrameBytes`); too small and members sending large frames at the same moment are disconnected
    /// (their calls fail as unreachable and they redial). Default 128 MiB (16 frames of the default 8 MiB limit).
    public var maxReadBufferBytes: Int = 128 << 20
    /// The same for connections still *handshaking* (strangers until they prove the secret): their own, small
    /// budget, so strangers never eat into the members' one. Frames before the handshake are at most 64 KiB and
    /// such connections read in chunks of at most 4 KiB. Default 4 MiB.
    public var maxHandshakeReadBufferBytes: Int = 4 << 20
    /// Queued-but-unwritten bytes summed over every peer (in addition to `maxOutboundBytesPerPeer`). A data frame
    /// that would go beyond is refused like a full per-peer queue (`TransportError.outboundQueueFull`,
    /// `hotline_outbound_budget_exceeded_total`); control frames (heartbeats) are not refused. Concurrent senders
    /// may overshoot by at most one frame each. Trade-off: bounds memory against many slow consumers; too small
    /// refuses sends under a legitimate burst. Default 256 MiB.
    public var maxOutboundBytesTotal: Int = 256 << 20
    /// A peer whose outbound queue has stayed at or above this many bytes for `stalledPeerTimeout` (sampled at
    /// every heartbeat) is a stalled reader: its association is closed (`hotline_peers_stalled_total`) instead of
    /// buffering for it forever. So is a peer whose queue, of any size, has not had a single byte written for
    /// `stalledPeerTimeout` while its socket refused more (when the node-wide budget is full, no queue grows to
    /// this size). Default 4 MiB.
    public var stalledPeerBytes: Int = 4 << 20
    /// See `stalledPeerBytes`. Trade-off: shorter frees memory sooner from a peer that stopped reading, longer
    /// tolerates a peer that is slow for a while (a GC pause, a loaded host). Default 10 s.
    public var stalledPeerTimeout: Duration = .seconds(10)
    /// Dials in progress at once (TCP connect or handshake of connections this node opened). A send that would
    /// start another dial fails at once with `nodeUnreachable` ("too many dials in flight",
    /// `hotline_dials_refused_total`); seeds are always dialled. Bounds the descriptors that calls to
    /// unreachable addresses can take. Trade-off: too small delays associating with many new peers at once
    /// (those sends fail and are retried by the caller). Default 64.
    public var maxDialsInFlight: Int = 64
    /// Per-address entries (association state, queues, backoff) in the peer table. Entries exist only for
    /// addresses this node dials and for peers that proved the secret; they are removed when the backoff after a
    /// lost association ends or `giveUpUnreachableAfter` after dials began failing. Beyond this, a send to a new
    /// address fails at once as unreachable and a new inbound association is refused with reject code 8
    /// (overloaded) (`hotline_peer_table_full_total`); seeds are always added. Default 4096.
    public var maxPeerEntries: Int = 4096
    /// Inbound connections still handshaking (not yet proven members) that may be open at once. A connection
    /// accepted beyond it pushes out the one that has been handshaking longest (`hotline_connections_evicted_total`,
    /// warning `transport.accept.evicted`, rate-limited), so strangers never hold more than this share of
    /// `maxConnections` and can never keep a member (whose handshake takes one round trip) from connecting.
    /// Trade-off: smaller bounds strangers tighter, but a flood that turns the whole share over within a round
    /// trip delays members more. Default 128 (25% of 512).
    public var maxHandshakingConnections: Int = 128
    /// The last this-many of `maxConnections` (and as many handshaking slots above `maxHandshakingConnections`)
    /// are kept for connections from loopback (127.0.0.0/8: local operator tools such as `hotline submit`/`case`),
    /// so remote clients cannot lock the operator out. Default 16.
    public var loopbackReservedConnections: Int = 16
    /// Warnings about exceeded limits and misbehaving strangers (refused connections, malformed frames before
    /// the handshake, failed or timed-out handshakes, budgets) are logged at most once per this interval per
    /// event, with `suppressed=N` counting the lines held back. Zero logs every one. Default 10 s.
    public var limitLogInterval: Duration = .seconds(10)

    /// Allows `Transport.setBlockedPeers(_:)`, which drops every frame to and from chosen addresses to simulate a
    /// network partition (tests and drills only). Off, the transport never checks for blocked addresses and
    /// `setBlockedPeers` throws `TransportError.faultInjectionDisabled`. Default false.
    public var faultInjection: Bool = false

    public init() {}

    public static var `default`: TransportSettings { TransportSettings() }
}
