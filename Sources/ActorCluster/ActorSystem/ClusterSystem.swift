import Distributed
import Synchronization

/// The Hotline cluster's `DistributedActorSystem`: lets plain `distributed actor`s call each other across
/// node processes over the `Transport`.
///
/// - Actor ids are `ActorID` = node identity (address + per-process uid) + path. `makeWellKnown(path:_:)`
///   gives an actor a stable path any node can address; other actors get `/user/<Type>-<n>`.
/// - Calls to local actors never touch the network (the runtime calls the instance `resolve` returns).
/// - Remote calls carry a correlation id; the reply is matched to the waiting caller. Each call has a
///   timeout (`ClusterSettings.callTimeout`, default 5 s; per call via `withCallTimeout`). A call to a node
///   whose connection is lost, cannot be dialled, or now runs another incarnation fails at once with
///   `RemoteCallError.nodeUnreachable`. A remote throw arrives as the thrown value itself when its type is a
///   `WireError` registered here (`registerWireError(_:)`), as `RemoteCallError.relayed` when it is a
///   `RemoteCallError` (a call the callee made failed), otherwise as `RemoteCallError.remoteError`.
/// - Inbound calls run as separate tasks off the I/O thread (`ClusterSettings.inboundExecution`: by default on the
///   global pool, or on the node's call threads): a slow actor does not delay other actors.
///
/// Lifecycle: `init` binds the listen address and starts I/O; `shutdown()` fails pending calls with
/// `.systemShutDown` and closes every connection.
public final class ClusterSystem: DistributedActorSystem, Sendable {
    public typealias SerializationRequirement = Codable
    public typealias InvocationEncoder = ClusterInvocationEncoder
    public typealias InvocationDecoder = ClusterInvocationDecoder
    public typealias ResultHandler = ClusterResultHandler

    /// This node: listen address with the real port, and this process's uid.
    public let node: NodeIdentity
    public let settings: ClusterSettings
    public let logger: Logger
    public let metrics: Metrics
    let transport: Transport
    /// Gossip membership; nil when `settings.membership` is nil (tools and drivers are not members).
    public let membership: MembershipShell?

    private struct LocalActor {
        weak var actor: (any DistributedActor)?
    }

    private struct State {
        var actors: [String: LocalActor] = [:]
        var nextActorNumber = 0
        var pending = PendingCalls()
        var shutDown = false
        /// The timeout sweeper parks here while no call is pending (an idle node does not wake up).
        var sweeperWaiter: CheckedContinuation<Void, Never>?
    }

    /// Receives one-way messages for a path, on the I/O thread: must return quickly and never block.
    public typealias MessageSink = @Sendable (_ from: NodeIdentity, _ payload: ArraySlice<UInt8>) -> Void

    private let state = Mutex(State())
    /// One-way message sinks by path: a lock of their own, so a stream of messages does not contend with callers
    /// registering and completing calls in `state`.
    private let messageSinks = Mutex<[String: MessageSink]>([:])
    private let nextCallID = Atomic<UInt64>(1)
    private let sweeper = Mutex<Task<Void, Never>?>(nil)
    private let callsSent: Counter
    private let callsReceived: Counter
    private let callsTimedOut: Counter
    private let callsFailedUnreachable: Counter
    private let messagesDropped: Counter
    private let callsRefusedTarget: Counter
    private let callsRefusedOperatorOnly: Counter
    /// `Module.Type.function` names only operators may call remotely (`restrictToOperators`).
    private let operatorOnly = Mutex<Set<String>>([])
    private let framesTooLarge: Counter
    /// Remote call latency, send to reply (or failure), in seconds.
    private let callLatency: Histogram
    let targetCheck = TargetCheck()
    /// Error types rethrown typed when a remote function throws them (`registerWireError`).
    let wireErrors = WireErrorRegistry()
    /// Rate limit of the warnings a peer's calls can cause (one line per event per `limitLogInterval`).
    private let limitLog: LogRateLimiter
    /// Inbound calls in flight, node-wide and per caller (`InboundCallAdmission`).
    let admission: InboundCallAdmission
    /// Monotonic time this system was created.
    private let startedNs: UInt64
    /// The call threads (`ClusterSettings.InboundExecution.callThread`, `callThreads` of them); empty in the other
    /// modes, or when none could be created (calls then run on the global pool).
    private let callThreads: [CallThread]

    /// Milliseconds since this system was created.
    public var uptimeMs: Int { Int((Monotonic.nowNs() &- startedNs) / 1_000_000) }

    /// Whether `shutdown` has started.
    public var isShutDown: Bool { transport.stopping.load(ordering: .relaxed) }

