import Foundation

/// RFC 4180 CSV reader that rejects a malformed record alone: comma-separated fields, optional
/// double-quote quoting with `""` as an escaped quote, CRLF or LF record ends, line breaks (and CRs)
/// allowed inside quoted fields, UTF-8 text (a leading BOM is skipped).
///
/// Every record comes out either read (`Record`, with its 1-based starting line) or malformed
/// (`Malformed`: line and reason), in file order (`items`); reading goes on after a malformed record:
///
/// | shape | outcome |
/// |---|---|
/// | a `"` inside an unquoted field (`Pothole 6" deep`) | read leniently — the quote is kept as a character, as Python's `csv` and most readers do (the reading is unambiguous) — and `Record.strayQuote` is set |
/// | text after a closing quote (`"6" deep`) | `textAfterClosingQuote`: rejected; reading resumes on the next line |
/// | a CR not followed by LF outside quotes | `bareCR`: rejected; reading resumes on the next line |
/// | a quoted field still open at the end of the input | `unterminatedQuote`: the record is rejected and reading resumes on the line after the one it started on |
/// | a field that is not valid UTF-8 | `invalidUTF8`: rejected (never replaced by U+FFFD) |
///
/// Field counts are the caller's business (`TraceReader` compares them with the header).
/// Foundation has no CSV parser, hence this one. It reads the whole input at once (the traces are MBs).
public struct CSVReader: Sendable {
    /// What is wrong with a malformed record.
    public enum Malformation: String, Sendable, Codable, CaseIterable {
        case unterminatedQuote
        case textAfterClosingQuote
        case bareCR
        case invalidUTF8
    }

    /// A record that cannot be read.
    public struct Malformed: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
        /// 1-based physical line (counted by LF) where the record starts.
        public var line: Int
        public var kind: Malformation
        /// What was found, for people (`field 3: text after the closing quote`).
        public var detail: String
        public var description: String { "CSV line \(line): \(detail)" }

        public init(line: Int, kind: Malformation, detail: String) {
            self.line = line
            self.kind = kind
            self.detail = detail
        }
    }

    /// A record read.
    public struct Record: Sendable, Equatable {
        /// 1-based physical line (counted by LF) where the record starts.
        public var line: Int
        public var fields: [String]
        /// A quote inside an unquoted field was kept as a literal character.
        public var strayQuote: Bool

        public init(line: Int, fields: [String], strayQuote: Bool) {
            self.line = line
            self.fields = fields
            self.strayQuote = strayQuote
        }
    }

    /// One record of the input, in file order.
    public enum Item: Sendable, Equatable {
        case record(Record)
        case malformed(Malformed)

        public var line: Int {
            switch self {
            case .record(let r): r.line
            case .malformed(let m): m.line
            }
        }
    }

    /// The input cannot be read as CSV at all.
    public struct Unreadable: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { "not readable as CSV: \(reason)" }
    }

    /// Quoted fields left open at the end of the input after which the input is declared unreadable (each
    /// one makes the reader go back to the line after the record's start).
    public static let maxUnterminatedQuotes = 100

    public let items: [Item]

    /// The fields of the records read (malformed ones left out: see `malformed`).
    public var rows: [[String]] { items.compactMap { if case .record(let r) = $0 { r.fields } else { nil } } }
    public var records: [Record] { items.compactMap { if case .record(let r) = $0 { r } else { nil } } }
    public var malformed: [Malformed] { items.compactMap { if case .malformed(let m) = $0 { m } else { nil } } }

    /// Parses `data`. Throws `Unreadable` only for more than `maxUnterminatedQuotes` quoted fields left
    /// open at the end; single bad records are `Malformed` items.
    public init(data: Data) throws {
        items = try Self.parse(Array(data))
    }

    /// Reads and parses the file at `path`. Throws `CocoaError` when the file cannot be read, or `Unreadable`.
    public init(contentsOf path: String) throws {
        try self.init(data: try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func parse(_ bytes: [UInt8]) throws -> [Item] {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        var items: [Item] = []
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        var unterminated = 0

        /// Index just past the next LF at or after `from` (or the end), and how many LFs that passed.
        func skipLine(from: Int) -> (next: Int, lines: Int) {
            var j = from
            while j < bytes.count, bytes[j] != lf { j += 1 }
            return j < bytes.count ? (j + 1, 1) : (j, 0)
        }

        recordLoop: while i < bytes.count {
            let recordStart = i, recordLine = line
            var fields: [[UInt8]] = []
            var field: [UInt8] = []
            var stray = false
            enum State { case fieldStart, unquoted, quoted, afterQuote }
            var state = State.fieldStart
            /// Rejects the record and resumes after the end of the current physical line.
            func reject(_ kind: Malformation, _ detail: String, at position: Int) -> (Int, Int) {
                items.append(.malformed(Malformed(line: recordLine, kind: kind, detail: detail)))
                return skipLine(from: position)
            }
            while true {
                guard i < bytes.count else {
                    if state == .quoted {
                        unterminated += 1
                        guard unterminated <= maxUnterminatedQuotes else {
                            throw Unreadable(reason: "more than \(maxUnterminatedQuotes) quoted fields never closed (the last opened in the record of line \(recordLine))")
                        }
                        items.append(.malformed(Malformed(
                            line: recordLine, kind: .unterminatedQuote,
                            detail: "field \(fields.count + 1): quoted field never closed (reading resumes on line \(recordLine + 1))")))
                        let (next, _) = skipLine(from: recordStart)
                        i = next
                        line = recordLine + 1
                        continue recordLoop
                    }
                    fields.append(field)
                    break
                }
                let b = bytes[i]
                switch state {
                case .quoted:
                    if b == quote {
                        if i + 1 < bytes.count, bytes[i + 1] == quote {
                            field.append(quote)
                            i += 2
                            continue
                        }
                        state = .afterQuote
                    } else {
                        if b == lf { line += 1 }
                        field.append(b)
                    }
                    i += 1
                    continue
                case .fieldStart where b == quote:
                    state = .quoted
                    i += 1
                    continue
                case .afterQuote where b != comma && b != lf && b != cr:
                    let (next, lines) = reject(.textAfterClosingQuote,
                                               "field \(fields.count + 1): text after the closing quote", at: i)
                    (i, line) = (next, line + lines)
                    continue recordLoop
                default:
                    break
                }
                // Outside quotes.
                if b == comma {
                    fields.append(field)
                    field.removeAll(keepingCapacity: true)
                    state = .fieldStart
                    i += 1
                } else if b == lf || (b == cr && i + 1 < bytes.count && bytes[i + 1] == lf) {
                    fields.append(field)
                    i += b == lf ? 1 : 2
                    line += 1
                    break
                } else if b == cr {
                    let (next, lines) = reject(.bareCR, "field \(fields.count + 1): carriage return (CR) not followed by a line feed", at: i)
                    (i, line) = (next, line + lines)
                    continue recordLoop
                } else {
                    if b == quote { stray = true }
                    field.append(b)
                    state = .unquoted
                    i += 1
                }
            }
            var texts: [String] = []
            texts.reserveCapacity(fields.count)
            for (n, f) in fields.enumerated() {
                guard let text = String(validating: f, as: UTF8.self) else {
                    items.append(.malformed(Malformed(line: recordLine, kind: .invalidUTF8,
                                                      detail: "field \(n + 1): not valid UTF-8")))
                    continue recordLoop
                }
                texts.append(text)
            }
            items.append(.record(Record(line: recordLine, fields: texts, strayQuote: stray)))
        }
        return items
    }
}
