import Foundation
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// One bad record never refuses a whole trace: malformed CSV records, local times in daylight-saving gaps
/// and overlaps, and Open311 fields of unexpected types are each rejected alone (or read by a stated rule
/// and flagged), with their line or index; only a file unreadable as a whole stops reading.
final class TraceRobustnessTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture(_ name: String) throws -> Data { try Data(contentsOf: fixtures.appendingPathComponent(name)) }

    static let header = "CaseID,Opened,Closed,Source,Category,Request.Type,Responsible.Agency,Supervisor.District,Address,Request.Details"

    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    // MARK: - Item 10: a malformed record is rejected alone

    func test_strayQuoteRecordIsReadLenientlyFlaggedAndTheRestReplays() throws {
        let result = try TraceReader().readCSV(data: Self.fixture("stray-quote.csv"))
        XCTAssertEqual(result.rowsRead, 2)
        XCTAssertEqual(result.rejected, [])
        XCTAssertEqual(result.records.map(\.externalID), ["9000001", "9000002"])
        XCTAssertEqual(result.records[1].description, #"Pothole 6" deep"#)
        XCTAssertEqual(result.records[1].flags, [.strayQuote])
        XCTAssertEqual(result.records[0].flags, [])
        XCTAssertEqual(result.records[1].closed?.timeIntervalSince(result.records[1].opened), 25 * 3600)
    }

    func test_eachMalformedRecordIsRejectedAloneWithItsLineAndReasonAndTheRestIsRead() throws {
        var bytes = Data((Self.header + "\n").utf8)
        let lines: [String] = [
            "1,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,good",                      // line 2
            "2,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,\"6\" deep\"",              // 3 text after closing quote
            "3,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,good",                      // 4
            "4,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,bare\rCR",                  // 5 bare CR
            "5,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,good",                      // 6
            "6,01/02/2015 10:00:00 AM,,Voice In,Graffiti",                                     // 7 short
            "7,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,unquoted, comma",           // 8 long, text
            "8,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,trailing comma,",           // 9 long, empty: flagged
            "9,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,\"multi\nline\"",           // 10-11 quoted LF
            "10,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,good",                     // 12
        ]
        bytes.append(Data(lines.joined(separator: "\n").utf8))
        bytes.append(Data("\n11,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,caf".utf8))  // 13: invalid UTF-8
        bytes.append(Data([0xE9, 0x0A]))
        bytes.append(Data("12,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,good\n".utf8))  // 14
        bytes.append(Data("13,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,\"never closed\n".utf8))  // 15
        bytes.append(Data("14,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,good after it\n".utf8))  // 16

        let result = try TraceReader().readCSV(data: bytes)
        XCTAssertEqual(result.rowsRead, 14)
        XCTAssertEqual(result.rejected.map { "\($0)" }, [
            "line 3 (row 2): malformed CSV: field 10: text after the closing quote",
            "line 5 (row 4): malformed CSV: field 10: carriage return (CR) not followed by a line feed",
            "line 7 (row 6): 5 columns, header has 10",
            "line 8 (row 7): 11 columns with text beyond the header's 10",
            "line 13 (row 11): malformed CSV: field 10: not valid UTF-8",
            "line 15 (row 13): malformed CSV: field 10: quoted field never closed (reading resumes on line 16)",
        ])
        XCTAssertEqual(result.rejected.map(\.reason.code),
                       ["textAfterClosingQuote", "bareCR", "shortRow", "longRow", "invalidUTF8", "unterminatedQuote"])
        XCTAssertEqual(result.records.map(\.externalID), ["1", "3", "5", "8", "9", "10", "12", "14"])
        XCTAssertEqual(result.records.first { $0.externalID == "8" }?.flags, [.extraColumns])
        XCTAssertEqual(result.records.first { $0.externalID == "9" }?.description, "multi\nline")
        XCTAssertEqual(result.records.last?.description, "good after it")
        XCTAssertEqual(result.rowsRead, result.records.count + result.rejected.count, "every record accounted for")
    }

    /// Field report: a district of "6 7" (or a control character, or 5,000 digits) became part of an actor
    /// path and aborted the whole replay; one record dated 9999 (or 0001) stretched a two-record replay over
    /// millennia of daily ticks. Each such record is now rejected (or its close time ignored) alone.
    func test_unusableDistrictsAndImplausibleDatesAreRejectedAloneWithTheirReason() throws {
        let lines = [
            "1,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,good",
            "2,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,6 7,a,space in district",
            "3,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,6\u{7},a,control in district",
            "4,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,\(String(repeating: "9", count: 5_000)),a,long district",
            "5,01/02/9999 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,opened in 9999",
            "6,01/02/0001 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,opened in 0001",
            "7,01/02/2015 10:00:00 AM,01/02/9999 10:00:00 AM,Voice In,Graffiti,t,DPW,3,a,closed in 9999",
            "8,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW, 4 ,a,padded district",
            "9,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,..,a,a path segment as district",
        ]
        let bytes = Data((Self.header + "\n" + lines.joined(separator: "\n") + "\n").utf8)
        let result = try TraceReader().readCSV(data: bytes)
        XCTAssertEqual(result.records.map(\.externalID), ["1", "7", "8"])
        XCTAssertEqual(result.rejected.map(\.reason.code),
                       ["unusableDistrict", "unusableDistrict", "unusableDistrict", "implausibleOpened", "implausibleOpened",
                        "unusableDistrict"])
        XCTAssertTrue("\(result.rejected[0])".contains("district \"6 7\" is not a usable code"), "\(result.rejected[0])")
        let closedIn9999 = try XCTUnwrap(result.records.first { $0.externalID == "7" })
        XCTAssertNil(closedIn9999.closed)
        XCTAssertEqual(closedIn9999.flags, [.unparsableClosed])
        XCTAssertEqual(result.records.last?.district, "4")
    }

    func test_fileUnreadableAsAWholeStopsWithTheReason() throws {
        // Latin-1, not UTF-8: every record is malformed.
        var latin1 = Data((Self.header + "\n").utf8)
        for i in 1...4 { latin1.append(Data("\(i),01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,caf".utf8) + Data([0xE9, 0x0A])) }
        XCTAssertThrowsError(try TraceReader().readCSV(data: latin1)) { error in
            guard case .unreadable(let why)? = error as? TraceError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.hasPrefix("4 of 4 records are malformed CSV (first: CSV line 2: field 10: not valid UTF-8)"), why)
        }
        // CR-only line ends: the header itself is malformed.
        let crOnly = Data((Self.header + "\r1,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,b\r").utf8)
        XCTAssertThrowsError(try TraceReader().readCSV(data: crOnly)) { error in
            XCTAssertEqual(error as? TraceError,
                           .unreadable("the header (line 1) is malformed: field 10: carriage return (CR) not followed by a line feed"))
        }
        // Half malformed is still read (the good half replays).
        var half = Data((Self.header + "\n").utf8)
        half.append(Data("1,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,\"x\"y\n".utf8))
        half.append(Data("2,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,a,good\n".utf8))
        XCTAssertEqual(try TraceReader().readCSV(data: half).records.map(\.externalID), ["2"])
    }

    // MARK: - Item 11: local times in daylight-saving gaps and overlaps

    func wallClock(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int) -> Date {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = .gmt
        return c.date(from: DateComponents(year: y, month: mo, day: d, hour: h, minute: mi))!
    }

    func test_localTimeInASpringForwardGapMovesForwardByTheGap() throws {
        let la = try XCTUnwrap(TimeZone(identifier: "America/Los_Angeles"))
        let gap = ResolvedLocalTime.resolve(wallClock: wallClock(2014, 3, 9, 2, 30), in: la)
        XCTAssertEqual(gap.date, Self.utc("2014-03-09T10:30:00Z"), "02:30 → 03:30 PDT")
        XCTAssertEqual(gap.adjustment, .inGap(shift: 3600))
        let london = try XCTUnwrap(TimeZone(identifier: "Europe/London"))
        XCTAssertEqual(ResolvedLocalTime.resolve(wallClock: wallClock(2014, 3, 30, 1, 15), in: london),
                       ResolvedLocalTime(date: Self.utc("2014-03-30T01:15:00Z"), adjustment: .inGap(shift: 3600)),
                       "01:15 → 02:15 BST")
        // Around the gap nothing moves.
        XCTAssertEqual(ResolvedLocalTime.resolve(wallClock: wallClock(2014, 3, 9, 1, 59), in: la),
                       ResolvedLocalTime(date: Self.utc("2014-03-09T09:59:00Z"), adjustment: .exact))
        XCTAssertEqual(ResolvedLocalTime.resolve(wallClock: wallClock(2014, 3, 9, 3, 0), in: la),
                       ResolvedLocalTime(date: Self.utc("2014-03-09T10:00:00Z"), adjustment: .exact))
    }

    func test_localTimeInAFallBackOverlapTakesTheEarlierOffset() throws {
        let la = try XCTUnwrap(TimeZone(identifier: "America/Los_Angeles"))
        XCTAssertEqual(ResolvedLocalTime.resolve(wallClock: wallClock(2014, 11, 2, 1, 30), in: la),
                       ResolvedLocalTime(date: Self.utc("2014-11-02T08:30:00Z"),
                                         adjustment: .inOverlap(later: Self.utc("2014-11-02T09:30:00Z"))),
                       "01:30 PDT, not 01:30 PST")
        let london = try XCTUnwrap(TimeZone(identifier: "Europe/London"))
        XCTAssertEqual(ResolvedLocalTime.resolve(wallClock: wallClock(2014, 10, 26, 1, 30), in: london).date,
                       Self.utc("2014-10-26T00:30:00Z"), "01:30 BST")
        let shanghai = try XCTUnwrap(TimeZone(identifier: "Asia/Shanghai"))
        XCTAssertEqual(ResolvedLocalTime.resolve(wallClock: wallClock(2026, 3, 9, 2, 30), in: shanghai),
                       ResolvedLocalTime(date: Self.utc("2026-03-08T18:30:00Z"), adjustment: .exact))
    }

    func test_dstGapTraceKeepsEveryOpenAndCloseTimeAndFlagsThem() throws {
        let result = try TraceReader().readCSV(data: Self.fixture("dst-gap.csv"))
        XCTAssertEqual(result.rejected, [])
        XCTAssertEqual(result.records.map(\.externalID), ["9000001", "9000002", "9000003"])
        let opened = result.records[1], closedInGap = result.records[2]
        XCTAssertEqual(opened.opened, Self.utc("2014-03-09T10:30:00Z"), "02:30 in the gap opens at 03:30 PDT")
        XCTAssertEqual(opened.closed, Self.utc("2014-03-09T11:10:00Z"))
        XCTAssertEqual(opened.flags, [.localTimeInGap])
        XCTAssertEqual(closedInGap.opened, Self.utc("2014-03-09T07:00:00Z"))
        XCTAssertEqual(closedInGap.closed, Self.utc("2014-03-09T10:15:00Z"), "closed at 02:15 → 03:15 PDT, still closed")
        XCTAssertEqual(closedInGap.flags, [.localTimeInGap])
        XCTAssertEqual(result.records[0].flags, [])
    }

    func test_overlapTimesInATraceTakeTheEarlierOffsetAndAreFlagged() throws {
        let csv = Self.header + "\n1,11/02/2014 01:30:00 AM,11/02/2014 01:45:00 AM,Voice In,Graffiti,t,DPW,3,a,b\n"
        let record = try XCTUnwrap(TraceReader().readCSV(data: Data(csv.utf8)).records.first)
        XCTAssertEqual(record.opened, Self.utc("2014-11-02T08:30:00Z"))
        XCTAssertEqual(record.closed, Self.utc("2014-11-02T08:45:00Z"))
        XCTAssertEqual(record.flags, [.localTimeInOverlap])
        // A format with an offset names its instant: nothing to resolve, nothing flagged.
        let zoned = TraceReader(dateFormat: "yyyy-MM-dd HH:mm:ssZZZZZ")
        let text = Self.header + "\n1,2014-11-02 01:30:00-08:00,,Voice In,Graffiti,t,DPW,3,a,b\n"
        let exact = try XCTUnwrap(zoned.readCSV(data: Data(text.utf8)).records.first)
        XCTAssertEqual(exact.opened, Self.utc("2014-11-02T09:30:00Z"))
        XCTAssertEqual(exact.flags, [])
    }

    // MARK: - Item 12: Open311 ids and codes as numbers or strings; a bad field rejects its request alone

    func test_open311SpecExampleWithNumericIDAndServiceCodeIsRead() throws {
        let result = try TraceReader().readOpen311(data: Self.fixture("open311-numeric-service-code.json"))
        XCTAssertEqual(result.rejected, [])
        let record = try XCTUnwrap(result.records.first)
        XCTAssertEqual(result.records.count, 1)
        XCTAssertEqual(record.externalID, "638344")
        XCTAssertEqual(record.requestType, "6")
        XCTAssertEqual(record.category, "Sidewalk and Curb Issues")
        XCTAssertEqual(record.opened, Self.utc("2010-04-14T14:37:38Z"))
        XCTAssertNil(record.closed)
    }

    func test_open311FieldOfAnUnexpectedTypeRejectsOnlyThatRequestWithItsIndex() throws {
        let json = """
        [{"service_request_id": 1, "service_code": 6, "requested_datetime": "2010-04-14T06:37:38-08:00", "district": 3},
         {"service_request_id": "2", "service_code": {"code": 6}, "requested_datetime": "2010-04-14T06:37:38-08:00"},
         {"service_request_id": "3", "description": true, "requested_datetime": "2010-04-14T06:37:38-08:00"},
         42,
         {"service_request_id": "5", "requested_datetime": "14/04/2010 06:37"},
         {"service_request_id": [5], "requested_datetime": "2010-04-14T06:37:38-08:00"},
         {"service_request_id": "7", "service_code": "006", "status": "closed", "description": null,
          "requested_datetime": "2010-04-14T06:37:38-08:00", "updated_datetime": "2010-04-15T06:37:38.250-08:00"}]
        """
        let result = try TraceReader().readOpen311(data: Data(json.utf8))
        XCTAssertEqual(result.rowsRead, 7)
        XCTAssertEqual(result.rejected.map { "\($0)" }, [
            "request 2 (index 1): field service_code: expected a string or a number, found an object",
            "request 3 (index 2): field description: expected a string, found a boolean",
            "request 4 (index 3): field request: not a JSON object",
            #"request 5 (index 4): open time "14/04/2010 06:37" does not parse"#,
            "request 6 (index 5): field service_request_id: expected a string or a number, found an array",
        ])
        XCTAssertEqual(result.records.map(\.externalID), ["1", "7"])
        XCTAssertEqual(result.records[0].requestType, "6")
        XCTAssertEqual(result.records[0].district, "3")
        XCTAssertEqual(result.records[1].requestType, "006")
        XCTAssertEqual(result.records[1].closed?.timeIntervalSince(result.records[1].opened), 86_400.25)
        // Not an array at all: the file is unreadable.
        XCTAssertThrowsError(try TraceReader().readOpen311(data: Data(#"{"service_request_id": 1}"#.utf8)))
    }
}
