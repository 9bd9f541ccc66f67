import ActorCluster
import Foundation
import Hotline
import Synchronization
import XCTest

/// A retried request that reaches a district office while the first open of it is still replicating — the desk
/// timed out and the citizen tried again, or the desk moved and its successor sent the same request — must be
/// the same case: the office answers calls while a change replicates, so its check for the intake key and its
/// commit must not interleave with another open of the same key.
final class IntakeRaceTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func test_concurrentOpensOfOneRequestUnderDifferentCaseIDsGiveOneCase() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let node = try harness.startNode("race", extra: [
            "--catalog", Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path,
            "--calendar", Self.repo.appendingPathComponent("Deploy/calendars/cn-2026.json").path])
        let client = try harness.clientSystem("race-client", callTimeout: .seconds(20))
        let office = try DistrictOffice.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.district("210302"), on: node.node),
                                                using: client)
        // Bounded: the office serves once its (empty) stream is recovered; 20 s.
        let deadline = ContinuousClock.now + .seconds(20)
        while (try? await office.statusCounts()) == nil {
            guard ContinuousClock.now < deadline else { return XCTFail("the office did not serve within 20 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let classification = Classification(kind: .complaint, category: "heating-failure", sector: "city-environment",
                                            urgency: .p2, jurisdiction: "210302", livelihood: true)
        let author = EventAuthor.hotline(staff: "CT-07")
        for round in 0..<5 {
            let intake = IntakeRecord(channel: Channel(code: "8890", name: "8890"), externalID: "race-\(round)",
                                      contact: CitizenContact(name: "张三", phone: "13900000000"),
                                      description: "暖气不热 \(round)")
            // Eight desks' worth of opens of the same request at once, each under its own case id and number.
            let snapshots = try await withThrowingTaskGroup(of: CaseSnapshot.self) { group in
                for k in 0..<8 {
                    let open = OpenCase(id: CaseID.random(), number: CaseNumber(year: 2026, serial: 500_000 + round * 10 + k),
                                        intake: intake, classification: classification, author: author)
                    group.addTask { try await office.openCase(open) }
                }
                var all: [CaseSnapshot] = []
                for try await s in group { all.append(s) }
                return all
            }
            XCTAssertEqual(Set(snapshots.map(\.id)).count, 1, "round \(round): one request became \(Set(snapshots.map(\.id)).count) cases")
        }
        let counts = try await office.statusCounts()
        XCTAssertEqual(counts.values.reduce(0, +), 5, "five requests, five cases: \(counts)")
    }

    /// The open of a request cannot reach its write quorum (both other replicas are paused): a retry of it, under
    /// another case id as a new desk would send it, must not be answered with that case before it is durable —
    /// such an answer is an acknowledgement of a case that a failed commit then drops, and the next retry opens a
    /// second case. The retry waits for the first open; once the replicas resume, both end in one case.
    func test_aRetryIsNotAnsweredWithACaseWhoseOpenIsNotYetDurable() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let catalog = Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path
        var nodes: [NodeProcess] = []
        for name in ["q1", "q2", "q3"] {
            var extra = ["--catalog", catalog]
            if !nodes.isEmpty { extra += ["--seeds", nodes.map(\.node.address.description).joined(separator: ",")] }
            nodes.append(try harness.startNode(name, extra: extra))
        }
        let client = try harness.clientSystem("quorum-client", callTimeout: .seconds(30))
        let entry = try HotlineNode.on(nodes[0].node, system: client)
        // Bounded: 20 s for the cluster to form and the office to take a request.
        var owner: NodeIdentity?
        let formed = ContinuousClock.now + .seconds(20)
        while true {
            if let info = try? await entry.info(), info.membersUp == 3, info.hasQuorum,
               let d = try? await entry.directory(), let o = d.owner(HotlineKey.district("210303")),
               (try? await entry.submit(CitizenRequest(channel: "8890", externalID: "warm-up", category: "heating-failure",
                                                       jurisdiction: "210303", description: "暖气不热"))) != nil {
                owner = o
                break
            }
            guard ContinuousClock.now < formed else { return XCTFail("the cluster did not form within 20 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let home = try XCTUnwrap(owner)
        let office = try DistrictOffice.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.district("210303"), on: home),
                                                using: client)
        let others = nodes.filter { $0.node != home }
        XCTAssertEqual(others.count, 2)
        let intake = IntakeRecord(channel: Channel(code: "8890", name: "8890"), externalID: "slow-1",
                                  contact: CitizenContact(name: "李四", phone: "13900000001"), description: "暖气不热")
        let classification = Classification(kind: .complaint, category: "heating-failure", sector: "city-environment",
                                            urgency: .p2, jurisdiction: "210303", livelihood: true)
        let author = EventAuthor.hotline(staff: "CT-07")
        let first = OpenCase(id: CaseID.random(), number: CaseNumber(year: 2026, serial: 700_001), intake: intake,
                             classification: classification, author: author)
        let retry = OpenCase(id: CaseID.random(), number: CaseNumber(year: 2026, serial: 700_002), intake: intake,
                             classification: classification, author: author)
        for p in others { kill(p.pid, SIGSTOP) }
        let firstOpen = Task { try await office.openCase(first) }
        try await Task.sleep(for: .milliseconds(300))  // the first open is now waiting for its write quorum
        let retryAnswer = Mutex<CaseSnapshot?>(nil)
        let retryOpen = Task {
            let s = try await office.openCase(retry)
            retryAnswer.withLock { $0 = s }
            return s
        }
        // For 1.5 s the retry must not be answered with a case: nothing about this request is durable yet.
        let watch = ContinuousClock.now + .milliseconds(1_500)
        var answeredEarly: CaseSnapshot?
        while ContinuousClock.now < watch {
            if let answered = retryAnswer.withLock({ $0 }) { answeredEarly = answered; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        for p in others { kill(p.pid, SIGCONT) }
        XCTAssertNil(answeredEarly, "a retry was answered with case \(answeredEarly?.number.description ?? "") before its open was durable")
        let a = try? await firstOpen.value
        let b = try? await retryOpen.value
        // Whatever each call answered, the request is one case now, and every answer names it.
        var final: CaseSnapshot?
        let settle = ContinuousClock.now + .seconds(20)
        while final == nil && ContinuousClock.now < settle {
            final = try? await office.openCase(OpenCase(id: CaseID.random(), number: CaseNumber(year: 2026, serial: 700_003),
                                                        intake: intake, classification: classification, author: author))
            if final == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let one = try XCTUnwrap(final, "the request could not be opened after the replicas resumed")
        for answer in [a, b].compactMap({ $0 }) {
            XCTAssertEqual(answer.id, one.id, "an answer named case \(answer.number), the request is case \(one.number)")
        }
    }
}
