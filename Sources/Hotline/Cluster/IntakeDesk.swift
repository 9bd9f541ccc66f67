import ActorCluster
import Distributed
import Foundation

/// What intake answers: the case, where it went, and whether this was a repeat of an earlier submission.
public struct IntakeReceipt: Codable, Sendable, Hashable {
    public var ref: CaseRef
    public var status: CaseStatus
    /// True when the same channel + external id was submitted before: the earlier case is returned.
    public var duplicate: Bool
    public var leadUnit: String?
    /// The classifier's proposal, for a request that arrived without category or jurisdiction.
    public var proposal: ClassificationProposal? = nil
    /// The dispatch group whose classification queue holds the case (status `draft`) until a dispatcher
    /// confirms or corrects the proposal; nil when classified.
    public var classificationQueue: String? = nil
    /// What intake did with a contact about an existing case: a repeat contact linked to it (`ref` is that case:
    /// no new case, no new number), the case reopened, or the caller's own case (`ref`) merged under a lead case;
    /// nil: a new case of its own.
    public var link: IntakeLink? = nil
}

/// The intake desk (`/hotline/intake`): validates and classifies a request from any channel, opens the case
/// at its district office and hands it to its dispatch group. Idempotent per channel + external id, also
/// for concurrent retries.
public distributed actor IntakeDesk {
    public typealias ActorSystem = ClusterSystem

    /// Longest description accepted, in characters (`IntakeText.limit(.description)` also bounds its bytes).
    public static let maxDescriptionCharacters = IntakeText.limit(.description).characters

    private let context: HotlineContext
    /// Built once from the catalogue (it indexes every phrase).
    private lazy var classifier = Classifier(catalogue: context.catalogue)
    private var receipts: [IntakeKey: IntakeReceipt] = [:]
    private var inFlight: [IntakeKey: Task<IntakeReceipt, any Error>] = [:]
    private var serial = 0
    /// Requests that may match a case of their office are taken one at a time per jurisdiction and category, so two
    /// callers about one matter at once do not both open a case (bounded by the catalogue's codes).
    private var matchChains: [String: Task<Void, Never>] = [:]
    /// Raises `serial` above every number the district offices hold, once per desk (see `submit`).
    private var seeding: Task<Int, Never>?
    /// Case numbers are reserved in blocks on the replicated stream `intake/numbers` before they are handed out,
    /// so a desk that starts — after a move, a restart, a power loss — never hands out a number again; numbers
    /// an earlier desk reserved and no office holds are recorded there as skipped (`NumberRecord`).
    private var numbers: ReplicatedStream?
    private var numbersReady: Task<Void, any Error>?
    private var reservedThrough = 0
    private var reserving: Task<Void, any Error>?
    private var lastNumbersRound: UInt64 = 0
    /// Numbers reserved per append on `intake/numbers`.
    public static let numberBlock = 100
    /// The replicated stream of reserved case numbers.
    public static let numbersStream = "intake/numbers"

    /// What `intake/numbers` holds.
    public enum NumberRecord: Codable, Sendable, Hashable {
        /// Serials up to `through` may be handed out.
        case reserved(through: Int)
        /// Serials `from…through` were reserved by an earlier desk but no reachable office holds a case with
        /// them: they are never handed out (a gap with a record, not a silent one).
        case skipped(from: Int, through: Int, reason: String)
    }

    public init(context: HotlineContext) {
        self.context = context
        self.actorSystem = context.system
    }

    /// Takes one request. Returns the receipt (the earlier one, `duplicate: true`, for a repeat).
    ///
    /// The request is first normalised (`CitizenRequest.normalized()`: identifiers trimmed and NFC, every
    /// field bounded in characters and UTF-8 bytes); the repeat check compares the normalised channel and
    /// external id as an `IntakeKey`.
    ///
    /// - Throws: `HotlineError.invalidRequest` with the reason (an `IntakeFieldError` naming the field and
    ///   limit, empty description, unknown category or jurisdiction, no category and a catalogue without
    ///   keywords to classify by, ...), or what the district office /
    ///   dispatch group throw.
    public distributed func submit(_ submitted: CitizenRequest) async throws -> IntakeReceipt {
        guard !released else { throw HotlineError.unavailable("this intake desk moved to another node") }
        let request: CitizenRequest
        do {
            request = try submitted.normalized()
        } catch {
            throw HotlineError.invalidRequest("\(error)")
        }
        // A desk that starts — on a node that rejoined, or after the desk moved from a node that died — does not
        // know the numbers already given: it continues above the highest one any reachable office holds (those
        // of an office that cannot answer now are not seen).
        if seeding == nil {
            let offices = (try? context.allDistrictOffices()) ?? []
            seeding = Task {
                await withTaskGroup(of: Int.self) { group in
                    for office in offices { group.addTask { (try? await office.highestSerial()) ?? 0 } }
                    return await group.reduce(0, max)
                }
            }
        }
        if let seeding {
            // Read `serial` after the wait: submissions meanwhile have raised it.
            let seeded = await seeding.value
            serial = max(serial, seeded)
        }
        try await startNumbers()
        let key = request.intakeKey
        if let key {
            if var known = receipts[key] {
                known.duplicate = true
                return known
            }
            if let running = inFlight[key] {
                var r = try await running.value
                r.duplicate = true
                return r
            }
        }
        let task: Task<IntakeReceipt, any Error>
        if let about = request.about {
            try validate(request)
            task = Task { try await self.intake(request, about: about) }
        } else {
            switch try prepare(request) {
            case .classified(var open, let group):
                let assigned = request.assignedUnit
                let rules = open.classification.urgency == .p0 ? [] : context.catalogue.intakeMatchRules(for: open.classification.category)
                if rules.isEmpty {
                    try await reserveNumber()
                    open.number = takeNumber()
                    let numbered = open
                    task = Task { try await self.open(numbered, group: group, assignedUnit: assigned) }
                } else {
                    let chain = "\(open.classification.jurisdiction)|\(open.classification.category)"
                    let previous = matchChains[chain]
                    let unnumbered = open
                    task = Task {
                        await previous?.value
                        return try await self.intake(request, unnumbered, group: group, assignedUnit: assigned, rules: rules)
                    }
                    matchChains[chain] = Task { _ = try? await task.value }
                }
            case .awaitingClassification(var pending):
                try await reserveNumber()
                pending.number = takeNumber()
                let numbered = pending
                task = Task { try await self.openAwaitingClassification(numbered) }
            }
        }
        if let key { inFlight[key] = task }
        defer { if let key { inFlight[key] = nil } }
        let receipt = try await task.value
        if let key { receipts[key] = receipt }
        return receipt
    }

    /// True once the current recovery of `intake/numbers` finished (either way).
    private var numbersRecoveryEnded = false
    /// Set by `release()`: the desk moved to another node and takes nothing more.
    private var released = false

    /// Stops this desk: placement moved it elsewhere. Its `intake/numbers` stream stops (a recovery or a
    /// reservation waiting for replicas ends at once, so nothing keeps the desk alive and its well-known path can
    /// be hosted again — a desk moved away and back within a moment could not be hosted while its numbers
    /// recovery waited for replicas, and queued requests were never delivered), and later calls are answered
    /// `unavailable` (callers re-resolve the desk and retry).
    public func release() async {
        released = true
        seeding?.cancel()
        reserving?.cancel()
        numbersReady?.cancel()
        if let numbers { await numbers.stop() }
        numbers = nil
        numbersReady = nil
        reserving = nil
        for t in inFlight.values { t.cancel() }
    }

    /// The members changed: the numbers stream's replica set follows them (a recovery waiting for a member that
    /// died and came back under a new uid asks the new one).
    public func membershipChanged() async {
        guard let numbers else { return }
        let set = context.replicaSet(for: Self.numbersStream)
        await numbers.update(replicas: set.replicas, others: set.others)
    }

    /// Recovers `intake/numbers` once per desk (again after a failure): continues above every number reserved
    /// before, and records the reserved numbers no office holds as skipped.
    ///
    /// - Throws: `HotlineError.unavailable` when the stream cannot be recovered now.
    private func startNumbers() async throws {
        guard !released else { throw HotlineError.unavailable("this intake desk moved to another node") }
        if numbersReady == nil {
            let set = context.replicaSet(for: Self.numbersStream)
            lastNumbersRound += 1
            let stream = ReplicatedStream(stream: Self.numbersStream, system: actorSystem, settings: context.replication,
                                          round: lastNumbersRound, replicas: set.replicas, others: set.others)
            numbers = stream
            let held = serial
            numbersRecoveryEnded = false
            numbersReady = Task {
                defer { self.numbersRecoveryEnded = true }
                let payloads = try await stream.recover()
                var highest = 0
                for bytes in payloads {
                    switch try? Wire.BinaryDecoder().decode(NumberRecord.self, from: bytes) {
                    case .reserved(let t)?: highest = max(highest, t)
                    case .skipped(_, let t, _)?: highest = max(highest, t)
                    case nil: break
                    }
                }
                let through = highest
                if through > held {
                    let skip = NumberRecord.skipped(from: held + 1, through: through,
                                                    reason: "reserved by an earlier intake desk; no reachable district office holds a case with them")
                    _ = try await stream.append(try Wire.BinaryEncoder().encode(skip))
                    await self.whenLocal { $0.skipped(from: held + 1, through: through) }
                }
                await self.whenLocal { $0.numbersRecovered(through: through) }
            }
        }
        do {
            // Bounded: a recovery that waits for replicas (a quorum of the recorded set is down) answers the
            // caller `unavailable` naming what it waits for, and goes on for the next call.
            let deadline = ContinuousClock.now + DistrictOffice.readyWait
            while !numbersRecoveryEnded {
                guard ContinuousClock.now < deadline else {
                    let waiting = await numbers?.waitingFor
                    throw HotlineError.unavailable("intake numbers are recovering from their replicas\(waiting.map { " (\($0))" } ?? "")")
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            try await numbersReady?.value
        } catch let error as HotlineError {
            throw error
        } catch {
            numbersReady = nil
            if let old = numbers { Task { await old.stop() } }
            numbers = nil
            throw HotlineError.unavailable("intake numbers could not be recovered from their replicas: \(error)")
        }
    }

    private func skipped(from: Int, through: Int) {
        context.system.metrics.counter("hotline_intake_numbers_skipped_total",
                                       help: "Case numbers reserved by an earlier intake desk and never handed out (recorded in intake/numbers).")
            .increment(by: through - from + 1)
        context.system.logger.warning("intake.numbers_skipped", ["from": from, "through": through])
    }

    private func numbersRecovered(through: Int) {
        serial = max(serial, through)
        reservedThrough = serial
    }

    /// Makes sure the next serial is reserved (appends a block of `numberBlock` when it is not). Once half of the
    /// block is handed out, the next block is reserved in the background, so intake rarely waits for a
    /// reservation (every caller of a desk waited one replicated append per `numberBlock` requests before).
    ///
    /// - Throws: `HotlineError.unavailable` (the reservation could not be replicated; the desk recovers again).
    private func reserveNumber() async throws {
        // Bounded: each round either finds a reserved number or waits for one reservation.
        for _ in 0..<4 {
            if serial + 1 <= reservedThrough {
                if reserving == nil, reservedThrough - serial <= Self.numberBlock / 2, let numbers {
                    reserving = reservation(on: numbers)
                }
                return
            }
            if reserving == nil {
                guard let numbers else { throw HotlineError.unavailable("intake numbers are recovering") }
                reserving = reservation(on: numbers)
            }
            if let reserving { try await reserving.value }
        }
        if serial + 1 > reservedThrough { throw HotlineError.unavailable("case numbers could not be reserved") }
    }

    /// Appends the next block's reservation; when it ends, `reserving` is cleared and — written — `reservedThrough`
    /// raised, or — failed — the numbers stream dropped (the next request recovers it again).
    private func reservation(on numbers: ReplicatedStream) -> Task<Void, any Error> {
        let target = max(reservedThrough, serial) + Self.numberBlock
        return Task {
            do {
                _ = try await numbers.append(try Wire.BinaryEncoder().encode(NumberRecord.reserved(through: target)))
                self.reserving = nil
                self.reservedThrough = max(self.reservedThrough, target)
            } catch {
                self.reserving = nil
                if self.numbers === numbers {
                    self.numbersReady = nil
                    self.numbers = nil
                }
                Task { await numbers.stop() }
                throw HotlineError.unavailable("case numbers could not be reserved: \(error)")
            }
        }
    }

    /// How many distinct requests were taken.
    public distributed func acceptedCount() -> Int { serial }

    /// What intake does with a request: open it classified (and dispatch it), or open it to wait in a
    /// dispatch group's classification queue.
    private enum Prepared {
        case classified(OpenCase, group: String?)
        case awaitingClassification(OpenAwaitingClassification)
    }

    /// The next case number (`reserveNumber()` first, with no suspension in between).
    private func takeNumber() -> CaseNumber {
        serial += 1
        return CaseNumber(year: currentYear(), serial: serial)
    }

    /// The checks every request passes: a description, a phone that is a phone number.
    ///
    /// - Throws: `HotlineError.invalidRequest`.
    private func validate(_ r: CitizenRequest) throws {
        guard !IntakeText.isBlank(r.description) else {
            throw HotlineError.invalidRequest("empty description: say what the citizen asked for")
        }
        if let phone = r.contactPhone, !phone.isEmpty {
            let allowed = Set("0123456789+-() ")
            guard phone.count <= 24, phone.allSatisfy({ allowed.contains($0) }), phone.contains(where: \.isNumber) else {
                throw HotlineError.invalidRequest("phone \"\(phone)\" is not a phone number (digits, + - ( ) and spaces)")
            }
        }
    }

    /// Placeholder number of a prepared case until it is numbered (`takeNumber`).
    private static let unnumbered = CaseNumber(year: 0, serial: 0)

    /// Validates and classifies a request; the case it prepares is numbered by the caller (`takeNumber`) once
    /// intake knows it opens one.
    private func prepare(_ r: CitizenRequest) throws -> Prepared {
        try validate(r)
        let catalogue = context.catalogue
        if !r.jurisdiction.isEmpty, catalogue.jurisdiction(r.jurisdiction) == nil {
            throw HotlineError.invalidRequest("unknown jurisdiction \"\(r.jurisdiction)\" (catalogue \(catalogue.version))")
        }
        if !r.category.isEmpty, catalogue.category(r.category) == nil {
            throw HotlineError.invalidRequest("unknown category \"\(r.category)\" (catalogue \(catalogue.version))")
        }
        // Without category or jurisdiction, the classifier proposes them from the citizen's words.
        var proposal: ClassificationProposal?
        var category = r.category, jurisdiction = r.jurisdiction, urgency = r.urgency
        if category.isEmpty || jurisdiction.isEmpty {
            // Classification needs a vocabulary: without one, a missing field is refused, never guessed.
            if category.isEmpty, !catalogue.categories.contains(where: { !$0.keywords.isEmpty }) {
                throw HotlineError.invalidRequest("no category, and catalogue \(catalogue.version) has no category keywords to classify the request by")
            }
            if jurisdiction.isEmpty, !catalogue.jurisdictions.contains(where: { !$0.placeNames.isEmpty }), catalogue.holdingJurisdiction == nil {
                throw HotlineError.invalidRequest("no jurisdiction, and catalogue \(catalogue.version) has no place names or holding jurisdiction")
            }
            let p = classifier.propose(subject: r.subject, description: r.description, address: r.address,
                                       given: Classifier.Given(category: category.isEmpty ? nil : category,
                                                               jurisdiction: jurisdiction.isEmpty ? nil : jurisdiction,
                                                               urgency: r.urgency, kind: r.kind))
            proposal = p
            if let c = p.category, let j = p.jurisdiction, p.confidence >= catalogue.classification.autoThreshold {
                (category, jurisdiction, urgency) = (c, j, p.urgency)
            } else {
                guard let holding = p.jurisdiction ?? catalogue.holdingJurisdiction,
                      let group = catalogue.dispatchGroup(owning: holding)?.code else {
                    throw HotlineError.invalidRequest("no jurisdiction to hold the request while it waits for classification (catalogue \(catalogue.version))")
                }
                let dutyRoom = p.isEmergency ? try? catalogue.dutyRoom(for: holding) : nil
                return .awaitingClassification(OpenAwaitingClassification(
                    id: CaseID.random(), number: Self.unnumbered, intake: intakeRecord(r),
                    proposal: p, holdingJurisdiction: holding, group: group, dutyRoom: dutyRoom, author: .hotline(staff: "intake")))
            }
        }
        let resolvedUrgency = urgency ?? (catalogue.isLivelihood(category: category) ? .p1 : .p2)
        let classification: Classification
        do {
            classification = try catalogue.classification(kind: r.kind ?? .help, category: category,
                                                          urgency: resolvedUrgency, jurisdiction: jurisdiction)
        } catch {
            throw HotlineError.invalidRequest("\(error)")
        }
        var open = OpenCase(id: CaseID.random(), number: Self.unnumbered, intake: intakeRecord(r),
                            classification: classification, author: .hotline(staff: "intake"))
        open.proposal = proposal
        // The group the catalogue's rule names (city-wide utilities have their own), else the owner of the
        // jurisdiction.
        let group: String? = resolvedUrgency == .p0 ? nil
            : ((try? catalogue.route(category: category, jurisdiction: jurisdiction).dispatchGroup).flatMap { $0.isEmpty ? nil : $0 }
                ?? catalogue.dispatchGroup(owning: jurisdiction)?.code)
        return .classified(open, group: group)
    }

    private func currentYear() -> Int {
        Calendar(identifier: .gregorian).dateComponents(in: context.settings.calendar.foundationTimeZone, from: context.now).year ?? 2000
    }

    private func intakeRecord(_ r: CitizenRequest) -> IntakeRecord {
        IntakeRecord(channel: Channel(code: r.channel, name: r.channel), externalID: r.externalID,
                     contact: CitizenContact(name: r.contactName ?? "", phone: r.contactPhone ?? "",
                                             confidential: r.confidential ?? (r.kind == .report)),
                     description: r.description, location: r.address.map { Location(address: $0) }, subject: r.subject)
    }

    private func openAwaitingClassification(_ pending: OpenAwaitingClassification) async throws -> IntakeReceipt {
        let snapshot = try await context.onDistrictOffice(pending.holdingJurisdiction, within: context.nestedCallBudget) { try await $0.openAwaitingClassification(pending) }
        let ref = CaseRef(id: snapshot.id, number: snapshot.number, jurisdiction: pending.holdingJurisdiction)
        return IntakeReceipt(ref: ref, status: snapshot.status, duplicate: snapshot.id != pending.id, leadUnit: snapshot.leadUnit,
                             proposal: pending.proposal, classificationQueue: snapshot.status == .draft ? pending.group : nil)
    }

    private func open(_ open: OpenCase, group: String?, assignedUnit: String?) async throws -> IntakeReceipt {
        var request = open
        request.queueGroup = group
        if let group, open.classification.urgency != .p0 {
            // The dispatch group's order first, so the office records intake (with the duty-room alert for P1
            // livelihood cases) and dispatch in one change. The order is the catalogue's alone
            // (`RoutingGroup.order`): computed here with the catalogue the request was classified by, not asked
            // of the group's node (a remote call per request).
            request.dispatch = try RoutingGroup.order(for: open.classification, assignedUnit: assignedUnit,
                                                      catalogue: context.catalogue)
            request.dispatchedBy = RoutingGroup.author(group: group)
        }
        let opening = request
        var snapshot = try await context.onDistrictOffice(open.classification.jurisdiction, within: context.nestedCallBudget) { try await $0.openCase(opening) }
        // The office returns the case it already holds for this channel + external id (a retry after a timeout,
        // a node death or a desk move): that case is the answer.
        let duplicate = snapshot.id != open.id
        let ref = CaseRef(id: snapshot.id, number: snapshot.number, jurisdiction: open.classification.jurisdiction)
        if duplicate {
            return IntakeReceipt(ref: ref, status: snapshot.status, duplicate: true, leadUnit: snapshot.leadUnit,
                                 proposal: open.proposal)
        }
        if snapshot.status == .pendingDispatch, let group {
            let classification = open.classification
            snapshot = try await context.onRoutingGroup(group, within: context.nestedCallBudget) { try await $0.dispatch(ref, classification: classification) }
        }
        return IntakeReceipt(ref: ref, status: snapshot.status, duplicate: false, leadUnit: snapshot.leadUnit,
                             proposal: open.proposal)
    }

    // MARK: - Repeat callers and merges

    /// A classified request its catalogue's rules may match with a case of its office (`IntakeMatcher`): the office
    /// links a repeat contact (or reopens the caller's case) itself; a merge and no match open a numbered case.
    private func intake(_ request: CitizenRequest, _ open: OpenCase, group: String?, assignedUnit: String?,
                        rules: [IntakeMatchRule]) async throws -> IntakeReceipt {
        let jurisdiction = open.classification.jurisdiction
        let question = IntakeMatchRequest(contact: contact(request, category: open.classification.category),
                                          description: request.description, about: nil, rules: rules, author: open.author)
        let outcome = try await context.onDistrictOffice(jurisdiction, within: context.nestedCallBudget) { try await $0.matchAtIntake(question) }
        switch outcome {
        case .known(let snapshot, let link):
            return receipt(snapshot, jurisdiction, duplicate: true, link: link)
        case .linked(let snapshot, let link):
            return receipt(snapshot, jurisdiction, duplicate: false, link: link)
        case .none:
            try await reserveNumber()
            var numbered = open
            numbered.number = takeNumber()
            return try await self.open(numbered, group: group, assignedUnit: assignedUnit)
        case .merge(let lead, let classification, let match):
            try await reserveNumber()
            var child = open
            child.number = takeNumber()
            child.classification = classification
            child.mergeInto = MergeTarget(lead: lead.id, match: match)
            return try await openMerged(child, lead: lead, match: match, group: group)
        }
    }

    /// A request the agent says is about case `about` (`hotline submit --about`): found in whichever office holds
    /// it, then linked there (`IntakeMatcher.decide(_:about:lead:at:settings:)`).
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (the case cannot take the contact), `.routing` (an
    ///   office that could hold it did not answer).
    private func intake(_ request: CitizenRequest, about: String) async throws -> IntakeReceipt {
        let jurisdiction = try await office(holding: about)
        let question = IntakeMatchRequest(contact: contact(request, category: request.category.isEmpty ? nil : request.category),
                                          description: request.description, about: about, rules: [],
                                          author: .hotline(staff: "intake"))
        let outcome = try await context.onDistrictOffice(jurisdiction, within: context.nestedCallBudget) { try await $0.matchAtIntake(question) }
        switch outcome {
        case .known(let snapshot, let link):
            return receipt(snapshot, jurisdiction, duplicate: true, link: link)
        case .linked(let snapshot, let link):
            return receipt(snapshot, jurisdiction, duplicate: false, link: link)
        case .none:
            throw HotlineError.invalidRequest("case \(about) does not take the contact")
        case .merge(let lead, var classification, let match):
            try await reserveNumber()
            if let kind = request.kind { classification.kind = kind }
            var child = OpenCase(id: CaseID.random(), number: takeNumber(), intake: intakeRecord(request),
                                 classification: classification, author: .hotline(staff: "intake"))
            child.mergeInto = MergeTarget(lead: lead.id, match: match)
            let group = (try? context.catalogue.route(category: classification.category, jurisdiction: classification.jurisdiction).dispatchGroup)
                .flatMap { $0.isEmpty ? nil : $0 } ?? context.catalogue.dispatchGroup(owning: classification.jurisdiction)?.code
            return try await openMerged(child, lead: lead, match: match, group: group)
        }
    }

    /// Opens `child` merged under `lead` at the lead's office. When the lead stopped taking links meanwhile the office
    /// opens it as a case of its own, which is then dispatched like any other.
    private func openMerged(_ child: OpenCase, lead: CaseRef, match: IntakeMatch, group: String?) async throws -> IntakeReceipt {
        let opening = child
        var snapshot = try await context.onDistrictOffice(lead.jurisdiction, within: context.nestedCallBudget) { try await $0.openCase(opening) }
        let ref = CaseRef(id: snapshot.id, number: snapshot.number, jurisdiction: lead.jurisdiction)
        if snapshot.id != child.id {
            return IntakeReceipt(ref: ref, status: snapshot.status, duplicate: true, leadUnit: snapshot.leadUnit)
        }
        if snapshot.status == .merged || snapshot.status == .pendingCallback {
            return IntakeReceipt(ref: ref, status: snapshot.status, duplicate: false, leadUnit: snapshot.leadUnit,
                                 link: IntakeLink(kind: .merged, target: lead.id, targetNumber: lead.number, match: match))
        }
        if snapshot.status == .pendingDispatch, let group {
            let classification = child.classification
            snapshot = try await context.onRoutingGroup(group, within: context.nestedCallBudget) { try await $0.dispatch(ref, classification: classification) }
        }
        return IntakeReceipt(ref: ref, status: snapshot.status, duplicate: false, leadUnit: snapshot.leadUnit)
    }

    private func receipt(_ snapshot: CaseSnapshot, _ jurisdiction: String, duplicate: Bool, link: IntakeLink?) -> IntakeReceipt {
        IntakeReceipt(ref: CaseRef(id: snapshot.id, number: snapshot.number, jurisdiction: jurisdiction), status: snapshot.status,
                      duplicate: duplicate, leadUnit: snapshot.leadUnit, link: link)
    }

    private func contact(_ r: CitizenRequest, category: String?) -> IntakeContact {
        IntakeContact(channel: Channel(code: r.channel, name: r.channel), externalID: r.externalID, phone: r.contactPhone ?? "",
                      address: r.address, category: category)
    }

    /// The jurisdiction whose office holds case `key` (id or number).
    ///
    /// - Throws: `HotlineError.unknownCase`, or `.routing` naming the offices that did not answer.
    private func office(holding key: String) async throws -> String {
        let number = CaseNumber(parsing: key)
        var unanswered: [String] = []
        for code in context.directory.districtCodes {
            do {
                let office = try context.districtOffice(code)
                if let number {
                    if try await office.find(number: number) != nil { return code }
                } else if (try? await office.snapshot(CaseID(key))) != nil {
                    return code
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
}
