/// The connection handshake: payload codecs for `handshakeOffer`, `handshakeChallenge`, `handshakeResponse`,
/// `handshakeAccept` and `handshakeReject`, and a pure per-connection state machine including mutual
/// authentication and the simultaneous-connect tie-break. No I/O here; byte layouts in `Docs/wire-protocol.md`,
/// the security argument in `Docs/security.md`.
///
/// Flow (each arrow one frame):
///
///     dialer                                     acceptor
///     offer(versions, cluster, identity, nonceD)  ──▶
///                                                 ◀── challenge(version, identity, nonceA, proofA)   or reject
///     response(proofD)                            ──▶   (the dialer checked proofA first)
///                                                 ◀── accept                                           or reject
///
/// Proofs are HMAC-SHA256 over the whole transcript under the cluster secret (`ClusterAuth`). The acceptor
/// changes nothing for the offering peer — no association replaced, no tie-break applied — until the
/// dialer's proof checks out. Any other frame before the handshake completes is a protocol violation and
/// closes the connection.
public enum Handshake {
    /// The four magic bytes that open an offer: ASCII "HTLN".
    public static let magic: [UInt8] = [0x48, 0x54, 0x4C, 0x4E]
    /// Upper bound, in bytes, of the length field of frames read before the handshake completes (64 KiB):
    /// an unauthenticated peer cannot make the node buffer a large frame.
    public static let maxHandshakeFrameBytes = 64 * 1024

    // MARK: - Payloads

    /// First frame of the dialing side.
    ///
    /// Layout: magic "HTLN" (4 bytes) · minVersion u16 BE · maxVersion u16 BE · cluster name (varint length +
    /// UTF-8) · host (varint length + UTF-8) · port u16 BE · uid u64 BE · nonce (varint length + 32 bytes) · the
    /// dialer's frame limit u32 BE (the largest length field it reads). Bytes after it are reserved for later
    /// protocol versions and ignored.
    public struct Offer: Sendable, Equatable {
        public var versions: ClosedRange<UInt16>
        public var clusterName: String
        /// The dialer's identity (its listening address and uid).
        public var identity: NodeIdentity
        /// The dialer's fresh random challenge (`ClusterAuth.nonceBytes`).
        public var nonce: [UInt8]
        /// The largest frame (length field, bytes) the dialer reads: the acceptor sends nothing larger.
        public var maxFrameBytes: UInt32

        public init(versions: ClosedRange<UInt16>, clusterName: String, identity: NodeIdentity, nonce: [UInt8],
                    maxFrameBytes: UInt32 = UInt32(Wire.defaultMaxFrameBytes)) {
            self.versions = versions
            self.clusterName = clusterName
            self.identity = identity
            self.nonce = nonce
            self.maxFrameBytes = maxFrameBytes
        }

        /// The payload bytes (without frame header).
        public func encode() -> [UInt8] {
            var w = Wire.ByteWriter(capacity: 64 + clusterName.utf8.count + identity.address.host.utf8.count)
            w.writeBytes(Handshake.magic)
            w.writeUInt16(versions.lowerBound)
            w.writeUInt16(versions.upperBound)
            w.writeString(clusterName)
            Handshake.writeIdentity(identity, into: &w)
            w.writeLengthPrefixed(nonce)
            w.writeUInt32(maxFrameBytes)
            return w.bytes
        }

