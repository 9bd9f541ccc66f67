import ActorCluster
import Foundation
import Glibc
import XCTest

/// `Deploy/chaos.sh`, the operators' chaos script, against a running local cluster of three `hotline node`
/// processes (fixed ports, `--data`): it finds them in /proc, kills, pauses and restarts them between rounds of
/// requests, and checks that every acknowledged request is its case. The script prints its seed.
final class DeployChaosScriptTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let harness = NodeHarness()
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-deploy-chaos-\(UUID().uuidString)").path

    override func tearDown() {
        harness.stopAll()
        // The script restarts nodes itself (not the harness's children): stop every process started on this root.
        let pkill = Process()
        pkill.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        pkill.arguments = ["-9", "-f", root]
        try? pkill.run()
        pkill.waitUntilExit()
        try? FileManager.default.removeItem(atPath: root)
        super.tearDown()
    }

    /// A port free on 127.0.0.1 now (bound and released).
    func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw XCTSkip("cannot bind 127.0.0.1:0") }
        return UInt16(bigEndian: addr.sin_port)
    }

    func test_theOperatorsChaosScriptLosesNothingOnARunningCluster() throws {
        let catalog = Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path
        var addresses: [String] = []
        for k in 1...3 {
            let port = try freePort()
            var extra = ["--catalog", catalog, "--data", "\(root)/n\(k)"]
            if !addresses.isEmpty { extra += ["--seeds", addresses.joined(separator: ",")] }
            let p = try harness.startNode("chaos\(k)", port: port, extra: extra)
            addresses.append("\(p.node.address)")
        }
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/bin/bash")
        script.arguments = [Self.repo.appendingPathComponent("Deploy/chaos.sh").path, "--rounds", "4", "--seed", "11",
                            "--requests-per-round", "4", "--pause-seconds", "2", "--match", root,
                            "--log-dir", "\(root)/logs"]
        // Its output goes to a file, not a pipe: the nodes it restarts outlive it and could hold a pipe open.
        let outPath = "\(root)/chaos-output.txt"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: outPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        script.standardOutput = out
        script.standardError = out
        try script.run()
        // Bounded: the script's own waits are bounded (90 s per readiness, 30 tries per request); 300 s in all.
        let deadline = Date().addingTimeInterval(300)
        while script.isRunning && Date() < deadline { usleep(100_000) }
        if script.isRunning { script.terminate(); XCTFail("chaos.sh did not finish within 300 s") }
        script.waitUntilExit()
        try out.close()
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        print(text)
        XCTAssertEqual(script.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("chaos: seed 11"), text)
        XCTAssertTrue(text.contains("lost 0, mismatched 0, numbers given to two cases 0, repeated requests that became two cases 0"), text)
        XCTAssertTrue(text.contains("chaos: ok"), text)
        // Every round did something: kills, pauses or power losses add up to the rounds.
        XCTAssertEqual(text.components(separatedBy: "chaos: round ").count - 1, 4, text)
    }
}
