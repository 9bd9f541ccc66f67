import Foundation

/// A plain-text table with aligned columns. Width counts East Asian wide characters (Chinese) as 2 columns.
public struct TextTable: Hashable, Sendable {
    public var headers: [String]
    public var rows: [[String]]
    /// Column indexes aligned right (numbers).
    public var rightAligned: Set<Int>

    public init(headers: [String], rows: [[String]], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rows = rows
        self.rightAligned = rightAligned
    }

    /// Header, a dashed rule, then the rows; columns separated by two spaces; no trailing spaces.
    public func render() -> String {
        let columns = max(headers.count, rows.map(\.count).max() ?? 0)
        func cell(_ row: [String], _ i: Int) -> String { i < row.count ? row[i] : "" }
        let widths = (0..<columns).map { i in
            ([headers] + rows).map { Self.displayWidth(cell($0, i)) }.max() ?? 0
        }
        func line(_ row: [String]) -> String {
            let cells = (0..<columns).map { i -> String in
                let text = cell(row, i)
                let pad = String(repeating: " ", count: max(0, widths[i] - Self.displayWidth(text)))
                return rightAligned.contains(i) ? pad + text : text + pad
            }
            var result = cells.joined(separator: "  ")
            while result.last == " " { result.removeLast() }
            return result
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(headers), rule] + rows.map(line)).joined(separator: "\n")
    }

    /// Terminal columns a string occupies (wide CJK characters count 2).
    public static func displayWidth(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { sum, scalar in
            let v = scalar.value
            let wide = (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
                || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
            return sum + (wide ? 2 : 1)
        }
    }
}