        /// Decodes an offer payload.
        /// - Throws: `Handshake.OfferError.badMagic` when the first 4 bytes are not "HTLN";
        ///   `Handshake.OfferError.malformed(Wire.DecodingError)` on truncation, invalid UTF-8, minVersion > maxVersion,
        ///   a cluster name over 255 bytes, an empty host, a uid of 0, a nonce that is not 32 bytes or a frame limit
        ///   below `Handshake.minFrameBytes`.
        public static func decode(_ payload: ArraySlice<UInt8>) throws(OfferError) -> Offer {
            var r = Wire.ByteReader(payload)
            guard let m = try? r.readBytes(count: 4), m.elementsEqual(Handshake.magic) else { throw .badMagic }
            do throws(Wire.DecodingError) {
                let lo = try r.readUInt16()
                let hi = try r.readUInt16()
                guard lo <= hi else { throw .invalidValue("minVersion \(lo) > maxVersion \(hi)") }
                let cluster = try r.readString()
                guard cluster.utf8.count <= Handshake.maxClusterNameBytes else {
                    throw .invalidValue("cluster name of \(cluster.utf8.count) bytes")
                }
                let identity = try Handshake.readIdentity(&r)
                let nonce = try Handshake.readNonce(&r)
                let maxFrame = try Handshake.readFrameLimit(&r)
                return Offer(versions: lo...hi, clusterName: cluster, identity: identity, nonce: nonce, maxFrameBytes: maxFrame)
            } catch {
                throw .malformed(error)
            }
        }
    }

    /// Why an offer payload could not be decoded.
    public enum OfferError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The payload does not start with "HTLN".
        case badMagic
        /// The magic is right but the rest does not decode.
        case malformed(Wire.DecodingError)

