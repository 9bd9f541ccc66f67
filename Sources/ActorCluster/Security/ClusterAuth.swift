import Foundation

/// How a node proves cluster membership in the handshake, and checks a peer's proof.
///
/// Members share a cluster secret. In the handshake each side proves it holds the secret with
/// HMAC-SHA256 (RFC 2104) over the handshake transcript: a role label, the cluster name, the dialer's
/// offered version range, the negotiated version, both identities (host, port, uid) and both sides'
/// 32-byte nonces. So a proof is good for one connection only (fresh nonces: replay fails), for one
/// direction only (role labels: a reflected proof fails), and for the identities it names (nobody can claim
/// another member's identity without the secret).
///
/// Rotation: a node holds a `current` and optionally a `previous` secret. It proves with each (at most two
/// MACs) and accepts a proof made with either, so a cluster rotates secrets in one rolling restart (every
/// node restarted with `current = new, previous = old`), then drops the old one in a second.
///
/// `.open` (no secret) runs the same handshake with no proof and accepts any peer: for loopback-only
/// development and tests. Nodes refuse `.open` on a non-loopback listen address (`hotline node`).
public enum ClusterAuth: Sendable, Equatable {
    case open
    case secrets(current: [UInt8], previous: [UInt8]?)

    /// Nonce length in bytes.
    public static let nonceBytes = 32
    /// Most proofs a handshake message may carry (one per secret held).
    public static let maxProofs = 2
    /// Shortest secret accepted, in bytes (128 bits).
    public static let minSecretBytes = 16
    /// Longest secret accepted, in bytes.
    public static let maxSecretBytes = 4_096

    /// Which side a proof speaks for (part of the MACed transcript).
    public enum Role: String, Sendable {
        case dialer = "HTLN-1 dialer proof"
        case acceptor = "HTLN-1 acceptor proof"
        /// The dialer's proof of the operator secret (`OperatorCredential`).
        case dialerOperator = "HTLN-1 dialer operator proof"
        /// The acceptor's proof of the operator secret.
        case acceptorOperator = "HTLN-1 acceptor operator proof"
    }

    /// What both sides MAC: everything the handshake decided, in a fixed order, each field length-prefixed.
    public struct Transcript: Sendable, Equatable {
        public var clusterName: String
        public var offeredVersions: ClosedRange<UInt16>
        public var version: UInt16
        public var dialer: NodeIdentity
        public var acceptor: NodeIdentity
        public var dialerNonce: [UInt8]
        public var acceptorNonce: [UInt8]

        public init(clusterName: String, offeredVersions: ClosedRange<UInt16>, version: UInt16,
                    dialer: NodeIdentity, acceptor: NodeIdentity, dialerNonce: [UInt8], acceptorNonce: [UInt8]) {
            self.clusterName = clusterName
            self.offeredVersions = offeredVersions
            self.version = version
            self.dialer = dialer
            self.acceptor = acceptor
            self.dialerNonce = dialerNonce
            self.acceptorNonce = acceptorNonce
        }

        func bytes(for role: Role) -> [UInt8] {
            var w = Wire.ByteWriter(capacity: 160 + clusterName.utf8.count)
            w.writeString(role.rawValue)
            w.writeString(clusterName)
            w.writeUInt16(offeredVersions.lowerBound)
            w.writeUInt16(offeredVersions.upperBound)
            w.writeUInt16(version)
            Handshake.writeIdentity(dialer, into: &w)
            Handshake.writeIdentity(acceptor, into: &w)
            w.writeLengthPrefixed(dialerNonce)
            w.writeLengthPrefixed(acceptorNonce)
            return w.bytes
        }
    }

    /// The current secret as an operator credential (for an operator secret made with
    /// `makeEphemeralSecretFile`); nil when open.
    public func operatorCredential(use: OperatorCredential.Use) -> OperatorCredential? {
        keys.first.map { OperatorCredential(key: $0, use: use) }
    }

    /// Secrets held, current first.
    var keys: [[UInt8]] {
        switch self {
        case .open: []
        case .secrets(let current, let previous): [current] + (previous.map { [$0] } ?? [])
        }
    }

    /// This node's proofs for `role` over `transcript`: one 32-byte MAC per secret held (none when open).
    public func proofs(_ role: Role, _ transcript: Transcript) -> [[UInt8]] {
        let message = transcript.bytes(for: role)
        return keys.map { HMACSHA256.mac(key: $0, message: message) }
    }

    /// Whether `proofs` (a peer's) contain a MAC for `role` over `transcript` under any secret this node holds.
    /// Always true when open. Comparisons are constant-time.
    public func verify(_ proofs: [[UInt8]], _ role: Role, _ transcript: Transcript) -> Bool {
        let keys = self.keys
        guard !keys.isEmpty else { return true }
        guard proofs.count <= Self.maxProofs else { return false }
        let message = transcript.bytes(for: role)
        var ok = false
        for key in keys {
            let expected = HMACSHA256.mac(key: key, message: message)
            for proof in proofs where HMACSHA256.constantTimeEqual(proof, expected) { ok = true }
        }
        return ok
    }

