import ActorCluster
import Hotline
import Foundation

/// Settings of `hotline node`, from a JSON file (`--config`) overlaid by flags.
///
/// JSON fields (all optional): `name` (string), `listen` ("HOST:PORT"), `seeds` (["HOST:PORT", ...]),
/// `cluster` (string), `data` (directory path), `logLevel` (trace|debug|info|warning|error),
/// `callTimeoutMs` (1...3_600_000), `handshakeTimeoutMs` (1...600_000), `maxFrameBytes` (1024...1 GiB),
/// `roles` (["intake", "district:210302", ...]), `catalog` (routing catalogue path), `calendar` (path),
/// `secretFile`, `previousSecretFile`, `operatorSecretFile` (secret files, see `Docs/security.md`), `admin`
/// ("HOST:PORT" of the admin HTTP port, off when absent), `adminTokenFile` (its bearer token, a secret file),
/// `fsync` ("always" or "interval:MS": when the replica journal under `data` is fsynced), `supervisionIntervalMs`,
/// `deliveryRetryMs` / `deliveryRetryMaxMs` / `deliveryTimeoutMs` (delivery to units' external systems).
/// Unknown fields are errors (a typo must not silently fall back to a default).
struct NodeConfig {
    var name = "node"
    var listen = NodeAddress(host: "127.0.0.1", port: 7101)
    var seeds: [NodeAddress] = []
    var cluster = "hotline"
    var dataDirectory: String?
    /// When the replica journal is fsynced: `always` (every group commit, before any acknowledgement; the
    /// default) or `interval:MS` (at most MS ms after a write: faster, and a power loss of a majority of a
    /// stream's replicas at once may lose the last MS ms of acknowledged changes).
    var fsync = DurableLog.FsyncPolicy.always
    var logLevel = LogLevel.info
    var callTimeoutMs = 5_000
    var handshakeTimeoutMs = 2_000
    var maxFrameBytes = Wire.defaultMaxFrameBytes
    /// Hotline roles (`intake,dispatch,callback,supervision,analysis,district,district:<code>`); empty = all.
    var roles = HotlineRoles.everything
    /// Routing catalogue file. With no roles given, the node configures itself with it (everything local).
    var cataloguePath: String?
    /// Working calendar file (default: weekends only, in the catalogue's time zone).
    var calendarPath: String?
    /// Where inbound calls run: `pool` (default: Swift's global pool), `thread` (the node's call threads) or `io`.
    var inbound = ClusterSettings().inboundExecution
    /// The cluster secret (mode 0600); without one the node runs open, which is allowed on loopback only.
    var secretFile: String?
    /// The secret being rotated out: still accepted (and proven) until every node has the new one.
    var previousSecretFile: String?
    /// The operator secret this node recognises: callers that prove it may run operator-only functions.
    var operatorSecretFile: String?
    /// The admin HTTP port (`Docs/operations.md`, "Admin port"); nil = none.
    var admin: NodeAddress?
    /// The admin port's bearer token (a secret file); required when `admin` is beyond loopback.
    var adminTokenFile: String?
    /// Fault injection on (`--fault-injection`, tests only): the admin port then takes
    /// `POST /fault-injection/blocked` to drop every frame to and from chosen peers (a partition).
    var faultInjection = false
    /// How often each district office hosted here runs its supervision on its own timer (reminders, overdue,
    /// escalations), in ms; 0 = never (the replay driver ticks instead). Default 60,000.
    var supervisionIntervalMs = 60_000
    /// Bytes of changes after which each district office hosted here snapshots its cases into its stream (log
    /// compaction); default 8 MiB.
    var snapshotMinBytes = 8 << 20
    /// Delivery to units' external systems: backoff after the first failed attempt (doubling per failure up to
    /// `deliveryRetryMaxMs`) and the timeout of one attempt, ms. Defaults 1,000 / 300,000 / 5,000.
    var deliveryRetryMs = 1_000
    var deliveryRetryMaxMs = 300_000
    var deliveryTimeoutMs = 5_000

