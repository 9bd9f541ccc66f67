import Foundation

// Decoding side of the slot encoding (`Docs/wire-codec.md`). All reads are bounds-checked and throw
// `Wire.DecodingError`; no input can make the decoder trap. Values are read straight out of the one input
// slice (slots are offset ranges into it); keyed containers index their entries in a per-call arena that is
// rewound whenever a value finishes decoding, so steady-state decoding allocates only what the decoded
// values themselves need (strings, arrays, class boxes the standard library makes for keyed containers).

extension Wire {
    /// Decodes values written by `Wire.BinaryEncoder`.
    ///
    /// Input shape: exactly one slot covering all of `bytes` (trailing bytes throw). Unknown keys in keyed
    /// containers are skipped, absent keys read as `nil` through `decodeIfPresent`, and when a keyed
    /// container repeats a key the last entry wins — so newer and older versions of a type decode each
    /// other's bytes as long as added fields are optional.
    ///
    /// Throws `Wire.DecodingError` for anything malformed (truncation, lengths past the end, bad UTF-8,
    /// out-of-range numbers, wrong fixed sizes, missing keys, nil where a value is required, nesting deeper
    /// than `maxDepth`), or whatever a type's own `init(from:)` throws (`Swift.DecodingError`). Never traps.
    public struct BinaryDecoder: Sendable {
        /// Max nesting depth of containers (default 256); deeper input throws
        /// `Wire.DecodingError.depthLimitExceeded` instead of recursing. A struct field of struct type adds one
        /// level; an enum case with a payload adds two (case key container + payload container).
        public var maxDepth: Int

        /// Context handed to every `init(from:)` as `Decoder.userInfo` (e.g. the actor system under
        /// `.actorSystemKey`, which a distributed actor reference needs to resolve itself). Empty by default.
        public var userInfo: [CodingUserInfoKey: any Sendable]

        public init(userInfo: [CodingUserInfoKey: any Sendable] = [:]) {
            maxDepth = 256
            self.userInfo = userInfo
        }

        /// Decodes a `T` from `bytes`, which must hold exactly one slot. Offsets in thrown errors are indices
        /// in `bytes`' index space.
        ///
        /// - Throws: `Wire.DecodingError` for malformed or mismatched input (also for input of 4 GiB or more),
        ///   or errors `T.init(from:)` throws.
        public func decode<T: Decodable>(_ type: T.Type, from bytes: ArraySlice<UInt8>) throws -> T {
            guard bytes.count < Int(UInt32.max) else {
                throw Wire.DecodingError.invalidValue("input of \(bytes.count) bytes exceeds the 4 GiB limit")
            }
            let state = _BinaryDecoderState(input: bytes, maxDepth: maxDepth, userInfo: userInfo)
            var reader = Wire.ByteReader(bytes)
            let slot = try state.readSlot(&reader)
            guard reader.isAtEnd else {
                throw Wire.DecodingError.invalidValue(
                    "\(reader.remaining) trailing bytes after the top-level slot at byte \(reader.position)")
            }
            return try state.decodeValue(T.self, slot: slot, pathDepth: 0)
        }

        /// Decodes a `T` from `bytes`, which must hold exactly one slot.
        ///
        /// - Throws: as `decode(_:from:)` for slices.
        public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
            try decode(type, from: bytes[...])
        }
    }
}

/// A slot's body as offsets relative to the input's start (the input is limited to < 4 GiB). A nil slot has
/// an empty range. 12 bytes, so decoders holding one stay within an existential's inline buffer.
struct _Slot {
    var start: UInt32
    var end: UInt32
    var isNil: Bool

    @inline(__always) var length: Int { Int(end) - Int(start) }
}

/// One keyed-container entry in the arena, or (`isHeader`) the header in front of a container's entries.
struct _KeyEntry {
    /// The raw key varint: odd = integer key `k >> 1`; even = string key of `k >> 1` UTF-8 bytes at
    /// `keyStart`. In a header: the container's token.
    var k: UInt64
    /// String keys: offset of the key bytes. In a header: the lookup hint (index of the last entry found).
    var keyStart: UInt32
    var bodyStart: UInt32
    var bodyEnd: UInt32
    var isNil: Bool
    var isHeader: Bool

    var slot: _Slot { _Slot(start: bodyStart, end: bodyEnd, isNil: isNil) }
}

/// Types the decoder reads straight from a slot instead of calling `init(from:)`.
enum _FastKind: UInt8 {
    case none, string, int, bool, double, uint64, int64, uint8, int32, uint32, float
    case data, bytes, date, uuid, url

