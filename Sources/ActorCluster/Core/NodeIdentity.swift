/// Where a node listens: a host (IPv4 literal or name) and a TCP port.
///
/// Textual form `HOST:PORT`, e.g. `127.0.0.1:7101`. Parsing rejects empty hosts and ports outside 0...65535.
public struct NodeAddress: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// True for loopback hosts: `localhost`, 127.0.0.0/8 and `::1` (with or without brackets).
    public var isLoopback: Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "[::1]" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Parses `HOST:PORT`. Returns nil when the text has no colon, an empty host or a port outside 0...65535.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = String(text[..<colon])
        guard !host.isEmpty, let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { "\(host):\(port)" }

    public static func < (lhs: NodeAddress, rhs: NodeAddress) -> Bool {
        (lhs.host, lhs.port) < (rhs.host, rhs.port)
    }
}

/// A node's identity: its address plus a random 64-bit `uid` drawn at process start.
///
/// A restarted process on the same address has a new `uid`, so it is a *new* node: ids of actors that lived
/// in the old process do not resolve in the new one (as in Akka's `UniqueAddress` and Erlang's node creation).
public struct NodeIdentity: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public var address: NodeAddress
    public var uid: UInt64

    public init(address: NodeAddress, uid: UInt64) {
        self.address = address
        self.uid = uid
    }

    /// An identity that means "whichever process listens at `address` now" (uid 0): for operator tools
    /// that know only an address. Actor ids built on it follow a restart to the new process.
    public static func anyIncarnation(at address: NodeAddress) -> NodeIdentity {
        NodeIdentity(address: address, uid: 0)
    }

    /// True when `peer` is this node, or this is an any-incarnation identity for `peer`'s address.
    public func matches(_ peer: NodeIdentity) -> Bool {
        self == peer || (uid == 0 && address == peer.address)
    }

    /// A fresh uid from the system's random source; never 0 (0 is reserved for "unknown").
    public static func randomUID() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return UInt64.random(in: 1...UInt64.max, using: &generator)
    }

    /// The uid as 16 lowercase hex digits (zero-padded).
    public var uidHex: String {
        let hex = String(uid, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }

    /// `host:port#uid` with the uid in hex, e.g. `127.0.0.1:7101#5f3a09c1e2b4d6f8`.
    public var description: String { "\(address)#\(uidHex)" }

    public static func < (lhs: NodeIdentity, rhs: NodeIdentity) -> Bool {
        (lhs.address, lhs.uid) < (rhs.address, rhs.uid)
    }
}
