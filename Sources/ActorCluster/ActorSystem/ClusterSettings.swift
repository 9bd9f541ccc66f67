import Glibc

/// Everything a `ClusterSystem` needs to start, each with a documented default.
public struct ClusterSettings: Sendable {
    /// Human name of this node (logs, `ready` line). Default `"node"`.
    public var nodeName: String = "node"
    /// Cluster name; a handshake from another cluster is refused. Default `"hotline"`.
    public var clusterName: String = "hotline"
    /// Where to listen; port 0 picks an ephemeral port. Default `127.0.0.1:7101`.
    public var listen: NodeAddress = NodeAddress(host: "127.0.0.1", port: 7101)
    /// Seed nodes dialled at start and kept associated (redialled with backoff). Default none.
    public var seeds: [NodeAddress] = []
    /// Default per-call timeout. Trade-off: shorter fails faster on a hung (not dead) peer, longer
    /// tolerates slow handlers. Dead peers fail at once regardless. Default 5 s.
    public var callTimeout: Duration = .seconds(5)
    /// Granularity of the timeout sweeper: a call times out between `callTimeout` and
    /// `callTimeout + timeoutResolution`. Default 10 ms.
    public var timeoutResolution: Duration = .milliseconds(10)
    /// Where inbound calls run.
    public enum InboundExecution: Sendable, Equatable {
        /// On the global concurrent pool: a handler that computes for long never delays I/O; each call
        /// costs a thread hop in and out.
        case globalPool
        /// On the node's I/O thread (SE-0417 task executor preference), as SwiftNIO handlers do: no thread
        /// hop per call (about half the wake-ups per round trip), but a handler that computes for long
        /// delays every connection of the node for that time. Async waits (sleeps, calls) do not block it.
        case ioThread
        /// On the node's call threads (`callThreads`, `CallThread`), beside the I/O thread: the calls of a read
        /// are queued there with one wake-up and run one after another, and their replies are written once the
        /// batch is done, many per `write(2)` (about a third less CPU per call than the pool and a sixth of the
        /// syscalls, but on 2 cores fewer calls per second: `Docs/performance.md`). A handler that computes for long delays the calls queued behind it
        /// on its thread (never reading, writing, keep-alives or membership); async waits (sleeps, calls) free
        /// the thread, as on the pool.
        case callThread
    }

    /// Where inbound calls run. Default `.globalPool`.
    public var inboundExecution: InboundExecution = .globalPool
    /// Call threads of a node in `.callThread` mode, 1 to `maxCallThreads`; the calls of one recipient actor always
    /// run on the same one. Default: half the processors (at least 1, at most 8), so the I/O thread and the
    /// processes sharing the machine keep the rest.
    public var callThreads: Int = ClusterSettings.defaultCallThreads
    /// The largest `callThreads` honoured.
    public static let maxCallThreads = 64
    /// Half the online processors, 1 to 8.
    public static var defaultCallThreads: Int {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return min(8, max(1, online / 2))
    }
    /// Inbound calls running at once on this node, from all callers. A call beyond it is answered at once with
    /// an `overloaded` reply (the caller gets `RemoteCallError.remoteOverloaded`) instead of queueing: it never
    /// runs (`hotline_calls_refused_overloaded_total`, warning `call.refused_overloaded`, rate-limited).
    /// Trade-off: bounds the memory and tasks pipelined calls can pin (each holds its frame's bytes and a task);
    /// too small refuses legitimate bursts of slow calls. Default 4096.
    public var maxInboundCallsInFlight: Int = 4096
    /// The same per calling node, so that one caller cannot take the whole node-wide allowance. Default 1024.
    public var maxInboundCallsInFlightPerPeer: Int = 1024
    /// Bytes of call frames in flight node-wide (the arguments of admitted calls stay in memory until each call
    /// finishes; a 1 MiB argument counts 1 MiB). A call that would go beyond is answered `overloaded` at once
    /// (one call is always admitted when none is running). Trade-off: bounds what callers pipelining large
    /// arguments can pin, against refusing bursts of large calls. Default 64 MiB.
    public var maxInboundCallBytesInFlight: Int = 64 << 20
    /// Gossip membership (SWIM + Lifeguard, `Docs/membership.md`): nil = this system is not a member (tools,
    /// test drivers: they call members but are never probed, listed or counted in a quorum). Default nil;
    /// `hotline node` sets it.
    public var membership: Membership.Settings?
    /// Where the last agreed member set is kept across restarts (in the data directory), and what it held at
    /// start: more than one address makes a restarted node wait for a majority of them before it forms a
    /// cluster (Docs/membership.md, "Restarts"). nil: nothing kept (no data directory).
    public var memberMemory: MemberMemory?
    /// Opaque role strings gossiped with this node's member entry (the application decides what they mean).
    /// Default none.
    public var roles: [String] = []
    /// Socket, framing, handshake and backoff settings.
    public var transport: TransportSettings = .default
    /// Log threshold. Default `.info`.
    public var logLevel: LogLevel = .info

    public init() {}

    public static var `default`: ClusterSettings { ClusterSettings() }

    /// Settings of a short-lived client node (tools, tests, drivers): `name`, an ephemeral port on 127.0.0.1.
    public static func client(_ name: String, cluster: String = "hotline") -> ClusterSettings {
        var s = ClusterSettings()
        s.nodeName = name
        s.clusterName = cluster
        s.listen = NodeAddress(host: "127.0.0.1", port: 0)
        return s
    }
}
