import XCTest
@testable import ActorCluster

/// The simulation scenarios over many seeds (each seed is deterministic, so this checks that the protocol is
/// robust rather than lucky). About 30 s in a debug build: run with `MEMBERSHIP_SWEEP=1`, e.g.
/// `MEMBERSHIP_SWEEP=1 swift test --filter MembershipSweepTests`; `MEMBERSHIP_SWEEP_SEEDS=n` sets the count.
final class MembershipSweepTests: XCTestCase {
    private typealias Scenario = (name: String, check: (UInt64) -> (ok: Bool, violations: [String]))

    func test_sweep_scenariosOverManySeeds() throws {
        let env = ProcessInfo.processInfo.environment
        try XCTSkipUnless(env["MEMBERSHIP_SWEEP"] == "1", "set MEMBERSHIP_SWEEP=1 to run the seed sweep")
        let count = UInt64(env["MEMBERSHIP_SWEEP_SEEDS"].flatMap(Int.init) ?? 30)
        var failed: [String: [UInt64]] = [:]
        for seed in 1_000..<(1_000 + count) {
            for scenario in scenarios {
                let (ok, violations) = scenario.check(seed)
                XCTAssertEqual(violations, [], "\(scenario.name), seed \(seed)")
                if !ok { failed[scenario.name, default: []].append(seed) }
            }
        }
        XCTAssertTrue(failed.isEmpty, "failed scenarios by seed: \(failed.sorted { $0.key < $1.key })")
    }

    private func downs(_ sim: MembershipSimulation) -> Int {
        sim.observations.filter {
            if case .memberChanged(let m, _) = $0.event { return m.status == .down }
            return false
        }.count
    }

    private func converged(_ n: Int, _ seed: UInt64, loss: Double = 0) -> MembershipSimulation {
        let sim = MembershipSimulation(seed: seed)
        sim.bootstrap(n)
        sim.loss = loss
        sim.runFor(ms: 3000)
        return sim
    }

    /// `winners` keep quorum and remove `losers`; the losers lose quorum and down nobody.
    private func split(_ sim: MembershipSimulation, winners: [Int], losers: [Int]) -> Bool {
        winners.allSatisfy { w in
            sim.machine(w).hasQuorum && losers.allSatisfy { sim.status(at: w, of: sim.identity($0))?.isTerminal == true }
        } && losers.allSatisfy { !sim.machine($0).hasQuorum && sim.machine($0).stats.downsBySuspicion == 0 }
    }

    private var scenarios: [Scenario] {
        [
            ("partition 2|3, heal", { seed in
                let sim = self.converged(5, seed)
                sim.partition([[0, 1, 2], [3, 4]])
                sim.runFor(ms: 20_000)
                let ok = self.split(sim, winners: [0, 1, 2], losers: [3, 4])
                sim.heal()
                sim.runFor(ms: 10_000)
                return (ok && [3, 4].allSatisfy { sim.machine($0).myself.status == .down }, sim.violations)
            }),
            ("partition 2|2", { seed in
                let sim = self.converged(4, seed)
                sim.partition([[0, 1], [2, 3]])
                sim.runFor(ms: 15_000)
                return (self.split(sim, winners: [0, 1], losers: [2, 3]), sim.violations)
            }),
            ("partition 8|12", { seed in
                let sim = self.converged(20, seed)
                sim.partition([Array(0..<12), Array(12..<20)])
                sim.runFor(ms: 30_000)
                return (self.split(sim, winners: Array(0..<12), losers: Array(12..<20)), sim.violations)
            }),
            ("partition 2|3 with 5% loss", { seed in
                let sim = self.converged(5, seed, loss: 0.05)
                sim.partition([[0, 1, 2], [3, 4]])
                sim.runFor(ms: 30_000)
                let majorityDowned = sim.observations.contains {
                    guard case .memberChanged(let m, _) = $0.event else { return false }
                    return m.status == .down && [0, 1, 2].contains { sim.identity($0) == m.node }
                }
                return (self.split(sim, winners: [0, 1, 2], losers: [3, 4]) && !majorityDowned, sim.violations)
            }),
            ("crash confirmed within 50 ms", { seed in
                let sim = self.converged(6, seed)
                let victim = sim.identity(2)
                let crashedAt = sim.nowNs
                sim.crash(2)
                let ok = sim.run(forMs: 1000) { sim.allSeeGone(victim, observers: sim.running()) }
                return (ok && sim.nowNs - crashedAt <= 50_000_000, sim.violations)
            }),
            ("pause detected", { seed in
                let sim = self.converged(6, seed)
                let victim = sim.identity(5)
                sim.pause(5)
                return (sim.run(forMs: 15_000) { sim.allSeeGone(victim, observers: sim.running()) }, sim.violations)
            }),
            ("restart on the same address", { seed in
                let sim = self.converged(5, seed)
                let old = sim.identity(3)
                sim.crash(3)
                sim.restart(3, seeds: [0])
                let new = sim.identity(3)
                let ok = sim.run(forMs: 5000) {
                    (0..<5).allSatisfy { s in
                        sim.status(at: s, of: new) == .up && (s == 3 || sim.status(at: s, of: old)?.isTerminal == true)
                    }
                }
                return (ok && !sim.changes(of: old).contains { $0.status == .suspect }, sim.violations)
            }),
            ("graceful leave", { seed in
                let sim = self.converged(5, seed)
                let leaver = sim.identity(3)
                sim.inject(3, .leave)
                sim.runFor(ms: 5000)
                let ok = [0, 1, 2, 4].allSatisfy { s in
                    sim.changes(of: leaver).filter { $0.slot == s }.map(\.status) == [.leaving, .removed]
                }
                return (ok, sim.violations)
            }),
            ("10 members, 20% loss, 60 s: no down", { seed in
                let sim = self.converged(10, seed, loss: 0.2)
                sim.runFor(ms: 60_000)
                return (self.downs(sim) == 0, sim.violations)
            }),
            ("30 members, 10% loss, 60 s: no down", { seed in
                let sim = self.converged(30, seed, loss: 0.1)
                sim.runFor(ms: 60_000)
                return (self.downs(sim) == 0, sim.violations)
            }),
            ("starved 250 ms: no suspicion by it, no down", { seed in
                let sim = self.converged(8, seed)
                sim.starve(3, byMs: 250, inboundToo: seed % 2 == 0)
                sim.runFor(ms: 20_000)
                return (self.downs(sim) == 0 && sim.machine(3).stats.suspicions == 0, sim.violations)
            }),
        ]
    }
}