    /// Binds `settings.listen`, starts the transport and dials the seed nodes.
    ///
    /// - Throws: `TransportError.bindFailed` when the address cannot be bound.
    public init(settings: ClusterSettings = .default, logger: Logger? = nil, metrics: Metrics = Metrics()) throws {
        startedNs = Monotonic.nowNs()
        self.settings = settings
        self.metrics = metrics
        let uid = NodeIdentity.randomUID()
        let log = (logger ?? Logger(level: settings.logLevel)).with("node", settings.nodeName)
        limitLog = LogRateLimiter(interval: settings.transport.limitLogInterval)
        let transport = Transport(clusterName: settings.clusterName, uid: uid, settings: settings.transport,
                                  logger: log, metrics: metrics)
        self.transport = transport
        self.node = try transport.start(listen: settings.listen)
        var threads: [CallThread] = []
        if settings.inboundExecution == .callThread {
            let count = min(max(1, settings.callThreads), ClusterSettings.maxCallThreads)
            for i in 0..<count {
                let thread = CallThread()
                guard thread.start(name: count == 1 ? "hotline-calls" : "hotline-call\(i)") else { break }
                threads.append(thread)
            }
            if threads.count < count {
                log.warning("system.call_threads", ["started": threads.count, "wanted": count,
                                                    "detail": "thread creation failed; calls without one run on the global pool"])
            }
        }
        callThreads = threads
        self.logger = log
        admission = InboundCallAdmission(settings: settings, metrics: metrics, logger: log)
        callsSent = metrics.counter("hotline_calls_sent_total", help: "Remote calls sent")
        callsReceived = metrics.counter("hotline_calls_received_total", help: "Remote calls received")
        callsTimedOut = metrics.counter("hotline_calls_timed_out_total", help: "Remote calls that timed out")
        callsFailedUnreachable = metrics.counter("hotline_calls_unreachable_total",
                                                 help: "Remote calls failed because the node was unreachable")
        messagesDropped = metrics.counter("hotline_messages_dropped_total",
                                          help: "One-way messages for a path with no sink")
        callsRefusedTarget = metrics.counter("hotline_calls_refused_target_total",
                                             help: "Inbound calls refused: the target is not a distributed function of the recipient's type")
        callsRefusedOperatorOnly = metrics.counter("hotline_calls_refused_operator_only_total",
                                                   help: "Inbound calls refused: the function is reserved for operators")
        callLatency = metrics.histogram("cluster_remote_call_seconds",
                                        help: "Remote calls from this node: seconds from send to reply or failure.")
        framesTooLarge = metrics.counter("hotline_frames_too_large_total",
                                         help: "Calls, replies and messages refused at the sender for exceeding the frame limit")
        // A seed that is this node under another spelling is this node (else the first seed would not know it is
        // first, and the node would dial itself).
        let recognised = SeedSelfRecognition.recognise(settings.seeds, own: node.address, resolve: settings.transport.resolveHost)
        let seeds = recognised.seeds
        for alias in recognised.aliases {
            log.info("membership.seed_is_self", ["seed": alias, "node": node.address])
        }
        if !recognised.unresolved.isEmpty {
            log.warning("membership.seed_unresolved", ["hosts": recognised.unresolved.joined(separator: "; "),
                                                       "detail": "a seed on this node's port that could not be resolved is taken for another node"])
        }
        if let m = settings.membership {
            membership = MembershipShell(transport: transport, node: node, name: settings.nodeName, roles: settings.roles,
                                         seeds: seeds, settings: m, memory: settings.memberMemory, logger: log,
                                         metrics: metrics)
        } else {
            membership = nil
        }
        try wireErrors.register(RemoteCallError.self)  // a valid, fresh name: does not throw
        try wireErrors.register(Replication.StoreError.self)  // a replica's refusal reaches its owner typed
        transport.setDelegate(self)
        startSweeper()
        for seed in seeds where seed != node.address {
            transport.associate(with: seed)
        }
        if let membership {
            membership.onDown = { [weak self] member in
                self?.failPending(to: member, reason: "member \(member) is down")
            }
            membership.start()
        }
        log.info("system.started", ["listen": node.address, "uid": node.uidHex,
                                    "cluster": settings.clusterName])
    }

    /// Fails pending calls with `.systemShutDown`, closes all connections and stops the I/O thread.
    /// Idempotent.
    public func shutdown() {
        let (pending, waiter) = state.withLock { s -> ([(UInt64, PendingCalls.Entry)], CheckedContinuation<Void, Never>?) in
            if s.shutDown { return ([], nil) }
            s.shutDown = true
            defer { s.sweeperWaiter = nil }
            return (s.pending.removeAll { _ in true }, s.sweeperWaiter)
        }
        waiter?.resume()
        for (_, entry) in pending { entry.continuation.resume(throwing: RemoteCallError.systemShutDown) }
        sweeper.withLock { $0?.cancel(); $0 = nil }
        membership?.stop()
        transport.shutdown()
        // Jobs already queued on the call threads run first; later ones run on the global pool.
        for thread in callThreads { thread.stop() }
        logger.info("system.stopped")
    }

    /// Remote calls sent and still awaiting a reply.
    public var pendingCallCount: Int { state.withLock { $0.pending.count } }

