import Foundation
import Glibc

/// The physical floor for the benchmarks: plain blocking POSIX TCP sockets on 127.0.0.1 with TCP_NODELAY,
/// no framing, no actor system — what a C ping-pong measures, run in the same process and the same run.
enum RawLoopback {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A connected client/server socket pair; the server end runs `serve` on its own thread.
    final class Pair: @unchecked Sendable {  // fds are plain ints handed to one thread each
        let client: Int32
        let server: Int32
        private let listener: Int32

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.listener = listener
            guard listener >= 0 else { throw Failure(description: "socket: errno \(errno)") }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                    bind(listener, sp, len) == 0 && listen(listener, 1) == 0 && getsockname(listener, sp, &len) == 0
                }
            }
            guard ok else { throw Failure(description: "bind/listen: errno \(errno)") }
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.client = client
            let connected = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, len) == 0 }
            }
            guard connected else { throw Failure(description: "connect: errno \(errno)") }
            server = accept(listener, nil, nil)
            guard server >= 0 else { throw Failure(description: "accept: errno \(errno)") }
            var one: Int32 = 1
            for fd in [client, server] {
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
        }

        deinit {
            close(client)
            close(server)
            close(listener)
        }
    }

    static func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < buf.count {
            let n = send(fd, buf.baseAddress! + off, buf.count - off, Int32(MSG_NOSIGNAL))
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    static func readAll(_ fd: Int32, _ buf: UnsafeMutableRawBufferPointer) -> Bool {
        var off = 0
        while off < buf.count {
            let n = recv(fd, buf.baseAddress! + off, buf.count - off, 0)
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// Starts an echo loop on `fd` (messages of `size` bytes, `count` of them) on a new thread.
    static func echo(_ fd: Int32, size: Int, count: Int) -> Thread {
        let t = Thread {
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
            defer { buf.deallocate() }
            for _ in 0..<count {
                guard readAll(fd, buf), writeAll(fd, UnsafeRawBufferPointer(buf)) else { return }
            }
        }
        t.start()
        return t
    }

    /// One outstanding `size`-byte request/reply at a time; returns each round trip in µs.
    static func pingPong(count: Int, size: Int) throws -> [Double] {
        let pair = try Pair()
        _ = echo(pair.server, size: size, count: count)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buf.deallocate() }
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let t0 = ContinuousClock.now
            guard writeAll(pair.client, UnsafeRawBufferPointer(buf)), readAll(pair.client, buf) else {
                throw Failure(description: "ping-pong broke")
            }
            samples.append(microseconds(ContinuousClock.now - t0))
        }
        return samples
    }

    /// `depth` requests outstanding (each its own write); returns elapsed seconds for `count` round trips.
    static func pipeline(count: Int, depth: Int, size: Int) throws -> Double {
        let pair = try Pair()
        _ = echo(pair.server, size: size, count: count)
        let window = DispatchSemaphore(value: depth)
        let done = DispatchSemaphore(value: 0)
        let fd = pair.client
        let reader = Thread {
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
            defer { buf.deallocate() }
            for _ in 0..<count {
                guard readAll(fd, buf) else { break }
                window.signal()
            }
            done.signal()
        }
        let t0 = ContinuousClock.now
        reader.start()
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buf.deallocate() }
        for _ in 0..<count {
            window.wait()
            guard writeAll(fd, UnsafeRawBufferPointer(buf)) else { throw Failure(description: "pipeline broke") }
        }
        done.wait()
        return seconds(ContinuousClock.now - t0)
    }

    /// One-way `size`-byte messages, one write(2) each; returns elapsed seconds until all were read.
    static func stream(count: Int, size: Int) throws -> Double {
        let pair = try Pair()
        let done = DispatchSemaphore(value: 0)
        let fd = pair.server
        let total = count * size
        let reader = Thread {
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
            defer { buf.deallocate() }
            var got = 0
            while got < total {
                let n = recv(fd, buf.baseAddress, min(buf.count, total - got), 0)
                if n <= 0 { break }
                got += n
            }
            done.signal()
        }
        let t0 = ContinuousClock.now
        reader.start()
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buf.deallocate() }
        for _ in 0..<count {
            guard writeAll(pair.client, UnsafeRawBufferPointer(buf)) else { throw Failure(description: "stream broke") }
        }
        done.wait()
        return seconds(ContinuousClock.now - t0)
    }
}

func microseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