    /// 32 bytes from the system's cryptographic generator (`getrandom(2)` behind
    /// `SystemRandomNumberGenerator`).
    public static func makeNonce() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<nonceBytes).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    /// Writes a fresh random secret (32 bytes from the system generator, base64 text) to a new file of mode
    /// 0600 in the temporary directory, for a local cluster of child processes (`hotline replay`, tests).
    /// The caller removes it when the cluster stops.
    ///
    /// - Returns: the file's path and the matching `ClusterAuth`.
    /// - Throws: `SecretFileError.unreadable` when the file cannot be created.
    public static func makeEphemeralSecretFile() throws(SecretFileError) -> (path: String, auth: ClusterAuth) {
        let secret = Array(Data(makeNonce()).base64EncodedString().utf8)
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("cluster-secret-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: Data(secret),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw .unreadable(path: path, reason: "cannot create the file")
        }
        return (path, .secrets(current: secret, previous: nil))
    }

    /// Why a secret file cannot be used.
    public enum SecretFileError: Error, Sendable, Equatable, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        /// Group or others may read or write it (mode shown in octal).
        case tooOpen(path: String, mode: String)
        case tooShort(path: String, bytes: Int)
        case tooLong(path: String, bytes: Int)

        public var description: String {
            switch self {
            case .unreadable(let p, let why): "cannot read secret file \(p): \(why)"
            case .tooOpen(let p, let mode):
                "secret file \(p) has mode \(mode): group and others must have no access (chmod 600 \(p))"
            case .tooShort(let p, let n):
                "secret in \(p) is \(n) bytes: at least \(ClusterAuth.minSecretBytes) are needed (e.g. head -c 32 /dev/urandom | base64 > \(p))"
            case .tooLong(let p, let n): "secret in \(p) is \(n) bytes: at most \(ClusterAuth.maxSecretBytes)"
            }
        }
    }

    /// Reads a secret file: its bytes with one trailing newline (LF or CRLF) removed. A symbolic link is
    /// followed and the file it leads to is checked (as Kubernetes mounts secrets).
    ///
    /// - Throws: `SecretFileError` when the file cannot be read, is accessible by group or others, or holds
    ///   fewer than `minSecretBytes` or more than `maxSecretBytes` bytes.
    public static func readSecret(path: String) throws(SecretFileError) -> [UInt8] {
        let attributes: [FileAttributeKey: Any]
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: target)
        } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        guard (attributes[.type] as? FileAttributeType) == .typeRegular else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw .tooOpen(path: target, mode: String(mode & 0o777, radix: 8))
        }
        guard let size = (attributes[.size] as? NSNumber)?.intValue, size <= maxSecretBytes + 2 else {
            throw .tooLong(path: path, bytes: (attributes[.size] as? NSNumber)?.intValue ?? -1)
        }
        guard let data = FileManager.default.contents(atPath: target) else {
            throw .unreadable(path: path, reason: "no data")
        }
        var bytes = [UInt8](data)
        if bytes.last == 0x0A { bytes.removeLast() }
        if bytes.last == 0x0D { bytes.removeLast() }
        guard bytes.count >= minSecretBytes else { throw .tooShort(path: path, bytes: bytes.count) }
        guard bytes.count <= maxSecretBytes else { throw .tooLong(path: path, bytes: bytes.count) }
        return bytes
    }
}

/// The operator secret: what lets a caller run the functions a cluster reserves for operators
/// (`ClusterSystem.restrictToOperators(_:)`), on top of membership.
///
/// Operator tools `present` it: their handshake message carries one more MAC, under the operator secret,
/// over the same transcript (role labels `… operator proof`). Nodes `verify` it and never present it, so a
/// member node's own calls are never operator calls. A proof that does not verify refuses the handshake
/// (`authFailed`); a node without a credential ignores operator proofs (the caller is a plain member).
public struct OperatorCredential: Sendable, Equatable {
    public enum Use: Sendable, Equatable {
        /// Operator tools: send a proof.
        case present
        /// Nodes: check proofs; never send one.
        case verify
    }

    public var key: [UInt8]
    public var use: Use

    public init(key: [UInt8], use: Use) {
        self.key = key
        self.use = use
    }

    func proof(_ role: ClusterAuth.Role, _ transcript: ClusterAuth.Transcript) -> [UInt8] {
        HMACSHA256.mac(key: key, message: transcript.bytes(for: role))
    }

    func verify(_ proof: [UInt8], _ role: ClusterAuth.Role, _ transcript: ClusterAuth.Transcript) -> Bool {
        HMACSHA256.constantTimeEqual(proof, self.proof(role, transcript))
    }
}
