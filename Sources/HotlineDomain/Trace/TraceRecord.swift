import Foundation

/// One request from a replayed trace, after column mapping and date parsing, before intake.
public struct TraceRecord: Sendable, Equatable {
    /// 1-based data row (header excluded) or array index + 1 for JSON.
    public var row: Int
    /// The source system's id; intake is idempotent per channel + this id.
    public var externalID: String
    public var opened: Date
    /// When the responsible agency closed it (⇔ the lead unit's reply); nil while open.
    public var closed: Date?
    /// Intake channel code as the source names it (`Voice In`, `Open311`, ...): channels are data.
    public var channel: String
    public var category: String
    public var requestType: String
    /// Responsible agency (⇔ lead unit).
    public var agency: String
    /// District / jurisdiction code; nil when the source has none (or `0`).
    public var district: String?
    public var address: String
    public var description: String
    /// Data-quality flags the replay reports (the record is still replayed).
    public var flags: [TraceFlag]
}

/// Something odd about a record that is replayed anyway, by a stated rule.
public enum TraceFlag: String, Sendable, Codable, CaseIterable {
    /// Closed earlier than opened (129 in the SF sample): replayed with the reply at the open time, i.e.
    /// zero handling time (the source says it was closed; its true duration is unknown).
    case closedBeforeOpened
    /// No district (empty or 0): routed to the catalogue's city-wide jurisdiction.
    case noDistrict
    /// A close time that does not parse, lies before 1970 or in the future (or an Open311 `closed` status
    /// without `updated_datetime`): replayed as still open.
    case unparsableClosed
    /// The row has more columns than the header: the extra columns are ignored.
    case extraColumns
    /// No details: intake gets "<category>: <request type>" as the description.
    case emptyDescription
    /// Same external id as an earlier record: submitted again, and intake's idempotency returns the
    /// earlier case (no second case is opened).
    case duplicateID
    /// A `"` inside an unquoted CSV field (`Pothole 6" deep`): read as a literal quote character (the
    /// reading is unambiguous; Python's `csv` reads it so too).
    case strayQuote
    /// An open or close time that does not exist in the trace's time zone (the hour skipped when clocks
    /// go forward): moved forward by the gap's length (02:30 → 03:30 PDT), as java.time and Python
    /// zoneinfo do.
    case localTimeInGap
    /// An open or close time that exists twice (the hour repeated when clocks go back): the earlier
    /// instant (the offset before the transition) is taken.
    case localTimeInOverlap
}

/// Why a record is not replayed at all.
public enum TraceRejection: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The id column is empty.
    case missingID
    /// The open time is empty or does not parse with the date format.
    case unparsableOpened(String)
    /// The open time parses but lies outside `TraceReader.plausibleTimes` (before 1970, or in the future).
    case implausibleOpened(String)
    /// The district value cannot be a jurisdiction code (`Jurisdiction.isUsableCode`: spaces, control
    /// characters, over 64 bytes…): the record is not replayed rather than routed somewhere by a guess.
    case unusableDistrict(String)
    /// The row has fewer columns than the header.
    case shortRow(columns: Int, expected: Int)
    /// The row has more columns than the header and text in the extra ones (the columns cannot be told
    /// apart, e.g. an unquoted comma).
    case longRow(columns: Int, expected: Int)
    /// The CSV record is malformed (`CSVReader.Malformation`: unterminated quote, text after a closing
    /// quote, bare CR, invalid UTF-8), with what was found.
    case malformedCSV(CSVReader.Malformation, detail: String)
    /// A field of the wrong type (Open311: an object or boolean where a string is expected, …), or the
    /// record is not an object.
    case badField(field: String, reason: String)

    /// Stable code used in reports.
    public var code: String {
        switch self {
        case .missingID: "missingID"
        case .unparsableOpened: "unparsableOpened"
        case .implausibleOpened: "implausibleOpened"
        case .unusableDistrict: "unusableDistrict"
        case .shortRow: "shortRow"
        case .longRow: "longRow"
        case .malformedCSV(let kind, _): kind.rawValue
        case .badField: "badField"
        }
    }

    public var description: String {
        switch self {
        case .missingID: "no id"
        case .unparsableOpened(let text): "open time \"\(text)\" does not parse"
        case .implausibleOpened(let text): "open time \"\(text)\" is before 1970 or in the future"
        case .unusableDistrict(let text): "district \(text.debugDescription) is not a usable code (letters, digits, '-', '_', '.'; at most 64 bytes)"
        case .shortRow(let n, let expected): "\(n) columns, header has \(expected)"
        case .longRow(let n, let expected): "\(n) columns with text beyond the header's \(expected)"
        case .malformedCSV(_, let detail): "malformed CSV: \(detail)"
        case .badField(let field, let reason): "field \(field): \(reason)"
        }
    }
}
