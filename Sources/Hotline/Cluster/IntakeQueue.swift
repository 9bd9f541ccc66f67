import ActorCluster
import Foundation

/// What a node answers a citizen request: a case now, or a ticket in this node's intake queue.
public enum IntakeOutcome: Codable, Sendable, Hashable {
    case accepted(IntakeReceipt)
    case queued(QueueReceipt)
}

/// A request kept in a node's intake queue: the ticket to ask about it, why it was queued, and its place.
public struct QueueReceipt: Codable, Sendable, Hashable {
    public var ticket: String
    /// The node whose queue holds it.
    public var node: String
    public var reason: String
    /// Requests ahead of it plus one.
    public var position: Int
}

/// Where a queued request stands (`IntakeQueue.status`).
public enum QueuedStatus: Codable, Sendable, Hashable {
    case waiting(position: Int, reason: String)
    case delivered(IntakeReceipt)
    case refused(reason: String)
}

/// The node's intake queue: intake never turns a citizen away. When this node's side of the cluster holds no
/// quorum (a partition), or the case cannot be opened now because its office or dispatch group is unreachable
/// or recovering, the request is recorded durably here — the replicated stream `intake/queue/<host:port>`,
/// held by this node alone, so it is written to this node's data directory — and the citizen gets a ticket.
/// A drain delivers queued requests in order through the cluster's intake desk once the quorum is back, every
/// second while some wait; each gets an external id if it had none, so a delivery repeated after a crash
/// returns the same case.
///
/// Memory and disk: at most `maxQueued` requests wait (each at most `CitizenRequest`'s bounded size); beyond it
/// `enqueue` throws `HotlineError.unavailable`.
public actor IntakeQueue {
    public static let maxQueued = 100_000
    /// The queue's stream name on `node`.
    public static func streamName(_ node: NodeAddress) -> String { "intake/queue/\(node)" }

    enum Record: Codable, Sendable {
        case queued(ticket: String, request: CitizenRequest, at: Date, reason: String)
        case delivered(ticket: String, receipt: IntakeReceipt)
        case refused(ticket: String, reason: String)
    }

    private let context: HotlineContext
    private var stream: ReplicatedStream?
    private var ready: Task<Void, any Error>?
    /// How the current recovery ended (`.success` once restored), nil while it runs.
    private var recoveryOutcome: Result<Void, any Error>?

    private func recoveryEnded(_ error: (any Error)?) {
        recoveryOutcome = error.map { .failure($0) } ?? .success(())
    }
    private var waiting: [(ticket: String, request: CitizenRequest, reason: String)] = []
    private var outcomes: [String: QueuedStatus] = [:]
    private var drainer: Task<Void, Never>?
    private var draining = false
    private var round: UInt64 = 0

    public init(context: HotlineContext) {
        self.context = context
    }

    deinit { drainer?.cancel() }

    /// Requests waiting now.
    public var count: Int { waiting.count }

    /// How long a call waits for the queue's recovery before it is answered `unavailable`.
    public static let readyWait: Duration = .seconds(3)

    /// Recovers the queue (once; again after a failure) and starts the drain when requests wait.
    ///
    /// - Throws: `HotlineError.unavailable` when this node's replica of the queue cannot be read.
    public func start() async throws {
        if ready == nil {
            round += 1
            let system = context.system
            let s = ReplicatedStream(stream: Self.streamName(system.node.address), system: system,
                                     settings: context.replication, round: round, replicas: [system.node], others: [])
            stream = s
            recoveryOutcome = nil
            ready = Task {
                let payloads: [[UInt8]]
                do {
                    payloads = try await s.recover()
                } catch {
                    self.recoveryEnded(error)
                    throw error
                }
                var waiting: [(String, CitizenRequest, String)] = []
                var outcomes: [String: QueuedStatus] = [:]
                for bytes in payloads {
                    switch try? Wire.BinaryDecoder().decode(Record.self, from: bytes) {
                    case .queued(let t, let r, _, let why)?: waiting.append((t, r, why))
                    case .delivered(let t, let receipt)?: outcomes[t] = .delivered(receipt)
                    case .refused(let t, let why)?: outcomes[t] = .refused(reason: why)
                    case nil: break
                    }
                }
                self.restored(waiting.filter { outcomes[$0.0] == nil }, outcomes)
                self.recoveryEnded(nil)
            }
        }
        do {
            // Bounded: a replica that refuses to store (a full disk) keeps the recovery waiting; the caller gets an
            // answer naming why, and the recovery goes on for the next call.
            let deadline = ContinuousClock.now + Self.readyWait
            // Bounded: 20 ms steps until the deadline.
            while recoveryOutcome == nil {
                guard ContinuousClock.now < deadline else {
                    let waiting = await stream?.waitingFor
                    throw HotlineError.unavailable("this node's intake queue is recovering\(waiting.map { " (\($0))" } ?? "")")
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            try await ready?.value
        } catch let error as HotlineError {
            throw error
        } catch {
            ready = nil
            if let old = stream { Task { await old.stop() } }
            stream = nil
            throw HotlineError.unavailable("this node's intake queue could not be read: \(error)")
        }
        startDrain()
    }

    private func restored(_ waiting: [(String, CitizenRequest, String)], _ outcomes: [String: QueuedStatus]) {
        self.waiting = waiting.map { (ticket: $0.0, request: $0.1, reason: $0.2) }
        self.outcomes = outcomes
    }

    /// Records `request` durably and returns its ticket.
    ///
    /// - Throws: `HotlineError.unavailable` when the queue is full or cannot be written.
    public func enqueue(_ request: CitizenRequest, reason: String) async throws -> QueueReceipt {
        try await start()
        guard waiting.count < Self.maxQueued else {
            throw HotlineError.unavailable("the intake queue of this node holds its limit of \(Self.maxQueued) requests")
        }
        guard let stream else { throw HotlineError.unavailable("this node's intake queue is recovering") }
        let ticket = UUID().uuidString.lowercased()
        var kept = request
        // Delivery must be idempotent: a request without an external id gets the ticket as one.
        if kept.externalID == nil { kept.externalID = "queued-\(ticket)" }
        let record = Record.queued(ticket: ticket, request: kept, at: Date(), reason: reason)
        do {
            _ = try await stream.append(try Wire.BinaryEncoder().encode(record))
        } catch {
            ready = nil
            if let old = self.stream { Task { await old.stop() } }
            self.stream = nil
            throw HotlineError.unavailable("the request could not be written to this node's intake queue: \(error)")
        }
        waiting.append((ticket, kept, reason))
        context.system.metrics.counter("hotline_intake_queued_total", help: "Citizen requests kept in this node's intake queue.").increment()
        startDrain()
        return QueueReceipt(ticket: ticket, node: context.system.node.address.description, reason: reason,
                            position: waiting.count)
    }

    /// Where the request with `ticket` stands, or nil when this queue never held it.
    public func status(_ ticket: String) -> QueuedStatus? {
        if let done = outcomes[ticket] { return done }
        guard let i = waiting.firstIndex(where: { $0.ticket == ticket }) else { return nil }
        return .waiting(position: i + 1, reason: waiting[i].reason)
    }

    private func startDrain() {
        guard drainer == nil, !waiting.isEmpty else { return }
        drainer = Task { [weak self] in
            // Bounded by the queue: each round delivers or stops at the first request that cannot go yet.
            while !Task.isCancelled {
                guard let self else { return }
                let more = await self.drainOnce()
                if !more { break }
                try? await Task.sleep(for: .seconds(1))
            }
            await self?.drainEnded()
        }
    }

    private func drainEnded() {
        drainer = nil
        if !waiting.isEmpty { startDrain() }
    }

    /// Delivers waiting requests in order while the cluster takes them. Returns whether some still wait.
    func drainOnce() async -> Bool {
        guard !draining, let stream else { return !waiting.isEmpty }
        draining = true
        defer { draining = false }
        if let membership = context.system.membership, !membership.hasQuorum { return true }
        while let next = waiting.first {
            let outcome: Record
            do {
                let receipt = try await context.onIntakeDesk { try await $0.submit(next.request) }
                outcome = .delivered(ticket: next.ticket, receipt: receipt)
            } catch HotlineError.invalidRequest(let why) {
                outcome = .refused(ticket: next.ticket, reason: why)
            } catch {
                return true  // not now: try again in a second
            }
            do {
                _ = try await stream.append(try Wire.BinaryEncoder().encode(outcome))
            } catch {
                return true  // delivered (idempotently) again next round
            }
            waiting.removeFirst()
            switch outcome {
            case .delivered(let t, let receipt): outcomes[t] = .delivered(receipt)
            case .refused(let t, let why): outcomes[t] = .refused(reason: why)
            case .queued: break
            }
            context.system.metrics.counter("hotline_intake_queue_delivered_total",
                                           help: "Queued citizen requests delivered to intake (or refused by it).").increment()
        }
        return false
    }
}
