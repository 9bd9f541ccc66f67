import Synchronization
import XCTest
@testable import ActorCluster

/// Socket-free tests of a peer's lifecycle (`PeerLifecycle`): every state × event pair, table-style, then the
/// sequences that matter (tie-break, stale timers, new incarnations, backoff, give-up), then the lock-side
/// actions on `PeerState`.
final class PeerLifecycleTests: XCTestCase {
    typealias L = PeerLifecycle

    static let ms: UInt64 = 1_000_000
    /// When the fixtures were built (monotonic ns).
    static let t0: UInt64 = 1_000_000 * ms
    /// When the matrix's events arrive: after every fixture's 100 ms backoff ended.
    static let now = t0 + 200 * ms
    static let config = L.Config(backoff: Backoff(initial: .milliseconds(100), max: .seconds(5)),
                                 awaitInboundNs: 2_000_000_000, giveUpAfterNs: 60_000 * ms,
                                 unreachableLogIntervalNs: 30_000 * ms)
    static let address = NodeAddress(host: "10.0.0.2", port: 7000)
    /// The node at the address, and a new incarnation of it (another uid, same address).
    static let a = NodeIdentity(address: address, uid: 0xA)
    static let b = NodeIdentity(address: address, uid: 0xB)
    /// Our dial's connection in the fixtures, an inbound one, a fresh socket, and one nobody refers to.
    static let dialConn: UInt64 = 10
    static let inboundConn: UInt64 = 30
    static let newSocket: UInt64 = 20
    static let otherConn: UInt64 = 99
    static let backoff100: Int64 = 100_000_000

    /// Applies `event` at `at` with the full backoff delay (jitter 1).
    static func after(_ m: L, _ event: (L) -> L.Event, at: UInt64 = t0) -> L {
        var m = m
        _ = m.handle(event(m), nowNs: at, jitter: 1)
        return m
    }

    // MARK: - Fixtures: one machine per state (and per history that changes the outcome)

    struct Fixture {
        var name: String
        var machine: L
    }

    static func fixtures() -> [Fixture] {
        let idle = L(config: config)
        let requested = after(idle) { _ in .dialRequested }
        let resolving = after(requested) { _ in .dialBegins }
        let connecting = after(resolving) { .connectStarted(conn: dialConn, generation: $0.generation) }
        let handshaking = after(connecting) { _ in .connected(conn: dialConn) }
        let associated = after(handshaking) { _ in .established(conn: dialConn, peer: a) }
        let awaiting = after(handshaking) { _ in .rejectedAsDuplicate(conn: dialConn) }
        let refused: (L) -> L.Event = { _ in .connectionClosed(conn: dialConn, reason: "connect: refused", refused: true) }
        let backingOffFailed = after(connecting, refused)
        let backingOffLost = after(associated) { _ in .connectionClosed(conn: dialConn, reason: "reset", refused: false) }
        let seedConnecting = after(after(after(idle) { _ in .associateRequested }) { _ in .dialBegins }) {
            .connectStarted(conn: dialConn, generation: $0.generation)
        }
        let backingOffSeed = after(seedConnecting, refused)
        let idleFailing = after(backingOffFailed, { .backoffFired(generation: $0.generation) }, at: t0 + 100 * ms)
        let removed = after(backingOffLost, { .backoffFired(generation: $0.generation) }, at: t0 + 100 * ms)
        let closed = after(idle) { _ in .shutdown }
        return [
            Fixture(name: "idle", machine: idle),
            Fixture(name: "dialing(requested)", machine: requested),
            Fixture(name: "dialing(resolving)", machine: resolving),
            Fixture(name: "dialing(connecting)", machine: connecting),
            Fixture(name: "dialing(handshaking)", machine: handshaking),
            Fixture(name: "associated", machine: associated),
            Fixture(name: "awaitingInbound", machine: awaiting),
            Fixture(name: "backingOff(dial failed)", machine: backingOffFailed),
            Fixture(name: "backingOff(association lost)", machine: backingOffLost),
            Fixture(name: "backingOff(seed)", machine: backingOffSeed),
            Fixture(name: "idle(dials failing)", machine: idleFailing),
            Fixture(name: "removed", machine: removed),
            Fixture(name: "closed", machine: closed),
        ]
    }

    func test_fixtures_areInTheStatesTheyAreNamedAfter() {
        let f = Dictionary(uniqueKeysWithValues: Self.fixtures().map { ($0.name, $0.machine) })
        XCTAssertEqual(f["idle"]?.state, .idle)
        XCTAssertEqual(f["dialing(requested)"]?.state, .dialing(.requested))
        XCTAssertEqual(f["dialing(resolving)"]?.state, .dialing(.resolving))
        XCTAssertEqual(f["dialing(connecting)"]?.state, .dialing(.connecting(conn: Self.dialConn)))
        XCTAssertEqual(f["dialing(handshaking)"]?.state, .dialing(.handshaking(conn: Self.dialConn)))
        XCTAssertEqual(f["associated"]?.state, .associated(Self.a, conn: Self.dialConn))
        XCTAssertEqual(f["awaitingInbound"]?.state, .awaitingInbound)
        XCTAssertEqual(f["backingOff(dial failed)"]?.state, .backingOff(untilNs: Self.t0 + 100 * Self.ms, reason: "connect: refused"))
        XCTAssertEqual(f["backingOff(dial failed)"]?.failures, 1)
        XCTAssertEqual(f["backingOff(association lost)"]?.state, .backingOff(untilNs: Self.t0 + 100 * Self.ms, reason: "reset"))
        XCTAssertEqual(f["backingOff(association lost)"]?.failures, 0)
        XCTAssertNil(f["backingOff(association lost)"]?.unreachableSinceNs)
        XCTAssertEqual(f["backingOff(seed)"]?.persistent, true)
        XCTAssertEqual(f["idle(dials failing)"]?.state, .idle)
        XCTAssertEqual(f["idle(dials failing)"]?.unreachableSinceNs, Self.t0)
        XCTAssertEqual(f["removed"]?.state, .removed(givenUp: false))
        XCTAssertEqual(f["closed"]?.state, .closed)
    }

