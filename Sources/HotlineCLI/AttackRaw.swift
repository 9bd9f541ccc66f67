import ActorCluster
import Foundation
import Glibc

/// Raw TCP attackers for `hotline bench attack`: blocking POSIX sockets to 127.0.0.1 that speak the documented
/// wire protocol (`Docs/wire-protocol.md`) with the public `Handshake`, `Wire.FrameParser` and `Wire.ByteWriter`,
/// and nothing of the transport's own logic.
/// Also the raw peer of the hostile-input tests (`HostileInputTests`).
final class RawConn: @unchecked Sendable {  // one thread uses a connection at a time
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var isOpen = true
    private var fdClosed = false

    enum Read: CustomStringConvertible {
        case frame(Wire.FrameKind, [UInt8])
        case closed
        case timeout
        case malformed

        var description: String {
            switch self {
            case .frame(let k, let p): "\(k) frame of \(p.count) bytes"
            case .closed: "closed"
            case .timeout: "timeout"
            case .malformed: "malformed"
            }
        }
    }

    private init(fd: Int32) { self.fd = fd }

    /// Connects to 127.0.0.1:`port`. `receiveBuffer` (bytes) is set before connecting (a small one makes a
    /// slow consumer). Closing sends a reset (SO_LINGER 0), so no TIME_WAIT piles up on this side.
    /// Returns nil and the errno when the connect fails.
    static func connect(port: UInt16, receiveBuffer: Int? = nil, sendTimeoutSeconds: Int = 5) -> (RawConn?, Int32) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return (nil, errno) }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        var tv = timeval(tv_sec: sendTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            return (nil, e)
        }
        return (RawConn(fd: fd), 0)
    }

    /// Writes everything (each write bounded by the send timeout). False when it could not.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        guard isOpen else { return false }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                isOpen = false
                return false
            }
            offset += n
        }
        return true
    }

    /// Reads the next frame within `timeoutMs` (the next one other than a heartbeat when `skippingHeartbeats`).
    func readFrame(timeoutMs: Int, skippingHeartbeats: Bool = false) -> Read {
        let parser = Wire.FrameParser(maxFrameBytes: Wire.maxFrameBytesCeiling)
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while true {
            switch parser.parse(buffer[...]) {
            case .frame(let frame, let consumed):
                let result = Read.frame(frame.kind, Array(frame.payload))
                buffer.removeFirst(consumed)
                if skippingHeartbeats && frame.kind == .heartbeat { continue }
                return result
            case .error:
                return .malformed
            case .needMore:
                break
            }
            let left = deadline - .now
            if left <= .zero { return .timeout }
            guard readSome(timeoutMs: max(1, Int(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))) else {
                return isOpen ? .timeout : .closed
            }
        }
    }

    /// Reads what arrives within `timeoutMs` into the buffer. False on timeout or close (then `isOpen` is false).
    private func readSome(timeoutMs: Int) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeoutMs)) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 {
            isOpen = false
            return false
        }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// Discards whatever has arrived, without waiting. False when the node closed the connection.
    func drain() -> Bool {
        guard isOpen else { return false }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { continue }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                isOpen = false
                return false
            }
            return true
        }
    }

    /// Waits up to `timeoutMs` for the node to close the connection (discarding what it sends). True when it did.
    func waitClosed(timeoutMs: Int) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while isOpen && ContinuousClock.now < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 50) > 0 { _ = drain() }
        }
        return !isOpen
    }

    func close() {
        if !fdClosed {
            Glibc.close(fd)
            fdClosed = true
        }
        isOpen = false
    }

    deinit { close() }
}

enum RawAttacker {
    /// How a raw handshake ended.
    enum HandshakeOutcome: Equatable {
        case accepted
        case rejected(String)
        case failed(String)

        var label: String {
            switch self {
            case .accepted: "accepted"
            case .rejected(let why): "rejected: \(why)"
            case .failed(let why): why
            }
        }
    }

    /// Runs the dialer's side of the handshake as `identity` (`.open`: no proof, a stranger).
    static func handshake(_ c: RawConn, auth: ClusterAuth, identity: NodeIdentity, cluster: String = "hotline",
                          timeoutMs: Int = 5_000) -> HandshakeOutcome {
        var machine = Handshake.Machine(role: .dialer, local: identity, clusterName: cluster, versions: 1...1, auth: auth)
        guard c.send(Wire.FrameParser.encode(.handshakeOffer, payload: machine.makeOffer().encode())) else {
            return .failed("offer not sent")
        }
        for _ in 0..<2 {
            switch c.readFrame(timeoutMs: timeoutMs) {
            case .frame(let kind, let payload):
                switch machine.receive(kind, payload: payload[...], phaseOf: { _ in .none }) {
                case .send(let k, let bytes):
                    guard c.send(Wire.FrameParser.encode(k, payload: bytes)) else { return .failed("response not sent") }
                case .established: return .accepted
                case .rejected(let reject): return .rejected("\(reject.reason)")
                case .authFailed: return .failed("node's proof refused")
                case .violation(let why): return .failed("violation: \(why)")
                case .accept, .reject: return .failed("acceptor step on a dialer")
                }
            case .closed: return .failed("closed")
            case .timeout: return .failed("timeout")
            case .malformed: return .failed("malformed frame")
            }
        }
        return .failed("no accept")
    }

    /// The envelope of a call after its callID (recipient, target, no generics, `arguments`).
    static func callBody(recipient: String, target: String, arguments: [[UInt8]]) -> [UInt8] {
        var w = Wire.ByteWriter(capacity: 64 + arguments.reduce(0) { $0 + $1.count + 5 })
        w.writeString(recipient)
        w.writeString(target)
        w.writeVarint(0)
        w.writeVarint(UInt64(arguments.count))
        for a in arguments { w.writeLengthPrefixed(a) }
        return w.bytes
    }

    /// A whole call frame: `callID` then `body`.
    static func callFrame(id: UInt64, body: [UInt8]) -> [UInt8] {
        var w = Wire.ByteWriter(capacity: body.count + 10)
        w.writeVarint(id)
        w.bytes.append(contentsOf: body)
        return Wire.FrameParser.encode(.call, payload: w.bytes)
    }

    /// Status byte of a reply payload (0 value … 8 overloaded), nil when it does not decode.
    static func replyStatus(_ payload: [UInt8]) -> UInt8? {
        var r = Wire.ByteReader(payload)
        guard (try? r.readVarint()) != nil, let status = try? r.readUInt8() else { return nil }
        return status
    }

    static let statusNames = ["value", "void", "thrown", "noSuchActor", "invocationFailed", "noSuchTarget",
                              "resultTooLarge", "notPermitted", "overloaded"]

    static func statusName(_ s: UInt8?) -> String {
        guard let s else { return "undecodable" }
        return Int(s) < statusNames.count ? statusNames[Int(s)] : "status\(s)"
    }

    static let heartbeat = Wire.FrameParser.encode(.heartbeat, payload: [UInt8]())

    /// TCP ports of 127.0.0.1 / 0.0.0.0 in LISTEN state (IPv4 and IPv6), from /proc/net.
    static func listeningPorts() -> Set<UInt16> {
        var ports: Set<UInt16> = []
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = NodeProcess.procFileText(file) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let cols = line.split(separator: " ", omittingEmptySubsequences: true)
                guard cols.count > 3, cols[3] == "0A", let colon = cols[1].lastIndex(of: ":"),
                      let port = UInt16(cols[1][cols[1].index(after: colon)...], radix: 16) else { continue }
                ports.insert(port)
            }
        }
        return ports
    }
}
