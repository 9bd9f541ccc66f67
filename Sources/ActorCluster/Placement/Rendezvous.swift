/// Rendezvous (highest random weight) hashing: a key goes to the candidate with the highest weight
/// `h(key, candidate)` (Thaler and Ravishankar, "Using Name-Based Mappings to Increase Hit Rates", IEEE/ACM ToN
/// 1998). Removing a candidate moves only the keys it held; every node computes the same owner from the same
/// candidate set, with no coordination.
///
/// The weight is FNV-1a 64 over the key's UTF-8 bytes and the candidate's address and uid, finished with the
/// SplitMix64 mixer: the same on every process and platform (Swift's `Hasher` is seeded per process, so it
/// cannot be used).
public enum Rendezvous {
    /// The candidate with the highest weight for `key`; ties (practically impossible) go to the lowest identity.
    /// nil when `candidates` is empty.
    public static func owner(of key: String, among candidates: [NodeIdentity]) -> NodeIdentity? {
        var best: (weight: UInt64, node: NodeIdentity)?
        for c in candidates {
            let w = weight(key, c)
            if let b = best, b.weight > w || (b.weight == w && b.node < c) { continue }
            best = (w, c)
        }
        return best?.node
    }

    /// The weight of `node` for `key`.
    public static func weight(_ key: String, _ node: NodeIdentity) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        for b in key.utf8 { mix(b) }
        mix(0)
        for b in node.address.host.utf8 { mix(b) }
        mix(UInt8(node.address.port >> 8))
        mix(UInt8(node.address.port & 0xff))
        for i in 0..<8 { mix(UInt8(truncatingIfNeeded: node.uid >> (8 * UInt64(i)))) }
        var z = h &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
