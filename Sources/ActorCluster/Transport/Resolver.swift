import Foundation
import Glibc

/// What a host-name lookup found (`TransportSettings.resolveHost`).
public enum HostResolution: Sendable, Equatable {
    /// A dotted IPv4 address, e.g. "127.0.0.1".
    case ipv4(String)
    /// The name does not resolve (the reason is logged and reported with the failed dial).
    case failed(String)
}

extension Socket {
    /// Blocking `getaddrinfo` (AF_INET) for `host`; the first IPv4 address found.
    static func systemResolve(_ host: String) -> HostResolution {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        guard rc == 0, let first = result else {
            let text = gai_strerror(rc).map { String(cString: $0) } ?? "error \(rc)"
            return .failed("cannot resolve \(host): \(text)")
        }
        defer { freeaddrinfo(result) }
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        var steps = 0
        while let info = cursor, steps < 32 {
            steps += 1
            if info.pointee.ai_family == AF_INET, let sa = info.pointee.ai_addr {
                var addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN) + 1)
                if inet_ntop(AF_INET, &addr, &text, socklen_t(INET_ADDRSTRLEN)) != nil {
                    return .ipv4(String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
                }
            }
            cursor = info.pointee.ai_next
        }
        return .failed("cannot resolve \(host): no IPv4 address")
    }

    /// The dotted text of an IPv4 address ("127.0.0.1").
    static func dottedIPv4(_ address: in_addr) -> String {
        var addr = address
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN) + 1)
        guard inet_ntop(AF_INET, &addr, &text, socklen_t(INET_ADDRSTRLEN)) != nil else { return "" }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `host` as an IPv4 address without any lookup: a dotted literal, or "localhost" (127.0.0.1); nil for names.
    static func literalIPv4(_ host: String) -> in_addr? {
        var addr = in_addr()
        let literal = host == "localhost" ? "127.0.0.1" : host
        return inet_pton(AF_INET, literal, &addr) == 1 ? addr : nil
    }
}

/// Bounded cache of name resolutions: positive entries live `ttlNs`, failures `negativeTTLNs`; at `capacity`
/// expired entries are evicted first, then the oldest. Pure value (tested directly).
struct ResolverCache: Sendable {
    enum Value: Sendable, Equatable {
        case address(UInt32)  // s_addr, network byte order
        case failed(String)
    }

    private struct Entry: Sendable {
        var value: Value
        var expiresNs: UInt64
        var insertedNs: UInt64
    }

    let capacity: Int
    let ttlNs: UInt64
    let negativeTTLNs: UInt64
    private var entries: [String: Entry] = [:]

    init(capacity: Int, ttlNs: UInt64, negativeTTLNs: UInt64) {
        self.capacity = max(1, capacity)
        self.ttlNs = ttlNs
        self.negativeTTLNs = negativeTTLNs
    }

    var count: Int { entries.count }

    /// The unexpired value for `host` at `nowNs`.
    mutating func lookup(_ host: String, nowNs: UInt64) -> Value? {
        guard let e = entries[host] else { return nil }
        if e.expiresNs <= nowNs {
            entries[host] = nil
            return nil
        }
        return e.value
    }

    mutating func insert(_ host: String, _ value: Value, nowNs: UInt64) {
        let ttl: UInt64
        if case .failed = value { ttl = negativeTTLNs } else { ttl = ttlNs }
        guard ttl > 0 else { return }
        if entries[host] == nil, entries.count >= capacity {
            entries = entries.filter { $0.value.expiresNs > nowNs }
            if entries.count >= capacity, let oldest = entries.min(by: { $0.value.insertedNs < $1.value.insertedNs }) {
                entries[oldest.key] = nil
            }
        }
        entries[host] = Entry(value: value, expiresNs: nowNs &+ ttl, insertedNs: nowNs)
    }
}

/// Threads for blocking calls (`getaddrinfo`), apart from Dispatch's and Swift concurrency's pools: a call that
/// blocks for the system resolver's full retry time (10 s and more) holds one of these, never a thread that
/// tasks or other nodes' work need. At most `maxThreads` (created on demand, then kept idle); jobs beyond that
/// wait in a FIFO of at most `maxQueued`. One pool per process: every transport in it shares the bound.
final class BlockingThreadPool: @unchecked Sendable {
    static let shared = BlockingThreadPool(maxThreads: 32, maxQueued: 256)

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var jobs: [@Sendable () -> Void] = []
    private var idle = 0
    private var threads = 0
    let maxThreads: Int
    let maxQueued: Int

    init(maxThreads: Int, maxQueued: Int) {
        self.maxThreads = max(1, maxThreads)
        self.maxQueued = max(0, maxQueued)
    }

    /// Runs `job` on a pool thread. Returns false (and does nothing) when every thread is busy and the queue
    /// is full.
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        // Idle threads not yet claimed by queued jobs: a job beyond them needs a new thread.
        if jobs.count >= idle {
            if threads < maxThreads {
                threads += 1
                let thread = Thread { [self] in work() }
                thread.name = "hotline-blocking"
                thread.stackSize = 512 << 10
                thread.start()
            } else if jobs.count >= maxQueued {
                return false
            }
        }
        jobs.append(job)
        condition.signal()
        return true
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// Resolves dial host names off the I/O thread: lookups run on `BlockingThreadPool` threads (at most
/// `maxConcurrentResolutions` names at once per transport, one lookup per name: concurrent dials to one name share
/// it), results come back on the loop through `EventLoop.execute`, each waiter has its own timeout (a loop
/// timer), results are cached (failures and lookups that outlive their waiters' timeouts included, for the
/// negative TTL). All methods but the worker body run on the loop thread (hence `@unchecked Sendable`).
final class HostResolver: @unchecked Sendable {
    enum Outcome: Sendable {
        case address(in_addr)
        case failed(String)
    }

