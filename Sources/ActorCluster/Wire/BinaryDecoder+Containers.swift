import Foundation

// Keyed and unkeyed decoding containers of `Wire.BinaryDecoder`. Layouts: `Docs/wire-codec.md`.

/// A keyed container: a header plus `count` entries in the decoder's arena (distinct keys, first-occurrence
/// order, last duplicate's value). Lookups start at the entry found last, so reading keys in the order they
/// were written costs one comparison each.
struct _BinaryKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let state: _BinaryDecoderState
    /// Arena index of the header; entries follow it.
    let header: Int
    let count: Int
    let token: UInt64
    /// Path depth of the decoder this container belongs to; children are one deeper.
    let pathDepth: Int

    var codingPath: [any CodingKey] { state.codingPath(pathDepth) }

    /// The arena still holds this container's entries (it is rewound when the value that owns a container
    /// finishes decoding; a container kept beyond that is refused instead of reading someone else's entries).
    private func checkLive() throws(Wire.DecodingError) {
        guard header + count < state.arena.count, state.arena[header].isHeader, state.arena[header].k == token else {
            throw .invalidValue("keyed container at \(state.pathString(pathDepth)) used after its value finished decoding")
        }
    }

    /// Arena index of the entry for `key`, or nil. Integer lookup for a non-negative `intValue`, else by
    /// `stringValue` — the encoder's rule.
    private func find(_ key: Key) throws(Wire.DecodingError) -> Int? {
        try checkLive()
        guard count > 0 else { return nil }
        let first = header + 1
        var i = Int(state.arena[header].keyStart)
        if i >= count { i = 0 }
        if let iv = key.intValue, iv >= 0 {
            let want = UInt64(iv) << 1 | 1
            for _ in 0..<count {
                if state.arena[first + i].k == want {
                    state.arena[header].keyStart = UInt32(truncatingIfNeeded: i)
                    return first + i
                }
                i += 1
                if i == count { i = 0 }
            }
            return nil
        }
        var name = key.stringValue
        let found: Int? = name.withUTF8 { utf8 in
            let want = UInt64(utf8.count) << 1
            for _ in 0..<count {
                let entry = state.arena[first + i]
                if entry.k == want && state.keyBytesEqual(entry.keyStart, utf8) { return i }
                i += 1
                if i == count { i = 0 }
            }
            return nil
        }
        guard let found else { return nil }
        state.arena[header].keyStart = UInt32(truncatingIfNeeded: found)
        return first + found
    }

    private func slot(_ key: Key) throws(Wire.DecodingError) -> _Slot {
        guard let i = try find(key) else {
            throw .keyNotFound(key: key.stringValue, path: state.pathString(pathDepth))
        }
        return state.arena[i].slot
    }

    var allKeys: [Key] {
        guard (try? checkLive()) != nil else { return [] }
        var keys: [Key] = []
        keys.reserveCapacity(count)
        for i in (header + 1)..<(header + 1 + count) {
            let entry = state.arena[i]
            if entry.k & 1 == 1 {
                if let key = Key(intValue: Int(entry.k >> 1)) { keys.append(key) }
            } else {
                let start = state.absolute(entry.keyStart)
                let raw = state.input[start..<(start + Int(entry.k >> 1))]
                if let name = raw.withUnsafeBufferPointer({ String(validating: $0, as: UTF8.self) }),
                    let key = Key(stringValue: name)
                {
                    keys.append(key)
                }
            }
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { ((try? find(key)) ?? nil) != nil }

    /// True for an absent key or a nil slot.
    func decodeNil(forKey key: Key) throws -> Bool {
        guard let i = try find(key) else { return true }
        return state.arena[i].isNil
    }

    // MARK: primitives

    @inline(__always)
    private func value<T>(_ key: Key, _ read: (_Slot) throws(Wire.DecodingError) -> T) throws(Wire.DecodingError) -> T {
        let s = try slot(key)
        do { return try read(s) } catch { throw state.annotate(error, pathDepth, key) }
    }

    @inline(__always)
    private func valueIfPresent<T>(_ key: Key, _ read: (_Slot) throws(Wire.DecodingError) -> T) throws(Wire.DecodingError) -> T? {
        guard let i = try find(key) else { return nil }
        let s = state.arena[i].slot
        if s.isNil { return nil }
        do { return try read(s) } catch { throw state.annotate(error, pathDepth, key) }
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try value(key) { s throws(Wire.DecodingError) in try state.bool(s) } }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try value(key) { s throws(Wire.DecodingError) in try state.string(s) } }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try value(key) { s throws(Wire.DecodingError) in try state.double(s) } }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try value(key) { s throws(Wire.DecodingError) in try state.float(s) } }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try value(key) { s throws(Wire.DecodingError) in try state.signed(Int.self, s) } }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try value(key) { s throws(Wire.DecodingError) in try state.signed(Int8.self, s) } }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try value(key) { s throws(Wire.DecodingError) in try state.signed(Int16.self, s) } }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try value(key) { s throws(Wire.DecodingError) in try state.signed(Int32.self, s) } }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try value(key) { s throws(Wire.DecodingError) in try state.signed(Int64.self, s) } }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try value(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt.self, s) } }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try value(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt8.self, s) } }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try value(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt16.self, s) } }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try value(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt32.self, s) } }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try value(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt64.self, s) } }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.bool(s) } }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.string(s) } }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.double(s) } }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.float(s) } }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.signed(Int.self, s) } }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.signed(Int8.self, s) } }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.signed(Int16.self, s) } }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.signed(Int32.self, s) } }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.signed(Int64.self, s) } }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt.self, s) } }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt8.self, s) } }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt16.self, s) } }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt32.self, s) } }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try valueIfPresent(key) { s throws(Wire.DecodingError) in try state.unsigned(UInt64.self, s) } }

    // MARK: generic values and nesting

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let s = try slot(key)
        state.setPath(pathDepth, key)
        return try state.decodeValue(T.self, slot: s, pathDepth: pathDepth + 1)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let i = try find(key) else { return nil }
        let s = state.arena[i].slot
        if s.isNil { return nil }
        state.setPath(pathDepth, key)
        return try state.decodeValue(T.self, slot: s, pathDepth: pathDepth + 1)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let s = try slot(key)
        state.setPath(pathDepth, key)
        return KeyedDecodingContainer(try state.keyedContainer(NestedKey.self, slot: s, pathDepth: pathDepth + 1))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let s = try slot(key)
        state.setPath(pathDepth, key)
        return try state.unkeyedContainer(slot: s, pathDepth: pathDepth + 1)
    }

    /// The decoder for key "super"; an absent key gives a decoder over a nil slot.
    func superDecoder() throws -> any Decoder { try superDecoder(rawKey: _BinarySuperKey()) }

    func superDecoder(forKey key: Key) throws -> any Decoder { try superDecoder(rawKey: key) }

    private func superDecoder<K: CodingKey>(rawKey: K) throws -> any Decoder {
        let s = try slotForAnyKey(rawKey) ?? _Slot(start: 0, end: 0, isNil: true)
        state.setPath(pathDepth, rawKey)
        return _BinaryDecoderImpl(state: state, slot: s, pathDepth: UInt32(truncatingIfNeeded: pathDepth + 1))
    }

    /// Lookup for a key of another type (only "super", which `Key` may not be able to express).
    private func slotForAnyKey<K: CodingKey>(_ key: K) throws(Wire.DecodingError) -> _Slot? {
        try checkLive()
        let first = header + 1
        if let iv = key.intValue, iv >= 0 {
            let want = UInt64(iv) << 1 | 1
            for i in 0..<count where state.arena[first + i].k == want { return state.arena[first + i].slot }
            return nil
        }
        var name = key.stringValue
        return name.withUTF8 { utf8 in
            let want = UInt64(utf8.count) << 1
            for i in 0..<count {
                let entry = state.arena[first + i]
                if entry.k == want && state.keyBytesEqual(entry.keyStart, utf8) { return entry.slot }
            }
            return nil
        }
    }
}

