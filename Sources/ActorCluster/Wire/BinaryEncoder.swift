import Foundation

// The compact binary value encoding ("slots"). Byte layout, tables and a worked example: `Docs/wire-codec.md`.
//
// Every value is a slot: a varint header `h`, then `h - 1` body bytes; `h == 0` is nil (an absent optional).
// The encoder streams into one growing `[UInt8]`. A slot whose length is not known up front (a struct, an
// array, anything that asks for a container) gets a 1-byte header placeholder; when the slot is finished and
// the body turned out to be 127 bytes or longer, the body is shifted right to make room for the longer varint.
// Slots of known length (numbers, strings, `Data`, `[UInt8]`, `Date`, `UUID`, `URL`) get their exact header
// up front and are never shifted.

extension Wire {
    /// Why a value could not be encoded. These are misuses of the `Encoder` API by a type's `encode(to:)`;
    /// every value of a well-behaved `Encodable` type encodes.
    ///
    /// `path` is the coding path of the offending container, rendered like `order.items[2].name`.
    public enum EncodingError: Error, Sendable, Equatable, CustomStringConvertible {
        /// A single-value container was given a second value (or a value after `encodeNil()`).
        case singleValueAlreadyEncoded(path: String)
        /// One encoder was asked for two incompatible container kinds, e.g. `container(keyedBy:)` after
        /// `unkeyedContainer()`, or after a value was written through `singleValueContainer()`.
        case containerKindMismatch(path: String, existing: String, requested: String)
        /// A container was written to after it was finished. The encoder streams: once a container writes
        /// its next entry (or its value finishes), every container nested inside it is closed for good.
        case containerClosed(path: String)

        public var description: String {
            switch self {
            case .singleValueAlreadyEncoded(let path):
                "single-value container at \(path.isEmpty ? "<root>" : path) already holds a value"
            case .containerKindMismatch(let path, let existing, let requested):
                "encoder at \(path.isEmpty ? "<root>" : path) already used as \(existing), cannot use it as \(requested)"
            case .containerClosed(let path):
                "container at \(path.isEmpty ? "<root>" : path) written to after it was finished (interleaved container use)"
            }
        }
    }

    /// Encodes `Encodable` values into the compact slot encoding described in `Docs/wire-codec.md`.
    ///
    /// Output shape: exactly one slot (varint header `h`, then `h - 1` body bytes; `h == 0` for a top-level
    /// `nil`). Keyed containers are `key, slot` pairs; keys with a non-negative `intValue` are written as
    /// integers, all others by `stringValue`. Unkeyed containers are a run of slots. `Data` and `[UInt8]` are
    /// raw bytes, `Date` is 8 bytes (big-endian binary64 seconds since 2001-01-01T00:00:00Z), `UUID` its 16
    /// raw bytes, `URL` its `absoluteString` as UTF-8.
    ///
    /// The encoder streams: containers must be used in nesting order (finish a nested container before
    /// writing the next entry of its parent), as synthesized `Codable` conformances always do.
    /// Cheap to create and `Sendable`; every call uses its own state.
    public struct BinaryEncoder: Sendable {
        public init() {}

        /// Encodes `value` as one slot into a new array.
        ///
        /// - Returns: the encoding; at least 1 byte.
        /// - Throws: `Wire.EncodingError` when `value`'s `encode(to:)` misuses the `Encoder` API, or any error
        ///   `value`'s own `encode(to:)` throws.
        public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(64)
            try encode(value, appendingTo: &out)
            return out
        }

        /// Appends the encoding of `value` (one slot) to `bytes`, which is not otherwise read or changed.
        /// Used to write a frame payload right after a reserved header without an extra copy.
        ///
        /// - Throws: as `encode(_:)`. On a throw `bytes` is left exactly as it was.
        public func encode<T: Encodable>(_ value: T, appendingTo bytes: inout [UInt8]) throws {
            let state = _BinaryEncoderState()
            swap(&state.writer.bytes, &bytes)
            let start = state.writer.bytes.count
            do {
                try state.encodeSlot(value, key: nil)
                state.closeSlots(downTo: 0)
                if let error = state.pendingError { throw error }
            } catch {
                state.writer.bytes.removeSubrange(start...)
                swap(&state.writer.bytes, &bytes)
                throw error
            }
            swap(&state.writer.bytes, &bytes)
        }
    }
}