    // MARK: - Events (with a current and a stale variant wherever the event names a connection or a generation)

    struct EventCase {
        var name: String
        var make: (L) -> L.Event
        init(_ name: String, _ make: @escaping (L) -> L.Event) {
            self.name = name
            self.make = make
        }
    }

    /// "current" = the connection the state refers to (our dial's in states without one) or the current
    /// generation; "other" / "stale" = one it does not refer to.
    static var events: [EventCase] { [
        EventCase("dialRequested") { _ in .dialRequested },
        EventCase("associateRequested") { _ in .associateRequested },
        EventCase("forgetRequested") { _ in .forgetRequested },
        EventCase("dialBegins") { _ in .dialBegins },
        EventCase("connectStarted(current)") { .connectStarted(conn: newSocket, generation: $0.generation) },
        EventCase("connectStarted(stale)") { .connectStarted(conn: newSocket, generation: $0.generation &- 1) },
        EventCase("connected(current)") { .connected(conn: $0.currentConn ?? dialConn) },
        EventCase("connected(other)") { _ in .connected(conn: otherConn) },
        EventCase("failedBeforeConnect(current)") { .failedBeforeConnect(generation: $0.generation, reason: "no such host") },
        EventCase("failedBeforeConnect(stale)") { .failedBeforeConnect(generation: $0.generation &- 1, reason: "no such host") },
        EventCase("connectionClosed(current)") { .connectionClosed(conn: $0.currentConn ?? dialConn, reason: "reset", refused: false) },
        EventCase("connectionClosed(current, refused)") {
            .connectionClosed(conn: $0.currentConn ?? dialConn, reason: "connect: refused", refused: true)
        },
        EventCase("connectionClosed(other)") { _ in .connectionClosed(conn: otherConn, reason: "reset", refused: false) },
        EventCase("rejectedAsDuplicate(current)") { .rejectedAsDuplicate(conn: $0.currentConn ?? dialConn) },
        EventCase("rejectedAsDuplicate(other)") { _ in .rejectedAsDuplicate(conn: otherConn) },
        EventCase("awaitInboundExpired(current)") { .awaitInboundExpired(generation: $0.generation) },
        EventCase("awaitInboundExpired(stale)") { .awaitInboundExpired(generation: $0.generation &- 1) },
        EventCase("established(current)") { .established(conn: $0.currentConn ?? dialConn, peer: a) },
        EventCase("established(other)") { _ in .established(conn: otherConn, peer: a) },
        EventCase("inboundAccepted(same uid)") { _ in .inboundAccepted(conn: inboundConn, peer: a) },
        EventCase("inboundAccepted(new uid)") { _ in .inboundAccepted(conn: inboundConn, peer: b) },
        EventCase("backoffFired(current)") { .backoffFired(generation: $0.generation) },
        EventCase("backoffFired(stale)") { .backoffFired(generation: $0.generation &- 1) },
        EventCase("giveUpCheck(current)") { .giveUpCheck(generation: $0.generation) },
        EventCase("giveUpCheck(stale)") { .giveUpCheck(generation: $0.generation &- 1) },
        EventCase("discardIfUnused") { _ in .discardIfUnused },
        EventCase("shutdown") { _ in .shutdown },
    ] }

    /// Every `Event` case is exercised by the matrix (a new case fails here until it has rows).
    func test_theMatrixCoversEveryEvent() {
        func kind(_ e: L.Event) -> String {
            switch e {
            case .dialRequested: "dialRequested"
            case .associateRequested: "associateRequested"
            case .forgetRequested: "forgetRequested"
            case .dialBegins: "dialBegins"
            case .connectStarted: "connectStarted"
            case .connected: "connected"
            case .failedBeforeConnect: "failedBeforeConnect"
            case .connectionClosed: "connectionClosed"
            case .rejectedAsDuplicate: "rejectedAsDuplicate"
            case .awaitInboundExpired: "awaitInboundExpired"
            case .established: "established"
            case .inboundAccepted: "inboundAccepted"
            case .backoffFired: "backoffFired"
            case .giveUpCheck: "giveUpCheck"
            case .discardIfUnused: "discardIfUnused"
            case .shutdown: "shutdown"
            }
        }
        let covered = Set(Self.events.map { kind($0.make(L(config: Self.config))) })
        XCTAssertEqual(covered.count, 16)
    }

    // MARK: - Expected outcomes (every pair not listed must be ignored: same state, same generation, no action)

    typealias Outcome = (state: L.State, actions: [L.Action])

