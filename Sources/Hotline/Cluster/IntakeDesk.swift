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
}

/// The intake desk (`/hotline/intake`): validates and classifies a request from any channel, opens the case
/// at its district office and hands it to its dispatch group. Idempotent per channel + external id, also
/// for concurrent retries.
public distributed actor IntakeDesk {
    public typealias ActorSystem = ClusterSystem

    /// Longest description accepted, in characters (`IntakeText.limit(.description)` also bounds its bytes).
    public static let maxDescriptionCharacters = IntakeText.limit(.description).characters

    private let context: HotlineContext
    private var receipts: [IntakeKey: IntakeReceipt] = [:]
    private var inFlight: [IntakeKey: Task<IntakeReceipt, any Error>] = [:]
    private var serial = 0
    /// Raises `serial` above every number the district offices hold, once per desk (see `submit`).
    private var seeding: Task<Int, Never>?

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
    ///   limit, empty description, unknown category or jurisdiction, ...), or what the district office /
    ///   dispatch group throw.
    public distributed func submit(_ submitted: CitizenRequest) async throws -> IntakeReceipt {
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
        if let seeding { serial = max(serial, await seeding.value) }
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
        let (open, group) = try prepare(request)
        let assigned = request.assignedUnit
        let task = Task { try await self.open(open, group: group, assignedUnit: assigned) }
        if let key { inFlight[key] = task }
        defer { if let key { inFlight[key] = nil } }
        let receipt = try await task.value
        if let key { receipts[key] = receipt }
        return receipt
    }

    /// How many distinct requests were taken.
    public distributed func acceptedCount() -> Int { serial }

    private func prepare(_ r: CitizenRequest) throws -> (OpenCase, String?) {
        let channel = r.channel  // normalised by `submit`
        guard !r.description.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw HotlineError.invalidRequest("empty description: say what the citizen asked for")
        }
        if let phone = r.contactPhone, !phone.isEmpty {
            let allowed = Set("0123456789+-() ")
            guard phone.count <= 24, phone.allSatisfy({ allowed.contains($0) }), phone.contains(where: \.isNumber) else {
                throw HotlineError.invalidRequest("phone \"\(phone)\" is not a phone number (digits, + - ( ) and spaces)")
            }
        }
        let catalogue = context.catalogue
        guard catalogue.jurisdiction(r.jurisdiction) != nil else {
            throw HotlineError.invalidRequest("unknown jurisdiction \"\(r.jurisdiction)\" (catalogue \(catalogue.version))")
        }
        guard catalogue.category(r.category) != nil else {
            throw HotlineError.invalidRequest("unknown category \"\(r.category)\" (catalogue \(catalogue.version))")
        }
        let urgency = r.urgency ?? (catalogue.isLivelihood(category: r.category) ? .p1 : .p2)
        let classification: Classification
        do {
            classification = try catalogue.classification(kind: r.kind ?? .help, category: r.category,
                                                          urgency: urgency, jurisdiction: r.jurisdiction)
        } catch {
            throw HotlineError.invalidRequest("\(error)")
        }
        serial += 1
        let now = context.now
        let year = Calendar(identifier: .gregorian).dateComponents(in: context.settings.calendar.foundationTimeZone, from: now).year ?? 2000
        let intake = IntakeRecord(channel: Channel(code: channel, name: channel), externalID: r.externalID,
                                  contact: CitizenContact(name: r.contactName ?? "", phone: r.contactPhone ?? "",
                                                          confidential: r.confidential ?? (r.kind == .report)),
                                  description: r.description,
                                  location: r.address.map { Location(address: $0) })
        let open = OpenCase(id: CaseID.random(), number: CaseNumber(year: year, serial: serial), intake: intake,
                            classification: classification, author: .hotline(staff: "intake"))
        // The group the catalogue's rule names (city-wide utilities have their own), else the owner of the
        // jurisdiction.
        let group: String? = urgency == .p0 ? nil
            : ((try? catalogue.route(category: r.category, jurisdiction: r.jurisdiction).dispatchGroup).flatMap { $0.isEmpty ? nil : $0 }
                ?? catalogue.dispatchGroup(owning: r.jurisdiction)?.code)
        return (open, group)
    }

    private func open(_ open: OpenCase, group: String?, assignedUnit: String?) async throws -> IntakeReceipt {
        var request = open
        request.queueGroup = group
        if let group, open.classification.urgency != .p0 {
            // Ask the dispatch group for its order first, so the office records intake (with the duty-room
            // alert for P1 livelihood cases) and dispatch in one change.
            let classification = open.classification
            request.dispatch = try await context.onRoutingGroup(group) { try await $0.route(classification, assignedUnit: assignedUnit) }
            request.dispatchedBy = RoutingGroup.author(group: group)
        }
        let opening = request
        var snapshot = try await context.onDistrictOffice(open.classification.jurisdiction) { try await $0.openCase(opening) }
        // The office returns the case it already holds for this channel + external id (a retry after a timeout,
        // a node death or a desk move): that case is the answer.
        let duplicate = snapshot.id != open.id
        let ref = CaseRef(id: snapshot.id, number: snapshot.number, jurisdiction: open.classification.jurisdiction)
        if duplicate {
            return IntakeReceipt(ref: ref, status: snapshot.status, duplicate: true, leadUnit: snapshot.leadUnit)
        }
        if snapshot.status == .pendingDispatch, let group {
            let classification = open.classification
            snapshot = try await context.onRoutingGroup(group) { try await $0.dispatch(ref, classification: classification) }
        }
        return IntakeReceipt(ref: ref, status: snapshot.status, duplicate: false, leadUnit: snapshot.leadUnit)
    }
}
