extension Wire {
    /// Splits a byte stream into frames (`length: UInt32 BE | kind: u8 | payload`). Pure: no I/O, no copies —
    /// payloads are slices of the input.
    ///
    /// Checks, in this order, as soon as enough bytes are present: a length of 0 (`zeroLength`, after 4 bytes),
    /// a length above `maxFrameBytes` (`tooLarge`, after 4 bytes), an unknown kind byte (`unknownKind`, after
    /// 5 bytes). So garbage is detected before the rest of the claimed frame arrives.
    public struct FrameParser: Sendable {
        /// Upper bound of the length field (kind + payload), in bytes.
        public var maxFrameBytes: Int

        /// - Parameter maxFrameBytes: upper bound of the length field in bytes (≥ 1; smaller values act as 1).
        public init(maxFrameBytes: Int = Wire.defaultMaxFrameBytes) {
            self.maxFrameBytes = Swift.max(1, maxFrameBytes)
        }

        /// Why a byte stream is not a valid frame sequence. Any of these closes the connection.
        public enum Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
            /// The length field is 0 (a frame has at least its kind byte).
            case zeroLength
            /// The length field (bytes of kind + payload) is above the maximum.
            case tooLarge(Int)
            /// The kind byte is not a `Wire.FrameKind`.
            case unknownKind(UInt8)

            public var description: String {
                switch self {
                case .zeroLength: "zero frame length"
                case .tooLarge(let n): "frame length \(n) above maximum"
                case .unknownKind(let k): "unknown frame kind 0x\(String(k, radix: 16))"
                }
            }
        }

        /// One complete frame. `payload` shares storage with the parsed buffer.
        public struct Frame: Sendable, Equatable {
            public var kind: Wire.FrameKind
            public var payload: ArraySlice<UInt8>
        }

        /// Result of looking at the start of a buffer.
        public enum Step: Sendable, Equatable {
            /// A complete frame; `consumed` = header + payload bytes to drop from the front.
            case frame(Frame, consumed: Int)
            /// Not enough bytes yet. `frameBytes` is the whole frame's size (header included) once the length
            /// field has been read, so a reader can size its next buffer; nil while fewer than 4 bytes are present.
            case needMore(frameBytes: Int?)
            /// The stream is malformed at this point; nothing after it can be trusted.
            case error(Error)
        }

        /// Looks at the frame that starts at `bytes.startIndex`.
        public func parse(_ bytes: ArraySlice<UInt8>) -> Step {
            let start = bytes.startIndex
            let available = bytes.count
            guard available >= Wire.lengthFieldBytes else { return .needMore(frameBytes: nil) }
            var length = 0
            for i in 0..<Wire.lengthFieldBytes { length = length << 8 | Int(bytes[start + i]) }
            if length == 0 { return .error(.zeroLength) }
            if length > maxFrameBytes { return .error(.tooLarge(length)) }
            let total = Wire.lengthFieldBytes + length
            guard available >= Wire.headerBytes else { return .needMore(frameBytes: total) }
            let rawKind = bytes[start + Wire.lengthFieldBytes]
            guard let kind = Wire.FrameKind(rawValue: rawKind) else { return .error(.unknownKind(rawKind)) }
            guard available >= total else { return .needMore(frameBytes: total) }
            let payload = bytes[(start + Wire.headerBytes)..<(start + total)]
            return .frame(Frame(kind: kind, payload: payload), consumed: total)
        }

        /// Parses every complete frame at the front of `bytes`.
        ///
        /// - Returns: the frames in order; `consumed`, the number of bytes they occupy (the incomplete tail starts
        ///   at `bytes.startIndex + consumed`); `error`, set when the stream became malformed after those frames.
        public func parseAll(_ bytes: ArraySlice<UInt8>) -> (frames: [Frame], consumed: Int, error: Error?) {
            var frames: [Frame] = []
            var position = bytes.startIndex
            // Bounded: every iteration consumes at least one header (5 bytes) or returns.
            while position < bytes.endIndex {
                switch parse(bytes[position...]) {
                case .frame(let frame, let consumed):
                    frames.append(frame)
                    position += consumed
                case .needMore:
                    return (frames, position - bytes.startIndex, nil)
                case .error(let e):
                    return (frames, position - bytes.startIndex, e)
                }
            }
            return (frames, position - bytes.startIndex, nil)
        }

        /// Writes a frame header for `payloadBytes` bytes of payload into `buffer[offset..<offset+5]`.
        /// The caller guarantees the buffer holds 5 bytes at `offset`. Length = payloadBytes + 1.
        @inlinable
        public static func writeHeader(into buffer: inout [UInt8], at offset: Int, kind: Wire.FrameKind, payloadBytes: Int) {
            let length = UInt32(truncatingIfNeeded: payloadBytes + 1)
            buffer[offset] = UInt8(truncatingIfNeeded: length >> 24)
            buffer[offset + 1] = UInt8(truncatingIfNeeded: length >> 16)
            buffer[offset + 2] = UInt8(truncatingIfNeeded: length >> 8)
            buffer[offset + 3] = UInt8(truncatingIfNeeded: length)
            buffer[offset + 4] = kind.rawValue
        }

        /// A complete encoded frame (header + payload) as a fresh array.
        public static func encode(_ kind: Wire.FrameKind, payload: some Collection<UInt8>) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: Wire.headerBytes)
            out.reserveCapacity(Wire.headerBytes + payload.count)
            out.append(contentsOf: payload)
            writeHeader(into: &out, at: 0, kind: kind, payloadBytes: out.count - Wire.headerBytes)
            return out
        }
    }
}
