import ActorCluster
import Foundation
import Hotline
import XCTest

/// The live hotline through the people's commands only (`hotline submit`, `unit`, `dispatch`, `callback`,
/// `case`, `cases`) on two real node processes with the Anshan catalogue: a case through its whole life, a
/// case returned twice and arbitrated, and an unsigned case that the district office's own supervision timer
/// reminds, flags overdue and escalates to level 1 — each exactly once.
final class LiveHotlineTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let cataloguePath = repo.appendingPathComponent("Deploy/catalogs/anshan.json").path
    static let frontRoles = "intake,dispatch,callback,supervision,analysis"

    /// Two nodes that configure themselves from the catalogue (system clock): "front" (desks and groups) and
    /// "district" (every district office). Returns the front node's address.
    func startSelfConfigured(_ harness: NodeHarness) async throws -> String {
        let front = try harness.startNode("front", extra: ["--roles", Self.frontRoles, "--catalog", Self.cataloguePath])
        let district = try harness.startNode("district", extra: ["--roles", "district", "--seeds", "\(front.node.address)",
                                                                  "--catalog", Self.cataloguePath])
        let client = try harness.clientSystem()
        let nodes = try [front, district].map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(nodes, names: ["front", "district"], timeout: .seconds(20))
        _ = try await ClusterFormation.waitForPlacement(nodes, names: ["front", "district"], timeout: .seconds(20))
        return front.node.address.description
    }

    /// `hotline case NUMBER`: the status and the event names.
    func history(_ harness: NodeHarness, _ node: String, _ number: String) throws -> (status: String, events: [String], lead: String?) {
        let h = try harness.json(node, ["case", number])
        let snapshot = try XCTUnwrap(h["snapshot"] as? [String: Any])
        let events = try XCTUnwrap(h["events"] as? [[String: Any]])
        // A CaseEventBody encodes as {"<name>": {...}}.
        let names = events.compactMap { ($0["body"] as? [String: Any])?.keys.first }
        return (try XCTUnwrap(snapshot["status"] as? String), names, snapshot["leadUnit"] as? String)
    }

    /// Reminders and supervision escalations recorded in a printed case (`hotline case --json`), per assignment
    /// (`"<assignment>"` or `"<assignment> L<level>"`).
    static func supervisionRecorded(in shown: [String: Any]) -> (reminders: [String: Int], escalations: [String: Int]) {
        let bodies = (shown["events"] as? [[String: Any]] ?? []).compactMap { $0["body"] as? [String: Any] }
        var reminders: [String: Int] = [:], escalations: [String: Int] = [:]
        for b in bodies {
            if let r = b["reminderSent"] as? [String: Any] { reminders["\(r["assignment"] ?? "-")", default: 0] += 1 }
            if let e = b["supervisionEscalated"] as? [String: Any] {
                escalations["\(e["assignment"] ?? "-") L\(e["level"] ?? "?")", default: 0] += 1
            }
        }
        return (reminders, escalations)
    }

    /// The case numbers of a printed worklist, with what each waits for.
    func entries(_ list: [String: Any]) -> [(number: String, waitingFor: String, entry: [String: Any])] {
        ((list["entries"] as? [[String: Any]]) ?? []).map { e in
            let n = e["number"].map { "\($0)" } ?? ""
            return (n, e["waitingFor"] as? String ?? "", e)
        }
    }

    func submit(_ harness: NodeHarness, _ node: String, id: String) throws -> String {
        let receipt = try harness.json(node, ["submit", "--channel", "8890", "--external-id", id, "--category", "road-damage",
                                               "--jurisdiction", "210303", "--description", "铁西区兴盛路路面塌陷一个大坑"])
        XCTAssertEqual(receipt["status"] as? String, "dispatched", "intake dispatches a classified request by the catalogue")
        XCTAssertEqual(receipt["leadUnit"] as? String, "210303-CM")
        let ref = try XCTUnwrap(receipt["ref"] as? [String: Any])
        return "\(try XCTUnwrap(ref["number"]))"
    }

    func test_aCaseThroughItsWholeLifeWithTheCommandsOnly() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let node = try await startSelfConfigured(harness)
        let number = try submit(harness, node, id: "life-1")
        XCTAssertEqual(try history(harness, node, number).status, "dispatched")

        // Intake dispatched it already: routing it again is refused.
        let again = try harness.cli(node, ["dispatch", "route", number])
        XCTAssertEqual(again.status, 3)
        XCTAssertTrue(again.stderr.contains("dispatched, not pending dispatch"), again.stderr)

        // The department's inbox: awaiting its sign, with its deadlines.
        var inbox = entries(try harness.json(node, ["unit", "inbox", "--unit", "210303-CM", "--json"]))
        XCTAssertEqual(inbox.map(\.number), [number])
        XCTAssertEqual(inbox.first?.waitingFor, "sign")
        XCTAssertNotNil(inbox.first?.entry["signDue"])
        XCTAssertNotNil(inbox.first?.entry["handleDue"])
        XCTAssertEqual(entries(try harness.json(node, ["unit", "inbox", "--unit", "210303-HOUSING", "--json"])).count, 0)
        let table = try harness.cli(node, ["unit", "inbox", "--unit", "210303-CM"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let text = String(decoding: table.stdout, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("CASE"), text)
        XCTAssertTrue(text.contains(number) && text.contains("SIGN DUE"), text)

        // Another unit cannot act on it.
        let stranger = try harness.cli(node, ["unit", "sign", number, "--unit", "210303-HOUSING"])
        XCTAssertEqual(stranger.status, 3)
        XCTAssertTrue(stranger.stderr.contains("no current assignment for 210303-HOUSING"), stranger.stderr)

        XCTAssertEqual(try harness.json(node, ["unit", "sign", number, "--unit", "210303-CM", "--json"])["status"] as? String, "inProgress")
        inbox = entries(try harness.json(node, ["unit", "inbox", "--unit", "210303-CM", "--json"]))
        XCTAssertEqual(inbox.first?.waitingFor, "reply")
        XCTAssertEqual(try history(harness, node, number).status, "inProgress")

        XCTAssertEqual(try harness.json(node, ["unit", "reply", number, "--unit", "210303-CM", "--text", "已修补路面", "--json"])["status"] as? String,
                       "replied")
        XCTAssertEqual(try history(harness, node, number).status, "replied")
        XCTAssertEqual(entries(try harness.json(node, ["unit", "inbox", "--unit", "210303-CM", "--json"])).count, 0)
        XCTAssertEqual(entries(try harness.json(node, ["cases", "--status", "replied", "--json"])).map(\.waitingFor), ["review"])

        // Nothing to call back before the review.
        XCTAssertEqual(entries(try harness.json(node, ["callback", "due", "--json"])).count, 0)
        XCTAssertEqual(try harness.json(node, ["dispatch", "review", number, "--accept", "--note", "ok", "--json"])["status"] as? String,
                       "pendingCallback")
        XCTAssertEqual(try history(harness, node, number).status, "pendingCallback")
        let due = entries(try harness.json(node, ["callback", "due", "--json"]))
        XCTAssertEqual(due.map(\.number), [number])
        XCTAssertNotNil(due.first?.entry["callbackDue"])

        XCTAssertEqual(try harness.json(node, ["callback", "record", number, "--satisfied", "--json"])["status"] as? String, "closed")
        let closed = try history(harness, node, number)
        XCTAssertEqual(closed.status, "closed")
        XCTAssertEqual(closed.events, ["drafted", "accepted", "queuedForDispatch", "dispatched", "assignmentDelivered",
                                       "assignmentSigned", "unitReplied", "replyReviewed", "callbackAttempted", "closed"])
        XCTAssertEqual(entries(try harness.json(node, ["callback", "due", "--json"])).count, 0)
        XCTAssertEqual(entries(try harness.json(node, ["cases", "--status", "closed", "--json"])).map(\.number), [number])

        // A dissatisfied citizen: the case is reopened and dispatched again to the same lead by its office.
        let second = try submit(harness, node, id: "life-2")
        _ = try harness.json(node, ["unit", "sign", second, "--unit", "210303-CM", "--json"])
        _ = try harness.json(node, ["unit", "reply", second, "--unit", "210303-CM", "--text", "已处理", "--json"])
        _ = try harness.json(node, ["dispatch", "review", second, "--accept", "--json"])
        let reopened = try harness.json(node, ["callback", "record", second, "--dissatisfied", "--json"])
        XCTAssertEqual(reopened["status"] as? String, "dispatched")
        XCTAssertEqual(reopened["leadUnit"] as? String, "210303-CM")
        let redispatched = try history(harness, node, second)
        XCTAssertEqual(Array(redispatched.events.suffix(5)),
                       ["callbackAttempted", "reopened", "queuedForDispatch", "dispatched", "assignmentDelivered"])
        inbox = entries(try harness.json(node, ["unit", "inbox", "--unit", "210303-CM", "--json"]))
        XCTAssertEqual(inbox.map(\.number), [second])
        XCTAssertEqual(inbox.first?.waitingFor, "sign")

        // Bad flags: exit 2.
        XCTAssertEqual(try harness.cli(node, ["callback", "record", second, "--satisfied", "--unreachable"]).status, 2)
        XCTAssertEqual(try harness.cli(node, ["dispatch", "review", second]).status, 2)
        XCTAssertEqual(try harness.cli(node, ["unit", "extend", second, "--unit", "210303-CM", "--reason", "x"]).status, 2)
    }

    func test_aCaseReturnedTwiceGoesToArbitration() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let node = try await startSelfConfigured(harness)
        let number = try submit(harness, node, id: "returned-1")

        XCTAssertEqual(try harness.json(node, ["unit", "return", number, "--unit", "210303-CM", "--reason", "不是本单位职责", "--json"])["status"]
                       as? String, "returnReview")
        var queue = entries(try XCTUnwrap(try harness.json(node, ["dispatch", "queue", "--json"])["dispatch"] as? [String: Any]))
        XCTAssertEqual(queue.map(\.number), [number])
        XCTAssertEqual(queue.first?.waitingFor, "return decision")

        XCTAssertEqual(try harness.json(node, ["dispatch", "return", number, "--approve", "--note", "改派", "--json"])["status"] as? String,
                       "pendingDispatch")
        queue = entries(try XCTUnwrap(try harness.json(node, ["dispatch", "queue", "--group", "G2", "--json"])["dispatch"] as? [String: Any]))
        XCTAssertEqual(queue.map(\.number), [number])
        XCTAssertEqual(queue.first?.waitingFor, "dispatch")
        let table = try harness.cli(node, ["dispatch", "queue"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(String(decoding: table.stdout, as: UTF8.self).contains("Pending dispatch and returns"))

        let unknown = try harness.cli(node, ["dispatch", "route", number, "--lead", "NO-SUCH-UNIT"])
        XCTAssertEqual(unknown.status, 3)
        XCTAssertTrue(unknown.stderr.contains("unknown unit \"NO-SUCH-UNIT\""), unknown.stderr)
        let routed = try harness.json(node, ["dispatch", "route", number, "--lead", "210303-HOUSING", "--json"])
        XCTAssertEqual(routed["status"] as? String, "dispatched")
        XCTAssertEqual(routed["leadUnit"] as? String, "210303-HOUSING")

        // The second return: no dispatcher decision, arbitration only.
        _ = try harness.json(node, ["unit", "return", number, "--unit", "210303-HOUSING", "--reason", "也不是我们", "--json"])
        queue = entries(try XCTUnwrap(try harness.json(node, ["dispatch", "queue", "--json"])["dispatch"] as? [String: Any]))
        XCTAssertEqual(queue.first?.waitingFor, "arbitration")
        let decision = try harness.cli(node, ["dispatch", "return", number, "--approve"])
        XCTAssertEqual(decision.status, 3)
        XCTAssertTrue(decision.stderr.contains("goes to arbitration"), decision.stderr)

        let ruled = try harness.json(node, ["dispatch", "arbitrate", number, "--lead", "210303-CM", "--note", "仲裁: 城管负责", "--json"])
        XCTAssertEqual(ruled["status"] as? String, "dispatched")
        XCTAssertEqual(ruled["leadUnit"] as? String, "210303-CM")
        let after = try history(harness, node, number)
        XCTAssertEqual(after.status, "dispatched")
        XCTAssertEqual(after.events.filter { $0 == "returnRequested" }.count, 2)
        XCTAssertEqual(after.events.filter { $0 == "returnDecided" }.count, 1)
        XCTAssertEqual(Array(after.events.suffix(2)), ["arbitrated", "assignmentDelivered"])
        XCTAssertEqual(entries(try XCTUnwrap(try harness.json(node, ["dispatch", "queue", "--json"])["dispatch"] as? [String: Any])).count, 0)

        // Arbitration binds: the lead cannot return it again; it signs.
        let third = try harness.cli(node, ["unit", "return", number, "--unit", "210303-CM", "--reason", "again"])
        XCTAssertEqual(third.status, 3, third.stderr)
        XCTAssertEqual(try harness.json(node, ["unit", "sign", number, "--unit", "210303-CM", "--json"])["status"] as? String, "inProgress")
        XCTAssertEqual(try history(harness, node, number).status, "inProgress")
    }

    func test_anUnsignedCaseIsRemindedFlaggedOverdueAndEscalatedByTheOfficesOwnTimer() async throws {
        let catalogue = try ClassificationQueueTests.anshan()
        let harness = NodeHarness()
        defer { harness.stopAll() }
        // Virtual time moved by the operator (P1 deadlines are natural minutes); supervision runs on each
        // office's own 100 ms timer — the test never runs it.
        let timer = ["--supervision-interval-ms", "100"]
        let front = try harness.startNode("front", extra: ["--roles", Self.frontRoles] + timer)
        let district = try harness.startNode("district", extra: ["--roles", "district", "--seeds", "\(front.node.address)"] + timer)
        let client = try harness.clientSystem()
        let nodes = try [front, district].map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(nodes, names: ["front", "district"], timeout: .seconds(20))
        let t0 = Date(timeIntervalSince1970: 1_796_176_800)  // 2026-12-02 10:00 +08:00
        let configuration = HotlineConfiguration(catalogue: catalogue, settings: WorkflowSettings(), virtualStart: t0)
        for n in nodes { _ = try await n.configure(configuration) }
        _ = try await ClusterFormation.waitForPlacement(nodes, names: ["front", "district"], timeout: .seconds(20))
        let node = front.node.address.description
        func moveClock(to instant: Date) async throws { for n in nodes { try await n.setClock(to: instant) } }
        func heating(_ id: String) throws -> String {
            let r = try harness.json(node, ["submit", "--channel", "8890", "--external-id", id, "--category", "heating-failure",
                                             "--jurisdiction", "210302", "--description", "暖气不热，室温十二度"])
            XCTAssertEqual(r["status"] as? String, "dispatched")
            return "\(try XCTUnwrap((r["ref"] as? [String: Any])?["number"]))"
        }
        /// Reminders and supervision escalations recorded, per assignment (`"<assignment>"` or `"<assignment> L<level>"`).
        func fired(_ number: String) throws -> (reminders: [String: Int], escalations: [String: Int]) {
            Self.supervisionRecorded(in: try harness.json(node, ["case", number]))
        }
        /// The case's assignment ids.
        func assignments(_ number: String) throws -> [String] {
            let shown = try harness.json(node, ["case", number])
            let bodies = (shown["events"] as? [[String: Any]] ?? []).compactMap { $0["body"] as? [String: Any] }
            return bodies.compactMap { ($0["assignmentDelivered"] as? [String: Any])?["assignment"] }.map { "\($0)" }
        }
        func counts(_ number: String) throws -> (reminders: Int, escalations: Int) {
            let f = try fired(number)
            return (f.reminders.values.reduce(0, +), f.escalations.values.reduce(0, +))
        }

        // P1 livelihood: sign within 30 natural minutes.
        let a = try heating("heat-1")
        let lead = try XCTUnwrap(try history(harness, node, a).lead)
        // The lead (the heating company) and the district government as co-handler: two assignments.
        let ids = try assignments(a)
        XCTAssertEqual(ids.count, 2)
        XCTAssertEqual(entries(try harness.json(node, ["cases", "--overdue", "--json"])).count, 0)

        // Half the sign window gone: one reminder per assignment, nothing overdue.
        try await moveClock(to: t0.addingTimeInterval(16 * 60))
        try await waitUntil(timeout: .seconds(10), "the office's timer sends the reminders") { try counts(a).reminders >= 2 }
        XCTAssertEqual(try fired(a).reminders, Dictionary(uniqueKeysWithValues: ids.map { ($0, 1) }))
        XCTAssertEqual(try counts(a).escalations, 0)
        XCTAssertEqual(entries(try harness.json(node, ["cases", "--overdue", "--json"])).count, 0)

        // Past the sign deadline: overdue, supervision level 1.
        try await moveClock(to: t0.addingTimeInterval(31 * 60))
        try await waitUntil(timeout: .seconds(10), "the office's timer escalates to level 1") { try counts(a).escalations >= 2 }
        let overdue = entries(try harness.json(node, ["cases", "--overdue", "--json"]))
        XCTAssertEqual(overdue.map(\.number), [a])
        XCTAssertEqual(overdue.first?.entry["overdue"] as? Bool, true)
        XCTAssertEqual(overdue.first?.entry["supervisionLevel"] as? Int, 1)
        XCTAssertEqual(overdue.first?.waitingFor, "sign")
        let inbox = entries(try harness.json(node, ["unit", "inbox", "--unit", lead, "--json"]))
        XCTAssertEqual(inbox.first?.entry["overdue"] as? Bool, true)

        // The timer keeps firing: a second case's reminder proves it ran again, and the first case still has one
        // reminder and one escalation.
        let b = try heating("heat-2")
        try await moveClock(to: t0.addingTimeInterval(48 * 60))
        try await waitUntil(timeout: .seconds(10), "the timer reminds the second case") { try counts(b).reminders >= 2 }
        XCTAssertEqual(try fired(a).reminders, Dictionary(uniqueKeysWithValues: ids.map { ($0, 1) }))
        XCTAssertEqual(try fired(a).escalations, Dictionary(uniqueKeysWithValues: ids.map { ("\($0) L1", 1) }))
        XCTAssertEqual(try counts(b).escalations, 0)
        let events = try history(harness, node, a).events
        XCTAssertEqual(Array(events.suffix(4)), ["reminderSent", "reminderSent", "supervisionEscalated", "supervisionEscalated"])
        let shown = try harness.json(node, ["case", a])
        let bodies = (shown["events"] as? [[String: Any]] ?? []).compactMap { $0["body"] as? [String: Any] }
        let escalation = try XCTUnwrap(bodies.compactMap { $0["supervisionEscalated"] as? [String: Any] }.first)
        XCTAssertEqual(escalation["level"] as? Int, 1)
        let reminder = try XCTUnwrap(bodies.compactMap { $0["reminderSent"] as? [String: Any] }.first)
        XCTAssertTrue((reminder["note"] as? String ?? "").hasPrefix("automatic reminder: sign"), "\(reminder)")
    }
}