    /// The first failed dial of a fixture that never failed (failures 0, never associated, not a seed).
    static func firstDialFailure(_ reason: String, refused: Bool = false, _ m: L) -> Outcome {
        (.backingOff(untilNs: now + 100 * ms, reason: reason),
         [.dropQueued(.dialFailed, reason: "dial failed: \(reason)"),
          .scheduleBackoff(generation: m.generation + 1, delayNs: backoff100),
          .warnUnreachable(attempts: 1, unreachableMs: 0, lastAssociatedMs: nil, seed: false, reason: reason),
          .reportDialFailed(reason: reason, refused: refused, retryNs: backoff100)])
    }

    static func associates(_ peer: NodeIdentity, conn: UInt64, closing: [L.Action] = [], lost: [L.Action] = []) -> (L) -> Outcome {
        { _ in (.associated(peer, conn: conn), closing + [.attach(conn: conn, peer: peer)] + lost + [.reportAssociated(peer), .flush]) }
    }

    static func closesOnly(_ conn: UInt64, _ reason: String) -> (L) -> Outcome {
        { m in (m.state, [.closeConnection(conn: conn, reason: reason)]) }
    }

    static func shutsDown(_: L) -> Outcome { (.closed, [.detach, .dropQueued(.shutdown, reason: "transport shut down")]) }
    static func startsDial(_: L) -> Outcome { (.dialing(.requested), [.startDial]) }
    static let superseded = "dial superseded"
    static let duplicate = "rejected as duplicate"

    /// Rows every non-terminal state shares: an inbound connection that won, shutdown, and handshake outcomes on
    /// connections the state does not refer to (orphans: closed).
    static func common(_ fixture: String, dialOwn: UInt64? = nil) -> [String: (L) -> Outcome] {
        let simultaneous: [L.Action] = dialOwn.map {
            [.closeConnection(conn: $0, reason: "simultaneous connect: keeping the connection dialed by \(a)")]
        } ?? []
        let simultaneousB: [L.Action] = dialOwn.map {
            [.closeConnection(conn: $0, reason: "simultaneous connect: keeping the connection dialed by \(b)")]
        } ?? []
        var rows: [String: (L) -> Outcome] = [
            "inboundAccepted(same uid)": associates(a, conn: inboundConn, closing: simultaneous),
            "inboundAccepted(new uid)": associates(b, conn: inboundConn, closing: simultaneousB),
            "shutdown": shutsDown,
            "established(other)": closesOnly(otherConn, superseded),
            "rejectedAsDuplicate(other)": closesOnly(otherConn, duplicate),
        ]
        if dialOwn == nil {
            // No connection of ours: the dial connection named by "current" is an orphan too.
            rows["established(current)"] = closesOnly(dialConn, superseded)
            rows["rejectedAsDuplicate(current)"] = closesOnly(dialConn, duplicate)
        }
        return rows
    }

