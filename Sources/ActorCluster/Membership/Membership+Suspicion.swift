import Foundation

extension Membership {
    /// One Lifeguard suspicion timer (Lifeguard §4.2, "Local Health Aware Suspicion"): it starts at the
    /// maximum timeout and shrinks towards the minimum, logarithmically, as independent members confirm the
    /// suspicion. A lone (possibly slow) accuser waits long; a suspicion many members share expires fast.
    ///
    /// - min = α · max(1, log10 N) · protocol period (N: active members when the suspicion starts)
    /// - max = β · min
    /// - timeout(C) = max(min, max − (max − min) · log(C + 1) / log(K + 1)), with C the distinct confirmations
    ///   so far and K = min(k, N − 2) the confirmations that drive it to the minimum (k: `indirectProbes`).
    ///   When K < 1 no confirmation is possible and the timeout is the minimum.
    ///
    /// The accuser is not carried in the message: the sender of a suspect update is taken as its confirmer, so
    /// a member that merely re-gossips a suspicion counts as one. That errs towards shorter timeouts in large
    /// clusters, never towards confirming a suspicion that the member refuted (a refutation clears it).
    struct Suspicion: Sendable, Equatable {
        /// The suspect's incarnation this suspicion is about; an update at a higher incarnation refutes it.
        let incarnation: UInt64
        /// When this node started suspecting (monotonic ns).
        let startNs: UInt64
        /// The minimum and maximum timeout, ns.
        let minNs: UInt64
        let maxNs: UInt64
        /// K: confirmations that bring the timeout down to the minimum.
        let wanted: Int
        /// Who accused so far: the first accuser (not a confirmation) and each distinct confirmer. Bounded by
        /// K + 1, since confirmations beyond K change nothing.
        private(set) var accusers: Set<NodeIdentity>
        /// C: distinct confirmations so far, 0 ... K.
        private(set) var confirmations = 0
        /// When the suspect becomes `down` unless refuted (monotonic ns); recomputed on each confirmation.
        private(set) var deadlineNs: UInt64

        /// - Parameters:
        ///   - accuser: the member whose update (or this node's own failed probe) started the suspicion.
        ///   - activeMembers: N, this node included.
        init(accuser: NodeIdentity, incarnation: UInt64, activeMembers: Int, settings: Settings, nowNs: UInt64) {
            let bounds = Self.bounds(activeMembers: activeMembers, alpha: settings.suspicionAlpha, beta: settings.suspicionBeta,
                                     protocolPeriodNs: Membership.nanoseconds(settings.protocolPeriod))
            self.incarnation = incarnation
            self.startNs = nowNs
            self.minNs = bounds.minNs
            self.maxNs = bounds.maxNs
            self.wanted = max(0, min(settings.indirectProbes, activeMembers - 2))
            self.accusers = [accuser]
            self.deadlineNs = nowNs &+ Self.timeoutNs(confirmations: 0, wanted: wanted, minNs: bounds.minNs, maxNs: bounds.maxNs)
        }

        /// Lifeguard §4.2 bounds for N active members, in ns.
        static func bounds(activeMembers n: Int, alpha: Double, beta: Double, protocolPeriodNs: UInt64) -> (minNs: UInt64, maxNs: UInt64) {
            let scale = max(1, log10(Double(max(1, n))))
            let minNs = max(0, alpha) * scale * Double(protocolPeriodNs)
            let maxNs = max(1, beta) * minNs
            return (UInt64(min(minNs, 1e18)), UInt64(min(maxNs, 1e18)))
        }

        /// The timeout after `c` confirmations out of `k` wanted (Lifeguard §4.2), ns.
        static func timeoutNs(confirmations c: Int, wanted k: Int, minNs: UInt64, maxNs: UInt64) -> UInt64 {
            guard k >= 1, maxNs > minNs else { return minNs }
            let fraction = log(Double(c) + 1) / log(Double(k) + 1)
            let raw = Double(maxNs) - fraction * Double(maxNs - minNs)
            return max(minNs, UInt64(max(0, raw.rounded(.down))))
        }

        /// Counts `node` as an independent confirmation; returns whether it was new (and moved the deadline).
        mutating func confirm(by node: NodeIdentity) -> Bool {
            guard confirmations < wanted, !accusers.contains(node) else { return false }
            accusers.insert(node)
            confirmations += 1
            deadlineNs = startNs &+ Self.timeoutNs(confirmations: confirmations, wanted: wanted, minNs: minNs, maxNs: maxNs)
            return true
        }
    }
}
