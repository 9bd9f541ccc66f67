extension Replication {
    /// Makes a member's stream directory complete when it joins a running cluster: it reads every member's
    /// directory (`Replicator.directory(after:)`, in pages), keeps each stream's newest committed replica set
    /// (`ReplicaStore.learn`), and counts itself complete once it has read the whole directory of a majority of
    /// the other members whose own directory was complete, or of every other member. Until then its promises say so
    /// (`Reply.promised(directoryComplete:)`) and a recovering owner does not take its silence about a stream for
    /// "no such stream".
    ///
    /// Why: an owner that finds no recorded set for a stream takes it for new once a majority of every member asked
    /// answers, since the stream's first set was committed by such a majority (`ReplicationOwner`). A member that
    /// joined later and had not yet been told the stream's set (owners tell every member, `Request.record`, but that
    /// takes a heartbeat) broke the count: with all nodes powered off within ~0.2 s of two nodes joining, a
    /// majority of the restarted nodes knew nothing of the case-number stream, which was opened empty and handed
    /// out a number twice (breaker, 2026-12-02, 2 runs of 8). A member reading the directory of a majority of the
    /// others meets, in one of them, every stream such a majority recorded.
    ///
    /// A node that formed a new cluster is complete; one that formed it again with a majority of the members it
    /// remembered after a restart keeps the completeness its store journaled; a node the answer of a member `up`
    /// made `up` (`Membership.Machine.joinedThrough`) starts incomplete, since it may be new or have been away
    /// (downed) while streams were created. A pure state machine: the shell (`Replicator`) asks, stores, and feeds
    /// back answers.
    public struct DirectorySync: Sendable {
        public enum Phase: Sendable, Equatable {
            /// This node is not `up` yet.
            case waiting
            /// Reading the other members' directories.
            case reading
            /// The directory is complete: nothing more to do in this incarnation.
            case complete
        }

        /// How this node became `up` (`Membership.Machine.joinedThrough`, `formedWithRemembered`).
        public enum Start: Sendable, Equatable {
            /// It formed a new cluster: alone (no seeds, or a seed that heard from nobody, or forced by the
            /// operator) or with another fresh node. Every stream is created after: complete.
            case formedNew
            /// It formed the cluster again with a majority of the members it remembered (a restart after a power
            /// loss): complete if its store says so, else it reads the others'.
            case formedWithRemembered
            /// A member's answer made it `up`: it reads.
            case joinedRunningCluster
        }

        public enum Input: Sendable, Equatable {
            /// This node became `up`; `stored` is what its store journaled (`ReplicaStore.directoryComplete`).
            case up(Start, stored: Bool?)
            /// The other active members now (this node excluded).
            case members([NodeIdentity])
            /// `from` answered the request for its page after `asked`; the shell stored the page's entries first.
            case page(DirectoryPage, from: NodeIdentity, asked: String?)
            /// The request to `from` failed (unreachable, timed out, refused).
            case failed(from: NodeIdentity)
            case tick
        }

        public enum Action: Sendable, Hashable {
            /// Journal the store's completeness (`ReplicaStore.setDirectoryComplete`).
            case record(complete: Bool)
            /// Ask `node` for its directory page after `after` (nil: from the first).
            case ask(NodeIdentity, after: String?)
        }

        /// What is known of one member's directory while it is read.
        struct Reading: Sendable, Equatable {
            /// Where the next page starts (nil: from the first).
            var after: String?
            /// Every page read so far said complete.
            var complete = true
            var inFlight = false
            /// When the last request went (ns), or nil.
            var askedNs: UInt64?
        }

        public private(set) var phase: Phase = .waiting
        private var others: [NodeIdentity] = []
        /// `.members` arrived at least once (until then nobody is known to read from).
        private var membersKnown = false
        private var reading: [NodeIdentity: Reading] = [:]
        /// Members whose whole directory was read and was complete, by address (a member's later incarnation need
        /// not be read again: what its store held is held here now).
        public private(set) var readFrom: Set<NodeAddress> = []
        /// Members whose whole directory was read, complete or not, by address.
        public private(set) var readWhole: Set<NodeAddress> = []
        /// How long after a failed or incomplete read a member is asked again, ms.
        public let retryMs: Int

        public init(retryMs: Int = 1_000) { self.retryMs = retryMs }

        /// The complete directories still needed: a majority of the other members. With nobody else listed it
        /// stays incomplete: right after forming a cluster with restarted members they are not listed yet, and a
        /// node whose cluster went away has nobody to learn from (it reads once members are back; an operator who
        /// forms a new cluster with `--force-new-cluster` makes it `formedNew`).
        public var needed: Int { others.count / 2 + 1 }
        /// The other members whose complete directory was read.
        public var readCount: Int { others.filter { readFrom.contains($0.address) }.count }

        /// When the machine next needs a `.tick` (ns), or nil.
        public var nextWakeupNs: UInt64? {
            guard phase == .reading else { return nil }
            let due = reading.values.compactMap { r in r.inFlight ? nil : r.askedNs.map { $0 &+ UInt64(retryMs) * 1_000_000 } }
            return due.min()
        }

        public mutating func handle(_ input: Input, nowNs: UInt64) -> [Action] {
            switch input {
            case .up(let start, let stored):
                guard phase == .waiting else { return [] }
                if start == .joinedRunningCluster || (start == .formedWithRemembered && stored != true) {
                    phase = .reading
                    return (stored == false ? [] : [.record(complete: false)]) + progress(nowNs: nowNs)
                }
                phase = .complete
                return stored == true ? [] : [.record(complete: true)]
            case .members(let nodes):
                others = nodes
                membersKnown = true
                for n in reading.keys where !nodes.contains(n) { reading[n] = nil }
                return progress(nowNs: nowNs)
            case .page(let page, let from, let asked):
                guard phase == .reading, var r = reading[from], r.inFlight, r.after == asked else { return [] }
                r.inFlight = false
                r.complete = r.complete && page.complete
                if let next = page.next, next > (asked ?? "") {
                    r.after = next
                    reading[from] = r
                    return ask(from, nowNs: nowNs) + progress(nowNs: nowNs)
                }
                readWhole.insert(from.address)
                if r.complete {
                    readFrom.insert(from.address)
                } else {
                    // Its directory was not complete yet: read it again later (it may have completed meanwhile).
                    r = Reading(askedNs: nowNs)
                }
                reading[from] = r
                return progress(nowNs: nowNs)
            case .failed(let from):
                guard var r = reading[from], r.inFlight else { return [] }
                r.inFlight = false
                reading[from] = r
                return progress(nowNs: nowNs)
            case .tick:
                return progress(nowNs: nowNs)
            }
        }

        /// Completes once the complete directories of a majority of the other members are read, or the directory of
        /// every other member (complete or not: what each holds itself is then held here, and nobody has more to
        /// give — after a power loss in which every node but one had not completed its own read, they would
        /// otherwise wait for each other); otherwise asks every member not read, not asked, or due again.
        private mutating func progress(nowNs: UInt64) -> [Action] {
            guard phase == .reading, membersKnown, !others.isEmpty else { return [] }
            if readCount >= needed || others.allSatisfy({ readWhole.contains($0.address) }) {
                phase = .complete
                reading = [:]
                return [.record(complete: true)]
            }
            var actions: [Action] = []
            for n in others where !readFrom.contains(n.address) {
                let r = reading[n] ?? Reading()
                if r.inFlight { continue }
                if let at = r.askedNs, nowNs &- at < UInt64(retryMs) * 1_000_000 { continue }
                reading[n] = r
                actions += ask(n, nowNs: nowNs)
            }
            return actions
        }

        private mutating func ask(_ node: NodeIdentity, nowNs: UInt64) -> [Action] {
            guard var r = reading[node] else { return [] }
            r.inFlight = true
            r.askedNs = nowNs
            reading[node] = r
            return [.ask(node, after: r.after)]
        }
    }
}
