/// Payload of a `call` frame (kind 0x10). Layout (all varints LEB128, strings varint-length + UTF-8):
///
/// | field            | type                         |
/// |------------------|------------------------------|
/// | callID           | varint (u64), unique per caller node |
/// | recipient path   | string                       |
/// | target           | string (the runtime's mangled distributed-function identifier) |
/// | generic count    | varint, then that many strings (mangled type names) |
/// | argument count   | varint, then that many length-prefixed byte strings (each a `Wire.BinaryEncoder` slot) |
/// | baggage (optional) | varint count, then that many (string key, string value) pairs; absent = none |
///
/// Argument and generic slices share the frame's storage (no copy while decoding). Counts are capped
/// (`maxArguments`, `maxGenerics`, `maxBaggageEntries`, `maxBaggageBytes`) so that decoding never allocates
/// much more than the frame itself: an envelope beyond a cap is malformed.
struct CallEnvelope: Sendable {
    /// Most arguments a call may carry (protocol limit; both sides check it).
    static let maxArguments = 64
    /// Most generic substitutions a call may carry.
    static let maxGenerics = 16
    /// Most baggage entries a call may carry.
    static let maxBaggageEntries = 32
    /// Most bytes of baggage keys and values together.
    static let maxBaggageBytes = 4096

    var callID: UInt64
    var recipientPath: String
    var target: String
    var genericSubstitutions: [String]
    var arguments: [ArraySlice<UInt8>]
    /// Call-scoped context propagated from caller to callee (`ClusterSystem.CallBaggage`).
    var baggage: [String: String] = [:]

    static func decode(_ payload: ArraySlice<UInt8>) throws(Wire.DecodingError) -> CallEnvelope {
        var r = Wire.ByteReader(payload)
        let callID = try r.readVarint()
        let path = try r.readString()
        let target = try r.readString()
        let genericCount = try r.readVarint()
        guard genericCount <= UInt64(maxGenerics), genericCount <= UInt64(r.remaining) else {
            throw .invalidValue("generic count \(genericCount) (at most \(maxGenerics))")
        }
        var generics: [String] = []
        generics.reserveCapacity(Int(genericCount))
        for _ in 0..<genericCount { generics.append(try r.readString()) }
        let argCount = try r.readVarint()
        guard argCount <= UInt64(maxArguments), argCount <= UInt64(r.remaining) else {
            throw .invalidValue("argument count \(argCount) (at most \(maxArguments))")
        }
        var args: [ArraySlice<UInt8>] = []
        args.reserveCapacity(Int(argCount))
        for _ in 0..<argCount { args.append(try r.readLengthPrefixed()) }
        var baggage: [String: String] = [:]
        if !r.isAtEnd {
            let n = try r.readVarint()
            guard n <= UInt64(maxBaggageEntries), n <= UInt64(r.remaining) else {
                throw .invalidValue("baggage count \(n) (at most \(maxBaggageEntries))")
            }
            var bytes = 0
            for _ in 0..<n {
                let key = try r.readString(), value = try r.readString()
                bytes += key.utf8.count + value.utf8.count
                guard bytes <= maxBaggageBytes else { throw .invalidValue("baggage above \(maxBaggageBytes) bytes") }
                baggage[key] = value
            }
        }
        guard r.isAtEnd else { throw .invalidValue("\(r.remaining) trailing bytes after call envelope") }
        return CallEnvelope(callID: callID, recipientPath: path, target: target,
                            genericSubstitutions: generics, arguments: args, baggage: baggage)
    }

    /// Refuses (before anything is sent) a call the receiver would refuse as malformed.
    static func checkLimits(generics: Int, arguments: Int, baggage: [String: String]) throws(RemoteCallError) {
        guard arguments <= maxArguments else {
            throw .invocationFailed("\(arguments) arguments: a call carries at most \(maxArguments)")
        }
        guard generics <= maxGenerics else {
            throw .invocationFailed("\(generics) generic substitutions: a call carries at most \(maxGenerics)")
        }
        let bytes = baggage.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard baggage.count <= maxBaggageEntries, bytes <= maxBaggageBytes else {
            throw .invocationFailed("call baggage of \(baggage.count) entries / \(bytes) bytes: at most \(maxBaggageEntries) / \(maxBaggageBytes)")
        }
    }

