extension ClusterSystem {
    /// Identity of a distributed actor: the node it lives on plus a path on that node.
    ///
    /// Paths start with `/`: well-known actors get stable ones (e.g. `/system/probe`, `/district/210302`) so
    /// any node can address them knowing only the node; others get `/user/<Type>-<n>`. Because the node part
    /// carries the process uid, an id from a previous incarnation of a node never resolves in its successor.
    /// Text form: `127.0.0.1:7101#5f3a09c1e2b4d6f8/system/probe`.
    public struct ActorID: Hashable, Sendable, Codable, CustomStringConvertible {
        public var node: NodeIdentity
        public var path: String

        public init(node: NodeIdentity, path: String) {
            self.node = node
            self.path = path
        }

        public var description: String { "\(node)\(path)" }

        /// True when `path` is a usable actor path: starts with `/`, at most 512 bytes, no spaces or control chars.
        public static func isValidPath(_ path: String) -> Bool {
            guard path.hasPrefix("/"), path.utf8.count <= 512, path.utf8.count > 1 else { return false }
            return !path.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F }
        }
    }
}