// MARK: - Keys

/// Position in an unkeyed container, as it appears in coding paths.
struct _BinaryIndexKey: CodingKey {
    let intValue: Int?
    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { return nil }
    var stringValue: String { "Index \(intValue ?? 0)" }
}

/// The key `superEncoder()` / `superDecoder()` use.
struct _BinarySuperKey: CodingKey {
    init() {}
    init?(stringValue: String) { if stringValue != "super" { return nil } }
    init?(intValue: Int) { return nil }
    var stringValue: String { "super" }
    var intValue: Int? { nil }
}

/// Renders a coding path like `order.items[2].name` for error messages.
func _renderCodingPath(_ path: some Sequence<any CodingKey>) -> String {
    var out = ""
    for key in path {
        if key is _BinaryIndexKey, let i = key.intValue {
            out += "[\(i)]"
        } else {
            if !out.isEmpty { out += "." }
            out += key.stringValue
        }
    }
    return out
}

// MARK: - Encoder state

/// Shared state of one `encode` call: the output buffer and the stack of slots still open.
final class _BinaryEncoderState {
    enum Kind: UInt8, CustomStringConvertible {
        case empty, nilValue, value, keyed, unkeyed
        var description: String {
            switch self {
            case .empty: "nothing"
            case .nilValue: "nil"
            case .value: "single value"
            case .keyed: "keyed container"
            case .unkeyed: "unkeyed container"
            }
        }
    }

    /// A slot whose header byte is a placeholder until `finish` knows the body length.
    struct OpenSlot {
        /// Index of the 1-byte header placeholder. Unique per depth over the life of an encode call (later
        /// slots start later and open slots never move), so it identifies the slot.
        var headerPos: Int
        var kind: Kind
        var key: (any CodingKey)?
    }

    // Dynamic exclusivity checks on these two were ~10% of encoding time. The state is confined to one
    // `encode` call on one thread, and no access to them ever spans a call into other code (no user
    // `encode(to:)` runs while one is in progress), so the static checks are enough.
    @exclusivity(unchecked) var writer = Wire.ByteWriter(capacity: 0)
    @exclusivity(unchecked) var open: [OpenSlot] = []
    /// Misuse detected in a non-throwing API (`container(keyedBy:)`, `nestedContainer`, ...); thrown by the
    /// next throwing call and at the end of `encode`.
    var pendingError: Wire.EncodingError?

    init() {}

    func codingPath(depth: Int) -> [any CodingKey] {
        open.prefix(depth + 1).compactMap(\.key)
    }

    func pathString(depth: Int) -> String { _renderCodingPath(codingPath(depth: depth)) }

    // MARK: slot bookkeeping

    /// Makes the slot at `depth` (identified by `headerPos`) the innermost open one, finishing deeper slots.
    @inline(__always)
    func activate(_ depth: Int, _ headerPos: Int) throws(Wire.EncodingError) {
        if let error = pendingError { throw error }
        guard depth < open.count, open[depth].headerPos == headerPos else {
            throw .containerClosed(path: pathString(depth: min(depth, open.count - 1)))
        }
        if open.count > depth + 1 { closeSlots(downTo: depth + 1) }
    }

    /// `activate` for non-throwing APIs: remembers the error instead.
    func activateOrRecord(_ depth: Int, _ headerPos: Int) {
        do { try activate(depth, headerPos) } catch { if pendingError == nil { pendingError = error } }
    }

    /// Marks the slot as used for `kind` (a container request). Compatible with an earlier request of the
    /// same kind (e.g. a subclass and its superclass sharing one encoder).
    func claim(_ depth: Int, _ headerPos: Int, as kind: Kind) {
        activateOrRecord(depth, headerPos)
        guard pendingError == nil else { return }
        let existing = open[depth].kind
        if existing == .empty {
            open[depth].kind = kind
        } else if existing != kind {
            pendingError = .containerKindMismatch(
                path: pathString(depth: depth), existing: existing.description, requested: kind.description)
        }
    }

