@testable import ActorCluster
import Foundation
import Synchronization
import XCTest

/// The admin port's request parser and router as pure values: no sockets.
final class HTTPRequestParserTests: XCTestCase {
    private func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> [Result<HTTPRequest, HTTPError>] {
        var p = HTTPRequestParser(limits: limits)
        p.append(Array(text.utf8))
        var out: [Result<HTTPRequest, HTTPError>] = []
        while let r = p.next() {
            out.append(r)
            if case .failure = r { break }
        }
        return out
    }

    private func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
        guard case .failure(let e)? = parse(text, limits: limits).first else { return nil }
        return e.status
    }

    func test_simpleGETWithQueryAndHeaders() throws {
        let results = parse("GET /health?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  spaced value \t\r\n\r\n")
        XCTAssertEqual(results.count, 1)
        let r = try results[0].get()
        XCTAssertEqual(r.method, "GET")
        XCTAssertEqual(r.target, "/health?x=1")
        XCTAssertEqual(r.path, "/health")
        XCTAssertEqual(r.minorVersion, 1)
        XCTAssertEqual(r.header("x-thing"), "spaced value")
        XCTAssertTrue(r.keepAlive)
        XCTAssertEqual(r.body, [])
    }

    func test_byteAtATimeGivesTheSameRequestAndNothingEarly() throws {
        let text = "POST /cluster/leave HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        var p = HTTPRequestParser()
        let bytes = Array(text.utf8)
        for (i, b) in bytes.enumerated() {
            p.append([b])
            let r = p.next()
            if i < bytes.count - 1 { XCTAssertNil(r, "complete too early at byte \(i)") } else {
                let req = try XCTUnwrap(r).get()
                XCTAssertEqual(req.body, Array("hello".utf8))
            }
        }
        XCTAssertEqual(p.bufferedBytes, 0)
    }

    func test_limitsHoldWhenBytesArriveOneAtATime() {
        func trickle(_ text: String) -> Int? {
            var p = HTTPRequestParser()
            for b in text.utf8 {
                p.append([b])
                if case .failure(let e)? = p.next() { return e.status }
            }
            return nil
        }
        XCTAssertEqual(trickle("GET /" + String(repeating: "a", count: 9000)), 414)
        XCTAssertEqual(trickle("GET / HTTP/1.1\r\nHost: h\r\nX-A: " + String(repeating: "b", count: 17000)), 431)
        XCTAssertEqual(trickle("GET / HTTP/1.1\r\nHost: h\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined()), 431)
        XCTAssertEqual(trickle("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 70000\r\n\r\n"), 413)
    }

    func test_pipelinedRequestsComeOutInOrder() throws {
        let text = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nxyGET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /d"
        var p = HTTPRequestParser()
        p.append(Array(text.utf8))
        XCTAssertEqual(try p.next()?.get().path, "/a")
        let b = try XCTUnwrap(p.next()).get()
        XCTAssertEqual(b.path, "/b")
        XCTAssertEqual(b.body, Array("xy".utf8))
        let c = try XCTUnwrap(p.next()).get()
        XCTAssertEqual(c.path, "/c")
        XCTAssertFalse(c.keepAlive)
        XCTAssertNil(p.next(), "the fourth request is incomplete")
        XCTAssertEqual(p.bufferedBytes, 6)
    }

    func test_keepAliveRules() throws {
        XCTAssertFalse(try parse("GET / HTTP/1.0\r\n\r\n")[0].get().keepAlive)
        XCTAssertTrue(try parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")[0].get().keepAlive)
        XCTAssertFalse(try parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n")[0].get().keepAlive)
    }

    func test_requestLineLimit414() {
        var limits = HTTPLimits()
        limits.maxRequestLineBytes = 100
        let long = "GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        XCTAssertEqual(status(long, limits: limits), 414)
        // Also without a line end yet: refused once the limit is passed, not buffered on.
        XCTAssertEqual(status("GET /" + String(repeating: "a", count: 200), limits: limits), 414)
        XCTAssertNil(status("GET /" + String(repeating: "a", count: 50), limits: limits), "within the limit: waits")
        // The default is 8 KiB.
        XCTAssertEqual(status("GET /" + String(repeating: "a", count: 8 << 10) + " HTTP/1.1\r\n\r\n"), 414)
        XCTAssertNotEqual(status("GET /" + String(repeating: "a", count: 8000) + " HTTP/1.1\r\nHost: h\r\n\r\n"), 414)
    }

    func test_headerLimits431() {
        let many = (0..<101).map { "X-\($0): v\r\n" }.joined()
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: h\r\n" + many + "\r\n"), 431)
        let hundred = (0..<99).map { "X-\($0): v\r\n" }.joined()
        XCTAssertNotNil(try? parse("GET / HTTP/1.1\r\nHost: h\r\n" + hundred + "\r\n")[0].get(), "100 fields are fine")
        let big = "X-Big: " + String(repeating: "b", count: 17 << 10) + "\r\n"
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: h\r\n" + big + "\r\n"), 431)
        // Without the end of the head yet.
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: h\r\n" + String(repeating: "X-A: b\r\n", count: 3000)), 431)
    }

    func test_bodyLimit413AndContentLengthRules() {
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n"), 413)
        XCTAssertNil(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65536\r\n\r\n"), "at the limit: waits for the body")
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"), 400)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"), 400)
        XCTAssertNotNil(try? parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab")[0].get(),
                        "repeated equal lengths are one length")
    }

    func test_chunkedBodies411AndSmuggling400() {
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 411)
        XCTAssertEqual(status("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"), 400)
    }

    func test_malformedLines400() {
        let bad = [
            "GET /\r\n\r\n",                               // two parts
            "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",         // double space
            "GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n",
            "GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n",  // absolute form
            "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",           // not a token
            "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
            "GET / http/1.1\r\nHost: h\r\n\r\n",
            "GET /\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nNo colon here\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : h\r\n\r\n",         // space before the colon
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{1}b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",      // bare CR
            "GET / HTTP/1.1\r\n\r\n",                       // HTTP/1.1 without Host
            "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n",     // only empty lines
        ]
        for text in bad { XCTAssertEqual(status(text), 400, text.debugDescription) }
    }

    func test_obsoleteLineFoldingRejected() {
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n"), 400)
        XCTAssertEqual(status("GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\n\ttwo\r\n\r\n"), 400)
    }

    func test_leadingEmptyLinesAndBareLFAreTolerated() throws {
        XCTAssertEqual(try parse("\r\nGET /x HTTP/1.1\nHost: h\n\n")[0].get().path, "/x")
    }

    func test_methodsAreTokensAnyCase() throws {
        for m in ["GET", "POST", "DELETE", "PATCH", "BREW", "get"] {
            XCTAssertEqual(try parse("\(m) / HTTP/1.1\r\nHost: h\r\n\r\n")[0].get().method, m)
        }
    }

    func test_afterAnErrorTheParserStaysFailed() {
        var p = HTTPRequestParser()
        p.append(Array("BAD\r\n\r\n".utf8))
        XCTAssertEqual(p.next().flatMap { try? $0.get() }, nil)
        p.append(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        guard case .failure(let e)? = p.next() else { return XCTFail("expected the error again") }
        XCTAssertEqual(e.status, 400)
        XCTAssertEqual(p.bufferedBytes, 0)
    }

    func test_seededGarbageNeverCrashesAndEndsIn4xxOrWaits() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let n = Int(rng.next() % 300)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 2 == 0 { bytes = Array("GET / HTTP/1.1\r\n".utf8) + bytes }
            var p = HTTPRequestParser()
            p.append(bytes)
            var steps = 0
            while let r = p.next(), steps < 50 {
                steps += 1
                if case .failure(let e) = r {
                    XCTAssertTrue((400...499).contains(e.status))
                    break
                }
            }
        }
    }

    // MARK: - Router

    private func router(token: String? = nil, everything: Bool = false) -> AdminRouter {
        let node = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 7101), uid: 0xABC)
        let peer = NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 7102), uid: 0xDEF)
        let unreachable = Transport.UnreachablePeer(address: NodeAddress(host: "127.0.0.1", port: 7103), isSeed: true,
                                                    failedDials: 3, unreachableForMs: 1200, sinceLastAssociationMs: nil)
        var r = AdminRouter(token: token.map { Array($0.utf8) }, tokenForEverything: everything, snapshot: {
            AdminSnapshot(nodeName: "n", node: node, uptimeMs: 5, running: true, associated: [peer],
                          unreachable: [unreachable],
                          metrics: [Metrics.Sample(name: "x_total", help: "Things\nwith \\ newline", isCounter: true, value: 3),
                                    Metrics.Sample(name: "y", help: "", isCounter: false, value: -1)])
        }, readiness: { .notReady("not configured") })
        r.extraRoutes["/extra/info"] = { .json(200, ["k": "v"]) }
        return r
    }

    private func request(_ method: String, _ target: String, auth: String? = nil) -> HTTPRequest {
        var headers = [(name: "Host", value: "h")]
        if let auth { headers.append((name: "Authorization", value: auth)) }
        return HTTPRequest(method: method, target: target, path: String(target.prefix { $0 != "?" }), minorVersion: 1,
                           headers: headers, body: [])
    }

    private func answer(_ r: AdminRouter, _ req: HTTPRequest) async -> HTTPResponse {
        switch r.handle(req) {
        case .now(let response): return response
        case .later(let compute): return await compute()
        }
    }

    private func expect(_ r: AdminRouter, _ req: HTTPRequest, _ status: Int, _ message: String = "",
                        file: StaticString = #filePath, line: UInt = #line) async {
        let response = await answer(r, req)
        XCTAssertEqual(response.status, status, message, file: file, line: line)
    }

    private func json(_ response: HTTPResponse) throws -> [String: Any] {
        XCTAssertEqual(response.contentType, "application/json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    func test_prefixRoutesNeedTheTokenAndGetTheWholeRequest() async throws {
        var r = router(token: "secret")
        r.prefixRoutes.append((prefix: "/api/", route: { req in .json(200, ["method": req.method, "target": req.target]) }))
        r.prefixRoutes.append((prefix: "/api/deep/", route: { _ in .json(200, ["deep": "yes"]) }))
        r.prefixRoutes.append((prefix: "/api/fails/", route: { _ in throw HTTPError(418, "no") }))
        await expect(r, request("GET", "/api/x"), 401, "no token")
        await expect(r, request("POST", "/api/x", auth: "Bearer wrong"), 401, "wrong token")
        let ok = await answer(r, request("POST", "/api/x?y=1", auth: "Bearer secret"))
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(try json(ok)["method"] as? String, "POST")
        XCTAssertEqual(try json(ok)["target"] as? String, "/api/x?y=1")
        let deep = await answer(r, request("GET", "/api/deep/z", auth: "Bearer secret"))
        XCTAssertEqual(try json(deep)["deep"] as? String, "yes", "the longest prefix wins")
        await expect(r, request("GET", "/api/fails/z", auth: "Bearer secret"), 500, "a thrown error answers 500")
        var open = router()
        open.prefixRoutes.append((prefix: "/api/", route: { _ in .json(200, ["k": "v"]) }))
        await expect(open, request("GET", "/api/x"), 403, "no token configured: refused")
        await expect(r, request("GET", "/apix"), 404, "only paths under the prefix")
    }

    func test_routerEndpoints() async throws {
        let r = router()
        let health = await answer(r, request("GET", "/health"))
        XCTAssertEqual(health.status, 200)
        let h = try json(health)
        XCTAssertEqual(h["status"] as? String, "up")
        XCTAssertEqual(h["uid"] as? String, NodeIdentity(address: NodeAddress(host: "127.0.0.1", port: 1), uid: 0xABC).uidHex)
        let ready = await answer(r, request("GET", "/ready"))
        XCTAssertEqual(ready.status, 503)
        XCTAssertEqual(try json(ready)["detail"] as? String, "not configured")
        let membersAnswer = await answer(r, request("GET", "/cluster/members"))
        let members = try json(membersAnswer)
        XCTAssertEqual(members["membership"] as? String, "associations")
        let list = try XCTUnwrap(members["members"] as? [[String: Any]])
        XCTAssertEqual(list.map { $0["status"] as? String }, ["self", "up"])
        let down = try XCTUnwrap(members["unreachable"] as? [[String: Any]])
        XCTAssertEqual(down.first?["attempts"] as? Int, 3)
        XCTAssertTrue(down.first?["sinceLastAssociationMs"] is NSNull)
        let metrics = await answer(r, request("GET", "/metrics"))
        XCTAssertEqual(metrics.contentType, "text/plain; version=0.0.4; charset=utf-8")
        XCTAssertEqual(String(decoding: metrics.body, as: UTF8.self), """
            # HELP x_total Things\\nwith \\\\ newline
            # TYPE x_total counter
            x_total 3
            # HELP y y
            # TYPE y gauge
            y -1

            """)
        let extra = await answer(r, request("GET", "/extra/info"))
        XCTAssertEqual(try json(extra)["k"] as? String, "v")
    }

    func test_routerErrors() async throws {
        let r = router()
        let missing = await answer(r, request("GET", "/nope"))
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(try json(missing)["status"] as? Int, 404)
        let wrongMethod = await answer(r, request("DELETE", "/health"))
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.headers["Allow"], "GET")
        await expect(r, request("GET", "/cluster/leave"), 405)
        await expect(r, request("POST", "/extra/info"), 405)
    }

    func test_histogramsAreExposedAsCumulativeBucketsWithSumAndCount() {
        let metrics = Metrics()
        let h = metrics.histogram("x_seconds", help: "X.", bounds: [0.001, 0.01, 0.1])
        for v in [0.0005, 0.002, 0.003, 0.05, 7.0] { h.observe(v) }
        let text = String(decoding: AdminRouter.metrics([], histograms: metrics.allHistograms()).body, as: UTF8.self)
        XCTAssertEqual(text, """
        # HELP x_seconds X.
        # TYPE x_seconds histogram
        x_seconds_bucket{le="0.001"} 1
        x_seconds_bucket{le="0.01"} 3
        x_seconds_bucket{le="0.1"} 4
        x_seconds_bucket{le="+Inf"} 5
        x_seconds_sum 7.0555
        x_seconds_count 5

        """)
    }

    func test_clusterChangesNeedAConfiguredTokenAndAMember() async throws {
        let open = router()
        await expect(open, request("POST", "/cluster/leave"), 403)
        await expect(open, request("POST", "/cluster/down/abc", auth: "Bearer anything"), 403)
        let secured = router(token: "s3cret-token-0123456789")
        await expect(secured, request("POST", "/cluster/leave"), 401)
        await expect(secured, request("POST", "/cluster/leave", auth: "Bearer wrong"), 401)
        await expect(secured, request("POST", "/cluster/leave", auth: "Bearer s3cret-token-012345678"), 401)
        await expect(secured, request("POST", "/cluster/leave", auth: "Basic s3cret-token-0123456789"), 401)
        // A system that is not a member (no membership) has nothing to leave or down.
        let leave = await answer(secured, request("POST", "/cluster/leave", auth: "Bearer s3cret-token-0123456789"))
        XCTAssertEqual(leave.status, 501)
        XCTAssertEqual(try json(leave)["error"] as? String, "this node is not a cluster member (no membership)")
        await expect(secured, request("POST", "/cluster/down/00ab12", auth: "bearer s3cret-token-0123456789"), 501)
        await expect(secured, request("POST", "/cluster/down/xyz", auth: "Bearer s3cret-token-0123456789"), 400)
        // A member: leave and down are carried out (202); a uid no member has is 404.
        let done = Mutex<[String]>([])
        var member = secured
        member.commands = AdminCommands(leave: { done.withLock { $0.append("leave") } },
                                        down: { uid in
                                            guard uid == 0xDEF else { return false }
                                            done.withLock { $0.append("down \(String(uid, radix: 16))") }
                                            return true
                                        })
        let token = "Bearer s3cret-token-0123456789"
        await expect(member, request("POST", "/cluster/down/def", auth: token), 202)
        await expect(member, request("POST", "/cluster/down/0123", auth: token), 404)
        await expect(member, request("POST", "/cluster/down/+def", auth: token), 400)
        await expect(member, request("POST", "/cluster/leave", auth: token), 202)
        await expect(member, request("POST", "/cluster/leave"), 401)
        XCTAssertEqual(done.withLock { $0 }, ["down def", "leave"])
        // GETs stay open on loopback.
        await expect(secured, request("GET", "/health"), 200)
    }

    func test_tokenForEverythingBeyondLoopback() async throws {
        let r = router(token: "s3cret-token-0123456789", everything: true)
        await expect(r, request("GET", "/health"), 401)
        await expect(r, request("GET", "/nope"), 401, "no path probing without the token")
        await expect(r, request("GET", "/health", auth: "Bearer s3cret-token-0123456789"), 200)
    }
}
