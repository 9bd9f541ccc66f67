import Foundation

/// RFC 4180 CSV reader: comma-separated fields, optional double-quote quoting with `""` as an escaped
/// quote, CRLF or LF record ends, line breaks allowed inside quoted fields, UTF-8 text (a leading BOM is
/// skipped).
///
/// Foundation has no CSV parser, hence this one. It reads the whole input at once (the traces are MBs).
public struct CSVReader: Sendable {
    /// A malformed input: an unterminated quoted field, or a stray quote inside an unquoted field.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// 1-based physical line where the problem starts.
        public var line: Int
        public var reason: String
        public var description: String { "CSV line \(line): \(reason)" }
    }

    public let rows: [[String]]

    /// Parses `data` (UTF-8). Throws `ParseError`; invalid UTF-8 inside a field is replaced by U+FFFD.
    public init(data: Data) throws {
        rows = try Self.parse(Array(data))
    }

    /// Reads and parses the file at `path`. Throws `CocoaError` when the file cannot be read, or `ParseError`.
    public init(contentsOf path: String) throws {
        try self.init(data: try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func parse(_ bytes: [UInt8]) throws -> [[String]] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var inQuotes = false
        var quotedStartLine = 0
        var fieldWasQuoted = false
        func endField() {
            row.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        func endRow() {
            endField()
            rows.append(row)
            row = []
        }
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == quote {
                    if i + 1 < bytes.count, bytes[i + 1] == quote {
                        field.append(quote)
                        i += 2
                        continue
                    }
                    inQuotes = false
                    i += 1
                    continue
                }
                if b == lf { line += 1 }
                field.append(b)
                i += 1
                continue
            }
            switch b {
            case comma:
                endField()
            case lf:
                endRow()
                line += 1
            case cr:
                if i + 1 < bytes.count, bytes[i + 1] == lf { i += 1 }
                endRow()
                line += 1
            case quote:
                guard field.isEmpty, !fieldWasQuoted else {
                    throw ParseError(line: line, reason: "quote inside an unquoted field")
                }
                inQuotes = true
                fieldWasQuoted = true
                quotedStartLine = line
            default:
                field.append(b)
            }
            i += 1
        }
        if inQuotes { throw ParseError(line: quotedStartLine, reason: "quoted field never closed") }
        if !field.isEmpty || !row.isEmpty || fieldWasQuoted { endRow() }
        return rows
    }
}
