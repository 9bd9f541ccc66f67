import Foundation

/// What `/ready` answers: ready, or not with the reason.
public struct AdminReadiness: Sendable, Equatable {
    public var ready: Bool
    /// Why not ready, or what "ready" means here.
    public var detail: String

    public static func ready(_ detail: String = "ready") -> AdminReadiness { AdminReadiness(ready: true, detail: detail) }
    public static func notReady(_ reason: String) -> AdminReadiness { AdminReadiness(ready: false, detail: reason) }
}

/// What the admin routes report about the node, taken fresh for each request.
public struct AdminSnapshot: Sendable {
    public var nodeName: String
    public var node: NodeIdentity
    public var uptimeMs: Int
    /// The system is running (not shut down).
    public var running: Bool
    public var associated: [NodeIdentity]
    public var unreachable: [Transport.UnreachablePeer]
    public var metrics: [Metrics.Sample]
    /// Histograms (exposed after the counters and gauges).
    public var histograms: [Histogram] = []
    /// The membership view; nil when the system is not a member (then `/cluster/members` lists associations).
    public var membership: MembershipShell.Snapshot?

    public init(nodeName: String, node: NodeIdentity, uptimeMs: Int, running: Bool, associated: [NodeIdentity],
                unreachable: [Transport.UnreachablePeer], metrics: [Metrics.Sample],
                membership: MembershipShell.Snapshot? = nil) {
        self.membership = membership
        self.nodeName = nodeName
        self.node = node
        self.uptimeMs = uptimeMs
        self.running = running
        self.associated = associated
        self.unreachable = unreachable
        self.metrics = metrics
    }
}

extension AdminSnapshot {
    /// This snapshot with `histograms`.
    public func withHistograms(_ histograms: [Histogram]) -> AdminSnapshot {
        var s = self
        s.histograms = histograms
        return s
    }
}

/// What the POST endpoints do (given by the node; nil when it is not a member).
public struct AdminCommands: Sendable {
    /// Starts a graceful leave.
    public var leave: @Sendable () -> Void
    /// Downs the listed member with this uid; false when no listed member has it.
    public var down: @Sendable (_ uid: UInt64) -> Bool

    public init(leave: @escaping @Sendable () -> Void, down: @escaping @Sendable (_ uid: UInt64) -> Bool) {
        self.leave = leave
        self.down = down
    }
}

/// Routes of the admin port as a pure function of a request (plus the node snapshot and the closures the node
/// supplied): authorization, methods, paths and the JSON bodies. No sockets here (`AdminServer` is the I/O
/// shell).
public struct AdminRouter: Sendable {
    /// An answer now, or one computed asynchronously (readiness, routes the node registered).
    public enum Outcome: Sendable {
        case now(HTTPResponse)
        case later(@Sendable () async -> HTTPResponse)
    }

    public typealias Route = @Sendable () async throws -> HTTPResponse
    /// A route that reads the request (method, query, body) and answers it.
    public typealias RequestRoute = @Sendable (HTTPRequest) async throws -> HTTPResponse

    /// The bearer token; nil = none configured (then the POST endpoints are refused).
    public var token: [UInt8]?
    /// Every endpoint requires the token (the port binds beyond loopback).
    public var tokenForEverything: Bool
    public var snapshot: @Sendable () -> AdminSnapshot
    public var readiness: @Sendable () async -> AdminReadiness
    /// Extra GET routes by exact path.
    public var extraRoutes: [String: Route] = [:]
    /// Routes for every path under a prefix (e.g. `/api/`), any method, given the whole request. They act on the
    /// node's behalf, so every request to them needs the bearer token (403 when none is configured). The longest
    /// matching prefix wins; a route's thrown error answers 500 with its text (routes answer 4xx themselves).
    public var prefixRoutes: [(prefix: String, route: RequestRoute)] = []
    /// `POST /cluster/leave` and `/cluster/down/{uid}`; nil = 501 (the node is not a member).
    public var commands: AdminCommands?
    /// `POST /fault-injection/blocked` (body: addresses, one `HOST:PORT` per line or comma-separated; empty =
    /// unblock all): drops every frame to and from them (`Transport.setBlockedPeers`). nil = 404: only a node
    /// started with fault injection on (`hotline node --fault-injection`) has it. Needs the token.
    public var setBlockedPeers: (@Sendable (Set<NodeAddress>) throws -> Void)?

    public init(token: [UInt8]?, tokenForEverything: Bool, snapshot: @escaping @Sendable () -> AdminSnapshot,
                readiness: @escaping @Sendable () async -> AdminReadiness) {
        self.token = token
        self.tokenForEverything = tokenForEverything
        self.snapshot = snapshot
        self.readiness = readiness
    }

    static let builtInGET: Set<String> = ["/health", "/ready", "/cluster/members", "/metrics"]

    /// Whether the request carries `Authorization: Bearer <token>` (compared in constant time).
    public func authorized(_ request: HTTPRequest) -> Bool {
        guard let token, let value = request.header("authorization") else { return false }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let presented = Array(parts[1].utf8)
        // Same-length comparison of fixed work; a length mismatch still compares token against itself.
        let same = HMACSHA256.constantTimeEqual(presented.count == token.count ? presented : token, token)
        return same && presented.count == token.count
    }