    /// The node's I/O thread as a task executor: `withTaskExecutorPreference(system.ioExecutor) { ... }` runs
    /// a caller there so replies resume it without a thread hop. Never block on it.
    public var ioExecutor: any TaskExecutor { transport.taskExecutor }

    /// The node's (first) call thread as a task executor; nil unless `inboundExecution` is `.callThread`. A caller
    /// that prefers it (`withTaskExecutorPreference`) is resumed there by its replies, in batches, and the calls
    /// it sends from there are written once per batch. Never block on it.
    public var callExecutor: (any TaskExecutor)? { callThreads.first }

    /// Where an inbound call for `path` runs: nil for the global pool. With several call threads, the calls of
    /// one recipient always go to the same one (FNV-1a of the path), so an actor's calls queue behind each other,
    /// not behind another actor's.
    private func inboundExecutor(for path: String) -> (any TaskExecutor)? {
        switch settings.inboundExecution {
        case .globalPool: return nil
        case .ioThread: return transport.taskExecutor
        case .callThread:
            if callThreads.count <= 1 { return callThreads.first }
            var hash: UInt32 = 2_166_136_261
            for byte in path.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
            return callThreads[Int(hash % UInt32(callThreads.count))]
        }
    }

    /// Peers this node currently has a live connection with.
    public var associatedNodes: [NodeIdentity] { transport.associatedPeers }

    // MARK: - Callers and operators

    /// Who made the remote call being handled: in effect while a distributed function runs for a remote
    /// caller (and in what it calls locally); nil for calls made inside this process.
    public struct Caller: Sendable, Equatable {
        public var node: NodeIdentity
        /// The caller proved the operator secret in its handshake (`TransportSettings.operatorCredential`).
        public var isOperator: Bool
    }

    public enum CallerContext {
        @TaskLocal public static var current: Caller?
    }

    /// True when the code runs for a local caller or for a remote caller that proved the operator secret.
    public static var callerIsLocalOrOperator: Bool { CallerContext.current?.isOperator ?? true }

    /// Reserves distributed functions for operators: a remote call of one of them from a caller that did not
    /// prove the operator secret is answered `RemoteCallError.notPermitted` without running (counted in
    /// `hotline_calls_refused_operator_only_total`). Calls inside this process are not affected.
    ///
    /// - Parameter functions: `Module.Type.function` names as the Swift demangler prints them, e.g.
    ///   `"Hotline.HotlineNode.configure"` (no argument labels).
    public func restrictToOperators(_ functions: [String]) {
        operatorOnly.withLock { $0.formUnion(functions) }
    }

    /// Lets remote calls from this system rethrow `E` typed: when a remote distributed function throws an `E`
    /// (the callee need not register it), the caller's `try await` throws the decoded `E` itself instead of
    /// `RemoteCallError.remoteError`. Register every `WireError` your callers catch by type, before calling.
    /// Registering the same type again does nothing. `RemoteCallError` is always registered.
    ///
    /// - Throws: `ClusterSystemError.invalidWireName` when `E.wireName` is empty, longer than 255 bytes or not
    ///   printable ASCII; `.wireNameInUse` when another type has that name on this system.
    public func registerWireError<E: WireError>(_ type: E.Type) throws(ClusterSystemError) {
        try wireErrors.register(type)
    }

    // MARK: - Ids and local actors

    enum TaskLocals {
        @TaskLocal static var wellKnownPath: String?
        @TaskLocal static var callTimeout: Duration?
    }

    /// Call-scoped key/value context that travels with every remote call made inside it and is in effect
    /// while the callee runs (and for the calls the callee makes in turn) — like trace-context baggage.
    /// Keys and values are strings; keep them small (they ride in every call frame).
    public enum CallBaggage {
        @TaskLocal public static var current: [String: String] = [:]
    }

    /// Runs `operation` with `key = value` added to the call baggage.
    public static func withBaggage<T>(_ key: String, _ value: String, operation: () async throws -> T) async rethrows -> T {
        var bag = CallBaggage.current
        bag[key] = value
        return try await CallBaggage.$current.withValue(bag) { try await operation() }
    }

    /// Creates an actor at a stable `path` (e.g. `/district/210302`) so other nodes can address it as
    /// `ActorID(node: thisNode, path: path)`.
    ///
    /// - Throws: `ClusterSystemError.invalidPath` or `.pathInUse` (a live actor already has the path), or
    ///   what `make` throws.
    public func makeWellKnown<Act: DistributedActor>(path: String, _ make: () throws -> Act) throws -> Act
    where Act.ID == ActorID {
        guard ActorID.isValidPath(path) else { throw ClusterSystemError.invalidPath(path) }
        let inUse = state.withLock { $0.actors[path]?.actor != nil }
        guard !inUse else { throw ClusterSystemError.pathInUse(path) }
        return try TaskLocals.$wellKnownPath.withValue(path) { try make() }
    }