    @inline(__always)
    init(_ t: Any.Type) {
        if t == String.self { self = .string }
        else if t == Int.self { self = .int }
        else if t == Bool.self { self = .bool }
        else if t == Double.self { self = .double }
        else if t == UInt64.self { self = .uint64 }
        else if t == Int64.self { self = .int64 }
        else if t == UInt8.self { self = .uint8 }
        else if t == Int32.self { self = .int32 }
        else if t == UInt32.self { self = .uint32 }
        else if t == Float.self { self = .float }
        else if t == Data.self { self = .data }
        else if t == _byteArrayType { self = .bytes }
        else if t == Date.self { self = .date }
        else if t == UUID.self { self = .uuid }
        else if t == URL.self { self = .url }
        else { self = .none }
    }
}

/// Hashable identity of a key, used to find duplicates in large keyed containers.
enum _KeyToken: Hashable {
    case int(UInt64)
    case string(ArraySlice<UInt8>)
}

/// Shared state of one `decode` call.
final class _BinaryDecoderState {
    let input: ArraySlice<UInt8>
    let maxDepth: Int
    let sendableUserInfo: [CodingUserInfoKey: any Sendable]
    /// `Decoder.userInfo`, converted once and only when a value asks for it: converting it for every `decode` was a
    /// dictionary copy per call argument.
    lazy var userInfo: [CodingUserInfoKey: Any] = sendableUserInfo
    // Unchecked exclusivity (as in the encoder state): confined to one `decode` call on one thread, and no
    // access to `arena` / `path` spans a call into other code.

    /// Entries of all live keyed containers; rewound after each value finishes decoding.
    @exclusivity(unchecked) var arena: [_KeyEntry] = []
    /// `path[i]` is the key most recently entered at depth `i`; a decoder at path depth `p` reports
    /// `path.prefix(p)`. Only used for coding paths in errors.
    @exclusivity(unchecked) var path: [any CodingKey] = []
    var nextToken: UInt64 = 0

    /// Keyed containers with more entries than this detect duplicate keys with a hash table.
    static let linearDuplicateScanLimit = 16

    init(input: ArraySlice<UInt8>, maxDepth: Int, userInfo: [CodingUserInfoKey: any Sendable] = [:]) {
        self.input = input
        self.maxDepth = maxDepth
        self.sendableUserInfo = userInfo
        arena.reserveCapacity(32)
    }

    // MARK: offsets, paths, errors

    @inline(__always) func absolute(_ offset: UInt32) -> Int { input.startIndex + Int(offset) }
    @inline(__always) func relative(_ index: Int) -> UInt32 { UInt32(truncatingIfNeeded: index - input.startIndex) }
    @inline(__always) func body(_ slot: _Slot) -> ArraySlice<UInt8> {
        input[absolute(slot.start)..<absolute(slot.end)]
    }

    func codingPath(_ depth: Int) -> [any CodingKey] { Array(path.prefix(depth)) }

    func pathString(_ depth: Int) -> String { _renderCodingPath(path.prefix(depth)) }

    func pathString(_ depth: Int, _ key: (any CodingKey)?) -> String {
        guard let key else { return pathString(depth) }
        return _renderCodingPath(path.prefix(depth) + [key])
    }

    @inline(__always) func setPath<K: CodingKey>(_ depth: Int, _ key: K) {
        if depth < path.count {
            path[depth] = key
        } else {
            while path.count < depth { path.append(_BinaryIndexKey(intValue: 0)) }
            path.append(key)
        }
    }

    /// Adds the coding path to errors that carry a free-form description.
    func annotate(_ error: Wire.DecodingError, _ depth: Int, _ key: (any CodingKey)? = nil) -> Wire.DecodingError {
        switch error {
        case .invalidValue(let why): .invalidValue("\(why) at \(pathString(depth, key))")
        case .valueNotFound(let type, ""): .valueNotFound(type: type, path: pathString(depth, key))
        default: error
        }
    }

    // MARK: slots

    /// Reads a slot header and skips its body.
    @inline(__always)
    func readSlot(_ reader: inout Wire.ByteReader) throws(Wire.DecodingError) -> _Slot {
        let at = reader.position
        let h = try reader.readVarint()
        if h == 0 {
            let here = relative(reader.position)
            return _Slot(start: here, end: here, isNil: true)
        }
        guard h - 1 <= UInt64(reader.remaining) else { throw .truncated(at: at) }
        let start = reader.position
        try reader.skip(count: Int(h - 1))
        return _Slot(start: relative(start), end: relative(reader.position), isNil: false)
    }

