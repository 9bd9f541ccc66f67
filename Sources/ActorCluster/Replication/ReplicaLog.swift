extension Replication {
    /// One stream as a replica holds it: the highest ballot it promised and its entries (pure value; the store
    /// persists each `Change` before the reply leaves, so an acknowledgement means durable).
    public struct ReplicaLog: Sendable, Hashable {
        public private(set) var promised: Ballot = .zero
        public private(set) var entries: [Entry] = []
        /// How far this replica knows entries are committed (learned from owners; not persisted — after a
        /// restart it is 0 until the next append says more).
        public private(set) var commitIndex: UInt64 = 0
        /// Payload bytes of `entries`.
        public private(set) var payloadBytes = 0

        public init() {}

        /// What must be made durable before a reply is sent.
        public enum Change: Codable, Sendable, Hashable {
            case promise(Ballot)
            /// Drop entries from `from` on (if any), then append `entries` (which start at `from`).
            case write(from: UInt64, entries: [Entry])
        }

        public var lastIndex: UInt64 { UInt64(entries.count) }

        /// The latest replica set recorded in the log (searched from the end: one is written at every takeover).
        public var latestConfig: Config? {
            for e in entries.reversed() {
                if let members = e.replicaSet { return Config(members: members, ballot: e.ballot, index: e.index) }
            }
            return nil
        }
        public var lastBallot: Ballot { entries.last?.ballot ?? .zero }

        /// Applies a request; returns the reply and the changes to persist first (in order).
        public mutating func handle(_ request: Request) -> (Reply, [Change]) {
            let ballot = request.ballot
            if let problem = Self.malformation(of: request) { return (.refused(reason: problem), []) }
            if ballot < promised { return (.rejected(promised: promised), []) }
            var changes: [Change] = []
            switch request {
            case .prepare:
                if ballot > promised {
                    promised = ballot
                    changes.append(.promise(ballot))
                }
                return (.promised(lastIndex: lastIndex, lastBallot: lastBallot, commitIndex: commitIndex, config: latestConfig), changes)
            case .fetch(_, _, let after, let maxBytes):
                // Reading promises nothing and changes nothing.
                return (.entries(page(after: after, maxBytes: maxBytes)), [])
            case .append(_, _, let prevIndex, let prevBallot, let new, let ownerCommit):
                if ballot > promised {
                    promised = ballot
                    changes.append(.promise(ballot))
                }
                guard prevIndex <= lastIndex, prevIndex == 0 || entries[Int(prevIndex - 1)].ballot == prevBallot else {
                    return (.mismatch(lastIndex: lastIndex, commitIndex: commitIndex), changes)
                }
                // Skip entries already held with the same ballot (a repeated or reordered append); truncate
                // at the first conflict (Raft §5.3); append the rest.
                var firstNew = new.count
                for (i, e) in new.enumerated() {
                    let at = Int(e.index) - 1
                    if at < entries.count, entries[at].ballot == e.ballot { continue }
                    firstNew = i
                    break
                }
                if firstNew < new.count {
                    let from = new[firstNew].index
                    let tail = Array(new[firstNew...])
                    replace(from: from, with: tail)
                    changes.append(.write(from: from, entries: tail))
                }
                let match = prevIndex + UInt64(new.count)
                commitIndex = max(commitIndex, min(ownerCommit, match))
                return (.accepted(matchIndex: match), changes)
            }
        }

        private mutating func replace(from: UInt64, with new: [Entry]) {
            let start = Int(from - 1)
            if start < entries.count {
                payloadBytes -= entries[start...].reduce(0) { $0 + $1.payload.count }
                entries.removeSubrange(start..<entries.count)
            }
            entries.append(contentsOf: new)
            payloadBytes += new.reduce(0) { $0 + $1.payload.count }
        }

        /// Why `request` cannot be applied whatever the log holds, or nil: a round above `Ballot.maxRound`, entries
        /// that do not follow `prevIndex` one by one, an entry whose ballot is above the request's, or a
        /// `prevIndex` or batch that would pass `Ballot.maxRound` entries.
        public static func malformation(of request: Request) -> String? {
            guard request.ballot.round <= Ballot.maxRound else { return "ballot round above 2^62" }
            guard case .append(_, let ballot, let prevIndex, let prevBallot, let entries, _) = request else { return nil }
            guard prevIndex <= Ballot.maxRound, UInt64(entries.count) <= Ballot.maxRound - prevIndex else {
                return "index above 2^62"
            }
            guard prevBallot <= ballot else { return "previous entry's ballot above the request's" }
            for (i, e) in entries.enumerated() {
                guard e.index == prevIndex + 1 + UInt64(i) else {
                    return "entry \(i) has index \(e.index), expected \(prevIndex + 1 + UInt64(i))"
                }
                guard e.ballot <= ballot else { return "entry \(e.index) has a ballot above the request's" }
            }
            return nil
        }

        /// Entries after `after`, at most `maxBytes` of payload but at least one.
        public func page(after: UInt64, maxBytes: Int) -> [Entry] {
            guard after < lastIndex else { return [] }
            var out: [Entry] = []
            var used = 0
            for e in entries[Int(after)...] {
                if !out.isEmpty && used + e.payload.count > maxBytes { break }
                out.append(e)
                used += e.payload.count
            }
            return out
        }

        /// Replays a persisted change (at startup). Malformed changes (a write that would leave a gap) are
        /// refused with `false` and change nothing.
        @discardableResult
        public mutating func restore(_ change: Change) -> Bool {
            switch change {
            case .promise(let b):
                promised = max(promised, b)
                return true
            case .write(let from, let new):
                guard from >= 1, from <= lastIndex + 1,
                      new.enumerated().allSatisfy({ $0.element.index == from + UInt64($0.offset) }) else { return false }
                replace(from: from, with: new)
                commitIndex = min(commitIndex, lastIndex)
                return true
            }
        }
    }
}
