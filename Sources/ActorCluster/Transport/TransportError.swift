/// Errors thrown by `Transport`.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No association and dialing is failing / backing off, or the node at that address now has another uid.
    case nodeUnreachable(NodeAddress, reason: String)
    /// The peer's outbound queue already holds `queuedBytes` bytes; the frame would exceed
    /// `TransportSettings.maxOutboundBytesPerPeer`.
    case outboundQueueFull(NodeAddress, queuedBytes: Int)
    /// The frame's length field (kind + payload, bytes) is above `max`.
    case frameTooLarge(bytes: Int, max: Int)
    /// The transport was shut down (or never started).
    case shutDown
    /// `bind`/`listen` failed (`errno`, `strerror` text).
    case bindFailed(NodeAddress, errno: Int32, message: String)
    /// `Transport.setBlockedPeers` was called without `TransportSettings.faultInjection`.
    case faultInjectionDisabled

    public var description: String {
        switch self {
        case .nodeUnreachable(let a, let reason): "node \(a) unreachable: \(reason)"
        case .outboundQueueFull(let a, let queued): "outbound queue to \(a) full (\(queued) bytes queued)"
        case .frameTooLarge(let bytes, let max): "frame of \(bytes) bytes above maximum \(max)"
        case .shutDown: "transport shut down"
        case .bindFailed(let a, let errno, let message): "cannot listen on \(a): \(message) (errno \(errno))"
        case .faultInjectionDisabled: "fault injection is off (TransportSettings.faultInjection)"
        }
    }

    /// True when this is `nodeUnreachable` because the TCP connect of a dial was refused (ECONNREFUSED: the host
    /// answered that nothing listens at that port): a frame dropped by that dial (`onUndelivered`), or a send
    /// refused during the backoff that followed. False for every other reason (timeouts, resets, name
    /// resolution, handshake failures, partitions).
    public var isConnectionRefused: Bool {
        guard case .nodeUnreachable(_, let reason) = self else { return false }
        return reason.hasSuffix(Socket.connectRefusedReason)
    }
}
