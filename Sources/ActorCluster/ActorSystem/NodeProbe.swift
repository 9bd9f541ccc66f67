import Distributed
import Foundation
import Synchronization

/// Diagnostic actor every node hosts at `/system/probe` (like Erlang's `net_adm:ping` plus an echo):
/// operators and tests use it to check that a node answers remote calls end to end.
public distributed actor NodeProbe {
    public typealias ActorSystem = ClusterSystem

    /// The well-known path.
    public static let path = "/system/probe"
    /// Upper bound of `sleep(milliseconds:)`, in ms.
    public static let maxSleepMilliseconds = 60_000

    private let nodeName: String
    private let started = ContinuousClock.now

    /// What `info()` returns.
    public struct Info: Codable, Sendable, Equatable {
        public var name: String
        public var node: NodeIdentity
        /// Milliseconds since the probe (≈ the node) started.
        public var uptimeMilliseconds: Int
        /// Peers with a live connection.
        public var associatedNodes: [NodeIdentity]
    }

    /// Error thrown by `fail(_:)` on purpose, so callers can see a remote error arrive typed.
    public enum ProbeError: Error, Codable, CustomStringConvertible {
        case requested(String)
        case sleepTooLong(milliseconds: Int)

        public var description: String {
            switch self {
            case .requested(let m): "failure requested: \(m)"
            case .sleepTooLong(let ms): "sleep of \(ms) ms exceeds \(NodeProbe.maxSleepMilliseconds) ms"
            }
        }
    }

    /// Path of the probe's one-way message sink: counts messages and bytes (stream benchmark).
    public static let sinkPath = "/system/probe/sink"

    /// Creates the probe at its well-known path on `system` and registers its message sink.
    public static func start(on system: ClusterSystem, nodeName: String) throws -> NodeProbe {
        let counter = SinkCounter()
        let probe = try system.makeWellKnown(path: path) {
            NodeProbe(nodeName: nodeName, sinkCounter: counter, actorSystem: system)
        }
        try system.registerMessageSink(path: sinkPath) { _, payload in
            counter.increment()
            counter.bytes.add(payload.count, ordering: .relaxed)
        }
        return probe
    }

    final class SinkCounter: Sendable {
        let messages = Atomic<Int>(0)
        let bytes = Atomic<Int>(0)
        func increment() { messages.add(1, ordering: .relaxed) }
    }

    private let sinkCounter: SinkCounter

    /// Messages and bytes received by the sink at `sinkPath` since start.
    public distributed func sinkTotals() -> [Int] {
        [sinkCounter.messages.load(ordering: .relaxed), sinkCounter.bytes.load(ordering: .relaxed)]
    }

    /// A proxy for the probe on `node`.
    public static func on(_ node: NodeIdentity, system: ClusterSystem) throws -> NodeProbe {
        try NodeProbe.resolve(id: ClusterSystem.wellKnownID(path, on: node), using: system)
    }

    init(nodeName: String, sinkCounter: SinkCounter, actorSystem: ClusterSystem) {
        self.nodeName = nodeName
        self.sinkCounter = sinkCounter
        self.actorSystem = actorSystem
    }

    /// Returns `payload` unchanged.
    public distributed func echo(_ payload: [UInt8]) -> [UInt8] { payload }

    /// Returns `text` unchanged (UTF-8 round trip check).
    public distributed func echoText(_ text: String) -> String { text }

    /// Always throws `ProbeError.requested(message)`.
    public distributed func fail(_ message: String) throws { throw ProbeError.requested(message) }

    /// Sleeps, then returns the milliseconds asked for. Throws `ProbeError.sleepTooLong` above 60 000 ms.
    public distributed func sleep(milliseconds: Int) async throws -> Int {
        guard milliseconds <= Self.maxSleepMilliseconds else { throw ProbeError.sleepTooLong(milliseconds: milliseconds) }
        try await Task.sleep(for: .milliseconds(max(0, milliseconds)))
        return milliseconds
    }

    /// Name, identity, uptime and peers of this node.
    public distributed func info() -> Info {
        let elapsed = ContinuousClock.now - started
        return Info(name: nodeName, node: actorSystem.node,
                    uptimeMilliseconds: Int(elapsed.components.seconds * 1000),
                    associatedNodes: actorSystem.associatedNodes.sorted())
    }

    /// The probes of every node this node is associated with (actor references as a result: each resolves,
    /// on the receiving node, to its local probe or a remote proxy).
    public distributed func peerProbes() throws -> [NodeProbe] {
        try actorSystem.associatedNodes.sorted().map { try NodeProbe.on($0, system: actorSystem) }
    }

    /// Calls `info()` on `other` from this node and returns what it answered — "can this node reach that
    /// one?" asked from outside (an actor reference as an argument, like `rpc:call(N, net_adm, ping, [M])`).
    ///
    /// - Throws: the `RemoteCallError` this node got calling `other`.
    public distributed func infoOf(_ other: NodeProbe) async throws -> Info {
        try await other.info()
    }

    /// Makes `count` echo calls (≤ 100 000) from this node to the probe on `peer` and returns how many
    /// replies matched — a node-to-node check driven from outside.
    public distributed func echoPeer(_ peer: NodeIdentity, count: Int) async throws -> Int {
        let remote = try NodeProbe.on(peer, system: actorSystem)
        var correct = 0
        for i in 0..<min(max(0, count), 100_000) {
            let payload = Array("\(nodeName)-\(i)".utf8)
            if try await remote.echo(payload) == payload { correct += 1 }
        }
        return correct
    }
}