    /// The id a well-known actor at `path` on `node` has.
    public static func wellKnownID(_ path: String, on node: NodeIdentity) -> ActorID {
        ActorID(node: node, path: path)
    }

    /// Runs `operation` with `timeout` as the call timeout of every remote call it makes.
    public static func withCallTimeout<T>(_ timeout: Duration, operation: () async throws -> T) async rethrows -> T {
        try await TaskLocals.$callTimeout.withValue(timeout) { try await operation() }
    }

    public func assignID<Act>(_ actorType: Act.Type) -> ActorID where Act: DistributedActor, Act.ID == ActorID {
        if let path = TaskLocals.wellKnownPath { return ActorID(node: node, path: path) }
        let n = state.withLock { s in
            s.nextActorNumber += 1
            return s.nextActorNumber
        }
        return ActorID(node: node, path: "/user/\(Act.self)-\(n)")
    }

    public func actorReady<Act>(_ actor: Act) where Act: DistributedActor, Act.ID == ActorID {
        let replaced = state.withLock { s -> Bool in
            let live = s.actors[actor.id.path]?.actor != nil
            s.actors[actor.id.path] = LocalActor(actor: actor)
            return live
        }
        if replaced { logger.warning("actor.path_replaced", ["path": actor.id.path]) }
    }

    public func resignID(_ id: ActorID) {
        state.withLock { s in
            if let entry = s.actors[id.path], entry.actor == nil || entry.actor?.id == id as AnyHashable {
                s.actors[id.path] = nil
            }
        }
    }

    /// Local actor for `id`, or nil when `id` names another node (the runtime then makes a remote proxy).
    ///
    /// - Throws: `RemoteCallError.noSuchActor` when `id` is on this node but no live actor has that path,
    ///   or it is not an `Act`.
    public func resolve<Act>(id: ActorID, as actorType: Act.Type) throws -> Act?
    where Act: DistributedActor, Act.ID == ActorID {
        guard id.node.matches(node) else { return nil }
        guard let actor = localActor(path: id.path) as? Act else { throw RemoteCallError.noSuchActor(id) }
        return actor
    }

    func localActor(path: String) -> (any DistributedActor)? {
        state.withLock { $0.actors[path]?.actor }
    }

    public func makeInvocationEncoder() -> InvocationEncoder { InvocationEncoder() }

    /// A decoder for values from the wire that may hold distributed actor references: it carries this system
    /// under `.actorSystemKey`, so a decoded reference resolves to a local actor or a remote proxy.
    public var wireDecoder: Wire.BinaryDecoder { Wire.BinaryDecoder(userInfo: [.actorSystemKey: self]) }

    // MARK: - Outbound calls

    public func remoteCall<Act, Err, Res>(
        on actor: Act, target: RemoteCallTarget, invocation: inout InvocationEncoder,
        throwing: Err.Type, returning: Res.Type
    ) async throws -> Res where Act: DistributedActor, Act.ID == ActorID, Err: Error, Res: Codable {
        switch try await call(actor.id, target: target, invocation: invocation) {
        case .value(let bytes):
            do {
                return try wireDecoder.decode(Res.self, from: bytes)
            } catch {
                throw RemoteCallError.invocationFailed("cannot decode result as \(Res.self): \(error)")
            }
        case .void:
            throw RemoteCallError.invocationFailed("expected \(Res.self) from \(target.identifier), got Void")
        case let failure:
            throw error(of: failure, actor: actor.id)
        }
    }

    public func remoteCallVoid<Act, Err>(
        on actor: Act, target: RemoteCallTarget, invocation: inout InvocationEncoder, throwing: Err.Type
    ) async throws where Act: DistributedActor, Act.ID == ActorID, Err: Error {
        switch try await call(actor.id, target: target, invocation: invocation) {
        case .void, .value:
            return
        case let failure:
            throw error(of: failure, actor: actor.id)
        }
    }

    /// The error a failed reply stands for: a typed thrown error decoded when its wire name is registered (a
    /// `RemoteCallError` wrapped as `relayed`), else `remoteError`; the `RemoteCallError` of a refusal.
    private func error(of reply: ReplyEnvelope, actor: ActorID) -> any Error {
        switch reply {
        case .thrownTyped(let wireName, let typeName, let message, let payload):
            do {
                switch try wireErrors.decode(wireName, payload: payload, decoder: wireDecoder) {
                case let inner as RemoteCallError: return RemoteCallError.relayed(by: actor.node, inner)
                case let decoded?: return decoded
                case nil: break
                }
            } catch {
                logger.logLimited(limitLog, .warning, "call.error_undecodable",
                                  ["actor": actor, "wire_name": wireName, "error": error])
            }
            return RemoteCallError.remoteError(typeName: typeName, message: message)
        default:
            return Self.failure(of: reply, actor: actor)
        }
    }

