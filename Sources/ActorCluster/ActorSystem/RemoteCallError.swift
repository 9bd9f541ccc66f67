/// Why a call to a distributed actor failed, in cases a caller can act on.
///
/// Thrown by any `distributed func` invoked on a remote actor of a `ClusterSystem` (and by `resolve` for
/// local ids that name no live actor).
public enum RemoteCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No reply within the call timeout (default 5 s; `ClusterSettings.callTimeout`, or per call with
    /// `ClusterSystem.withCallTimeout`). The call may or may not have run on the remote node.
    case timeout(actor: ClusterSystem.ActorID, target: String, afterMilliseconds: Int)
    /// The connection to the actor's node is lost, cannot be made, or that address now runs another
    /// incarnation (different uid). Raised at once, without waiting for the timeout.
    case nodeUnreachable(node: NodeIdentity, reason: String)
    /// The node is up but hosts no actor at that path.
    case noSuchActor(ClusterSystem.ActorID)
    /// The remote function threw: the thrown value's Swift type name (`String(reflecting:)`) and its
    /// description.
    case remoteError(typeName: String, message: String)
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
    /// A call target this process sent (its own compiled-in function) as `Type.function(args)`, for messages;
    /// the mangled name when it does not demangle. Never used on targets received from the network.
    static func readable(_ target: String) -> String {
        guard target.utf8.count <= 512, let text = TargetCheck.demangle(target) else { return target }
        return text.replacingOccurrences(of: "distributed thunk ", with: "")
    }
}