    static func expectations() -> [String: [String: (L) -> Outcome]] {
        var table: [String: [String: (L) -> Outcome]] = [:]

        table["idle"] = common("idle").merging([
            "dialRequested": startsDial,
            "associateRequested": startsDial,
            // Idle, never failed: nothing worth remembering.
            "giveUpCheck(current)": { _ in (.removed(givenUp: false), [.forgetEntry]) },
            "discardIfUnused": { _ in (.removed(givenUp: false), [.forgetEntry]) },
        ]) { $1 }

        table["dialing(requested)"] = common("requested").merging([
            "dialBegins": { m in (.dialing(.resolving), [.resolve(generation: m.generation + 1, reconnect: false)]) },
        ]) { $1 }

        table["dialing(resolving)"] = common("resolving").merging([
            "connectStarted(current)": { _ in (.dialing(.connecting(conn: newSocket)), [.connect(conn: newSocket)]) },
            "failedBeforeConnect(current)": { firstDialFailure("no such host", $0) },
        ]) { $1 }

        table["dialing(connecting)"] = common("connecting", dialOwn: dialConn).merging([
            "connected(current)": { _ in (.dialing(.handshaking(conn: dialConn)), []) },
            "connectionClosed(current)": { firstDialFailure("reset", $0) },
            "connectionClosed(current, refused)": { firstDialFailure("connect: refused", refused: true, $0) },
            // A handshake outcome cannot come before the connect completed: ignored (not closed, it is ours).
        ]) { $1 }

        table["dialing(handshaking)"] = common("handshaking", dialOwn: dialConn).merging([
            "connectionClosed(current)": { firstDialFailure("reset", $0) },
            "connectionClosed(current, refused)": { firstDialFailure("connect: refused", refused: true, $0) },
            "rejectedAsDuplicate(current)": { m in
                (.awaitingInbound, [.closeConnection(conn: dialConn, reason: duplicate),
                                    .scheduleAwaitInbound(generation: m.generation + 1, delayNs: 2_000_000_000)])
            },
            "established(current)": associates(a, conn: dialConn),
        ]) { $1 }

        let lostReset: (L) -> Outcome = { m in
            (.backingOff(untilNs: now + 100 * ms, reason: "reset"),
             [.detach, .dropQueued(.associationLost, reason: "association lost: reset"),
              .scheduleBackoff(generation: m.generation + 1, delayNs: backoff100), .reportDisassociated(a, reason: "reset")])
        }
        let answersWith: (NodeIdentity) -> String = { "address \(address) now answers with uid \($0.uidHex)" }
        table["associated"] = common("associated", dialOwn: nil).merging([
            "connectionClosed(current)": lostReset,
            // `refused` only means something for a dial; a lost association is a lost association.
            "connectionClosed(current, refused)": { m in
                (.backingOff(untilNs: now + 100 * ms, reason: "connect: refused"),
                 [.detach, .dropQueued(.associationLost, reason: "association lost: connect: refused"),
                  .scheduleBackoff(generation: m.generation + 1, delayNs: backoff100),
                  .reportDisassociated(a, reason: "connect: refused")])
            },
            // A handshake outcome on the association's own connection cannot happen: ignored, never closed.
            "established(current)": { m in (m.state, []) },
            "rejectedAsDuplicate(current)": { m in (m.state, []) },
            "inboundAccepted(same uid)": associates(a, conn: inboundConn, closing: [
                .closeConnection(conn: dialConn, reason: "replaced by \(a)"),
                .dropQueued(.associationLost, reason: "association replaced by \(a)")],
                lost: [.reportDisassociated(a, reason: answersWith(a))]),
            // A new incarnation at the address: the old one is reported gone, then the new one associated.
            "inboundAccepted(new uid)": associates(b, conn: inboundConn, closing: [
                .closeConnection(conn: dialConn, reason: "replaced by \(b)"),
                .dropQueued(.associationLost, reason: "association replaced by \(b)")],
                lost: [.reportDisassociated(a, reason: answersWith(b))]),
        ]) { $1 }

        table["awaitingInbound"] = common("awaitingInbound").merging([
            "awaitInboundExpired(current)": { firstDialFailure("peer kept its own connection but did not complete it", $0) },
        ]) { $1 }

        table["backingOff(dial failed)"] = common("backingOff").merging([
            "dialRequested": startsDial,
            // Not idle: a non-seed's backoff ends in idle, then the give-up clock (60 s since the first failure) runs.
            "backoffFired(current)": { m in (.idle, [.scheduleGiveUpCheck(generation: m.generation + 1, delayNs: Int64(59_800 * ms))]) },
        ]) { $1 }

        table["backingOff(association lost)"] = common("backingOff").merging([
            "dialRequested": startsDial,
            // Never failed a dial: forgotten as soon as the backoff ends.
            "backoffFired(current)": { _ in (.removed(givenUp: false), [.forgetEntry]) },
        ]) { $1 }

        table["backingOff(seed)"] = common("backingOff").merging([
            "dialRequested": startsDial,
            // A seed redials when its backoff ends.
            "backoffFired(current)": startsDial,
        ]) { $1 }

        table["idle(dials failing)"] = common("idle").merging([
            "dialRequested": startsDial,
            "associateRequested": startsDial,
            // 200 ms of the 60 s since the first failure: checked again when the rest has passed.
            "giveUpCheck(current)": { m in (.idle, [.scheduleGiveUpCheck(generation: m.generation, delayNs: Int64(59_800 * ms))]) },
        ]) { $1 }

        table["removed"] = [
            // Out of the table: only an inbound connection racing with the removal can reach it; it is closed.
            "inboundAccepted(same uid)": closesOnly(inboundConn, "peer entry removed"),
            "inboundAccepted(new uid)": closesOnly(inboundConn, "peer entry removed"),
        ]
        table["closed"] = [:]
        return table
    }

    func test_everyStateTimesEveryEvent() {
        let table = Self.expectations()
        let fixtures = Self.fixtures()
        let eventNames = Set(Self.events.map(\.name))
        XCTAssertEqual(Set(table.keys), Set(fixtures.map(\.name)), "one row set per fixture")
        for (fixture, rows) in table {
            for name in rows.keys { XCTAssertTrue(eventNames.contains(name), "\(fixture): no event \(name)") }
        }
        var pairs = 0, ignoredPairs = 0
        for f in fixtures {
            for e in Self.events {
                pairs += 1
                var m = f.machine
                let event = e.make(m)
                let actions = m.handle(event, nowNs: Self.now, jitter: 1)
                let label = "\(f.name) × \(e.name)"
                if let expect = table[f.name]?[e.name] {
                    let (state, expectedActions) = expect(f.machine)
                    XCTAssertEqual(m.state, state, label)
                    XCTAssertEqual(actions, expectedActions, label)
                    if m.state == f.machine.state {
                        XCTAssertEqual(m.generation, f.machine.generation, "\(label): no state change, same generation")
                    } else {
                        XCTAssertGreaterThan(m.generation, f.machine.generation, "\(label): a state change bumps the generation")
                    }
                } else {
                    ignoredPairs += 1
                    XCTAssertEqual(m.state, f.machine.state, "\(label) must be ignored")
                    XCTAssertEqual(m.generation, f.machine.generation, "\(label) must be ignored")
                    XCTAssertEqual(actions, [], "\(label) must be ignored")
                }
            }
        }
        XCTAssertEqual(pairs, 13 * 27)
        XCTAssertGreaterThan(ignoredPairs, 200, "most pairs are stale or do not fit the state")
    }

    // MARK: - Sends (the hot path asks a pure verdict)