    static let flags: Set<String> = ["name", "listen", "seeds", "cluster", "data", "config", "log-level",
                                     "call-timeout-ms", "handshake-timeout-ms", "max-frame-bytes", "roles",
                                     "catalog", "calendar", "inbound", "secret-file", "previous-secret-file",
                                     "operator-secret-file", "admin", "admin-token-file", "fsync",
                                     "supervision-interval-ms", "delivery-retry-ms", "delivery-retry-max-ms",
                                     "delivery-timeout-ms", "snapshot-min-bytes"]
    static let jsonFields: Set<String> = ["name", "listen", "seeds", "cluster", "data", "logLevel",
                                          "callTimeoutMs", "handshakeTimeoutMs", "maxFrameBytes", "roles", "catalog",
                                          "calendar", "inbound", "secretFile", "previousSecretFile",
                                          "operatorSecretFile", "admin", "adminTokenFile", "fsync",
                                          "supervisionIntervalMs", "deliveryRetryMs", "deliveryRetryMaxMs",
                                          "deliveryTimeoutMs", "snapshotMinBytes"]

    /// Builds the config: defaults, then the `--config` file, then flags. Throws `UsageError` naming the
    /// field or flag at fault.
    static func load(_ args: Arguments) throws -> NodeConfig {
        var config = NodeConfig()
        if let path = args["config"] { try config.apply(file: path) }
        try config.apply(flags: args)
        if let twice = Dictionary(grouping: config.seeds, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw UsageError("invalid --seeds (or config field \"seeds\"): \(twice) is listed twice")
        }
        return config
    }

