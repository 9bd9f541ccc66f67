import Foundation
import Hotline
import XCTest

/// `HTTPDepartmentGateway` (URLSession) against a local endpoint: a 2xx delivers; everything else is a typed
/// `DeliveryFailure` — refused with the status, nothing listening, timed out, an answer over the bound.
final class DepartmentGatewayTests: XCTestCase {
    private func request(_ port: UInt16, timeoutMs: Int = 2_000) -> DeliveryRequest {
        DeliveryRequest(url: "http://127.0.0.1:\(port)/in", timeoutMs: timeoutMs, idempotencyKey: "case-1/A1", body: Data(#"{"a":1}"#.utf8))
    }

    private func outcome(_ request: DeliveryRequest) async -> DeliveryFailure? {
        do {
            try await HTTPDepartmentGateway.shared.deliver(request)
            return nil
        } catch {
            return error
        }
    }

    func test_typedOutcomes() async throws {
        let endpoint = try FlakyEndpoint { n in
            switch n {
            case 1: .status(204)
            case 2: .status(503)
            case 3: .slow(ms: 1_500)
            case 4: .large(bytes: HTTPDepartmentGateway.maxResponseBytes + 4_096)
            case 5: .redirect(307, location: "/elsewhere")
            case 6: .redirect(302, location: "/elsewhere")
            default: .status(200)
            }
        }
        defer { endpoint.stop() }
        let delivered = await outcome(request(endpoint.port))
        XCTAssertNil(delivered)
        XCTAssertEqual(endpoint.requests.first?.idempotencyKey, "case-1/A1")
        XCTAssertEqual(endpoint.requests.first?.body, Data(#"{"a":1}"#.utf8))

        let refused = await outcome(request(endpoint.port))
        XCTAssertEqual(refused, .refused(status: 503))

        let started = ContinuousClock.now
        let slow = await outcome(request(endpoint.port, timeoutMs: 300))
        XCTAssertEqual(slow, .timedOut(ms: 300))
        XCTAssertLessThan(ContinuousClock.now - started, .milliseconds(1_400), "the whole exchange is bounded by the timeout")

        let large = await outcome(request(endpoint.port))
        XCTAssertEqual(large, .responseTooLarge(limitBytes: HTTPDepartmentGateway.maxResponseBytes))

        // A redirect is a failed delivery, never followed: the department's system has nothing until it takes the
        // POST itself (followed, the body was dropped and the empty request's 200 recorded a delivery).
        for code in [307, 302] {
            let before = endpoint.requests.count
            let redirected = await outcome(request(endpoint.port))
            XCTAssertEqual(redirected, .refused(status: code))
            XCTAssertTrue("\(redirected.map { "\($0)" } ?? "")".contains("redirect"))
            XCTAssertEqual(endpoint.requests.count, before + 1, "the redirect was not followed")
        }

        endpoint.stop()
        try await Task.sleep(for: .milliseconds(200))
        guard case .unreachable? = await outcome(request(endpoint.port)) else { return XCTFail("nothing listens: unreachable") }
        let invalid = await outcome(DeliveryRequest(url: "ftp://x/y", timeoutMs: 100, idempotencyKey: "k", body: Data()))
        XCTAssertEqual(invalid, .invalidURL("ftp://x/y"))
    }
}