    func test_sendVerdict_perState() {
        let f = Dictionary(uniqueKeysWithValues: Self.fixtures().map { ($0.name, $0.machine) })
        let during = Self.t0 + 50 * Self.ms
        let backingOff = "backing off after: connect: refused"
        let otherUID = "node at \(Self.address) is now \(Self.a), not uid \(Self.b.uidHex)"
        // (fixture, uid, dialNow, now) → verdict
        let rows: [(String, UInt64, Bool, UInt64, L.SendVerdict)] = [
            ("idle", 0, false, during, .queueAndDial),
            ("idle", Self.a.uid, false, during, .queueAndDial),
            ("dialing(requested)", 0, false, during, .queue),
            ("dialing(resolving)", 0, true, during, .queue),
            ("dialing(connecting)", Self.b.uid, false, during, .queue),
            ("dialing(handshaking)", 0, false, during, .queue),
            ("awaitingInbound", 0, true, during, .queue),
            ("associated", 0, false, during, .queue),
            ("associated", Self.a.uid, false, during, .queue),
            ("associated", Self.b.uid, false, during, .refuse(otherUID)),
            ("associated", Self.b.uid, true, during, .refuse(otherUID)),
            ("backingOff(dial failed)", 0, false, during, .refuse(backingOff)),
            // dialNow: a probe finds out at once whether anything still listens there.
            ("backingOff(dial failed)", 0, true, during, .queueAndDial),
            // The backoff is over even though its timer has not fired yet.
            ("backingOff(dial failed)", 0, false, Self.now, .queueAndDial),
            ("backingOff(association lost)", Self.a.uid, false, during, .refuse("backing off after: reset")),
            ("backingOff(association lost)", Self.a.uid, true, during, .queueAndDial),
            ("idle(dials failing)", 0, false, during, .queueAndDial),
            ("removed", 0, true, during, .lookAgain),
            ("closed", 0, true, during, .shutDown),
        ]
        for (name, uid, dialNow, at, verdict) in rows {
            guard let m = f[name] else {
                XCTFail("no fixture \(name)")
                continue
            }
            XCTAssertEqual(m.sendVerdict(uid: uid, dialNow: dialNow, nowNs: at), verdict, "\(name) uid \(uid) dialNow \(dialNow)")
        }
    }

    func test_dialNowDuringBackoff_dialsAtOnce_andTheBackoffTimerIsThenStale() {
        var m = Self.fixtures().first { $0.name == "backingOff(dial failed)" }!.machine
        let backoffGeneration = m.generation
        XCTAssertEqual(m.sendVerdict(uid: 0, dialNow: true, nowNs: Self.t0 + Self.ms), .queueAndDial)
        XCTAssertEqual(m.handle(.dialRequested, nowNs: Self.t0 + Self.ms, jitter: 1), [.startDial])
        XCTAssertEqual(m.handle(.backoffFired(generation: backoffGeneration), nowNs: Self.t0 + 100 * Self.ms, jitter: 1), [],
                       "the backoff timer of the state left behind is ignored")
        let requested = m.generation
        XCTAssertEqual(m.handle(.dialBegins, nowNs: Self.t0 + 2 * Self.ms, jitter: 1),
                       [.resolve(generation: requested + 1, reconnect: true)], "a dial after a failure is a reconnect")
        XCTAssertEqual(m.state, .dialing(.resolving))
    }

    // MARK: - Sequences

    func test_simultaneousConnect_losingOurDial_keepsTheInboundConnection_andIgnoresTheAbandonedDial() {
        var m = Self.fixtures().first { $0.name == "dialing(handshaking)" }!.machine
        let actions = m.handle(.inboundAccepted(conn: Self.inboundConn, peer: Self.a), nowNs: Self.now, jitter: 1)
        XCTAssertEqual(actions.first, .closeConnection(conn: Self.dialConn,
                                                       reason: "simultaneous connect: keeping the connection dialed by \(Self.a)"))
        let associated = m
        // The abandoned dial's own events arrive afterwards: none changes anything, none closes the association.
        XCTAssertEqual(m.handle(.connectionClosed(conn: Self.dialConn, reason: "closed", refused: false), nowNs: Self.now, jitter: 1), [])
        XCTAssertEqual(m.handle(.established(conn: Self.dialConn, peer: Self.a), nowNs: Self.now, jitter: 1),
                       [.closeConnection(conn: Self.dialConn, reason: "dial superseded")])
        XCTAssertEqual(m.handle(.connected(conn: Self.dialConn), nowNs: Self.now, jitter: 1), [])
        XCTAssertEqual(m, associated)
    }

    func test_simultaneousConnect_rejectedAsDuplicate_waitsForTheInbound_andItsTimerIsThenStale() {
        var m = Self.fixtures().first { $0.name == "dialing(handshaking)" }!.machine
        let actions = m.handle(.rejectedAsDuplicate(conn: Self.dialConn), nowNs: Self.now, jitter: 1)
        guard case .scheduleAwaitInbound(let gen, _) = actions.last else { return XCTFail("\(actions)") }
        XCTAssertEqual(m.sendVerdict(uid: 0, dialNow: false, nowNs: Self.now), .queue, "frames stay queued meanwhile")
        XCTAssertEqual(m.tieBreakPhase, .awaitingInbound)
        _ = m.handle(.connectionClosed(conn: Self.dialConn, reason: "rejected as duplicate", refused: false), nowNs: Self.now, jitter: 1)
        XCTAssertEqual(m.state, .awaitingInbound, "closing the rejected dial is no dial failure")
        _ = m.handle(.inboundAccepted(conn: Self.inboundConn, peer: Self.a), nowNs: Self.now, jitter: 1)
        XCTAssertEqual(m.state, .associated(Self.a, conn: Self.inboundConn))
        XCTAssertEqual(m.handle(.awaitInboundExpired(generation: gen), nowNs: Self.now + 2_000 * Self.ms, jitter: 1), [])
        XCTAssertEqual(m.state, .associated(Self.a, conn: Self.inboundConn))
    }

