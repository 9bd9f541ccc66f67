import ActorCluster
import Distributed
import Foundation

/// Where a case merged at intake goes: under `lead`, with the evidence of the match.
public struct MergeTarget: Codable, Sendable, Hashable {
    public var lead: CaseID
    public var match: IntakeMatch

    public init(lead: CaseID, match: IntakeMatch) {
        self.lead = lead
        self.match = match
    }
}

/// What intake asks a district office before it opens a case for a request (`DistrictOffice.matchAtIntake`).
public struct IntakeMatchRequest: Codable, Sendable {
    public var contact: IntakeContact
    /// The citizen's words: the note of a linked repeat contact.
    public var description: String
    /// The case the agent named (`hotline submit --about`), by id or number; nil: the catalogue's rules decide.
    public var about: String?
    /// The catalogue's rules for the request's category.
    public var rules: [IntakeMatchRule]
    public var author: EventAuthor

    public init(contact: IntakeContact, description: String, about: String?, rules: [IntakeMatchRule], author: EventAuthor) {
        self.contact = contact
        self.description = description
        self.about = about
        self.rules = rules
        self.author = author
    }
}

/// A district office's answer to `matchAtIntake`.
public enum IntakeMatchOutcome: Codable, Sendable, Hashable {
    /// Nothing matches: intake opens a new case.
    case none
    /// The request's channel + external id is held already (a retry): the case, and what was done then (nil: it
    /// opened the case).
    case known(CaseSnapshot, link: IntakeLink?)
    /// Linked now: a repeat contact on the case, or the case reopened and the contact linked.
    case linked(CaseSnapshot, link: IntakeLink)
    /// Another caller about open case `lead`: intake opens their case (with a number) merged under it
    /// (`OpenCase.mergeInto`), classified as the lead.
    case merge(lead: CaseRef, classification: Classification, match: IntakeMatch)
}

extension IntakeContact {
    /// Channel + external id, when the channel gave one.
    public var intakeKey: IntakeKey? { externalID.map { IntakeKey(channel: channel.code, externalID: $0) } }
}

extension DistrictOffice {
    /// Intake's question before it opens a case: is the request about a case this office holds — the one the agent
    /// named, or one the catalogue's rules match (`IntakeMatcher`)? A repeat contact is linked (and a case closed
    /// within the repeat window reopened and dispatched again) in one change here; a merge is left to intake, which
    /// numbers the new case and opens it with `OpenCase.mergeInto`. A request whose channel + external id the
    /// office holds already is answered with that case, whatever it was (`known`): exactly once.
    ///
    /// - Throws: `HotlineError.unknownCase` (`about` names no case here), `.ruleViolation` (the named case cannot
    ///   take the contact: terminal, closed too long ago, ...; nothing recorded), `.unavailable`, `.notPermitted`.
    public distributed func matchAtIntake(_ request: IntakeMatchRequest) async throws -> IntakeMatchOutcome {
        try Self.mayAct(as: request.author)
        let key = request.contact.intakeKey
        if let key { await holdIntakeKey(key) }
        defer { if let key { releaseIntakeKey(key) } }
        // Ready after the key is held: an earlier holder's failed commit may have sent the office recovering.
        try await ready()
        if let key, let id = byIntakeKey[key], let log = try loadCase(id) {
            return .known(CaseSnapshot(log), link: log.order.intakeLink(for: key))
        }
        let now = context.now
        let decision: IntakeMatchDecision
        if let about = request.about {
            guard let target = try caseLog(about) else { throw HotlineError.unknownCase(about) }
            let lead = try target.order.mergedInto.flatMap { try loadCase($0)?.order }
            do {
                decision = try IntakeMatcher.decide(request.contact, about: target.order, lead: lead, at: now, settings: context.settings)
            } catch {
                throw HotlineError.ruleViolation("\(error)")
            }
        } else {
            guard let category = request.contact.category, !request.rules.isEmpty else { return .none }
            // Archived (closed) cases matter only to the phone rule, within the repeat window: those are read.
            let candidates = cases.values.compactMap { $0.order.classification?.category == category ? $0.order : nil }
                + (try archivedMatchCandidates(category: category, phoneKey: IntakeMatcher.phoneKey(request.contact.phone), at: now))
            decision = IntakeMatcher.decide(request.contact, cases: candidates, rules: request.rules, at: now, settings: context.settings)
        }
        let contact = request.contact
        switch decision {
        case .openNew:
            return .none
        case .repeatContact(let id, let match):
            try await mutate(id) { log, now in
                try log.record(.repeatContactLinked(channel: contact.channel, externalID: contact.externalID,
                                                    note: request.description, match: match), at: now, by: request.author)
            }
            return try linked(id, kind: .repeatContact, match: match)
        case .reopen(let id, let match):
            // Reopened, linked, and — by the office's follow-up — queued and dispatched again, in one change.
            try await mutate(id) { log, now in
                try log.record(.reopened(reason: .citizenRecontact, note: "contact after close: \(match)"), at: now, by: request.author)
                try log.record(.repeatContactLinked(channel: contact.channel, externalID: contact.externalID,
                                                    note: request.description, match: match), at: now, by: request.author)
            }
            return try linked(id, kind: .reopened, match: match)
        case .merge(let lead, let match):
            guard let log = try loadCase(lead), let classification = log.order.classification else { return .none }
            return .merge(lead: CaseRef(id: lead, number: log.order.number, jurisdiction: jurisdiction),
                          classification: classification, match: match)
        }
    }

