import ActorCluster
import Foundation
import Hotline
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Delivery to a department that can fail, on real node processes: the Anshan catalogue with the water supply
/// group (AS-WATER) on an external system — an HTTP endpoint in this test process that refuses the first two
/// POSTs. A water outage in Tiedong goes to AS-WATER (lead, external) and 210302-GOV (co-handler, inbox): the
/// case shows "1 of 2 delivered" with alerts until the office's retry gets through, then "2 of 2". And a
/// dispatcher who routes a functional matter to a sub-district is refused with the reason.
final class DeliveryProcessTests: XCTestCase {
    /// The shipped catalogue with `unit`'s delivery channel pointed at `url`, written to a temporary file.
    static func catalogue(unit: String, url: String) throws -> URL {
        var c = try RoutingCatalogue.load(from: Data(contentsOf: LiveHotlineTests.repo.appendingPathComponent("Deploy/catalogs/anshan.json")))
        let i = try XCTUnwrap(c.units.firstIndex { $0.code == unit })
        c.units[i].delivery = .http(url: url, timeoutMs: 2_000)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("delivery-\(UUID().uuidString).json")
        try c.jsonData().write(to: file)
        return file
    }

    /// "front" (desks, groups) and "district" (the offices) configured from `catalogue`, with delivery retries after
    /// 1.5 s (then 3 s, at most 3 s): long enough to look at the case between attempts, short enough for a test.
    func startCluster(_ harness: NodeHarness, catalogue: String) async throws -> String {
        let delivery = ["--delivery-retry-ms", "1500", "--delivery-retry-max-ms", "3000"]
        let front = try harness.startNode("front", extra: ["--roles", LiveHotlineTests.frontRoles, "--catalog", catalogue] + delivery)
        let district = try harness.startNode("district", extra: ["--roles", "district", "--seeds", "\(front.node.address)",
                                                                  "--catalog", catalogue] + delivery)
        let client = try harness.clientSystem()
        let nodes = try [front, district].map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(nodes, names: ["front", "district"], timeout: .seconds(20))
        _ = try await ClusterFormation.waitForPlacement(nodes, names: ["front", "district"], timeout: .seconds(20))
        return front.node.address.description
    }

    /// `hotline case NUMBER`'s snapshot `delivery` and its event names.
    func delivery(_ harness: NodeHarness, _ node: String, _ number: String) throws -> (delivery: [String: Any], events: [String]) {
        let h = try harness.json(node, ["case", number])
        let snapshot = try XCTUnwrap(h["snapshot"] as? [String: Any])
        let events = try XCTUnwrap(h["events"] as? [[String: Any]]).compactMap { ($0["body"] as? [String: Any])?.keys.first }
        return (try XCTUnwrap(snapshot["delivery"] as? [String: Any], "snapshot: \(snapshot)"), events)
    }