    func test_staleNameResolution_afterAnInboundAssociation_isIgnored() {
        var m = Self.fixtures().first { $0.name == "dialing(resolving)" }!.machine
        let resolving = m.generation
        _ = m.handle(.inboundAccepted(conn: Self.inboundConn, peer: Self.a), nowNs: Self.now, jitter: 1)
        let associated = m
        XCTAssertEqual(m.handle(.connectStarted(conn: Self.newSocket, generation: resolving), nowNs: Self.now, jitter: 1), [])
        XCTAssertEqual(m.handle(.failedBeforeConnect(generation: resolving, reason: "timeout"), nowNs: Self.now, jitter: 1), [])
        XCTAssertEqual(m, associated)
    }

    func test_newIncarnationThroughOurOwnDial_attachesTheNewUID() {
        // a was associated, the connection dropped, the redial finds b at the address.
        var m = Self.fixtures().first { $0.name == "backingOff(association lost)" }!.machine
        _ = m.handle(.dialRequested, nowNs: Self.now, jitter: 1)
        _ = m.handle(.dialBegins, nowNs: Self.now, jitter: 1)
        _ = m.handle(.connectStarted(conn: Self.newSocket, generation: m.generation), nowNs: Self.now, jitter: 1)
        _ = m.handle(.connected(conn: Self.newSocket), nowNs: Self.now, jitter: 1)
        let actions = m.handle(.established(conn: Self.newSocket, peer: Self.b), nowNs: Self.now, jitter: 1)
        // The frames queued for a meanwhile are dropped by `.attach` (PeerState, below), a reported gone there.
        XCTAssertEqual(actions, [.attach(conn: Self.newSocket, peer: Self.b), .reportAssociated(Self.b), .flush])
        XCTAssertEqual(m.sendVerdict(uid: Self.a.uid, dialNow: false, nowNs: Self.now),
                       .refuse("node at \(Self.address) is now \(Self.b), not uid \(Self.a.uidHex)"))
    }

    func test_backoffGrowsPerFailedDial_capsAtTheMaximum_jitterInTheUpperHalf_andRestartsAfterAnAssociation() {
        var m = L(config: Self.config)
        var t = Self.t0
        var delays: [Int64] = []
        for _ in 0..<8 {
            _ = m.handle(.dialRequested, nowNs: t, jitter: 1)
            _ = m.handle(.dialBegins, nowNs: t, jitter: 1)
            let actions = m.handle(.failedBeforeConnect(generation: m.generation, reason: "no such host"), nowNs: t, jitter: 1)
            guard case .scheduleBackoff(_, let delay)? = actions.first(where: { if case .scheduleBackoff = $0 { true } else { false } })
            else { return XCTFail("\(actions)") }
            delays.append(delay / 1_000_000)
            t += UInt64(delay)
        }
        XCTAssertEqual(delays, [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000])
        XCTAssertEqual(m.failures, 8)
        // Jitter 0 draws the lower bound of [d/2, d].
        var half = m
        _ = half.handle(.dialRequested, nowNs: t, jitter: 0)
        _ = half.handle(.dialBegins, nowNs: t, jitter: 0)
        XCTAssertTrue(half.handle(.failedBeforeConnect(generation: half.generation, reason: "x"), nowNs: t, jitter: 0)
            .contains(.scheduleBackoff(generation: half.generation, delayNs: 2_500_000_000)))
        // An association ends the run: failures, the unreachable clock and its log limit start over.
        _ = m.handle(.inboundAccepted(conn: Self.inboundConn, peer: Self.a), nowNs: t, jitter: 1)
        XCTAssertEqual(m.failures, 0)
        XCTAssertNil(m.unreachableSinceNs)
        XCTAssertNil(m.lastUnreachableLogNs)
        XCTAssertEqual(m.lastAssociatedNs, t)
        let lost = m.handle(.connectionClosed(conn: Self.inboundConn, reason: "reset", refused: false), nowNs: t, jitter: 1)
        XCTAssertTrue(lost.contains(.scheduleBackoff(generation: m.generation, delayNs: Self.backoff100)))
    }

