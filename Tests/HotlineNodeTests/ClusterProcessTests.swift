import ActorCluster
import Foundation
import XCTest

/// Two or more real `hotline node` processes on 127.0.0.1, called from this test process (itself a node).
final class ClusterProcessTests: XCTestCase {
    var harness: NodeHarness!

    override func setUp() { harness = NodeHarness() }
    override func tearDown() { harness.stopAll() }

    func test_thousandRemoteCallsBetweenNodeProcessesReturnCorrectReplies() async throws {
        let a = try harness.startNode("a")
        let b = try harness.startNode("b", extra: ["--seeds", a.node.address.description])
        let client = try harness.clientSystem()
        let probeA = try NodeProbe.on(a.node, system: client)
        let probeB = try NodeProbe.on(b.node, system: client)

        for i in 0..<1000 {
            let payload = Array("call-\(i)-\(String(repeating: "x", count: i % 64))".utf8)
            let reply = try await probeB.echo(payload)
            XCTAssertEqual(reply, payload, "reply \(i)")
        }
        // Process a calls process b: node-to-node, not only test-to-node.
        let correct = try await probeA.echoPeer(b.node, count: 1000)
        XCTAssertEqual(correct, 1000)
        let infoB = try await probeB.info()
        XCTAssertEqual(infoB.node, b.node)
        XCTAssertTrue(infoB.associatedNodes.contains(a.node), "b is associated with a: \(infoB.associatedNodes)")
    }

    func test_remoteThrowArrivesAsTypedRemoteError() async throws {
        let b = try harness.startNode("b")
        let client = try harness.clientSystem()
        let probe = try NodeProbe.on(b.node, system: client)
        do {
            try await probe.fail("case 2026-000123 not found")
            XCTFail("expected a throw")
        } catch RemoteCallError.remoteError(let typeName, let message) {
            XCTAssertTrue(typeName.hasSuffix("NodeProbe.ProbeError"), typeName)
            XCTAssertTrue(message.contains("case 2026-000123 not found"), message)
        }
        // The node still answers after a thrown call.
        let text = try await probe.echoText("市民反映铁东区供暖不热，请尽快处理。")
        XCTAssertEqual(text, "市民反映铁东区供暖不热，请尽快处理。")
    }

    func test_killedCalleeFailsInFlightAndNewCallsAsUnreachableWithinOneSecond() async throws {
        let b = try harness.startNode("b")
        let client = try harness.clientSystem(callTimeout: .seconds(5))
        let probe = try NodeProbe.on(b.node, system: client)
        _ = try await probe.info()  // associated

        let inFlight = Task { () -> (any Error)? in
            do {
                _ = try await probe.sleep(milliseconds: 10_000)
                return nil
            } catch { return error }
        }
        try await waitUntil("the sleep call is in flight") { client.pendingCallCount == 1 }

        let killedAt = ContinuousClock.now
        b.kill()
        let inFlightError = await inFlight.value
        let inFlightDelay = ContinuousClock.now - killedAt
        guard case .nodeUnreachable? = inFlightError as? RemoteCallError else {
            return XCTFail("in-flight call: expected nodeUnreachable, got \(String(describing: inFlightError))")
        }
        XCTAssertLessThan(inFlightDelay, .seconds(1), "in-flight call failed after \(inFlightDelay)")

        let newCallStart = ContinuousClock.now
        do {
            _ = try await probe.info()
            XCTFail("call to a killed node succeeded")
        } catch RemoteCallError.nodeUnreachable {
            XCTAssertLessThan(ContinuousClock.now - newCallStart, .seconds(1))
        }
    }

    func test_hungCalleeIsDetectedByKeepAliveBeforeTheCallTimeout() async throws {
        let b = try harness.startNode("b")
        var settings = ClusterSettings()
        settings.nodeName = "test-client"
        settings.listen = NodeAddress(host: "127.0.0.1", port: 0)
        settings.callTimeout = .seconds(30)
        settings.transport.heartbeatInterval = .milliseconds(200)
        settings.transport.idleTimeout = .seconds(1)
        settings.transport.auth = harness.secret.auth
        let client = try ClusterSystem(settings: settings, logger: Logger(level: .error))
        defer { client.shutdown() }
        let probe = try NodeProbe.on(b.node, system: client)
        _ = try await probe.info()
        let inFlight = Task { () -> (any Error)? in
            do {
                _ = try await probe.sleep(milliseconds: 20_000)
                return nil
            } catch { return error }
        }
        try await waitUntil("the sleep call is in flight") { client.pendingCallCount == 1 }
        kill(b.process.processIdentifier, SIGSTOP)  // hung, not dead: the socket stays open
        defer { kill(b.process.processIdentifier, SIGCONT) }
        let stoppedAt = ContinuousClock.now
        let error = await inFlight.value
        guard case .nodeUnreachable(_, let reason)? = error as? RemoteCallError else {
            return XCTFail("expected nodeUnreachable, got \(String(describing: error))")
        }
        XCTAssertTrue(reason.contains("nothing received"), reason)
        XCTAssertLessThan(ContinuousClock.now - stoppedAt, .seconds(5), "detected long before the 30 s call timeout")
        XCTAssertEqual(client.metrics.value("hotline_idle_timeouts_total"), 1)
    }

