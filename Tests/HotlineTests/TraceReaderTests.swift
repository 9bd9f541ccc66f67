import Foundation
import Hotline
import XCTest

final class TraceReaderTests: XCTestCase {
    static let sfSample = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Deploy/samples/sf311_cases_random_sample_10000.csv")

    func test_csvQuotedFieldsCommasNewlinesAndEscapedQuotes() throws {
        let text = "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\n2,\"line1\nline2\",\n"
        let rows = try CSVReader(data: Data(text.utf8)).rows
        XCTAssertEqual(rows, [["a", "b", "c"], ["1", "x, y", "say \"hi\""], ["2", "line1\nline2", ""]])
    }

    func test_csvUnterminatedQuoteRejectsThatRecordAndReadingResumesOnTheNextLine() throws {
        let items = try CSVReader(data: Data("a,b\n1,\"open\n2,3\n".utf8)).items
        XCTAssertEqual(items, [
            .record(.init(line: 1, fields: ["a", "b"], strayQuote: false)),
            .malformed(.init(line: 2, kind: .unterminatedQuote,
                             detail: "field 2: quoted field never closed (reading resumes on line 3)")),
            .record(.init(line: 3, fields: ["2", "3"], strayQuote: false)),
        ])
    }

    func test_sfSampleIsReadWithEveryDirtyRecordFlagged() throws {
        let result = try TraceReader().readCSV(data: Data(contentsOf: Self.sfSample))
        XCTAssertEqual(result.rowsRead, 10_000)
        XCTAssertEqual(result.rejected.count, 0)
        XCTAssertEqual(result.records.count, 10_000)
        XCTAssertEqual(result.records.filter { $0.closed != nil }.count, 9_530)
        XCTAssertEqual(result.records.filter { $0.flags.contains(.closedBeforeOpened) }.count, 129)
        XCTAssertEqual(Set(result.records.map(\.externalID)).count, 10_000)
        let first = try XCTUnwrap(result.records.first)
        XCTAssertEqual(first.externalID, "3600298")
        XCTAssertEqual(first.channel, "Voice In")
        XCTAssertEqual(first.agency, "PUC - Sewer - G")
        XCTAssertEqual(first.district, "6")
        XCTAssertNil(first.closed)
    }

    func test_badRecordsAreRejectedWithReasonsAndDuplicatesFlagged() throws {
        let csv = """
        CaseID,Opened,Closed,Source,Category,Request.Type,Responsible.Agency,Supervisor.District,Address,Request.Details
        1,01/02/2015 10:00:00 AM,01/01/2015 10:00:00 AM,Voice In,Graffiti,t,DPW,3,addr,d
        ,01/02/2015 10:00:00 AM,,Voice In,Graffiti,t,DPW,3,addr,d
        3,yesterday,,Voice In,Graffiti,t,DPW,0,addr,d
        1,01/02/2015 10:00:00 AM,soon,Web,Graffiti,t,DPW,,addr,d
        5,01/02/2015
        """
        let result = try TraceReader().readCSV(data: Data(csv.utf8))
        XCTAssertEqual(result.rowsRead, 5)
        XCTAssertEqual(result.rejected.map(\.reason.code), ["missingID", "unparsableOpened", "shortRow"])
        XCTAssertEqual(result.records.map(\.flags), [[.closedBeforeOpened], [.unparsableClosed, .noDistrict, .duplicateID]])
    }

    func test_unknownMappedColumnNamesTheColumn() {
        XCTAssertThrowsError(try TraceReader(map: .parse("opened=OpenTime")).readCSV(data: Data("CaseID,Opened\n".utf8))) {
            XCTAssertTrue("\($0)".contains("OpenTime"), "\($0)")
        }
        XCTAssertThrowsError(try TraceReader.ColumnMap.parse("colour=Red"))
    }

    func test_open311RequestsAreRead() throws {
        let json = """
        [{"service_request_id":"638344","status":"closed","service_code":"006","service_name":"Pothole",
          "agency_responsible":"DPW","requested_datetime":"2010-04-14T06:37:38-08:00",
          "updated_datetime":"2010-04-15T06:37:38-08:00","address":"8TH AVE and JUDAH ST","description":"坑洼"},
         {"service_request_id":"638345","status":"open","requested_datetime":"not a date"}]
        """
        let result = try TraceReader().readOpen311(data: Data(json.utf8))
        XCTAssertEqual(result.records.count, 1)
        XCTAssertEqual(result.records[0].description, "坑洼")
        XCTAssertEqual(result.records[0].closed?.timeIntervalSince(result.records[0].opened), 86_400)
        XCTAssertEqual(result.rejected.map(\.reason.code), ["unparsableOpened"])
    }
}
