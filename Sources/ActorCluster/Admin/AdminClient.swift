import CEpoll
import Glibc

/// A tiny blocking HTTP/1.1 client for the admin port (operator tools and tests): one request per connection
/// (`Connection: close`), bounded in time and size.
public enum AdminClient {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Largest response accepted.
    public static let maxResponseBytes = 4 << 20

    /// Sends `method path` to `address` (with `Authorization: Bearer` when `token` is given) and reads the answer.
    ///
    /// - Throws: `Failure` when the address cannot be reached, the answer is malformed, too large, or not
    ///   complete within `timeout`.
    public static func request(_ method: String = "GET", _ path: String, at address: NodeAddress, token: [UInt8]? = nil,
                               body: [UInt8] = [], timeout: Duration = .seconds(5)) throws(Failure) -> Response {
        let deadline = ContinuousClock.now + timeout
        guard let ip = Socket.resolveIPv4(address.host) else { throw Failure(description: "cannot resolve \(address.host)") }
        let fd = cepoll_tcp_socket()
        guard fd >= 0 else { throw Failure(description: "socket: \(Socket.errorText(cepoll_errno()))") }
        defer { _ = Glibc.close(fd) }
        switch Socket.startConnect(fd: fd, to: ip, port: address.port) {
        case .connected: break
        case .failed(_, let why): throw Failure(description: "cannot connect to \(address): \(why)")
        case .inProgress:
            try wait(fd, events: Int16(POLLOUT), deadline: deadline, what: "connect to \(address)")
            let e = Socket.pendingError(fd: fd)
            if e != 0 { throw Failure(description: "cannot connect to \(address): \(Socket.errorText(e))") }
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        if let token { head += "Authorization: Bearer \(String(decoding: token, as: UTF8.self))\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8) + body
        var sent = 0
        while sent < bytes.count {
            let r = bytes.withUnsafeBytes { Socket.write(fd: fd, from: $0.baseAddress! + sent, count: bytes.count - sent) }
            switch r {
            case .bytes(let n): sent += n
            case .wouldBlock: try wait(fd, events: Int16(POLLOUT), deadline: deadline, what: "send to \(address)")
            case .eof, .error: throw Failure(description: "connection to \(address) lost while sending")
            }
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            if let response = try parse(received) { return response }
            let r = chunk.withUnsafeMutableBytes { Socket.read(fd: fd, into: $0.baseAddress!, count: $0.count) }
            switch r {
            case .bytes(let n):
                received += chunk[0..<n]
                if received.count > maxResponseBytes { throw Failure(description: "answer larger than \(maxResponseBytes) bytes") }
            case .wouldBlock: try wait(fd, events: Int16(POLLIN), deadline: deadline, what: "answer from \(address)")
            case .eof, .error:
                if let response = try parse(received, complete: true) { return response }
                throw Failure(description: "connection to \(address) closed before a complete answer")
            }
        }
    }

    private static func wait(_ fd: Int32, events: Int16, deadline: ContinuousClock.Instant, what: String) throws(Failure) {
        while true {
            let left = deadline - .now
            guard left > .zero else { throw Failure(description: "timed out waiting for \(what)") }
            var pfd = pollfd(fd: fd, events: events, revents: 0)
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            let n = poll(&pfd, 1, ms)
            if n > 0 { return }
            if n < 0 && cepoll_errno() != EINTR { throw Failure(description: "poll: \(Socket.errorText(cepoll_errno()))") }
        }
    }

    /// A complete response at the front of `bytes`, nil when more is needed (`complete`: the peer closed).
    public static func parse(_ bytes: [UInt8], complete: Bool = false) throws(Failure) -> Response? {
        let crlf2: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { bytes[$0..<($0 + 4)].elementsEqual(crlf2) }) else {
            if complete { throw Failure(description: "malformed answer") }
            return nil
        }
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw Failure(description: "malformed status line")
        }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpacesAround)
        }
        let bodyStart = end + 4
        if let lengthText = headers.first(where: { $0.name.lowercased() == "content-length" })?.value {
            guard let length = Int(lengthText), length >= 0 else { throw Failure(description: "malformed Content-Length") }
            guard bytes.count - bodyStart >= length else {
                if complete { throw Failure(description: "answer shorter than its Content-Length") }
                return nil
            }
            return Response(status: status, headers: headers, body: Array(bytes[bodyStart..<(bodyStart + length)]))
        }
        guard complete else { return nil }
        return Response(status: status, headers: headers, body: Array(bytes[bodyStart...]))
    }
}

extension String {
    var trimmingSpacesAround: String {
        Substring(self).trimmingSpaces
    }
}