    func test_anEndpointThatRefusesTwiceShowsOneOfTwoDeliveredWithAlertsUntilTheRetryGetsThrough() async throws {
        let endpoint = try FlakyEndpoint(refuseFirst: 2)
        defer { endpoint.stop() }
        let catalogue = try Self.catalogue(unit: "AS-WATER", url: "http://127.0.0.1:\(endpoint.port)/12345/assignments")
        defer { try? FileManager.default.removeItem(at: catalogue) }
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let node = try await startCluster(harness, catalogue: catalogue.path)
        let live = self

        let receipt = try harness.json(node, ["submit", "--channel", "8890", "--external-id", "water-1", "--category", "water-outage",
                                                   "--jurisdiction", "210302", "--description", "铁东区站前街道停水两天了"])
        XCTAssertEqual(receipt["leadUnit"] as? String, "AS-WATER")
        let number = "\(try XCTUnwrap((receipt["ref"] as? [String: Any])?["number"]))"

        // Refused once (at least): the co-handler (inbox) has it, the lead does not; the failure is on the case.
        var seen: (delivery: [String: Any], events: [String])?
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let d = try delivery(harness, node, number)
            if (d.delivery["failedAttempts"] as? Int ?? 0) >= 1 { seen = d; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let refused = try XCTUnwrap(seen, "no failed attempt recorded within 20 s (endpoint saw \(endpoint.requests.count) POSTs)")
        XCTAssertEqual(refused.delivery["delivered"] as? Int, 1)
        XCTAssertEqual(refused.delivery["total"] as? Int, 2)
        XCTAssertEqual(refused.delivery["pendingUnits"] as? [String], ["AS-WATER"])
        XCTAssertEqual(refused.delivery["summary"] as? String, "1 of 2 delivered")
        XCTAssertEqual(refused.delivery["lastFailure"] as? String, "refused: HTTP 503", "the alert's reason")
        XCTAssertTrue(refused.events.contains("deliveryFailed"), "\(refused.events)")
        XCTAssertEqual(refused.events.filter { $0 == "assignmentDelivered" }.count, 1, "only the co-handler's: \(refused.events)")

        // The supervisor's list of undelivered cases says so, with the unit waiting.
        let table = try harness.cli(node, ["cases", "--undelivered"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let text = String(decoding: table.stdout, as: UTF8.self)
        XCTAssertTrue(text.contains(number) && text.contains("1 of 2 (waiting: AS-WATER;") && text.contains("HTTP 503"), text)

        // The third POST gets through: 2 of 2, after exactly two failures, each alerted once.
        var final: (delivery: [String: Any], events: [String])?
        while ContinuousClock.now < deadline {
            let d = try delivery(harness, node, number)
            if d.delivery["delivered"] as? Int == 2 { final = d; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let done = try XCTUnwrap(final, "not delivered within 20 s (endpoint saw \(endpoint.requests.count) POSTs)")
        XCTAssertEqual(done.delivery["total"] as? Int, 2)
        XCTAssertEqual(done.delivery["failedAttempts"] as? Int, 2)
        XCTAssertEqual(done.delivery["summary"] as? String, "2 of 2 delivered")
        XCTAssertNil(done.delivery["lastFailure"] as? String, "nothing waits any more")
        XCTAssertEqual(done.events.filter { $0 == "deliveryFailed" }.count, 2, "\(done.events)")
        XCTAssertEqual(done.events.filter { $0 == "assignmentDelivered" }.count, 2, "\(done.events)")
        XCTAssertEqual(done.events.last, "assignmentDelivered")
        XCTAssertEqual(entries(try harness.json(node, ["cases", "--undelivered", "--json"])).count, 0)

        // What the department's system got: three POSTs of one assignment, one idempotency key.
        let requests = endpoint.requests
        XCTAssertEqual(requests.count, 3)
        XCTAssertEqual(Set(requests.map(\.idempotencyKey)).count, 1, "\(requests.map(\.idempotencyKey))")
        XCTAssertEqual(requests.map(\.path), Array(repeating: "/12345/assignments", count: 3))
        let body = try XCTUnwrap(JSONSerialization.jsonObject(with: requests[2].body) as? [String: Any])
        XCTAssertEqual(body["unit"] as? String, "AS-WATER")
        XCTAssertEqual(body["caseNumber"] as? String, number)
        XCTAssertEqual(body["attempt"] as? Int, 3)
        XCTAssertEqual(body["idempotencyKey"] as? String, requests[0].idempotencyKey)

        // Now the lead can sign: delivered is not signed, but it is the way to it.
        XCTAssertEqual(try harness.json(node, ["unit", "sign", number, "--unit", "AS-WATER", "--json"])["status"] as? String, "inProgress")
    }

    func test_aRetryAfterTheOwnersDeathIsMadeByTheNewOwnerAndRecordsTheDeliveryOnce() async throws {
        let endpoint = try FlakyEndpoint(refuseFirst: 2)
        defer { endpoint.stop() }
        let catalogue = try Self.catalogue(unit: "AS-WATER", url: "http://127.0.0.1:\(endpoint.port)/in")
        defer { try? FileManager.default.removeItem(at: catalogue) }
        let harness = NodeHarness()
        defer { harness.stopAll() }
        // Tiedong's office lives on its home node d1 while d1 is up; three district nodes hold its replicas.
        let delivery = ["--catalog", catalogue.path, "--delivery-retry-ms", "2000", "--delivery-retry-max-ms", "4000"]
        let front = try harness.startNode("front", extra: ["--roles", LiveHotlineTests.frontRoles] + delivery)
        let seeds = ["--seeds", "\(front.node.address)"]
        let home = try harness.startNode("d1", extra: ["--roles", "district:210302"] + seeds + delivery)
        let others = try ["d2", "d3"].map { try harness.startNode($0, extra: ["--roles", "district"] + seeds + delivery) }
        let client = try harness.clientSystem(callTimeout: .seconds(20))
        let names = ["front", "d1", "d2", "d3"]
        let nodes = try ([front, home] + others).map { try HotlineNode.on($0.node, system: client) }
        try await ClusterFormation.waitForMembers(nodes, names: names, timeout: .seconds(20))
        _ = try await ClusterFormation.waitForPlacement(nodes, names: names, timeout: .seconds(20))
        let key = HotlineKey.district("210302")
        let desk = nodes[0]
        try await waitUntil(timeout: .seconds(10), "Tiedong's office on its home node") {
            try await desk.directory().owner(key) == home.node
        }

        let receipt = try await desk.submit(CitizenRequest(channel: "8890", externalID: "water-failover", kind: .help, category: "water-outage",
                                                           urgency: nil, jurisdiction: "210302", description: "铁东区长甸街道停水"))
        let number = receipt.ref.number.description
        // The first attempt was refused and recorded by d1; d1 dies before its retry is due (2 s later).
        try await waitUntil(timeout: .seconds(15), "the first refusal recorded") {
            (try await desk.findCase(number).snapshot.delivery?.failedAttempts ?? 0) >= 1
        }
        home.kill()
        try await waitUntil(timeout: .seconds(20), "Tiedong's office moved") {
            let owner = try await desk.directory().owner(key)
            return owner != nil && owner != home.node
        }
        try await waitUntil(timeout: .seconds(30), "delivered by the new owner") {
            (try? await desk.findCase(number).snapshot.delivery?.delivered) == 2
        }
        // Settled: no further POST once delivered.
        let posts = endpoint.requests.count
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(endpoint.requests.count, posts, "nothing is sent after the delivery is recorded")

        let history = try await desk.findCase(number)
        XCTAssertEqual(history.snapshot.leadUnit, "AS-WATER")
        let lead = AssignmentID(1)  // the first round's lead
        let delivered = history.events.filter { $0.body == .assignmentDelivered(assignment: lead) }
        XCTAssertEqual(delivered.count, 1, "one delivery record, whatever the failover did")
        let failures = history.events.compactMap { e -> String? in
            if case .deliveryFailed(let a, let reason) = e.body, a == lead { return reason }
            return nil
        }
        XCTAssertTrue((1...2).contains(failures.count), "each refusal recorded at most once: \(failures)")
        XCTAssertTrue(failures.allSatisfy { $0.contains("503") }, "\(failures)")
        XCTAssertEqual(history.snapshot.delivery?.failedAttempts, failures.count)
        // Every POST carried the one idempotency key; the department saw at least the two refusals and the success.
        let requests = endpoint.requests
        print("delivery failover: \(requests.count) POSTs (attempts \(requests.compactMap { (try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any])?["attempt"] as? Int })), \(failures.count) failures recorded")
        XCTAssertGreaterThanOrEqual(requests.count, 3)
        XCTAssertEqual(Set(requests.map(\.idempotencyKey)), ["\(history.snapshot.id.rawValue)/A1"])
    }

    func test_aFunctionalMatterRoutedToASubDistrictIsRefusedWithTheReason() async throws {
        let harness = NodeHarness()
        defer { harness.stopAll() }
        let node = try await startCluster(harness, catalogue: LiveHotlineTests.cataloguePath)
        let live = self
        let receipt = try harness.json(node, ["submit", "--channel", "8890", "--external-id", "road-1", "--category", "road-damage",
                                                   "--jurisdiction", "210302", "--description", "站前街道路面塌陷"])
        let number = "\(try XCTUnwrap((receipt["ref"] as? [String: Any])?["number"]))"
        let lead = try XCTUnwrap(receipt["leadUnit"] as? String)
        XCTAssertEqual(try harness.cli(node, ["unit", "return", number, "--unit", lead, "--reason", "not ours"]).status, 0)
        XCTAssertEqual(try harness.cli(node, ["dispatch", "return", number, "--approve"]).status, 0)

        let refused = try harness.cli(node, ["dispatch", "route", number, "--lead", "210302-SD-ZHANQIAN"])
        XCTAssertEqual(refused.status, 3, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("road-damage") && refused.stderr.contains("210302-SD-ZHANQIAN")
                      && refused.stderr.contains("sub-district"), refused.stderr)
        XCTAssertEqual(try live.history(harness, node, number).status, "pendingDispatch", "nothing was recorded")
        let coRefused = try harness.cli(node, ["dispatch", "route", number, "--lead", "210302-CM", "--co", "210302-SD-ZHANQIAN-CC"])
        XCTAssertEqual(coRefused.status, 3, coRefused.stderr)
        XCTAssertTrue(coRefused.stderr.contains("210302-SD-ZHANQIAN-CC") && coRefused.stderr.contains("community"), coRefused.stderr)

        // To the district's own bureau it goes.
        XCTAssertEqual(try harness.json(node, ["dispatch", "route", number, "--lead", "210302-GOV", "--json"])["status"] as? String,
                       "dispatched")
    }

    private func entries(_ list: [String: Any]) -> [[String: Any]] { (list["entries"] as? [[String: Any]]) ?? [] }

    /// The case's status (`hotline case`).
    func history(_ harness: NodeHarness, _ node: String, _ number: String) throws -> (status: String, events: [String]) {
        let h = try harness.json(node, ["case", number])
        let events = try XCTUnwrap(h["events"] as? [[String: Any]]).compactMap { ($0["body"] as? [String: Any])?.keys.first }
        return (try XCTUnwrap((h["snapshot"] as? [String: Any])?["status"] as? String), events)
    }
}

/// A department's HTTP endpoint on 127.0.0.1 (ephemeral port) in the test process: answers 503 to the first
/// `refuseFirst` POSTs, then 200 — or what `answer` says for the n-th request; records each request. One
/// connection at a time (`Connection: close`); every read bounded (64 KiB of head, 1 MiB of body, 2 s per
/// connection).
final class FlakyEndpoint: @unchecked Sendable {
    /// How to answer one request.
    enum Answer: Sendable {
        case status(Int)
        /// A redirect (`code`, e.g. 307) to `location` on this endpoint.
        case redirect(Int, location: String)
        /// Wait this many ms, then answer 200.
        case slow(ms: Int)
        /// 200 with a body of this many bytes.
        case large(bytes: Int)
    }

    struct Request: Sendable {
        var path: String
        var idempotencyKey: String
        var body: Data
    }

    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var recorded: [Request] = []
    private var stopped = false
    private let answer: @Sendable (Int) -> Answer
    private var thread: Thread?

    var requests: [Request] { lock.withLock { recorded } }

    convenience init(refuseFirst: Int) throws {
        try self.init { n in n <= refuseFirst ? .status(503) : .status(200) }
    }

    /// `answer(n)` for the n-th request (1, 2, …).
    init(answer: @escaping @Sendable (Int) -> Answer) throws {
        self.answer = answer
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        port = UInt16(bigEndian: addr.sin_port)
        let t = Thread { [weak self] in self?.serve() }
        thread = t
        t.start()
    }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(fd, Int32(SHUT_RDWR))
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func serve() {
        // Bounded: ends at stop(); each wait for a connection is at most 100 ms.
        while !isStopped {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            handle(client)
            close(client)
        }
        close(fd)
    }

    private func handle(_ client: Int32) {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        let separator = Data("\r\n\r\n".utf8)
        var headEnd: Range<Data.Index>?
        while headEnd == nil, data.count < 64 << 10 {
            let n = read(client, &buffer, buffer.count)
            guard n > 0 else { return }
            data.append(contentsOf: buffer[0..<n])
            headEnd = data.range(of: separator)
        }
        guard let end = headEnd else { return }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let path = lines.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = min(Int(headers["content-length"] ?? "0") ?? 0, 1 << 20)
        var body = Data(data[end.upperBound...])
        while body.count < length {
            let n = read(client, &buffer, min(buffer.count, length - body.count))
            guard n > 0 else { return }
            body.append(contentsOf: buffer[0..<n])
        }
        let count = lock.withLock { () -> Int in
            recorded.append(Request(path: path, idempotencyKey: headers["idempotency-key"] ?? "", body: body))
            return recorded.count
        }
        var reply: String
        switch answer(count) {
        case .redirect(let code, let location):
            reply = "HTTP/1.1 \(code) Moved\r\nLocation: http://127.0.0.1:\(port)\(location)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        case .status(let code):
            reply = "HTTP/1.1 \(code) \(code == 200 ? "OK" : "Refused")\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"received\":1}\n"
        case .slow(let ms):
            // Bounded: at most `ms`, in 10 ms steps, or until stopped.
            let until = ContinuousClock.now + .milliseconds(ms)
            while ContinuousClock.now < until, !isStopped { usleep(10_000) }
            reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        case .large(let bytes):
            reply = "HTTP/1.1 200 OK\r\nContent-Length: \(bytes)\r\nConnection: close\r\n\r\n" + String(repeating: "x", count: bytes)
        }
        _ = reply.utf8CString.withUnsafeBufferPointer { write(client, $0.baseAddress, $0.count - 1) }
    }
}
