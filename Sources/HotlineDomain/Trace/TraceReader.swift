import Foundation

/// Reads a request trace into `TraceRecord`s, saying what it did with every input record.
///
/// Formats: CSV with a column mapping (default: the San Francisco 311 export), or Open311 GeoReport v2
/// request JSON (an array of request objects).
public struct TraceReader: Sendable {
    /// Which source column feeds which field. Keys: `id`, `opened`, `closed`, `channel`, `category`,
    /// `type`, `agency`, `district`, `address`, `description`. `id` and `opened` are required.
    public struct ColumnMap: Sendable, Equatable {
        public var columns: [String: String]
        /// Fields set with `--map` (a missing column is an error for these; for defaults it means "absent").
        public var explicit: Set<String> = []

        public static let fields = ["id", "opened", "closed", "channel", "category", "type", "agency",
                                    "district", "address", "description"]

        /// The San Francisco 311 export (`CaseID`, `Opened`, `Closed`, `Source`, ...).
        public static let sanFrancisco311 = ColumnMap(columns: [
            "id": "CaseID", "opened": "Opened", "closed": "Closed", "channel": "Source", "category": "Category",
            "type": "Request.Type", "agency": "Responsible.Agency", "district": "Supervisor.District",
            "address": "Address", "description": "Request.Details",
        ])

