/// Limits of the admin port's HTTP/1.1 server. Each bounds memory or time a client can hold.
public struct HTTPLimits: Sendable, Equatable {
    /// Longest request line (method, target, version), CRLF excluded: beyond it 414.
    public var maxRequestLineBytes = 8 << 10
    /// Bytes of all header lines together: beyond it 431.
    public var maxHeaderBytes = 16 << 10
    /// Header fields per request: beyond it 431.
    public var maxHeaderFields = 100
    /// Largest request body (Content-Length): beyond it 413.
    public var maxBodyBytes = 64 << 10

    public init() {}
}

/// One parsed HTTP/1.x request.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The request target as sent (origin form: starts with `/`).
    public var target: String
    /// `target` without its query.
    public var path: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// Fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first value of the field `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }

    /// Whether the connection stays open after the answer: HTTP/1.1 unless `Connection: close`; HTTP/1.0 only
    /// with `Connection: keep-alive`.
    public var keepAlive: Bool {
        let tokens = headers.filter { $0.name.lowercased() == "connection" }
            .flatMap { $0.value.lowercased().split(separator: ",").map { $0.trimmingSpaces } }
        if tokens.contains("close") { return false }
        return minorVersion >= 1 || tokens.contains("keep-alive")
    }

    public static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.target == b.target && a.minorVersion == b.minorVersion && a.body == b.body
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }
}

/// Why a request was refused: the status to answer with (the connection is closed afterwards).
public struct HTTPError: Error, Sendable, Equatable {
    public var status: Int
    public var message: String
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Incremental HTTP/1.1 request parser: a pure value fed bytes as they arrive, handing back complete requests
/// in order (pipelining). No chunked request bodies (411), no obsolete line folding (400).
///
/// After an error the parser stays failed: the connection answers the error and closes, since the stream can
/// no longer be framed.
public struct HTTPRequestParser: Sendable {
    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var failed: HTTPError?
    /// What the last incomplete parse waits for: nothing can change before it, so `next` does not re-parse
    /// (a client sending a byte at a time costs one parse per line, not one per byte).
    private var waiting: Wait?
    private var lineEndSinceParse = false

    /// What an incomplete request needs before parsing again can give another answer.
    enum Wait: Equatable {
        /// A line end, or more than this many buffered bytes (a limit would then be passed).
        case line(limitAt: Int)
        /// At least this many buffered bytes (the body).
        case bytes(Int)
    }

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Bytes received and not yet part of a returned request.
    public var bufferedBytes: Int { buffer.count }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard failed == nil else { return }
        buffer.append(contentsOf: bytes)
        if !lineEndSinceParse, bytes.contains(Self.lf) { lineEndSinceParse = true }
    }

    /// The next complete request, an error, or nil when more bytes are needed.
    public mutating func next() -> Result<HTTPRequest, HTTPError>? {
        if let failed { return .failure(failed) }
        switch waiting {
        case .line(let limitAt)? where !lineEndSinceParse && buffer.count <= limitAt: return nil
        case .bytes(let n)? where buffer.count < n: return nil
        default: break
        }
        lineEndSinceParse = false
        do {
            var wait = Wait.bytes(0)
            guard let (request, consumed) = try Self.parse(buffer[...], limits: limits, wait: &wait) else {
                waiting = wait
                return nil
            }
            waiting = nil
            buffer.removeFirst(consumed)
            if buffer.contains(Self.lf) { lineEndSinceParse = true }
            return .success(request)
        } catch {
            failed = error
            buffer = []
            return .failure(error)
        }
    }

    private static let cr: UInt8 = 13, lf: UInt8 = 10, space: UInt8 = 32, tab: UInt8 = 9, colon: UInt8 = 58

    /// Index of the LF ending the line that starts at `from`, nil when none yet.
    private static func lineEnd(_ b: ArraySlice<UInt8>, from: Int) -> Int? {
        var i = from
        while i < b.endIndex {
            if b[i] == lf { return i }
            i += 1
        }
        return nil
    }

    /// Text of the line `start..<lf` without its CR; a bare LF is tolerated, a CR anywhere else is not.
    private static func lineBytes(_ b: ArraySlice<UInt8>, _ start: Int, _ lfIndex: Int) throws(HTTPError) -> ArraySlice<UInt8> {
        var end = lfIndex
        if end > start, b[end - 1] == cr { end -= 1 }
        let line = b[start..<end]
        if line.contains(cr) { throw HTTPError(400, "bare CR in the request head") }
        return line
    }