    /// The `RemoteCallError` a failed reply other than a typed throw stands for.
    private static func failure(of reply: ReplyEnvelope, actor: ActorID) -> RemoteCallError {
        switch reply {
        case .thrown(let typeName, let message), .thrownTyped(_, let typeName, let message, _):
            .remoteError(typeName: typeName, message: message)
        case .noSuchActor: .noSuchActor(actor)
        case .invocationFailed(let why): .invocationFailed(why)
        case .noSuchTarget(_, let target): .noSuchTarget(actor: actor, target: target)
        case .resultTooLarge(let bytes, let limit): .frameTooLarge(what: "reply", bytes: bytes, limit: limit)
        case .notPermitted(_, let target): .notPermitted(actor: actor, target: target)
        case .overloaded(let perCaller, let limit): .remoteOverloaded(node: actor.node, perCaller: perCaller, limit: limit)
        case .value, .void: .invocationFailed("not a failure")
        }
    }

    /// Sends one call and waits for its reply envelope (internal so tests can send arbitrary targets).
    func call(_ id: ActorID, target: RemoteCallTarget, invocation: InvocationEncoder) async throws -> ReplyEnvelope {
        if id.node.address == node.address {
            // Our own address: either our own actor that is gone, or an actor of an earlier process here.
            if id.node.matches(node) { throw RemoteCallError.noSuchActor(id) }
            throw RemoteCallError.nodeUnreachable(node: id.node, reason: "that process was replaced by \(node)")
        }
        if let membership, membership.isDown(id.node) {
            callsFailedUnreachable.increment()
            throw RemoteCallError.nodeUnreachable(node: id.node, reason: "member \(id.node) is down")
        }
        let timeout = TaskLocals.callTimeout ?? settings.callTimeout
        let timeoutMs = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let callID = nextCallID.add(1, ordering: .relaxed).newValue
        let identifier = target.identifier
        let baggage = CallBaggage.current
        callsSent.increment()
        let startNs = Monotonic.nowNs()
        defer { callLatency.observe(Double(Monotonic.nowNs() &- startNs) / 1e9) }
        return try await withTaskCancellationHandler {
            // Unchecked: an entry is resumed only by whoever removes it from `pending` under the lock (or here, when
            // it never got in), so exactly once; the checked kind allocated a canary per call.
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<ReplyEnvelope, any Error>) in
                let entry = PendingCalls.Entry(actor: id, target: identifier,
                                               deadline: .now + timeout, timeoutMilliseconds: timeoutMs,
                                               continuation: continuation)
                let (accepted, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
                    if s.shutDown { return (false, nil) }
                    s.pending.insert(callID, entry)
                    defer { s.sweeperWaiter = nil }
                    return (true, s.sweeperWaiter)
                }
                waiter?.resume()
                guard accepted else {
                    continuation.resume(throwing: RemoteCallError.systemShutDown)
                    return
                }
                do {
                    // A call frame dropped after `send` accepted it (e.g. above the frame limit the peer announced
                    // in its handshake) fails the call at once, typed, instead of waiting out the timeout.
                    let undelivered: UndeliveredHandler = { [weak self] error in
                        guard let self, let e = self.state.withLock({ $0.pending.remove(callID) }) else { return }
                        let failure = Self.callError(error, node: id.node, what: "call")
                        if case .frameTooLarge = failure { self.framesTooLarge.increment() }
                        e.continuation.resume(throwing: failure)
                    }
                    try transport.send(.call, to: id.node, onUndelivered: undelivered) { bytes in
                        try CallEnvelope.checkLimits(generics: invocation.generics.count,
                                                     arguments: invocation.arguments.count, baggage: baggage)
                        CallEnvelope.encode(callID: callID, recipientPath: id.path, target: identifier,
                                            generics: invocation.generics, arguments: invocation.arguments,
                                            baggage: baggage, into: &bytes)
                    }
                } catch {
                    if let e = state.withLock({ $0.pending.remove(callID) }) {
                        let failure = Self.callError(error, node: id.node, what: "call")
                        switch failure {
                        case .nodeUnreachable: callsFailedUnreachable.increment()
                        case .frameTooLarge:
                            framesTooLarge.increment()
                            logger.logLimited(limitLog, .warning, "call.too_large", ["actor": id, "target": identifier, "error": failure])
                        default: break
                        }
                        e.continuation.resume(throwing: failure)
                    }
                }
            }
        } onCancel: {
            if let e = state.withLock({ $0.pending.remove(callID) }) {
                e.continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// The `RemoteCallError` a failed send stands for; `what` names the frame (`call`, `reply`, `message`).
    static func callError(_ error: any Error, node: NodeIdentity, what: String = "call") -> RemoteCallError {
        switch error {
        case let e as RemoteCallError: return e
        case let e as TransportError:
            switch e {
            case .nodeUnreachable(_, let reason): return .nodeUnreachable(node: node, reason: reason)
            case .outboundQueueFull(_, let bytes): return .overloaded(node: node, queuedBytes: bytes)
            case .frameTooLarge(let bytes, let max):
                return .frameTooLarge(what: what, bytes: bytes, limit: max)
            case .shutDown: return .systemShutDown
            default: return .invocationFailed("\(e)")
            }
        default: return .invocationFailed("\(error)")
        }
    }

    /// Fails every pending call to `node` with `.nodeUnreachable`.
    func failPending(to node: NodeIdentity, reason: String) {
        let failed = state.withLock { $0.pending.removeAll { $0.actor.node.matches(node) } }
        callsFailedUnreachable.increment(by: failed.count)
        for (_, e) in failed { e.continuation.resume(throwing: RemoteCallError.nodeUnreachable(node: node, reason: reason)) }
    }

    private func startSweeper() {
        let task = Task.detached { [self] in await self.runSweeper() }
        sweeper.withLock { $0 = task }
    }

    /// Expires timed-out calls every `timeoutResolution` while calls are pending; parks while none are.
    private func runSweeper() async {
        let resolution = settings.timeoutResolution
        while !Task.isCancelled {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.shutDown || s.pending.count > 0 { return true }
                    s.sweeperWaiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
            if state.withLock({ $0.shutDown }) { return }
            try? await Task.sleep(for: resolution)
            expireCalls(now: .now)
        }
    }

    func expireCalls(now: ContinuousClock.Instant) {
        let expired = state.withLock { $0.pending.removeExpired(now: now) }
        guard !expired.isEmpty else { return }
        callsTimedOut.increment(by: expired.count)
        for (_, e) in expired {
            e.continuation.resume(throwing: RemoteCallError.timeout(actor: e.actor, target: e.target,
                                                                    afterMilliseconds: e.timeoutMilliseconds))
        }
    }

    // MARK: - One-way messages

    /// Registers `sink` for one-way messages addressed to `path` on this node (replacing any earlier one).
    public func registerMessageSink(path: String, _ sink: @escaping MessageSink) throws {
        guard ActorID.isValidPath(path) else { throw ClusterSystemError.invalidPath(path) }
        messageSinks.withLock { $0[path] = sink }
    }

    /// Sends `payload` one-way to the message sink at `recipient` (a `message` frame: path string, then the
    /// payload bytes). No reply.
    ///
    /// Delivery (at most once): a message this method accepts (returns without throwing) is either *delivered* —
    /// handed to the kernel on a live, handshaked connection to the recipient's node, in send order per node while
    /// that association lives — or dropped because the dial failed (name resolution, connect, handshake), the
    /// association was lost before it was written, the node restarted with another uid, or the system shut down;
    /// then `onUndelivered` is called exactly once (`.nodeUnreachable` with the reason, or `.systemShutDown`), on
    /// an arbitrary thread (usually the I/O thread: return quickly, never block). It is never called when this
    /// method throws. Bytes handed to the kernel can still be lost if the connection breaks afterwards, and a
    /// delivered message to a path with no sink is dropped by the receiver: the sender is not told of those.
    ///
    /// - Throws: `RemoteCallError.nodeUnreachable` (backing off after a failed dial or lost association, or the
    ///   address runs another incarnation), `.overloaded` (outbound queue full: back off and retry),
    ///   `.invocationFailed` (payload above the frame limit), `.systemShutDown`.
    @inlinable
    public func sendMessage<C: Collection>(_ payload: C, to recipient: ActorID,
                                           onUndelivered: (@Sendable (RemoteCallError) -> Void)? = nil) throws
    where C.Element == UInt8 {
        // Specialised in the caller's module: the bytes reach the transport as a slice, not through a generic
        // closure context (generic metadata and value-witness copies per message: 5 % of a stream's CPU).
        try sendMessageBytes(ArraySlice(payload), to: recipient, onUndelivered: onUndelivered)
    }

    /// `sendMessage` with its payload as a slice.
    @usableFromInline
    func sendMessageBytes(_ payload: ArraySlice<UInt8>, to recipient: ActorID,
                          onUndelivered: (@Sendable (RemoteCallError) -> Void)?) throws {
        let node = recipient.node
        var handler: UndeliveredHandler?
        if let onUndelivered {
            handler = { error in onUndelivered(ClusterSystem.callError(error, node: node)) }
        }
        do {
            try transport.send(.message, to: recipient.node, onUndelivered: handler) { bytes in
                var w = Wire.ByteWriter(appendingTo: [])
                swap(&w.bytes, &bytes)
                w.writeString(recipient.path)
                w.writeBytes(payload)
                swap(&w.bytes, &bytes)
            }
        } catch {
            let failure = Self.callError(error, node: recipient.node, what: "message")
            if case .frameTooLarge = failure {
                framesTooLarge.increment()
                logger.logLimited(limitLog, .warning, "message.too_large", ["recipient": recipient, "error": failure])
            }
            throw failure
        }
    }

    private func deliverMessage(_ payload: ArraySlice<UInt8>, from peer: NodeIdentity) {
        var reader = Wire.ByteReader(payload)
        let path: String
        do {
            path = try reader.readString()
        } catch {
            transport.rejectMalformed(from: peer, reason: "message envelope: \(error)")
            return
        }
        let rest = payload[reader.position...]
        guard let sink = messageSinks.withLock({ $0[path] }) else {
            messagesDropped.increment()
            return
        }
        sink(peer, rest)
    }

    // MARK: - Inbound calls

    /// - Parameter beforeReply: run once, just before the reply is written (frees the call's admission slot).
    func handleCall(_ envelope: CallEnvelope, from peer: NodeIdentity, beforeReply: (@Sendable () -> Void)? = nil) async {
        callsReceived.increment()
        let handler = ClusterResultHandler(system: self, callID: envelope.callID, caller: peer, beforeReply: beforeReply)
        guard let actor = localActor(path: envelope.recipientPath) else {
            handler.send(.noSuchActor(path: envelope.recipientPath))
            return
        }
        let accepted: TargetCheck.Accepted
        do {
            accepted = try targetCheck.check(envelope.target, on: type(of: actor),
                                             genericCount: envelope.genericSubstitutions.count)
        } catch {
            callsRefusedTarget.increment()
            // Targets come from the network: log and echo at most 256 bytes of one.
            let shown = String(decoding: envelope.target.utf8.prefix(256), as: UTF8.self)
            logger.logLimited(limitLog, .warning, "call.target_refused", ["path": envelope.recipientPath, "target": shown,
                                                   "actor_type": "\(type(of: actor))", "reason": "\(error)",
                                                   "peer": peer])
            handler.send(.noSuchTarget(path: envelope.recipientPath, target: shown))
            return
        }
        guard envelope.arguments.count == accepted.parameterCount else {
            handler.send(.invocationFailed("\(accepted.function) takes \(accepted.parameterCount) argument(s), the call sent \(envelope.arguments.count)"))
            return
        }
        let caller = Caller(node: peer, isOperator: transport.isOperator(peer))
        if !caller.isOperator, operatorOnly.withLock({ $0.contains(accepted.function) }) {
            callsRefusedOperatorOnly.increment()
            logger.logLimited(limitLog, .warning, "call.not_permitted", ["function": accepted.function, "peer": peer])
            handler.send(.notPermitted(path: envelope.recipientPath, target: envelope.target))
            return
        }
        var decoder = ClusterInvocationDecoder(envelope: envelope, system: self, handler: handler)
        do {
            try await CallerContext.$current.withValue(caller) {
                if let signature = accepted.signature {
                    try await execute(resolved: signature, on: actor, invocationDecoder: &decoder, handler: handler)
                } else {
                    try await executeDistributedTarget(on: actor, target: RemoteCallTarget(envelope.target),
                                                       invocationDecoder: &decoder, handler: handler)
                }
            }
        } catch {
            logger.debug("call.invoke_failed", ["target": envelope.target, "peer": peer, "error": error])
        }
        if !handler.hasReplied {
            handler.send(.invocationFailed("could not invoke \(envelope.target) on \(envelope.recipientPath)"))
        }
    }

    /// `executeDistributedTarget` for a non-generic target whose types `TargetCheck` resolved once: the same steps
    /// (arguments decoded by the runtime into a buffer per parameter type, the function run, its result handed to
    /// `handler`, a throw — of the function or of argument decoding — to `handler.onThrow`) without demangling the
    /// target's parameter and return types again on every call.
    private func execute(resolved signature: ResolvedSignature, on actor: any DistributedActor,
                         invocationDecoder: inout ClusterInvocationDecoder, handler: ClusterResultHandler) async throws {
        func allocate<R>(_: R.Type) -> UnsafeMutableRawPointer {
            UnsafeMutableRawPointer(UnsafeMutablePointer<R>.allocate(capacity: 1))
        }
        let returnType = signature.returnType
        let resultBuffer = _openExistential(returnType, do: allocate)
        defer { resultBuffer.deallocate() }
        do {
            try await _swiftDistributedExecuteTarget(
                on: actor, signature.name.baseAddress!, UInt(signature.name.count), argumentDecoder: &invocationDecoder,
                argumentTypes: UnsafeRawPointer(signature.argumentTypes.baseAddress!),
                resultBuffer: UnsafeRawPointer(resultBuffer), substitutions: nil, witnessTables: nil, numWitnessTables: 0)
            if returnType == Void.self {
                try await handler.onReturnVoid()
            } else {
                try await invokeHandlerOnReturn(handler: handler, resultBuffer: UnsafeRawPointer(resultBuffer),
                                                metatype: returnType)
            }
        } catch {
            try await handler.onThrow(error: error)
        }
    }

    /// Sends a reply; one above the frame limit is replaced by `resultTooLarge` (the caller gets
    /// `RemoteCallError.frameTooLarge(what: "reply", …)` at once instead of waiting out its timeout) — or, for a
    /// thrown error, by a status-2 reply with its type name and message clipped (the caller gets `remoteError`).
    func sendReply(_ reply: ReplyEnvelope, callID: UInt64, to caller: NodeIdentity) {
        do {
            try transport.send(.reply, to: caller) { bytes in reply.encode(callID: callID, into: &bytes) }
        } catch TransportError.frameTooLarge(let bytes, let limit) {
            framesTooLarge.increment()
            logger.logLimited(limitLog, .warning, "reply.too_large", ["peer": caller, "bytes": bytes, "limit": limit])
            sendReply(reply.clippedForFrameLimit ?? .resultTooLarge(bytes: bytes, limit: limit), callID: callID, to: caller)
        } catch {
            logger.debug("reply.undeliverable", ["peer": caller, "error": error])
        }
    }
}

/// Misuse of the actor system by local code (never caused by a peer).
public enum ClusterSystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path does not start with `/`, is empty, longer than 512 bytes or has spaces/control characters.
    case invalidPath(String)
    /// A live actor already has this well-known path on this node.
    case pathInUse(String)
    /// A `WireError`'s `wireName` is empty, longer than 255 bytes or not printable ASCII (`registerWireError`).
    case invalidWireName(String)
    /// Another type (`registeredType`, its `String(reflecting:)`) is already registered under this wire name.
    case wireNameInUse(String, registeredType: String)

    public var description: String {
        switch self {
        case .invalidPath(let p): "invalid actor path \"\(p)\""
        case .pathInUse(let p): "actor path \(p) is already in use on this node"
        case .invalidWireName(let n): "invalid wire error name \(n.debugDescription): 1–255 bytes of printable ASCII"
        case .wireNameInUse(let n, let t): "wire error name \(n) is already registered for \(t)"
        }
    }
}