        /// Parses `field=Column,field=Column` over the SF defaults. Throws `TraceError.badMapping`.
        public static func parse(_ text: String, over base: ColumnMap = .sanFrancisco311) throws -> ColumnMap {
            var map = base
            var seen = Set<String>()
            for pair in text.split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, fields.contains(parts[0]), !parts[1].isEmpty else {
                    throw TraceError.badMapping("\"\(pair)\": expected field=Column with field one of \(fields.joined(separator: ", "))")
                }
                guard seen.insert(parts[0]).inserted else { throw TraceError.badMapping("\(parts[0]) mapped twice") }
                map.columns[parts[0]] = parts[1]
                map.explicit.insert(parts[0])
            }
            return map
        }
    }

    /// One record not replayed: where it was and why.
    public struct Rejection: Sendable, Equatable, CustomStringConvertible {
        /// 1-based data row (CSV: header excluded) or, for JSON, array index + 1.
        public var row: Int
        /// CSV: the 1-based physical line where the record starts; nil for JSON.
        public var line: Int?
        public var reason: TraceRejection

        /// `line 3 (row 2): …` (CSV) or `request 2 (index 1): …` (JSON).
        public var description: String {
            if let line { return "line \(line) (row \(row)): \(reason)" }
            return "request \(row) (index \(row - 1)): \(reason)"
        }
    }

    /// What reading produced: the records to replay and every rejection with its row (and line).
    public struct Result: Sendable {
        public var records: [TraceRecord]
        public var rejected: [Rejection]
        /// Records read (excluding the header), rejected ones included; blank lines are not records.
        public var rowsRead: Int
    }

    public var map: ColumnMap
    public var dateFormat: String
    public var timeZone: TimeZone
    /// Times a request can have: from 1970-01-01T00:00:00Z to one day after the trace is read. An open time
    /// outside rejects the record; a close time outside is treated as unparsable (replayed as still open).
    /// Stated so that one record dated 0001 or 9999 cannot stretch a replay over millennia of daily ticks.
    public var plausibleTimes: ClosedRange<Date>

    /// - Parameters:
    ///   - dateFormat: a `DateFormatter` pattern, default `MM/dd/yyyy hh:mm:ss a` (SF 311).
    ///   - timeZone: the trace's local time zone, default America/Los_Angeles.
    public init(map: ColumnMap = .sanFrancisco311, dateFormat: String = "MM/dd/yyyy hh:mm:ss a",
                timeZone: TimeZone = TimeZone(identifier: "America/Los_Angeles") ?? .gmt,
                plausibleTimes: ClosedRange<Date> = Date(timeIntervalSince1970: 0)...Date().addingTimeInterval(86_400)) {
        self.map = map
        self.dateFormat = dateFormat
        self.timeZone = timeZone
        self.plausibleTimes = plausibleTimes
    }

    /// Reads a CSV trace. A record that is malformed (see `CSVReader`), has fewer columns than the header,
    /// or more columns with text in the extra ones, is rejected alone with its line and reason; the rest is
    /// read. A quote inside an unquoted field is read leniently and flagged `strayQuote`.
    ///
    /// - Throws: `TraceError.missingColumn` when a mapped column is not in the header;
    ///   `TraceError.unreadable` when the header is malformed or more than half of the records are
    ///   malformed CSV (e.g. not UTF-8 at all, CR-only line ends), or the CSV cannot be read at all.
    public func readCSV(data: Data) throws -> Result {
        let items: [CSVReader.Item]
        do {
            items = try CSVReader(data: data).items
        } catch let error as CSVReader.Unreadable {
            throw TraceError.unreadable(error.reason)
        }
        guard let first = items.first else { return Result(records: [], rejected: [], rowsRead: 0) }
        let header: [String]
        switch first {
        case .malformed(let m): throw TraceError.unreadable("the header (line \(m.line)) is malformed: \(m.detail)")
        case .record(let r): header = r.fields
        }
        var index: [String: Int] = [:]
        for field in ColumnMap.fields {
            guard let column = map.columns[field] else { continue }
            guard let i = header.firstIndex(of: column) else {
                // Required fields and ones the user mapped must exist; a default column that is absent
                // leaves its field empty.
                if field == "id" || field == "opened" || map.explicit.contains(field) {
                    throw TraceError.missingColumn(field: field, column: column, header: header)
                }
                continue
            }
            index[field] = i
        }
        guard index["id"] != nil, index["opened"] != nil else {
            throw TraceError.badMapping("both id and opened must be mapped")
        }
        let parse = makeDateParser()
        var seen = Set<String>()
        var result = Result(records: [], rejected: [], rowsRead: 0)
        var malformed: [CSVReader.Malformed] = []
        for (n, item) in items.dropFirst().enumerated() {
            let rowNumber = n + 1
            let row: CSVReader.Record
            switch item {
            case .malformed(let m):
                result.rowsRead += 1
                malformed.append(m)
                result.rejected.append(Rejection(row: rowNumber, line: m.line, reason: .malformedCSV(m.kind, detail: m.detail)))
                continue
            case .record(let r):
                row = r
            }
            if row.fields == [""] { continue }  // blank line
            result.rowsRead += 1
            guard row.fields.count >= header.count else {
                result.rejected.append(Rejection(row: rowNumber, line: row.line,
                                                 reason: .shortRow(columns: row.fields.count, expected: header.count)))
                continue
            }
            // More columns than the header: harmless when the extra ones are empty (trailing commas);
            // with text in them the columns cannot be told apart (an unquoted comma?), so the record is
            // rejected rather than guessed.
            let extra = row.fields.count > header.count
            if extra, row.fields[header.count...].contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                result.rejected.append(Rejection(row: rowNumber, line: row.line,
                                                 reason: .longRow(columns: row.fields.count, expected: header.count)))
                continue
            }
            func value(_ field: String) -> String {
                guard let i = index[field] else { return "" }
                return row.fields[i].trimmingCharacters(in: .whitespaces)
            }
            let record = makeRecord(row: rowNumber, id: value("id"), openedText: value("opened"),
                                    closedText: value("closed"), channel: value("channel"),
                                    category: value("category"), type: value("type"), agency: value("agency"),
                                    district: value("district"), address: value("address"),
                                    description: value("description"), parse: parse, seen: &seen)
            switch record {
            case .success(var r):
                if extra { r.flags.append(.extraColumns) }
                if row.strayQuote { r.flags.append(.strayQuote) }
                result.records.append(r)
            case .failure(let reason): result.rejected.append(Rejection(row: rowNumber, line: row.line, reason: reason))
            }
        }
        if let firstBad = malformed.first, malformed.count * 2 > result.rowsRead {
            throw TraceError.unreadable("\(malformed.count) of \(result.rowsRead) records are malformed CSV (first: \(firstBad))")
        }
        return result
    }

    /// Reads Open311 GeoReport v2 requests (a JSON array of objects with `service_request_id`,
    /// `requested_datetime` (ISO 8601), `updated_datetime`, `status` open|closed, `service_code`,
    /// `service_name`, `agency_responsible`, `address`, `description`, optional `district` and `channel`).
    /// A closed request's `updated_datetime` is its close time.
    ///
    /// Ids and codes (`service_request_id`, `service_code`, `district`) may be JSON strings or numbers (the
    /// spec's own example has `"service_code": 6`); the other fields are strings (or null / absent). A
    /// request with a field of another type (an object, array, boolean, …), that is not an object, or whose
    /// `requested_datetime` does not parse is rejected alone with its index and reason; the rest is read.
    ///
    /// - Throws: `TraceError.badJSON` when the document is not a JSON array.
    public func readOpen311(data: Data) throws -> Result {
        let requests: [Open311Request]
        do {
            requests = try JSONDecoder().decode([Open311Request].self, from: data)
        } catch {
            throw TraceError.badJSON("\(error)")
        }
        let iso = ISO8601DateFormatter()
        let isoFractional = ISO8601DateFormatter()
        isoFractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parse: (String) -> ResolvedLocalTime? = { text in
            (iso.date(from: text) ?? isoFractional.date(from: text)).map { ResolvedLocalTime(date: $0, adjustment: .exact) }
        }
        var seen = Set<String>()
        var result = Result(records: [], rejected: [], rowsRead: requests.count)
        for (n, request) in requests.enumerated() {
            let r: Open311Request.Fields
            switch request.fields {
            case .success(let fields): r = fields
            case .failure(let reason):
                result.rejected.append(Rejection(row: n + 1, line: nil, reason: reason))
                continue
            }
            let isClosed = r.status?.lowercased() == "closed"
            let closedText = isClosed ? (r.updated_datetime ?? "") : ""
            let record = makeRecord(row: n + 1, id: r.service_request_id ?? "", openedText: r.requested_datetime ?? "",
                                    closedText: closedText, channel: r.channel ?? "Open311",
                                    category: r.service_name ?? r.service_code ?? "", type: r.service_code ?? "",
                                    agency: r.agency_responsible ?? "", district: r.district ?? "",
                                    address: r.address ?? "", description: r.description ?? "",
                                    parse: parse, seen: &seen)
            switch record {
            case .success(var rec):
                if isClosed && closedText.isEmpty { rec.flags.append(.unparsableClosed) }
                result.records.append(rec)
            case .failure(let reason): result.rejected.append(Rejection(row: n + 1, line: nil, reason: reason))
            }
        }
        return result
    }

    /// Whether the date format reads a zone or offset itself (then the text names its instant).
    var formatHasZone: Bool {
        var quoted = false
        for c in dateFormat {
            if c == "'" { quoted.toggle(); continue }
            if !quoted, "zZOvVXx".contains(c) { return true }
        }
        return false
    }

    /// Parses a trace time. With a zone in the format the text is an instant; otherwise it is a local time
    /// in `timeZone`, read as wall-clock and resolved by `ResolvedLocalTime` (gap → forward by the gap,
    /// overlap → earlier offset).
    func makeDateParser() -> (String) -> ResolvedLocalTime? {
        let formatter = makeFormatter()
        if formatHasZone {
            return { text in formatter.date(from: text).map { ResolvedLocalTime(date: $0, adjustment: .exact) } }
        }
        formatter.timeZone = .gmt
        let zone = timeZone
        return { text in formatter.date(from: text).map { ResolvedLocalTime.resolve(wallClock: $0, in: zone) } }
    }

    func makeFormatter() -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timeZone
        f.dateFormat = dateFormat
        return f
    }

    private func makeRecord(row: Int, id: String, openedText: String, closedText: String, channel: String,
                            category: String, type: String, agency: String, district: String, address: String,
                            description: String, parse: (String) -> ResolvedLocalTime?, seen: inout Set<String>)
        -> Swift.Result<TraceRecord, TraceRejection> {
        guard !id.isEmpty else { return .failure(.missingID) }
        guard !openedText.isEmpty, let openedTime = parse(openedText) else { return .failure(.unparsableOpened(openedText)) }
        let opened = openedTime.date
        guard plausibleTimes.contains(opened) else { return .failure(.implausibleOpened(openedText)) }
        let trimmedDistrict = district.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmedDistrict.isEmpty, trimmedDistrict != "0", !Jurisdiction.isUsableCode(trimmedDistrict) {
            return .failure(.unusableDistrict(String(trimmedDistrict.prefix(80))))
        }
        var flags: [TraceFlag] = []
        func flagAdjustment(_ time: ResolvedLocalTime) {
            switch time.adjustment {
            case .exact: break
            case .inGap: if !flags.contains(.localTimeInGap) { flags.append(.localTimeInGap) }
            case .inOverlap: if !flags.contains(.localTimeInOverlap) { flags.append(.localTimeInOverlap) }
            }
        }
        flagAdjustment(openedTime)
        var closed: Date?
        if !closedText.isEmpty {
            if let c = parse(closedText), plausibleTimes.contains(c.date) {
                closed = c.date
                flagAdjustment(c)
                if c.date < opened { flags.append(.closedBeforeOpened) }
            } else {
                flags.append(.unparsableClosed)
            }
        }
        let districtCode: String? = (trimmedDistrict.isEmpty || trimmedDistrict == "0") ? nil : trimmedDistrict
        if districtCode == nil { flags.append(.noDistrict) }
        if !seen.insert(id).inserted { flags.append(.duplicateID) }
        if description.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { flags.append(.emptyDescription) }
        return .success(TraceRecord(row: row, externalID: id, opened: opened, closed: closed,
                                    channel: channel.isEmpty ? "unknown" : channel, category: category,
                                    requestType: type, agency: agency, district: districtCode, address: address,
                                    description: description, flags: flags))
    }
}