    /// Activates the slot and claims it for a single value; throws if it already holds something.
    @inline(__always)
    func claimSingleValue(_ depth: Int, _ headerPos: Int, as kind: Kind = .value) throws(Wire.EncodingError) {
        try activate(depth, headerPos)
        guard open[depth].kind == .empty else { throw .singleValueAlreadyEncoded(path: pathString(depth: depth)) }
        open[depth].kind = kind
    }

    /// Appends a header placeholder and pushes the slot; returns its header position.
    func openSlot(key: (any CodingKey)?, kind: Kind) -> Int {
        let pos = writer.bytes.count
        writer.bytes.append(0)
        open.append(OpenSlot(headerPos: pos, kind: kind, key: key))
        return pos
    }

    /// Finishes every open slot at index `depth` or deeper, innermost first.
    func closeSlots(downTo depth: Int) {
        while open.count > depth {
            let slot = open.removeLast()
            finish(slot)
        }
    }

    private func finish(_ slot: OpenSlot) {
        let bodyStart = slot.headerPos + 1
        let bodyLength = writer.bytes.count - bodyStart
        if slot.kind == .nilValue {
            // A nil slot never gets a body: every later write to it is refused by `claim*`.
            writer.bytes[slot.headerPos] = 0
            return
        }
        let h = UInt64(bodyLength) + 1
        if h < 0x80 {
            writer.bytes[slot.headerPos] = UInt8(h)
            return
        }
        let n = _varintLength(h)
        writer.bytes.insert(contentsOf: repeatElement(0, count: n - 1), at: bodyStart)
        var v = h
        var i = slot.headerPos
        while v >= 0x80 {
            writer.bytes[i] = UInt8(truncatingIfNeeded: v) | 0x80
            v >>= 7
            i += 1
        }
        writer.bytes[i] = UInt8(v)
    }

    // MARK: keys

    /// Integer form (`k = intValue << 1 | 1`) for a non-negative `intValue`, else string form
    /// (`k = byteCount << 1`, then UTF-8).
    @inline(__always)
    func writeKey<K: CodingKey>(_ key: K) {
        if let i = key.intValue, i >= 0 {
            writer.writeVarint(UInt64(i) << 1 | 1)
        } else {
            var s = key.stringValue
            s.withUTF8 { utf8 in
                writer.writeVarint(UInt64(utf8.count) << 1)
                writer.writeBytes(utf8)
            }
        }
    }

    // MARK: primitive slots (header + body) and bodies

    @inline(__always) func writeVarintSlot(_ v: UInt64) {
        writer.writeUInt8(UInt8(_varintLength(v) + 1))
        writer.writeVarint(v)
    }

