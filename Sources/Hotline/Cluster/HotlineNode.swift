import ActorCluster
import Distributed
import Foundation

/// What a node is told when the cluster is set up: the catalogue, workflow settings and — for replays — a
/// virtual start time (the driver then owns time and moves it with `setClock`). Where each actor lives is not
/// part of it: every node places the singletons itself from membership and roles (`HotlinePlacement`).
public struct HotlineConfiguration: Codable, Sendable {
    public var catalogue: RoutingCatalogue
    public var settings: WorkflowSettings
    /// nil: the node runs on the system clock.
    public var virtualStart: Date?
    /// Whether a reopened case is dispatched again at once by its office (`HotlineContext.redispatchReopened`);
    /// nil: yes. The replay driver says no (its traces have no second round).
    public var redispatchReopened: Bool?

    public init(catalogue: RoutingCatalogue, settings: WorkflowSettings, virtualStart: Date?) {
        self.catalogue = catalogue
        self.settings = settings
        self.virtualStart = virtualStart
    }
}

/// A case and its events, as `hotline case` prints it.
public struct CaseHistory: Codable, Sendable {
    public var snapshot: CaseSnapshot
    public var events: [CaseEvent]
}

/// What `HotlineNode.info()` reports.
public struct HotlineNodeInfo: Codable, Sendable {
    public var roles: HotlineRoles
    public var configured: Bool
    public var now: Date
    public var virtualTime: Bool
    public var hostedPaths: [String]
    /// This node's membership status (`up` for a node without membership).
    public var memberStatus: String
    /// Members this node lists as up, itself included.
    public var membersUp: Int
    /// This node's side holds the majority of the last agreed members.
    public var hasQuorum: Bool
    /// The district offices hosted here and where each stands (a recovering office does not serve yet).
    public var offices: [DistrictOfficeStatus]?
}

