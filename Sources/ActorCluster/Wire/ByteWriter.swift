extension Wire {
    /// Appends primitive values to a byte array: LEB128 varints, zig-zag signed varints, fixed-width
    /// big-endian integers, and length-prefixed byte strings.
    ///
    /// Varints are unsigned LEB128 (7 bits per byte, low group first, high bit = more); a `UInt64` takes at
    /// most 10 bytes. Signed values use zig-zag (`(n << 1) ^ (n >> 63)`) then LEB128.
    public struct ByteWriter: Sendable {
        public var bytes: [UInt8]

        public init(capacity: Int = 64) {
            bytes = []
            bytes.reserveCapacity(capacity)
        }

        public init(appendingTo bytes: [UInt8]) { self.bytes = bytes }

        @inlinable public mutating func writeVarint(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }

        @inlinable public mutating func writeZigZag(_ value: Int64) {
            writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
        }

        @inlinable public mutating func writeUInt8(_ v: UInt8) { bytes.append(v) }

        @inlinable public mutating func writeUInt16(_ v: UInt16) {
            bytes.append(UInt8(truncatingIfNeeded: v >> 8))
            bytes.append(UInt8(truncatingIfNeeded: v))
        }

        @inlinable public mutating func writeUInt32(_ v: UInt32) {
            var s = 24
            while s >= 0 {
                bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s)))
                s -= 8
            }
        }

        @inlinable public mutating func writeUInt64(_ v: UInt64) {
            var s = 56
            while s >= 0 {
                bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s)))
                s -= 8
            }
        }

        /// Varint length, then the bytes.
        @inlinable public mutating func writeLengthPrefixed<C: Collection>(_ data: C) where C.Element == UInt8 {
            writeVarint(UInt64(data.count))
            bytes.append(contentsOf: data)
        }

        /// Varint byte length, then UTF-8.
        @inlinable public mutating func writeString(_ s: String) {
            var s = s
            s.withUTF8 { writeLengthPrefixed($0) }
        }

        @inlinable public mutating func writeBytes<C: Collection>(_ data: C) where C.Element == UInt8 {
            bytes.append(contentsOf: data)
        }
    }

    /// Reads what `ByteWriter` wrote from a slice, throwing `Wire.DecodingError` on truncation, overlong
    /// varints or invalid UTF-8 — never trapping, whatever the input.
    public struct ByteReader: Sendable {
        public let bytes: ArraySlice<UInt8>
        /// Index of the next byte to read (in `bytes`' index space).
        public private(set) var position: Int

        public init(_ bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            self.position = bytes.startIndex
        }

        public init(_ bytes: [UInt8]) { self.init(bytes[...]) }

        public var remaining: Int { bytes.endIndex - position }
        public var isAtEnd: Bool { position >= bytes.endIndex }

        public mutating func readUInt8() throws(Wire.DecodingError) -> UInt8 {
            guard position < bytes.endIndex else { throw .truncated(at: position) }
            defer { position += 1 }
            return bytes[position]
        }

        public mutating func readVarint() throws(Wire.DecodingError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let start = position
                let b = try readUInt8()
                if shift == 63 && b > 1 { throw .overlongVarint(at: start) }
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
                if shift > 63 { throw .overlongVarint(at: start) }
            }
        }

        public mutating func readZigZag() throws(Wire.DecodingError) -> Int64 {
            let u = try readVarint()
            return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
        }

        public mutating func readUInt16() throws(Wire.DecodingError) -> UInt16 {
            let hi = try readUInt8(), lo = try readUInt8()
            return UInt16(hi) << 8 | UInt16(lo)
        }

        public mutating func readUInt32() throws(Wire.DecodingError) -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 { v = v << 8 | UInt32(try readUInt8()) }
            return v
        }

        public mutating func readUInt64() throws(Wire.DecodingError) -> UInt64 {
            var v: UInt64 = 0
            for _ in 0..<8 { v = v << 8 | UInt64(try readUInt8()) }
            return v
        }

        /// Reads exactly `count` bytes as a slice sharing the reader's storage (no copy).
        public mutating func readBytes(count: Int) throws(Wire.DecodingError) -> ArraySlice<UInt8> {
            guard count >= 0, count <= remaining else { throw .truncated(at: position) }
            defer { position += count }
            return bytes[position..<(position + count)]
        }

        /// Advances past `count` bytes without reading them; throws `.truncated` if fewer remain.
        public mutating func skip(count: Int) throws(Wire.DecodingError) {
            guard count >= 0, count <= remaining else { throw .truncated(at: position) }
            position += count
        }

        /// Varint length, then that many bytes (no copy).
        public mutating func readLengthPrefixed() throws(Wire.DecodingError) -> ArraySlice<UInt8> {
            let start = position
            let n = try readVarint()
            guard n <= UInt64(remaining) else { throw .truncated(at: start) }
            return try readBytes(count: Int(n))
        }

        /// Varint length, then UTF-8; invalid UTF-8 throws.
        public mutating func readString() throws(Wire.DecodingError) -> String {
            let start = position
            let raw = try readLengthPrefixed()
            guard let s = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(at: start) }
            return s
        }
    }

    /// Why bytes could not be decoded. Offsets are indices into the slice being read.
    public enum DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The input ended inside a value.
        case truncated(at: Int)
        /// A varint longer than 10 bytes or above `UInt64.max`.
        case overlongVarint(at: Int)
        /// A string that is not valid UTF-8.
        case invalidUTF8(at: Int)
        /// The bytes do not fit the expected shape (wrong size, bad tag, out-of-range number, ...).
        case invalidValue(String)
        /// A keyed container has no entry for a key the type requires. `path` is the container's coding path
        /// (e.g. `order.items[2]`), empty at the top level.
        case keyNotFound(key: String, path: String)
        /// A value was required but the slot is nil, or an unkeyed container has no more elements.
        case valueNotFound(type: String, path: String)
        /// Containers nest deeper than the decoder's `maxDepth`.
        case depthLimitExceeded(limit: Int, path: String)

        public var description: String {
            switch self {
            case .truncated(let at): "input truncated at byte \(at)"
            case .overlongVarint(let at): "overlong varint at byte \(at)"
            case .invalidUTF8(let at): "invalid UTF-8 string at byte \(at)"
            case .invalidValue(let why): "invalid value: \(why)"
            case .keyNotFound(let key, let path): "key \"\(key)\" not found in container at \(path.isEmpty ? "<root>" : path)"
            case .valueNotFound(let type, let path): "expected \(type), found nothing at \(path.isEmpty ? "<root>" : path)"
            case .depthLimitExceeded(let limit, let path): "containers nested deeper than \(limit) at \(path.isEmpty ? "<root>" : path)"
            }
        }
    }
}
