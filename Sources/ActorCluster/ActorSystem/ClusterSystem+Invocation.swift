import Distributed
import Synchronization

/// Records a distributed call's generic substitutions and arguments for the wire.
///
/// Each argument is encoded with `Wire.BinaryEncoder` into its own slot; generic substitutions are sent as
/// the runtime's mangled type names. Throws `RemoteCallError.invocationFailed` when a value cannot be encoded.
public struct ClusterInvocationEncoder: DistributedTargetInvocationEncoder {
    public typealias SerializationRequirement = Codable

    var generics: [String] = []
    var arguments: [[UInt8]] = []

    init() {}

    public mutating func recordGenericSubstitution<T>(_ type: T.Type) throws {
        guard let name = _mangledTypeName(T.self) else {
            throw RemoteCallError.invocationFailed("type \(T.self) has no mangled name")
        }
        generics.append(name)
    }

    public mutating func recordArgument<Value: Codable>(_ argument: RemoteCallArgument<Value>) throws {
        do {
            arguments.append(try Wire.BinaryEncoder().encode(argument.value))
        } catch {
            throw RemoteCallError.invocationFailed("cannot encode argument \(argument.label ?? "_"): \(error)")
        }
    }

    public mutating func recordErrorType<E: Error>(_ type: E.Type) throws {}
    public mutating func recordReturnType<R: Codable>(_ type: R.Type) throws {}
    public mutating func doneRecording() throws {}
}

/// Reads a received call's generic substitutions and arguments back for `executeDistributedTarget`.
///
/// Throws `RemoteCallError.invocationFailed` when a type name is unknown in this process or an argument
/// does not decode (e.g. version skew between nodes).
public struct ClusterInvocationDecoder: DistributedTargetInvocationDecoder {
    public typealias SerializationRequirement = Codable

    let envelope: CallEnvelope
    var nextArgument = 0

    init(envelope: CallEnvelope) { self.envelope = envelope }

    public mutating func decodeGenericSubstitutions() throws -> [Any.Type] {
        try envelope.genericSubstitutions.map { name in
            guard let type = _typeByName(name) else {
                throw RemoteCallError.invocationFailed("unknown generic type \(name)")
            }
            return type
        }
    }

    public mutating func decodeNextArgument<Argument: Codable>() throws -> Argument {
        guard nextArgument < envelope.arguments.count else {
            throw RemoteCallError.invocationFailed("missing argument #\(nextArgument) for \(envelope.target)")
        }
        defer { nextArgument += 1 }
        do {
            return try Wire.BinaryDecoder().decode(Argument.self, from: envelope.arguments[nextArgument])
        } catch {
            throw RemoteCallError.invocationFailed("argument #\(nextArgument) as \(Argument.self): \(error)")
        }
    }

    public mutating func decodeErrorType() throws -> Any.Type? { nil }
    public mutating func decodeReturnType() throws -> Any.Type? { nil }
}

/// Sends the outcome of an inbound call back to the caller as one `reply` frame (exactly once).
public final class ClusterResultHandler: DistributedTargetInvocationResultHandler {
    public typealias SerializationRequirement = Codable

    let system: ClusterSystem
    let callID: UInt64
    let caller: NodeIdentity
    private let replied = Atomic<Bool>(false)

    init(system: ClusterSystem, callID: UInt64, caller: NodeIdentity) {
        self.system = system
        self.callID = callID
        self.caller = caller
    }

    /// True once a reply was sent.
    var hasReplied: Bool { replied.load(ordering: .acquiring) }

    public func onReturn<Success: Codable>(value: Success) async throws {
        let bytes: [UInt8]
        do {
            bytes = try Wire.BinaryEncoder().encode(value)
        } catch {
            send(.invocationFailed("cannot encode result \(Success.self): \(error)"))
            return
        }
        send(.value(bytes[...]))
    }

    public func onReturnVoid() async throws { send(.void) }

    public func onThrow<Err: Error>(error: Err) async throws {
        send(.thrown(typeName: String(reflecting: type(of: error as Any)), message: String(describing: error)))
    }

    func send(_ reply: ReplyEnvelope) {
        guard !replied.exchange(true, ordering: .acquiringAndReleasing) else { return }
        system.sendReply(reply, callID: callID, to: caller)
    }
}