    /// Parses one request from the front of `b`. nil = incomplete (within the limits).
    /// `wait`: set to what an incomplete request waits for.
    static func parse(_ b: ArraySlice<UInt8>, limits: HTTPLimits, wait: inout Wait) throws(HTTPError) -> (HTTPRequest, Int)? {
        var pos = b.startIndex
        // Empty lines before a request line are ignored (RFC 9112 §2.2), a few of them.
        var blank = 0
        while pos < b.endIndex, b[pos] == cr || b[pos] == lf {
            blank += 1
            if blank > 8 { throw HTTPError(400, "empty lines instead of a request line") }
            pos += 1
        }
        guard let requestLF = lineEnd(b, from: pos) else {
            if b.endIndex - pos > limits.maxRequestLineBytes {
                throw HTTPError(414, "request line longer than \(limits.maxRequestLineBytes) bytes")
            }
            wait = .line(limitAt: pos - b.startIndex + limits.maxRequestLineBytes)
            return nil
        }
        let requestLine = try lineBytes(b, pos, requestLF)
        if requestLine.count > limits.maxRequestLineBytes {
            throw HTTPError(414, "request line longer than \(limits.maxRequestLineBytes) bytes")
        }
        let (method, target, minor) = try requestLineParts(requestLine)

        // Header fields up to the empty line.
        let headStart = requestLF + 1
        var cursor = headStart
        var headers: [(name: String, value: String)] = []
        while true {
            guard let lfIndex = lineEnd(b, from: cursor) else {
                if b.endIndex - headStart > limits.maxHeaderBytes {
                    throw HTTPError(431, "header fields longer than \(limits.maxHeaderBytes) bytes")
                }
                wait = .line(limitAt: headStart - b.startIndex + limits.maxHeaderBytes)
                return nil
            }
            if lfIndex + 1 - headStart > limits.maxHeaderBytes + 2 {
                throw HTTPError(431, "header fields longer than \(limits.maxHeaderBytes) bytes")
            }
            let line = try lineBytes(b, cursor, lfIndex)
            cursor = lfIndex + 1
            if line.isEmpty { break }
            if line.first == space || line.first == tab {
                throw HTTPError(400, "obsolete header line folding is not accepted")
            }
            guard headers.count < limits.maxHeaderFields else {
                throw HTTPError(431, "more than \(limits.maxHeaderFields) header fields")
            }
            headers.append(try headerField(line))
        }

        // Body framing: Content-Length only.
        func all(_ name: String) -> [String] { headers.filter { $0.name.lowercased() == name }.map(\.value) }
        let transferEncodings = all("transfer-encoding")
        let lengths = all("content-length")
        if !transferEncodings.isEmpty {
            if !lengths.isEmpty { throw HTTPError(400, "both Transfer-Encoding and Content-Length") }
            throw HTTPError(411, "chunked or other transfer-coded request bodies are not accepted: send Content-Length")
        }
        var length = 0
        if !lengths.isEmpty {
            let values = lengths.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces } }
            guard let first = values.first, values.allSatisfy({ $0 == first }) else {
                throw HTTPError(400, "conflicting Content-Length values")
            }
            guard !first.isEmpty, first.utf8.count <= 18, first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let n = Int(first) else {
                throw HTTPError(400, "invalid Content-Length")
            }
            length = n
        }
        if length > limits.maxBodyBytes {
            throw HTTPError(413, "request body of \(length) bytes is over the limit of \(limits.maxBodyBytes)")
        }
        if minor == 1, headers.first(where: { $0.name.lowercased() == "host" }) == nil {
            throw HTTPError(400, "missing Host header")
        }
        guard b.endIndex - cursor >= length else {
            wait = .bytes(cursor - b.startIndex + length)
            return nil
        }
        let body = Array(b[cursor..<(cursor + length)])
        let path = String(target.prefix { $0 != "?" && $0 != "#" })
        let request = HTTPRequest(method: method, target: target, path: path, minorVersion: minor,
                                  headers: headers, body: body)
        return (request, cursor + length - b.startIndex)
    }

    /// `tchar` of RFC 9110 §5.6.2.
    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122: return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    private static func requestLineParts(_ line: ArraySlice<UInt8>) throws(HTTPError) -> (String, String, Int) {
        let parts = line.split(separator: space, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw HTTPError(400, "malformed request line: expected METHOD SP TARGET SP HTTP-VERSION")
        }
        guard parts[0].allSatisfy(isTokenByte) else { throw HTTPError(400, "malformed method") }
        // Origin form only (`/path?query`), visible ASCII.
        guard parts[1].first == UInt8(ascii: "/"), parts[1].allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw HTTPError(400, "malformed request target: expected an absolute path")
        }
        let version = String(decoding: parts[2], as: UTF8.self)
        let minor: Int
        switch version {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default: throw HTTPError(400, "unsupported HTTP version")
        }
        return (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self), minor)
    }

    private static func headerField(_ line: ArraySlice<UInt8>) throws(HTTPError) -> (name: String, value: String) {
        guard let colonIndex = line.firstIndex(of: colon), colonIndex > line.startIndex else {
            throw HTTPError(400, "malformed header field")
        }
        let name = line[line.startIndex..<colonIndex]
        guard name.allSatisfy(isTokenByte) else {
            throw HTTPError(400, "malformed header field name")
        }
        var value = line[(colonIndex + 1)...]
        while let f = value.first, f == space || f == tab { value = value.dropFirst() }
        while let l = value.last, l == space || l == tab { value = value.dropLast() }
        // Visible characters, spaces, tabs and obs-text; no other control characters.
        guard value.allSatisfy({ $0 == tab || ($0 >= 32 && $0 != 127) }) else {
            throw HTTPError(400, "control character in a header value")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