    @inline(__always) func writeSignedSlot(_ v: Int64) {
        writeVarintSlot(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    @inline(__always) func writeSignedBody(_ v: Int64) { writer.writeZigZag(v) }
    @inline(__always) func writeUnsignedBody(_ v: UInt64) { writer.writeVarint(v) }

    @inline(__always) func writeBoolSlot(_ v: Bool) {
        writer.writeUInt8(2)
        writer.writeUInt8(v ? 1 : 0)
    }

    @inline(__always) func writeFloatSlot(_ v: Float) {
        writer.writeUInt8(5)
        writer.writeUInt32(v.bitPattern)
    }

    @inline(__always) func writeDoubleSlot(_ v: Double) {
        writer.writeUInt8(9)
        writer.writeUInt64(v.bitPattern)
    }

    @inline(__always) func writeStringSlot(_ v: String) {
        var s = v
        s.withUTF8 { utf8 in
            writer.writeVarint(UInt64(utf8.count) + 1)
            writer.writeBytes(utf8)
        }
    }

    @inline(__always) func writeStringBody(_ v: String) {
        var s = v
        s.withUTF8 { writer.writeBytes($0) }
    }

    /// Fast path for standard-library scalars and strings reaching the generic `encode<T>` (array elements,
    /// dictionary values): writes header and body directly instead of going through `T.encode(to:)`.
    /// Returns false (writing nothing) for any other type.
    @inline(__always)
    func writePrimitiveSlot<T>(_ value: T) -> Bool {
        if T.self == String.self, let v = value as? String { writeStringSlot(v); return true }
        if T.self == Int.self, let v = value as? Int { writeSignedSlot(Int64(v)); return true }
        if T.self == Bool.self, let v = value as? Bool { writeBoolSlot(v); return true }
        if T.self == Double.self, let v = value as? Double { writeDoubleSlot(v); return true }
        if T.self == UInt64.self, let v = value as? UInt64 { writeVarintSlot(v); return true }
        if T.self == Int64.self, let v = value as? Int64 { writeSignedSlot(v); return true }
        if T.self == UInt8.self, let v = value as? UInt8 { writeVarintSlot(UInt64(v)); return true }
        if T.self == Int32.self, let v = value as? Int32 { writeSignedSlot(Int64(v)); return true }
        if T.self == UInt32.self, let v = value as? UInt32 { writeVarintSlot(UInt64(v)); return true }
        if T.self == Float.self, let v = value as? Float { writeFloatSlot(v); return true }
        return false
    }

    /// Writes the special-cased types (`Data`, `[UInt8]`, `Date`, `UUID`, `URL`): the body, preceded by its
    /// exact header when `withHeader`. Returns false (writing nothing) for any other type.
    @inline(__always)
    func writeSpecial<T>(_ value: T, withHeader: Bool) -> Bool {
        if T.self == Data.self, let data = value as? Data {
            if withHeader { writer.writeVarint(UInt64(data.count) + 1) }
            writer.writeBytes(data)
            return true
        }
        if T.self == _byteArrayType, let array = value as? [UInt8] {
            if withHeader { writer.writeVarint(UInt64(array.count) + 1) }
            writer.writeBytes(array)
            return true
        }
        if T.self == Date.self, let date = value as? Date {
            if withHeader { writer.writeUInt8(9) }
            writer.writeUInt64(date.timeIntervalSinceReferenceDate.bitPattern)
            return true
        }
        if T.self == UUID.self, let uuid = value as? UUID {
            if withHeader { writer.writeUInt8(17) }
            withUnsafeBytes(of: uuid.uuid) { writer.writeBytes($0) }
            return true
        }
        if T.self == URL.self, let url = value as? URL {
            if withHeader { writeStringSlot(url.absoluteString) } else { writeStringBody(url.absoluteString) }
            return true
        }
        return false
    }

    // MARK: generic values

    /// Writes `value` as a new slot inside the innermost open slot (which the caller has activated).
    /// `key` (for coding paths) is only evaluated when the value needs a slot of its own.
    func encodeSlot<T: Encodable>(_ value: T, key: @autoclosure () -> (any CodingKey)?) throws {
        if writePrimitiveSlot(value) || writeSpecial(value, withHeader: true) { return }
        let depth = open.count
        let pos = openSlot(key: key(), kind: .empty)
        try value.encode(to: _BinaryEncoderImpl(state: self, depth: depth, headerPos: pos))
        if let error = pendingError { throw error }
        guard depth < open.count, open[depth].headerPos == pos else {
            throw Wire.EncodingError.containerClosed(path: pathString(depth: open.count - 1))
        }
        closeSlots(downTo: depth)
    }

    /// Writes `value` as the body of the (already open, still empty) slot at `depth`: a single-value
    /// container's `encode`. A non-special value encodes itself into the same slot.
    func encodeBody<T: Encodable>(_ value: T, depth: Int, headerPos: Int) throws {
        try activate(depth, headerPos)
        guard open[depth].kind == .empty else {
            throw Wire.EncodingError.singleValueAlreadyEncoded(path: pathString(depth: depth))
        }
        if writeSpecial(value, withHeader: false) {
            open[depth].kind = .value
            return
        }
        try value.encode(to: _BinaryEncoderImpl(state: self, depth: depth, headerPos: headerPos))
        if let error = pendingError { throw error }
        guard depth < open.count, open[depth].headerPos == headerPos else {
            throw Wire.EncodingError.containerClosed(path: pathString(depth: open.count - 1))
        }
        if open[depth].kind == .empty { open[depth].kind = .value }
    }
}

/// `[UInt8].self`, looked up once: the runtime canonicalizes this prespecialized generic metadata on every
/// access, which showed up as the top cost of encoding arrays.
let _byteArrayType: Any.Type = [UInt8].self

/// Bytes a LEB128 varint of `v` takes (1...10).
@inline(__always)
func _varintLength(_ v: UInt64) -> Int {
    // 7 payload bits per byte; a zero still takes one byte.
    let bits = 64 - (v | 1).leadingZeroBitCount
    return (bits + 6) / 7
}

// MARK: - Encoder and containers

/// The `Encoder` handed to `encode(to:)`: one open slot of the shared state. Three words, so it fits an
/// existential's inline buffer (no allocation per value).
struct _BinaryEncoderImpl: Encoder {
    let state: _BinaryEncoderState
    let depth: Int
    let headerPos: Int

    var codingPath: [any CodingKey] { state.codingPath(depth: depth) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        state.claim(depth, headerPos, as: .keyed)
        return KeyedEncodingContainer(_BinaryKeyedEncodingContainer<Key>(state: state, depth: depth, headerPos: headerPos))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        state.claim(depth, headerPos, as: .unkeyed)
        return _BinaryUnkeyedEncodingContainer(state: state, depth: depth, headerPos: headerPos)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        _BinarySingleValueEncodingContainer(state: state, depth: depth, headerPos: headerPos)
    }
}

struct _BinaryKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: _BinaryEncoderState
    let depth: Int
    let headerPos: Int

    var codingPath: [any CodingKey] { state.codingPath(depth: depth) }

    @inline(__always) private func begin(_ key: Key) throws(Wire.EncodingError) {
        try state.activate(depth, headerPos)
        state.writeKey(key)
    }

    mutating func encodeNil(forKey key: Key) throws { try begin(key); state.writer.writeUInt8(0) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try begin(key); state.writeBoolSlot(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { try begin(key); state.writeStringSlot(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try begin(key); state.writeDoubleSlot(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try begin(key); state.writeFloatSlot(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try begin(key); state.writeSignedSlot(Int64(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try begin(key); state.writeSignedSlot(Int64(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try begin(key); state.writeSignedSlot(Int64(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try begin(key); state.writeSignedSlot(Int64(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try begin(key); state.writeSignedSlot(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try begin(key); state.writeVarintSlot(UInt64(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try begin(key); state.writeVarintSlot(UInt64(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try begin(key); state.writeVarintSlot(UInt64(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try begin(key); state.writeVarintSlot(UInt64(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try begin(key); state.writeVarintSlot(value) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try state.encodeSlot(value, key: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        state.activateOrRecord(depth, headerPos)
        state.writeKey(key)
        let pos = state.openSlot(key: key, kind: .keyed)
        return KeyedEncodingContainer(
            _BinaryKeyedEncodingContainer<NestedKey>(state: state, depth: state.open.count - 1, headerPos: pos))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        state.activateOrRecord(depth, headerPos)
        state.writeKey(key)
        let pos = state.openSlot(key: key, kind: .unkeyed)
        return _BinaryUnkeyedEncodingContainer(state: state, depth: state.open.count - 1, headerPos: pos)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(key: _BinarySuperKey()) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: key) }

    private func superEncoder<K: CodingKey>(key: K) -> any Encoder {
        state.activateOrRecord(depth, headerPos)
        state.writeKey(key)
        let pos = state.openSlot(key: key, kind: .empty)
        return _BinaryEncoderImpl(state: state, depth: state.open.count - 1, headerPos: pos)
    }
}

struct _BinaryUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let state: _BinaryEncoderState
    let depth: Int
    let headerPos: Int
    private(set) var count = 0

    init(state: _BinaryEncoderState, depth: Int, headerPos: Int) {
        self.state = state
        self.depth = depth
        self.headerPos = headerPos
    }

    var codingPath: [any CodingKey] { state.codingPath(depth: depth) }

    @inline(__always) private mutating func begin() throws(Wire.EncodingError) {
        try state.activate(depth, headerPos)
        count += 1
    }

    mutating func encodeNil() throws { try begin(); state.writer.writeUInt8(0) }
    mutating func encode(_ value: Bool) throws { try begin(); state.writeBoolSlot(value) }
    mutating func encode(_ value: String) throws { try begin(); state.writeStringSlot(value) }
    mutating func encode(_ value: Double) throws { try begin(); state.writeDoubleSlot(value) }
    mutating func encode(_ value: Float) throws { try begin(); state.writeFloatSlot(value) }
    mutating func encode(_ value: Int) throws { try begin(); state.writeSignedSlot(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try begin(); state.writeSignedSlot(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try begin(); state.writeSignedSlot(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try begin(); state.writeSignedSlot(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try begin(); state.writeSignedSlot(value) }
    mutating func encode(_ value: UInt) throws { try begin(); state.writeVarintSlot(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try begin(); state.writeVarintSlot(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try begin(); state.writeVarintSlot(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try begin(); state.writeVarintSlot(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try begin(); state.writeVarintSlot(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try state.activate(depth, headerPos)
        try state.encodeSlot(value, key: _BinaryIndexKey(intValue: count))
        count += 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        state.activateOrRecord(depth, headerPos)
        let pos = state.openSlot(key: _BinaryIndexKey(intValue: count), kind: .keyed)
        count += 1
        return KeyedEncodingContainer(
            _BinaryKeyedEncodingContainer<NestedKey>(state: state, depth: state.open.count - 1, headerPos: pos))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        state.activateOrRecord(depth, headerPos)
        let pos = state.openSlot(key: _BinaryIndexKey(intValue: count), kind: .unkeyed)
        count += 1
        return _BinaryUnkeyedEncodingContainer(state: state, depth: state.open.count - 1, headerPos: pos)
    }

    mutating func superEncoder() -> any Encoder {
        state.activateOrRecord(depth, headerPos)
        let pos = state.openSlot(key: _BinaryIndexKey(intValue: count), kind: .empty)
        count += 1
        return _BinaryEncoderImpl(state: state, depth: state.open.count - 1, headerPos: pos)
    }
}

struct _BinarySingleValueEncodingContainer: SingleValueEncodingContainer {
    let state: _BinaryEncoderState
    let depth: Int
    let headerPos: Int

    var codingPath: [any CodingKey] { state.codingPath(depth: depth) }

    mutating func encodeNil() throws { try state.claimSingleValue(depth, headerPos, as: .nilValue) }

    mutating func encode(_ value: Bool) throws {
        try state.claimSingleValue(depth, headerPos)
        state.writer.writeUInt8(value ? 1 : 0)
    }
    mutating func encode(_ value: String) throws {
        try state.claimSingleValue(depth, headerPos)
        state.writeStringBody(value)
    }
    mutating func encode(_ value: Double) throws {
        try state.claimSingleValue(depth, headerPos)
        state.writer.writeUInt64(value.bitPattern)
    }
    mutating func encode(_ value: Float) throws {
        try state.claimSingleValue(depth, headerPos)
        state.writer.writeUInt32(value.bitPattern)
    }
    mutating func encode(_ value: Int) throws { try signed(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try signed(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try signed(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try signed(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try signed(value) }
    mutating func encode(_ value: UInt) throws { try unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt8) throws { try unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt16) throws { try unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt32) throws { try unsigned(UInt64(value)) }
    mutating func encode(_ value: UInt64) throws { try unsigned(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try state.encodeBody(value, depth: depth, headerPos: headerPos)
    }

    private func signed(_ v: Int64) throws {
        try state.claimSingleValue(depth, headerPos)
        state.writeSignedBody(v)
    }

    private func unsigned(_ v: UInt64) throws {
        try state.claimSingleValue(depth, headerPos)
        state.writeUnsignedBody(v)
    }
}