extension ClusterSystem: TransportDelegate {
    public func transport(_ transport: Transport, associated peer: NodeIdentity) {
        logger.debug("system.association.up", ["peer": peer])
        membership?.feed(.associated(peer))
    }

    public func transport(_ transport: Transport, disassociated peer: NodeIdentity, reason: String) {
        logger.debug("system.association.down", ["peer": peer, "reason": reason])
        failPending(to: peer, reason: reason)
        membership?.feed(.connectionLost(peer))
    }

    public func transport(_ transport: Transport, dialFailed address: NodeAddress, reason: String, refused: Bool) {
        logger.debug("dial.failed", ["address": address, "reason": reason, "refused": refused])
        membership?.feed(.unreachable(address, refused: refused))
        let failed = state.withLock { $0.pending.removeAll { $0.actor.node.address == address } }
        callsFailedUnreachable.increment(by: failed.count)
        for (_, e) in failed {
            e.continuation.resume(throwing: RemoteCallError.nodeUnreachable(node: e.actor.node, reason: reason))
        }
    }

    public func transport(_ transport: Transport, received kind: Wire.FrameKind, payload: ArraySlice<UInt8>,
                          from peer: NodeIdentity) {
        switch kind {
        case .call:
            let envelope: CallEnvelope
            do {
                envelope = try CallEnvelope.decode(payload)
            } catch {
                transport.rejectMalformed(from: peer, reason: "call envelope: \(error)")
                return
            }
            // Beyond the in-flight limits the call is answered `overloaded` at once, never queued.
            let callBytes = payload.count
            if let refusal = admission.admit(peer, bytes: callBytes) {
                sendReply(refusal, callID: envelope.callID, to: peer)
                return
            }
            let preference = inboundExecutor(for: envelope.recipientPath)
            // The slot is freed just before the reply is written: a caller that has the reply finds it free.
            let release: @Sendable () -> Void = { [admission] in admission.release(peer, bytes: callBytes) }
            if envelope.baggage.isEmpty, preference == nil {
                // The common case without a preference record on the task (cheaper to create and to enqueue).
                Task { await self.handleCall(envelope, from: peer, beforeReply: release) }
            } else if envelope.baggage.isEmpty {
                Task(executorPreference: preference) {
                    await self.handleCall(envelope, from: peer, beforeReply: release)
                }
            } else {
                Task(executorPreference: preference) {
                    await CallBaggage.$current.withValue(envelope.baggage) {
                        await self.handleCall(envelope, from: peer, beforeReply: release)
                    }
                }
            }
        case .reply:
            let decoded: (callID: UInt64, reply: ReplyEnvelope)
            do {
                decoded = try ReplyEnvelope.decode(payload)
            } catch {
                transport.rejectMalformed(from: peer, reason: "reply envelope: \(error)")
                return
            }
            let entry = state.withLock { s -> PendingCalls.Entry? in
                guard let e = s.pending.entries[decoded.callID], e.actor.node.matches(peer) else { return nil }
                return s.pending.remove(decoded.callID)
            }
            // A late reply (after timeout) or one from the wrong peer finds nothing and is dropped.
            entry?.continuation.resume(returning: decoded.reply)
        case .message:
            deliverMessage(payload, from: peer)
        case .membership:
            membership?.received(payload, from: peer)
        default:
            logger.debug("frame.unhandled", ["kind": kind, "peer": peer])
        }
    }
}
