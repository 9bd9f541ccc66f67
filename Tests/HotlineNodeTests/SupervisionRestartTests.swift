import ActorCluster
import Foundation
import Hotline
import XCTest

/// Supervision on live nodes survives the node that runs it: the district office's own timer reminds an unsigned
/// P1 case; the office's node is SIGKILLed (its timer ticking every 100 ms), the sign deadline passes, the office
/// moves to another district node, recovers the case from its replicas and escalates it there; the killed node
/// comes back on its data directory and every timer keeps ticking. Every reminder and every escalation is
/// recorded exactly once — never lost, never doubled — because a tick records only what is due and not yet in
/// the case's log.
extension LiveHotlineTests {
    func test_anOfficeKilledMidTickMovesAndNothingIsLostOrDoubled() async throws {
        let catalogue = try ClassificationQueueTests.anshan()
        let harness = NodeHarness()
        var dirs: [String] = []
        defer {
            harness.stopAll()
            for d in dirs { try? FileManager.default.removeItem(atPath: d) }
        }
        func data(_ name: String) -> String {
            let d = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-tick-\(name)-\(UUID().uuidString)").path
            dirs.append(d)
            return d
        }
        let timer = ["--supervision-interval-ms", "100"]
        // Three district nodes: each office's stream has three replicas (the district nodes), so one node killed
        // leaves a quorum for the office to move with.
        let names = ["front", "d1", "d2", "d3"]
        let dataDirs = names.map(data)
        let front = try harness.startNode("front", extra: ["--roles", LiveHotlineTests.frontRoles, "--data", dataDirs[0]] + timer)
        var processes = [front]
        for k in 1...3 {
            processes.append(try harness.startNode(names[k], extra: ["--roles", "district", "--data", dataDirs[k],
                                                                     "--seeds", "\(front.node.address)"] + timer))
        }
        let client = try harness.clientSystem(callTimeout: .seconds(20))
        var nodes = try processes.map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(nodes, names: names, timeout: .seconds(20))
        let t0 = Date(timeIntervalSince1970: 1_796_176_800)  // 2026-12-02 10:00 +08:00
        var configuration = HotlineConfiguration(catalogue: catalogue, settings: WorkflowSettings(), virtualStart: t0)
        for n in nodes { _ = try await n.configure(configuration) }
        _ = try await ClusterFormation.waitForPlacement(nodes, names: names, timeout: .seconds(20))
        let entry = front.node.address.description
        var clock = t0
        func moveClock(to instant: Date) async throws {
            clock = instant
            for n in nodes { try await n.setClock(to: instant) }
        }
        /// Reminders and escalations recorded on case `number`, by assignment (and level).
        func fired(_ number: String) throws -> (reminders: [String: Int], escalations: [String: Int]) {
            // Not asserted here: while the office moves, `hotline case` may fail for a moment (retried by the caller).
            let run = try harness.cli(entry, ["case", number])
            guard run.status == 0, let shown = try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any] else {
                throw HotlineError.unavailable("hotline case \(number): \(run.stderr)")
            }
            return LiveHotlineTests.supervisionRecorded(in: shown)
        }

        // A P1 heating case, two assignments (lead and co-handler), sign within 30 natural minutes.
        let r = try harness.json(entry, ["submit", "--channel", "8890", "--external-id", "tick-1", "--category", "heating-failure",
                                               "--jurisdiction", "210302", "--description", "暖气不热，室温十二度"])
        let number = "\(try XCTUnwrap((r["ref"] as? [String: Any])?["number"]))"
        try await moveClock(to: t0.addingTimeInterval(16 * 60))
        try await waitUntil(timeout: .seconds(10), "the office's timer sends the reminders") {
            (try? fired(number).reminders.values.reduce(0, +)) ?? 0 >= 2
        }
        let assignments = try fired(number).reminders.keys.sorted()
        XCTAssertEqual(assignments.count, 2)

        // The office's node is killed (its timer ticking every 100 ms), and the sign deadline passes: only the office's
        // new owner can escalate.
        let directory = try await nodes[0].directory()
        let owner = try XCTUnwrap(directory.owner(HotlineKey.district("210302")))
        let victim = try XCTUnwrap(processes.firstIndex { $0.node == owner }, "210302 is on \(owner), not a district node")
        XCTAssertNotEqual(victim, 0)
        processes[victim].kill()
        nodes.remove(at: victim)
        try await moveClock(to: t0.addingTimeInterval(31 * 60))
        // The office moves to the other district node, recovers the case and its timer escalates it (once).
        try await waitUntil(timeout: .seconds(30), "the moved office escalates the case") {
            (try? fired(number).escalations.values.reduce(0, +)) ?? 0 >= 2
        }

        // The killed node comes back on its data directory (a new member), configured at the current virtual time.
        let name = names[victim]
        let back = try harness.startNode(name + "-again", port: processes[victim].node.address.port,
                                         extra: ["--roles", "district", "--data", dataDirs[victim],
                                                 "--seeds", "\(front.node.address)"] + timer)
        let backNode = try HotlineNode.on(back.node, system: client)
        try await ClusterFormation.waitForMembers([backNode], names: [name + "-again"], timeout: .seconds(20))
        configuration.virtualStart = clock
        _ = try await backNode.configure(configuration)
        nodes.insert(backNode, at: victim)
        processes[victim] = back
        try await moveClock(to: clock.addingTimeInterval(60))
        // Every node's timer has ticked many times by now, wherever the office is: still exactly once each.
        try await waitUntil(timeout: .seconds(20), "the office serves after the node's return") {
            guard let d = try? await nodes[0].directory(), d.owner(HotlineKey.district("210302")) != nil else { return false }
            return (try? fired(number)) != nil
        }
        let after = try fired(number)
        var once: [String: Int] = [:], escalatedOnce: [String: Int] = [:]
        for a in assignments {
            once[a] = 1
            escalatedOnce[a + " L1"] = 1
        }
        XCTAssertEqual(after.reminders, once, "reminders: \(after.reminders)")
        XCTAssertEqual(after.escalations, escalatedOnce, "escalations: \(after.escalations)")
    }
}