        public var description: String {
            switch self {
            case .badMagic: "bad magic"
            case .malformed(let e): "malformed offer: \(e)"
            }
        }
    }

    /// The acceptor's answer to a compatible offer: its identity, its own nonce and its proof.
    ///
    /// Layout: chosen version u16 BE · host (varint length + UTF-8) · port u16 BE · uid u64 BE · nonce (varint
    /// length + 32 bytes) · the acceptor's frame limit u32 BE · proof count (varint, 0…2) · that many proofs (varint length + 32 bytes) · operator
    /// proof count (varint, 0…1; written only when there is one, absent = none) · that proof (varint length +
    /// 32 bytes). Nothing may follow.
    public struct Challenge: Sendable, Equatable {
        public var version: UInt16
        /// The acceptor's identity.
        public var identity: NodeIdentity
        public var nonce: [UInt8]
        /// The largest frame (length field, bytes) the acceptor reads: the dialer sends nothing larger.
        public var maxFrameBytes: UInt32
        /// `ClusterAuth.proofs(.acceptor, transcript)`: one MAC per secret the acceptor holds.
        public var proofs: [[UInt8]]
        /// The acceptor's proof of the operator secret, when it presents one (`OperatorCredential`).
        public var operatorProof: [UInt8]?

        public init(version: UInt16, identity: NodeIdentity, nonce: [UInt8],
                    maxFrameBytes: UInt32 = UInt32(Wire.defaultMaxFrameBytes), proofs: [[UInt8]],
                    operatorProof: [UInt8]? = nil) {
            self.version = version
            self.identity = identity
            self.nonce = nonce
            self.maxFrameBytes = maxFrameBytes
            self.proofs = proofs
            self.operatorProof = operatorProof
        }

        public func encode() -> [UInt8] {
            var w = Wire.ByteWriter(capacity: 160 + identity.address.host.utf8.count)
            w.writeUInt16(version)
            Handshake.writeIdentity(identity, into: &w)
            w.writeLengthPrefixed(nonce)
            w.writeUInt32(maxFrameBytes)
            Handshake.writeProofs(proofs, into: &w)
            if let operatorProof { Handshake.writeProofs([operatorProof], into: &w) }
            return w.bytes
        }

        /// - Throws: `Wire.DecodingError` on truncation, invalid UTF-8, an empty host, a uid of 0, a nonce that
        ///   is not 32 bytes, more than 2 proofs or a proof that is not 32 bytes, or trailing bytes.
        public static func decode(_ payload: ArraySlice<UInt8>) throws(Wire.DecodingError) -> Challenge {
            var r = Wire.ByteReader(payload)
            let version = try r.readUInt16()
            let identity = try Handshake.readIdentity(&r)
            let nonce = try Handshake.readNonce(&r)
            let maxFrame = try Handshake.readFrameLimit(&r)
            let proofs = try Handshake.readProofs(&r)
            let operatorProof = try Handshake.readOperatorProof(&r)
            guard r.isAtEnd else { throw .invalidValue("\(r.remaining) trailing bytes after challenge") }
            return Challenge(version: version, identity: identity, nonce: nonce, maxFrameBytes: maxFrame, proofs: proofs,
                             operatorProof: operatorProof)
        }
    }

    /// The dialer's proof, sent once it has checked the acceptor's.
    ///
    /// Layout: proof count (varint, 0…2) · that many proofs (varint length + 32 bytes) · operator proof count
    /// (varint, 0…1; written only when there is one, absent = none) · that proof. Nothing may follow.
    public struct Response: Sendable, Equatable {
        public var proofs: [[UInt8]]
        /// The dialer's proof of the operator secret, when it presents one (operator tools).
        public var operatorProof: [UInt8]?

        public init(proofs: [[UInt8]], operatorProof: [UInt8]? = nil) {
            self.proofs = proofs
            self.operatorProof = operatorProof
        }

        public func encode() -> [UInt8] {
            var w = Wire.ByteWriter(capacity: 112)
            Handshake.writeProofs(proofs, into: &w)
            if let operatorProof { Handshake.writeProofs([operatorProof], into: &w) }
            return w.bytes
        }

        /// - Throws: `Wire.DecodingError` on truncation, more than 2 proofs, a proof that is not 32 bytes, or
        ///   trailing bytes.
        public static func decode(_ payload: ArraySlice<UInt8>) throws(Wire.DecodingError) -> Response {
            var r = Wire.ByteReader(payload)
            let proofs = try Handshake.readProofs(&r)
            let operatorProof = try Handshake.readOperatorProof(&r)
            guard r.isAtEnd else { throw .invalidValue("\(r.remaining) trailing bytes after response") }
            return Response(proofs: proofs, operatorProof: operatorProof)
        }
    }

    /// The acceptor's last word: the dialer's proof is good and the connection is associated. Empty payload;
    /// bytes are reserved for later protocol versions and ignored.
    public struct Accept: Sendable, Equatable {
        public init() {}
        public func encode() -> [UInt8] { [] }
        public static func decode(_ payload: ArraySlice<UInt8>) -> Accept { Accept() }
    }

    /// Why an acceptor refuses a connection. Wire value: one byte (`code`).
    public enum RejectReason: Sendable, Equatable, Hashable, CustomStringConvertible {
        /// 1 — the offer did not start with "HTLN".
        case badMagic
        /// 2 — the version ranges do not overlap.
        case noCommonVersion
        /// 3 — the dialer belongs to another cluster.
        case clusterMismatch
        /// 4 — the auth proof was not accepted.
        case authFailed
        /// 5 — there already is (or will be) a connection between the two nodes: an established association with
        /// the same uid, the acceptor's own dial wins the simultaneous-connect tie-break, or a node dialed itself.
        case duplicate
        /// 6 — the acceptor is shutting down.
        case shuttingDown
        /// 7 — the offer had the right magic but did not decode.
        case malformed
        /// Any other code (from a later protocol version); treated as a refusal.
        case other(UInt8)

        public init(code: UInt8) {
            switch code {
            case 1: self = .badMagic
            case 2: self = .noCommonVersion
            case 3: self = .clusterMismatch
            case 4: self = .authFailed
            case 5: self = .duplicate
            case 6: self = .shuttingDown
            case 7: self = .malformed
            default: self = .other(code)
            }
        }

        public var code: UInt8 {
            switch self {
            case .badMagic: 1
            case .noCommonVersion: 2
            case .clusterMismatch: 3
            case .authFailed: 4
            case .duplicate: 5
            case .shuttingDown: 6
            case .malformed: 7
            case .other(let c): c
            }
        }

        public var description: String {
            switch self {
            case .badMagic: "badMagic"
            case .noCommonVersion: "noCommonVersion"
            case .clusterMismatch: "clusterMismatch"
            case .authFailed: "authFailed"
            case .duplicate: "duplicate"
            case .shuttingDown: "shuttingDown"
            case .malformed: "malformed"
            case .other(let c): "code\(c)"
            }
        }
    }

    /// The acceptor's refusal; it closes the connection after sending it.
    ///
    /// Layout: reason code u8 · message (varint length + UTF-8). Nothing may follow.
    public struct Reject: Sendable, Equatable, CustomStringConvertible {
        public var reason: RejectReason
        public var message: String

        public init(_ reason: RejectReason, _ message: String) {
            self.reason = reason
            self.message = message
        }

        public func encode() -> [UInt8] {
            var w = Wire.ByteWriter(capacity: 8 + message.utf8.count)
            w.writeUInt8(reason.code)
            w.writeString(message)
            return w.bytes
        }

        /// - Throws: `Wire.DecodingError` on truncation, invalid UTF-8 or trailing bytes.
        public static func decode(_ payload: ArraySlice<UInt8>) throws(Wire.DecodingError) -> Reject {
            var r = Wire.ByteReader(payload)
            let code = try r.readUInt8()
            let message = try r.readString()
            guard r.isAtEnd else { throw .invalidValue("\(r.remaining) trailing bytes after reject") }
            return Reject(RejectReason(code: code), message)
        }

        public var description: String { "\(reason): \(message)" }
    }

    /// Longest cluster name an offer may carry, in bytes.
    public static let maxClusterNameBytes = 255
    /// Smallest frame limit a peer may announce (bytes): below it no call envelope fits.
    public static let minFrameBytes: UInt32 = 1_024

    static func readFrameLimit(_ r: inout Wire.ByteReader) throws(Wire.DecodingError) -> UInt32 {
        let limit = try r.readUInt32()
        guard limit >= minFrameBytes else { throw .invalidValue("frame limit \(limit) below \(minFrameBytes)") }
        return min(limit, UInt32(Wire.maxFrameBytesCeiling))
    }

    static func readNonce(_ r: inout Wire.ByteReader) throws(Wire.DecodingError) -> [UInt8] {
        let nonce = try r.readLengthPrefixed()
        guard nonce.count == ClusterAuth.nonceBytes else { throw .invalidValue("nonce of \(nonce.count) bytes") }
        return Array(nonce)
    }

    static func writeProofs(_ proofs: [[UInt8]], into w: inout Wire.ByteWriter) {
        w.writeVarint(UInt64(proofs.count))
        for p in proofs { w.writeLengthPrefixed(p) }
    }

    static func readProofs(_ r: inout Wire.ByteReader) throws(Wire.DecodingError) -> [[UInt8]] {
        let count = try r.readVarint()
        guard count <= UInt64(ClusterAuth.maxProofs) else { throw .invalidValue("\(count) proofs") }
        var proofs: [[UInt8]] = []
        for _ in 0..<count {
            let p = try r.readLengthPrefixed()
            guard p.count == SHA256.byteCount else { throw .invalidValue("proof of \(p.count) bytes") }
            proofs.append(Array(p))
        }
        return proofs
    }

    /// An optional trailing operator proof: absent or count 0 → nil; count 1 → the proof; more → error.
    static func readOperatorProof(_ r: inout Wire.ByteReader) throws(Wire.DecodingError) -> [UInt8]? {
        guard !r.isAtEnd else { return nil }
        let proofs = try readProofs(&r)
        // Written only when there is one: a count of 0 is not the encoding of "none" (absent is), so every
        // message has one encoding and a byte appended to a valid one is refused (HostileInputTests, seed
        // 5237195282733832079: a response with a trailing 0 was accepted).
        guard proofs.count == 1 else { throw .invalidValue("\(proofs.count) operator proofs (absent means none)") }
        return proofs.first
    }

    static func writeIdentity(_ id: NodeIdentity, into w: inout Wire.ByteWriter) {
        w.writeString(id.address.host)
        w.writeUInt16(id.address.port)
        w.writeUInt64(id.uid)
    }

    static func readIdentity(_ r: inout Wire.ByteReader) throws(Wire.DecodingError) -> NodeIdentity {
        let host = try r.readString()
        guard !host.isEmpty else { throw .invalidValue("empty host") }
        // Host names and IP literals only: the host ends up in logs and identities.
        guard host.utf8.count <= 253, host.utf8.allSatisfy({ b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: ":") || b == UInt8(ascii: "_")
                || b == UInt8(ascii: "[") || b == UInt8(ascii: "]")
        }) else { throw .invalidValue("host has characters outside [A-Za-z0-9.-:_[]] or is longer than 253 bytes") }
        let port = try r.readUInt16()
        let uid = try r.readUInt64()
        guard uid != 0 else { throw .invalidValue("uid 0") }
        return NodeIdentity(address: NodeAddress(host: host, port: port), uid: uid)
    }

    // MARK: - Negotiation and tie-break (pure)

    /// The highest version in both ranges, or nil when they do not overlap.
    public static func negotiate(offered: ClosedRange<UInt16>, supported: ClosedRange<UInt16>) -> UInt16? {
        let hi = min(offered.upperBound, supported.upperBound)
        let lo = max(offered.lowerBound, supported.lowerBound)
        return lo <= hi ? hi : nil
    }

    /// Whether a node whose identity says `advertised` may answer a dial of `dialed` that connected to
    /// `connectedIP`: the same address (`localhost` read as 127.0.0.1), or — a dial by host name — the same port
    /// and an advertised IP literal equal to the address connected to. Anything else is another endpoint
    /// passing the real node's handshake through.
    public static func answers(_ advertised: NodeAddress, dialed: NodeAddress, connectedIP: String?) -> Bool {
        func canonical(_ host: String) -> String { host.lowercased() == "localhost" ? "127.0.0.1" : host.lowercased() }
        guard advertised.port == dialed.port else { return false }
        if canonical(advertised.host) == canonical(dialed.host) { return true }
        guard let connectedIP else { return false }
        return canonical(advertised.host) == canonical(connectedIP)
    }

    /// Total order used by the tie-break: by uid, then by address.
    public static func precedes(_ a: NodeIdentity, _ b: NodeIdentity) -> Bool {
        if a.uid != b.uid { return a.uid < b.uid }
        return a.address < b.address
    }

    /// What the acceptor knows about the offering peer's address when the offer arrives.
    public enum PeerPhase: Sendable, Equatable {
        /// Nothing in progress (never seen, idle or backing off).
        case none
        /// The acceptor's own dial to that address is in progress (connecting or awaiting an accept).
        case dialing
        /// The acceptor's own dial was rejected as `duplicate`; it waits for the peer's connection.
        case awaitingInbound
        /// An association with a node of this uid is established at that address.
        case associated(uid: UInt64)
    }

    /// How an accepted inbound connection relates to what existed before.
    public enum InboundResolution: Sendable, Equatable {
        /// Nothing to replace.
        case fresh
        /// The acceptor's own dial lost the tie-break: abandon it (its pending frames move to this connection).
        case replacesOwnDial
        /// A node with another uid (a restarted process) was associated at that address: it is gone.
        case replacesAssociation(oldUID: UInt64)
    }

    /// The acceptor's decision on a well-formed, compatible offer.
    public enum InboundDecision: Sendable, Equatable {
        case accept(InboundResolution)
        /// Reject with reason `duplicate`; the text says why.
        case rejectDuplicate(String)
    }

    /// The tie-break and duplicate rule, applied by the acceptor (`local`) to an offer from `remote`.
    ///
    /// - Same uid as `local` → reject (a node dialed itself).
    /// - `phase == .associated(uid)` with the offer's uid → reject duplicate; another uid → accept, replacing it.
    /// - `phase == .dialing` (both nodes dialed each other): the connection dialed by the node that `precedes` the
    ///   other survives. If `local` precedes `remote`, its own dial wins → reject the inbound; otherwise accept
    ///   the inbound and abandon the own dial.
    /// - `.none` / `.awaitingInbound` → accept.
    public static func decideInbound(local: NodeIdentity, remote: NodeIdentity, phase: PeerPhase) -> InboundDecision {
        if remote.uid == local.uid { return .rejectDuplicate("connection to self") }
        switch phase {
        case .none, .awaitingInbound:
            return .accept(.fresh)
        case .associated(let uid):
            if uid == remote.uid { return .rejectDuplicate("already associated with \(remote)") }
            return .accept(.replacesAssociation(oldUID: uid))
        case .dialing:
            if precedes(local, remote) {
                return .rejectDuplicate("simultaneous connect: \(local) keeps its own dial")
            }
            return .accept(.replacesOwnDial)
        }
    }

    // MARK: - Per-connection state machine (pure)

    /// One connection's handshake. The transport feeds every frame that arrives before the handshake completes;
    /// the machine says what to send and whether the connection is now associated or must close. Nonces come
    /// in from the shell, so tests are deterministic.
    public struct Machine: Sendable {
        public enum Role: Sendable, Equatable {
            /// Opened the connection; sends the offer, expects a challenge, then an accept.
            case dialer
            /// Accepted the connection; expects the offer, then the dialer's response.
            case acceptor
        }

        public enum State: Sendable, Equatable {
            /// Acceptor: nothing received yet.
            case awaitingOffer
            /// Dialer: offer sent.
            case awaitingChallenge
            /// Acceptor: challenge sent to the (still unproven) `peer`.
            case awaitingResponse(peer: NodeIdentity, offeredVersions: ClosedRange<UInt16>, version: UInt16,
                                  dialerNonce: [UInt8])
            /// Dialer: the acceptor proved itself; response sent.
            case awaitingAccept(peer: NodeIdentity, version: UInt16)
            case established(peer: NodeIdentity, version: UInt16)
            /// Rejected, refused or violated: the connection closes.
            case failed
        }

        /// What the transport must do after a frame.
        public enum Step: Sendable, Equatable {
            /// Send this frame and keep waiting (acceptor: the challenge; dialer: the response).
            case send(Wire.FrameKind, [UInt8])
            /// Acceptor: the dialer proved itself; send `handshakeAccept`; the connection is associated with
            /// `peer` (apply `resolution` now, not before).
            case accept(peer: NodeIdentity, version: UInt16, resolution: InboundResolution)
            /// Acceptor: send `reject`, then close. `peer` is the offering node when the offer decoded (a claim,
            /// unproven unless the reason is `duplicate`).
            case reject(Reject, peer: NodeIdentity?)
            /// Dialer: accepted; the connection is associated with `peer` at `version`.
            case established(peer: NodeIdentity, version: UInt16)
            /// The other side refused: the acceptor (any reason), or the dialer, which refused the acceptor's proof
            /// (`authFailed`: the two hold different secrets).
            case rejected(Reject)
            /// Dialer: the acceptor's proof is wrong (it does not hold the cluster secret): send a reject with
            /// reason `authFailed` (so the acceptor learns the secrets differ) and close, without a proof of ours.
            case authFailed(claimed: NodeIdentity, String)
            /// A frame that is not allowed here, or one that does not decode: close without answering.
            case violation(String)
        }

        public let role: Role
        public private(set) var state: State
        public let local: NodeIdentity
        public let clusterName: String
        public let versions: ClosedRange<UInt16>
        public let auth: ClusterAuth
        /// The operator secret, presented (tools) or verified (nodes); nil: neither.
        public let operatorCredential: OperatorCredential?
        /// This side's nonce for this connection (`ClusterAuth.nonceBytes` fresh random bytes).
        public let nonce: [UInt8]
        /// True once the peer proved the operator secret (only a node that verifies it can tell).
        public private(set) var peerIsOperator = false
        /// The largest frame this side reads (announced to the peer).
        public let maxFrameBytes: UInt32
        /// The largest frame the peer reads, from its offer or challenge (nil until received).
        public private(set) var peerMaxFrameBytes: UInt32?
        /// Dialer: the address it dialed and the IPv4 address it connected to. The node that answers must be
        /// that node (`Handshake.answers(_:dialed:connectedIP:)`), or the dialer refuses — so a relay that passes
        /// a real member's handshake through cannot borrow its proof.
        public let dialed: (address: NodeAddress, connectedIP: String?)?

        public init(role: Role, local: NodeIdentity, clusterName: String, versions: ClosedRange<UInt16>,
                    auth: ClusterAuth, operatorCredential: OperatorCredential? = nil,
                    maxFrameBytes: Int = Wire.defaultMaxFrameBytes,
                    dialed: (address: NodeAddress, connectedIP: String?)? = nil,
                    nonce: [UInt8] = ClusterAuth.makeNonce()) {
            self.dialed = dialed
            self.maxFrameBytes = UInt32(clamping: max(Int(Handshake.minFrameBytes), maxFrameBytes))
            self.role = role
            self.state = role == .dialer ? .awaitingChallenge : .awaitingOffer
            self.local = local
            self.clusterName = clusterName
            self.versions = versions
            self.auth = auth
            self.operatorCredential = operatorCredential
            self.nonce = nonce
        }

        /// This side's operator proof, when it presents one.
        private func operatorProof(_ role: ClusterAuth.Role, _ transcript: ClusterAuth.Transcript) -> [UInt8]? {
            guard let credential = operatorCredential, credential.use == .present else { return nil }
            return credential.proof(role, transcript)
        }

        /// Checks the peer's operator proof: nil when there is none or this side does not verify (a plain
        /// member), true/false when checked.
        private func checkOperatorProof(_ proof: [UInt8]?, _ role: ClusterAuth.Role,
                                        _ transcript: ClusterAuth.Transcript) -> Bool? {
            guard let proof, let credential = operatorCredential, credential.use == .verify else { return nil }
            return credential.verify(proof, role, transcript)
        }

        /// The dialer's first frame.
        public func makeOffer() -> Offer {
            Offer(versions: versions, clusterName: clusterName, identity: local, nonce: nonce, maxFrameBytes: maxFrameBytes)
        }

        /// Feeds one frame received before the handshake completed.
        ///
        /// - Parameter phaseOf: what the local node knows about an address (consulted only by the acceptor, for the
        ///   tie-break and duplicate rule).
        public mutating func receive(_ kind: Wire.FrameKind, payload: ArraySlice<UInt8>,
                                     phaseOf: (NodeAddress) -> PeerPhase) -> Step {
            let step: Step
            switch (state, kind) {
            case (.awaitingOffer, .handshakeOffer):
                step = evaluateOffer(payload, phaseOf: phaseOf)
            case (.awaitingResponse(let peer, let offered, let version, let dialerNonce), .handshakeResponse):
                step = evaluateResponse(payload, peer: peer, offered: offered, version: version,
                                        dialerNonce: dialerNonce, phaseOf: phaseOf)
            case (.awaitingChallenge, .handshakeChallenge):
                step = evaluateChallenge(payload)
            case (.awaitingAccept(let peer, let version), .handshakeAccept):
                state = .established(peer: peer, version: version)
                return .established(peer: peer, version: version)
            case (.awaitingChallenge, .handshakeReject), (.awaitingAccept, .handshakeReject),
                 (.awaitingResponse, .handshakeReject):
                state = .failed
                do { return .rejected(try Reject.decode(payload)) } catch {
                    return .violation("reject does not decode: \(error)")
                }
            default:
                state = .failed
                return .violation("unexpected \(kind) frame before handshake completed (\(role))")
            }
            switch step {
            case .send: break
            case .accept(let peer, let version, _): state = .established(peer: peer, version: version)
            default: state = .failed
            }
            return step
        }

        private mutating func evaluateOffer(_ payload: ArraySlice<UInt8>, phaseOf: (NodeAddress) -> PeerPhase) -> Step {
            let offer: Offer
            do { offer = try Offer.decode(payload) } catch {
                switch error {
                case .badMagic: return .reject(Reject(.badMagic, "offer does not start with HTLN"), peer: nil)
                case .malformed(let e): return .reject(Reject(.malformed, "offer does not decode: \(e)"), peer: nil)
                }
            }
            let peer = offer.identity
            guard let version = Handshake.negotiate(offered: offer.versions, supported: versions) else {
                return .reject(Reject(.noCommonVersion, "offered \(offer.versions), supported \(versions)"), peer: peer)
            }
            guard offer.clusterName == clusterName else {
                // Not this node's cluster name: the offer is unauthenticated.
                return .reject(Reject(.clusterMismatch, "cluster \(offer.clusterName.debugDescription) is not this node's cluster"),
                               peer: peer)
            }
            if peer.uid == local.uid { return .reject(Reject(.duplicate, "connection to self"), peer: peer) }
            let transcript = ClusterAuth.Transcript(clusterName: clusterName, offeredVersions: offer.versions, version: version,
                                                    dialer: peer, acceptor: local, dialerNonce: offer.nonce,
                                                    acceptorNonce: nonce)
            state = .awaitingResponse(peer: peer, offeredVersions: offer.versions, version: version, dialerNonce: offer.nonce)
            peerMaxFrameBytes = offer.maxFrameBytes
            let challenge = Challenge(version: version, identity: local, nonce: nonce, maxFrameBytes: maxFrameBytes,
                                      proofs: auth.proofs(.acceptor, transcript),
                                      operatorProof: operatorProof(.acceptorOperator, transcript))
            return .send(.handshakeChallenge, challenge.encode())
        }

        private mutating func evaluateResponse(_ payload: ArraySlice<UInt8>, peer: NodeIdentity, offered: ClosedRange<UInt16>,
                                      version: UInt16, dialerNonce: [UInt8], phaseOf: (NodeAddress) -> PeerPhase) -> Step {
            let response: Response
            do { response = try Response.decode(payload) } catch {
                return .reject(Reject(.malformed, "response does not decode: \(error)"), peer: peer)
            }
            let transcript = ClusterAuth.Transcript(clusterName: clusterName, offeredVersions: offered, version: version,
                                                    dialer: peer, acceptor: local, dialerNonce: dialerNonce,
                                                    acceptorNonce: nonce)
            guard auth.verify(response.proofs, .dialer, transcript) else {
                return .reject(Reject(.authFailed, "proof not accepted"), peer: peer)
            }
            switch checkOperatorProof(response.operatorProof, .dialerOperator, transcript) {
            case false?: return .reject(Reject(.authFailed, "operator proof not accepted"), peer: peer)
            case true?: peerIsOperator = true
            case nil: break
            }
            // Proven: only now may the offer replace what exists for that address.
            switch Handshake.decideInbound(local: local, remote: peer, phase: phaseOf(peer.address)) {
            case .rejectDuplicate(let why): return .reject(Reject(.duplicate, why), peer: peer)
            case .accept(let resolution): return .accept(peer: peer, version: version, resolution: resolution)
            }
        }

        private mutating func evaluateChallenge(_ payload: ArraySlice<UInt8>) -> Step {
            let challenge: Challenge
            do { challenge = try Challenge.decode(payload) } catch {
                return .violation("challenge does not decode: \(error)")
            }
            guard versions.contains(challenge.version) else {
                return .violation("accepted version \(challenge.version) outside offered \(versions)")
            }
            guard challenge.identity.uid != local.uid else { return .violation("connected to self") }
            if let dialed, !Handshake.answers(challenge.identity.address, dialed: dialed.address,
                                              connectedIP: dialed.connectedIP) {
                return .authFailed(claimed: challenge.identity,
                                   "dialed \(dialed.address) but \(challenge.identity.address) answered (a relay, or a node listening on another address)")
            }
            let transcript = ClusterAuth.Transcript(clusterName: clusterName, offeredVersions: versions,
                                                    version: challenge.version, dialer: local,
                                                    acceptor: challenge.identity, dialerNonce: nonce,
                                                    acceptorNonce: challenge.nonce)
            guard auth.verify(challenge.proofs, .acceptor, transcript) else {
                return .authFailed(claimed: challenge.identity, "the acceptor's proof is not accepted")
            }
            switch checkOperatorProof(challenge.operatorProof, .acceptorOperator, transcript) {
            case false?: return .authFailed(claimed: challenge.identity, "the acceptor's operator proof is not accepted")
            case true?: peerIsOperator = true
            case nil: break
            }
            state = .awaitingAccept(peer: challenge.identity, version: challenge.version)
            peerMaxFrameBytes = challenge.maxFrameBytes
            let response = Response(proofs: auth.proofs(.dialer, transcript),
                                    operatorProof: operatorProof(.dialerOperator, transcript))
            return .send(.handshakeResponse, response.encode())
        }
    }
}