    private func linked(_ id: CaseID, kind: IntakeLink.Kind, match: IntakeMatch) throws -> IntakeMatchOutcome {
        guard let log = try loadCase(id) else { throw HotlineError.unknownCase(id.rawValue) }
        return .linked(CaseSnapshot(log), link: IntakeLink(kind: kind, target: id, targetNumber: log.order.number, match: match))
    }

    /// A case of this office by id or number.
    func caseLog(_ key: String) throws -> CaseLog? {
        if let number = CaseNumber(parsing: key) { return try caseLog(number: number) }
        return try loadCase(CaseID(key))
    }

    /// Opens `request` merged under `target.lead`: `drafted`, `accepted`, `mergedInto` (and `parentReplyAccepted`
    /// at once when the lead already waits for its callback) on the new case, then `duplicateAttached` on the
    /// lead. Nil when the lead no longer takes links (closed meanwhile): the caller opens it as a case of its own.
    ///
    /// - Throws: `HotlineError.ruleViolation`, `.unavailable`.
    func openMerged(_ request: OpenCase, into target: MergeTarget) async throws -> CaseSnapshot? {
        guard let lead = try loadCase(target.lead)?.order, lead.acceptsLinks else { return nil }
        let log: CaseLog
        do {
            log = try Self.mergedLog(request, lead: lead, match: target.match, at: context.now, settings: context.settings)
        } catch {
            throw HotlineError.ruleViolation("\(error)")
        }
        // The new case first: its `mergedInto` is what makes it follow the lead (`childrenOf`), even if the lead's
        // side below is not recorded.
        try await commit(log, after: 0)
        let attached = CaseEventBody.duplicateAttached(child: log.order.id, childNumber: log.order.number)
        let author = request.author
        try await mutate(lead.id) { parent, now in try parent.record(attached, at: now, by: author) }
        return CaseSnapshot(cases[log.order.id] ?? log)
    }

    /// The events of a case merged under `lead` at intake (pure).
    static func mergedLog(_ request: OpenCase, lead: WorkOrder, match: IntakeMatch, at now: Date,
                          settings: WorkflowSettings) throws(CaseRuleViolation) -> CaseLog {
        var log = try CaseLog(id: request.id, number: request.number, intake: request.intake, at: now,
                              by: request.author, settings: settings)
        try log.record(.accepted(classification: request.classification), at: now, by: request.author)
        try log.record(.mergedInto(parent: lead.id, parentNumber: lead.number, match: match), at: now, by: request.author)
        if lead.status == .pendingCallback {
            try log.record(.parentReplyAccepted(parent: lead.id, summary: replySummary(lead)), at: now, by: request.author)
        }
        return log
    }

    /// The lead's reply was accepted (it waits for its callback): every case merged under it that still follows it
    /// gets `parentReplyAccepted` and waits for its own caller's callback — also one still waiting for that callback
    /// from an earlier reply of a lead that was redone since (its callback clock restarts from the new reply). Runs
    /// after every change of a case (`mutate`); a failure is logged and retried at the lead's next change.
    func followLead(_ id: CaseID) async {
        guard let children = childrenOf[id], !children.isEmpty, let lead = cases[id]?.order, lead.status == .pendingCallback,
              let accepted = lead.reviews.last(where: \.accepted)?.at else { return }
        for child in children.sorted() {
            guard var log = cases[child], log.order.mergedInto == id else { continue }
            switch log.order.status {
            case .merged:
                break
            case .pendingCallback:
                let followed = log.events.last { if case .parentReplyAccepted = $0.body { true } else { false } }?.timestamp
                guard let followed, followed < accepted else { continue }
            default:
                continue
            }
            let count = log.events.count
            do {
                try log.record(.parentReplyAccepted(parent: id, summary: Self.replySummary(lead)), at: context.now,
                               by: .system(component: "merge"))
                try await commit(log, after: count)
            } catch {
                actorSystem.logger.warning("district.merge_follow_failed", ["jurisdiction": jurisdiction, "lead": lead.number.description,
                                                                            "case": log.order.number.description, "error": "\(error)"])
            }
        }
    }

    /// The lead's latest reply to the hotline, at most 500 characters.
    static func replySummary(_ lead: WorkOrder) -> String {
        String((lead.replies.last { $0.addressee == .hotline }?.text ?? "").prefix(500))
    }

    /// The lines of this office's cases on the shift-handover list at the office's clock (`handoverEntry`).
    public distributed func handover(since: Date?) async throws -> [HandoverEntry] {
        try await ready()
        let now = context.now
        let code = jurisdiction
        return cases.values.compactMap { $0.order.handoverEntry(at: now, since: since, office: code) }
    }

    /// Decides the pending extension request of case `id`'s lead (`extensionDecided`): approved → the handle
    /// deadline moves by the extra time asked. Returns the case afterwards.
    ///
    /// - Throws: `HotlineError.unknownCase`, `.ruleViolation` (no extension pending; nothing recorded),
    ///   `.notPermitted`.
    public distributed func decideExtension(_ id: CaseID, approved: Bool, note: String, by author: EventAuthor) async throws -> CaseSnapshot {
        try Self.mayAct(as: author)
        try await mutate(id) { log, now in
            guard let pending = log.order.extensions.last(where: \.isPending) else {
                throw CaseRuleViolation.invalidField(field: "extension", reason: "no extension request is pending")
            }
            try log.record(.extensionDecided(request: pending.id, approved: approved, note: note), at: now, by: author)
        }
        return try await snapshot(id)
    }
}
