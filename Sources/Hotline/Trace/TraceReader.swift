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

    /// What reading produced: the records to replay and every rejection with its row.
    public struct Result: Sendable {
        public var records: [TraceRecord]
        public var rejected: [(row: Int, reason: TraceRejection)]
        /// Rows read (excluding the header).
        public var rowsRead: Int
    }

    public var map: ColumnMap
    public var dateFormat: String
    public var timeZone: TimeZone

    /// - Parameters:
    ///   - dateFormat: a `DateFormatter` pattern, default `MM/dd/yyyy hh:mm:ss a` (SF 311).
    ///   - timeZone: the trace's local time zone, default America/Los_Angeles.
    public init(map: ColumnMap = .sanFrancisco311, dateFormat: String = "MM/dd/yyyy hh:mm:ss a",
                timeZone: TimeZone = TimeZone(identifier: "America/Los_Angeles") ?? .gmt) {
        self.map = map
        self.dateFormat = dateFormat
        self.timeZone = timeZone
    }

    /// Reads a CSV trace. Throws `TraceError.missingColumn` when a mapped column is not in the header, or
    /// `CSVReader.ParseError`.
    public func readCSV(data: Data) throws -> Result {
        let rows = try CSVReader(data: data).rows
        guard let header = rows.first else { return Result(records: [], rejected: [], rowsRead: 0) }
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
        let formatter = makeFormatter()
        var seen = Set<String>()
        var result = Result(records: [], rejected: [], rowsRead: 0)
        for (n, row) in rows.dropFirst().enumerated() {
            let rowNumber = n + 1
            if row.count == 1 && row[0].isEmpty { continue }  // blank line
            result.rowsRead += 1
            guard row.count >= header.count else {
                result.rejected.append((rowNumber, .shortRow(columns: row.count, expected: header.count)))
                continue
            }
            let extra = row.count > header.count
            func value(_ field: String) -> String {
                guard let i = index[field] else { return "" }
                return row[i].trimmingCharacters(in: .whitespaces)
            }
            let record = makeRecord(row: rowNumber, id: value("id"), openedText: value("opened"),
                                    closedText: value("closed"), channel: value("channel"),
                                    category: value("category"), type: value("type"), agency: value("agency"),
                                    district: value("district"), address: value("address"),
                                    description: value("description"), formatter: formatter, seen: &seen)
            switch record {
            case .success(var r):
                if extra { r.flags.append(.extraColumns) }
                result.records.append(r)
            case .failure(let reason): result.rejected.append((rowNumber, reason))
            }
        }
        return result
    }

    /// Reads Open311 GeoReport v2 requests (a JSON array of objects with `service_request_id`,
    /// `requested_datetime` (ISO 8601), `updated_datetime`, `status` open|closed, `service_code`,
    /// `service_name`, `agency_responsible`, `address`, `description`, optional `district` and `channel`).
    /// A closed request's `updated_datetime` is its close time. Throws `TraceError.badJSON`.
    public func readOpen311(data: Data) throws -> Result {
        /// A JSON string or number (ids are either, in the wild).
        struct FlexibleString: Decodable {
            var text: String
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { text = s } else if let i = try? c.decode(Int64.self) {
                    text = String(i)
                } else {
                    text = String(try c.decode(Double.self))
                }
            }
        }
        struct Request: Decodable {
            var service_request_id: FlexibleString?
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
        let requests: [Request]
        do {
            requests = try JSONDecoder().decode([Request].self, from: data)
        } catch {
            throw TraceError.badJSON("\(error)")
        }
        let iso = ISO8601DateFormatter()
        let isoFractional = ISO8601DateFormatter()
        isoFractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var seen = Set<String>()
        var result = Result(records: [], rejected: [], rowsRead: requests.count)
        for (n, r) in requests.enumerated() {
            let isClosed = r.status?.lowercased() == "closed"
            let closedText = isClosed ? (r.updated_datetime ?? "") : ""
            let record = makeRecord(row: n + 1, id: r.service_request_id?.text ?? "", openedText: r.requested_datetime ?? "",
                                    closedText: closedText, channel: r.channel ?? "Open311",
                                    category: r.service_name ?? r.service_code ?? "", type: r.service_code ?? "",
                                    agency: r.agency_responsible ?? "", district: r.district ?? "",
                                    address: r.address ?? "", description: r.description ?? "",
                                    parse: { iso.date(from: $0) ?? isoFractional.date(from: $0) }, seen: &seen)
            switch record {
            case .success(var rec):
                if isClosed && closedText.isEmpty { rec.flags.append(.unparsableClosed) }
                result.records.append(rec)
            case .failure(let reason): result.rejected.append((n + 1, reason))
            }
        }
        return result
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
                            description: String, formatter: DateFormatter, seen: inout Set<String>)
        -> Swift.Result<TraceRecord, TraceRejection> {
        makeRecord(row: row, id: id, openedText: openedText, closedText: closedText, channel: channel,
                   category: category, type: type, agency: agency, district: district, address: address,
                   description: description, parse: { formatter.date(from: $0) }, seen: &seen)
    }

    private func makeRecord(row: Int, id: String, openedText: String, closedText: String, channel: String,
                            category: String, type: String, agency: String, district: String, address: String,
                            description: String, parse: (String) -> Date?, seen: inout Set<String>)
        -> Swift.Result<TraceRecord, TraceRejection> {
        guard !id.isEmpty else { return .failure(.missingID) }
        guard !openedText.isEmpty, let opened = parse(openedText) else { return .failure(.unparsableOpened(openedText)) }
        var flags: [TraceFlag] = []
        var closed: Date?
        if !closedText.isEmpty {
            if let c = parse(closedText) {
                closed = c
                if c < opened { flags.append(.closedBeforeOpened) }
            } else {
                flags.append(.unparsableClosed)
            }
        }
        let districtCode: String? = (district.isEmpty || district == "0") ? nil : district
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

    public var description: String {
        switch self {
        case .missingColumn(let field, let column, let header):
            "column \"\(column)\" (for \(field)) is not in the header: \(Self.printable(header.joined(separator: ", ")))"
        case .badMapping(let why): "bad --map: \(why)"
        case .badJSON(let why): "not Open311 GeoReport v2 request JSON: \(Self.printable(why))"
        }
    }

    /// At most 300 characters, control characters shown as `?` (input may be binary).
    static func printable(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.prefix(300).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        return text.unicodeScalars.count > 300 ? cleaned + "…" : cleaned
    }
}
