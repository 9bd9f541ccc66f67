import ActorCluster
import Foundation
import XCTest

/// The admin port of real `hotline node` processes (`--admin 127.0.0.1:0`), over raw TCP and the CLI.
final class AdminPortTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let harness = NodeHarness()
    var tokenFile: String?

    override func tearDown() {
        harness.stopAll()
        if let tokenFile { try? FileManager.default.removeItem(atPath: tokenFile) }
        super.tearDown()
    }

    private func get(_ path: String, _ admin: NodeAddress, method: String = "GET", token: [UInt8]? = nil) throws -> AdminClient.Response {
        try AdminClient.request(method, path, at: admin, token: token, timeout: .seconds(5))
    }

    private func json(_ r: AdminClient.Response) throws -> [String: Any] {
        XCTAssertEqual(r.header("content-type"), "application/json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], r.text)
    }

    func test_endpointsOfTwoNodes() async throws {
        let (path, _) = try ClusterAuth.makeEphemeralSecretFile()
        tokenFile = path
        let token = try ClusterAuth.readSecret(path: path)
        let catalog = Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path
        let a = try harness.startNode("a", extra: ["--admin", "127.0.0.1:0", "--admin-token-file", path, "--catalog", catalog])
        let adminA = try XCTUnwrap(a.admin, "ready line carries admin=HOST:PORT")
        XCTAssertEqual(adminA.host, "127.0.0.1")
        XCTAssertNotEqual(adminA.port, 0)
        let b = try harness.startNode("b", extra: ["--admin", "127.0.0.1:0", "--seeds", a.node.address.description])
        let adminB = try XCTUnwrap(b.admin)

        // /health
        let health = try get("/health", adminA)
        XCTAssertEqual(health.status, 200)
        let h = try json(health)
        XCTAssertEqual(h["status"] as? String, "up")
        XCTAssertEqual(h["uid"] as? String, a.node.uidHex)
        XCTAssertEqual(h["node"] as? String, a.node.address.description)
        XCTAssertNotNil(h["uptimeMs"] as? Int)

        // /ready: a configured itself from its catalogue; b, once it has joined (it may still be joining at
        // first, which /ready also reports), waits for an operator.
        let readyA = try get("/ready", adminA)
        XCTAssertEqual(readyA.status, 200, readyA.text)
        let firstB = try get("/ready", adminB)
        XCTAssertEqual(firstB.status, 503)
        let firstDetail = try json(firstB)["detail"] as? String ?? ""
        XCTAssertTrue(firstDetail.contains("not configured") || firstDetail.contains("joining"), firstDetail)
        try await waitUntil(timeout: .seconds(10), "b is an up member waiting for an operator") {
            let r = try self.get("/ready", adminB)
            let detail = try self.json(r)["detail"] as? String ?? ""
            return r.status == 503 && detail.contains("not configured")
        }
        let info = try json(try get("/hotline/info", adminA))
        XCTAssertEqual(info["configured"] as? Bool, true)

        // /cluster/members: a sees b once b joined through it.
        try await waitUntil(timeout: .seconds(10), "a lists b as up") {
            let m = try self.json(try self.get("/cluster/members", adminA))
            let members = m["members"] as? [[String: Any]] ?? []
            return members.contains { $0["uid"] as? String == b.node.uidHex && $0["status"] as? String == "up" }
        }
        let m = try json(try get("/cluster/members", adminA))
        XCTAssertEqual(m["membership"] as? String, "swim")
        XCTAssertEqual(m["hasQuorum"] as? Bool, true)
        let members = try XCTUnwrap(m["members"] as? [[String: Any]])
        let me = try XCTUnwrap(members.first { $0["isSelf"] as? Bool == true })
        XCTAssertEqual(me["uid"] as? String, a.node.uidHex)
        XCTAssertEqual(me["status"] as? String, "up")
        XCTAssertEqual(me["reachability"] as? String, "reachable")
        let other = try XCTUnwrap(members.first { $0["uid"] as? String == b.node.uidHex })
        XCTAssertEqual(other["address"] as? String, b.node.address.description)
        XCTAssertEqual(other["incarnation"] as? Int, 0)
        XCTAssertGreaterThanOrEqual(other["lastHeardMs"] as? Int ?? -1, 0)
        XCTAssertEqual(m["unreachable"] as? [String], [])

        // /metrics: Prometheus text 0.0.4, every sample line `name value` after its HELP and TYPE.
        let metrics = try get("/metrics", adminA)
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.header("content-type")?.hasPrefix("text/plain; version=0.0.4") ?? false)
        var typed: [String: String] = [:], helped: Set<String> = [], samples: [String: Int] = [:]
        for line in metrics.text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
            if line.hasPrefix("# HELP ") { helped.insert(parts[2]); continue }
            if line.hasPrefix("# TYPE ") {
                XCTAssertTrue(["counter", "gauge", "histogram"].contains(parts[3]), String(line))
                typed[parts[2]] = parts[3]
                continue
            }
            XCTAssertEqual(parts.count, 2, "sample line: \(line)")
            XCTAssertNotNil(parts[0].range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{le="[^"]+"\})?$"#, options: .regularExpression), String(line))
            XCTAssertNotNil(Double(parts[1]), String(line))
            // A histogram's lines are its name plus _bucket{le=…}, _sum and _count.
            var family = String(parts[0].prefix { $0 != "{" })
            for suffix in ["_bucket", "_sum", "_count"] where typed[family] == nil && family.hasSuffix(suffix) {
                family = String(family.dropLast(suffix.count))
            }
            XCTAssertNotNil(typed[family], "TYPE before \(parts[0])")
            XCTAssertTrue(helped.contains(family), "HELP before \(parts[0])")
            samples[parts[0]] = Int(parts[1])
        }
        XCTAssertGreaterThan(samples["hotline_frames_in_total"] ?? 0, 0)
        XCTAssertEqual(typed["hotline_frames_in_total"], "counter")
        XCTAssertEqual(typed["hotline_peers_unreachable"], "gauge")
        XCTAssertEqual(typed["cluster_remote_call_seconds"], "histogram")
        XCTAssertNotNil(samples[#"cluster_remote_call_seconds_bucket{le="+Inf"}"#])
        XCTAssertEqual(typed["cluster_members_up"], "gauge")
        XCTAssertEqual(samples["cluster_members_up"], 2)
        XCTAssertEqual(typed["cluster_membership_probes_total"], "counter")
        XCTAssertGreaterThanOrEqual(samples["hotline_admin_requests_total"] ?? 0, 5)

        // Cluster changes: refused without a configured token, 401 without the right one; a uid no member has is 404.
        XCTAssertEqual(try get("/cluster/leave", adminB, method: "POST").status, 403)
        XCTAssertEqual(try get("/cluster/leave", adminA, method: "POST").status, 401)
        XCTAssertEqual(try get("/cluster/leave", adminA, method: "POST", token: Array("wrong-token-wrong-token".utf8)).status, 401)
        XCTAssertEqual(try get("/cluster/down/123abc", adminA, method: "POST", token: token).status, 404)
        XCTAssertEqual(try get("/cluster/down/\(b.node.uidHex)", adminB, method: "POST").status, 403)
        XCTAssertEqual(try get("/nope", adminA).status, 404)
        XCTAssertEqual(try get("/health", adminA, method: "DELETE").status, 405)

        // The CLI: tables by default, --json, exit statuses.
        XCTAssertEqual(try NodeHarness.run(["health", "--admin", adminA.description]).status, 0)
        XCTAssertEqual(try NodeHarness.run(["health", "--admin", adminB.description, "--json"]).status, 3)
        XCTAssertEqual(try NodeHarness.run(["members", "--admin", adminA.description, "--json"]).status, 0)
        let refused = try NodeHarness.run(["members", "--admin", "127.0.0.1:1"])
        XCTAssertEqual(refused.status, 1)
        let noToken = try NodeHarness.run(["node", "--listen", "127.0.0.1:0", "--admin", "10.11.12.13:0"])
        XCTAssertEqual(noToken.status, 2)
        XCTAssertTrue(noToken.stderr.contains("--admin"), noToken.stderr)
        XCTAssertTrue(a.isRunning && b.isRunning)

        // The operator downs b by hand: b learns it and rejoins under a new uid; then a leaves and exits 0.
        XCTAssertEqual(try get("/cluster/down/\(b.node.uidHex)", adminA, method: "POST", token: token).status, 202)
        try await waitUntil(timeout: .seconds(10), "b rejoins as a new member") {
            let rows = try self.json(try self.get("/cluster/members", adminA))["members"] as? [[String: Any]] ?? []
            return rows.contains { $0["address"] as? String == b.node.address.description && $0["uid"] as? String != b.node.uidHex
                && $0["status"] as? String == "up" }
        }
        XCTAssertEqual(try get("/cluster/leave", adminA, method: "POST", token: token).status, 202)
        try await waitUntil(timeout: .seconds(10), "a exits after leaving") { !a.isRunning }
        XCTAssertEqual(a.endedHow, "exit 0")
    }

    func test_pipelinedKeepAliveAndConnectionClose() throws {
        let a = try harness.startNode("a", extra: ["--admin", "127.0.0.1:0"])
        let admin = try XCTUnwrap(a.admin)
        let c = try XCTUnwrap(RawHTTP(port: admin.port))
        c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let statuses = (0..<4).map { _ in c.readResponse(timeout: .seconds(5))?.status }
        XCTAssertEqual(statuses, [200, 404, 503, 200], "answered in order")
        XCTAssertTrue(c.waitClosed(timeout: .seconds(2)), "Connection: close honoured")

        // More pipelined requests than are parsed ahead (16), /ready answered asynchronously: all, in order.
        let d = try XCTUnwrap(RawHTTP(port: admin.port))
        let paths = (0..<40).map { $0 % 3 == 0 ? "/ready" : ($0 % 3 == 1 ? "/health" : "/nope") }
        d.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
        let got = paths.map { _ in d.readResponse(timeout: .seconds(5))?.status }
        XCTAssertEqual(got, paths.map { $0 == "/ready" ? 503 : ($0 == "/health" ? 200 : 404) })
    }

    func test_connectionLimit() throws {
        let a = try harness.startNode("a", extra: ["--admin", "127.0.0.1:0"])
        let admin = try XCTUnwrap(a.admin)
        // 64 idle connections (none sent a byte) do not keep an operator out: the longest-idle one makes room.
        var idle = try (0..<64).map { _ in try XCTUnwrap(RawHTTP(port: admin.port)) }
        func evictions() throws -> Int {
            let line = try get("/metrics", admin).text.split(separator: "\n").first { $0.hasPrefix("hotline_admin_idle_evictions_total ") }
            return Int(line?.split(separator: " ").last ?? "") ?? -1
        }
        // Once all 64 are accepted, a /metrics read is connection 65 and evicts one.
        var first = 0
        try waitUntilSync("the listener accepted all 64") { first = (try? evictions()) ?? 0; return first > 0 }
        for _ in 0..<3 {
            idle.append(try XCTUnwrap(RawHTTP(port: admin.port)))  // the limit again
            XCTAssertEqual(try get("/health", admin).status, 200, "a probe at the limit is admitted")
        }
        let total = try evictions()
        XCTAssertGreaterThanOrEqual(total, first + 3, "each probe took an idle connection's place")
        try waitUntilSync("the evicted connections are closed") { idle.filter { $0.isClosedNow() }.count == total }
        for c in idle { c.close() }
        idle = []
        // 64 connections each in the middle of a request are busy: the 65th is refused with 503.
        let busy = try (0..<64).map { _ -> RawHTTP in
            let c = try XCTUnwrap(RawHTTP(port: admin.port))
            c.send("GET /health HTTP/1.1\r\nHost: x\r\n")
            return c
        }
        let deadline = ContinuousClock.now + .seconds(3)
        var refused: AdminClient.Response?
        while refused == nil, ContinuousClock.now < deadline {
            let r = try? AdminClient.request("GET", "/health", at: admin, timeout: .seconds(2))
            if r?.status == 503 { refused = r } else { usleep(20_000) }
        }
        XCTAssertEqual(refused?.status, 503, "connection 65 refused with 503 while 64 are busy")
        for c in busy { c.close() }
        try waitUntilSync("a slot is free again") { (try? AdminClient.request("GET", "/health", at: admin))?.status == 200 }
    }

    func test_slowClientsAreClosedWithinTheLimit() throws {
        let a = try harness.startNode("a", extra: ["--admin", "127.0.0.1:0"])
        let admin = try XCTUnwrap(a.admin)
        let silent = try XCTUnwrap(RawHTTP(port: admin.port))
        let loris = try XCTUnwrap(RawHTTP(port: admin.port))
        let start = ContinuousClock.now
        let text = Array("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 100)
        var closedAfter: Duration?
        var i = 0
        while ContinuousClock.now - start < .seconds(8) {
            if i < text.count { loris.sendBytes([text[i]]); i += 1 }
            if loris.isClosedNow() { closedAfter = ContinuousClock.now - start; break }
            usleep(200_000)
        }
        let after = try XCTUnwrap(closedAfter, "a client trickling a request is closed")
        XCTAssertGreaterThan(after, .seconds(4))
        XCTAssertLessThan(after, .seconds(7))
        XCTAssertTrue(silent.waitClosed(timeout: .seconds(2)), "a client that sends nothing is closed too")
        // A request that does arrive in time on a kept-alive connection is unaffected.
        XCTAssertEqual(try AdminClient.request("GET", "/health", at: admin).status, 200)
    }

    func test_garbageRequestsAreEachAnswered4xxAndTheNodeStaysUp() throws {
        let a = try harness.startNode("a", extra: ["--admin", "127.0.0.1:0"])
        let admin = try XCTUnwrap(a.admin)
        var rng = SplitMix64(seed: 0xAD317)
        let templates: [(String, Int)] = [
            ("GET /" + String(repeating: "x", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            ("GET / HTTP/1.1\r\nHost: x\r\n" + (0..<101).map { "X-\($0): y\r\n" }.joined() + "\r\n", 431),
            ("POST /cluster/leave HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
            ("POST /cluster/leave HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n", 413),
            ("GET /health HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),
            ("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
            ("PUT /health HTTP/1.1\r\nHost: x\r\n\r\n", 405),
            ("GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 404),
            ("GET /health HTTP/9.9\r\nHost: x\r\n\r\n", 400),
            ("GET /health HTTP/1.1\r\n\r\n", 400),
        ]
        for n in 0..<100 {
            let bytes: [UInt8]
            let expected: Int?
            if n % 2 == 0 {
                let t = templates[Int(rng.next() % UInt64(templates.count))]
                bytes = Array(t.0.utf8)
                expected = t.1
            } else {
                // Random bytes without line ends, then the end of a head: never a valid request line.
                let count = 1 + Int(rng.next() % 300)
                bytes = (0..<count).map { _ in
                    let b = UInt8(truncatingIfNeeded: rng.next())
                    return b == 10 || b == 13 ? 0x41 : b
                } + Array("\r\n\r\n".utf8)
                expected = nil
            }
            let c = try XCTUnwrap(RawHTTP(port: admin.port))
            c.sendBytes(bytes)
            let r = try XCTUnwrap(c.readResponse(timeout: .seconds(5)), "request \(n) answered")
            XCTAssertTrue((400...499).contains(r.status), "request \(n): \(r.status)")
            if let expected { XCTAssertEqual(r.status, expected, "request \(n)") }
            let body = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any])
            XCTAssertEqual(body["status"] as? Int, r.status)
            XCTAssertNotNil(body["error"] as? String)
            c.close()
        }
        XCTAssertEqual(try AdminClient.request("GET", "/health", at: admin).status, 200)
        XCTAssertTrue(a.isRunning)
    }
}

private func waitUntilSync(timeout: Duration = .seconds(5), _ what: String, _ condition: () -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return }
        usleep(20_000)
    }
    XCTFail("timed out waiting for: \(what)")
}

/// A blocking TCP client on 127.0.0.1 for raw HTTP bytes.
final class RawHTTP {
    private var fd: Int32
    private var buffer: [UInt8] = []

    init?(port: UInt16) {
        guard let fd = loopbackConnect(port: port, sendTimeoutSeconds: 2) else { return nil }
        self.fd = fd
    }

    func send(_ text: String) { sendBytes(Array(text.utf8)) }

    func sendBytes(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads until one response is complete (Content-Length framed); nil on close or timeout.
    func readResponse(timeout: Duration) -> AdminClient.Response? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let r = try? AdminClient.parse(buffer) {
                let size = buffer.count - (buffer.count - headLength(buffer)) + r.body.count
                buffer.removeFirst(size)
                return r
            }
            guard receive(until: deadline) else { return (try? AdminClient.parse(buffer, complete: true)) ?? nil }
        }
    }

    private func headLength(_ b: [UInt8]) -> Int {
        for i in 0..<(b.count - 3) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
        return b.count
    }

    /// Reads more bytes; false on close, error or deadline.
    private func receive(until deadline: ContinuousClock.Instant) -> Bool {
        let left = deadline - .now
        guard left > .zero else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
        guard poll(&pfd, 1, ms) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        buffer += chunk[0..<n]
        return true
    }

    /// True when the server closed the connection (EOF or reset), draining any answer meanwhile.
    func isClosedNow() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { continue }
            if n == 0 { return true }
            return errno != EAGAIN && errno != EWOULDBLOCK
        }
    }

    func waitClosed(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isClosedNow() { return true }
            usleep(20_000)
        }
        return false
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}
