import Foundation
import Synchronization

/// Severity of a log line, lowest first.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case trace, debug, info, warning, error

    /// Parses `trace|debug|info|warning|warn|error` (case-insensitive).
    public init?(name: String) {
        switch name.lowercased() {
        case "trace": self = .trace
        case "debug": self = .debug
        case "info": self = .info
        case "warning", "warn": self = .warning
        case "error": self = .error
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Structured logger: one line per event on stderr, `key=value` pairs, values quoted when they contain
/// spaces, quotes, `=` or backslashes, and escaped (`quote`): control and invisible characters appear as
/// `\u{XX}`, never raw.
///
/// Line shape: `ts=2026-11-29T09:47:28.123Z level=info node=a event=association.up peer=127.0.0.1:7102#…`.
/// Thread-safe; a line is written with one `write(2)` so lines from different threads never interleave.
public struct Logger: Sendable {
    public var level: LogLevel
    /// Fixed pairs prepended to every line (e.g. `node=…`).
    public var context: [(String, String)] {
        get { _context.pairs }
        set { _context = Pairs(pairs: newValue) }
    }
    private var _context: Pairs
    private let sink: LogSink

    struct Pairs: @unchecked Sendable { var pairs: [(String, String)] }  // tuples of Strings: immutable values

    /// - Parameters:
    ///   - level: lines below this level are dropped.
    ///   - context: pairs put on every line.
    ///   - sink: where lines go; default stderr.
    public init(level: LogLevel = .info, context: [(String, String)] = [], sink: LogSink = .standardError) {
        self.level = level
        self._context = Pairs(pairs: context)
        self.sink = sink
    }

    /// A copy with one more context pair.
    public func with(_ key: String, _ value: String) -> Logger {
        var copy = self
        copy._context.pairs.append((key, value))
        return copy
    }

    public func trace(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.trace, event, fields) }
    public func debug(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.debug, event, fields) }
    public func info(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.info, event, fields) }
    public func warning(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.warning, event, fields) }
    public func error(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { log(.error, event, fields) }

    public func isEnabled(_ l: LogLevel) -> Bool { l >= level }

    public func log(_ l: LogLevel, _ event: String, _ fields: KeyValuePairs<String, Any>) {
        guard l >= level else { return }
        var line = "ts=\(Logger.timestamp()) level=\(l)"
        for (k, v) in _context.pairs { line += " \(k)=\(Logger.quote(v))" }
        line += " event=\(Logger.quote(event))"
        for (k, v) in fields { line += " \(k)=\(Logger.quote(String(describing: v)))" }
        line += "\n"
        sink.write(line)
    }

    /// Formats a value: quoted when it contains spaces, quotes, `=`, backslashes or anything escaped; control
    /// characters, format characters (bidi overrides, zero-width), separators other than the plain space,
    /// private-use, unassigned and surrogate code points are written as `\u{XX}` (`\n`, `\t`, `\r` as such), so a
    /// value from the network (cluster or host name, path, target, reason) can neither forge a line nor hide
    /// text. Applied to every value of every line, context included.
    static func quote(_ s: String) -> String {
        if s.isEmpty { return "\"\"" }
        let needs = s.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || mustEscape($0) }
        guard needs else { return s }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if mustEscape(u) {
                    out += "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// Scalars never written raw: C0/C1 controls and DEL, format characters, line/paragraph separators, spaces
    /// other than U+0020, private use, surrogates and unassigned code points.
    static func mustEscape(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x20 || (0x7F...0x9F).contains(u.value) { return true }
        if u.isASCII { return false }
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator, .privateUse, .surrogate,
             .unassigned:
            return true
        default:
            return false
        }
    }

    func sinkWrite(_ line: String) { sink.write(line) }

    static func timestamp() -> String {
        var tv = timespec()
        clock_gettime(CLOCK_REALTIME, &tv)
        var t = time_t(tv.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let ms = Int(tv.tv_nsec) / 1_000_000
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T"
            + "\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }
}

/// Lets at most one line per key through per interval, and tells how many were held back since the last one.
/// Keys are fixed event names chosen by the code (never values from the network), so the table stays small.
/// Thread-safe.
public final class LogRateLimiter: Sendable {
    private struct Slot {
        var lastNs: UInt64
        var suppressed: Int
    }

    private let intervalNs: UInt64
    private let slots = Mutex<[String: Slot]>([:])

    /// - Parameter interval: at most one line per key per interval; zero or negative lets every line through.
    public init(interval: Duration) {
        intervalNs = UInt64(max(0, interval.components.seconds) * 1_000_000_000
                            + max(0, interval.components.attoseconds) / 1_000_000_000)
    }

    /// nil: hold this line back (counted). Otherwise the number of lines held back since the last one let through.
    public func admit(_ key: String) -> Int? { admit(key, nowNs: Monotonic.nowNs()) }

    /// `admit(_:)` at a given monotonic time in ns (tests).
    public func admit(_ key: String, nowNs: UInt64) -> Int? {
        guard intervalNs > 0 else { return 0 }
        return slots.withLock { table -> Int? in
            if var slot = table[key] {
                guard nowNs &- slot.lastNs >= intervalNs else {
                    slot.suppressed += 1
                    table[key] = slot
                    return nil
                }
                let held = slot.suppressed
                table[key] = Slot(lastNs: nowNs, suppressed: 0)
                return held
            }
            table[key] = Slot(lastNs: nowNs, suppressed: 0)
            return 0
        }
    }
}

extension Logger {
    /// Logs `event` at `level` unless `limiter` held back a line with the same key (default: the event name)
    /// within its interval; a line let through carries `suppressed=N`, the lines held back since the previous one.
    public func logLimited(_ limiter: LogRateLimiter, _ level: LogLevel, _ event: String, key: String? = nil,
                           _ fields: KeyValuePairs<String, Any>) {
        guard isEnabled(level), let held = limiter.admit(key ?? event) else { return }
        guard held > 0 else {
            log(level, event, fields)
            return
        }
        var line = "ts=\(Logger.timestamp()) level=\(level)"
        for (k, v) in context { line += " \(k)=\(Logger.quote(v))" }
        line += " event=\(Logger.quote(event))"
        for (k, v) in fields { line += " \(k)=\(Logger.quote(String(describing: v)))" }
        line += " suppressed=\(held)\n"
        sinkWrite(line)
    }
}

/// Destination of log lines.
public final class LogSink: Sendable {
    private let fd: Int32?
    private let capture: Bool
    private let lines = Mutex<[String]>([])

    private init(fd: Int32?, capture: Bool) {
        self.fd = fd
        self.capture = capture
    }

    /// Writes each line to file descriptor 2.
    public static let standardError = LogSink(fd: 2, capture: false)
    /// Drops everything.
    public static let discard = LogSink(fd: nil, capture: false)
    /// Keeps lines in memory (tests).
    public static func capturing() -> LogSink { LogSink(fd: nil, capture: true) }

    /// Lines captured so far (only for `capturing()` sinks).
    public var captured: [String] { lines.withLock { $0 } }

    func write(_ line: String) {
        if let fd {
            var bytes = Array(line.utf8)
            _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        } else if capture {
            lines.withLock { $0.append(line) }
        }
    }
}
