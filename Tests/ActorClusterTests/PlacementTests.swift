import XCTest
@testable import ActorCluster

final class PlacementTests: XCTestCase {
    private func node(_ port: UInt16, uid: UInt64? = nil) -> NodeIdentity {
        NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: port), uid: uid ?? UInt64(port) * 7919)
    }

    private func member(_ n: NodeIdentity, _ status: Membership.Status, roles: [String]) -> Membership.Member {
        Membership.Member(node: n, name: "n\(n.address.port)", roles: roles, status: status, incarnation: 0)
    }

    private let ms: UInt64 = 1_000_000

    func test_rendezvousMovesOnlyTheKeysOfARemovedCandidate() {
        let nodes = (1...5).map { node(UInt16(7000 + $0)) }
        let keys = (0..<500).map { "key-\($0)" }
        let before = Dictionary(uniqueKeysWithValues: keys.map { ($0, Rendezvous.owner(of: $0, among: nodes)!) })
        let gone = nodes[2]
        let after = Dictionary(uniqueKeysWithValues: keys.map { ($0, Rendezvous.owner(of: $0, among: nodes.filter { $0 != gone })!) })
        for k in keys where before[k] != gone { XCTAssertEqual(after[k], before[k], k) }
        let held = keys.filter { before[$0] == gone }.count
        XCTAssert((50...150).contains(held), "about a fifth of 500 keys on each of 5 nodes, got \(held)")
        // Same answer whatever the candidate order.
        for k in keys.prefix(50) { XCTAssertEqual(Rendezvous.owner(of: k, among: nodes.reversed()), before[k]) }
    }

    func test_homeHostsItsKeyThenTheKeyFailsOverAndReturnsHomeOnlyAfterTheSettleTime() {
        let home = node(7001), a = node(7002), b = node(7003)
        var p = Placement(rules: [.init(key: "office/1", homeRoles: ["district:1"], eligibleRoles: ["district"])],
                          settleTime: .seconds(2))
        var moves = p.update(members: [member(home, .up, roles: ["district:1"]), member(a, .up, roles: ["district"]),
                                       member(b, .up, roles: ["intake"])], nowNs: 0)
        XCTAssertEqual(moves, [.init(key: "office/1", from: nil, to: home, epoch: 1)])
        // Suspicion moves nothing.
        moves = p.update(members: [member(home, .suspect, roles: ["district:1"]), member(a, .up, roles: ["district"]),
                                   member(b, .up, roles: ["intake"])], nowNs: 100 * ms)
        XCTAssertEqual(moves, [])
        // Down: the only other eligible member takes it (b's role does not allow it).
        moves = p.update(members: [member(home, .down, roles: ["district:1"]), member(a, .up, roles: ["district"]),
                                   member(b, .up, roles: ["intake"])], nowNs: 200 * ms)
        XCTAssertEqual(moves, [.init(key: "office/1", from: home, to: a, epoch: 2)])
        // The home restarts (new uid): it must stay up for the settle time first.
        let home2 = node(7001, uid: 99)
        let back = [member(home, .removed, roles: ["district:1"]), member(home2, .up, roles: ["district:1"]),
                    member(a, .up, roles: ["district"]), member(b, .up, roles: ["intake"])]
        moves = p.update(members: back, nowNs: 1_000 * ms)
        XCTAssertEqual(moves, [])
        XCTAssertEqual(p.nextWakeupNs, 3_000 * ms)
        XCTAssertEqual(p.tick(nowNs: 2_999 * ms), [])
        XCTAssertEqual(p.tick(nowNs: 3_000 * ms), [.init(key: "office/1", from: a, to: home2, epoch: 3)])
        XCTAssertEqual(p.assignments["office/1"]?.atHome, true)
        XCTAssertNil(p.nextWakeupNs)
    }

    func test_membersWithoutRolesHostAnythingAndLeavingOrJoiningMembersHostNothing() {
        let x = node(7001), y = node(7002)
        var p = Placement(rules: [.init(key: "intake", eligibleRoles: ["intake"])], settleTime: .seconds(1))
        XCTAssertEqual(p.update(members: [member(x, .joining, roles: []), member(y, .leaving, roles: ["intake"])], nowNs: 0), [])
        XCTAssertNil(p.owner(of: "intake"))
        let moves = p.update(members: [member(x, .up, roles: []), member(y, .leaving, roles: ["intake"])], nowNs: 1)
        XCTAssertEqual(moves.map(\.to), [x])
        XCTAssertEqual(p.update(members: [member(x, .down, roles: [])], nowNs: 2).map(\.to), [nil])
        XCTAssertEqual(p.assignments["intake"]?.epoch, 2)
    }

    func test_everyNodeComputesTheSameOwnersFromTheSameMembers() {
        let nodes = (1...4).map { node(UInt16(7100 + $0)) }
        let rules = (0..<40).map { Placement.Rule(key: "group/\($0)", eligibleRoles: ["dispatch"]) }
        let view = nodes.map { member($0, .up, roles: ["dispatch"]) }
        var first = Placement(rules: rules, settleTime: .seconds(1))
        var second = Placement(rules: rules, settleTime: .seconds(1))
        _ = first.update(members: view, nowNs: 5)
        _ = second.update(members: view.reversed(), nowNs: 999_999)
        XCTAssertEqual(first.assignments, second.assignments)
        XCTAssertEqual(Set(first.assignments.values.compactMap(\.node)).count, 4, "40 keys spread over all 4 nodes")
    }
}
