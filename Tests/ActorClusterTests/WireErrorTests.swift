@testable import ActorCluster
import Distributed
import Foundation
import XCTest

/// A domain error that crosses the wire typed.
enum LedgerError: WireError, Equatable {
    case refused(reason: String, code: Int, tags: [String])
    case unknownAccount(String)
    case limit(Double?)

    static var wireName: String { "test.LedgerError" }
}

/// A struct error, also typed.
struct QuotaExceeded: WireError, Equatable {
    var who: String
    var used: Int
    var allowed: Int
    var at: Date

    static var wireName: String { "test.QuotaExceeded" }
}

/// Two versions of one error type (same wire name, different shape), as two nodes of different versions
/// would have: the caller knows `SkewOld`, the callee throws `SkewNew`.
enum SkewOld: WireError, Equatable {
    case gone(Bool)
    static var wireName: String { "test.Skew" }
}

enum SkewNew: WireError, Equatable {
    case moved(to: String, after: Int)
    static var wireName: String { "test.Skew" }
}

/// An error whose payload is random bytes, not what its own `init(from:)` reads: what a broken or hostile
/// callee could send under a registered name.
struct GarbageError: WireError, CustomStringConvertible {
    var bytes: [UInt8]
    static var wireName: String { "test.LedgerError" }
    init(bytes: [UInt8]) { self.bytes = bytes }
    init(from decoder: any Decoder) throws { bytes = try decoder.singleValueContainer().decode([UInt8].self) }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(bytes)
    }
    var description: String { "garbage of \(bytes.count) bytes" }
}

/// An error whose wire name is not allowed: crosses as a plain thrown error.
enum BadlyNamed: WireError {
    case oops
    static var wireName: String { "has spaces in it" }
}

