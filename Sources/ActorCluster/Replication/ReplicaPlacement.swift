extension Replication {
    /// Which members hold a stream's replicas: the `count` highest rendezvous weights of the stream's name over
    /// the eligible members, weighed by **address** (not uid), so a node restarted on its address and data
    /// directory holds the same streams as before.
    public enum ReplicaPlacement {
        /// The replica set of `stream` among `candidates` (members that may hold it and are up or suspect),
        /// highest weight first; every candidate when there are fewer than `count`.
        public static func replicas(of stream: String, among candidates: [NodeIdentity], count: Int) -> [NodeIdentity] {
            let ranked = candidates.map { ($0, Rendezvous.weight(stream, NodeIdentity(address: $0.address, uid: 0))) }
                .sorted { a, b in a.1 != b.1 ? a.1 > b.1 : a.0 < b.0 }
            var seen = Set<NodeAddress>()
            var out: [NodeIdentity] = []
            for (node, _) in ranked where out.count < max(1, count) {
                if seen.insert(node.address).inserted { out.append(node) }
            }
            return out
        }
    }
}