    mutating func apply(file path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError("config file \(path): cannot be read")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw UsageError("config file \(path): not valid JSON")
        }
        guard let fields = object as? [String: Any] else {
            throw UsageError("config file \(path): top level must be a JSON object")
        }
        for key in fields.keys.sorted() where !Self.jsonFields.contains(key) {
            throw UsageError("config field \"\(key)\": unknown (known: \(Self.jsonFields.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws -> String? {
            guard let v = fields[key] else { return nil }
            guard let text = v as? String else { throw UsageError("config field \"\(key)\": expected a string") }
            return text
        }
        func integer(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = fields[key] else { return nil }
            guard !(v is Bool), let n = v as? Int, range.contains(n) else {
                throw UsageError("config field \"\(key)\": expected an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        func strings(_ key: String) throws -> [String]? {
            guard let v = fields[key] else { return nil }
            guard let list = v as? [Any] else { throw UsageError("config field \"\(key)\": expected an array of strings") }
            return try list.enumerated().map { i, item in
                guard let text = item as? String else { throw UsageError("config field \"\(key)[\(i)]\": expected a string") }
                return text
            }
        }
        if let v = try string("name") { name = try Self.validName(v, field: "config field \"name\"") }
        if let v = try string("listen") { listen = try Self.listenAddress(v, field: "config field \"listen\"") }
        if let list = try strings("seeds") {
            seeds = try list.enumerated().map { i, s in try Self.seed(s, field: "config field \"seeds[\(i)]\"") }
        }
        if let v = try string("cluster") { cluster = try Self.validName(v, field: "config field \"cluster\"") }
        if let v = try string("data") { dataDirectory = v }
        if let v = try string("logLevel") {
            guard let l = LogLevel(name: v) else { throw UsageError("config field \"logLevel\": \"\(v)\" is not one of trace, debug, info, warning, error") }
            logLevel = l
        }
        if let v = try integer("callTimeoutMs", 1...3_600_000) { callTimeoutMs = v }
        if let v = try integer("supervisionIntervalMs", 0...86_400_000) { supervisionIntervalMs = v }
        if let v = try integer("snapshotMinBytes", 1...(1 << 40)) { snapshotMinBytes = v }
        if let v = try integer("deliveryRetryMs", 1...86_400_000) { deliveryRetryMs = v }
        if let v = try integer("deliveryRetryMaxMs", 1...86_400_000) { deliveryRetryMaxMs = v }
        if let v = try integer("deliveryTimeoutMs", 1...600_000) { deliveryTimeoutMs = v }
        if let v = try integer("handshakeTimeoutMs", 1...600_000) { handshakeTimeoutMs = v }
        if let v = try integer("maxFrameBytes", 1024...(1 << 30)) { maxFrameBytes = v }
        if let v = try strings("roles") { roles = try Self.roles(v.joined(separator: ","), field: "config field \"roles\"") }
        if let v = try string("catalog") { cataloguePath = v }
        if let v = try string("calendar") { calendarPath = v }
        if let v = try string("inbound") { inbound = try Self.inbound(v, field: "config field \"inbound\"") }
        if let v = try string("secretFile") { secretFile = v }
        if let v = try string("previousSecretFile") { previousSecretFile = v }
        if let v = try string("operatorSecretFile") { operatorSecretFile = v }
        if let v = try string("admin") { admin = try Self.listenAddress(v, field: "config field \"admin\"") }
        if let v = try string("adminTokenFile") { adminTokenFile = v }
        if let v = try string("fsync") { fsync = try Self.fsync(v, field: "config field \"fsync\"") }
    }

    /// `always` or `interval:MS` (MS in 1...10_000).
    static func fsync(_ text: String, field: String) throws -> DurableLog.FsyncPolicy {
        if text == "always" { return .always }
        if text.hasPrefix("interval:"), let ms = Int(text.dropFirst("interval:".count)), (1...10_000).contains(ms) {
            return .interval(milliseconds: ms)
        }
        throw UsageError("invalid \(field) \"\(text)\": always or interval:MS (MS 1...10000)")
    }

    static func inbound(_ text: String, field: String) throws -> ClusterSettings.InboundExecution {
        switch text {
        case "pool": return .globalPool
        case "io": return .ioThread
        case "thread": return .callThread
        default: throw UsageError("invalid \(field) \"\(text)\": pool, io or thread")
        }
    }

    static func roles(_ text: String, field: String) throws -> HotlineRoles {
        do {
            return try HotlineRoles(parsing: text)
        } catch {
            throw UsageError("invalid \(field) \"\(text)\": \(error)")
        }
    }

    static func fieldName(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    mutating func apply(flags args: Arguments) throws {
        if let v = args["name"] { name = try Self.validName(v, field: "--name") }
        if let v = args["listen"] { listen = try Self.listenAddress(v, field: "--listen") }
        if let v = args["seeds"] {
            seeds = try v.split(separator: ",", omittingEmptySubsequences: false).map { try Self.seed(String($0), field: "--seeds") }
        }
        if let v = args["cluster"] { cluster = try Self.validName(v, field: "--cluster") }
        if let v = args["data"] { dataDirectory = v }
        if let v = args["log-level"] {
            guard let l = LogLevel(name: v) else { throw UsageError("invalid --log-level \"\(v)\": expected trace, debug, info, warning or error") }
            logLevel = l
        }
        if let v = try args.int("call-timeout-ms", in: 1...3_600_000) { callTimeoutMs = v }
        if let v = try args.int("supervision-interval-ms", in: 0...86_400_000) { supervisionIntervalMs = v }
        if let v = try args.int("snapshot-min-bytes", in: 1...(1 << 40)) { snapshotMinBytes = v }
        if let v = try args.int("delivery-retry-ms", in: 1...86_400_000) { deliveryRetryMs = v }
        if let v = try args.int("delivery-retry-max-ms", in: 1...86_400_000) { deliveryRetryMaxMs = v }
        if let v = try args.int("delivery-timeout-ms", in: 1...600_000) { deliveryTimeoutMs = v }
        if let v = try args.int("handshake-timeout-ms", in: 1...600_000) { handshakeTimeoutMs = v }
        if let v = try args.int("max-frame-bytes", in: 1024...(1 << 30)) { maxFrameBytes = v }
        if let v = args["roles"] { roles = try Self.roles(v, field: "--roles") }
        if let v = args["catalog"] { cataloguePath = v }
        if let v = args["calendar"] { calendarPath = v }
        if let v = args["inbound"] { inbound = try Self.inbound(v, field: "--inbound") }
        if let v = args["secret-file"] { secretFile = v }
        if let v = args["previous-secret-file"] { previousSecretFile = v }
        if let v = args["operator-secret-file"] { operatorSecretFile = v }
        if let v = args["admin"] { admin = try Self.listenAddress(v, field: "--admin") }
        if let v = args["admin-token-file"] { adminTokenFile = v }
        if let v = args["fsync"] { fsync = try Self.fsync(v, field: "--fsync") }
        if args.has("fault-injection") { faultInjection = true }
    }

    /// The operator credential this node verifies (nil without `--operator-secret-file`: no caller is an
    /// operator, so operator-only functions are callable only inside the node).
    ///
    /// - Throws: `UsageError` naming `--operator-secret-file` when the file is unusable.
    func operatorCredential() throws -> OperatorCredential? {
        try Self.operatorCredential(file: operatorSecretFile, use: .verify)
    }

    static func operatorCredential(file: String?, use: OperatorCredential.Use) throws -> OperatorCredential? {
        guard let file else { return nil }
        do {
            return OperatorCredential(key: try ClusterAuth.readSecret(path: file), use: use)
        } catch {
            throw UsageError("invalid --operator-secret-file: \(error)")
        }
    }

    /// The admin port's settings (nil without `--admin`).
    ///
    /// - Throws: `UsageError` naming `--admin-token-file` when the file is unusable, or `--admin` when it binds
    ///   beyond loopback without a token, or a token file is given without `--admin`.
    func adminSettings() throws -> AdminSettings? {
        guard let admin else {
            if adminTokenFile != nil { throw UsageError("--admin-token-file needs --admin HOST:PORT") }
            return nil
        }
        var token: [UInt8]?
        if let file = adminTokenFile {
            do { token = try ClusterAuth.readSecret(path: file) } catch { throw UsageError("invalid --admin-token-file: \(error)") }
        }
        if token == nil, !admin.isLoopback {
            throw UsageError("invalid --admin \(admin): beyond loopback the admin port needs --admin-token-file (every endpoint then requires the token)")
        }
        return AdminSettings(bind: admin, token: token)
    }

    /// The node's `ClusterAuth` from its secret files.
    ///
    /// - Throws: `UsageError` naming the flag when a file is unusable (unreadable, readable by group or
    ///   others, too short), when a previous secret is given without a current one, or when there is no secret
    ///   and the node listens beyond loopback.
    func auth() throws -> ClusterAuth {
        try Self.auth(secretFile: secretFile, previousSecretFile: previousSecretFile, listen: listen)
    }

    static func auth(secretFile: String?, previousSecretFile: String?, listen: NodeAddress?) throws -> ClusterAuth {
        guard let secretFile else {
            if previousSecretFile != nil { throw UsageError("--previous-secret-file needs --secret-file (the current secret)") }
            if let listen, !listen.isLoopback {
                throw UsageError("--secret-file is required to listen on \(listen.host) (beyond loopback): without a cluster secret anyone who reaches the port could join")
            }
            return .open
        }
        func read(_ path: String, flag: String) throws -> [UInt8] {
            do { return try ClusterAuth.readSecret(path: path) } catch { throw UsageError("invalid \(flag): \(error)") }
        }
        let current = try read(secretFile, flag: "--secret-file")
        let previous = try previousSecretFile.map { try read($0, flag: "--previous-secret-file") }
        return .secrets(current: current, previous: previous)
    }

    static func address(_ text: String, field: String) throws -> NodeAddress {
        guard let a = NodeAddress(parsing: text.trimmingCharacters(in: .whitespaces)) else {
            throw UsageError("invalid \(field) \"\(text)\": expected HOST:PORT with a port in 0...65535")
        }
        return a
    }

    /// A listen address: a concrete host peers can dial (identities compare addresses literally, so a
    /// wildcard like 0.0.0.0 would give this node an identity nobody can reach).
    static func listenAddress(_ text: String, field: String) throws -> NodeAddress {
        let a = try address(text, field: field)
        guard a.host != "0.0.0.0", a.host != "::", a.host != "[::]" else {
            throw UsageError("invalid \(field) \"\(text)\": listen on the address peers dial, not a wildcard")
        }
        return a
    }

    /// A seed: HOST:PORT with a real port (not 0).
    static func seed(_ text: String, field: String) throws -> NodeAddress {
        let a = try address(text, field: field)
        guard a.port != 0 else { throw UsageError("invalid \(field) \"\(text)\": a seed needs a real port, not 0") }
        return a
    }

    static func validName(_ text: String, field: String) throws -> String {
        let ok = !text.isEmpty && text.utf8.count <= 64
            && text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }
        guard ok else { throw UsageError("invalid \(field) \"\(text)\": 1-64 letters, digits, '-', '_' or '.'") }
        return text
    }

    /// Delivery to units' external systems. A maximum below the first wait is raised to it.
    var deliverySettings: DeliverySettings {
        DeliverySettings(retry: DeliveryRetryPolicy(initialBackoffMs: deliveryRetryMs, maxBackoffMs: deliveryRetryMaxMs),
                         timeoutMs: deliveryTimeoutMs)
    }

    var clusterSettings: ClusterSettings {
        var s = ClusterSettings()
        s.nodeName = name
        s.clusterName = cluster
        s.listen = listen
        s.seeds = seeds
        s.callTimeout = .milliseconds(callTimeoutMs)
        s.logLevel = logLevel
        s.transport.handshakeTimeout = .milliseconds(handshakeTimeoutMs)
        s.transport.maxFrameBytes = maxFrameBytes
        s.inboundExecution = inbound
        s.transport.faultInjection = faultInjection
        s.membership = .default
        s.roles = roles == .everything ? [] : roles.description.split(separator: ",").map(String.init)
        return s
    }
}