distributed actor Ledger {
    typealias ActorSystem = ClusterSystem

    distributed func refuse(_ reason: String, code: Int, tags: [String]) throws -> Int {
        throw LedgerError.refused(reason: reason, code: code, tags: tags)
    }
    distributed func overQuota(_ who: String) throws {
        throw QuotaExceeded(who: who, used: 11, allowed: 10, at: Date(timeIntervalSince1970: 1_767_225_600.25))
    }
    distributed func limit(_ value: Double?) throws -> Int { throw LedgerError.limit(value) }
    distributed func skewed() throws -> Int { throw SkewNew.moved(to: "铁西", after: 3) }
    distributed func garbage(_ count: Int) throws -> Int {
        var rng = SplitMix64(seed: UInt64(count))
        throw GarbageError(bytes: (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }
    distributed func badlyNamed() throws -> Int { throw BadlyNamed.oops }
    distributed func huge(_ bytes: Int) throws -> Int {
        throw LedgerError.refused(reason: String(repeating: "长", count: bytes / 3), code: bytes, tags: [])
    }
    /// Calls `other` and passes on whatever it throws (an intermediate node).
    distributed func relay(_ other: Ledger, _ reason: String) async throws -> Int {
        try await other.refuse(reason, code: 7, tags: ["relayed"])
    }
    distributed func ping() -> Int { 1 }
}

final class WireErrorTests: ClusterSystemTestCase {
    /// Actors made by `pair` (a system holds its actors weakly).
    private var keepAlive: [Ledger] = []

    override func tearDown() {
        keepAlive = []
        super.tearDown()
    }

    /// Caller `a` (registers the test error types unless told not to), callee `b` hosting a `Ledger`.
    private func pair(register: Bool = true, maxFrameBytes: Int? = nil)
        throws -> (a: ClusterSystem, b: ClusterSystem, ledger: Ledger, remote: Ledger) {
        let a = try makeSystem("a", maxFrameBytes: maxFrameBytes), b = try makeSystem("b", maxFrameBytes: maxFrameBytes)
        if register {
            try a.registerWireError(LedgerError.self)
            try a.registerWireError(QuotaExceeded.self)
        }
        let ledger = try b.makeWellKnown(path: "/test/ledger") { Ledger(actorSystem: b) }
        keepAlive.append(ledger)
        return (a, b, ledger, try Ledger.resolve(id: ledger.id, using: a))
    }

    func test_registeredWireErrorIsRethrownTypedWithEveryFieldAsOnALocalCall() async throws {
        let (_, b, ledger, remote) = try pair()
        do {
            _ = try await remote.refuse("余额不足 \"quoted\"", code: -42, tags: ["a", "", "长"])
            XCTFail("expected a throw")
        } catch LedgerError.refused(let reason, let code, let tags) {
            XCTAssertEqual(reason, "余额不足 \"quoted\"")
            XCTAssertEqual(code, -42)
            XCTAssertEqual(tags, ["a", "", "长"])
        }
        // The same catch works on a local call (no wire at all).
        let local = try Ledger.resolve(id: ledger.id, using: b)
        do {
            _ = try await local.refuse("local", code: 1, tags: [])
            XCTFail("expected a throw")
        } catch LedgerError.refused(let reason, _, _) {
            XCTAssertEqual(reason, "local")
        }
        do {
            try await remote.overQuota("王女士")
            XCTFail("expected a throw")
        } catch let error as QuotaExceeded {
            XCTAssertEqual(error, QuotaExceeded(who: "王女士", used: 11, allowed: 10, at: Date(timeIntervalSince1970: 1_767_225_600.25)))
        }
        for value in [nil, 0.5, -Double.infinity] as [Double?] {
            do {
                _ = try await remote.limit(value)
                XCTFail("expected a throw")
            } catch let error as LedgerError {
                XCTAssertEqual(error, .limit(value))
            }
        }
    }

    func test_unregisteredWireErrorArrivesAsRemoteErrorWithTypeNameAndMessage() async throws {
        let (_, _, _, remote) = try pair(register: false)
        do {
            _ = try await remote.refuse("no", code: 3, tags: ["x"])
            XCTFail("expected a throw")
        } catch RemoteCallError.remoteError(let typeName, let message) {
            XCTAssertTrue(typeName.hasSuffix("LedgerError"), typeName)
            XCTAssertEqual(message, "\(LedgerError.refused(reason: "no", code: 3, tags: ["x"]))")
        }
        // A wire name the callee may not send: a plain thrown error, even for a caller that registered others.
        do {
            _ = try await remote.badlyNamed()
            XCTFail("expected a throw")
        } catch RemoteCallError.remoteError(let typeName, let message) {
            XCTAssertTrue(typeName.hasSuffix("BadlyNamed"), typeName)
            XCTAssertEqual(message, "oops")
        }
    }

    func test_undecodableErrorPayloadArrivesAsRemoteErrorAndTheConnectionStays() async throws {
        let (a, b, _, remote) = try pair()
        try a.registerWireError(SkewOld.self)
        // Version skew: the caller's type of that name has another shape.
        do {
            _ = try await remote.skewed()
            XCTFail("expected a throw")
        } catch RemoteCallError.remoteError(let typeName, let message) {
            XCTAssertTrue(typeName.hasSuffix("SkewNew"), typeName)
            XCTAssertEqual(message, "\(SkewNew.moved(to: "铁西", after: 3))")
        }
        // Random bytes under a registered name, of many lengths (the empty payload included).
        for count in [0, 1, 2, 7, 64, 1000] {
            do {
                _ = try await remote.garbage(count)
                XCTFail("expected a throw")
            } catch RemoteCallError.remoteError(let typeName, let message) {
                XCTAssertTrue(typeName.hasSuffix("GarbageError"), typeName)
                XCTAssertEqual(message, "garbage of \(count) bytes")
            }
        }
        let one = try await remote.ping()
        XCTAssertEqual(one, 1)
        for system in [a, b] {
            XCTAssertEqual(system.metrics.value("hotline_frames_malformed_total"), 0)
            XCTAssertEqual(system.metrics.value("hotline_disassociations_total"), 0)
        }
    }

    func test_errorAboveTheFrameLimitArrivesAtOnceAsRemoteErrorWithItsMessageClipped() async throws {
        let limit = 64 << 10
        let (a, b, _, remote) = try pair(maxFrameBytes: limit)
        let started = ContinuousClock.now
        do {
            _ = try await remote.huge(200_000)
            XCTFail("expected a throw")
        } catch RemoteCallError.remoteError(let typeName, let message) {
            XCTAssertTrue(typeName.hasSuffix("LedgerError"), typeName)
            XCTAssertLessThanOrEqual(message.utf8.count, ReplyEnvelope.clippedMessageBytes)
            XCTAssertTrue(message.hasPrefix("refused(reason: \"长长"), message)
            XCTAssertTrue(message.hasSuffix("…"), message)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2), "the caller must not wait out its timeout")
        XCTAssertEqual(b.metrics.value("hotline_frames_too_large_total"), 1)
        // One that fits (its text travels twice: in the value and in the message) still arrives typed.
        do {
            _ = try await remote.huge(limit / 3)
            XCTFail("expected a throw")
        } catch LedgerError.refused(let reason, let code, _) {
            XCTAssertEqual(code, limit / 3)
            XCTAssertEqual(reason.count, limit / 9)
        }
        let pong = try await remote.ping()
        XCTAssertEqual(pong, 1)
        XCTAssertEqual(a.metrics.value("hotline_disassociations_total"), 0)
    }

    /// `a` calls `b`, which calls `c`: what `c` throws passes through `b` typed; when `b` cannot reach `c`, `a`
    /// gets `relayed(by: b, nodeUnreachable(c))`, never a bare `nodeUnreachable` that would read as "b is down".
    func test_aRemoteCallErrorPassedOnByTheCalleeArrivesRelayedNotAsTheCalleesOwnFailure() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b"), c = try makeSystem("c")
        try a.registerWireError(LedgerError.self)
        try b.registerWireError(LedgerError.self)
        let onB = try b.makeWellKnown(path: "/test/ledger") { Ledger(actorSystem: b) }
        let onC = try c.makeWellKnown(path: "/test/ledger") { Ledger(actorSystem: c) }
        let middle = try Ledger.resolve(id: onB.id, using: a)
        let far = try Ledger.resolve(id: onC.id, using: a)  // resolves on b as a proxy to c
        do {
            _ = try await middle.relay(far, "through b")
            XCTFail("expected a throw")
        } catch LedgerError.refused(let reason, let code, let tags) {
            XCTAssertEqual(reason, "through b")
            XCTAssertEqual(code, 7)
            XCTAssertEqual(tags, ["relayed"])
        }
        let cNode = c.node
        c.shutdown()
        do {
            _ = try await middle.relay(far, "c is gone")
            XCTFail("expected a throw")
        } catch let error as RemoteCallError {
            guard case .relayed(let by, let inner) = error, case .nodeUnreachable(let node, _) = inner else {
                return XCTFail("expected relayed(by: b, nodeUnreachable(c)), got \(error)")
            }
            XCTAssertEqual(by, b.node)
            XCTAssertEqual(node, cNode)
            XCTAssertFalse(error.isRetryable, "b answered: the call to b is not to be retried as if b were down")
            XCTAssertTrue(inner.isRetryable)
            XCTAssertTrue(error.description.contains("passed on"), error.description)
        }
        // b itself is fine.
        let pong = try await middle.ping()
        XCTAssertEqual(pong, 1)
        // A caller that registered nothing still gets it: RemoteCallError is always registered.
        let d = try makeSystem("d")
        let fromD = try Ledger.resolve(id: onB.id, using: d)
        do {
            _ = try await fromD.relay(try Ledger.resolve(id: onC.id, using: d), "again")
            XCTFail("expected a throw")
        } catch RemoteCallError.relayed(let by, .nodeUnreachable) {
            XCTAssertEqual(by, b.node)
        }
    }

    func test_registrationRefusesInvalidNamesAndAnotherTypeUnderATakenName() throws {
        let a = try makeSystem("a")
        try a.registerWireError(LedgerError.self)
        try a.registerWireError(LedgerError.self)  // again: nothing happens
        XCTAssertThrowsError(try a.registerWireError(GarbageError.self)) { error in
            guard case ClusterSystemError.wireNameInUse(let name, let registered) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "test.LedgerError")
            XCTAssertTrue(registered.hasSuffix("LedgerError"), registered)
        }
        XCTAssertThrowsError(try a.registerWireError(BadlyNamed.self)) { error in
            XCTAssertEqual(error as? ClusterSystemError, .invalidWireName("has spaces in it"))
        }
        XCTAssertNoThrow(try a.registerWireError(RemoteCallError.self))  // always registered: a no-op
    }

    func test_remoteCallErrorRoundTripsThroughTheBinaryCodecInEveryCase() throws {
        let node = NodeIdentity(address: NodeAddress(host: "10.0.0.7", port: 7101), uid: 0xFEED)
        let id = ClusterSystem.ActorID(node: node, path: "/district/210302")
        let all: [RemoteCallError] = [
            .timeout(actor: id, target: "$s4main3FooC3baryyFTE", afterMilliseconds: 5000),
            .nodeUnreachable(node: node, reason: "connection reset"), .noSuchActor(id),
            .remoteError(typeName: "M.E", message: "铁东"), .relayed(by: node, .relayed(by: node, .noSuchActor(id))),
            .invocationFailed("why"), .noSuchTarget(actor: id, target: "t"), .notPermitted(actor: id, target: "t"),
            .frameTooLarge(what: "reply", bytes: 9_000_000, limit: 8_388_608), .overloaded(node: node, queuedBytes: 1 << 26),
            .remoteOverloaded(node: node, perCaller: true, limit: 1024), .systemShutDown,
        ]
        for error in all {
            let bytes = try Wire.BinaryEncoder().encode(error)
            XCTAssertEqual(try Wire.BinaryDecoder().decode(RemoteCallError.self, from: bytes), error)
        }
    }

    func test_isRetryableOnlyForFailuresOfReachingTheCallee() {
        let node = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 1), uid: 1)
        let id = ClusterSystem.ActorID(node: node, path: "/x")
        XCTAssertTrue(RemoteCallError.nodeUnreachable(node: node, reason: "r").isRetryable)
        XCTAssertTrue(RemoteCallError.noSuchActor(id).isRetryable)
        XCTAssertTrue(RemoteCallError.overloaded(node: node, queuedBytes: 1).isRetryable)
        XCTAssertTrue(RemoteCallError.remoteOverloaded(node: node, perCaller: false, limit: 1).isRetryable)
        for error: RemoteCallError in [.timeout(actor: id, target: "t", afterMilliseconds: 1), .remoteError(typeName: "T", message: "m"),
                                       .relayed(by: node, .nodeUnreachable(node: node, reason: "r")), .invocationFailed("w"),
                                       .noSuchTarget(actor: id, target: "t"), .notPermitted(actor: id, target: "t"),
                                       .frameTooLarge(what: "call", bytes: 2, limit: 1), .systemShutDown] {
            XCTAssertFalse(error.isRetryable, "\(error)")
        }
    }

    func test_typedReplyEnvelopeRoundTripsAndMalformedOnesAreRefused() throws {
        let reply = ReplyEnvelope.thrownTyped(wireName: "test.LedgerError", typeName: "M.LedgerError", message: "长", payload: [1, 2, 3][...])
        var bytes: [UInt8] = []
        reply.encode(callID: 300, into: &bytes)
        let (callID, decoded) = try ReplyEnvelope.decode(bytes[...])
        XCTAssertEqual(callID, 300)
        guard case .thrownTyped(let name, let type, let message, let payload) = decoded else { return XCTFail("\(decoded)") }
        XCTAssertEqual([name, type, message], ["test.LedgerError", "M.LedgerError", "长"])
        XCTAssertEqual(Array(payload), [1, 2, 3])
        // Every truncation, and trailing bytes, are malformed (never a crash).
        for n in 0..<bytes.count { XCTAssertThrowsError(try ReplyEnvelope.decode(bytes.prefix(n))) }
        XCTAssertThrowsError(try ReplyEnvelope.decode((bytes + [0])[...]))
        // A wire name above 255 bytes is malformed.
        var long: [UInt8] = []
        ReplyEnvelope.thrownTyped(wireName: String(repeating: "n", count: 256), typeName: "T", message: "m", payload: []).encode(callID: 1, into: &long)
        XCTAssertThrowsError(try ReplyEnvelope.decode(long[...]))
        // Clipping keeps whole scalars and marks the cut.
        XCTAssertEqual(ReplyEnvelope.clip("abc", 3), "abc")
        let clipped = ReplyEnvelope.clip(String(repeating: "长", count: 10), 10)
        XCTAssertEqual(clipped, "长长…")
        XCTAssertLessThanOrEqual(clipped.utf8.count, 10)
    }
}