    func test_restartedNodeOnSamePortIsANewIncarnation() async throws {
        let first = try harness.startNode("b")
        let port = first.node.address.port
        let client = try harness.clientSystem()
        let oldProbe = try NodeProbe.on(first.node, system: client)
        _ = try await oldProbe.info()
        first.kill()

        let second = try harness.startNode("b", port: port)
        XCTAssertEqual(second.node.address, first.node.address)
        XCTAssertNotEqual(second.node.uid, first.node.uid, "a restarted process draws a new uid")

        let newProbe = try NodeProbe.on(second.node, system: client)
        // The old address may still be in reconnect backoff for a moment; the new incarnation must answer.
        try await waitUntil("the new incarnation answers") {
            (try? await newProbe.info())?.node == second.node
        }
        do {
            _ = try await oldProbe.info()
            XCTFail("a call to the old incarnation's actor succeeded")
        } catch RemoteCallError.nodeUnreachable {
            // expected: that uid is gone
        }
    }

    func test_nodeExitsZeroOnSIGTERM() throws {
        let b = try harness.startNode("b")
        XCTAssertEqual(b.stop(timeout: .seconds(10)), 0)
    }

    func test_garbageFromARawSocketDoesNotDisturbOtherCallers() async throws {
        let b = try harness.startNode("b")
        let client = try harness.clientSystem()
        let probe = try NodeProbe.on(b.node, system: client)
        _ = try await probe.info()

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = b.node.address.port.bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(connected, 0)
        let garbage: [UInt8] = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        _ = garbage.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        for i in 0..<100 {
            let reply = try await probe.echo([UInt8(i)])
            XCTAssertEqual(reply, [UInt8(i)])
        }
    }

