import ActorCluster
import Hotline
import Foundation
import Synchronization

/// `hotline node`: runs one cluster node until SIGTERM/SIGINT.
enum NodeCommand {
    static let usage = """
    usage: hotline node [--name NAME] [--listen HOST:PORT] [--seeds HOST:PORT,...] [--cluster NAME]
                        [--data DIR [--fsync always|interval:MS]] [--config FILE] [--log-level LEVEL] [--call-timeout-ms MS]
                        [--handshake-timeout-ms MS] [--max-frame-bytes BYTES]
                        [--roles ROLE,...] [--catalog FILE] [--calendar FILE]
                        [--secret-file FILE [--previous-secret-file FILE]] [--operator-secret-file FILE]
                        [--admin HOST:PORT [--admin-token-file FILE]] [--supervision-interval-ms MS]
                        [--delivery-retry-ms MS] [--delivery-retry-max-ms MS] [--delivery-timeout-ms MS] [--snapshot-min-bytes N]
                        [--inbound pool|thread|io] [--force-new-cluster] [--fault-injection]
      Runs a node. Prints `ready name=… listen=HOST:PORT uid=…` on stdout once it serves calls
      (with ` admin=HOST:PORT` appended when the admin port is on).
      --listen port 0 picks an ephemeral port. Flags override the JSON --config file.
      --roles: intake, dispatch, callback, supervision, analysis, district, district:<code> (none = all).
      With --catalog the node configures itself (system clock) and hosts what placement gives it: each
      district office on its home node (district:<code>) while that node is up, else on another node with
      role district; every other singleton on a node with its role (a node without roles may host all).
      Without --catalog it waits for an operator (`hotline replay`) to configure it.
      --supervision-interval-ms: each district office hosted here runs supervision on its own timer this
      often (automatic reminders, overdue escalations; each recorded once); default 60000, 0 = never.
      --delivery-retry-ms, --delivery-retry-max-ms, --delivery-timeout-ms: units whose catalogue delivery
      channel is http get each assignment POSTed by the office that holds the case; a failed attempt is
      recorded on the case (an alert) and retried after MS (default 1000), doubling up to the maximum (default
      300000); one attempt times out after --delivery-timeout-ms (default 5000) unless the unit names its own.
      --snapshot-min-bytes: bytes of changes after which each district office hosted here snapshots its
      cases into its replicated stream, which then drops the entries they cover (log compaction; also at
      least half the last snapshot); default 8388608. Offices keep their copy in DIR/offices (--data).
      --seeds: members to join through (any live one will do; the node's own address may be listed).
      Only the first seed founds a new cluster: list them in the same order on every node. Without seeds
      the node forms a cluster of its own. Membership: Docs/membership.md.
      --data: the node's replica journal (DIR/replicas), locked against a second process and recovered
      before the node joins; without it replicas live in memory only. --fsync: always (default: fsynced
      before any acknowledgement) or interval:MS. A disk with too little free space is refused per request,
      not fatal. See Docs/durability.md. DIR/members.json keeps the last member set the cluster agreed on: a
      node restarted on DIR (a power loss) waits until it hears from a majority of those members before it
      forms a cluster, even when it is its own seed; a DIR that holds replicas but no agreed set, or only
      the contact mark a join writes first (killed in its join window), joins only a running cluster.
      --force-new-cluster: forget that set for this start, when most of those members are gone for good
      (it may lose what only they held); the node then founds a cluster if no running one answers within
      1 s, first seed or not.
      --secret-file: the cluster secret (≥ 16 bytes, mode 0600); members prove it to each other in the
      handshake (HMAC-SHA256). Required unless the node listens on loopback only. --previous-secret-file
      is also accepted during a rotation. --operator-secret-file: callers proving it may run the
      operator-only functions (configure, setClock, recording as the system). See Docs/security.md.
      --admin: HTTP admin port (health, readiness, members, Prometheus metrics; port 0 = ephemeral); off
      by default. --admin-token-file: its bearer token (a secret file like --secret-file); required beyond
      loopback, where every endpoint then needs it. See Docs/operations.md, "Admin port".
      --inbound: where inbound calls run. pool (default): Swift's global pool (a thread hop per call).
      thread: the node's call threads (half the processors, 1 to 8), beside the I/O thread; a read's calls
      run there one after another and their replies go out together (less CPU per call, fewer calls per
      second on 2 cores). io: the I/O thread itself. A handler that computes for long delays the calls
      behind it on its call thread (thread) or the node's I/O (io); awaiting frees the thread in every mode.
      See Docs/architecture.md and Docs/performance.md.
      --fault-injection (tests only): the admin port takes POST /fault-injection/blocked with HOST:PORT
      addresses (token required) and drops every frame to and from them, handshakes included — a partition.
      SIGTERM or SIGINT stop it cleanly (exit 0). Bad flags or config: exit 2.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        // First thing: a SIGTERM that arrives while the node starts must still stop it cleanly.
        let termination = TerminationSignal.install()
        let args = try Arguments(argv, valued: NodeConfig.flags, switches: ["fault-injection", "force-new-cluster"])
        if let extra = args.positional.first { throw UsageError("unexpected argument \"\(extra)\"") }
        let config = try NodeConfig.load(args)
        // The replica store outlives incarnations (a node the cluster downed rejoins with its replicas). With
        // --data it is the journal in DIR/replicas, locked against a second process and recovered before the
        // node joins; without, replicas live in memory only.
        let dataDirectory: DataDirectory?
        let replicaStore: Replication.ReplicaStore
        var memberMemory: MemberMemory?
        // One registry for the process: the journal's and every incarnation's metrics.
        let metrics = Metrics()
        if let dir = config.dataDirectory {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw UsageError("invalid --data \"\(dir)\": cannot create directory (\(error.localizedDescription))")
            }
            do {
                dataDirectory = try DataDirectory.open(dir)
                var options = Replication.ReplicaStore.journalOptions
                options.fsync = config.fsync
                let (store, report) = try await Replication.ReplicaStore.open(directory: dir + "/replicas", options: options,
                                                                              metrics: metrics)
                replicaStore = store
                let skipped = await store.restoreSkipped
                FileHandle.standardError.write(Data("recovered \(dir)/replicas: \(report)\(skipped > 0 ? ", \(skipped) records skipped" : "")\n".utf8))
                // Replicas without a member file: killed right after joining, before the agreed set was written.
                // Such a node joins only a running cluster (MemberMemory.formsNoCluster). Its own local streams
                // (written before it formed a cluster) do not count.
                let holdsState = await store.holdsClusterState(besides: config.listen)
                do {
                    memberMemory = try MemberMemory(path: dir + "/members.json", forget: args.has("force-new-cluster"),
                                                    holdsState: holdsState)
                } catch {
                    throw UsageError("invalid --data \"\(dir)\": \(error) (remove the file, or start with --force-new-cluster, to form a new cluster)")
                }
            } catch let error as DurabilityError {
                throw UsageError("invalid --data \"\(dir)\": \(error)")
            }
        } else {
            dataDirectory = nil
            replicaStore = Replication.ReplicaStore(journal: nil)
        }
        defer { dataDirectory?.close() }
        // Read every file before anything starts: a bad file exits 2 without a half-started node.
        let files = try config.loadHotlineFiles()
        var settings = config.clusterSettings
        settings.memberMemory = memberMemory
        settings.transport.auth = try config.auth()
        settings.transport.operatorCredential = try config.operatorCredential()
        let adminSettings = try config.adminSettings()
        // Why an incarnation ended: a signal, a graceful leave completed, or the cluster downed this uid.
        let (outcomes, outcome) = AsyncStream<IncarnationEnd>.makeStream(bufferingPolicy: .unbounded)
        Task { outcome.yield(.signal(await termination.wait())) }
        var listen = settings.listen
        var adminBind = adminSettings?.bind
        var incarnation = 0
        var pending = outcomes.makeAsyncIterator()
        while true {
            settings.listen = listen
            let running = try await startIncarnation(config: config, files: files, settings: settings,
                                                     adminSettings: adminSettings.map { a in
                                                         var a = a
                                                         if let adminBind { a.bind = adminBind }
                                                         return a
                                                     }, replicaStore: replicaStore, metrics: metrics)
            let system = running.system
            // A restarted incarnation keeps the ports it had (an ephemeral port is fixed after the first).
            listen = system.node.address
            adminBind = running.admin?.address ?? adminBind
            if case .open = settings.transport.auth, incarnation == 0 {
                system.logger.warning("node.open", ["reason": "no --secret-file: any process that reaches \(system.node.address) may join (loopback only)"])
            }
            var ready = incarnation == 0 ? "ready" : "rejoined"
            ready += " name=\(config.name) listen=\(system.node.address) uid=\(system.node.uidHex)"
            if let address = running.admin?.address { ready += " admin=\(address)" }
            ready += "\n"
            // Unbuffered write(2): the line must reach a pipe at once, not at exit.
            FileHandle.standardOutput.write(Data(ready.utf8))
            let watcher = running.system.membership.map { membership in
                Task { [me = system.node] in
                    for await event in membership.events() {
                        guard case .memberChanged(let m, _) = event, m.node == me else { continue }
                        if m.status == .down { outcome.yield(.downed(me)) }
                        if m.status == .removed { outcome.yield(.left(me)) }
                    }
                }
            }
            var end: IncarnationEnd?
            while end == nil, let o = await pending.next() {
                switch o {
                case .signal: end = o
                case .downed(let n), .left(let n): if n == system.node { end = o }
                }
            }
            watcher?.cancel()
            running.stop()
            switch end {
            case .signal(let signal)?:
                system.logger.info("node.stopping", ["signal": signal == SIGTERM ? "SIGTERM" : "SIGINT"])
                return 0
            case .left?:
                system.logger.info("node.left", ["uid": system.node.uidHex])
                return 0
            case .downed?:
                // This uid is down for good (the cluster will never take it back): rejoin as a new member, with a
                // new uid and no state from the old one.
                system.logger.warning("node.downed", ["uid": system.node.uidHex, "action": "rejoining with a new uid"])
                incarnation += 1
            case nil:
                return 0
            }
        }
    }

    /// `/cluster/placement`: every singleton's owner and epoch, by key.
    struct PlacementView: Encodable {
        struct Row: Encodable {
            var key: String
            var node: String?
            var epoch: UInt64
            var atHome: Bool
            var path: String
        }
        var placement: [Row]
    }

    /// `/cluster/replicas`: the streams this node holds a replica of.
    struct ReplicasView: Encodable {
        /// Whether this node's stream directory is complete (`Replication.DirectorySync`): false from when it
        /// joins a running cluster until it has read the directory of a majority of the members.
        var directoryComplete: Bool
        var streams: [Replication.StreamSummary]
    }

    enum IncarnationEnd: Sendable {
        case signal(Int32)
        case downed(NodeIdentity)
        case left(NodeIdentity)
    }

    /// One incarnation of the node: a cluster system (new uid), its actors and admin port.
    struct Incarnation {
        let system: ClusterSystem
        let probe: NodeProbe
        let hotline: HotlineNode
        let replicator: Replicator
        let admin: AdminServer?

        func stop() {
            withExtendedLifetime((probe, hotline, replicator)) {}
            admin?.shutdown()
            system.shutdown()
        }
    }

    static func startIncarnation(config: NodeConfig, files: (catalogue: RoutingCatalogue?, calendar: WorkingCalendar?),
                                 settings: ClusterSettings, adminSettings: AdminSettings?,
                                 replicaStore: Replication.ReplicaStore, metrics: Metrics) async throws -> Incarnation {
        let system: ClusterSystem
        if settings.membership != nil { await replicaStore.joiningCluster() }
        do {
            system = try ClusterSystem(settings: settings, metrics: metrics)
        } catch let error as TransportError {
            throw UsageError("invalid --listen \(config.listen): \(error)")
        }
        let probe: NodeProbe
        let hotline: HotlineNode
        let replicator: Replicator
        do {
            try HotlineError.registerWireErrors(on: system)
            replicator = try Replicator.start(on: system, store: replicaStore)
            await replicaStore.export(to: system.metrics, logger: system.logger)
            await replicaStore.logMissingSnapshots(system.logger)
            probe = try NodeProbe.start(on: system, nodeName: config.name)
            hotline = try HotlineNode.start(on: system, roles: config.roles,
                                            supervisionInterval: config.supervisionIntervalMs > 0
                                                ? .milliseconds(config.supervisionIntervalMs) : nil,
                                            delivery: config.deliverySettings, snapshotMinBytes: config.snapshotMinBytes,
                                            archiveDirectory: config.dataDirectory.map { $0 + "/offices" })
            if let selfConfiguration = config.selfConfiguration(files, node: system.node) {
                _ = try await hotline.configure(selfConfiguration)
            }
        } catch {
            system.shutdown()
            throw error
        }
        var admin: AdminServer?
        if let adminSettings {
            do {
                let server = try AdminServer(system: system, settings: adminSettings,
                                             readiness: { [hotline, system, replicaStore] in
                                                 await Self.readiness(hotline, system: system, replicas: replicaStore)
                                             })
                server.addRoute("/hotline/info") { [hotline] in .json(200, try await hotline.info()) }
                // The people's steps over HTTP (token required): `PeopleAPI`.
                server.addPrefixRoute(PeopleAPI.prefix, PeopleAPI.route(hotline))
                server.addRoute("/cluster/replicas") { [replicaStore] in
                    .json(200, ReplicasView(directoryComplete: await replicaStore.directoryComplete == true,
                                            streams: await replicaStore.summary()))
                }
                server.addRoute("/cluster/placement") { [hotline] in
                    do {
                        let d = try await hotline.directory()
                        return .json(200, PlacementView(placement: d.assignments.values.sorted { $0.key < $1.key }.map {
                            PlacementView.Row(key: $0.key, node: $0.node?.description, epoch: $0.epoch, atHome: $0.atHome,
                                              path: HotlineKey.path(of: $0.key))
                        }))
                    } catch HotlineError.notConfigured(let why) {
                        return .error(503, "not configured: \(why)")
                    }
                }
                _ = try server.start()
                admin = server
            } catch {
                system.shutdown()
                throw UsageError("invalid --admin \(adminSettings.bind): \(error)")
            }
        }
        return Incarnation(system: system, probe: probe, hotline: hotline, replicator: replicator, admin: admin)
    }

    /// What `/ready` says: ready once the node is configured (it then hosts what its directory placed here).
    static func readiness(_ hotline: HotlineNode, system: ClusterSystem, replicas: Replication.ReplicaStore) async -> AdminReadiness {
        if let failure = await replicas.failureReason {
            return .notReady("replica journal failed (\(failure)): this node's replicas refuse every request until it restarts")
        }
        if let full = await replicas.diskFullReason {
            return .notReady("\(full): this node's replicas refuse writes until space is freed")
        }
        if let membership = system.membership {
            let snapshot = membership.snapshot
            let me = snapshot.myself
            if me.status == .joining, let wait = snapshot.rememberedWait {
                return .notReady("membership status is joining: waiting to hear from a majority of the \(wait.of.count) members "
                                 + "the cluster last agreed on (heard \(wait.heard.count): \(wait.heard.map(\.description).joined(separator: ","));"
                                 + " remembered: \(wait.of.map(\.description).joined(separator: ",")))")
            }
            guard me.status == .up else { return .notReady("membership status is \(me.status), not up") }
            guard membership.hasQuorum else {
                return .notReady("no quorum: this node's side does not hold the majority of the last agreed members")
            }
        }
        do {
            let info = try await hotline.info()
            guard info.configured else {
                return .notReady("not configured: waiting for an operator (hotline replay, or a catalogue with no roles) to configure this node")
            }
            // Offices that cannot serve yet (recovering from their replicas — e.g. most of an office's replicas are
            // on the other side of a partition) are named, but the node stays ready: intake and the other offices
            // go on (consistency per district, availability at the front door).
            let waiting = (info.offices ?? []).filter { $0.phase != "serving" }
            let paths = info.hostedPaths.sorted().joined(separator: ",")
            var detail = "configured; hosting \(info.hostedPaths.count) workflow actors: \(paths)"
            if !waiting.isEmpty {
                detail += "; district offices not serving: " + waiting.map { o in
                    "\(o.jurisdiction) \(o.phase)" + (o.streamPhase.map { " (\($0))" } ?? "") + (o.detail.map { ": \($0)" } ?? "")
                }.joined(separator: "; ")
            }
            return .ready(detail)
        } catch {
            return .notReady("the node actor did not answer: \(error)")
        }
    }
}

extension NodeConfig {
    /// The catalogue and calendar files, read and validated. Throws `UsageError` naming `--catalog` /
    /// `--calendar`.
    func loadHotlineFiles() throws -> (catalogue: RoutingCatalogue?, calendar: WorkingCalendar?) {
        (try cataloguePath.map(loadCatalogue), try calendarPath.map(loadCalendar))
    }

    /// The configuration a node given a catalogue gives itself (system clock); it then hosts what placement
    /// gives it among the members (everything when it is alone).
    func selfConfiguration(_ files: (catalogue: RoutingCatalogue?, calendar: WorkingCalendar?),
                           node: NodeIdentity) -> HotlineConfiguration? {
        guard let catalogue = files.catalogue else { return nil }
        var settings = WorkflowSettings()
        if let calendar = files.calendar { settings.calendar = calendar }
        settings.remindersBefore = catalogue.reminders?.before
        return HotlineConfiguration(catalogue: catalogue, settings: settings, virtualStart: nil)
    }
}

func loadCatalogue(_ path: String) throws -> RoutingCatalogue {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UsageError("invalid --catalog \"\(path)\": cannot read the file")
    }
    do {
        return try RoutingCatalogue.load(from: data)
    } catch {
        throw UsageError("invalid --catalog \"\(path)\": \(error)")
    }
}

func loadCalendar(_ path: String) throws -> WorkingCalendar {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UsageError("invalid --calendar \"\(path)\": cannot read the file")
    }
    do {
        return try WorkingCalendar.load(from: data)
    } catch {
        throw UsageError("invalid --calendar \"\(path)\": \(error)")
    }
}

/// Write end of the self-pipe the signal handler writes to (set once, before the handler is installed).
nonisolated(unsafe) private var terminationPipeWriteEnd: Int32 = -1

/// Catches SIGTERM and SIGINT with a `sigaction` handler that writes the signal number to a pipe (the
/// self-pipe trick: `write(2)` is async-signal-safe); a thread blocks on the read end.
///
/// Installation is synchronous, so install it *before* announcing readiness: a signal that arrives any
/// time after `install()` returns is remembered, never lost. (Dispatch signal sources register
/// asynchronously and can miss a signal sent right after start.)
final class TerminationSignal: Sendable {
    private struct State {
        var received: Int32?
        var waiter: CheckedContinuation<Int32, Never>?
    }
    private let state = Mutex(State())

    private init() {}

    static func install() -> TerminationSignal {
        let handler = TerminationSignal()
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            // Without a pipe, fall back to the default action (terminate) — still stops the node.
            return handler
        }
        terminationPipeWriteEnd = fds[1]
        let readEnd = fds[0]
        for sig in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                var byte = UInt8(truncatingIfNeeded: sig)
                _ = write(terminationPipeWriteEnd, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
        let thread = Thread { [handler] in
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n == 1 {
                    handler.deliver(Int32(byte))
                    return
                }
                if n < 0 && errno == EINTR { continue }
                return
            }
        }
        thread.name = "signal-wait"
        thread.start()
        return handler
    }

    private func deliver(_ sig: Int32) {
        let waiter = state.withLock { s -> CheckedContinuation<Int32, Never>? in
            if s.received == nil { s.received = sig }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: sig)
    }

    /// Returns the first signal received (at once if one already arrived).
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let already = state.withLock { s -> Int32? in
                if let r = s.received { return r }
                s.waiter = continuation
                return nil
            }
            if let already { continuation.resume(returning: already) }
        }
    }
}
