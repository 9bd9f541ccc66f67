import Synchronization

/// An error type whose values cross the wire typed: when a distributed function throws one, the reply carries
/// the type's `wireName` and the value encoded with `Wire.BinaryEncoder` (reply status 9,
/// `Docs/wire-protocol.md`), and a caller whose system registered the type
/// (`ClusterSystem.registerWireError(_:)`) rethrows the decoded value itself, so
/// `catch MyError.refused(let why)` works on a remote call exactly as on a local one.
///
/// A caller that did not register the name, or cannot decode the payload (version skew between nodes), gets
/// `RemoteCallError.remoteError(typeName:message:)` as for any other thrown error (`typeName` is the thrower's
/// `String(reflecting:)`, `message` its `String(describing:)`). The value must fit a reply frame like any
/// result; one that does not arrives as `remoteError` with its type name and message clipped.
///
/// Schema evolution follows `Docs/wire-codec.md`: add enum cases and optional fields; a case or field a caller
/// does not know makes that value arrive as `remoteError`.
public protocol WireError: Error, Codable, Sendable {
    /// The type's stable name on the wire, e.g. `"hotline.HotlineError"`: the same in every process and version
    /// that exchange it (not `String(reflecting:)`, which changes with module and nesting). 1–255 bytes of
    /// printable ASCII (0x21–0x7E). A value of a type with an invalid name crosses as a plain thrown error
    /// (`remoteError`).
    static var wireName: String { get }
}

/// The wire error types a system decodes, by wire name.
final class WireErrorRegistry: Sendable {
    /// Most bytes of a wire name (both sides check it).
    static let maxNameBytes = 255

    private struct Entry: Sendable {
        let typeName: String
        let type: ObjectIdentifier
        let decode: @Sendable (ArraySlice<UInt8>, Wire.BinaryDecoder) throws -> any Error
    }

    private let entries = Mutex<[String: Entry]>([:])

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxNameBytes && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// Registers `E` under `E.wireName`; registering the same type again does nothing.
    ///
    /// - Throws: `ClusterSystemError.invalidWireName` (empty, above 255 bytes, or not printable ASCII) or
    ///   `.wireNameInUse` (another type already has that name on this system).
    func register<E: WireError>(_ type: E.Type) throws(ClusterSystemError) {
        let name = E.wireName
        guard Self.isValidName(name) else { throw .invalidWireName(name) }
        let entry = Entry(typeName: String(reflecting: E.self), type: ObjectIdentifier(E.self),
                          decode: { bytes, decoder in try decoder.decode(E.self, from: bytes) })
        let existing = entries.withLock { table -> Entry? in
            if let old = table[name] { return old }
            table[name] = entry
            return nil
        }
        if let existing, existing.type != entry.type {
            throw .wireNameInUse(name, registeredType: existing.typeName)
        }
    }

    /// Whether a type is registered under `name`.
    func contains(_ name: String) -> Bool { entries.withLock { $0[name] != nil } }

    /// The value `payload` encodes, decoded as the type registered under `name`; nil when no type is.
    ///
    /// - Throws: what the decoder throws (the payload does not decode as that type).
    func decode(_ name: String, payload: ArraySlice<UInt8>, decoder: Wire.BinaryDecoder) throws -> (any Error)? {
        guard let entry = entries.withLock({ $0[name] }) else { return nil }
        return try entry.decode(payload, decoder)
    }
}