/// The hotline's per-node control actor (`/hotline/node`): once configured, it hosts the singletons placement
/// gives this node — following membership, so that when a node dies its offices and groups are hosted
/// elsewhere, and return home once it is back and settled — and moves the node's virtual clock during a replay.
public distributed actor HotlineNode {
    public typealias ActorSystem = ClusterSystem

    private let roles: HotlineRoles
    var context: HotlineContext?
    /// This node's intake queue (requests taken while the case cannot be opened; `IntakeQueue`).
    private var queue: IntakeQueue?
    private var virtualClock: VirtualClock?
    private var placement: Placement?
    /// Singletons hosted here, by placement key.
    private var hosted: [String: any DistributedActor] = [:]
    private var watcher: Task<Void, Never>?
    private var settleTimer: Task<Void, Never>?
    private static let monotonicBase = ContinuousClock.now
    /// How often each district office hosted here runs supervision on its own; nil: never.
    private let supervisionInterval: Duration?
    /// How the offices hosted here deliver to units' external systems.
    private let delivery: DeliverySettings
    /// `HotlineContext.snapshotMinBytes` and `.archiveDirectory` for the offices hosted here.
    private let snapshotMinBytes: Int
    private let archiveDirectory: String?

    public init(roles: HotlineRoles, actorSystem: ClusterSystem, supervisionInterval: Duration? = nil,
                delivery: DeliverySettings = DeliverySettings(), snapshotMinBytes: Int = 8 << 20, archiveDirectory: String? = nil) {
        self.snapshotMinBytes = snapshotMinBytes
        self.archiveDirectory = archiveDirectory
        self.roles = roles
        self.actorSystem = actorSystem
        self.supervisionInterval = supervisionInterval
        self.delivery = delivery
    }

    deinit {
        watcher?.cancel()
        settleTimer?.cancel()
    }

    /// Creates the node actor at its well-known path and reserves the control functions for operators
    /// (`operatorOnlyFunctions`).
    ///
    /// - Parameter supervisionInterval: how often each district office hosted here runs its supervision on its
    ///   own timer (reminders, overdue escalations; idempotent); nil: never.
    /// - Parameter delivery: retry backoff and timeout of deliveries to units' external systems.
    /// - Parameter snapshotMinBytes: bytes of changes after which a district office hosted here snapshots its
    ///   cases into its stream (`HotlineContext.snapshotMinBytes`).
    /// - Parameter archiveDirectory: where those offices keep their archive files (`HotlineContext.archiveDirectory`).
    public static func start(on system: ClusterSystem, roles: HotlineRoles, supervisionInterval: Duration? = nil,
                             delivery: DeliverySettings = DeliverySettings(), snapshotMinBytes: Int = 8 << 20,
                             archiveDirectory: String? = nil) throws -> HotlineNode {
        system.restrictToOperators(operatorOnlyFunctions)
        return try system.makeWellKnown(path: HotlinePaths.node) {
            HotlineNode(roles: roles, actorSystem: system, supervisionInterval: supervisionInterval, delivery: delivery,
                        snapshotMinBytes: snapshotMinBytes, archiveDirectory: archiveDirectory)
        }
    }

    /// Functions only an operator may call from another process (a caller that proved the operator secret,
    /// `hotline node --operator-secret-file`): they reshape or re-time the whole node, so no member — a peer
    /// node on another version, or one that misbehaves — may call them. Recording events as the `system`
    /// author is reserved the same way, inside `DistrictOffice.record`.
    /// - `configure`: the catalogue, settings and clock the node's workflow actors run with.
    /// - `setClock`: moves the node's virtual clock (replays); every SLA deadline reads it.
    public static let operatorOnlyFunctions = ["Hotline.HotlineNode.configure", "Hotline.HotlineNode.setClock"]

    /// The node actor on `node`.
    public static func on(_ node: NodeIdentity, system: ClusterSystem) throws -> HotlineNode {
        try HotlineNode.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.node, on: node), using: system)
    }

    /// Configures the node and starts hosting what placement gives it (now and whenever membership changes).
    /// Returns the paths hosted right away.
    ///
    /// - Throws: `HotlineError.notConfigured` when already configured.
    public distributed func configure(_ configuration: HotlineConfiguration) throws -> [String] {
        guard context == nil else { throw HotlineError.notConfigured("node is already configured") }
        let system = actorSystem
        let clock: any HotlineClock
        if let start = configuration.virtualStart {
            let v = VirtualClock(start: start)
            virtualClock = v
            clock = v
        } else {
            clock = SystemClock()
        }
        let ctx = HotlineContext(system: system, catalogue: configuration.catalogue, settings: configuration.settings,
                                 clock: clock, directory: HotlineDirectoryView(HotlineDirectory(assignments: [:])),
                                 supervisionInterval: supervisionInterval,
                                 redispatchReopened: configuration.redispatchReopened ?? true, delivery: delivery,
                                 snapshotMinBytes: snapshotMinBytes, archiveDirectory: archiveDirectory)
        context = ctx
        let q = IntakeQueue(context: ctx)
        queue = q
        // Requests queued before a restart are delivered once the cluster takes them.
        Task { try? await q.start() }
        placement = Placement(rules: HotlinePlacement.rules(configuration.catalogue), settleTime: HotlinePlacement.defaultSettleTime)
        applyPlacement()
        if let membership = system.membership {
            let events = membership.events()
            watcher = Task { [weak self] in
                for await _ in events {
                    guard let self else { return }
                    await self.whenLocal { $0.applyPlacement() }
                }
            }
        }
        system.logger.info("hotline.configured", ["catalogue": configuration.catalogue.version,
                                                 "hosted": hosted.count,
                                                 "virtualTime": configuration.virtualStart != nil])
        return hostedPaths
    }

    private var hostedPaths: [String] { hosted.keys.map(HotlineKey.path(of:)).sorted() }

    private static func nowNs() -> UInt64 {
        let d = ContinuousClock.now - monotonicBase
        return UInt64(max(0, d.components.seconds)) * 1_000_000_000 + UInt64(max(0, d.components.attoseconds / 1_000_000_000))
    }

    /// Recomputes placement from the current members and hosts / stops hosting accordingly. Without quorum the
    /// node hosts no district office or dispatch group (the majority side hosts them).
    private func applyPlacement() {
        guard var placement, let context else { return }
        let system = actorSystem
        let members = system.membership?.members
            ?? [Membership.Member(node: system.node, name: system.settings.nodeName, roles: HotlinePlacement.memberRoles(roles),
                                  status: .up, incarnation: 0)]
        let quorum = system.membership?.hasQuorum ?? true
        let now = Self.nowNs()
        let moves = placement.update(members: members, nowNs: now)
        self.placement = placement
        context.directoryView.update(HotlineDirectory(assignments: placement.assignments))
        for m in moves {
            system.logger.info("hotline.placement.moved", ["key": m.key, "from": m.from.map { "\($0)" } ?? "-",
                                                          "to": m.to.map { "\($0)" } ?? "-", "epoch": m.epoch])
        }
        let retry = reconcile(placement: placement, quorum: quorum, context: context)
        for case let office as DistrictOffice in hosted.values { Task { await office.whenLocal { await $0.membershipChanged() } } }
        for case let desk as IntakeDesk in hosted.values { Task { await desk.whenLocal { await $0.membershipChanged() } } }
        // A key that could not be hosted yet is tried again in 200 ms (before: this timer replaced that retry, so
        // it waited for the next membership event, which may never come).
        let retryAt: UInt64? = retry ? now &+ 200_000_000 : nil
        scheduleSettleTick([placement.nextWakeupNs, retryAt].compactMap { $0 }.min(), now: now)
    }

    /// Hosts and releases keys as `placement` says; returns whether a key could not be hosted yet.
    private func reconcile(placement: Placement, quorum: Bool, context: HotlineContext) -> Bool {
        let system = actorSystem
        let me = system.node
        let wanted = Set(placement.assignments.values.filter { a in
            a.node == me && (quorum || !HotlineKey.needsQuorum(a.key))
        }.map(\.key))
        for key in hosted.keys.sorted() where !wanted.contains(key) {
            if let office = hosted[key] as? DistrictOffice { Task { await office.whenLocal { await $0.release() } } }
            if let desk = hosted[key] as? IntakeDesk { Task { await desk.whenLocal { await $0.release() } } }
            hosted[key] = nil
            system.logger.info("hotline.placement.released", ["key": key, "quorum": quorum])
        }
        var retry = false
        for key in wanted.sorted() where hosted[key] == nil {
            do {
                hosted[key] = try make(key, context: context)
            } catch {
                // Most likely the previous instance of a key released a moment ago is still finishing a call.
                system.logger.warning("hotline.placement.host_failed", ["key": key, "error": "\(error)"])
                retry = true
            }
        }
        return retry
    }

    private func make(_ key: String, context: HotlineContext) throws -> any DistributedActor {
        let system = actorSystem
        let path = HotlineKey.path(of: key)
        if let j = HotlineKey.jurisdiction(of: key) {
            return try system.makeWellKnown(path: path) { DistrictOffice(jurisdiction: j, context: context) }
        }
        if key.hasPrefix("dispatch/") {
            let code = String(key.dropFirst("dispatch/".count))
            return try system.makeWellKnown(path: path) { RoutingGroup(group: code, context: context) }
        }
        switch key {
        case HotlineKey.intake: return try system.makeWellKnown(path: path) { IntakeDesk(context: context) }
        case HotlineKey.callback: return try system.makeWellKnown(path: path) { CallbackDesk(context: context) }
        case HotlineKey.supervision: return try system.makeWellKnown(path: path) { Supervisor(context: context) }
        case HotlineKey.analysis: return try system.makeWellKnown(path: path) { Analyst(context: context) }
        default: throw HotlineError.routing("unknown placement key \(key)")
        }
    }

    private func scheduleSettleTick(_ at: UInt64?, now: UInt64) {
        settleTimer?.cancel()
        settleTimer = nil
        guard let at else { return }
        let delay = at > now ? at - now : 0
        settleTimer = Task { [weak self] in
            try? await Task.sleep(for: .nanoseconds(Int64(clamping: delay)))
            guard !Task.isCancelled, let self else { return }
            await self.whenLocal { $0.applyPlacement() }
        }
    }

    /// Where every singleton lives now, as this node places it.
    ///
    /// - Throws: `HotlineError.notConfigured`.
    public distributed func directory() throws -> HotlineDirectory {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        return context.directory
    }

    /// Moves this node's virtual clock to `instant` (never backwards).
    ///
    /// - Throws: `HotlineError.clock` when the node runs on the system clock or `instant` is in its past.
    public distributed func setClock(to instant: Date) throws {
        guard let virtualClock else { throw HotlineError.clock("this node runs on the system clock") }
        guard virtualClock.set(to: instant) else {
            throw HotlineError.clock("cannot move back from \(virtualClock.now) to \(instant)")
        }
    }

    /// Passes a citizen request to the cluster's intake desk (so any node is an entry point).
    ///
    /// - Throws: `HotlineError.notConfigured`, or what intake throws.
    public distributed func submit(_ request: CitizenRequest) async throws -> IntakeReceipt {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        return try await context.onIntakeDesk { try await $0.submit(request) }
    }

    /// Takes a citizen request whatever the cluster's state: the intake desk's receipt when the case can be
    /// opened now; otherwise (this node's side holds no quorum, or the desk, office or dispatch group is
    /// unreachable, overloaded or recovering) a ticket in this node's intake queue, which delivers it once the
    /// cluster takes it (`IntakeQueue`). A request intake refuses (unknown category or jurisdiction, a field
    /// above its limit, ...) is refused at once, queued or not. A call that timed out (it may have run) is
    /// queued only when the request has an external id (its delivery then finds the same case); without one
    /// the error is thrown.
    ///
    /// - Throws: `HotlineError.invalidRequest`, `.notConfigured`, `.unavailable` (the queue is full or cannot
    ///   be written), or what intake throws.
    public distributed func submitOrQueue(_ request: CitizenRequest) async throws -> IntakeOutcome {
        guard let context, let queue else { throw HotlineError.notConfigured("no catalogue yet") }
        let normalized: CitizenRequest
        do { normalized = try request.normalized() } catch { throw HotlineError.invalidRequest("\(error)") }
        // An empty category or jurisdiction is classified at intake.
        guard normalized.jurisdiction.isEmpty || context.catalogue.jurisdiction(normalized.jurisdiction) != nil else {
            throw HotlineError.invalidRequest("unknown jurisdiction \"\(normalized.jurisdiction)\" (catalogue \(context.catalogue.version))")
        }
        guard normalized.category.isEmpty || context.catalogue.category(normalized.category) != nil else {
            throw HotlineError.invalidRequest("unknown category \"\(normalized.category)\" (catalogue \(context.catalogue.version))")
        }
        if let membership = actorSystem.membership, !membership.hasQuorum {
            return .queued(try await queue.enqueue(normalized, reason: "no quorum: this node's side of the cluster does not hold the majority"))
        }
        do {
            // An office (or the desk) recovering answers `unavailable` within the call: queued at once, not after
            // the failover's retries.
            return .accepted(try await context.onIntakeDesk(retryUnavailable: false) { try await $0.submit(normalized) })
        } catch let error as RemoteCallError where error.isRetryable {
            return .queued(try await queue.enqueue(normalized, reason: "\(error)"))
        } catch RemoteCallError.timeout(let actor, let target, let ms) where normalized.externalID != nil {
            // The desk did not answer in time and may have taken the request: with an external id the queue's
            // delivery finds that same case (intake is idempotent on channel + external id), so it is kept, not
            // refused. Without one a delivery could open a second case: the timeout is thrown, as before.
            let error = RemoteCallError.timeout(actor: actor, target: target, afterMilliseconds: ms)
            return .queued(try await queue.enqueue(normalized, reason: "\(error)"))
        } catch HotlineError.unavailable(let why) {
            return .queued(try await queue.enqueue(normalized, reason: "unavailable: \(why)"))
        } catch HotlineError.routing(let why) {
            return .queued(try await queue.enqueue(normalized, reason: "routing: \(why)"))
        }
    }

    /// Where a request queued on this node stands (`submitOrQueue`), or nil for a ticket this node never gave.
    ///
    /// - Throws: `HotlineError.notConfigured`.
    public distributed func queued(_ ticket: String) async throws -> QueuedStatus? {
        guard let queue else { throw HotlineError.notConfigured("no catalogue yet") }
        try await queue.start()
        return await queue.status(ticket)
    }

    /// A case's current state and full event history, found by case id or human number (`2026-000123`)
    /// across every district office.
    ///
    /// - Throws: `HotlineError.unknownCase` when no office holds it, `.notConfigured`.
    public distributed func findCase(_ key: String) async throws -> CaseHistory {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let number = CaseNumber(parsing: key)
        // Every office is asked at once: one after another, offices that are recovering (each waits up to 3 s
        // before `unavailable`) or on a node that stopped answering (a call timeout each) added up beyond the
        // caller's own timeout, and the caller saw "node unreachable" from a node that was up (breaker,
        // 2026-12-02). An office that cannot answer now does not stop the search in the others; it is named
        // only if the case is found nowhere.
        enum Outcome: Sendable {
            case found(CaseHistory)
            case notHere
            case unanswered(String)
            case tooLarge(String)
        }
        let offices: [(String, DistrictOffice?)] = context.directory.districtCodes.map { ($0, try? context.districtOffice($0)) }
        var unanswered: [String] = []
        let found: CaseHistory? = try await withThrowingTaskGroup(of: Outcome.self) { group in
            for (code, office) in offices {
                group.addTask {
                    guard let office else { return .unanswered(code) }
                    do {
                        if let number {
                            guard let snap = try await office.find(number: number) else { return .notHere }
                            return .found(CaseHistory(snapshot: snap, events: try await office.events(of: snap.id)))
                        }
                        guard let events = try? await office.events(of: CaseID(key)) else { return .notHere }
                        return .found(CaseHistory(snapshot: try await office.snapshot(CaseID(key)), events: events))
                    } catch RemoteCallError.frameTooLarge(let what, let bytes, let limit) {
                        return .tooLarge("case \(key) is held by district office \(code), but its \(what) of \(bytes) bytes is over the \(limit)-byte frame limit")
                    } catch {
                        return .unanswered(code)
                    }
                }
            }
            for try await outcome in group {
                switch outcome {
                case .found(let history):
                    group.cancelAll()
                    return history
                case .tooLarge(let why):
                    group.cancelAll()
                    throw HotlineError.unavailable(why)
                case .unanswered(let code):
                    unanswered.append(code)
                case .notHere:
                    break
                }
            }
            return nil
        }
        if let found { return found }
        if !unanswered.isEmpty {
            // Not an answer: the case may be in an office that did not answer (retry once it serves).
            throw HotlineError.unavailable("case \(key) not found; these district offices did not answer: \(unanswered.sorted().joined(separator: ", "))")
        }
        throw HotlineError.unknownCase(key)
    }

    /// A dispatch group's classification queue (`hotline dispatch queue`); every group's when `group` is nil.
    ///
    /// - Throws: `HotlineError.notConfigured`, `.invalidRequest` (unknown group), or what the groups throw.
    public distributed func classificationQueues(group: String?) async throws -> [ClassificationQueue] {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let groups = context.catalogue.dispatchGroups.map(\.code).filter { group == nil || $0 == group }
        if let group, groups.isEmpty { throw HotlineError.invalidRequest("unknown dispatch group \"\(group)\"") }
        var queues: [ClassificationQueue] = []
        for code in groups {
            queues.append(try await context.onRoutingGroup(code) { try await $0.classificationQueue() })
        }
        return queues
    }

    /// A dispatcher confirms or corrects the classification of a waiting case, found by id or number
    /// (`hotline dispatch classify`): the group whose classification queue holds it records the review and
    /// dispatches the case (`RoutingGroup.classify`). Returns the case afterwards.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (not waiting for classification), `.invalidRequest`
    ///   (unknown category/jurisdiction, P0), `.routing`, `.notConfigured`.
    public distributed func classify(_ key: String, category: String, jurisdiction: String, urgency: Urgency?, kind: CaseKind?,
                                     note: String, dispatcher: String) async throws -> CaseSnapshot {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let (office, snapshot) = try await locate(key, context: context)
        let order = try await context.onDistrictOffice(office) { try await $0.workOrder(snapshot.id) }
        guard let group = order.classificationQueue else {
            throw HotlineError.ruleViolation("case \(order.number) is \(order.status.rawValue) and not in a classification queue")
        }
        let ref = CaseRef(id: snapshot.id, number: snapshot.number, jurisdiction: office)
        return try await context.onRoutingGroup(group) {
            try await $0.classify(ref, category: category, jurisdiction: jurisdiction, urgency: urgency, kind: kind,
                                  note: note, dispatcher: dispatcher)
        }
    }

    /// A people's worklist gathered from every district office (`hotline unit inbox`, `dispatch queue`,
    /// `callback due`, `cases`), judged at each office's clock: ordered by deadline where one applies (sign or
    /// reply due for a unit inbox, callback due), otherwise by case number. An office that cannot answer now is
    /// named in `unanswered`.
    ///
    /// - Throws: `HotlineError.notConfigured`, `.invalidRequest` (unknown dispatch group or unit).
    public distributed func worklist(_ query: WorklistQuery) async throws -> Worklist {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        if case .dispatchQueue(let group?) = query, !context.catalogue.dispatchGroups.contains(where: { $0.code == group }) {
            throw HotlineError.invalidRequest("unknown dispatch group \"\(group)\"")
        }
        if case .unitInbox(let unit) = query, !context.catalogue.units.contains(where: { $0.code == unit }) {
            throw HotlineError.invalidRequest("unknown unit \"\(unit.prefix(40))\" (not in catalogue \(context.catalogue.version))")
        }
        var entries: [WorklistEntry] = []
        var unanswered: [String] = []
        for code in context.directory.districtCodes {
            do {
                entries += try await context.onDistrictOffice(code) { try await $0.worklist(query) }
            } catch let error as HotlineError {
                if case .unavailable = error { unanswered.append(code) } else { throw error }
            } catch {
                unanswered.append(code)
            }
        }
        let key: (WorklistEntry) -> Date? = switch query {
        case .unitInbox: { $0.assignmentStatus == .signed || $0.assignmentStatus == .returnRejected ? $0.handleDue : $0.signDue }
        case .callbackDue: { $0.callbackDue }
        default: { _ in nil }
        }
        entries.sort { a, b in
            let (x, y) = (key(a) ?? .distantFuture, key(b) ?? .distantFuture)
            return x != y ? x < y : a.number.description < b.number.description
        }
        return Worklist(query: query, asOf: context.now, entries: entries, unanswered: unanswered)
    }

    /// A department acts on its assignment of the current round of a case (by id or number): sign, report
    /// progress, return it as mis-routed, ask for an extension, reply (`hotline unit`). Returns the case after.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.invalidRequest` (the unit has no current assignment on it),
    ///   `.ruleViolation` (the workflow refuses the act; nothing recorded), `.notConfigured`.
    public distributed func unitAct(_ key: String, unit: String, action: UnitAction) async throws -> CaseSnapshot {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let (office, snapshot) = try await locate(key, context: context)
        _ = try await context.onDistrictOffice(office) { try await $0.unitAct(snapshot.id, unit: unit, action) }
        return try await context.onDistrictOffice(office) { try await $0.snapshot(snapshot.id) }
    }

    /// A dispatcher dispatches a case waiting for dispatch (`hotline dispatch route`), by the catalogue or to
    /// `lead` (`RoutingGroup.dispatchCase`), through the dispatch group the case is queued for.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (not pending dispatch), `.invalidRequest` (unknown
    ///   unit), `.routing`, `.notConfigured`.
    public distributed func dispatchCase(_ key: String, lead: String?, dispatcher: String) async throws -> CaseSnapshot {
        try await dispatchCase(key, lead: lead, coUnits: nil, dispatcher: dispatcher)
    }

    /// `dispatchCase(_:lead:dispatcher:)` with the co-handlers chosen by the dispatcher (`coUnits`, nil: the
    /// catalogue's; `hotline dispatch route --co`).
    ///
    /// - Throws: as `dispatchCase(_:lead:dispatcher:)`; `.invalidRequest` (an unknown co-unit, or the lead listed as
    ///   one), `.functionalMatterPushedDown` (a functional matter to a sub-district or community unit).
    public distributed func dispatchCase(_ key: String, lead: String?, coUnits: [String]?, dispatcher: String) async throws -> CaseSnapshot {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let (ref, order) = try await caseAndOrder(key, context: context)
        return try await context.onRoutingGroup(Self.group(of: order, ref: ref, context)) {
            try await $0.dispatchCase(ref, lead: lead, coUnits: coUnits, dispatcher: dispatcher)
        }
    }

    /// A dispatcher reviews the lead unit's reply (`hotline dispatch review`): accepted → the case is pending
    /// callback; rejected → reopened, and dispatched again by its office (`WorkOrder.redispatchAfterReopen`).
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (not replied), `.notConfigured`.
    public distributed func reviewReply(_ key: String, accepted: Bool, note: String) async throws -> CaseSnapshot {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let (ref, order) = try await caseAndOrder(key, context: context)
        guard order.status == .replied else {
            throw HotlineError.ruleViolation("case \(order.number) is \(order.status.rawValue): no reply awaits review")
        }
        _ = try await context.onRoutingGroup(Self.group(of: order, ref: ref, context)) {
            try await $0.reviewReply(ref, accepted: accepted, note: note)
        }
        return try await context.onDistrictOffice(ref.jurisdiction) { try await $0.snapshot(ref.id) }
    }

    /// A dispatcher decides on the lead's first return (`hotline dispatch return`): approved → the case waits
    /// for dispatch again; rejected → back to the unit. A second return is arbitrated instead (`arbitrate`).
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (no return to decide, or one that needs
    ///   arbitration), `.notConfigured`.
    public distributed func decideReturn(_ key: String, approved: Bool, note: String) async throws -> CaseSnapshot {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let (ref, order) = try await caseAndOrder(key, context: context)
        guard let pending = order.returns.last(where: { $0.decision == nil }) else {
            throw HotlineError.ruleViolation("case \(order.number) is \(order.status.rawValue) with no return to decide")
        }
        if pending.requiresArbitration {
            throw HotlineError.ruleViolation("case \(order.number): this is its second return and goes to arbitration (hotline dispatch arbitrate)")
        }
        _ = try await context.onRoutingGroup(Self.group(of: order, ref: ref, context)) {
            try await $0.decideReturn(ref, assignment: pending.assignment, approved: approved, note: note)
        }
        return try await context.onDistrictOffice(ref.jurisdiction) { try await $0.snapshot(ref.id) }
    }

    /// Arbitration of a case's second return (`hotline dispatch arbitrate`): a binding dispatch to `lead`
    /// (`RoutingGroup.arbitrate`).
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (no second return pending), `.invalidRequest`
    ///   (unknown unit), `.notConfigured`.
    public distributed func arbitrate(_ key: String, lead: String, note: String, arbiter: String) async throws -> CaseSnapshot {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let (ref, order) = try await caseAndOrder(key, context: context)
        return try await context.onRoutingGroup(Self.group(of: order, ref: ref, context)) {
            try await $0.arbitrate(ref, lead: lead, note: note, arbiter: arbiter)
        }
    }

    /// The callback seat records one callback attempt (`hotline callback record`) through the callback desk:
    /// satisfied or basically satisfied and resolved → closed; unsatisfied or unresolved → reopened and
    /// dispatched again; unreachable → closed as unreachable once the attempt limit is reached, else pending.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (not pending callback), `.notConfigured`.
    public distributed func callBack(_ key: String, outcome: CallbackOutcome) async throws -> CaseSnapshot {
        guard let context else { throw HotlineError.notConfigured("no catalogue yet") }
        let (ref, order) = try await caseAndOrder(key, context: context)
        guard order.status == .pendingCallback else {
            throw HotlineError.ruleViolation("case \(order.number) is \(order.status.rawValue), not pending callback")
        }
        let mergedChild = order.mergedInto != nil
        _ = try await context.onCallbackDesk { try await $0.callBack(ref, outcome: outcome, mergedChild: mergedChild) }
        return try await context.onDistrictOffice(ref.jurisdiction) { try await $0.snapshot(ref.id) }
    }

    /// A case's address and projection, found by id or number.
    func caseAndOrder(_ key: String, context: HotlineContext) async throws -> (CaseRef, WorkOrder) {
        let (office, snapshot) = try await locate(key, context: context)
        let order = try await context.onDistrictOffice(office) { try await $0.workOrder(snapshot.id) }
        return (CaseRef(id: snapshot.id, number: snapshot.number, jurisdiction: office), order)
    }

    /// The dispatch group handling a case: its last round's, else the one it is queued for, else the owner of
    /// the office's jurisdiction.
    private static func group(of order: WorkOrder, ref: CaseRef, _ context: HotlineContext) -> String {
        if let g = order.dispatches.last?.decision.dispatchGroup, !g.isEmpty { return g }
        if let g = order.queuedGroup, !g.isEmpty { return g }
        return context.catalogue.dispatchGroup(owning: ref.jurisdiction)?.code ?? ""
    }

    /// The district office (jurisdiction code) holding a case, found by id or number, and its snapshot.
    func locate(_ key: String, context: HotlineContext) async throws -> (String, CaseSnapshot) {
        let number = CaseNumber(parsing: key)
        var unanswered: [String] = []
        for code in context.directory.districtCodes {
            do {
                let office = try context.districtOffice(code)
                if let number {
                    if let snap = try await office.find(number: number) { return (code, snap) }
                } else if let snap = try? await office.snapshot(CaseID(key)) {
                    return (code, snap)
                }
            } catch {
                unanswered.append(code)
            }
        }
        if !unanswered.isEmpty {
            throw HotlineError.routing("case \(key) not found; these district offices did not answer: \(unanswered.joined(separator: ", "))")
        }
        throw HotlineError.unknownCase(key)
    }

    /// Runs supervision on every district office hosted on this node (local calls), the offices at the same
    /// time: each replicates what it recorded on its own stream, so their quorum round trips overlap (and the
    /// replicas' journals write them in one group commit) instead of following one another. Returns escalations
    /// recorded.
    ///
    /// - Throws: the first office's error (`HotlineError.unavailable`); the other offices still finish their run.
    public distributed func runLocalSupervision() async throws -> Int {
        let offices = hosted.values.compactMap { $0 as? DistrictOffice }
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for office in offices { group.addTask { try await office.runSupervision() } }
            var total = 0
            var firstError: (any Error)?
            while let outcome = await group.nextResult() {
                switch outcome {
                case .success(let n): total += n
                case .failure(let error): firstError = firstError ?? error
                }
            }
            if let firstError { throw firstError }
            return total
        }
    }

    public distributed func info() async -> HotlineNodeInfo {
        let membership = actorSystem.membership
        var offices: [DistrictOfficeStatus] = []
        for key in hosted.keys.sorted() {
            if let office = hosted[key] as? DistrictOffice, let st = await office.whenLocal({ await $0.status() }) {
                offices.append(st)
            }
        }
        return HotlineNodeInfo(roles: roles, configured: context != nil, now: context?.now ?? Date(),
                               virtualTime: virtualClock != nil, hostedPaths: hostedPaths,
                               memberStatus: membership?.myself.status.rawValue ?? "up",
                               membersUp: membership?.members.filter { $0.status == .up }.count ?? 1,
                               hasQuorum: membership?.hasQuorum ?? true, offices: offices)
    }
}