    // MARK: primitives (errors carry no path; callers annotate)

    @inline(__always) func require(_ slot: _Slot, _ type: @autoclosure () -> String) throws(Wire.DecodingError) {
        if slot.isNil { throw .valueNotFound(type: type(), path: "") }
    }

    func bool(_ slot: _Slot) throws(Wire.DecodingError) -> Bool {
        try require(slot, "Bool")
        guard slot.length == 1 else { throw .invalidValue("Bool body of \(slot.length) bytes, expected 1") }
        switch input[absolute(slot.start)] {
        case 0: return false
        case 1: return true
        case let b: throw .invalidValue("Bool byte \(b), expected 0 or 1")
        }
    }

    func unsigned<I: FixedWidthInteger & UnsignedInteger>(_ type: I.Type, _ slot: _Slot) throws(Wire.DecodingError) -> I {
        try require(slot, "\(I.self)")
        var reader = Wire.ByteReader(body(slot))
        let v = try reader.readVarint()
        guard reader.isAtEnd else { throw .invalidValue("\(reader.remaining) extra bytes after \(I.self)") }
        guard let r = I(exactly: v) else { throw .invalidValue("\(v) out of range for \(I.self)") }
        return r
    }

    func signed<I: FixedWidthInteger & SignedInteger>(_ type: I.Type, _ slot: _Slot) throws(Wire.DecodingError) -> I {
        try require(slot, "\(I.self)")
        var reader = Wire.ByteReader(body(slot))
        let v = try reader.readZigZag()
        guard reader.isAtEnd else { throw .invalidValue("\(reader.remaining) extra bytes after \(I.self)") }
        guard let r = I(exactly: v) else { throw .invalidValue("\(v) out of range for \(I.self)") }
        return r
    }

    func float(_ slot: _Slot) throws(Wire.DecodingError) -> Float {
        try require(slot, "Float")
        guard slot.length == 4 else { throw .invalidValue("Float body of \(slot.length) bytes, expected 4") }
        var reader = Wire.ByteReader(body(slot))
        return Float(bitPattern: try reader.readUInt32())
    }

    func double(_ slot: _Slot, _ type: String = "Double") throws(Wire.DecodingError) -> Double {
        try require(slot, type)
        guard slot.length == 8 else { throw .invalidValue("\(type) body of \(slot.length) bytes, expected 8") }
        var reader = Wire.ByteReader(body(slot))
        return Double(bitPattern: try reader.readUInt64())
    }

    func string(_ slot: _Slot, _ type: String = "String") throws(Wire.DecodingError) -> String {
        try require(slot, type)
        guard let s = body(slot).withUnsafeBufferPointer({ String(validating: $0, as: UTF8.self) }) else {
            throw .invalidUTF8(at: absolute(slot.start))
        }
        return s
    }

