import ActorCluster
import XCTest

/// In-process `ClusterSystem`s on 127.0.0.1 with ephemeral ports (unless given), shut down after each test.
class ClusterSystemTestCase: XCTestCase {
    var systems: [ClusterSystem] = []

    func makeSystem(_ name: String, maxFrameBytes: Int? = nil, auth: ClusterAuth? = nil, port: UInt16 = 0,
                    seeds: [NodeAddress] = [], configure: (inout ClusterSettings) -> Void = { _ in }) throws -> ClusterSystem {
        var s = ClusterSettings()
        s.nodeName = name
        s.listen = NodeAddress(host: "127.0.0.1", port: port)
        s.seeds = seeds
        if let maxFrameBytes { s.transport.maxFrameBytes = maxFrameBytes }
        if let auth { s.transport.auth = auth }
        configure(&s)
        let system = try ClusterSystem(settings: s, logger: Logger(level: .error))
        systems.append(system)
        return system
    }

    override func tearDown() {
        for s in systems { s.shutdown() }
        systems = []
        super.tearDown()
    }
}
