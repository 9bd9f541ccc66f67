import ActorCluster
import Foundation

/// `hotline demo`: the runtime end to end on one machine — two `hotline node` processes on ephemeral
/// loopback ports, node b seeded with node a, and this process as a third node driving remote calls.
enum DemoCommand {
    static let usage = """
    usage: hotline demo [--calls N]
      Starts nodes a and b as child processes on 127.0.0.1 (ephemeral ports), has a make N (default 1000)
      echo calls to b, round-trips Chinese text, shows a remote error arriving typed, then stops both nodes.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["calls"])
        let calls = try args.int("calls", in: 1...100_000) ?? 1000
        let exe = try selfExecutable()
        func line(_ s: String) { print(s) }

        let a = try NodeProcess(executable: exe, arguments: ["node", "--name", "a", "--listen", "127.0.0.1:0",
                                                             "--log-level", "warning"])
        defer { a.stop() }
        let b = try NodeProcess(executable: exe, arguments: ["node", "--name", "b", "--listen", "127.0.0.1:0",
                                                             "--seeds", a.node.address.description,
                                                             "--log-level", "warning"])
        defer { b.stop() }
        line("node a ready: \(a.node)")
        line("node b ready: \(b.node)")

        let settings = ClusterSettings.client("demo")
        let system = try ClusterSystem(settings: settings, logger: Logger(level: .warning))
        defer { system.shutdown() }
        let probeA = try NodeProbe.on(a.node, system: system)
        let probeB = try NodeProbe.on(b.node, system: system)

        let start = ContinuousClock.now
        let correct = try await probeA.echoPeer(b.node, count: calls)
        let elapsed = ContinuousClock.now - start
        line("a → b: \(correct)/\(calls) echo calls answered correctly in \(milliseconds(elapsed)) ms")

        let text = "市民反映铁东区供暖不热，请尽快处理。"
        let echoed = try await probeB.echoText(text)
        line("demo → b: Chinese text round trip \(echoed == text ? "identical" : "DIFFERENT"): \(echoed)")

        do {
            try await probeB.fail("no such case")
            line("demo → b: expected a remote error, got none")
        } catch let error as RemoteCallError {
            line("demo → b: remote error arrived typed: \(error)")
        }

        let infoB = try await probeB.info()
        line("b reports \(infoB.associatedNodes.count) associated node(s): "
             + infoB.associatedNodes.map(\.description).joined(separator: ", "))

        let statusB = b.stop()
        let statusA = a.stop()
        line("stopped b (exit \(statusB)) and a (exit \(statusA))")
        return correct == calls && echoed == text && statusA == 0 && statusB == 0 ? 0 : 1
    }

    static func milliseconds(_ d: Duration) -> Int {
        Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// Path of the running `hotline` executable (children are started from the same binary).
func selfExecutable() throws -> URL {
    let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    return URL(fileURLWithPath: path)
}