    /// Decodes standard-library scalars and strings and the special-cased types (`Data`, `[UInt8]`, `Date`,
    /// `UUID`, `URL`) straight from the slot. Non-generic on purpose: unspecialized generic code returning
    /// `T?` asks the runtime for `Optional<T>` metadata on every call, which dominated decoding profiles.
    func decodeFast(_ kind: _FastKind, _ slot: _Slot) throws(Wire.DecodingError) -> Any {
        switch kind {
        case .string: return try string(slot)
        case .int: return try signed(Int.self, slot)
        case .bool: return try bool(slot)
        case .double: return try double(slot)
        case .uint64: return try unsigned(UInt64.self, slot)
        case .int64: return try signed(Int64.self, slot)
        case .uint8: return try unsigned(UInt8.self, slot)
        case .int32: return try signed(Int32.self, slot)
        case .uint32: return try unsigned(UInt32.self, slot)
        case .float: return try float(slot)
        case .data:
            try require(slot, "Data")
            return Data(body(slot))
        case .bytes:
            try require(slot, "[UInt8]")
            return Array(body(slot))
        case .date:
            return Date(timeIntervalSinceReferenceDate: try double(slot, "Date"))
        case .uuid:
            try require(slot, "UUID")
            guard slot.length == 16 else { throw .invalidValue("UUID body of \(slot.length) bytes, expected 16") }
            let b = body(slot)
            let i = b.startIndex
            return UUID(uuid: (
                b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7],
                b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13], b[i + 14], b[i + 15]))
        case .url:
            let text = try string(slot, "URL")
            guard let url = URL(string: text) else { throw .invalidValue("not a URL: \(text.debugDescription)") }
            return url
        case .none:
            throw .invalidValue("internal: no fast decoder")  // not reached: callers check `kind != .none`
        }
    }

    // MARK: generic values

    /// Decodes a child value from its own slot; `pathDepth` is the child's (its key already set in `path`).
    func decodeValue<T: Decodable>(_ type: T.Type, slot: _Slot, pathDepth: Int) throws -> T {
        let kind = _FastKind(T.self)
        if kind != .none {
            let value: Any
            do { value = try decodeFast(kind, slot) } catch { throw annotate(error, pathDepth) }
            // A `case let … as T` pattern casts straight into the result (`as? T` would make an `Optional<T>`).
            if case let typed as T = value { return typed }
        }
        let mark = arena.count
        defer { if arena.count > mark { arena.removeLast(arena.count - mark) } }
        return try T(from: _BinaryDecoderImpl(state: self, slot: slot, pathDepth: UInt32(truncatingIfNeeded: pathDepth)))
    }

    /// Decodes a value from the body of the current slot (a single-value container's `decode`).
    func decodeBody<T: Decodable>(_ type: T.Type, slot: _Slot, pathDepth: Int) throws -> T {
        let kind = _FastKind(T.self)
        if kind != .none {
            let value: Any
            do { value = try decodeFast(kind, slot) } catch { throw annotate(error, pathDepth) }
            // A `case let … as T` pattern casts straight into the result (`as? T` would make an `Optional<T>`).
            if case let typed as T = value { return typed }
        }
        return try T(from: _BinaryDecoderImpl(state: self, slot: slot, pathDepth: UInt32(truncatingIfNeeded: pathDepth)))
    }

    // MARK: containers

    @inline(__always)
    func checkContainer(_ slot: _Slot, pathDepth: Int, _ kind: String) throws(Wire.DecodingError) {
        if slot.isNil { throw .valueNotFound(type: kind, path: pathString(pathDepth)) }
        if pathDepth >= maxDepth { throw .depthLimitExceeded(limit: maxDepth, path: pathString(pathDepth)) }
    }

    /// Scans a keyed body once into the arena: a header, then one entry per distinct key (last wins).
    func keyedContainer<Key: CodingKey>(
        _ type: Key.Type, slot: _Slot, pathDepth: Int
    ) throws(Wire.DecodingError) -> _BinaryKeyedDecodingContainer<Key> {
        try checkContainer(slot, pathDepth: pathDepth, "keyed container")
        nextToken &+= 1
        let header = arena.count
        arena.append(_KeyEntry(k: nextToken, keyStart: 0, bodyStart: 0, bodyEnd: 0, isNil: false, isHeader: true))
        let first = header + 1
        var count = 0
        var index: [_KeyToken: Int]? = nil
        var reader = Wire.ByteReader(body(slot))
        while !reader.isAtEnd {
            let keyAt = reader.position
            let k = try reader.readVarint()
            var keyStart: UInt32 = 0
            if k & 1 == 0 {
                let n = k >> 1
                guard n <= UInt64(reader.remaining) else { throw .truncated(at: keyAt) }
                keyStart = relative(reader.position)
                try reader.skip(count: Int(n))
            }
            let value = try readSlot(&reader)
            let entry = _KeyEntry(
                k: k, keyStart: keyStart, bodyStart: value.start, bodyEnd: value.end, isNil: value.isNil,
                isHeader: false)
            var duplicate: Int? = nil
            if index != nil {
                let token = keyToken(entry)
                duplicate = index?[token]
                if duplicate == nil { index?[token] = count }  // mutates in place
            } else {
                var i = 0
                while i < count {
                    if sameKey(arena[first + i], entry) { duplicate = i; break }
                    i += 1
                }
                if duplicate == nil && count + 1 > Self.linearDuplicateScanLimit {
                    var table: [_KeyToken: Int] = [:]
                    table.reserveCapacity(count * 2 + 2)
                    for j in 0..<count { table[keyToken(arena[first + j])] = j }
                    table[keyToken(entry)] = count
                    index = table
                }
            }
            if let d = duplicate {
                arena[first + d].bodyStart = entry.bodyStart
                arena[first + d].bodyEnd = entry.bodyEnd
                arena[first + d].isNil = entry.isNil
            } else {
                arena.append(entry)
                count += 1
            }
        }
        return _BinaryKeyedDecodingContainer(
            state: self, header: header, count: count, token: nextToken, pathDepth: pathDepth)
    }

    /// Scans an unkeyed body once to count (and validate) its slots.
    func unkeyedContainer(slot: _Slot, pathDepth: Int) throws(Wire.DecodingError) -> _BinaryUnkeyedDecodingContainer {
        try checkContainer(slot, pathDepth: pathDepth, "unkeyed container")
        var reader = Wire.ByteReader(body(slot))
        var n = 0
        while !reader.isAtEnd {
            _ = try readSlot(&reader)
            n += 1
        }
        return _BinaryUnkeyedDecodingContainer(
            state: self, pathDepth: pathDepth, position: absolute(slot.start), end: absolute(slot.end), count: n)
    }

    private func keyToken(_ e: _KeyEntry) -> _KeyToken {
        if e.k & 1 == 1 { return .int(e.k) }
        let start = absolute(e.keyStart)
        return .string(input[start..<(start + Int(e.k >> 1))])
    }

    private func sameKey(_ a: _KeyEntry, _ b: _KeyEntry) -> Bool {
        guard a.k == b.k else { return false }
        if a.k & 1 == 1 { return true }
        let n = Int(a.k >> 1)
        let sa = absolute(a.keyStart), sb = absolute(b.keyStart)
        return input[sa..<(sa + n)] == input[sb..<(sb + n)]
    }

    /// Whether the `utf8.count` input bytes at `offset` equal `utf8` (bounds-checked; false past the end).
    @inline(__always)
    func keyBytesEqual(_ offset: UInt32, _ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = utf8.count
        guard Int(offset) + n <= input.count else { return false }
        if n == 0 { return true }
        return input.withUnsafeBufferPointer { all in
            guard let a = all.baseAddress, let b = utf8.baseAddress else { return false }
            return memcmp(a + Int(offset), b, n) == 0
        }
    }
}