/// A trace that cannot be read at all (as opposed to single bad records, which are rejected and counted).
public enum TraceError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingColumn(field: String, column: String, header: [String])
    case badMapping(String)
    case badJSON(String)
    /// The file as a whole cannot be read (malformed header, most records malformed, …): the reason.
    case unreadable(String)

    public var description: String {
        switch self {
        case .missingColumn(let field, let column, let header):
            "column \"\(column)\" (for \(field)) is not in the header: \(Self.printable(header.joined(separator: ", ")))"
        case .badMapping(let why): "bad --map: \(why)"
        case .badJSON(let why): "not Open311 GeoReport v2 request JSON: \(Self.printable(why))"
        case .unreadable(let why): "the trace cannot be read: \(Self.printable(why))"
        }
    }

    /// At most 300 characters, control characters shown as `?` (input may be binary).
    static func printable(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.prefix(300).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        return text.unicodeScalars.count > 300 ? cleaned + "…" : cleaned
    }
}

/// One element of an Open311 request array, decoded without throwing: a record with a field of the wrong
/// type becomes a rejection of that record alone.
struct Open311Request: Decodable {
    /// The fields intake uses, as text.
    struct Fields {
        var service_request_id: String?
        var status: String?
        var service_code: String?
        var service_name: String?
        var agency_responsible: String?
        var requested_datetime: String?
        var updated_datetime: String?
        var address: String?
        var description: String?
        var district: String?
        var channel: String?
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var fields: Result<Fields, TraceRejection>

