import ActorCluster
import Distributed
import Foundation

/// The office of one jurisdiction (`/hotline/district/<code>`): holds that jurisdiction's cases as event
/// logs and is the only place their events are recorded. Departments (units) sign for, report progress,
/// return, request extensions and reply here; the hotline side dispatches, reviews, calls back and closes.
///
/// Every change goes through `CaseLog.record`, so a change a rule forbids throws
/// `HotlineError.ruleViolation` and changes nothing. Time is the node's clock (`HotlineContext.clock`).
///
/// **Durability.** The office's events are the replicated stream `district/<code>` (`ReplicatedStream`): a
/// new office first recovers every case from a quorum of the stream's replicas, and answers nothing until
/// then (callers wait up to `readyWait`, then get `HotlineError.unavailable`); every change is answered only
/// once its new events are durable on `W` replicas. A change whose replication fails (a newer owner fenced this
/// one, the replicas are unreachable) is answered `unavailable`, and the office drops its state and recovers
/// again from the replicas — so what it serves is always what the replicas hold. Other calls may read a change
/// while it is being replicated.
///
/// **Compaction** (Raft §7). Once the changes since the last snapshot reach `HotlineContext.snapshotMinBytes`
/// (and half the last snapshot's size), the office writes a new archive file (`CaseArchive`: the records of its
/// archived closed cases copied as byte ranges from the previous file, then every case it holds decoded) and hands
/// it to its stream as the snapshot at the index of its last change; the owner sends it to replicas in pages read
/// from the file, and owner and replicas drop the entries it covers. **Memory.** A closed case (no assignment
/// awaiting delivery) that is in the archive is held only as an index entry (`ArchivedCase`: number, status,
/// where its record is, lead, what intake matching needs) plus its intake keys in `byIntakeKey`; its events are
/// read from the archive file (`pread`) when it is asked for, and it becomes a live `CaseLog` again when a change
/// touches it. A recovering office streams the snapshot's pages into its archive file and builds the index from
/// the record headers as they pass (`CaseArchive.Sink`); only live cases are decoded and replayed.
public distributed actor DistrictOffice {
    public typealias ActorSystem = ClusterSystem

    /// The office's phase.
    enum Phase: Sendable, Equatable {
        case recovering
        case serving
        case failed(String)
        case released
    }

    /// How long a call waits for a recovering office before it is answered `unavailable`: below the default
    /// call timeout (5 s), so the caller gets an answer it retries (`HotlineContext.failoverWait`), not a timeout.
    public static let readyWait: Duration = .seconds(3)

    let context: HotlineContext
    let jurisdiction: String
    var phase: Phase = .recovering
    var stream: ReplicatedStream?
    /// Ballot rounds already used by this office (a new stream starts above them).
    private var lastRound: UInt64 = 0
    private var recovery: Task<Void, Never>?
    /// Live cases, decoded: open ones, ones awaiting delivery, and closed ones changed since the last snapshot.
    var cases: [CaseID: CaseLog] = [:]
    /// Closed cases held only as index entries: their events are a record of `archive`.
    var archived: [CaseID: ArchivedCase] = [:]
    /// The office's copy of its stream's snapshot (nil: none yet).
    var archive: CaseArchive.File?
    /// The stream index the office's state covers when no change is being replicated: a snapshot is taken
    /// through it.
    var appliedIndex: UInt64 = 0
    /// Changes whose replication has not returned yet (no snapshot meanwhile).
    var commitsInFlight = 0
    /// Payload bytes appended since the last snapshot, and the last snapshot's size.
    var bytesSinceSnapshot = 0
    var lastSnapshotBytes = 0
    var compacting = false
    /// Where the recovery under way streams the stream's snapshot (its archive file and index).
    var recoverySink: CaseArchive.Sink?
    /// Every case id in order (`caseIDs`, `eventLogs` pages), rebuilt when a case is added.
    var sortedIDs: [CaseID]?
    /// Archive records that could not be read or decoded (`hotline_archive_errors_total`).
    var archiveErrors = 0
    /// The stream whose archive file failed a read (`reloadArchive` acts once per stream).
    var reloadingFor: ReplicatedStream?
    /// Case by channel + external id: a request opened again (intake retried after a timeout or a node death)
    /// returns the case opened the first time.
    var byIntakeKey: [IntakeKey: CaseID] = [:]
    /// Intake keys with an intake step under way here (a match, an open) and who waits for each: a step for a key
    /// runs only when no other step for the same key is between its check and its commit. The actor is reentrant
    /// — it answers other calls while a change replicates — so without this a retried request arriving while the
    /// first open still replicates (its desk timed out, or the desk moved) found no case for its key and opened a
    /// second one. Bounded by the calls admitted at once.
    private var intakeKeysInUse: [IntakeKey: [CheckedContinuation<Void, Never>]] = [:]
    /// Cases merged under each lead case (from the children's `mergedInto`): they follow its reply.
    var childrenOf: [CaseID: Set<CaseID>] = [:]
    /// Open cases, each with the earliest instant supervision may find something due on it
    /// (`WorkOrder.nextSupervisionDue`); `Date.distantPast` for a case changed since supervision last looked at it,
    /// `Date.distantFuture` for one where nothing falls due before its next change. A tick looks only at the cases due
    /// (`runSupervision`), not at every open case.
    var supervisionDueAt: [CaseID: Date] = [:]
    /// Encoded size of each case's events at a given event count, for byte-sized pages (`eventLogs`).
    var encodedSizes: [CaseID: (events: Int, bytes: Int)] = [:]
    /// The office's own supervision timer (`HotlineContext.supervisionInterval`), started once it serves.
    private var supervisionTimer: Task<Void, Never>?
    /// Cases with a current-round assignment still `sent` (`DistrictOffice+Delivery.swift`).
    var awaitingDelivery: Set<CaseID> = []
    /// Delivery attempts under way, by `WorkOrder.deliveryKey`.
    var deliveriesInFlight: Set<String> = []
    /// The courier's one timer: fires when the earliest delivery attempt is due (`scheduleDeliveries`).
    var deliveryTimer: Task<Void, Never>?
    var deliveryTimerAt: Date?

    public init(jurisdiction: String, context: HotlineContext) {
        self.jurisdiction = jurisdiction
        self.context = context
        self.actorSystem = context.system
        Task { [weak self] in await self?.whenLocal { $0.beginRecovery() } }
    }

    /// The replicated stream of `jurisdiction`'s events.
    public static func streamName(_ jurisdiction: String) -> String { "district/\(jurisdiction)" }

    var streamName: String { Self.streamName(jurisdiction) }

    /// Drops what the office holds and reads the stream again from its replicas; serves once it is read.
    private func beginRecovery() {
        guard phase != .released else { return }
        recovery?.cancel()
        if let old = stream { Task { await old.stop() } }
        clearCases()
        removeStaleArchives()
        phase = .recovering
        let set = context.replicaSet(for: streamName)
        let round = min(max(context.directory.assignments[HotlineKey.district(jurisdiction)]?.epoch ?? 1, lastRound + 1),
                        Replication.Ballot.maxRound)
        lastRound = round
        let sink: CaseArchive.Sink?
        do {
            let dir = try archiveDirectory()
            let prefix = archivePrefix
            sink = CaseArchive.Sink(path: { info in "\(dir)/\(prefix).\(info.index).\(UInt32.random(in: 0...UInt32.max)).archive" })
        } catch {
            actorSystem.logger.error("district.archive_directory_failed", ["jurisdiction": jurisdiction, "error": "\(error)"])
            sink = nil
        }
        recoverySink = sink
        let s = ReplicatedStream(stream: streamName, system: actorSystem, settings: context.replication, round: round,
                                 replicas: set.replicas, others: set.others, snapshotSink: sink)
        stream = s
        let started = ContinuousClock.now
        recovery = Task { [weak self] in
            do {
                let state = try await s.recoverState()
                let round = await s.ballot.round
                await self?.whenLocal { $0.recovered(state, stream: s, round: round, since: started) }
                await self?.whenLocal { await $0.compactIfDue() }
                // Serving until the stream ends: a newer owner fenced it (seen on any request, a heartbeat too) —
                // then the office stops answering from memory and recovers.
                let end = await s.terminated()
                await self?.whenLocal { $0.replicationFailed(end, stream: s) }
            } catch {
                await self?.whenLocal { $0.replicationFailed(error, stream: s) }
            }
        }
    }

    private func recovered(_ state: ReplicatedStream.Recovered, stream s: ReplicatedStream, round: UInt64, since: ContinuousClock.Instant) {
        guard stream === s, phase == .recovering else { return }
        var rejected = 0
        let payloads = state.payloads
        if state.snapshotInfo != nil {
            let taken = recoverySink?.take()
            if let taken, let file = taken.file {
                var index = taken.index
                archive = file
                lastSnapshotBytes = file.size
                archived = index.archived
                byIntakeKey = index.byIntakeKey
                childrenOf = index.childrenOf
                index.archived = [:]
                var counts: [CaseStatus: Int] = [:]
                for a in archived.values { counts[a.status, default: 0] += 1 }
                for (status, n) in counts { Self.gauge(status, context.system.metrics).increment(by: n) }
                for (id, bytes) in index.live {
                    guard let events = try? Wire.BinaryDecoder().decode([CaseEvent].self, from: bytes),
                          let log = try? CaseLog(replaying: events, settings: context.settings) else {
                        actorSystem.logger.error("district.archive_case_unreadable", ["jurisdiction": jurisdiction, "case": id.rawValue])
                        archiveErrors += 1
                        rejected += 1
                        continue
                    }
                    store(log)
                }
            } else {
                // Serving without the snapshot's cases would answer "unknown case" for acknowledged ones: recover again.
                recoverySink = nil
                actorSystem.logger.error("district.snapshot_unreadable", ["jurisdiction": jurisdiction,
                                                                         "error": "the stream recovered a snapshot the office holds no archive file of"])
                replicationFailed(Replication.Failure.notServing(stream: streamName, phase: "no archive file of the recovered snapshot"), stream: s)
                return
            }
        }
        recoverySink = nil
        appliedIndex = state.index
        bytesSinceSnapshot = payloads.reduce(0) { $0 + $1.count }
        // The entries after the snapshot, grouped by case (in order) so each case is rebuilt and stored once.
        var grouped: [CaseID: [[CaseEvent]]] = [:]
        var groupedBytes: [CaseID: [[UInt8]]] = [:]
        var order: [CaseID] = []
        let decoder = Wire.BinaryDecoder()
        for bytes in payloads {
            guard let events = try? decoder.decode([CaseEvent].self, from: bytes), let first = events.first else {
                rejected += 1
                continue
            }
            if grouped[first.caseID] == nil { order.append(first.caseID) }
            grouped[first.caseID, default: []].append(events)
            groupedBytes[first.caseID, default: []].append(bytes)
        }
        for id in order {
            let changes = grouped.removeValue(forKey: id) ?? []
            let chunks = groupedBytes.removeValue(forKey: id) ?? []
            var log: CaseLog
            var rest = changes[...]
            let held: CaseLog?
            do {
                held = try loadCase(id)
            } catch {
                // Its archived record is unreadable: serving now would answer with a case missing its past.
                replicationFailed(error, stream: s)
                return
            }
            if let held {
                log = held
            } else if let all = try? CaseLog(replaying: changes.flatMap { $0 }, settings: context.settings) {
                // New here and closed: kept as its encoded changes until the next snapshot.
                if CaseArchive.Header(all).live { store(all) } else { storeRecoveredClosed(all, chunks: chunks) }
                continue
            } else if let firstChange = rest.popFirst(), let opened = try? CaseLog(replaying: firstChange, settings: context.settings) {
                log = opened
            } else {
                rejected += changes.count
                continue
            }
            // A change the rules refuse is skipped whole, as when it was applied.
            for events in rest {
                var next = log
                do {
                    for e in events { try next.append(e) }
                    log = next
                } catch {
                    rejected += 1
                }
            }
            store(log)
        }
        lastRound = max(lastRound, round)
        phase = .serving
        startSupervisionTimer()
        scheduleDeliveries()
        actorSystem.logger.info("district.recovered", ["jurisdiction": jurisdiction, "cases": caseCount,
                                                       "archived": archived.count, "snapshot_bytes": lastSnapshotBytes,
                                                       "entries": payloads.count, "rejected": rejected,
                                                       "ms": Int((ContinuousClock.now - since) / .milliseconds(1))])
    }

    /// The archive file could not be read (`reloadArchive`): recover from the replicas, as after a failed stream.
    func archiveFailed(stream s: ReplicatedStream) {
        replicationFailed(HotlineError.unavailable("an archived case's record could not be read on this node"), stream: s)
    }

    private func replicationFailed(_ error: any Error, stream s: ReplicatedStream) {
        guard stream === s, phase != .released else { return }
        if case Replication.Failure.stopped = error { return }
        phase = .failed("\(error)")
        actorSystem.logger.warning("district.replication_failed", ["jurisdiction": jurisdiction, "error": "\(error)"])
        // Still placed here (the node releases the office when it moves): read the replicas again shortly, above
        // the ballot that fenced this one.
        if case Replication.Failure.fenced(_, let by) = error { lastRound = min(max(lastRound, by.round), Replication.Ballot.maxRound - 1) }
        recovery = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(500))
            guard !Task.isCancelled else { return }
            await self?.whenLocal { $0.beginRecovery() }
        }
    }

    /// Stops serving and replicating (the office moved away or the node stops).
    public func release() async {
        phase = .released
        supervisionTimer?.cancel()
        supervisionTimer = nil
        deliveryTimer?.cancel()
        deliveryTimer = nil
        recovery?.cancel()
        recovery = nil
        if let stream { await stream.stop() }
        stream = nil
        // What it held is its new owner's now: the cases leave this node's memory and its archive file the disk.
        clearCases()
        removeStaleArchives()
    }

    /// Where the office stands (`/hotline/info`, `/ready`).
    public func status() async -> DistrictOfficeStatus {
        let phaseName: String
        var detail: String?
        switch phase {
        case .recovering: phaseName = "recovering"; detail = await stream?.waitingFor
        case .serving: phaseName = "serving"
        case .failed(let why): phaseName = "failed"; detail = why
        case .released: phaseName = "released"
        }
        var ballot: String?
        if let stream { ballot = "\(await stream.ballot)" }
        return DistrictOfficeStatus(jurisdiction: jurisdiction, phase: phaseName, detail: detail, cases: caseCount,
                                    streamPhase: await stream?.phase, ballot: ballot,
                                    commitIndex: await stream?.commitIndex,
                                    replicas: (await stream?.replicas ?? []).map(\.description),
                                    snapshotIndex: await stream?.snapshotIndex, archivedCases: archived.count,
                                    liveCases: cases.count, entriesHeld: await stream?.heldEntries,
                                    archiveBytes: archive?.size)
    }

    /// The replica set changed (membership): tell the stream.
    public func membershipChanged() async {
        guard let stream else { return }
        let set = context.replicaSet(for: streamName)
        await stream.update(replicas: set.replicas, others: set.others)
    }

    /// Waits (up to `readyWait`) until the office serves.
    ///
    /// - Throws: `HotlineError.unavailable` naming the phase.
    func ready() async throws {
        let deadline = ContinuousClock.now + Self.readyWait
        // Bounded: 20 ms steps until the deadline.
        while phase != .serving {
            if phase == .released { throw HotlineError.unavailable("district office \(jurisdiction) moved away from this node") }
            guard ContinuousClock.now < deadline else {
                let detail: String
                switch phase {
                case .failed(let why): detail = "replication failed (\(why)); recovering again"
                default:
                    let waiting = await stream?.waitingFor
                    detail = "recovering its cases from the replicas (\(await stream?.phase ?? "starting")\(waiting.map { ": \($0)" } ?? ""))"
                }
                throw HotlineError.unavailable("district office \(jurisdiction): \(detail)")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Makes the events `log` gained since `count` durable on a write quorum, after storing `log` (other calls
    /// see it meanwhile). A failed replication fails the office, which recovers from the replicas.
    /// `encoded` is the encoding of those events when the caller has it already (`mutate`).
    ///
    /// - Throws: `HotlineError.unavailable`.
    func commit(_ log: CaseLog, after count: Int, encoded: [UInt8]? = nil) async throws {
        guard log.events.count > count else { return }
        store(log)
        let payload: [UInt8]
        do {
            payload = try encoded ?? Wire.BinaryEncoder().encode(Array(log.events[count...]))
        } catch {
            throw HotlineError.unavailable("district office \(jurisdiction): the change could not be encoded (\(error))")
        }
        noteEncodedSize(of: log, after: count, changeBytes: payload.count)
        try await replicate([payload])
        // Durable now: deliver what it dispatched to units' external systems.
        if awaitingDelivery.contains(log.id) { scheduleDeliveries() }
    }

    /// The case's encoded size follows from its size before and the change's: no re-encoding of its whole history
    /// at its next change (`encodedSize(of:_:)`).
    func noteEncodedSize(of log: CaseLog, after count: Int, changeBytes: Int) {
        if let known = encodedSizes[log.id], known.events == count {
            encodedSizes[log.id] = (log.events.count, Self.joinedArraySize(known.bytes, changeBytes))
        } else if count == 0 {
            encodedSizes[log.id] = (log.events.count, changeBytes)
        }
    }

    /// Appends `payloads` (each the new events of one case, already stored) to the stream, together — the stream
    /// batches them into one round trip to the replicas — and returns once all are durable on a write quorum.
    /// Keeps `appliedIndex` (the snapshot may be cut there only when no commit is in flight) and starts a
    /// compaction when enough changed. A failed replication fails the office, which recovers from the replicas.
    ///
    /// - Throws: `HotlineError.unavailable`.
    func replicate(_ payloads: [[UInt8]]) async throws {
        guard !payloads.isEmpty else { return }
        guard let stream else { throw HotlineError.unavailable("district office \(jurisdiction) has no stream") }
        commitsInFlight += 1
        do {
            var last: UInt64 = 0
            if payloads.count == 1 {
                last = try await stream.append(payloads[0])
            } else {
                last = try await withThrowingTaskGroup(of: UInt64.self) { group in
                    for payload in payloads { group.addTask { try await stream.append(payload) } }
                    var highest: UInt64 = 0
                    for try await index in group { highest = max(highest, index) }
                    return highest
                }
            }
            commitsInFlight -= 1
            if self.stream === stream {
                appliedIndex = max(appliedIndex, last)
                bytesSinceSnapshot += payloads.reduce(0) { $0 + $1.count }
                if commitsInFlight == 0 && bytesSinceSnapshot >= compactionThreshold && !compacting {
                    Task { [weak self] in await self?.whenLocal { await $0.compactIfDue() } }
                }
            }
        } catch {
            commitsInFlight -= 1
            replicationFailed(error, stream: stream)
            throw HotlineError.unavailable("district office \(jurisdiction): the change could not be replicated (\(error)); it is recovering")
        }
    }

    private func clearCases() {
        var counts: [CaseStatus: Int] = [:]
        for log in cases.values { counts[log.order.status, default: 0] += 1 }
        for a in archived.values { counts[a.status, default: 0] += 1 }
        for (status, n) in counts { Self.gauge(status, context.system.metrics).decrement(by: n) }
        cases = [:]
        archived = [:]
        archive = nil
        sortedIDs = nil
        appliedIndex = 0
        bytesSinceSnapshot = 0
        lastSnapshotBytes = 0
        supervisionDueAt = [:]
        awaitingDelivery = []
        encodedSizes = [:]
        byIntakeKey = [:]
        childrenOf = [:]
    }

    deinit {
        supervisionTimer?.cancel()
        deliveryTimer?.cancel()
        // The office moves away or the node stops: its cases no longer count on this node.
        var counts: [CaseStatus: Int] = [:]
        for log in cases.values { counts[log.order.status, default: 0] += 1 }
        for a in archived.values { counts[a.status, default: 0] += 1 }
        for (status, n) in counts { Self.gauge(status, context.system.metrics).decrement(by: n) }
    }

    /// `hotline_cases_<status>`: cases per status held by the district offices of this node.
    static func gauge(_ status: CaseStatus, _ metrics: Metrics) -> Gauge {
        metrics.gauge("hotline_cases_\(status.rawValue)", help: "Cases in status \(status.rawValue) held by this node's district offices.")
    }

    /// Opens a case: `drafted`, then `accepted` with its classification, then — P0: transferred to the
    /// emergency service; P1 livelihood: duty room alerted; otherwise — queued for its dispatch group, and
    /// dispatched at once when the request carries the group's order.
    /// Idempotent per case id (a repeated open returns the existing case unchanged).
    ///
    /// - Throws: `HotlineError.ruleViolation` or `.routing`.
    public distributed func openCase(_ request: OpenCase) async throws -> CaseSnapshot {
        try Self.mayAct(as: request.author)
        if let author = request.dispatchedBy { try Self.mayAct(as: author) }
        let key = request.intake.intakeKey
        if let key { await holdIntakeKey(key) }
        defer { if let key { releaseIntakeKey(key) } }
        // Ready after the key is held: an earlier holder's failed commit may have sent the office recovering.
        try await ready()
        if let existing = try loadCase(request.id) { return CaseSnapshot(existing) }
        if let key, let id = byIntakeKey[key], let existing = try loadCase(id) {
            return CaseSnapshot(existing)
        }
        if let target = request.mergeInto, let merged = try await openMerged(request, into: target) { return merged }
        var log = try opened(request)
        if let order = request.dispatch, log.order.status == .pendingDispatch {
            do {
                try dispatch(&log, order: order, by: request.dispatchedBy ?? request.author, now: context.now)
            } catch let e as CaseRuleViolation {
                throw HotlineError.ruleViolation("\(e)")
            }
        }
        try await commit(log, after: 0)
        return CaseSnapshot(log)
    }

    private func opened(_ request: OpenCase) throws -> CaseLog {
        let now = context.now
        do {
            var log = try CaseLog(id: request.id, number: request.number, intake: request.intake, at: now,
                                  by: request.author, settings: context.settings)
            if let proposal = request.proposal {
                try log.record(.classificationProposed(proposal: proposal), at: now, by: request.author)
            }
            try log.record(.accepted(classification: request.classification), at: now, by: request.author)
            if request.classification.urgency == .p0 {
                try log.record(.transferredToEmergency(service: request.emergencyService ?? .police,
                                                       note: "P0 at intake"), at: now, by: request.author)
            } else {
                if log.order.needsDutyRoomAlert {
                    let room = try context.catalogue.dutyRoom(for: request.classification.jurisdiction)
                    try log.record(.dutyRoomAlerted(dutyRoom: room, note: "P1 livelihood: \(request.classification.category)"),
                                   at: now, by: .system(component: "shift-leader"))
                } else if let proposal = request.proposal, proposal.isEmergency {
                    let room = try context.catalogue.dutyRoom(for: request.classification.jurisdiction)
                    try log.record(.dutyRoomAlerted(dutyRoom: room, note: "emergency words: \(proposal.evidence.urgency.joined(separator: ", "))"),
                                   at: now, by: .system(component: "shift-leader"))
                }
                let group = request.queueGroup
                    ?? context.catalogue.dispatchGroup(owning: request.classification.jurisdiction)?.code ?? ""
                try log.record(.queuedForDispatch(group: group), at: now, by: request.author)
            }
            return log
        } catch let e as CaseRuleViolation {
            throw HotlineError.ruleViolation("\(e)")
        } catch let e as RoutingError {
            throw HotlineError.routing("\(e)")
        }
    }

    /// Opens a case that waits in a dispatch group's classification queue (see `OpenAwaitingClassification`).
    /// Idempotent per case id and per channel + external id (returns the case it holds).
    ///
    /// - Throws: `HotlineError.ruleViolation`.
    public distributed func openAwaitingClassification(_ request: OpenAwaitingClassification) async throws -> CaseSnapshot {
        try Self.mayAct(as: request.author)
        let key = request.intake.intakeKey
        if let key { await holdIntakeKey(key) }
        defer { if let key { releaseIntakeKey(key) } }
        // Ready after the key is held: an earlier holder's failed commit may have sent the office recovering.
        try await ready()
        if let existing = try loadCase(request.id) { return CaseSnapshot(existing) }
        if let key, let id = byIntakeKey[key], let existing = try loadCase(id) {
            return CaseSnapshot(existing)
        }
        let now = context.now
        var log: CaseLog
        do {
            log = try CaseLog(id: request.id, number: request.number, intake: request.intake, at: now,
                              by: request.author, settings: context.settings)
            try log.record(.classificationProposed(proposal: request.proposal), at: now, by: request.author)
            if let room = request.dutyRoom {
                try log.record(.dutyRoomAlerted(dutyRoom: room, note: "emergency words: \(request.proposal.evidence.urgency.joined(separator: ", ")); classification pending"),
                               at: now, by: .system(component: "shift-leader"))
            }
            try log.record(.queuedForClassification(group: request.group), at: now, by: request.author)
        } catch {
            // Every throw above is a `CaseRuleViolation` (typed throws).
            throw HotlineError.ruleViolation("\(error)")
        }
        try await commit(log, after: 0)
        return CaseSnapshot(log)
    }

    /// The cases of this office waiting in dispatch group `group`'s classification queue, oldest first.
    public distributed func awaitingClassification(group: String) async throws -> [ClassificationQueueEntry] {
        try await ready()
        return cases.values.filter { $0.order.isAwaitingClassification && $0.order.classificationQueue == group }
            .compactMap { log -> ClassificationQueueEntry? in
                let o = log.order
                guard let proposal = o.classificationProposal, let at = o.classificationQueuedAt else { return nil }
                let summary = ((o.intake.subject.map { $0 + " — " } ?? "") + o.intake.description
                    .trimmingCharacters(in: .whitespacesAndNewlines)).prefix(200)
                return ClassificationQueueEntry(ref: CaseRef(id: o.id, number: o.number, jurisdiction: jurisdiction),
                                                proposal: proposal, queuedAt: at, summary: String(summary),
                                                dutyRoomAlerted: !o.dutyRoomAlerts.isEmpty)
            }
            .sorted { ($0.queuedAt, $0.ref.number.description) < ($1.queuedAt, $1.ref.number.description) }
    }

    /// The case's projection (for a dispatcher's review).
    ///
    /// - Throws: `HotlineError.unknownCase`.
    public distributed func workOrder(_ id: CaseID) async throws -> WorkOrder {
        try await ready()
        guard let log = try loadCase(id) else { throw HotlineError.unknownCase(id.rawValue) }
        return log.order
    }

    /// Records `dispatched(order)` and the delivery of every assignment of the new round whose unit's channel is
    /// the platform's inbox (delivered when the office holds the case); assignments of units with an external
    /// system stay `sent` and are POSTed there once the change is durable (`DistrictOffice+Delivery.swift`).
    ///
    /// - Throws: `HotlineError.unknownCase` or `.ruleViolation`.
    public distributed func dispatch(_ id: CaseID, order: DispatchOrder, by author: EventAuthor) async throws -> CaseSnapshot {
        try Self.mayAct(as: author)
        try await mutate(id) { log, now in try dispatch(&log, order: order, by: author, now: now) }
        return try await snapshot(id)
    }

    private func dispatch(_ log: inout CaseLog, order: DispatchOrder, by author: EventAuthor, now: Date) throws {
        try log.record(.dispatched(order: order), at: now, by: author)
        try deliverCurrentRound(&log, now: now)
    }

    /// Records the delivery of every assignment of the current round still `sent` whose unit's channel is the
    /// platform's inbox; the others wait for the courier.
    private func deliverCurrentRound(_ log: inout CaseLog, now: Date) throws {
        let round = log.order.currentRound
        for a in log.order.assignments where a.round == round && a.status == .sent
            && !context.catalogue.deliveryChannel(of: a.unit).isExternal {
            try log.record(.assignmentDelivered(assignment: a.id), at: now, by: Self.courier)
        }
    }

    /// Records `bodies` in order as one change: if one of the first `required` is refused, nothing is
    /// recorded and the refusal is thrown; later ones are attempted and skipped when a rule refuses them.
    /// A plan refused because this author's latest events already are that plan (a retry after a lost answer)
    /// changes nothing and answers the case as it is. Returns the case afterwards.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation`, or `.notPermitted` (author `.system` from a remote caller that is not an operator).
    public distributed func recordAll(_ id: CaseID, _ bodies: [CaseEventBody], required: Int,
                                      by author: EventAuthor) async throws -> CaseSnapshot {
        try Self.mayAct(as: author)
        try await mutate(id) { log, now in
            for (i, body) in bodies.enumerated() {
                if i < required {
                    do {
                        try log.record(body, at: now, by: author)
                    } catch let violation as CaseRuleViolation where i == 0 {
                        // A retry of a plan that was recorded although its answer was lost (a call timed out, or
                        // the office moved after the write quorum held it): the rules refuse it now, and this
                        // author's latest events are the plan — answer the case as it is, so a retried step is
                        // applied once (as `record` does). Seen in ReplayTests under load: a callback retried
                        // after its case had closed was a refused step.
                        guard Self.endsWith(plan: bodies, required: required, by: author, in: log) else { throw violation }
                        return
                    }
                } else {
                    _ = try? log.record(body, at: now, by: author)
                }
            }
        }
        return try await snapshot(id)
    }

    /// Whether `author`'s latest events in `log` are `plan`'s first k bodies, for some k from `required` (at least
    /// 1) to all of them: the plan was recorded already.
    static func endsWith(plan: [CaseEventBody], required: Int, by author: EventAuthor, in log: CaseLog) -> Bool {
        let mine = log.events.filter { $0.author == author }.map(\.body)
        for k in stride(from: plan.count, through: max(1, required), by: -1) where mine.count >= k {
            if Array(mine.suffix(k)) == Array(plan.prefix(k)) { return true }
        }
        return false
    }

    /// Records one event by `author` at the node's current time. Returns the stored event. A change the rules
    /// refuse that repeats `author`'s latest event exactly (a retry after a lost answer) returns that event.
    ///
    /// - Throws: `HotlineError.unknownCase` or `.ruleViolation` (nothing recorded), or `.notPermitted` (author `.system` from a remote caller that is not an operator).
    public distributed func record(_ id: CaseID, _ body: CaseEventBody, by author: EventAuthor) async throws -> CaseEvent {
        try Self.mayAct(as: author)
        var recorded: CaseEvent?
        try await mutate(id) { log, now in
            do {
                recorded = try log.record(body, at: now, by: author)
            } catch let violation as CaseRuleViolation {
                // A retry of a change that was recorded although its answer was lost (the office moved or was
                // fenced after the write quorum held it): the rules refuse it now, and it is exactly this author's
                // latest event — answer that event instead of a violation, so a retried step is applied once.
                guard let latest = log.events.last(where: { $0.author == author }), latest.body == body else { throw violation }
                recorded = latest
            }
        }
        guard let recorded else { throw HotlineError.unknownCase(id.rawValue) }
        return recorded
    }

    /// A department acts on its assignment of the current round (`unit` nil = the lead unit).
    ///
    /// - Throws: `HotlineError.unknownCase`, `.invalidRequest` (no assignment for that unit) or
    ///   `.ruleViolation`.
    public distributed func unitAct(_ id: CaseID, unit: String?, _ action: UnitAction) async throws -> CaseEvent {
        try await ready()
        guard let log = try loadCase(id) else { throw HotlineError.unknownCase(id.rawValue) }
        let round = log.order.currentRound
        let assignment: Assignment?
        if let unit {
            assignment = log.order.assignments.last { $0.round == round && $0.unit == unit }
        } else {
            assignment = log.order.leadAssignment
        }
        guard let assignment else {
            throw HotlineError.invalidRequest("case \(log.order.number) has no current assignment for \(unit ?? "the lead unit")")
        }
        let body: CaseEventBody
        switch action {
        case .sign: body = .assignmentSigned(assignment: assignment.id)
        case .progress(let note): body = .progressReported(assignment: assignment.id, note: note)
        case .returnCase(let reason): body = .returnRequested(assignment: assignment.id, reason: reason)
        case .requestExtension(let extra, let reason):
            body = .extensionRequested(assignment: assignment.id, extra: extra, reason: reason)
        case .reply(let text): body = .unitReplied(assignment: assignment.id, text: text)
        }
        return try await record(id, body, by: .unit(code: assignment.unit))
    }

    /// Status, number and event count of one case. Throws `HotlineError.unknownCase`.
    public distributed func snapshot(_ id: CaseID) async throws -> CaseSnapshot {
        try await ready()
        guard let log = try loadCase(id) else { throw HotlineError.unknownCase(id.rawValue) }
        return CaseSnapshot(log)
    }

    /// The whole event history of one case, in sequence order. Throws `HotlineError.unknownCase`.
    public distributed func events(of id: CaseID) async throws -> [CaseEvent] {
        try await ready()
        guard let log = try loadCase(id) else { throw HotlineError.unknownCase(id.rawValue) }
        return log.events
    }

    /// Finds a case by its human number (nil when this office does not hold it).
    public distributed func find(number: CaseNumber) async throws -> CaseSnapshot? {
        try await ready()
        return try caseLog(number: number).map(CaseSnapshot.init)
    }

    /// Ids of up to `limit` cases (1…`maxIDsPerPage`) whose ids sort after `after`, in id order; an empty
    /// page means the end. Case ids are intake-made UUID strings (36 bytes), so a full page is ~0.5 MB.
    public distributed func caseIDs(after: CaseID?, limit: Int) async throws -> [CaseID] {
        try await ready()
        let ids = allIDsSorted()
        let start = after.map { a in ids.firstIndexAbove(a) } ?? 0
        return Array(ids[start...].prefix(max(1, min(limit, Self.maxIDsPerPage))))
    }

    /// Upper bound of `caseIDs(after:limit:)`'s page.
    public static let maxIDsPerPage = 10_000

    /// Event logs of cases whose ids sort after `after`, in id order, filling at most `maxBytes` of encoded
    /// events (clamped to 1 KiB … a quarter of this node's frame limit) — pages are sized by bytes, not case
    /// counts, so cases with the largest legal texts still fit a reply. A page holds at least one case (a
    /// single case larger than a frame fails the call with `RemoteCallError.frameTooLarge`); an empty page
    /// means the end.
    public distributed func eventLogs(after: CaseID?, maxBytes: Int) async throws -> [[CaseEvent]] {
        try await ready()
        let budget = max(1 << 10, min(maxBytes, actorSystem.settings.transport.maxFrameBytes / 4))
        var page: [[CaseEvent]] = []
        var used = 0
        let ids = allIDsSorted()
        let start = after.map { a in ids.firstIndexAbove(a) } ?? 0
        for id in ids[start...] {
            let size: Int
            if let log = cases[id] { size = encodedSize(of: id, log.events) } else if let a = archived[id] { size = a.eventBytes } else { continue }
            if !page.isEmpty && used + size > budget { break }
            guard let events = try cases[id]?.events ?? loadCase(id)?.events else { continue }
            page.append(events)
            used += size
        }
        return page
    }

    /// Most bytes of encoded events one case may hold: half this node's frame limit (4 MiB by default), so a case's
    /// whole history always fits one reply. A change that would pass it is refused (`ruleViolation`).
    var maxCaseBytes: Int { actorSystem.settings.transport.maxFrameBytes / 2 }

    /// Encoded bytes of one array `a + b` from the encoded bytes of arrays `a` and `b`: an array is one slot
    /// (a varint header `body + 1`, then the body), its body the elements' slots one after the other.
    static func joinedArraySize(_ a: Int, _ b: Int) -> Int {
        let body = arrayBody(a) + arrayBody(b)
        return body + varintLength(body + 1)
    }

    /// The body bytes of a slot of `total` bytes.
    private static func arrayBody(_ total: Int) -> Int {
        for header in 1...10 where varintLength(total - header + 1) == header { return total - header }
        return total - 1
    }

    private static func varintLength(_ v: Int) -> Int {
        var n = 1, v = UInt64(max(0, v))
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    /// Encoded bytes of a case's events, remembered per event count (a case's log only grows).
    func encodedSize(of id: CaseID, _ events: [CaseEvent]) -> Int {
        if let known = encodedSizes[id], known.events == events.count { return known.bytes }
        let bytes = (try? Wire.BinaryEncoder().encode(events).count) ?? Int.max / 4
        encodedSizes[id] = (events.count, bytes)
        return bytes
    }

    /// The highest case serial this office holds (0 when it holds none): an intake desk that starts — or
    /// moved here from a node that died — numbers new cases above every number still held.
    public distributed func highestSerial() async throws -> Int {
        try await ready()
        return max(cases.values.map(\.order.number.serial).max() ?? 0, archived.values.map(\.number.serial).max() ?? 0)
    }

    /// Case count per status name.
    public distributed func statusCounts() async throws -> [String: Int] {
        try await ready()
        var counts: [String: Int] = [:]
        for log in cases.values { counts[log.order.status.rawValue, default: 0] += 1 }
        for a in archived.values { counts[a.status.rawValue, default: 0] += 1 }
        return counts
    }

    /// Records every automatic reminder and supervision escalation due now on open cases
    /// (`WorkOrder.supervisionDue`): each fires once per assignment (and level), so running it again — from the
    /// office's own timer, a replay's tick, or a new owner after the office moved — records nothing twice.
    /// Returns how many were recorded.
    ///
    /// - Throws: `HotlineError.unavailable` (recovering, or a change could not be replicated).
    public distributed func runSupervision() async throws -> Int {
        try await ready()
        let now = context.now
        var fired = 0
        // Every case's changes are recorded and kept before the first suspension (no other step can interleave
        // with a case between reading and storing it), then replicated together: the stream batches them into
        // one round trip to the replicas instead of one per case.
        var changed: [(log: CaseLog, count: Int)] = []
        var payloads: [[UInt8]] = []
        // Only the cases due now or changed since the last look (`supervisionDueAt`); each learns when it is next due.
        var nextDue: [(CaseID, Date?)] = []
        for id in supervisionDueAt.compactMap({ $0.value <= now ? $0.key : nil }).sorted() {
            guard var log = cases[id] else { continue }
            let count = log.events.count
            for body in log.order.supervisionDue(at: now, settings: context.settings) {
                if (try? log.record(body, at: now, by: .system(component: "supervisor"))) != nil {
                    fired += 1
                }
            }
            nextDue.append((id, log.order.nextSupervisionDue(settings: context.settings)))
            guard log.events.count > count else { continue }
            changed.append((log, count))
            payloads.append(try Wire.BinaryEncoder().encode(Array(log.events[count...])))
        }
        for (i, (log, count)) in changed.enumerated() {
            store(log)
            noteEncodedSize(of: log, after: count, changeBytes: payloads[i].count)
        }
        // After `store`, which marks a changed case as changed: what supervision just computed for it is current.
        for (id, next) in nextDue where supervisionDueAt[id] != nil { supervisionDueAt[id] = next ?? .distantFuture }
        try await replicate(payloads)
        // The courier's timer is the one that delivers; supervision's tick only makes sure one is set.
        scheduleDeliveries()
        return fired
    }

    /// Runs `runSupervision` every `HotlineContext.supervisionInterval` while the office serves (a tick that
    /// fails — replication lost, recovering — is logged and the next one tries again).
    private func startSupervisionTimer() {
        guard supervisionTimer == nil, let interval = context.supervisionInterval, interval > .zero else { return }
        let code = jurisdiction
        supervisionTimer = Task { [weak self] in
            // Bounded: ends when the office is released or deallocated (the task is cancelled).
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let self else { return }
                let outcome: Result<Int, any Error>? = await self.whenLocal { office in
                    guard office.phase == .serving else { return nil }
                    do { return .success(try await office.runSupervision()) } catch { return .failure(error) }
                } ?? nil
                switch outcome {
                case .success(let n)? where n > 0:
                    self.actorSystem.logger.info("district.supervision", ["jurisdiction": code, "recorded": n])
                case .failure(let error)?:
                    self.actorSystem.logger.warning("district.supervision_failed", ["jurisdiction": code, "error": "\(error)"])
                default:
                    break
                }
            }
        }
    }

    /// The lines of this office's cases in worklist `query`, judged at the office's clock, in case-number order.
    public distributed func worklist(_ query: WorklistQuery) async throws -> [WorklistEntry] {
        try await ready()
        let now = context.now
        let code = jurisdiction
        var logs = Array(cases.values)
        // Archived cases are closed or terminal (no delivery awaited): they appear only in `.cases` lists that ask
        // for their status or for every status, and are read from the archive for the answer.
        if case .cases(let wanted, _) = query {
            for (id, a) in archived where wanted == nil || wanted == a.status {
                if let log = try loadCase(id) { logs.append(log) }
            }
        }
        return logs.flatMap { $0.order.worklistEntries(for: query, at: now, office: code) }
            .sorted { $0.number.description < $1.number.description }
    }

    /// Records an arbitration ruling on a second return — `arbitrated(order, note)`, a binding dispatch round —
    /// and the delivery of the round's assignments, as one change. Returns the case afterwards.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (no second return pending, ...; nothing recorded).
    public distributed func arbitrate(_ id: CaseID, order: DispatchOrder, note: String, by author: EventAuthor) async throws -> CaseSnapshot {
        try Self.mayAct(as: author)
        try await mutate(id) { log, now in
            try log.record(.arbitrated(order: order, note: note), at: now, by: author)
            try deliverCurrentRound(&log, now: now)
        }
        return try await snapshot(id)
    }

    /// What follows a change, by the domain's rules: a case the change reopened is queued and dispatched again
    /// (`WorkOrder.redispatchAfterReopen`) when the node is configured so.
    private func followUp(_ log: inout CaseLog, now: Date) throws {
        guard context.redispatchReopened, let next = log.order.redispatchAfterReopen else { return }
        let by = RoutingGroup.author(group: next.group)
        try log.record(.queuedForDispatch(group: next.group), at: now, by: by)
        try dispatch(&log, order: next.order, by: by, now: now)
    }

    /// Events authored by the `system` are the node's own (supervision, delivery, duty-room alerts): a remote
    /// caller may author them only when it proved the operator secret — whichever function it calls.
    ///
    /// - Throws: `HotlineError.notPermitted`.
    static func mayAct(as author: EventAuthor) throws {
        if case .system = author, !ClusterSystem.callerIsLocalOrOperator {
            throw HotlineError.notPermitted("acting as the system (\(author)) is reserved for operators")
        }
    }

    func mutate(_ id: CaseID, _ change: (inout CaseLog, Date) throws -> Void) async throws {
        try await ready()
        guard var log = try loadCase(id) else { throw HotlineError.unknownCase(id.rawValue) }
        let original = log
        let count = log.events.count
        do {
            let now = context.now
            try change(&log, now)
            try followUp(&log, now: now)
        } catch let e as CaseRuleViolation {
            throw HotlineError.ruleViolation("case \(log.order.number): \(e)")
        }
        // Bounded: a case's whole history must fit one reply frame (`hotline case` from any node, failover).
        let limit = maxCaseBytes
        let before = encodedSize(of: id, original.events)
        let encoded = try? Wire.BinaryEncoder().encode(Array(log.events[count...]))
        let added = encoded?.count ?? Int.max / 4
        guard before + added <= limit else {
            throw HotlineError.ruleViolation("case \(log.order.number): the change would take its history to \(before + added) bytes, over the limit of \(limit) bytes (half a frame)")
        }
        try await commit(log, after: count, encoded: encoded)
        await followLead(id)
    }

    /// Returns once no other intake step holds `key`, and holds it (`releaseIntakeKey` in a `defer`). Waiters are
    /// woken one round at a time and check again (bounded: every holder releases when its step ends, thrown or not).
    func holdIntakeKey(_ key: IntakeKey) async {
        while intakeKeysInUse[key] != nil {
            await withCheckedContinuation { intakeKeysInUse[key, default: []].append($0) }
        }
        intakeKeysInUse[key] = []
    }

    /// Lets the next intake step for `key` run.
    func releaseIntakeKey(_ key: IntakeKey) {
        let waiting = intakeKeysInUse.removeValue(forKey: key) ?? []
        for w in waiting { w.resume() }
    }

    private func store(_ log: CaseLog) {
        let before = cases[log.id]?.order.status ?? archived.removeValue(forKey: log.id)?.status
        if before == nil { sortedIDs = nil }
        if before != log.order.status {
            let metrics = context.system.metrics
            if let before { Self.gauge(before, metrics).decrement() }
            Self.gauge(log.order.status, metrics).increment()
        }
        cases[log.id] = log
        if let key = log.order.intake.intakeKey { byIntakeKey[key] = log.id }
        // A contact linked to the case answers its retries with this case too.
        for contact in log.order.repeatContacts { if let key = contact.intakeKey { byIntakeKey[key] = log.id } }
        if let parent = log.order.mergedInto { childrenOf[parent, default: []].insert(log.id) }
        // Changed: supervision looks at it again at its next tick (and then learns when it is next due).
        supervisionDueAt[log.id] = log.order.status.isOpen ? .distantPast : nil
        if log.order.assignmentsAwaitingDelivery.isEmpty { awaitingDelivery.remove(log.id) } else { awaitingDelivery.insert(log.id) }
    }
}

/// A district office as its node reports it.
public struct DistrictOfficeStatus: Codable, Sendable, Hashable {
    public var jurisdiction: String
    /// `recovering` (reading its stream from the replicas), `serving`, `failed` (replication failed; it recovers
    /// again shortly) or `released`.
    public var phase: String
    /// Why it failed.
    public var detail: String?
    public var cases: Int
    /// The stream owner's phase: `preparing`, `fetching`, `catchingUp`, `serving`, `fenced`, `stopped`.
    public var streamPhase: String?
    public var ballot: String?
    public var commitIndex: UInt64?
    /// The members that hold the office's replicas now.
    public var replicas: [String]
    /// The index the stream's snapshot covers (nil or 0: none).
    public var snapshotIndex: UInt64?
    /// Closed cases held only as index entries (their events in the archive file), and cases held decoded.
    public var archivedCases: Int?
    public var liveCases: Int?
    /// Entries the stream owner holds in memory (those after its snapshot).
    public var entriesHeld: Int?
    /// Size of the office's archive file (its copy of the snapshot), in bytes.
    public var archiveBytes: Int?
}

/// What a department can do on its assignment.
public enum UnitAction: Codable, Sendable, Hashable {
    case sign
    case progress(note: String)
    case returnCase(reason: String)
    case requestExtension(extra: SLALimit, reason: String)
    case reply(text: String)
}

/// Everything needed to open a case at its district office.
public struct OpenCase: Codable, Sendable {
    public var id: CaseID
    public var number: CaseNumber
    public var intake: IntakeRecord
    public var classification: Classification
    public var author: EventAuthor
    /// For P0: which emergency service takes it (default police/110).
    public var emergencyService: EmergencyService?
    /// The dispatch group's order, when it routed the case before it was opened: the office then records
    /// the dispatch and the deliveries in the same change (one round trip for intake).
    public var dispatch: DispatchOrder?
    public var dispatchedBy: EventAuthor?
    /// The dispatch group the case is queued for (the catalogue rule's group); nil: the jurisdiction's owner.
    public var queueGroup: String?
    /// Intake classifier's proposal, when the request came without category or jurisdiction and the proposal
    /// reached the threshold: recorded before `accepted` (classified automatically).
    public var proposal: ClassificationProposal?
    /// Merge the new case under this lead (another caller about the same matter, `IntakeMatcher`): `drafted`,
    /// `accepted`, `mergedInto` instead of the duty-room alert and dispatch; nil: a case of its own.
    public var mergeInto: MergeTarget?

    public init(id: CaseID, number: CaseNumber, intake: IntakeRecord, classification: Classification,
                author: EventAuthor, emergencyService: EmergencyService? = nil) {
        self.id = id
        self.number = number
        self.intake = intake
        self.classification = classification
        self.author = author
        self.emergencyService = emergencyService
    }
}

/// Everything needed to open a case that waits in a dispatch group's classification queue: `drafted`,
/// `classificationProposed`, the duty-room alert for an emergency proposal, `queuedForClassification`.
public struct OpenAwaitingClassification: Codable, Sendable {
    public var id: CaseID
    public var number: CaseNumber
    public var intake: IntakeRecord
    public var proposal: ClassificationProposal
    /// The district office that holds the case (the proposed jurisdiction, else the catalogue's holding one).
    /// A dispatcher's correction changes the case's route, not where its log is kept.
    public var holdingJurisdiction: String
    /// The dispatch group whose classification queue takes the case (the owner of `holdingJurisdiction`).
    public var group: String
    /// The duty room alerted at once for an emergency proposal; nil: none.
    public var dutyRoom: String?
    public var author: EventAuthor
}

/// A case in a dispatch group's classification queue, as the dispatcher sees it.
public struct ClassificationQueueEntry: Codable, Sendable, Hashable {
    public var ref: CaseRef
    public var proposal: ClassificationProposal
    public var queuedAt: Date
    /// The subject (if any) and the first 200 characters of the description.
    public var summary: String
    public var dutyRoomAlerted: Bool
}

/// A compact view of a case for callers.
public struct CaseSnapshot: Codable, Sendable, Hashable {
    public var id: CaseID
    public var number: CaseNumber
    public var status: CaseStatus
    public var jurisdiction: String?
    public var leadUnit: String?
    public var eventCount: Int
    public var lastSequence: UInt64
    /// "k of n delivered" for the current round, with the units still waiting and the failed attempts (each
    /// alerted); nil before the first dispatch.
    public var delivery: DeliveryProgress?

    public init(_ log: CaseLog) {
        id = log.order.id
        number = log.order.number
        status = log.order.status
        jurisdiction = log.order.classification?.jurisdiction
        leadUnit = log.order.leadAssignment?.unit
        eventCount = log.events.count
        lastSequence = log.order.lastSequence
        delivery = log.order.currentRound > 0 ? log.order.deliveryProgress : nil
    }
}
