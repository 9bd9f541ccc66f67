import ActorCluster
import Foundation
import Hotline
import XCTest

/// Cases survive what kills processes: three `hotline node` processes with `--data` directories, every one of
/// them SIGKILLed at once (a power loss: `fsync` per batch is the default) and restarted on its address and
/// directory; and a second process on a directory in use is refused.
final class DurabilityProcessTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let catalog = repo.appendingPathComponent("Deploy/catalogs/anshan.json").path
    let harness = NodeHarness()
    var dirs: [String] = []

    override func tearDown() {
        harness.stopAll()
        for d in dirs { try? FileManager.default.removeItem(atPath: d) }
        super.tearDown()
    }

    func dataDir(_ name: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-data-\(name)-\(UUID().uuidString)").path
        dirs.append(d)
        return d
    }

    func start(_ name: String, port: UInt16 = 0, data: String, seeds: [NodeAddress]) throws -> NodeProcess {
        var extra = ["--catalog", Self.catalog, "--data", data]
        if !seeds.isEmpty { extra += ["--seeds", seeds.map(\.description).joined(separator: ",")] }
        return try harness.startNode(name, port: port, extra: extra)
    }

    func test_everyAcknowledgedCaseSurvivesAllNodesKilledAtOnceAndRestartedOnTheirDataDirectories() async throws {
        let names = ["d1", "d2", "d3"]
        let data = names.map(dataDir)
        var nodes: [NodeProcess] = []
        for (i, n) in names.enumerated() {
            nodes.append(try start(n, data: data[i], seeds: nodes.map(\.node.address)))
        }
        let client = try harness.clientSystem()
        let entry = try HotlineNode.on(nodes[0].node, system: client)
        try await waitUntil(timeout: .seconds(20), "the first node has all three members and takes a request") {
            let info = try await entry.info()
            return info.membersUp == 3 && info.hasQuorum
        }
        var receipts: [IntakeReceipt] = []
        let jurisdictions = ["210302", "210303", "210304", "210311"]
        for i in 0..<24 {
            let r = CitizenRequest(channel: "8890", externalID: "power-\(i)", category: "heating-failure",
                                   jurisdiction: jurisdictions[i % jurisdictions.count], description: "暖气不热 \(i)")
            var receipt: IntakeReceipt?
            // The offices may still be recovering their (empty) streams right after start: failover waits.
            try await waitUntil(timeout: .seconds(20), "request \(i) accepted") {
                receipt = try? await entry.submit(r)
                return receipt != nil
            }
            receipts.append(try XCTUnwrap(receipt))
        }
        // Power loss: every process at once.
        for n in nodes { n.kill() }
        var restarted: [NodeProcess] = []
        for (i, n) in names.enumerated() {
            restarted.append(try start(n + "-again", port: nodes[i].node.address.port, data: data[i],
                                       seeds: nodes.map(\.node.address).filter { $0 != nodes[i].node.address }))
        }
        let client2 = try harness.clientSystem("after-restart")
        let again = try HotlineNode.on(restarted[0].node, system: client2)
        for receipt in receipts {
            var found: CaseHistory?
            try await waitUntil(timeout: .seconds(30), "case \(receipt.ref.number) found after the restart") {
                found = try? await again.findCase(receipt.ref.number.description)
                return found != nil
            }
            XCTAssertEqual(found?.snapshot.id, receipt.ref.id)
            XCTAssertEqual(found?.snapshot.status, receipt.status)
        }
        // The same request again is the same case, not a new one.
        let repeatReceipt = try await again.submit(CitizenRequest(channel: "8890", externalID: "power-5", category: "heating-failure",
                                                                  jurisdiction: jurisdictions[5 % 4], description: "暖气不热 5"))
        XCTAssertEqual(repeatReceipt.ref.id, receipts[5].ref.id)
    }

    func test_aSecondNodeOnADataDirectoryInUseExitsTwoNamingTheLock() async throws {
        let data = dataDir("locked")
        _ = try start("holder", data: data, seeds: [])
        let (status, stderr) = try NodeHarness.run(["node", "--name", "intruder", "--listen", "127.0.0.1:0",
                                                   "--secret-file", harness.secret.path, "--data", data])
        XCTAssertEqual(status, 2, stderr)
        XCTAssertTrue(stderr.contains("lock"), stderr)
    }
}
