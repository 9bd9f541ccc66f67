/// Why a call to a distributed actor failed, in cases a caller can act on.
///
/// Thrown by any `distributed func` invoked on a remote actor of a `ClusterSystem` (and by `resolve` for
/// local ids that name no live actor). Every case but `relayed` and `remoteError` is about the call to that
/// actor itself. An error the remote function threw arrives as itself when its type is a registered
/// `WireError`, as `relayed` when it is a `RemoteCallError` (a call the callee made failed), else as
/// `remoteError`. `RemoteCallError` is itself a `WireError` (`"cluster.RemoteCallError"`, registered by
/// every system). Use `isRetryable` to decide whether the same call may simply be sent again.
public enum RemoteCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No reply within the call timeout (default 5 s; `ClusterSettings.callTimeout`, or per call with
    /// `ClusterSystem.withCallTimeout`). The call may or may not have run on the remote node.
    case timeout(actor: ClusterSystem.ActorID, target: String, afterMilliseconds: Int)
    /// The connection to the actor's node is lost, cannot be made, or that address now runs another
    /// incarnation (different uid). Raised at once, without waiting for the timeout.
    case nodeUnreachable(node: NodeIdentity, reason: String)
    /// The node is up but hosts no actor at that path.
    case noSuchActor(ClusterSystem.ActorID)
    /// The remote function threw a value this caller cannot rethrow typed: its type is not a `WireError`, is
    /// not registered on the calling system (`ClusterSystem.registerWireError(_:)`), or its payload did not
    /// decode here (version skew). `typeName` is the thrower's `String(reflecting:)` of the type, `message`
    /// its `String(describing:)` of the value (clipped to 512 bytes when the whole error did not fit a reply
    /// frame). The call ran.
    case remoteError(typeName: String, message: String)
    /// The remote function (on `by`, the node called) threw a `RemoteCallError` of its own: a call *it* made
    /// failed — e.g. `.relayed(by: b, .nodeUnreachable(node: c, …))` when `b` could not reach a third node
    /// `c`. The call to `by` itself ran and answered; `by` is not unreachable. Nested when passed on by
    /// several nodes (`relayed(by: b, relayed(by: c, …))`). Never retryable as such (`isRetryable`): look
    /// at the inner error to decide.
    indirect case relayed(by: NodeIdentity, RemoteCallError)
    /// Arguments, result or envelope could not be encoded/decoded, or the remote node could not invoke
    /// the target (unknown function, version skew).
    case invocationFailed(String)
    /// The actor at that path has no distributed function `target` (another type lives at the path, the
    /// nodes run different versions, or the name is not a distributed function at all). The call did not run.
    case noSuchTarget(actor: ClusterSystem.ActorID, target: String)
    /// The function is reserved for operators (`ClusterSystem.restrictToOperators(_:)`) and this caller did
    /// not prove the operator secret in its handshake. The call did not run.
    case notPermitted(actor: ClusterSystem.ActorID, target: String)
    /// A frame would exceed the frame limit (`TransportSettings.maxFrameBytes`): `what` is `call`, `reply`
    /// or `message`. Raised at the sender at once: for a call or message before anything is sent, for a
    /// reply on the callee (the function ran; its result could not be sent), which answers this instead.
    /// Page or split the data (size pages by bytes, not by counts).
    case frameTooLarge(what: String, bytes: Int, limit: Int)
    /// The outbound queue to that node is full (memory bound); back off and retry.
    case overloaded(node: NodeIdentity, queuedBytes: Int)
    /// The callee refused the call at once because a limit on inbound calls in flight was reached — node-wide
    /// (`perCaller` false: `limit` calls, `ClusterSettings.maxInboundCallsInFlight`, or `limit` bytes of call
    /// frames, `maxInboundCallBytesInFlight`) or from this node (`perCaller` true,
    /// `maxInboundCallsInFlightPerPeer`). The call did not run; back off and retry.
    case remoteOverloaded(node: NodeIdentity, perCaller: Bool, limit: Int)
    /// The local actor system is shut down.
    case systemShutDown

    public var description: String {
        switch self {
        case .timeout(let actor, let target, let ms): "call to \(actor) \(Self.readable(target)) timed out after \(ms) ms"
        case .nodeUnreachable(let node, let reason): "node unreachable: \(node): \(reason)"
        case .noSuchActor(let id): "no such actor: \(id)"
        case .remoteError(let type, let message): "remote error \(type): \(message)"
        case .relayed(let node, let inner): "\(node) passed on: \(inner)"
        case .invocationFailed(let why): "invocation failed: \(why)"
        case .noSuchTarget(let actor, let target): "no distributed function \(target) on \(actor)"
        case .notPermitted(let actor, let target): "\(target) on \(actor) is reserved for operators (prove the operator secret)"
        case .frameTooLarge(let what, let bytes, let limit): "\(what) frame of \(bytes) bytes exceeds the \(limit)-byte frame limit"
        case .overloaded(let node, let bytes): "outbound queue to \(node) full (\(bytes) bytes queued)"
        case .remoteOverloaded(let node, let perCaller, let limit):
            "\(node) refused the call: \(limit) calls in flight \(perCaller ? "from this node" : "on that node")"
        case .systemShutDown: "actor system is shut down"
        }
    }
}

extension RemoteCallError {
    /// True when the failure is a transient condition of reaching the callee — the same call may succeed if
    /// sent again after a short wait (with backoff, a bounded number of times), to the same node or to wherever
    /// the actor lives by then. It does not say the call did not run: only `overloaded`, `remoteOverloaded` and
    /// `noSuchActor` guarantee that.
    ///
    /// | case | retryable | why |
    /// |---|---|---|
    /// | `nodeUnreachable` | yes | no connection, or it broke; the actor may have moved or the node restarts. A call in flight when the connection broke may have run: retry non-idempotent calls only if the callee deduplicates them |
    /// | `noSuchActor` | yes | the actor is not (or not yet, or no longer) at that path on that node |
    /// | `overloaded` | yes | this node's outbound queue to that node is full; the call was not sent |
    /// | `remoteOverloaded` | yes | the callee refused the call before running it |
    /// | `timeout` | **no** | the call may have run (only the reply is missing): retry idempotent calls only, at the caller's own judgement |
    /// | `remoteError`, `relayed` | no | the function ran and threw; for `relayed`, inspect the inner error |
    /// | `invocationFailed`, `noSuchTarget`, `notPermitted`, `frameTooLarge` | no | the same call fails the same way again |
    /// | `systemShutDown` | no | this system is stopping |
    public var isRetryable: Bool {
        switch self {
        case .nodeUnreachable, .noSuchActor, .overloaded, .remoteOverloaded: true
        case .timeout, .remoteError, .relayed, .invocationFailed, .noSuchTarget, .notPermitted, .frameTooLarge,
             .systemShutDown: false
        }
    }

    /// A call target this process sent (its own compiled-in function) as `Type.function(args)`, for messages;
    /// the mangled name when it does not demangle. Never used on targets received from the network.
    static func readable(_ target: String) -> String {
        guard target.utf8.count <= 512, let text = TargetCheck.demangle(target) else { return target }
        return text.replacingOccurrences(of: "distributed thunk ", with: "")
    }
}

extension RemoteCallError: WireError {
    /// `"cluster.RemoteCallError"`. Every `ClusterSystem` registers it; a received one is wrapped in
    /// `RemoteCallError.relayed(by:_:)` (it is about a call the callee made, not about the call to the callee).
    public static var wireName: String { "cluster.RemoteCallError" }
}
