@testable import ActorCluster
import Distributed
import Foundation
import Hotline
import XCTest

/// Seeded recipient × target fuzzing against a live `hotline node` process hosting the whole hotline: real
/// distributed functions of every actor type sent to every well-known path (and mutated, truncated and random
/// targets, with random argument bytes). A function of one type sent to another type's path must be refused
/// as `noSuchTarget` (field report: `Analyst.allEvents` sent to `/system/probe` killed the node with a null
/// dereference), and the node must stay up and keep answering.
final class CallTargetFuzzTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func test_seededRecipientTargetFuzzNeverCrashesALiveNode() async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["FUZZ_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)
        print("CallTargetFuzzTests seed: \(seed) (FUZZ_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let node = try harness.startNode("fuzzed", extra: [
            "--catalog", Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path,
            "--calendar", Self.repo.appendingPathComponent("Deploy/calendars/cn-2026.json").path])
        let client = try harness.clientSystem(callTimeout: .seconds(10))
        let at = { (path: String) in ClusterSystem.wellKnownID(path, on: node.node) }

        // Every well-known path and the type that lives there.
        let paths: [(path: String, type: String)] = [
            (NodeProbe.path, "NodeProbe"), (HotlinePaths.node, "HotlineNode"), (HotlinePaths.intake, "IntakeDesk"),
            (HotlinePaths.dispatchGroup("G1"), "RoutingGroup"), (HotlinePaths.district("210302"), "DistrictOffice"),
            (HotlinePaths.callback, "CallbackDesk"), (HotlinePaths.supervision, "Supervisor"),
            (HotlinePaths.analysis, "Analyst"), ("/no/such/actor", "none")]
        // Real functions of each type, as typed calls; each is learned by sending it where it does not belong.
        let calls: [(type: String, call: (ClusterSystem.ActorID) async throws -> Void)] = [
            ("NodeProbe", { _ = try await NodeProbe.resolve(id: $0, using: client).info() }),
            ("NodeProbe", { _ = try await NodeProbe.resolve(id: $0, using: client).echo([1, 2]) }),
            ("NodeProbe", { _ = try await NodeProbe.resolve(id: $0, using: client).peerProbes() }),
            ("HotlineNode", { _ = try await HotlineNode.resolve(id: $0, using: client).info() }),
            ("HotlineNode", { _ = try await HotlineNode.resolve(id: $0, using: client).findCase("2026-000001") }),
            ("IntakeDesk", { _ = try await IntakeDesk.resolve(id: $0, using: client).acceptedCount() }),
            ("IntakeDesk", { _ = try await IntakeDesk.resolve(id: $0, using: client).submit(
                CitizenRequest(channel: "8890", category: "heating-failure", jurisdiction: "210302", description: "x")) }),
            ("DistrictOffice", { _ = try await DistrictOffice.resolve(id: $0, using: client).events(of: CaseID("x")) }),
            ("DistrictOffice", { _ = try await DistrictOffice.resolve(id: $0, using: client).statusCounts() }),
            ("DistrictOffice", { _ = try await DistrictOffice.resolve(id: $0, using: client).eventLogs(after: nil, maxBytes: 1) }),
            ("Analyst", { _ = try await Analyst.resolve(id: $0, using: client).report(asOf: nil) }),
            ("Supervisor", { _ = try await Supervisor.resolve(id: $0, using: client).tick() }),
        ]
        var targets: [(type: String, target: String)] = []
        for (type, call) in calls {
            let wrong = paths.first { $0.type != type && $0.type != "none" }!.path
            do {
                try await call(at(wrong))
                XCTFail("\(type) function ran at \(wrong)")
            } catch RemoteCallError.noSuchTarget(_, let target) {
                targets.append((type, target))
            }
        }
        XCTAssertEqual(targets.count, calls.count)

        let iterations = 1_500
        var outcomes: [String: Int] = [:]
        for i in 0..<iterations {
            let (targetType, real) = targets[rng.below(targets.count)]
            var target = real
            let mutated: Bool
            switch rng.below(4) {
            case 0, 1: mutated = false
            case 2:
                var bytes = Array(target.utf8)
                bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
                target = String(decoding: bytes, as: UTF8.self)
                mutated = target != real
            default:
                target = String(target.prefix(rng.below(target.count)))
                mutated = true
            }
            let (path, pathType) = paths[rng.below(paths.count)]
            var invocation = ClusterInvocationEncoder()
            for _ in 0..<rng.below(4) {
                invocation.arguments.append((0..<rng.below(24)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            }
            if rng.below(10) == 0 { invocation.generics = [rng.below(2) == 0 ? "Si" : "\u{01}\u{02}\u{03}\u{04}"] }
            let reply = try await client.call(at(path), target: RemoteCallTarget(target), invocation: invocation)
            let kind: String
            switch reply {
            case .noSuchActor: kind = "noSuchActor"
            case .noSuchTarget: kind = "noSuchTarget"
            case .invocationFailed: kind = "invocationFailed"
            case .thrown, .thrownTyped: kind = "thrown"
            case .value, .void: kind = "ran"
            case .resultTooLarge: kind = "resultTooLarge"
            case .notPermitted: kind = "notPermitted"
            case .overloaded: kind = "overloaded"
            }
            outcomes[kind, default: 0] += 1
            if pathType == "none" {
                XCTAssertEqual(kind, "noSuchActor", "iteration \(i)")
            } else if !mutated && pathType != targetType {
                XCTAssertEqual(kind, "noSuchTarget", "iteration \(i): \(targetType) function at \(path)")
            }
            if i % 250 == 0 { XCTAssertTrue(node.isRunning, "node died at iteration \(i) (seed \(seed))") }
        }
        print("fuzz over a live node: \(iterations) calls: \(outcomes.sorted { $0.key < $1.key })")
        XCTAssertTrue(node.isRunning, "the node died (seed \(seed))")
        let info = try await NodeProbe.on(node.node, system: client).info()
        XCTAssertEqual(info.name, "fuzzed")
        XCTAssertGreaterThan(outcomes["noSuchTarget", default: 0], 0)
    }
}