    /// Appends the envelope to `bytes` (a frame buffer whose header is already reserved).
    static func encode(callID: UInt64, recipientPath: String, target: String, generics: [String],
                       arguments: [[UInt8]], baggage: [String: String], into bytes: inout [UInt8]) {
        var w = Wire.ByteWriter(appendingTo: [])
        swap(&w.bytes, &bytes)
        w.writeVarint(callID)
        w.writeString(recipientPath)
        w.writeString(target)
        w.writeVarint(UInt64(generics.count))
        for g in generics { w.writeString(g) }
        w.writeVarint(UInt64(arguments.count))
        for a in arguments { w.writeLengthPrefixed(a) }
        if !baggage.isEmpty {
            w.writeVarint(UInt64(baggage.count))
            for (k, v) in baggage.sorted(by: { $0.key < $1.key }) {
                w.writeString(k)
                w.writeString(v)
            }
        }
        swap(&w.bytes, &bytes)
    }
}

/// Payload of a `reply` frame (kind 0x11): varint callID, then a status byte and its body.
///
/// | status | meaning                 | body |
/// |--------|-------------------------|------|
/// | 0      | returned a value        | length-prefixed value (a `Wire.BinaryEncoder` slot) |
/// | 1      | returned `Void`         | — |
/// | 2      | threw                   | string type name, string message |
/// | 3      | no such actor           | string path |
/// | 4      | invocation failed       | string reason |
/// | 5      | no such target          | string path, string target (the target is not a distributed function of the actor at that path) |
/// | 6      | result too large        | varint bytes, varint limit (the encoded reply frame exceeds the callee's frame limit) |
/// | 7      | not permitted           | string path, string target (the function is reserved for operators; the caller did not prove the operator secret) |
/// | 8      | overloaded              | u8 scope (0 node, 1 caller), varint limit (the callee had that many calls in flight; the call did not run) |
/// | 9      | threw a `WireError`     | string wire name (1–255 bytes), string type name, string message, length-prefixed value (a `Wire.BinaryEncoder` slot) |
///
/// A status a receiver does not know is a malformed envelope (the connection closes).
enum ReplyEnvelope: Sendable {
    case value(ArraySlice<UInt8>)
    case void
    case thrown(typeName: String, message: String)
    case noSuchActor(path: String)
    case invocationFailed(String)
    case noSuchTarget(path: String, target: String)
    case resultTooLarge(bytes: Int, limit: Int)
    case notPermitted(path: String, target: String)
    /// The callee refused the call at once: `limit` calls were already in flight node-wide (`perCaller` false)
    /// or from this caller (`perCaller` true). The call did not run.
    case overloaded(perCaller: Bool, limit: Int)
    /// The function threw a `WireError`: its `wireName`, and for callers that cannot decode it the type name
    /// (`String(reflecting:)`) and message (`String(describing:)`) status 2 would carry, then the value.
    case thrownTyped(wireName: String, typeName: String, message: String, payload: ArraySlice<UInt8>)

    static func decode(_ payload: ArraySlice<UInt8>) throws(Wire.DecodingError) -> (callID: UInt64, reply: ReplyEnvelope) {
        var r = Wire.ByteReader(payload)
        let callID = try r.readVarint()
        let status = try r.readUInt8()
        let reply: ReplyEnvelope
        switch status {
        case 0: reply = .value(try r.readLengthPrefixed())
        case 1: reply = .void
        case 2: reply = .thrown(typeName: try r.readString(), message: try r.readString())
        case 3: reply = .noSuchActor(path: try r.readString())
        case 4: reply = .invocationFailed(try r.readString())
        case 5: reply = .noSuchTarget(path: try r.readString(), target: try r.readString())
        case 6:
            let bytes = try r.readVarint(), limit = try r.readVarint()
            guard bytes <= UInt64(Int.max), limit <= UInt64(Int.max) else { throw .invalidValue("reply size \(bytes)") }
            reply = .resultTooLarge(bytes: Int(bytes), limit: Int(limit))
        case 7: reply = .notPermitted(path: try r.readString(), target: try r.readString())
        case 8:
            let scope = try r.readUInt8(), limit = try r.readVarint()
            guard scope <= 1, limit <= UInt64(Int.max) else { throw .invalidValue("overloaded scope \(scope)") }
            reply = .overloaded(perCaller: scope == 1, limit: Int(limit))
        case 9:
            let name = try r.readString()
            guard name.utf8.count <= WireErrorRegistry.maxNameBytes else {
                throw .invalidValue("wire error name of \(name.utf8.count) bytes (at most \(WireErrorRegistry.maxNameBytes))")
            }
            reply = .thrownTyped(wireName: name, typeName: try r.readString(), message: try r.readString(),
                                 payload: try r.readLengthPrefixed())
        default: throw .invalidValue("reply status \(status)")
        }
        guard r.isAtEnd else { throw .invalidValue("\(r.remaining) trailing bytes after reply envelope") }
        return (callID, reply)
    }