    private let loop: EventLoop
    private let resolveHost: @Sendable (String) -> HostResolution
    private let timeoutNs: Int64
    private let timeoutText: String
    private let maxInFlight: Int
    private let pool = BlockingThreadPool.shared
    private let lookups: Counter
    private let failures: Counter
    private let timeouts: Counter
    // Loop-confined.
    private var cache: ResolverCache
    private var inFlight: [String: [UInt64: Waiter]] = [:]
    /// When each running lookup started (monotonic ns).
    private var startedNs: [String: UInt64] = [:]
    private var nextWaiter: UInt64 = 1

    private struct Waiter {
        var timer: UInt64
        var completion: (Outcome) -> Void
    }

    init(loop: EventLoop, settings: TransportSettings, metrics: Metrics) {
        self.loop = loop
        self.resolveHost = settings.resolveHost
        self.timeoutNs = max(1_000_000, settings.resolveTimeout.nanoseconds)
        self.timeoutText = "name resolution timed out after \(settings.resolveTimeout.nanoseconds / 1_000_000) ms"
        self.maxInFlight = max(1, settings.maxConcurrentResolutions)
        self.cache = ResolverCache(capacity: settings.resolveCacheEntries,
                                   ttlNs: UInt64(settings.resolveCacheTTL.nanoseconds),
                                   negativeTTLNs: UInt64(settings.resolveNegativeTTL.nanoseconds))
        lookups = metrics.counter("hotline_name_resolutions_total", help: "Host-name lookups started (cache misses).")
        failures = metrics.counter("hotline_name_resolution_failures_total", help: "Host-name lookups that found no IPv4 address.")
        timeouts = metrics.counter("hotline_name_resolution_timeouts_total", help: "Dials that gave up waiting for a host-name lookup.")
    }

    /// Lookups still running (some may be abandoned by their waiters); loop thread.
    var inFlightCount: Int { inFlight.count }

    /// Loop thread: calls `completion` on the loop thread exactly once — at once from the cache or when the cap
    /// is reached, else when the lookup finishes or the timeout passes, whichever is first.
    func resolve(_ host: String, completion: @escaping (Outcome) -> Void) {
        if let hit = cache.lookup(host, nowNs: Monotonic.nowNs()) {
            switch hit {
            case .address(let a): completion(.address(in_addr(s_addr: a)))
            case .failed(let why): completion(.failed(why))
            }
            return
        }
        let id = nextWaiter
        nextWaiter &+= 1
        // A lookup already running longer than the timeout is hanging: a new dial fails at once rather than
        // wait again (and hold one of the node's slots) for an answer that will not come in time.
        if let started = startedNs[host], Monotonic.nowNs() &- started >= UInt64(timeoutNs) {
            timeouts.increment()
            completion(.failed(timeoutText + " (the lookup of \(host) is still running)"))
            return
        }
        if inFlight[host] == nil {
            // Lookups every waiter gave up on (a name that hangs) still hold a pool thread until the system
            // resolver returns, but not one of this node's slots: only lookups someone still waits for count.
            let waitedFor = inFlight.values.reduce(0) { $0 + ($1.isEmpty ? 0 : 1) }
            guard waitedFor < maxInFlight else {
                completion(.failed("too many name resolutions in flight (\(maxInFlight)); not resolving \(host)"))
                return
            }
            let resolveHost = self.resolveHost
            let loop = self.loop
            let submitted = pool.submit { [self] in
                let result = resolveHost(host)
                loop.execute { self.finished(host, result) }
            }
            guard submitted else {
                completion(.failed("every name-resolution thread is busy; not resolving \(host)"))
                return
            }
            inFlight[host] = [:]
            startedNs[host] = Monotonic.nowNs()
            lookups.increment()
        }
        let timer = loop.schedule(afterNs: timeoutNs) { [self] in
            guard let w = inFlight[host]?.removeValue(forKey: id) else { return }
            timeouts.increment()
            w.completion(.failed(timeoutText))
        }
        inFlight[host]?[id] = Waiter(timer: timer, completion: completion)
    }

    private func finished(_ host: String, _ result: HostResolution) {
        let waiters = inFlight.removeValue(forKey: host) ?? [:]
        startedNs[host] = nil
        let outcome: Outcome
        switch result {
        case .ipv4(let text):
            var addr = in_addr()
            if inet_pton(AF_INET, text, &addr) == 1 {
                outcome = .address(addr)
                cache.insert(host, .address(addr.s_addr), nowNs: Monotonic.nowNs())
            } else {
                outcome = .failed("resolver returned \"\(text)\" for \(host), not an IPv4 address")
            }
        case .failed(let why):
            outcome = .failed(why)
        }
        if case .failed(let why) = outcome {
            failures.increment()
            cache.insert(host, .failed(why), nowNs: Monotonic.nowNs())
        }
        for (_, w) in waiters.sorted(by: { $0.key < $1.key }) {
            loop.cancel(w.timer)
            w.completion(outcome)
        }
    }
}
