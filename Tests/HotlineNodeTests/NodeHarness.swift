import ActorCluster
import Foundation
import Hotline
import XCTest

/// Starts real `hotline node` processes for tests and stops them afterwards.
final class NodeHarness {
    private(set) var nodes: [NodeProcess] = []
    private(set) var systems: [ClusterSystem] = []
    /// The secret every node of this harness proves (a fresh 0600 file, removed in `stopAll`).
    let secret: (path: String, auth: ClusterAuth)
    /// The operator secret the nodes recognise; `clientSystem` presents it unless told otherwise.
    let operatorSecret: (path: String, auth: ClusterAuth)

    init() {
        secret = try! ClusterAuth.makeEphemeralSecretFile()
        operatorSecret = try! ClusterAuth.makeEphemeralSecretFile()
    }

    /// The `hotline` binary built next to the test bundle (or `$HOTLINE_BIN`).
    static func binary() throws -> URL {
        if let env = ProcessInfo.processInfo.environment["HOTLINE_BIN"] { return URL(fileURLWithPath: env) }
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("hotline")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw XCTSkip("hotline binary not found near \(Bundle.main.bundleURL.path); run `swift build` first")
    }

    /// Starts `hotline node --name NAME --listen 127.0.0.1:PORT` plus `extra` flags.
    func startNode(_ name: String, port: UInt16 = 0, extra: [String] = []) throws -> NodeProcess {
        let node = try NodeProcess(executable: try Self.binary(),
                                   arguments: ["node", "--name", name, "--listen", "127.0.0.1:\(port)",
                                               "--log-level", Self.logLevel, "--secret-file", secret.path,
                                               "--operator-secret-file", operatorSecret.path] + extra,
                                   timeout: .seconds(30), quiet: true, logFile: Self.logFile(for: name))
        nodes.append(node)
        return node
    }

    /// The nodes' `--log-level`: `warning`, or `$HOTLINE_TEST_LOG_LEVEL` (e.g. `info` when investigating).
    static var logLevel: String {
        let env = ProcessInfo.processInfo.environment["HOTLINE_TEST_LOG_LEVEL"] ?? ""
        return env.isEmpty ? "warning" : env
    }

    /// With `HOTLINE_TEST_LOG_DIR` set, each node's log (stderr) goes to `DIR/NAME-N.log` (a restarted node gets
    /// a new file); otherwise nodes run quiet.
    static func logFile(for name: String) -> URL? {
        guard let dir = ProcessInfo.processInfo.environment["HOTLINE_TEST_LOG_DIR"], !dir.isEmpty else { return nil }
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for n in 0..<1_000 {
            let url = URL(fileURLWithPath: dir).appendingPathComponent("\(name)-\(n).log")
            if !FileManager.default.fileExists(atPath: url.path) { return url }
        }
        return nil
    }

    /// Runs `hotline ARGS --node NODE --secret-file <this harness's secret>` and returns status, stdout, stderr.
    func cli(_ node: String, _ args: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        try SubmitCommandTests.run(args + ["--node", node, "--secret-file", secret.path])
    }

    /// Runs a command that must succeed (asserted) and returns its JSON output.
    func json(_ node: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let run = try cli(node, args)
        XCTAssertEqual(run.status, 0, "hotline \(args.joined(separator: " ")): \(run.stderr)", file: file, line: line)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: run.stdout) as? [String: Any],
                             "hotline \(args.joined(separator: " ")) printed \(String(decoding: run.stdout, as: UTF8.self))",
                             file: file, line: line)
    }

    /// A node inside the test process, used as the caller.
    func clientSystem(_ name: String = "test-client", callTimeout: Duration = .seconds(5),
                      asOperator: Bool = true) throws -> ClusterSystem {
        var settings = ClusterSettings.client(name)
        settings.callTimeout = callTimeout
        settings.transport.auth = secret.auth
        if asOperator { settings.transport.operatorCredential = operatorSecret.auth.operatorCredential(use: .present) }
        let system = try ClusterSystem(settings: settings, logger: Logger(level: .error))
        systems.append(system)
        try HotlineError.registerWireErrors(on: system)  // hotline errors arrive typed, as on a hotline node
        return system
    }

    /// Runs `hotline` with `arguments` to completion (bounded by `timeout`); returns status and stderr.
    static func run(_ arguments: [String], timeout: Duration = .seconds(20)) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }

    func stopAll() {
        for s in systems { s.shutdown() }
        NodeProcess.killAll(nodes)
        systems.removeAll()
        nodes.removeAll()
        // XCTest keeps test case instances (and so harness properties) alive to the end of the run.
        try? FileManager.default.removeItem(atPath: secret.path)
        try? FileManager.default.removeItem(atPath: operatorSecret.path)
    }

    deinit {
        stopAll()
        try? FileManager.default.removeItem(atPath: secret.path)
        try? FileManager.default.removeItem(atPath: operatorSecret.path)
    }

}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func waitUntil(timeout: Duration = .seconds(10), _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    XCTFail("timed out after \(timeout) waiting for: \(what)")
    throw CancellationError()
}

/// A blocking TCP socket connected to 127.0.0.1:`port` with a send timeout, or nil (raw-input tests).
func loopbackConnect(port: UInt16, sendTimeoutSeconds: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        Glibc.close(fd)
        return nil
    }
    var tv = timeval(tv_sec: sendTimeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    return fd
}
