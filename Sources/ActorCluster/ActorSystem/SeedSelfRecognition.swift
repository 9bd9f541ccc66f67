import Dispatch
import Foundation
import Synchronization

/// Seeds that name this node under another spelling.
///
/// A node recognises itself among its seeds by address; an operator may spell that address differently from
/// `--listen`: a host name for the listen IP (`hotline-1.city:7101` for `10.0.0.11:7101`), `localhost` for
/// `127.0.0.1`, or the reverse. Unrecognised, the first seed did not know it was the first (only the first seed founds
/// a new cluster, `Membership.Machine.mayFormCluster`), so a brand-new cluster never formed, and each node dialled
/// itself as a stranger (breaker, 2026-12-03: three nodes listening on `127.0.0.1` with seeds `localhost:…` stayed
/// `joining`).
enum SeedSelfRecognition {
    /// `seeds` with every entry that is this node (same port; same IPv4 address once both hosts are resolved)
    /// replaced by `own`, in the operator's order, duplicates dropped after the first.
    ///
    /// - Parameters:
    ///   - own: this node's address (its `--listen` host and the real port).
    ///   - resolve: the transport's host resolution (`TransportSettings.resolveHost`, blocking); called only for
    ///     hosts that are neither dotted IPv4 nor `localhost`, and only for seeds on this node's port.
    ///   - timeout: how long to wait for all those lookups together; a lookup still running after it counts as
    ///     "not this node" (reported in `unresolved`). Lookups run in parallel, each on a thread of its own.
    /// - Returns: the seeds, the entries recognised as this node (as written), and the hosts not resolved in time or
    ///   not at all (with the reason).
    static func recognise(_ seeds: [NodeAddress], own: NodeAddress, resolve: @escaping @Sendable (String) -> HostResolution,
                          timeout: Duration = .seconds(2)) -> (seeds: [NodeAddress], aliases: [NodeAddress], unresolved: [String]) {
        let candidates = seeds.filter { $0.port == own.port && $0.host != own.host }
        guard !candidates.isEmpty else { return (seeds, [], []) }
        let names = Set(([own.host] + candidates.map(\.host)).filter { Socket.literalIPv4($0) == nil })
        let found = Mutex<[String: HostResolution]>([:])
        if !names.isEmpty {
            let group = DispatchGroup()
            for name in names {
                group.enter()
                // A thread of its own, not one of Dispatch's: a lookup may block for the resolver's whole retry time,
                // after this wait gave up on it (as `BlockingThreadPool` keeps dial lookups off the shared pools).
                Thread.detachNewThread {
                    let r = resolve(name)
                    found.withLock { $0[name] = r }
                    group.leave()
                }
            }
            let ns = max(0, timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            _ = group.wait(timeout: .now() + .nanoseconds(Int(ns)))
        }
        let results = found.withLock { $0 }
        var unresolved: [String] = []
        func ipv4(_ host: String) -> String? {
            if let literal = Socket.literalIPv4(host) { return Socket.dottedIPv4(literal) }
            switch results[host] {
            case .ipv4(let ip): return ip
            case .failed(let why): unresolved.append("\(host): \(why)"); return nil
            case nil: unresolved.append("\(host): no answer within \(timeout)"); return nil
            }
        }
        let ownIP = ipv4(own.host)
        var out: [NodeAddress] = [], aliases: [NodeAddress] = []
        for seed in seeds {
            var s = seed
            if seed.port == own.port, seed.host != own.host, let ownIP, ipv4(seed.host) == ownIP {
                aliases.append(seed)
                s = own
            }
            if !out.contains(s) { out.append(s) }
        }
        return (out, aliases, Array(Set(unresolved)).sorted())
    }
}
