/// The wire layer: frames, the handshake and the binary value encoding. Byte layouts: `Docs/wire-protocol.md`.
///
/// Every frame on a connection is
///
///     +----------------------+-----------+---------------------------+
///     | length: UInt32 (BE)  | kind: u8  | payload: length - 1 bytes |
///     +----------------------+-----------+---------------------------+
///
/// `length` counts the kind byte and the payload, so the smallest legal value is 1. A length of 0, a length
/// above the configured maximum (default 8 MiB) or an unknown kind closes the connection.
public enum Wire {
    /// Bytes in the length field.
    public static let lengthFieldBytes = 4
    /// Bytes before the payload: length field + kind byte.
    public static let headerBytes = 5
    /// Default upper bound of the length field (kind + payload), in bytes: 8 MiB.
    public static let defaultMaxFrameBytes = 8 * 1024 * 1024
    /// The largest frame limit a node may set or announce (1 GiB): nothing larger is ever built.
    public static let maxFrameBytesCeiling = 1 << 30

    /// What a frame carries. Unknown values close the connection.
    ///
    /// Kinds below 0x10 belong to the transport (handshake, keep-alive) and never reach the actor system.
    /// `isControl` kinds are written ahead of queued data frames, so a large payload cannot delay them.
    public enum FrameKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// First frame from the dialing side: magic, version range, cluster, identity, nonce.
        case handshakeOffer = 0x01
        /// The acceptor's last handshake frame: the dialer proved itself; the connection is associated.
        case handshakeAccept = 0x02
        /// Refusal with a reason code and text; the sender closes the connection after it.
        case handshakeReject = 0x03
        /// Keep-alive; empty payload.
        case heartbeat = 0x04
        /// Answer to an offer: chosen version, the acceptor's identity and nonce, its proof of the secret.
        case handshakeChallenge = 0x05
        /// The dialer's proof of the secret, after it checked the acceptor's.
        case handshakeResponse = 0x06
        /// A remote actor call (correlation id, recipient, target, arguments).
        case call = 0x10
        /// The reply to a call (correlation id, result or error).
        case reply = 0x11
        /// A one-way message to a recipient (no reply).
        case message = 0x12
        /// Membership / failure-detector traffic (SWIM); reserved for the membership layer.
        case membership = 0x20

        /// Control frames jump the outbound data queue.
        public var isControl: Bool {
            switch self {
            case .handshakeOffer, .handshakeAccept, .handshakeReject, .heartbeat, .membership,
                 .handshakeChallenge, .handshakeResponse: true
            case .call, .reply, .message: false
            }
        }

        public var description: String {
            switch self {
            case .handshakeOffer: "handshakeOffer"
            case .handshakeAccept: "handshakeAccept"
            case .handshakeReject: "handshakeReject"
            case .heartbeat: "heartbeat"
            case .handshakeChallenge: "handshakeChallenge"
            case .handshakeResponse: "handshakeResponse"
            case .call: "call"
            case .reply: "reply"
            case .message: "message"
            case .membership: "membership"
            }
        }
    }
}