    func test_badFlagsAndConfigExitTwoNamingTheField() throws {
        var r = try NodeHarness.run(["node", "--listen", "nonsense"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--listen"), r.stderr)

        r = try NodeHarness.run(["node", "--lisen", "127.0.0.1:0"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--lisen"), r.stderr)

        r = try NodeHarness.run(["node", "--call-timeout-ms", "-5"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--call-timeout-ms"), r.stderr)

        for bad in [["--seeds", "127.0.0.1:7101,"], ["--seeds", "127.0.0.1:0"], ["--listen", "0.0.0.0:0"],
                    ["--name", "a", "--name", "b"], ["--roles", "intake,cook"],
                    ["--seeds", "127.0.0.1:7101,127.0.0.1:7101"], ["--catalog", "/nonexistent/catalog.json"]] {
            r = try NodeHarness.run(["node"] + bad)
            XCTAssertEqual(r.status, 2, "\(bad)")
            XCTAssertTrue(r.stderr.contains(bad[0]), "\(bad): \(r.stderr)")
        }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases: [(String, String)] = [
            (#"{"listen": 7101}"#, "listen"),
            (#"{"seeds": ["127.0.0.1:7101", "nope"]}"#, "seeds[1]"),
            (#"{"callTimeoutMs": 0}"#, "callTimeoutMs"),
            (#"{"lissten": "127.0.0.1:0"}"#, "lissten"),
            (#"{"logLevel": "loud"}"#, "logLevel"),
            (#"{"callTimeoutMs": 1.5}"#, "callTimeoutMs"),
            (#"{"maxFrameBytes": 99999999999999999999}"#, "maxFrameBytes"),
            (#"{"name": null}"#, "name"),
        ]
        for (i, (json, field)) in cases.enumerated() {
            let file = dir.appendingPathComponent("c\(i).json")
            try Data(json.utf8).write(to: file)
            let r = try NodeHarness.run(["node", "--config", file.path])
            XCTAssertEqual(r.status, 2, json)
            XCTAssertTrue(r.stderr.contains(field), "\(json): \(r.stderr)")
        }
    }

    func test_secretFilesThatCannotProtectTheClusterExitTwoNamingTheFlag() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func file(_ name: String, _ text: String, mode: Int) -> String {
            let path = dir.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]))
            return path
        }
        let readable = file("readable", "a long enough cluster secret....", mode: 0o644)
        let short = file("short", "too short\n", mode: 0o600)
        let good = file("good", "a long enough cluster secret....\n", mode: 0o600)
        // A symbolic link (Kubernetes mounts secrets so) is followed: the file it leads to is what counts.
        let link = dir.appendingPathComponent("link").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: good)
        let linkToReadable = dir.appendingPathComponent("link-readable").path
        try FileManager.default.createSymbolicLink(atPath: linkToReadable, withDestinationPath: readable)
        let cases: [([String], String)] = [
            (["--secret-file", readable], "mode 644"),
            (["--secret-file", linkToReadable], "mode 644"),
            (["--secret-file", dir.path], "not a regular file"),
            (["--secret-file", short], "at least 16"),
            (["--secret-file", dir.appendingPathComponent("missing").path], "cannot read"),
            (["--secret-file", good, "--previous-secret-file", readable], "--previous-secret-file"),
            (["--previous-secret-file", good], "needs --secret-file"),
            // Beyond loopback a secret is required (refused before anything binds).
            (["--listen", "192.0.2.1:0"], "--secret-file is required"),
        ]
        for (flags, expected) in cases {
            let r = try NodeHarness.run(["node"] + (flags.contains("--listen") ? [] : ["--listen", "127.0.0.1:0"]) + flags)
            XCTAssertEqual(r.status, 2, "\(flags): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(flags): \(r.stderr)")
        }
        let viaLink = try NodeProcess(executable: try NodeHarness.binary(),
                                      arguments: ["node", "--name", "via-link", "--listen", "127.0.0.1:0", "--secret-file", link],
                                      timeout: .seconds(30), quiet: true)
        XCTAssertTrue(viaLink.isRunning, "a secret behind a symlink is accepted")
        viaLink.kill()
    }

    func test_aNodeServesOnlyCallersThatProveItsSecret() async throws {
        let node = try harness.startNode("guarded")
        let member = try harness.clientSystem("member")
        let info = try await NodeProbe.on(node.node, system: member).info()
        XCTAssertEqual(info.name, "guarded")
        for (name, auth) in [("stranger", ClusterAuth.open),
                             ("wrong", .secrets(current: Array("not the secret of this cluster".utf8), previous: nil))] {
            var settings = ClusterSettings.client(name)
            settings.transport.auth = auth
            let stranger = try ClusterSystem(settings: settings, logger: Logger(level: .error))
            defer { stranger.shutdown() }
            do {
                _ = try await NodeProbe.on(node.node, system: stranger).info()
                XCTFail("\(name) was served")
            } catch RemoteCallError.nodeUnreachable(_, let reason) {
                XCTAssertTrue(reason.contains("authFailed") || reason.contains("proof"), "\(name): \(reason)")
            }
        }
        // The CLI without the secret is refused too, with it served.
        let refused = try NodeHarness.run(["case", "2026-000001", "--node", node.node.address.description])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("authFailed"), refused.stderr)
        let again = try await NodeProbe.on(node.node, system: member).info()
        XCTAssertEqual(again.node, node.node)
        XCTAssertTrue(node.isRunning)
    }

    func test_configFileIsReadAndFlagsOverrideIt() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("node.json")
        try Data(#"{"name": "from-file", "cluster": "anshan", "listen": "127.0.0.1:1", "data": "\#(dir.path)/data"}"#.utf8).write(to: file)
        let node = try harness.startNode("from-flag", extra: ["--config", file.path])
        XCTAssertEqual(node.name, "from-flag", "flag overrides the file")
        XCTAssertNotEqual(node.node.address.port, 1, "--listen flag overrides the file")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("data").path))
        // Cluster name "anshan" from the file: a client of cluster "hotline" is refused at the handshake.
        let client = try harness.clientSystem()
        let probe = try NodeProbe.on(node.node, system: client)
        do {
            _ = try await probe.info()
            XCTFail("a node of another cluster answered")
        } catch RemoteCallError.nodeUnreachable(_, let reason) {
            XCTAssertTrue(reason.lowercased().contains("cluster"), reason)
        }
    }
}
