/// The connection handshake: payload codecs for `handshakeOffer` / `handshakeAccept` / `handshakeReject`, and a
/// pure per-connection state machine including the simultaneous-connect tie-break. No I/O here; byte layouts in
/// `Docs/wire-protocol.md`.
///
/// Flow: the dialer sends an offer as its first frame; the acceptor answers with an accept (the connection is then
/// associated on both sides once the dialer reads it) or a reject (and closes). Any other frame before the
/// handshake completes is a protocol violation and closes the connection.
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
    /// UTF-8) · host (varint length + UTF-8) · port u16 BE · uid u64 BE · auth proof (varint length + bytes).
    /// Bytes after the auth proof are reserved for later protocol versions and ignored.
    public struct Offer: Sendable, Equatable {
        public var versions: ClosedRange<UInt16>
        public var clusterName: String
        /// The dialer's identity (its listening address and uid).
        public var identity: NodeIdentity
        public var authProof: [UInt8]

        public init(versions: ClosedRange<UInt16>, clusterName: String, identity: NodeIdentity, authProof: [UInt8]) {
            self.versions = versions
            self.clusterName = clusterName
            self.identity = identity
            self.authProof = authProof
        }

        /// The payload bytes (without frame header).
        public func encode() -> [UInt8] {
            var w = Wire.ByteWriter(capacity: 32 + clusterName.utf8.count + identity.address.host.utf8.count + authProof.count)
            w.writeBytes(Handshake.magic)
            w.writeUInt16(versions.lowerBound)
            w.writeUInt16(versions.upperBound)
            w.writeString(clusterName)
            Handshake.writeIdentity(identity, into: &w)
            w.writeLengthPrefixed(authProof)
            return w.bytes
        }

        /// Decodes an offer payload.
        /// - Throws: `Handshake.OfferError.badMagic` when the first 4 bytes are not "HTLN";
        ///   `Handshake.OfferError.malformed(Wire.DecodingError)` on truncation, invalid UTF-8, minVersion > maxVersion,
        ///   an empty host or a uid of 0.
        public static func decode(_ payload: ArraySlice<UInt8>) throws(OfferError) -> Offer {
            var r = Wire.ByteReader(payload)
            guard let m = try? r.readBytes(count: 4), m.elementsEqual(Handshake.magic) else { throw .badMagic }
            do throws(Wire.DecodingError) {
                let lo = try r.readUInt16()
                let hi = try r.readUInt16()
                guard lo <= hi else { throw .invalidValue("minVersion \(lo) > maxVersion \(hi)") }
                let cluster = try r.readString()
                let identity = try Handshake.readIdentity(&r)
                let proof = Array(try r.readLengthPrefixed())
                return Offer(versions: lo...hi, clusterName: cluster, identity: identity, authProof: proof)
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

    /// The acceptor's answer when it takes the connection.
    ///
    /// Layout: chosen version u16 BE · host (varint length + UTF-8) · port u16 BE · uid u64 BE · auth proof
    /// (varint length + bytes). Nothing may follow.
    public struct Accept: Sendable, Equatable {
        public var version: UInt16
        /// The acceptor's identity.
        public var identity: NodeIdentity
        public var authProof: [UInt8]

        public init(version: UInt16, identity: NodeIdentity, authProof: [UInt8]) {
            self.version = version
            self.identity = identity
            self.authProof = authProof
        }

        public func encode() -> [UInt8] {
            var w = Wire.ByteWriter(capacity: 24 + identity.address.host.utf8.count + authProof.count)
            w.writeUInt16(version)
            Handshake.writeIdentity(identity, into: &w)
            w.writeLengthPrefixed(authProof)
            return w.bytes
        }

        /// - Throws: `Wire.DecodingError` on truncation, invalid UTF-8, an empty host, a uid of 0 or trailing bytes.
        public static func decode(_ payload: ArraySlice<UInt8>) throws(Wire.DecodingError) -> Accept {
            var r = Wire.ByteReader(payload)
            let version = try r.readUInt16()
            let identity = try Handshake.readIdentity(&r)
            let proof = Array(try r.readLengthPrefixed())
            guard r.isAtEnd else { throw .invalidValue("\(r.remaining) trailing bytes after accept") }
            return Accept(version: version, identity: identity, authProof: proof)
        }
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
    /// the machine says what to send and whether the connection is now associated or must close.
    public struct Machine: Sendable {
        public enum Role: Sendable, Equatable {
            /// Opened the connection; sends the offer, expects accept/reject.
            case dialer
            /// Accepted the connection; expects the offer.
            case acceptor
        }

        public enum State: Sendable, Equatable {
            case awaitingOffer
            case awaitingAccept
            case established(peer: NodeIdentity, version: UInt16)
            /// Rejected, refused or violated: the connection closes.
            case failed
        }

        /// What the transport must do after a frame.
        public enum Step: Sendable, Equatable {
            /// Acceptor: send `accept`; the connection is associated with `peer`.
            case accept(Accept, peer: NodeIdentity, resolution: InboundResolution)
            /// Acceptor: send `reject`, then close. `peer` is the offering node when the offer decoded.
            case reject(Reject, peer: NodeIdentity?)
            /// Dialer: the accept is valid; the connection is associated with `peer` at `version`.
            case established(peer: NodeIdentity, version: UInt16)
            /// Dialer: the acceptor refused.
            case rejected(Reject)
            /// A frame that is not allowed here, or an accept/reject that does not decode: close without answering.
            case violation(String)
        }

        public let role: Role
        public private(set) var state: State
        public let local: NodeIdentity
        public let clusterName: String
        public let versions: ClosedRange<UInt16>
        public let authProof: [UInt8]
        /// Verifies a peer's auth proof; false rejects (`authFailed`) or fails the dial.
        public let verifyProof: @Sendable (_ proof: [UInt8], _ peer: NodeIdentity) -> Bool

        public init(role: Role, local: NodeIdentity, clusterName: String, versions: ClosedRange<UInt16>,
                    authProof: [UInt8], verifyProof: @escaping @Sendable (_ proof: [UInt8], _ peer: NodeIdentity) -> Bool = { _, _ in true }) {
            self.role = role
            self.state = role == .dialer ? .awaitingAccept : .awaitingOffer
            self.local = local
            self.clusterName = clusterName
            self.versions = versions
            self.authProof = authProof
            self.verifyProof = verifyProof
        }

        /// The dialer's first frame.
        public func makeOffer() -> Offer {
            Offer(versions: versions, clusterName: clusterName, identity: local, authProof: authProof)
        }

        /// Feeds one frame received before the handshake completed.
        ///
        /// - Parameter phaseOf: what the local node knows about an address (consulted only by the acceptor, for the
        ///   tie-break and duplicate rule).
        public mutating func receive(_ kind: Wire.FrameKind, payload: ArraySlice<UInt8>,
                                     phaseOf: (NodeAddress) -> PeerPhase) -> Step {
            switch (state, kind) {
            case (.awaitingOffer, .handshakeOffer):
                let step = evaluateOffer(payload, phaseOf: phaseOf)
                if case .accept(let a, let peer, _) = step {
                    state = .established(peer: peer, version: a.version)
                } else {
                    state = .failed
                }
                return step
            case (.awaitingAccept, .handshakeAccept):
                let accept: Accept
                do { accept = try Accept.decode(payload) } catch {
                    state = .failed
                    return .violation("accept does not decode: \(error)")
                }
                guard versions.contains(accept.version) else {
                    state = .failed
                    return .violation("accepted version \(accept.version) outside offered \(versions)")
                }
                guard accept.identity.uid != local.uid else {
                    state = .failed
                    return .violation("connected to self")
                }
                guard verifyProof(accept.authProof, accept.identity) else {
                    state = .failed
                    return .violation("auth proof of \(accept.identity) not accepted")
                }
                state = .established(peer: accept.identity, version: accept.version)
                return .established(peer: accept.identity, version: accept.version)
            case (.awaitingAccept, .handshakeReject):
                state = .failed
                do { return .rejected(try Reject.decode(payload)) } catch {
                    return .violation("reject does not decode: \(error)")
                }
            default:
                state = .failed
                return .violation("unexpected \(kind) frame before handshake completed (\(role))")
            }
        }

        private func evaluateOffer(_ payload: ArraySlice<UInt8>, phaseOf: (NodeAddress) -> PeerPhase) -> Step {
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
                return .reject(Reject(.clusterMismatch, "cluster \(offer.clusterName) is not \(clusterName)"), peer: peer)
            }
            guard verifyProof(offer.authProof, peer) else {
                return .reject(Reject(.authFailed, "auth proof not accepted"), peer: peer)
            }
            switch Handshake.decideInbound(local: local, remote: peer, phase: phaseOf(peer.address)) {
            case .rejectDuplicate(let why):
                return .reject(Reject(.duplicate, why), peer: peer)
            case .accept(let resolution):
                return .accept(Accept(version: version, identity: local, authProof: authProof), peer: peer, resolution: resolution)
            }
        }
    }
}
