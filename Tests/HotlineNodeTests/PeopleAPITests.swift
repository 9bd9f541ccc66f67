import ActorCluster
import Foundation
import Hotline
import XCTest

/// The people's steps over HTTP (`/hotline/api/` on the admin port, bearer token): a case through its whole life —
/// submit, a department's sign and reply, the dispatcher's review, the callback — with the same JSON as the CLI's
/// `--json`; and every kind of bad request answered with a JSON error and the right status, nothing changed.
final class PeopleAPITests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let harness = NodeHarness()
    var tokenPath: String?

    override func tearDown() {
        harness.stopAll()
        if let tokenPath { try? FileManager.default.removeItem(atPath: tokenPath) }
        super.tearDown()
    }

    func test_aCaseThroughItsWholeLifeOverHTTPAndBadRequestsAreRefusedWithJSON() async throws {
        let (path, _) = try ClusterAuth.makeEphemeralSecretFile()
        tokenPath = path
        let token = try ClusterAuth.readSecret(path: path)
        let catalog = Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path
        let node = try harness.startNode("api", extra: ["--admin", "127.0.0.1:0", "--admin-token-file", path, "--catalog", catalog])
        let admin = try XCTUnwrap(node.admin)
        func call(_ method: String, _ path: String, _ body: String = "", token: [UInt8]? = nil) throws -> (status: Int, json: [String: Any]) {
            let r = try AdminClient.request(method, path, at: admin, token: token ?? Array(tokenBytes), body: Array(body.utf8),
                                            timeout: .seconds(20))
            let object = (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:]
            return (r.status, object)
        }
        let tokenBytes = token

        // Submit (the office may still be recovering its empty stream right after start: 503, retried).
        let request = #"{"channel": "8890", "externalID": "api-1", "category": "heating-failure", "jurisdiction": "210302", "description": "暖气不热，室温十二度"}"#
        var submitted: [String: Any] = [:]
        try await waitUntil(timeout: .seconds(20), "the node takes the request") {
            let r = try call("POST", "/hotline/api/submit", request)
            XCTAssertTrue([200, 503].contains(r.status), "\(r)")
            submitted = r.json
            return r.status == 200
        }
        let number = "\(try XCTUnwrap((submitted["ref"] as? [String: Any])?["number"]))"
        // The same request again (a retry) is the same case.
        let again = try call("POST", "/hotline/api/submit", request)
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual("\((again.json["ref"] as? [String: Any])?["number"] ?? "")", number)
        XCTAssertEqual(again.json["duplicate"] as? Bool, true)

        let shown = try call("GET", "/hotline/api/case/\(number)")
        XCTAssertEqual(shown.status, 200)
        let snapshot = try XCTUnwrap(shown.json["snapshot"] as? [String: Any])
        XCTAssertEqual(snapshot["status"] as? String, "dispatched")
        let lead = try XCTUnwrap(snapshot["leadUnit"] as? String)

        // The department's inbox, sign and reply.
        let inbox = try call("GET", "/hotline/api/units/\(lead)/inbox")
        XCTAssertEqual(inbox.status, 200)
        XCTAssertTrue((inbox.json["entries"] as? [[String: Any]] ?? []).contains { "\($0["number"] ?? "")" == number }, "\(inbox)")
        XCTAssertEqual(try call("POST", "/hotline/api/case/\(number)/unit", #"{"unit": "\#(lead)", "action": {"sign": {}}}"#).status, 200)
        XCTAssertEqual(try call("POST", "/hotline/api/case/\(number)/unit",
                                #"{"unit": "\#(lead)", "action": {"reply": {"text": "已派人检修，室温恢复"}}}"#).status, 200)
        // The dispatcher accepts the reply; the callback falls due; the citizen is satisfied; the case closes.
        let reviewed = try call("POST", "/hotline/api/case/\(number)/review", #"{"accepted": true, "note": "答复规范"}"#)
        XCTAssertEqual(reviewed.status, 200, "\(reviewed)")
        let due = try call("GET", "/hotline/api/callbacks/due")
        XCTAssertTrue((due.json["entries"] as? [[String: Any]] ?? []).contains { "\($0["number"] ?? "")" == number }, "\(due)")
        let called = try call("POST", "/hotline/api/case/\(number)/callback",
                              #"{"outcome": {"reached": {"evaluation": {"resolved": true, "satisfaction": "satisfied"}}}}"#)
        XCTAssertEqual(called.status, 200, "\(called)")
        XCTAssertEqual(called.json["status"] as? String, "closed")

        // Bad requests: a JSON error with the right status, and the case unchanged.
        XCTAssertEqual(try call("GET", "/hotline/api/case/\(number)", token: Array("wrong".utf8)).status, 401)
        let notJSON = try call("POST", "/hotline/api/case/\(number)/review", "{not json")
        XCTAssertEqual(notJSON.status, 400)
        XCTAssertNotNil(notJSON.json["error"] as? String)
        let missing = try call("POST", "/hotline/api/case/\(number)/review", #"{"note": "x"}"#)
        XCTAssertEqual(missing.status, 400)
        XCTAssertTrue((missing.json["error"] as? String ?? "").contains("accepted"), "\(missing)")
        XCTAssertEqual(try call("GET", "/hotline/api/case/2026-999999").status, 404)
        let tooLate = try call("POST", "/hotline/api/case/\(number)/unit", #"{"unit": "\#(lead)", "action": {"sign": {}}}"#)
        XCTAssertEqual(tooLate.status, 409, "a closed case cannot be signed: \(tooLate)")
        XCTAssertEqual(try call("GET", "/hotline/api/case/\(number)/review").status, 405)
        XCTAssertEqual(try call("POST", "/hotline/api/case/\(number)/teleport", "{}").status, 404)
        XCTAssertEqual(try call("GET", "/hotline/api/nowhere").status, 404)
        XCTAssertEqual(try call("GET", "/hotline/api/cases?status=sideways").status, 400)
        XCTAssertEqual(try call("GET", "/hotline/api/cases/").status, 200, "a trailing slash names the same list")
        let nobody = try call("GET", "/hotline/api/units/NO-SUCH-UNIT/inbox")
        XCTAssertEqual(nobody.status, 400, "an unknown unit is not an empty inbox: \(nobody)")
        XCTAssertTrue((nobody.json["error"] as? String ?? "").contains("unknown unit"), "\(nobody)")
        let misspelt = try call("POST", "/hotline/api/submit",
                                #"{"channel": "8890", "externalID": "api-2", "category": "heating-failure", "jurisdiction": "210302", "description": "暖气", "phone": "13800000000"}"#)
        XCTAssertEqual(misspelt.status, 400, "an unknown field is refused, not dropped: \(misspelt)")
        XCTAssertTrue((misspelt.json["error"] as? String ?? "").contains("phone"), "\(misspelt)")
        // Category and jurisdiction may be left out: intake classifies the words (here a clear heating complaint in
        // 铁东区, or the classification queue).
        let unclassified = try call("POST", "/hotline/api/submit",
                                    #"{"channel": "8890", "externalID": "api-3", "description": "鞍山市铁东区胜利路小区暖气不热，室温只有十二度", "contactPhone": "13800000001"}"#)
        XCTAssertEqual(unclassified.status, 200, "\(unclassified)")
        // A case's history is bounded (half a frame): progress notes of 60,000 characters are refused once the next
        // would pass it, and the case still reads whole.
        let big = try call("POST", "/hotline/api/submit",
                           #"{"channel": "8890", "externalID": "api-4", "category": "heating-failure", "jurisdiction": "210302", "description": "暖气不热"}"#)
        let bigNumber = "\(try XCTUnwrap((big.json["ref"] as? [String: Any])?["number"]))"
        XCTAssertEqual(try call("POST", "/hotline/api/case/\(bigNumber)/unit", #"{"unit": "\#(lead)", "action": {"sign": {}}}"#).status, 200)
        let note = String(repeating: "x", count: 60_000)
        var accepted = 0, refusal: (status: Int, json: [String: Any])?
        for _ in 0..<120 {  // bounded: 4 MiB / 60 KB is about 70 notes
            let r = try call("POST", "/hotline/api/case/\(bigNumber)/unit", #"{"unit": "\#(lead)", "action": {"progress": {"note": "\#(note)"}}}"#)
            if r.status != 200 { refusal = r; break }
            accepted += 1
        }
        XCTAssertEqual(refusal?.status, 409, "refused once over the bound, after \(accepted) notes: \(String(describing: refusal))")
        XCTAssertTrue((refusal?.json["error"] as? String ?? "").contains("over the limit"), "\(String(describing: refusal))")
        XCTAssertGreaterThan(accepted, 30)
        XCTAssertEqual(try call("GET", "/hotline/api/case/\(bigNumber)").status, 200)

        let closed = try call("GET", "/hotline/api/cases?status=closed")
        XCTAssertEqual((closed.json["entries"] as? [[String: Any]])?.count, 1, "\(closed)")
        let final = try XCTUnwrap(try call("GET", "/hotline/api/case/\(number)").json["snapshot"] as? [String: Any])
        XCTAssertEqual(final["status"] as? String, "closed")
        XCTAssertTrue(node.isRunning)
    }
}