    func test_unreachableWarnings_arePerAddressRateLimited_andSayWhenLastAssociated() {
        var m = Self.fixtures().first { $0.name == "associated" }!.machine  // associated at t0
        func fail(at t: UInt64) -> [L.Action] {
            _ = m.handle(.dialRequested, nowNs: t, jitter: 1)
            _ = m.handle(.dialBegins, nowNs: t, jitter: 1)
            return m.handle(.failedBeforeConnect(generation: m.generation, reason: "r"), nowNs: t, jitter: 1)
        }
        _ = m.handle(.connectionClosed(conn: Self.dialConn, reason: "reset", refused: false), nowNs: Self.t0, jitter: 1)
        let warned: ([L.Action]) -> L.Action? = { $0.first { if case .warnUnreachable = $0 { true } else { false } } }
        let s = 1_000 * Self.ms
        XCTAssertEqual(warned(fail(at: Self.t0 + s)),
                       .warnUnreachable(attempts: 1, unreachableMs: 0, lastAssociatedMs: 1_000, seed: false, reason: "r"))
        XCTAssertNil(warned(fail(at: Self.t0 + 10 * s)), "within 30 s of the last warning")
        XCTAssertEqual(warned(fail(at: Self.t0 + 31 * s)),
                       .warnUnreachable(attempts: 3, unreachableMs: 30_000, lastAssociatedMs: 31_000, seed: false, reason: "r"))
    }

    func test_nonSeed_isGivenUpWhenItsDialsFailedForTheSetting_atTheCheckOrAtABackoffEnd() {
        let idleFailing = Self.fixtures().first { $0.name == "idle(dials failing)" }!.machine
        var m = idleFailing
        XCTAssertEqual(m.handle(.giveUpCheck(generation: m.generation), nowNs: Self.t0 + 60_000 * Self.ms, jitter: 1),
                       [.giveUpEntry(attempts: 1, unreachableMs: 60_000)])
        XCTAssertEqual(m.state, .removed(givenUp: true))
        XCTAssertNil(m.unreachableSinceNs)
        XCTAssertEqual(m.sendVerdict(uid: 0, dialNow: false, nowNs: Self.t0), .lookAgain)
        // A backoff that ends past the give-up time gives up at once.
        var b = Self.fixtures().first { $0.name == "backingOff(dial failed)" }!.machine
        XCTAssertEqual(b.handle(.backoffFired(generation: b.generation), nowNs: Self.t0 + 61_000 * Self.ms, jitter: 1),
                       [.giveUpEntry(attempts: 1, unreachableMs: 61_000)])
        // Seeds never: their backoff ends in a dial.
        var seed = Self.fixtures().first { $0.name == "backingOff(seed)" }!.machine
        XCTAssertEqual(seed.handle(.backoffFired(generation: seed.generation), nowNs: Self.t0 + 3_600_000 * Self.ms, jitter: 1),
                       [.startDial])
        // A seed forgotten is an ordinary address again.
        _ = seed.handle(.forgetRequested, nowNs: Self.t0, jitter: 1)
        XCTAssertFalse(seed.persistent)
    }

    func test_tieBreakPhase_andAssociatedConn_perState() {
        let f = Dictionary(uniqueKeysWithValues: Self.fixtures().map { ($0.name, $0.machine) })
        XCTAssertEqual(f["idle"]?.tieBreakPhase, Handshake.PeerPhase.none)
        XCTAssertEqual(f["dialing(requested)"]?.tieBreakPhase, .dialing)
        XCTAssertEqual(f["dialing(handshaking)"]?.tieBreakPhase, .dialing)
        XCTAssertEqual(f["awaitingInbound"]?.tieBreakPhase, .awaitingInbound)
        XCTAssertEqual(f["associated"]?.tieBreakPhase, .associated(uid: Self.a.uid))
        XCTAssertEqual(f["backingOff(dial failed)"]?.tieBreakPhase, Handshake.PeerPhase.none)
        XCTAssertEqual(f["closed"]?.tieBreakPhase, Handshake.PeerPhase.none)
        XCTAssertEqual(f["associated"]?.associatedConn(uid: 0), Self.dialConn)
        XCTAssertEqual(f["associated"]?.associatedConn(uid: Self.a.uid), Self.dialConn)
        XCTAssertNil(f["associated"]?.associatedConn(uid: Self.b.uid))
        XCTAssertNil(f["dialing(handshaking)"]?.associatedConn(uid: 0))
    }

    func test_config_comesFromTheSettings() {
        var settings = TransportSettings()
        settings.reconnectBackoffInitial = .milliseconds(7)
        settings.reconnectBackoffMax = .seconds(3)
        settings.handshakeTimeout = .milliseconds(1_500)
        settings.giveUpUnreachableAfter = .seconds(9)
        settings.unreachableLogInterval = .seconds(4)
        let c = L.Config(settings)
        XCTAssertEqual(c.backoff, Backoff(initial: .milliseconds(7), max: .seconds(3)))
        XCTAssertEqual(c.awaitInboundNs, 1_500_000_000)
        XCTAssertEqual(c.giveUpAfterNs, 9_000_000_000)
        XCTAssertEqual(c.unreachableLogIntervalNs, 4_000_000_000)
    }

    // MARK: - Lock-side actions on PeerState

    final class Undelivered: Sendable {
        private let ids = Mutex<[Int]>([])
        func handler(_ id: Int) -> UndeliveredHandler { { [self] _ in ids.withLock { $0.append(id) } } }
        var reported: [Int] { ids.withLock { $0.sorted() } }
    }

    private func frame(_ n: Int, uid: UInt64, _ u: Undelivered) -> OutFrame {
        OutFrame(bytes: [UInt8](repeating: UInt8(n), count: 10), uid: uid, counted: true, onUndelivered: u.handler(n))
    }

    private func queue(_ s: inout PeerState, _ f: OutFrame) {
        s.data.append(f)
        s.queuedBytes += f.bytes.count
    }

