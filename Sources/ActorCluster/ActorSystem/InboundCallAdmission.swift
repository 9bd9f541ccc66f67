import Synchronization

/// Counts inbound calls in flight (admitted, not yet finished), node-wide and per calling node, and their
/// frame bytes node-wide, and refuses calls beyond `ClusterSettings.maxInboundCallsInFlight` /
/// `maxInboundCallsInFlightPerPeer` / `maxInboundCallBytesInFlight`.
/// The per-caller table holds only callers with calls in flight (an entry goes when its count reaches 0).
final class InboundCallAdmission: Sendable {
    private struct State {
        var total = 0
        var bytes = 0
        var perPeer: [NodeIdentity: Int] = [:]
    }

    private let state = Mutex(State())
    let maxTotal: Int
    let maxPerPeer: Int
    let maxBytes: Int
    let refused: Counter
    let inFlight: Gauge
    private let logger: Logger
    private let limiter: LogRateLimiter

    init(settings: ClusterSettings, metrics: Metrics, logger: Logger) {
        maxTotal = max(1, settings.maxInboundCallsInFlight)
        maxPerPeer = max(1, settings.maxInboundCallsInFlightPerPeer)
        maxBytes = max(1, settings.maxInboundCallBytesInFlight)
        refused = metrics.counter("hotline_calls_refused_overloaded_total",
                                  help: "Inbound calls answered 'overloaded' at once: too many calls in flight (node or caller)")
        inFlight = metrics.gauge("hotline_calls_in_flight", help: "Inbound calls admitted and not yet finished")
        self.logger = logger
        limiter = LogRateLimiter(interval: settings.transport.limitLogInterval)
    }

    /// Admits one call of `bytes` frame bytes from `peer` (counted until `release`), or returns the reply that
    /// refuses it.
    func admit(_ peer: NodeIdentity, bytes: Int) -> ReplyEnvelope? {
        let refusal = state.withLock { s -> ReplyEnvelope? in
            if s.total >= maxTotal { return .overloaded(perCaller: false, limit: maxTotal) }
            if s.total > 0, s.bytes + bytes > maxBytes { return .overloaded(perCaller: false, limit: maxBytes) }
            let mine = s.perPeer[peer, default: 0]
            if mine >= maxPerPeer { return .overloaded(perCaller: true, limit: maxPerPeer) }
            s.total += 1
            s.bytes += bytes
            s.perPeer[peer] = mine + 1
            return nil
        }
        if case .overloaded(let perCaller, let limit)? = refusal {
            refused.increment()
            logger.logLimited(limiter, .warning, "call.refused_overloaded",
                              ["peer": peer, "scope": perCaller ? "caller" : "node", "limit": limit])
        } else {
            inFlight.increment()
        }
        return refusal
    }

    /// One admitted call of `bytes` frame bytes from `peer` finished.
    func release(_ peer: NodeIdentity, bytes: Int) {
        state.withLock { s in
            s.total -= 1
            s.bytes -= bytes
            let left = s.perPeer[peer, default: 1] - 1
            s.perPeer[peer] = left > 0 ? left : nil
        }
        inFlight.decrement()
    }
}