    init(from decoder: any Decoder) throws {
        guard let c = try? decoder.container(keyedBy: Key.self) else {
            fields = .failure(.badField(field: "request", reason: "not a JSON object"))
            return
        }
        do {
            fields = .success(try Self.read(c))
        } catch let rejection as TraceRejection {
            fields = .failure(rejection)
        }
    }

    private static func read(_ c: KeyedDecodingContainer<Key>) throws -> Fields {
        /// What a JSON value is, for the message.
        func found(_ key: Key) -> String {
            if (try? c.decode(Double.self, forKey: key)) != nil { return "a number" }
            if (try? c.decode(Bool.self, forKey: key)) != nil { return "a boolean" }
            if (try? c.nestedContainer(keyedBy: Key.self, forKey: key)) != nil { return "an object" }
            if (try? c.nestedUnkeyedContainer(forKey: key)) != nil { return "an array" }
            return "another type"
        }
        func text(_ name: String) throws -> String? {
            let key = Key(stringValue: name)
            guard c.contains(key), (try? c.decodeNil(forKey: key)) != true else { return nil }
            if let s = try? c.decode(String.self, forKey: key) { return s }
            throw TraceRejection.badField(field: name, reason: "expected a string, found \(found(key))")
        }
        /// A string or a number (integers as written: `6`, not `6.0`).
        func code(_ name: String) throws -> String? {
            let key = Key(stringValue: name)
            guard c.contains(key), (try? c.decodeNil(forKey: key)) != true else { return nil }
            if let s = try? c.decode(String.self, forKey: key) { return s }
            if let i = try? c.decode(Int64.self, forKey: key) { return String(i) }
            if let d = try? c.decode(Double.self, forKey: key), d.isFinite {
                return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
            }
            throw TraceRejection.badField(field: name, reason: "expected a string or a number, found \(found(key))")
        }
        return Fields(service_request_id: try code("service_request_id"), status: try text("status"),
                      service_code: try code("service_code"), service_name: try text("service_name"),
                      agency_responsible: try text("agency_responsible"),
                      requested_datetime: try text("requested_datetime"), updated_datetime: try text("updated_datetime"),
                      address: try text("address"), description: try text("description"),
                      district: try code("district"), channel: try text("channel"))
    }
}