/// An unkeyed container: a run of slots in `position..<end` (absolute input indices). The slots were
/// counted and their headers validated when the container was made.
struct _BinaryUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let state: _BinaryDecoderState
    let pathDepth: Int
    private var position: Int
    private let end: Int
    let count: Int?
    private(set) var currentIndex = 0

    init(state: _BinaryDecoderState, pathDepth: Int, position: Int, end: Int, count: Int) {
        self.state = state
        self.pathDepth = pathDepth
        self.position = position
        self.end = end
        self.count = count
    }

    var codingPath: [any CodingKey] { state.codingPath(pathDepth) }
    var isAtEnd: Bool { currentIndex >= (count ?? 0) }

    private mutating func nextSlot(_ type: @autoclosure () -> String) throws(Wire.DecodingError) -> _Slot {
        guard !isAtEnd, position <= end else {
            throw .valueNotFound(
                type: type(), path: state.pathString(pathDepth, _BinaryIndexKey(intValue: currentIndex)))
        }
        var reader = Wire.ByteReader(state.input[position..<end])
        let s = try state.readSlot(&reader)
        position = reader.position
        currentIndex += 1
        return s
    }

    mutating func decodeNil() throws -> Bool {
        var probe = self
        let s = try probe.nextSlot("nil or a value")
        if s.isNil { self = probe }
        return s.isNil
    }

    @inline(__always)
    private mutating func value<T>(_ read: (_Slot) throws(Wire.DecodingError) -> T) throws(Wire.DecodingError) -> T {
        let index = currentIndex
        let s = try nextSlot("\(T.self)")
        do { return try read(s) } catch {
            currentIndex = index  // the element was not decoded
            throw state.annotate(error, pathDepth, _BinaryIndexKey(intValue: index))
        }
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try value { [state] s throws(Wire.DecodingError) in try state.bool(s) } }
    mutating func decode(_ type: String.Type) throws -> String { try value { [state] s throws(Wire.DecodingError) in try state.string(s) } }
    mutating func decode(_ type: Double.Type) throws -> Double { try value { [state] s throws(Wire.DecodingError) in try state.double(s) } }
    mutating func decode(_ type: Float.Type) throws -> Float { try value { [state] s throws(Wire.DecodingError) in try state.float(s) } }
    mutating func decode(_ type: Int.Type) throws -> Int { try value { [state] s throws(Wire.DecodingError) in try state.signed(Int.self, s) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try value { [state] s throws(Wire.DecodingError) in try state.signed(Int8.self, s) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try value { [state] s throws(Wire.DecodingError) in try state.signed(Int16.self, s) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try value { [state] s throws(Wire.DecodingError) in try state.signed(Int32.self, s) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try value { [state] s throws(Wire.DecodingError) in try state.signed(Int64.self, s) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try value { [state] s throws(Wire.DecodingError) in try state.unsigned(UInt.self, s) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try value { [state] s throws(Wire.DecodingError) in try state.unsigned(UInt8.self, s) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try value { [state] s throws(Wire.DecodingError) in try state.unsigned(UInt16.self, s) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try value { [state] s throws(Wire.DecodingError) in try state.unsigned(UInt32.self, s) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try value { [state] s throws(Wire.DecodingError) in try state.unsigned(UInt64.self, s) } }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let index = currentIndex
        let s = try nextSlot("\(T.self)")
        state.setPath(pathDepth, _BinaryIndexKey(intValue: index))
        return try state.decodeValue(T.self, slot: s, pathDepth: pathDepth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let index = currentIndex
        let s = try nextSlot("keyed container")
        state.setPath(pathDepth, _BinaryIndexKey(intValue: index))
        return KeyedDecodingContainer(try state.keyedContainer(NestedKey.self, slot: s, pathDepth: pathDepth + 1))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let index = currentIndex
        let s = try nextSlot("unkeyed container")
        state.setPath(pathDepth, _BinaryIndexKey(intValue: index))
        return try state.unkeyedContainer(slot: s, pathDepth: pathDepth + 1)
    }

    mutating func superDecoder() throws -> any Decoder {
        let index = currentIndex
        let s = try nextSlot("super decoder")
        state.setPath(pathDepth, _BinaryIndexKey(intValue: index))
        return _BinaryDecoderImpl(state: state, slot: s, pathDepth: UInt32(truncatingIfNeeded: pathDepth + 1))
    }
}