    private static let unauthorized: HTTPResponse = {
        var r = HTTPResponse.error(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
        r.headers["WWW-Authenticate"] = "Bearer"
        return r
    }()

    public func handle(_ request: HTTPRequest) -> Outcome {
        if tokenForEverything && !authorized(request) { return .now(Self.unauthorized) }
        let path = request.path
        let isGET = request.method == "GET"
        if path == "/cluster/leave" || path.hasPrefix("/cluster/down/") || path == "/cluster/down" {
            guard request.method == "POST" else { return .now(methodNotAllowed("POST")) }
            guard token != nil else {
                return .now(.error(403, "no admin token configured (--admin-token-file): cluster changes are refused"))
            }
            guard authorized(request) else { return .now(Self.unauthorized) }
            var uid: UInt64?
            if path != "/cluster/leave" {
                let text = path.dropFirst("/cluster/down/".count)
                guard path.hasPrefix("/cluster/down/"), (1...16).contains(text.count), text.allSatisfy(\.isHexDigit),
                      let value = UInt64(text, radix: 16) else {
                    return .now(.error(400, "expected /cluster/down/{uid} with the node's uid in hex"))
                }
                uid = value
            }
            guard let commands else { return .now(.error(501, "this node is not a cluster member (no membership)")) }
            if let uid {
                guard commands.down(uid) else { return .now(.error(404, "no listed member has uid \(String(uid, radix: 16))")) }
                return .now(.json(202, Accepted(accepted: "down", uid: String(uid, radix: 16))))
            }
            commands.leave()
            return .now(.json(202, Accepted(accepted: "leave", uid: snapshot().node.uidHex)))
        }
        if path == "/fault-injection/blocked", let setBlockedPeers {
            guard request.method == "POST" else { return .now(methodNotAllowed("POST")) }
            guard token != nil else { return .now(.error(403, "no admin token configured (--admin-token-file): fault injection is refused")) }
            guard authorized(request) else { return .now(Self.unauthorized) }
            let text = String(decoding: request.body, as: UTF8.self)
            var blocked = Set<NodeAddress>()
            for item in text.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == " " || $0 == "\r" }) {
                guard let a = NodeAddress(parsing: String(item)) else {
                    return .now(.error(400, "not a HOST:PORT address: \(String(item.prefix(80)))"))
                }
                blocked.insert(a)
            }
            do {
                try setBlockedPeers(blocked)
            } catch {
                return .now(.error(409, "\(error)"))
            }
            return .now(.json(200, ["blocked": blocked.map(\.description).sorted()]))
        }
        if let match = prefixRoutes.filter({ path.hasPrefix($0.prefix) }).max(by: { $0.prefix.count < $1.prefix.count }) {
            guard token != nil else {
                return .now(.error(403, "no admin token configured (--admin-token-file): \(match.prefix) is refused"))
            }
            guard authorized(request) else { return .now(Self.unauthorized) }
            let route = match.route
            return .later {
                do { return try await route(request) } catch { return .error(500, "\(error)") }
            }
        }
        if Self.builtInGET.contains(path) || extraRoutes[path] != nil {
            guard isGET else { return .now(methodNotAllowed("GET")) }
        } else {
            return .now(.error(404, "no such endpoint"))
        }
        switch path {
        case "/health": return .now(health(snapshot()))
        case "/cluster/members": return .now(members(snapshot()))
        case "/metrics":
            let s = snapshot()
            return .now(Self.metrics(s.metrics, histograms: s.histograms))
        case "/ready":
            let snapshot = self.snapshot, readiness = self.readiness
            return .later {
                let s = snapshot()
                guard s.running else { return Self.readyBody(s, .notReady("the node is shutting down")) }
                return Self.readyBody(s, await readiness())
            }
        default:
            guard let route = extraRoutes[path] else { return .now(.error(404, "no such endpoint")) }
            return .later {
                do { return try await route() } catch { return .error(500, "\(error)") }
            }
        }
    }

    private func methodNotAllowed(_ allowed: String) -> HTTPResponse {
        var r = HTTPResponse.error(405, "method not allowed: use \(allowed)")
        r.headers["Allow"] = allowed
        return r
    }

    struct Health: Encodable {
        var status: String
        var node: String
        var name: String
        var uid: String
        var uptimeMs: Int
    }

    func health(_ s: AdminSnapshot) -> HTTPResponse {
        .json(200, Health(status: s.running ? "up" : "stopping", node: s.node.address.description, name: s.nodeName,
                          uid: s.node.uidHex, uptimeMs: s.uptimeMs))
    }

    struct Ready: Encodable {
        var status: String
        var node: String
        var uid: String
        var detail: String
    }

    static func readyBody(_ s: AdminSnapshot, _ r: AdminReadiness) -> HTTPResponse {
        .json(r.ready ? 200 : 503, Ready(status: r.ready ? "ready" : "not ready", node: s.node.address.description,
                                         uid: s.node.uidHex, detail: r.detail))
    }

    struct Accepted: Encodable {
        var accepted: String
        var uid: String
    }

    struct Member: Encodable {
        var address: String
        var uid: String
        var status: String
    }

    /// One member as `/cluster/members` lists it (after Akka Management's shape).
    struct MemberRow: Encodable {
        var node: String
        var name: String
        var address: String
        var uid: String
        var status: String
        var incarnation: UInt64
        var roles: [String]
        /// `reachable`, or `unreachable` while suspected / down.
        var reachability: String
        /// ms since anything was heard from it; 0 for this node; -1 when never.
        var lastHeardMs: Int
        var isSelf: Bool
    }

    struct MembershipView: Encodable {
        var membership: String
        var selfNode: String
        var hasQuorum: Bool
        var localHealthMultiplier: Int
        var members: [MemberRow]
        /// Members currently not reachable (suspect or down), by `node`.
        var unreachable: [String]
        var tombstones: Int
        /// While this node waits for a majority of the member set its data directory remembered: who it heard
        /// from and whom it waits for (absent otherwise).
        var rememberedWait: RememberedWait?
    }

    struct RememberedWait: Encodable {
        var heard: [String]
        var remembered: [String]
    }

    struct Unreachable: Encodable {
        var address: String
        var seed: Bool
        var attempts: Int
        var unreachableForMs: Int
        var sinceLastAssociationMs: Int?

        func encode(to encoder: Encoder) throws {
            enum K: String, CodingKey { case address, seed, attempts, unreachableForMs, sinceLastAssociationMs }
            var c = encoder.container(keyedBy: K.self)
            try c.encode(address, forKey: .address)
            try c.encode(seed, forKey: .seed)
            try c.encode(attempts, forKey: .attempts)
            try c.encode(unreachableForMs, forKey: .unreachableForMs)
            if let v = sinceLastAssociationMs { try c.encode(v, forKey: .sinceLastAssociationMs) } else {
                try c.encodeNil(forKey: .sinceLastAssociationMs)
            }
        }
    }

    struct Members: Encodable {
        var membership: String
        var note: String
        var members: [Member]
        var unreachable: [Unreachable]
    }

    func members(_ s: AdminSnapshot) -> HTTPResponse {
        if let m = s.membership { return .json(200, Self.membershipView(m)) }
        let me = Member(address: s.node.address.description, uid: s.node.uidHex, status: "self")
        let peers = s.associated.map { Member(address: $0.address.description, uid: $0.uidHex, status: "up") }
        let down = s.unreachable.map {
            Unreachable(address: $0.address.description, seed: $0.isSeed, attempts: $0.failedDials,
                        unreachableForMs: $0.unreachableForMs, sinceLastAssociationMs: $0.sinceLastAssociationMs)
        }
        return .json(200, Members(membership: "associations",
                                  note: "membership (SWIM) is not implemented yet: members are this node and the nodes it is associated with",
                                  members: [me] + peers, unreachable: down))
    }

    static func membershipView(_ m: MembershipShell.Snapshot) -> MembershipView {
        let rows = m.members.map { member -> MemberRow in
            let isSelf = member.node == m.myself.node
            let reachable = member.status == .up || member.status == .joining || member.status == .leaving
            return MemberRow(node: member.node.description, name: member.name, address: member.node.address.description,
                             uid: member.node.uidHex, status: member.status.rawValue, incarnation: member.incarnation,
                             roles: member.roles, reachability: reachable ? "reachable" : "unreachable",
                             lastHeardMs: isSelf ? 0 : (m.lastHeardAgeMs[member.node] ?? -1), isSelf: isSelf)
        }
        return MembershipView(membership: "swim", selfNode: m.myself.node.description, hasQuorum: m.hasQuorum,
                              localHealthMultiplier: m.localHealthMultiplier, members: rows,
                              unreachable: rows.filter { $0.reachability == "unreachable" }.map(\.node),
                              tombstones: m.tombstones,
                              rememberedWait: m.rememberedWait.map {
                                  RememberedWait(heard: $0.heard.map(\.description), remembered: $0.of.map(\.description))
                              })
    }

    /// Prometheus text exposition format 0.0.4.
    static func metrics(_ samples: [Metrics.Sample], histograms: [Histogram] = []) -> HTTPResponse {
        func escaped(_ help: String, _ name: String) -> String {
            (help.isEmpty ? name : help).replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
        }
        var text = ""
        for s in samples {
            text += "# HELP \(s.name) \(escaped(s.help, s.name))\n# TYPE \(s.name) \(s.isCounter ? "counter" : "gauge")\n\(s.name) \(s.value)\n"
        }
        for h in histograms {
            let (cumulative, sum, count) = h.snapshot
            text += "# HELP \(h.name) \(escaped(h.help, h.name))\n# TYPE \(h.name) histogram\n"
            for (bound, n) in zip(h.bounds, cumulative) { text += "\(h.name)_bucket{le=\"\(bound)\"} \(n)\n" }
            text += "\(h.name)_bucket{le=\"+Inf\"} \(count)\n\(h.name)_sum \(sum)\n\(h.name)_count \(count)\n"
        }
        return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8))
    }
}