    /// Most bytes of a type name and of a message kept when a thrown error's reply would not fit a frame
    /// (`clippedForFrameLimit`).
    static let clippedTypeNameBytes = 256
    static let clippedMessageBytes = 512

    /// A smaller reply standing for this one when it does not fit the frame limit: a thrown error (typed or not)
    /// as status 2 with its type name and message clipped (a frame limit is at least 1024 bytes, so it fits);
    /// nil for anything else, or a status 2 already that small (the caller then gets `resultTooLarge`).
    var clippedForFrameLimit: ReplyEnvelope? {
        switch self {
        case .thrownTyped(_, let type, let message, _):
            return .thrown(typeName: Self.clip(type, Self.clippedTypeNameBytes), message: Self.clip(message, Self.clippedMessageBytes))
        case .thrown(let type, let message):
            let clipped = ReplyEnvelope.thrown(typeName: Self.clip(type, Self.clippedTypeNameBytes),
                                               message: Self.clip(message, Self.clippedMessageBytes))
            if case .thrown(let t, let m) = clipped, t == type, m == message { return nil }
            return clipped
        default:
            return nil
        }
    }

    /// `text` cut to at most `bytes` UTF-8 bytes at a scalar boundary, `…` appended when cut.
    static func clip(_ text: String, _ bytes: Int) -> String {
        guard text.utf8.count > bytes else { return text }
        var out = String.UnicodeScalarView()
        var used = 3  // "…"
        for scalar in text.unicodeScalars {
            used += UTF8.width(scalar)
            guard used <= bytes else { break }
            out.append(scalar)
        }
        return String(out) + "…"
    }

    func encode(callID: UInt64, into bytes: inout [UInt8]) {
        var w = Wire.ByteWriter(appendingTo: [])
        swap(&w.bytes, &bytes)
        w.writeVarint(callID)
        switch self {
        case .value(let v):
            w.writeUInt8(0)
            w.writeLengthPrefixed(v)
        case .void:
            w.writeUInt8(1)
        case .thrown(let type, let message):
            w.writeUInt8(2)
            w.writeString(type)
            w.writeString(message)
        case .noSuchActor(let path):
            w.writeUInt8(3)
            w.writeString(path)
        case .invocationFailed(let why):
            w.writeUInt8(4)
            w.writeString(why)
        case .noSuchTarget(let path, let target):
            w.writeUInt8(5)
            w.writeString(path)
            w.writeString(target)
        case .resultTooLarge(let bytes, let limit):
            w.writeUInt8(6)
            w.writeVarint(UInt64(bytes))
            w.writeVarint(UInt64(limit))
        case .notPermitted(let path, let target):
            w.writeUInt8(7)
            w.writeString(path)
            w.writeString(target)
        case .overloaded(let perCaller, let limit):
            w.writeUInt8(8)
            w.writeUInt8(perCaller ? 1 : 0)
            w.writeVarint(UInt64(limit))
        case .thrownTyped(let name, let type, let message, let payload):
            w.writeUInt8(9)
            w.writeString(name)
            w.writeString(type)
            w.writeString(message)
            w.writeLengthPrefixed(payload)
        }
        swap(&w.bytes, &bytes)
    }
}
