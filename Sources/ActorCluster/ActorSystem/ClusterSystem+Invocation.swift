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
/// Arguments decode with the actor system in `userInfo[.actorSystemKey]`, so distributed actor references
/// among them resolve to local actors or remote proxies. Throws `RemoteCallError.invocationFailed` when a
/// type name is unknown in this process or an argument does not decode (e.g. version skew between nodes);
/// the failure is also recorded on the call's result handler, so the caller receives `invocationFailed`
/// rather than a thrown remote error.
public struct ClusterInvocationDecoder: DistributedTargetInvocationDecoder {
    public typealias SerializationRequirement = Codable

    let envelope: CallEnvelope
    let system: ClusterSystem
    let handler: ClusterResultHandler?
    var nextArgument = 0

    init(envelope: CallEnvelope, system: ClusterSystem, handler: ClusterResultHandler?) {
        self.envelope = envelope
        self.system = system
        self.handler = handler
    }

    private func fail(_ why: String) -> RemoteCallError {
        handler?.recordInvocationFailure(why)
        return .invocationFailed(why)
    }

    public mutating func decodeGenericSubstitutions() throws -> [Any.Type] {
        try envelope.genericSubstitutions.map { name in
            // Mangled names with bytes below 0x20 carry symbolic references (raw relative pointers): never
            // hand such bytes from the network to the runtime.
            guard name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), name.utf8.count <= 1_024,
                  let type = _typeByName(name) else {
                throw fail("unknown generic type \(name.debugDescription)")
            }
            return type
        }
    }

    public mutating func decodeNextArgument<Argument: Codable>() throws -> Argument {
        guard nextArgument < envelope.arguments.count else {
            throw fail("missing argument #\(nextArgument) for \(envelope.target)")
        }
        defer { nextArgument += 1 }
        do {
            return try system.wireDecoder.decode(Argument.self, from: envelope.arguments[nextArgument])
        } catch {
            throw fail("argument #\(nextArgument) as \(Argument.self): \(error)")
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
    /// Set when the arguments could not be decoded: the runtime then reports the decoder's error through
    /// `onThrow`, which must answer `invocationFailed`, not a thrown remote error.
    private let invocationFailure = Mutex<String?>(nil)

    /// Run once, just before the reply is written: frees the call's in-flight slot, so that a caller holding
    /// the reply can count on the slot being free (`InboundCallAdmission`).
    private let beforeReply: (@Sendable () -> Void)?

    init(system: ClusterSystem, callID: UInt64, caller: NodeIdentity, beforeReply: (@Sendable () -> Void)? = nil) {
        self.system = system
        self.callID = callID
        self.caller = caller
        self.beforeReply = beforeReply
    }

    /// True once a reply was sent.
    var hasReplied: Bool { replied.load(ordering: .acquiring) }

    func recordInvocationFailure(_ why: String) {
        invocationFailure.withLock { $0 = $0 ?? why }
    }

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
        if let why = invocationFailure.withLock({ $0 }) {
            send(.invocationFailed(why))
            return
        }
        let typeName = String(reflecting: type(of: error as Any)), message = String(describing: error)
        if let typed = error as Any as? any WireError, let reply = Self.typedReply(typed, typeName: typeName, message: message) {
            send(reply)
            return
        }
        send(.thrown(typeName: typeName, message: message))
    }

    /// Status 9 for a thrown `WireError`; nil (the caller sends status 2) when its wire name is invalid or the
    /// value does not encode.
    static func typedReply<E: WireError>(_ error: E, typeName: String, message: String) -> ReplyEnvelope? {
        guard WireErrorRegistry.isValidName(E.wireName), let payload = try? Wire.BinaryEncoder().encode(error) else {
            return nil
        }
        return .thrownTyped(wireName: E.wireName, typeName: typeName, message: message, payload: payload[...])
    }

    func send(_ reply: ReplyEnvelope) {
        guard !replied.exchange(true, ordering: .acquiringAndReleasing) else { return }
        beforeReply?()
        system.sendReply(reply, callID: callID, to: caller)
    }
}