// MARK: - Decoder / single-value container

/// The `Decoder` handed to `init(from:)`, and its own single-value container: one slot plus its path
/// depth. 24 bytes, so it fits an existential's inline buffer (no allocation per value).
struct _BinaryDecoderImpl: Decoder, SingleValueDecodingContainer {
    let state: _BinaryDecoderState
    let slot: _Slot
    let pathDepth: UInt32

    var codingPath: [any CodingKey] { state.codingPath(Int(pathDepth)) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try state.keyedContainer(Key.self, slot: slot, pathDepth: Int(pathDepth)))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try state.unkeyedContainer(slot: slot, pathDepth: Int(pathDepth))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    // SingleValueDecodingContainer

    func decodeNil() -> Bool { slot.isNil }

    @inline(__always)
    private func value<T>(_ read: (_Slot) throws(Wire.DecodingError) -> T) throws(Wire.DecodingError) -> T {
        do { return try read(slot) } catch { throw state.annotate(error, Int(pathDepth)) }
    }

    func decode(_ type: Bool.Type) throws -> Bool { try value(state.bool) }
    func decode(_ type: String.Type) throws -> String { try value { s throws(Wire.DecodingError) in try state.string(s) } }
    func decode(_ type: Double.Type) throws -> Double { try value { s throws(Wire.DecodingError) in try state.double(s) } }
    func decode(_ type: Float.Type) throws -> Float { try value(state.float) }
    func decode(_ type: Int.Type) throws -> Int { try value { s throws(Wire.DecodingError) in try state.signed(Int.self, s) } }
    func decode(_ type: Int8.Type) throws -> Int8 { try value { s throws(Wire.DecodingError) in try state.signed(Int8.self, s) } }
    func decode(_ type: Int16.Type) throws -> Int16 { try value { s throws(Wire.DecodingError) in try state.signed(Int16.self, s) } }
    func decode(_ type: Int32.Type) throws -> Int32 { try value { s throws(Wire.DecodingError) in try state.signed(Int32.self, s) } }
    func decode(_ type: Int64.Type) throws -> Int64 { try value { s throws(Wire.DecodingError) in try state.signed(Int64.self, s) } }
    func decode(_ type: UInt.Type) throws -> UInt { try value { s throws(Wire.DecodingError) in try state.unsigned(UInt.self, s) } }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try value { s throws(Wire.DecodingError) in try state.unsigned(UInt8.self, s) } }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try value { s throws(Wire.DecodingError) in try state.unsigned(UInt16.self, s) } }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try value { s throws(Wire.DecodingError) in try state.unsigned(UInt32.self, s) } }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try value { s throws(Wire.DecodingError) in try state.unsigned(UInt64.self, s) } }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try state.decodeBody(T.self, slot: slot, pathDepth: Int(pathDepth))
    }
}
