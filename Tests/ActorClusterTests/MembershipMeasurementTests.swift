import XCTest
@testable import ActorCluster

/// Measures the protocol with default settings in the simulated network (latency 0.2–1 ms, no loss), for a
/// converged cluster of N:
/// - a paused member (stops answering, connections stay open): time until each survivor holds it down;
/// - a crashed member (connections break, its address refuses): the same;
/// - a new member joining through a seed: protocol periods from the seed listing it until each member does.
/// Median and max over the members. 10 and 100 members always; 1,000 with `MEMBERSHIP_TABLE=1`:
/// `MEMBERSHIP_TABLE=1 swift test --filter MembershipMeasurementTests` prints the table of `Docs/membership.md`.
final class MembershipMeasurementTests: XCTestCase {
    struct Result {
        let members: Int
        let paused: (median: Double, max: Double)
        let crashed: (median: Double, max: Double)
        let rounds: (median: Double, max: Double)
        /// Process CPU time of the run (the simulation is single-threaded and CPU-bound; wall time depends on
        /// what else the machine runs).
        let cpuSeconds: Double
    }

    func test_measure_tenAndHundred_andThousandOnRequest() {
        var sizes = [10, 100]
        if ProcessInfo.processInfo.environment["MEMBERSHIP_TABLE"] == "1" { sizes.append(1000) }
        var results: [Result] = []
        for n in sizes {
            guard let result = measure(members: n, seed: 42) else { return }
            results.append(result)
            // Loose bounds: the point is the table, but a regression by an order of magnitude fails.
            XCTAssertLessThan(result.paused.max, 20, "paused member detection, N = \(n)")
            XCTAssertLessThan(result.crashed.max, 5, "crash detection, N = \(n)")
            XCTAssertLessThan(result.rounds.max, 40, "dissemination, N = \(n)")
        }
        print("| members | paused → down everywhere (median / max) | crashed → down everywhere (median / max) | new member known everywhere, periods (median / max) | CPU time (debug build) |")
        print("|---:|---:|---:|---:|---:|")
        for r in results {
            print(String(format: "| %d | %.2f s / %.2f s | %.3f s / %.3f s | %.1f / %.1f | %.1f s |", r.members, r.paused.median, r.paused.max,
                         r.crashed.median, r.crashed.max, r.rounds.median, r.rounds.max, r.cpuSeconds))
        }
    }

    private func measure(members n: Int, seed: UInt64) -> Result? {
        let started = clock()
        let sim = MembershipSimulation(seed: seed)
        sim.stopCheckIntervalNs = 1_000_000
        let period = Double(MembershipSimulation.nanoseconds(sim.settings.protocolPeriod))
        sim.bootstrap(n)
        sim.runFor(ms: 3000)

        // Paused member.
        let paused = n - 1
        let pausedNode = sim.identity(paused)
        let pausedAt = sim.nowNs
        sim.pause(paused)
        let survivors = sim.running()
        guard sim.run(forMs: 120_000, stop: { sim.allSeeGone(pausedNode, observers: survivors) }) else {
            XCTFail("N = \(n): the paused member was not downed everywhere, \(sim.failureContext)")
            return nil
        }
        let pausedTimes = goneTimes(sim, of: pausedNode, at: survivors).map { Double($0 - pausedAt) / 1e9 }
        sim.runFor(ms: 1000)

        // Crashed member.
        let crashed = n - 2
        let crashedNode = sim.identity(crashed)
        let crashedAt = sim.nowNs
        sim.crash(crashed)
        let rest = sim.running()
        guard sim.run(forMs: 120_000, stop: { sim.allSeeGone(crashedNode, observers: rest) }) else {
            XCTFail("N = \(n): the crashed member was not downed everywhere, \(sim.failureContext)")
            return nil
        }
        let crashedTimes = goneTimes(sim, of: crashedNode, at: rest).map { Double($0 - crashedAt) / 1e9 }
        sim.runFor(ms: 1000)

        // Dissemination of a new member.
        let joiner = sim.addJoining(seeds: [0])
        let joinerNode = sim.identity(joiner)
        guard sim.run(forMs: 120_000, stop: { rest.allSatisfy { sim.status(at: $0, of: joinerNode) != nil } }) else {
            XCTFail("N = \(n): the new member did not reach everyone, \(sim.failureContext)")
            return nil
        }
        let learned = firstListed(sim, of: joinerNode, at: rest)
        guard let origin = learned[0] else { XCTFail("the seed never listed the new member"); return nil }
        let rounds = rest.compactMap { learned[$0] }.map { Double($0 - origin) / period }

        XCTAssertEqual(sim.violations, [], "invariants, N = \(n)")
        let downs = sim.observations.filter {
            guard case .memberChanged(let m, _) = $0.event else { return false }
            return m.status == .down && m.node != pausedNode && m.node != crashedNode
        }
        XCTAssertTrue(downs.isEmpty, "N = \(n): false downs, \(sim.failureContext)")
        return Result(members: n, paused: summary(pausedTimes), crashed: summary(crashedTimes), rounds: summary(rounds),
                      cpuSeconds: Double(clock() - started) / Double(CLOCKS_PER_SEC))
    }

    /// When each observer first held `node` down or removed.
    private func goneTimes(_ sim: MembershipSimulation, of node: NodeIdentity, at observers: [Int]) -> [UInt64] {
        var first: [Int: UInt64] = [:]
        for o in sim.observations {
            guard case .memberChanged(let m, _) = o.event, m.node == node, m.status.isTerminal, first[o.slot] == nil else { continue }
            first[o.slot] = o.timeNs
        }
        return observers.compactMap { first[$0] }
    }

    /// When each observer first listed `node` (any status), by slot.
    private func firstListed(_ sim: MembershipSimulation, of node: NodeIdentity, at observers: [Int]) -> [Int: UInt64] {
        var first: [Int: UInt64] = [:]
        for o in sim.observations {
            guard case .memberChanged(let m, nil) = o.event, m.node == node, first[o.slot] == nil else { continue }
            first[o.slot] = o.timeNs
        }
        return first
    }

    private func summary(_ values: [Double]) -> (median: Double, max: Double) {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return (.nan, .nan) }
        let mid = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        return (median, sorted.last!)
    }
}
