@testable import ActorCluster
import Distributed
import Foundation
import XCTest

/// A distributed actor with private state another type's function must never read.
distributed actor Vault {
    typealias ActorSystem = ClusterSystem

    private let secret: [UInt8] = Array(repeating: 0x5A, count: 32)
    private var opened = 0

    distributed func secretLength() -> Int { secret.count }
    distributed func open() -> Int {
        opened += 1
        return opened
    }

    /// A nested distributed actor: its functions are not the vault's.
    distributed actor Drawer {
        typealias ActorSystem = ClusterSystem
        distributed func contents() -> String { "nothing" }
    }
}

/// The receiving side checks every call before running it: the target must be a distributed function of the
/// recipient's type; arguments that do not decode, replies above the frame limit and actor references are
/// all answered with typed values.
final class CallSafetyTests: ClusterSystemTestCase {
    /// The target identifier of a call, learned from the refusal of a node that hosts another type there.
    private func targetIdentifier(_ call: (ClusterSystem.ActorID) async throws -> Void,
                                  at id: ClusterSystem.ActorID) async throws -> String {
        do {
            try await call(id)
        } catch RemoteCallError.noSuchTarget(_, let target) {
            return target
        }
        XCTFail("expected noSuchTarget")
        return ""
    }

    func test_aFunctionOfAnotherActorTypeSentToAPathIsRefusedAsNoSuchTargetAndCounted() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let vault = try b.makeWellKnown(path: "/test/vault") { Vault(actorSystem: b) }
        let probe = try NodeProbe.start(on: b, nodeName: "b")
        let greeterAtVault = try Greeter.resolve(id: vault.id, using: a)
        do {
            _ = try await greeterAtVault.greet("x", times: 1)
            XCTFail("a Greeter function ran on a Vault")
        } catch RemoteCallError.noSuchTarget(let actor, let target) {
            XCTAssertEqual(actor, vault.id)
            XCTAssertEqual(TargetCheck.demangle(target)?.contains("Greeter.greet"), true)
        }
        // The exact crash of the field report: the analysis function sent to the node probe.
        let vaultAtProbe = try Vault.resolve(id: probe.id, using: a)
        do {
            _ = try await vaultAtProbe.secretLength()
            XCTFail("a Vault function ran on the probe")
        } catch RemoteCallError.noSuchTarget(let actor, _) {
            XCTAssertEqual(actor, probe.id)
        }
        XCTAssertEqual(b.metrics.value("hotline_calls_refused_target_total"), 2)
        // The right type at the path still works, and the node is up.
        let realVault = try Vault.resolve(id: vault.id, using: a)
        let length = try await realVault.secretLength()
        XCTAssertEqual(length, 32)
        let info = try await NodeProbe.on(b.node, system: a).info()
        XCTAssertEqual(info.name, "b")
    }

    func test_targetCheckAcceptsOwnFunctionsAndRefusesForeignNestedGenericAndGarbage() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let greeter = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let vault = try b.makeWellKnown(path: "/test/vault") { Vault(actorSystem: b) }
        let drawer = try b.makeWellKnown(path: "/test/drawer") { Vault.Drawer(actorSystem: b) }
        let greet = try await targetIdentifier({ _ = try await Greeter.resolve(id: $0, using: a).greet("x", times: 1) },
                                               at: vault.id)
        let identity = try await targetIdentifier({ _ = try await Greeter.resolve(id: $0, using: a).identity(1) },
                                                  at: vault.id)
        let secret = try await targetIdentifier({ _ = try await Vault.resolve(id: $0, using: a).secretLength() },
                                                at: greeter.id)
        let contents = try await targetIdentifier({ _ = try await Vault.Drawer.resolve(id: $0, using: a).contents() },
                                                  at: vault.id)

        XCTAssertEqual(try TargetCheck.verdict(greet, on: Greeter.self).isGeneric, false)
        XCTAssertEqual(try TargetCheck.verdict(identity, on: Greeter.self).isGeneric, true)
        XCTAssertNoThrow(try TargetCheck.verdict(secret, on: Vault.self))
        XCTAssertNoThrow(try TargetCheck.verdict(contents, on: Vault.Drawer.self))
        // A nested type's function is not the outer type's, nor the other way round.
        XCTAssertThrowsError(try TargetCheck.verdict(contents, on: Vault.self))
        XCTAssertThrowsError(try TargetCheck.verdict(secret, on: Vault.Drawer.self))
        XCTAssertThrowsError(try TargetCheck.verdict(greet, on: Vault.self))
        for garbage in ["", "$s", "hello", "$sXYZ", String(greet.dropLast(3)), greet + "x", "$s\u{01}abcd", "_ZN3foo3barEv"] {
            XCTAssertThrowsError(try TargetCheck.verdict(garbage, on: Greeter.self), "accepted \(garbage.debugDescription)")
        }
        // Generic substitutions are only accepted by generic functions.
        let check = TargetCheck()
        XCTAssertThrowsError(try check.check(greet, on: Greeter.self, genericCount: 1))
        XCTAssertNoThrow(try check.check(greet, on: Greeter.self, genericCount: 0))
        XCTAssertNoThrow(try check.check(identity, on: Greeter.self, genericCount: 1))
        // A non-generic target's types are resolved once and kept with the verdict; a generic one's are not.
        let resolved = try check.check(greet, on: Greeter.self, genericCount: 0).signature
        XCTAssertEqual(resolved?.parameterCount, 2)
        XCTAssertTrue(resolved?.argumentTypes[0] == String.self && resolved?.argumentTypes[1] == Int.self)
        XCTAssertTrue(resolved?.returnType == Greeter.Greeting.self)
        XCTAssertEqual(resolved.map { String(decoding: $0.name, as: UTF8.self) }, greet)
        XCTAssertNil(try check.check(identity, on: Greeter.self, genericCount: 1).signature)
        let secretResolved = try check.check(secret, on: Vault.self, genericCount: 0).signature
        XCTAssertEqual(secretResolved?.parameterCount, 0)
        XCTAssertTrue(secretResolved?.returnType == Int.self)
        withExtendedLifetime((greeter, drawer)) {}
    }

    /// Field report: a ~200-byte target whose signature refers back to itself demangles to output that
    /// doubles with each level (25 levels stalled a node for 20 s, 26 crashed it). And a target of the right
    /// type with a signature no function has (version skew) came back as a thrown remote error.
    func test_madeUpTargetsAreRefusedCheaplyWithoutDemanglingThem() async throws {
        func index(_ i: Int) -> String {
            i < 26 ? "A" + String(UnicodeScalar(UInt8(65 + i))) : (i == 26 ? "A_" : "A\(i - 27)_")
        }
        var signature = "SDySiSiG"
        for j in 1..<40 { signature = "SDy" + signature + index(4 + j - 1) + "G" }
        let bomb = "$s12ActorCluster9NodeProbeC8echoTextySS" + signature + "YaKFTE"
        XCTAssertLessThan(bomb.utf8.count, 400)
        let started = ContinuousClock.now
        XCTAssertThrowsError(try TargetCheck.verdict(bomb, on: NodeProbe.self))
        XCTAssertLessThan(ContinuousClock.now - started, .milliseconds(50))

        let a = try makeSystem("a"), b = try makeSystem("b")
        let probe = try NodeProbe.start(on: b, nodeName: "b")
        for target in [bomb, "$s12ActorCluster9NodeProbeC8echoTextySSSDySiSiGYaKFTE"] {
            let reply = try await a.call(probe.id, target: RemoteCallTarget(target), invocation: ClusterInvocationEncoder())
            guard case .noSuchTarget = reply else { return XCTFail("\(reply)") }
        }
        // A 1 MiB target is refused, and neither echoed nor logged whole.
        let huge = "$s" + String(repeating: "x", count: 1 << 20)
        let reply = try await a.call(probe.id, target: RemoteCallTarget(huge), invocation: ClusterInvocationEncoder())
        guard case .noSuchTarget(_, let echoed) = reply else { return XCTFail("\(reply)") }
        XCTAssertLessThanOrEqual(echoed.utf8.count, 256)
        let info = try await NodeProbe.on(b.node, system: a).info()
        XCTAssertEqual(info.name, "b")
    }

    func test_argumentThatDoesNotDecodeArrivesAsInvocationFailed() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b")
        let greeter = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let vault = try b.makeWellKnown(path: "/test/vault") { Vault(actorSystem: b) }
        let greet = try await targetIdentifier({ _ = try await Greeter.resolve(id: $0, using: a).greet("x", times: 1) },
                                               at: vault.id)
        var invocation = ClusterInvocationEncoder()
        invocation.arguments = [try Wire.BinaryEncoder().encode(42), try Wire.BinaryEncoder().encode("not an Int")]
        let reply = try await a.call(greeter.id, target: RemoteCallTarget(greet), invocation: invocation)
        guard case .invocationFailed(let why) = reply else { return XCTFail("got \(reply)") }
        XCTAssertTrue(why.contains("argument #"), why)
        // Through the typed API: a missing argument is invocationFailed too, never remoteError.
        invocation.arguments = []
        let missing = try await a.call(greeter.id, target: RemoteCallTarget(greet), invocation: invocation)
        guard case .invocationFailed = missing else { return XCTFail("got \(missing)") }
        // One argument too many: refused before the function runs (it used to run, ignoring the extra).
        invocation.arguments = [try Wire.BinaryEncoder().encode("x"), try Wire.BinaryEncoder().encode(1),
                                try Wire.BinaryEncoder().encode(2)]
        let extra = try await a.call(greeter.id, target: RemoteCallTarget(greet), invocation: invocation)
        guard case .invocationFailed(let why) = extra else { return XCTFail("got \(extra)") }
        XCTAssertTrue(why.contains("takes 2 argument(s), the call sent 3"), why)
        XCTAssertEqual(try TargetCheck.verdict(greet, on: Greeter.self).parameterCount, 2)
    }

    func test_seededRandomRecipientsAndTargetsNeverCrashTheNode() async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["FUZZ_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)
        print("CallSafetyTests fuzz seed: \(seed) (FUZZ_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        let a = try makeSystem("a"), b = try makeSystem("b")
        let greeter = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let vault = try b.makeWellKnown(path: "/test/vault") { Vault(actorSystem: b) }
        let drawer = try b.makeWellKnown(path: "/test/drawer") { Vault.Drawer(actorSystem: b) }
        let probe = try NodeProbe.start(on: b, nodeName: "b")
        var targets: [String] = []
        targets.append(try await targetIdentifier({ _ = try await Greeter.resolve(id: $0, using: a).greet("x", times: 1) }, at: vault.id))
        targets.append(try await targetIdentifier({ _ = try await Greeter.resolve(id: $0, using: a).identity(1) }, at: vault.id))
        targets.append(try await targetIdentifier({ try await Greeter.resolve(id: $0, using: a).poke() }, at: vault.id))
        targets.append(try await targetIdentifier({ _ = try await Vault.resolve(id: $0, using: a).secretLength() }, at: greeter.id))
        targets.append(try await targetIdentifier({ _ = try await Vault.resolve(id: $0, using: a).open() }, at: greeter.id))
        targets.append(try await targetIdentifier({ _ = try await Vault.Drawer.resolve(id: $0, using: a).contents() }, at: vault.id))
        targets.append(try await targetIdentifier({ _ = try await NodeProbe.resolve(id: $0, using: a).info() }, at: vault.id))
        targets.append(try await targetIdentifier({ _ = try await NodeProbe.resolve(id: $0, using: a).echo([1]) }, at: vault.id))
        let ids = [greeter.id, vault.id, drawer.id, probe.id, ClusterSystem.wellKnownID("/test/none", on: b.node)]

        let iterations = 2_000
        var refused = 0, ran = 0, failed = 0
        for _ in 0..<iterations {
            var target = targets[Int(rng.next() % UInt64(targets.count))]
            switch rng.next() % 4 {
            case 0: break
            case 1: // flip one byte
                var bytes = Array(target.utf8)
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                target = String(decoding: bytes, as: UTF8.self)
            case 2: target = String(target.prefix(Int(rng.next() % UInt64(target.count + 1))))
            default: target = "$s" + String((0..<Int(rng.next() % 40)).map { _ in Character(UnicodeScalar(UInt8(33 + rng.next() % 94))) })
            }
            var invocation = ClusterInvocationEncoder()
            for _ in 0..<Int(rng.next() % 4) {
                invocation.arguments.append((0..<Int(rng.next() % 16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            }
            if rng.next() % 8 == 0 { invocation.generics = ["Si"] }
            let id = ids[Int(rng.next() % UInt64(ids.count))]
            switch try await a.call(id, target: RemoteCallTarget(target), invocation: invocation) {
            case .noSuchTarget, .noSuchActor, .notPermitted: refused += 1
            case .invocationFailed: failed += 1
            case .value, .void, .thrown, .thrownTyped: ran += 1
            case .resultTooLarge: XCTFail("tiny results cannot be too large")
            case .overloaded: XCTFail("one call at a time cannot overload")
            }
        }
        XCTAssertEqual(refused + failed + ran, iterations)
        let info = try await NodeProbe.on(b.node, system: a).info()
        XCTAssertEqual(info.name, "b")
        let length = try await Vault.resolve(id: vault.id, using: a).secretLength()
        XCTAssertEqual(length, 32)
        print("fuzz: \(iterations) calls, \(refused) refused, \(failed) invocation failures, \(ran) ran")
    }

    func test_replyAboveTheFrameLimitFailsAtOnceTypedAndCallsAndMessagesAboveItFailAtTheSender() async throws {
        let limit = 64 << 10
        let a = try makeSystem("a", maxFrameBytes: limit), b = try makeSystem("b", maxFrameBytes: limit)
        let greeter = try b.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: b) }
        let remote = try Greeter.resolve(id: greeter.id, using: a)
        let started = ContinuousClock.now
        do {
            _ = try await remote.greet("铁东", times: 20_000)
            XCTFail("a reply of ~200 KB crossed a 64 KiB frame limit")
        } catch RemoteCallError.frameTooLarge(let what, let bytes, let max) {
            XCTAssertEqual(what, "reply")
            XCTAssertGreaterThan(bytes, limit)
            XCTAssertEqual(max, limit)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2), "the caller must not wait out its timeout")
        XCTAssertEqual(b.metrics.value("hotline_frames_too_large_total"), 1)
        do {
            _ = try await remote.identity([UInt8](repeating: 7, count: limit))
            XCTFail("a call above the frame limit was sent")
        } catch RemoteCallError.frameTooLarge(let what, _, _) {
            XCTAssertEqual(what, "call")
        }
        XCTAssertThrowsError(try a.sendMessage([UInt8](repeating: 1, count: limit + 1),
                                               to: ClusterSystem.wellKnownID("/test/sink", on: b.node))) { error in
            guard case RemoteCallError.frameTooLarge(let what, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "message")
        }
        // The association survived: a normal call still works.
        let small = try await remote.greet("x", times: 1)
        XCTAssertEqual(small.text, "你好 x ")
    }

    /// Field report: against a node started with a smaller frame limit, a call that fit the caller's own
    /// limit made the callee close the whole connection ("connection closed by peer", untyped, and every
    /// other call on it failed). Each side now announces its limit in the handshake and senders respect it.
    func test_framesAboveThePeersAnnouncedLimitFailAtTheSenderTypedAndTheConnectionStays() async throws {
        let small = 64 << 10
        let big = try makeSystem("big"), tiny = try makeSystem("tiny", maxFrameBytes: small)
        let greeter = try tiny.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: tiny) }
        let remote = try Greeter.resolve(id: greeter.id, using: big)
        let payload = [UInt8](repeating: 7, count: 100_000)
        // First call, queued before the handshake: dropped at association, failed at once.
        let started = ContinuousClock.now
        do {
            _ = try await remote.identity(payload)
            XCTFail("a 100 KB call crossed a 64 KiB limit")
        } catch RemoteCallError.frameTooLarge(let what, _, let limit) {
            XCTAssertEqual(what, "call")
            XCTAssertEqual(limit, small)
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(2))
        // Once associated: refused at send.
        do {
            _ = try await remote.identity(payload)
            XCTFail("a 100 KB call crossed a 64 KiB limit")
        } catch RemoteCallError.frameTooLarge(_, _, let limit) {
            XCTAssertEqual(limit, small)
        }
        let ok = try await remote.greet("x", times: 1)
        XCTAssertEqual(ok.text, "你好 x ")
        // The other way: the big node's reply to the small one is sized for the small one's limit.
        let bigGreeter = try big.makeWellKnown(path: "/test/greeter") { Greeter(actorSystem: big) }
        let back = try Greeter.resolve(id: bigGreeter.id, using: tiny)
        do {
            _ = try await back.greet("铁东", times: 20_000)
            XCTFail("a ~200 KB reply crossed a 64 KiB limit")
        } catch RemoteCallError.frameTooLarge(let what, _, let limit) {
            XCTAssertEqual(what, "reply")
            XCTAssertEqual(limit, small)
        }
        // A node with a small limit may still answer with more than it reads itself, up to what the caller
        // announced (a case it accepted can always be read back from it).
        let mid = try tiny.makeWellKnown(path: "/test/mid") { Greeter(actorSystem: tiny) }
        let fromBig = try Greeter.resolve(id: mid.id, using: big)
        let answer = try await fromBig.greet("铁东", times: 10_000)
        XCTAssertGreaterThan(answer.text.utf8.count, small)
        XCTAssertEqual(big.metrics.value("hotline_disassociations_total"), 0)
        XCTAssertEqual(tiny.metrics.value("hotline_frames_malformed_total"), 0)
    }

    func test_actorReferencesCrossTheWireAsArgumentsAndResultsAndResolveOnAnyNode() async throws {
        let a = try makeSystem("a"), b = try makeSystem("b"), c = try makeSystem("c")
        let probeA = try NodeProbe.start(on: a, nodeName: "a")
        let probeB = try NodeProbe.start(on: b, nodeName: "b")
        let probeC = try NodeProbe.start(on: c, nodeName: "c")
        defer { withExtendedLifetime((probeB, probeC)) {} }
        let bFromA = try NodeProbe.on(b.node, system: a)
        let cFromA = try NodeProbe.on(c.node, system: a)
        // Argument: a reference to a third node's actor; b calls c.
        let cInfo = try await bFromA.infoOf(cFromA)
        XCTAssertEqual(cInfo.name, "c")
        XCTAssertEqual(cInfo.node, c.node)
        // Argument: a reference to the caller's own actor; b calls back into a.
        let aInfo = try await bFromA.infoOf(probeA)
        XCTAssertEqual(aInfo.name, "a")
        // Result: b's peers' probes; a's own resolves to the local instance, c's to a remote proxy.
        let peers = try await bFromA.peerProbes()
        XCTAssertEqual(Set(peers.map(\.id.node)), [a.node, c.node])
        let own = try XCTUnwrap(peers.first { $0.id.node == a.node })
        XCTAssertTrue(own === probeA)
        XCTAssertFalse(__isRemoteActor(own))
        let third = try XCTUnwrap(peers.first { $0.id.node == c.node })
        XCTAssertTrue(__isRemoteActor(third))
        let viaResult = try await third.info()
        XCTAssertEqual(viaResult.name, "c")
    }
}
