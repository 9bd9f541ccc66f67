import Foundation
import Hotline
import XCTest

/// `hotline replay` on a trace without category or district columns — the 2,816 Chinese government
/// messages (id, subject, time, text, reply, reply time) — and on a trace whose every record intake refuses.
final class UncategorisedReplayTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tipdm2020c_wenzheng_replies_2816.csv")
    static let repo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The trace's figures computed straight from the CSV with this test's own parsing (quotes, commas and
    /// line breaks inside quotes), not the product's reader: a message is readable when its time parses as
    /// `yyyy/M/d H:mm:ss` (Asia/Shanghai), replied when its reply time parses too; days = (reply − message) ÷
    /// 86 400. The same figures by Python's csv + datetime.strptime: 2,816 rows, 2,815 readable (one message
    /// time is "43563.359259259261", a spreadsheet serial), 2,814 replied (one reply time is "2018/4/24", no
    /// time of day), none replied before it was sent, median 11.20 days, mean 20.33 days.
    struct Independent {
        var rows = 0
        var readable = 0
        var days: [Double] = []
    }

    static func independent() throws -> Independent {
        let text = try String(contentsOf: fixture, encoding: .utf8)
        var records: [[String]] = []
        var field = "", row: [String] = [], quoted = false, pendingQuote = false
        for ch in text {
            if quoted {
                if ch == "\"" { quoted = false; pendingQuote = true } else { field.append(ch) }
                continue
            }
            if pendingQuote {
                pendingQuote = false
                if ch == "\"" { field.append("\""); quoted = true; continue }  // "" inside quotes
            }
            switch ch {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\n", "\r\n": row.append(field); field = ""; records.append(row); row = []
            default: field.append(ch)
            }
        }
        if !row.isEmpty || !field.isEmpty { row.append(field); records.append(row) }
        let header = records[0]
        let opened = try XCTUnwrap(header.firstIndex(of: "留言时间")), replied = try XCTUnwrap(header.firstIndex(of: "答复时间"))
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "Asia/Shanghai")
        f.dateFormat = "yyyy/M/d H:mm:ss"
        var result = Independent()
        for r in records.dropFirst() where r.count == header.count {
            result.rows += 1
            guard let o = f.date(from: r[opened].trimmingCharacters(in: .whitespaces)) else { continue }
            result.readable += 1
            guard let c = f.date(from: r[replied].trimmingCharacters(in: .whitespaces)) else { continue }
            result.days.append(max(0, c.timeIntervalSince(o)) / 86_400)
        }
        return result
    }

    /// Runs `hotline` with `arguments`; a watchdog kills it after `seconds`.
    static func run(_ arguments: [String], seconds: Int) throws -> (status: Int32, stdout: Data) {
        let process = Process()
        process.executableURL = try NodeHarness.binary()
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let watchdog = ReplayTests.watchdog(process, seconds: seconds)
        defer { watchdog.cancel() }
        let data = out.fileHandleForReading.readDataToEndOfFile()  // bounded: the replay exits, or the watchdog kills it
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }

    func test_replayOfTheUncategorisedMessagesOpensEveryReadableRecordClassifiesItAndMatchesTheCSV() throws {
        let truth = try Self.independent()
        XCTAssertEqual(truth.rows, 2_816)
        XCTAssertEqual(truth.readable, 2_815)
        XCTAssertEqual(truth.days.count, 2_814)
        let sorted = truth.days.sorted()
        func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }
        let median = round2((sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2)  // even count
        let mean = round2(sorted.reduce(0, +) / Double(sorted.count))
        XCTAssertEqual(median, 11.2)
        XCTAssertEqual(mean, 20.33)

        // The command, as a new user types it (no --catalog: the bundled catalogue classifies).
        let (status, data) = try Self.run(["replay", Self.fixture.path,
                                           "--map", "id=留言编号,opened=留言时间,closed=答复时间,description=留言详情,type=留言主题",
                                           "--date-format", "yyyy/M/d H:mm:ss", "--time-zone", "Asia/Shanghai", "--json"],
                                          seconds: 240)
        XCTAssertEqual(status, 0)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let verdict = try XCTUnwrap(json["verdict"] as? [String: Any])
        XCTAssertEqual(verdict["outcome"] as? String, "ok")
        let reconciliation = try XCTUnwrap(json["reconciliation"] as? [String: Any])
        XCTAssertEqual(reconciliation["accepted"] as? Int, 2_815)
        XCTAssertEqual(reconciliation["casesFound"] as? Int, 2_815)
        XCTAssertEqual(reconciliation["lost"] as? Int, 0)
        XCTAssertEqual(reconciliation["duplicated"] as? Int, 0)
        XCTAssertEqual(reconciliation["rejectedAtIntake"] as? [String: Int], [:])
        XCTAssertEqual(reconciliation["stepFailures"] as? [String: Int], [:])
        let comparison = try XCTUnwrap(json["comparison"] as? [String: Any])
        XCTAssertEqual(comparison["traceClosed"] as? Int, truth.days.count)
        XCTAssertEqual(comparison["clusterReplied"] as? Int, truth.days.count)
        XCTAssertEqual(comparison["traceMedianDays"] as? Double, median)
        XCTAssertEqual(comparison["clusterMedianDays"] as? Double, median)
        XCTAssertEqual(comparison["traceMeanDays"] as? Double, mean)
        XCTAssertEqual(comparison["clusterMeanDays"] as? Double, mean)
        XCTAssertEqual(comparison["matches"] as? Bool, true)

        // Classification: every case from a proposal; the messages' places are masked ("A市A2区"), so almost
        // none names an Anshan place and the simulated dispatcher takes the holding jurisdiction.
        let c = try XCTUnwrap(json["classification"] as? [String: Any])
        XCTAssertEqual(c["proposed"] as? Int, 2_815)
        XCTAssertEqual(c["automatic"] as? Int, 31)
        XCTAssertEqual(c["bySimulatedDispatcher"] as? Int, 2_784)
        XCTAssertEqual(c["noCategoryFound"] as? Int, 669)
        XCTAssertEqual(c["noPlaceFound"] as? Int, 2_760)
        XCTAssertEqual(c["emergencies"] as? Int, 10)
        XCTAssertEqual(c["medianCategoryConfidence"] as? Double, 0.67)
        XCTAssertEqual(c["confidenceBuckets"] as? [String: Int], ["0": 2_774, "[0.3, 0.6)": 10, "[0.6, 1)": 23, "1": 8])
        let simulated = try XCTUnwrap(json["simulated"] as? [String])
        XCTAssertTrue(simulated.contains { $0.hasPrefix("simulated dispatcher: 2784 case(s)") }, "\(simulated)")
        let overall = try XCTUnwrap((json["kpi"] as? [String: Any])?["overall"] as? [String: Any])
        XCTAssertEqual(overall["classifiedAutomatically"] as? Int, 31)
        XCTAssertEqual(overall["classifiedByDispatcher"] as? Int, 2_784)
        XCTAssertEqual(overall["awaitingClassification"] as? Int, 0)
    }

    func test_anAllRejectedTraceExitsNonZeroWithTheReasonFirstAndNeverSaysMatch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hotline-rejected-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("unknown-districts.csv")
        try """
        id,opened,closed,category,district,description
        1,2026-03-02 09:00,2026-03-03 09:00,road-damage,Z9,路面塌陷
        2,2026-03-02 10:00,2026-03-04 10:00,street-lighting,Z9,路灯不亮
        3,2026-03-02 11:00,,sanitation,Z9,垃圾没人清运

        """.write(to: trace, atomically: true, encoding: .utf8)
        let (status, data) = try Self.run(["replay", trace.path, "--nodes", "1",
                                           "--catalog", Self.repo.appendingPathComponent("Deploy/catalogs/anshan.json").path,
                                           "--map", "id=id,opened=opened,closed=closed,category=category,district=district,description=description",
                                           "--date-format", "yyyy-MM-dd HH:mm", "--time-zone", "Asia/Shanghai"],
                                          seconds: 120)
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertEqual(status, 3, text)
        let first = text.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertTrue(first.hasPrefix("verdict: mostlyRejected — 3 of 3 records were not replayed: rejected at intake: "), first)
        XCTAssertTrue(first.contains("unknown jurisdiction \\\"Z9\\\"") || first.contains("unknown jurisdiction \"Z9\""), first)
        XCTAssertTrue(text.contains("\nmatch: NO"), text)
        XCTAssertFalse(text.contains("match: yes"), text)
    }
}
