import CEpoll
import Glibc

/// Owns one socket descriptor and closes it when the last reference goes away, so a thread still writing to it
/// (a sending thread holding the flusher role) can never write into a reused descriptor number. Closing the
/// *connection* early is done with `shutdown(2)` (`Socket.shutdown`).
final class SocketHandle: Sendable {
    let fd: Int32
    /// Token under which the fd is registered with the event loop.
    let token: UInt64

    init(fd: Int32, token: UInt64) {
        self.fd = fd
        self.token = token
    }

    deinit { _ = Glibc.close(fd) }
}

/// Outcome of one non-blocking read or write.
enum IOResult: Equatable {
    /// Bytes transferred (> 0).
    case bytes(Int)
    /// EAGAIN / EWOULDBLOCK.
    case wouldBlock
    /// Orderly close by the peer (read returned 0).
    case eof
    /// Any other errno (ECONNRESET, EPIPE, ...).
    case error(Int32)
}

/// Thin POSIX helpers (IPv4 TCP, non-blocking, close-on-exec).
enum Socket {
    static func errorText(_ e: Int32) -> String {
        guard let p = strerror(e) else { return "errno \(e)" }
        return String(cString: p)
    }

    /// IPv4 address of `host`: a dotted literal, "localhost", or (blocking) `getaddrinfo` for other names. Used
    /// only by `listen` (called from `start`, never on the I/O thread); dials resolve through `HostResolver`.
    static func resolveIPv4(_ host: String) -> in_addr? {
        if let addr = literalIPv4(host) { return addr }
        guard case .ipv4(let text) = systemResolve(host) else { return nil }
        return literalIPv4(text)
    }

    static func makeSockaddr(_ addr: in_addr, port: UInt16) -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr = addr
        return sa
    }

    /// Creates a non-blocking listening socket with SO_REUSEADDR bound to `address` (port 0 = ephemeral).
    /// - Returns: the fd and the bound port.
    /// - Throws: `TransportError.bindFailed` with the failing call's errno.
    static func listen(on address: NodeAddress, backlog: Int32 = 512) throws(TransportError) -> (fd: Int32, port: UInt16) {
        guard let ip = resolveIPv4(address.host) else {
            throw .bindFailed(address, errno: EINVAL, message: "cannot resolve host \(address.host)")
        }
        let fd = cepoll_tcp_socket()
        guard fd >= 0 else {
            let e = cepoll_errno()
            throw .bindFailed(address, errno: e, message: "socket: \(errorText(e))")
        }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sa = makeSockaddr(ip, port: address.port)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let e = cepoll_errno()
            _ = Glibc.close(fd)
            throw .bindFailed(address, errno: e, message: "bind: \(errorText(e))")
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let e = cepoll_errno()
            _ = Glibc.close(fd)
            throw .bindFailed(address, errno: e, message: "listen: \(errorText(e))")
        }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let gr = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard gr == 0 else {
            let e = cepoll_errno()
            _ = Glibc.close(fd)
            throw .bindFailed(address, errno: e, message: "getsockname: \(errorText(e))")
        }
        return (fd, UInt16(bigEndian: bound.sin_port))
    }

    /// The reason of a dial whose TCP connect was refused (ECONNREFUSED); every refused dial says exactly this
    /// (`TransportError.isConnectionRefused` relies on it).
    static let connectRefusedReason = "connect: " + errorText(ECONNREFUSED)

    /// The reason of a failed TCP connect (`errno` from `connect` or `SO_ERROR`).
    static func connectFailureReason(_ e: Int32) -> String {
        e == ECONNREFUSED ? connectRefusedReason : "connect: " + errorText(e)
    }

    enum ConnectStart {
        /// Connected at once (rare; loopback may do it).
        case connected
        /// EINPROGRESS: wait for EPOLLOUT, then check `pendingError`.
        case inProgress
        case failed(Int32, String)
    }

    /// Starts a non-blocking connect of `fd` to `ip:port` (no name lookup here: it never blocks).
    static func startConnect(fd: Int32, to ip: in_addr, port: UInt16) -> ConnectStart {
        var sa = makeSockaddr(ip, port: port)
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc == 0 { return .connected }
        let e = cepoll_errno()
        if e == EINPROGRESS || e == EINTR { return .inProgress }
        return .failed(e, errorText(e))
    }

    /// SO_ERROR of a socket (0 = connected fine).
    static func pendingError(fd: Int32) -> Int32 {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 else { return cepoll_errno() }
        return err
    }

    static func setNoDelay(fd: Int32) {
        _ = cepoll_set_nodelay(fd)
    }

    /// `ip:port` of the remote end, or "?" when unknown.
    /// True when the socket's peer is in 127.0.0.0/8 (a local process).
    static func peerIsLoopback(fd: Int32) -> Bool {
        var sa = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        guard rc == 0, sa.sin_family == sa_family_t(AF_INET) else { return false }
        return UInt32(bigEndian: sa.sin_addr.s_addr) >> 24 == 127
    }

    static func peerName(fd: Int32) -> String {
        var sa = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        guard rc == 0 else { return "?" }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN) + 1)
        var addr = sa.sin_addr
        guard inet_ntop(AF_INET, &addr, &text, socklen_t(INET_ADDRSTRLEN)) != nil else { return "?" }
        let host = String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return "\(host):\(UInt16(bigEndian: sa.sin_port))"
    }

    /// One `read(2)` into `pointer[0..<count]`, retrying EINTR a few times.
    static func read(fd: Int32, into pointer: UnsafeMutableRawPointer, count: Int) -> IOResult {
        var attempts = 0
        while true {
            let n = Glibc.read(fd, pointer, count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .eof }
            let e = cepoll_errno()
            if e == EINTR && attempts < 8 {
                attempts += 1
                continue
            }
            if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return .wouldBlock }
            return .error(e)
        }
    }

    /// One `send(2)` with MSG_NOSIGNAL from `pointer[0..<count]`, retrying EINTR a few times.
    static func write(fd: Int32, from pointer: UnsafeRawPointer, count: Int) -> IOResult {
        var attempts = 0
        while true {
            let n = cepoll_send(fd, pointer, UInt(count))
            if n > 0 { return .bytes(n) }
            if n == 0 { return .wouldBlock }
            let e = cepoll_errno()
            if e == EINTR && attempts < 8 {
                attempts += 1
                continue
            }
            if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return .wouldBlock }
            return .error(e)
        }
    }

    /// `shutdown(fd, SHUT_RDWR)`: the peer sees EOF at once; the descriptor itself closes with its `SocketHandle`.
    static func shutdown(fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }
}