    func test_peerState_attach_keepsFramesForTheNewUID_dropsTheOldOnes_putsTheAcceptFirst_andTakesTheFlusher() {
        var s = PeerState(config: Self.config)
        let u = Undelivered()
        _ = s.handle(.dialRequested, nowNs: Self.t0, jitter: 1)
        queue(&s, frame(1, uid: 0, u))
        queue(&s, frame(2, uid: Self.a.uid, u))
        queue(&s, frame(3, uid: Self.b.uid, u))
        queue(&s, frame(4, uid: Self.a.uid, u))
        let socket = SocketHandle(fd: -1, token: 0)
        let accept: [UInt8] = [0, 0, 0, 1, 2]
        let fx = s.handle(.inboundAccepted(conn: Self.inboundConn, peer: Self.b), nowNs: Self.t0, jitter: 1,
                          attaching: Attachment(socket: socket, peerMaxFrameBytes: 1 << 20, firstFrame: accept))
        XCTAssertTrue(fx.attached)
        XCTAssertTrue(s.socket === socket)
        XCTAssertEqual(fx.restartedUIDs, [Self.a.uid])
        for h in fx.restarted.handlers { h(.shutDown) }
        XCTAssertEqual(u.reported, [2, 4], "frames for the old uid are dropped; uid 0 and the new uid stay")
        XCTAssertEqual(s.partial, accept)
        XCTAssertEqual(s.queuedBytes, 2 * 10 + accept.count)
        XCTAssertTrue(fx.flushNow)
        XCTAssertTrue(s.flushing)
        XCTAssertEqual(s.peerMaxFrameBytes, 1 << 20)
    }

    func test_peerState_associationLost_detachesTheSocket_dropsEverything_andDoesNotFlush() {
        var s = PeerState(config: Self.config)
        let u = Undelivered()
        _ = s.handle(.dialRequested, nowNs: Self.t0, jitter: 1)
        _ = s.handle(.dialBegins, nowNs: Self.t0, jitter: 1)
        _ = s.handle(.connectStarted(conn: Self.dialConn, generation: s.life.generation), nowNs: Self.t0, jitter: 1)
        _ = s.handle(.connected(conn: Self.dialConn), nowNs: Self.t0, jitter: 1)
        _ = s.handle(.established(conn: Self.dialConn, peer: Self.a), nowNs: Self.t0, jitter: 1,
                     attaching: Attachment(socket: SocketHandle(fd: -1, token: 0)))
        queue(&s, frame(1, uid: 0, u))
        queue(&s, frame(2, uid: Self.a.uid, u))
        s.outArmed = true
        let fx = s.handle(.connectionClosed(conn: Self.dialConn, reason: "reset", refused: false), nowNs: Self.t0, jitter: 1)
        XCTAssertNil(s.socket)
        XCTAssertFalse(s.outArmed)
        XCTAssertEqual(fx.dropped.count, 2)
        for h in fx.dropped.handlers { h(.shutDown) }
        XCTAssertEqual(u.reported, [1, 2])
        XCTAssertEqual(s.queuedBytes, 0)
        XCTAssertFalse(fx.flushNow)
    }

    func test_peerState_keepsDialsInFlightInStep_andAnEmptyDialDoesNotFlush() {
        let metrics = Metrics()
        let budgets = TransportBudgets(metrics)
        var s = PeerState(config: Self.config)
        s.budgets = budgets
        _ = s.handle(.dialRequested, nowNs: Self.t0, jitter: 1)
        XCTAssertEqual(budgets.dialsInFlight.value, 1)
        _ = s.handle(.dialBegins, nowNs: Self.t0, jitter: 1)
        _ = s.handle(.connectStarted(conn: Self.dialConn, generation: s.life.generation), nowNs: Self.t0, jitter: 1)
        XCTAssertEqual(budgets.dialsInFlight.value, 1, "still one dial")
        _ = s.handle(.connected(conn: Self.dialConn), nowNs: Self.t0, jitter: 1)
        _ = s.handle(.rejectedAsDuplicate(conn: Self.dialConn), nowNs: Self.t0, jitter: 1)
        XCTAssertEqual(budgets.dialsInFlight.value, 0, "waiting for the peer's connection is no dial of ours")
        let fx = s.handle(.inboundAccepted(conn: Self.inboundConn, peer: Self.a), nowNs: Self.t0, jitter: 1,
                          attaching: Attachment(socket: SocketHandle(fd: -1, token: 0)))
        XCTAssertFalse(fx.flushNow, "nothing queued, no accept frame: nothing to flush")
        XCTAssertEqual(budgets.dialsInFlight.value, 0)
        _ = s.handle(.shutdown, nowNs: Self.t0, jitter: 1)
        XCTAssertEqual(s.life.state, .closed)
    }

    func test_peerState_faultInjection_dropsQueuedFramesSilently() {
        var s = PeerState(config: Self.config)
        let u = Undelivered()
        queue(&s, frame(1, uid: 0, u))
        s.control.append(frame(2, uid: 0, u))
        s.queuedBytes += 10
        XCTAssertEqual(s.dropQueuedSilently(), 2)
        XCTAssertEqual(s.queuedBytes, 0)
        XCTAssertTrue(s.control.isEmpty && s.data.isEmpty)
        XCTAssertEqual(u.reported, [], "lost on the way, as on the network: nobody is told")
    }
}
