import Foundation

/// What intake compares of a request with the cases an office holds (normalised request fields).
public struct IntakeContact: Hashable, Codable, Sendable {
    public var channel: Channel
    public var externalID: String?
    /// The caller's phone as given (may be empty: anonymous).
    public var phone: String
    public var address: String?
    /// The request's category; nil when unknown (an agent's `--about` without one).
    public var category: String?

    public init(channel: Channel, externalID: String?, phone: String, address: String?, category: String?) {
        self.channel = channel
        self.externalID = externalID
        self.phone = phone
        self.address = address
        self.category = category
    }
}

/// What intake does with a request, decided by `IntakeMatcher`.
public enum IntakeMatchDecision: Hashable, Sendable {
    /// No case matches: open a new one.
    case openNew
    /// Link the request to open case `case` as a repeat contact (no new case, no new number).
    case repeatContact(case: CaseID, match: IntakeMatch)
    /// The same caller about case `case`, closed within the repeat window: reopen it and link the contact.
    case reopen(case: CaseID, match: IntakeMatch)
    /// Another caller about the same matter: open their own case merged under open lead case `lead`.
    case merge(lead: CaseID, match: IntakeMatch)
}

/// Why an agent's explicit link (`--about CASE`) was refused.
public struct IntakeMatchRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public var number: CaseNumber
    public var status: CaseStatus
    public var reason: String
    public var description: String { "case \(number) is \(status.rawValue): \(reason)" }
}

/// Repeat callers and callers about the same matter, as pure rules: from a request's facts, the cases of its
/// office, the catalogue's rules and the clock to a decision. No I/O.
///
/// - A **phone** rule: the same caller (same phone key) about the same category. An open case (merged cases
///   included: the caller's own case) whose latest contact is within the rule's window gets a repeat contact; a
///   closed case whose close is within the window and within `WorkflowSettings.repeatWindowDays` is reopened.
///   Open cases win over closed ones, then the most recent, then the lowest number.
/// - An **address** rule: the same category at the same address (`addressKey`), on an open case that accepts
///   links (`CaseStatus.acceptsLinks`: not draft, not itself merged) whose latest contact — its own intake, a
///   linked contact, or a caller merged under it — is within the window: another caller is merged under it;
///   the lead's caller, a caller already merged under it, or an anonymous caller is a repeat contact instead.
/// - Phone rules are tried before address rules; the first match decides. A closed case is never a merge
///   lead (a different caller after close opens a new case).
public enum IntakeMatcher {
    /// The phone's digits, without a leading `0086`/`86` on a 13-digit number; nil when fewer than 5 digits.
    public static func phoneKey(_ phone: String) -> String? {
        var digits = String(phone.unicodeScalars.filter { CharacterSet.decimalDigits.contains($0) && $0.isASCII })
        if digits.hasPrefix("0086") { digits.removeFirst(4) } else if digits.hasPrefix("86"), digits.count == 13 { digits.removeFirst(2) }
        return digits.count >= 5 ? digits : nil
    }

    /// The address compared: NFKC, lowercased, without whitespace and punctuation (`"铁西区 兴盛路12号，3单元"` and
    /// `"铁西区兴盛路12号3单元"` match); nil when empty.
    public static func addressKey(_ address: String?) -> String? {
        guard let address else { return nil }
        let folded = address.precomposedStringWithCompatibilityMapping.lowercased()
        let kept = folded.unicodeScalars.filter {
            !CharacterSet.whitespacesAndNewlines.contains($0) && !CharacterSet.punctuationCharacters.contains($0)
                && !CharacterSet.symbols.contains($0)
        }
        let key = String(String.UnicodeScalarView(kept))
        return key.isEmpty ? nil : key
    }

    /// The decision for `contact` by `rules` (those of the catalogue that apply to its category), among the
    /// office's `cases`, at `now`. `.openNew` without a category, a rule, or a match.
    public static func decide(_ contact: IntakeContact, cases: [WorkOrder], rules: [IntakeMatchRule], at now: Date,
                              settings: WorkflowSettings = .default) -> IntakeMatchDecision {
        guard let category = contact.category else { return .openNew }
        let applicable = rules.filter { $0.applies(to: category) }
        guard !applicable.isEmpty else { return .openNew }
        let sameCategory = cases.filter { $0.classification?.category == category }
        let latest = latestContacts(sameCategory)
        let phone = phoneKey(contact.phone)
        for rule in applicable where rule.match == .phone {
            guard let phone else { break }
            if let decision = byPhone(phone, rule: rule, cases: sameCategory, latest: latest, at: now, settings: settings) {
                return decision
            }
        }
        guard let address = addressKey(contact.address) else { return .openNew }
        for rule in applicable where rule.match == .address {
            let leads = sameCategory.filter { c in
                c.acceptsLinks && addressKey(c.intake.location?.address) == address
                    && now.timeIntervalSince(latest[c.id] ?? c.createdAt) <= rule.window
            }
            guard let lead = leads.max(by: { order($0, $1, latest) }) else { continue }
            let match = IntakeMatch(field: .address, rule: rule.id, caseStatus: lead.status, latestContactAt: latest[lead.id])
            // The lead's own caller, one already merged under it, or nobody to call back: a repeat contact.
            guard let phone else { return .repeatContact(case: lead.id, match: match) }
            if phoneKey(lead.contact.phone) == phone { return .repeatContact(case: lead.id, match: match) }
            if let child = sameCategory.first(where: { $0.mergedInto == lead.id && phoneKey($0.contact.phone) == phone && $0.status.isOpen }) {
                return .repeatContact(case: child.id, match: match)
            }
            return .merge(lead: lead.id, match: match)
        }
        return .openNew
    }

    /// The decision for an agent's explicit choice of `target` (`hotline submit --about CASE`): the same caller
    /// (same phone key, or no phone given) → a repeat contact on an open case, or a reopen of a case closed within
    /// `repeatWindowDays`; another caller → merged under `target`, or under `lead` when `target` is itself merged
    /// (pass its parent).
    ///
    /// - Throws: `IntakeMatchRefusal` when the case cannot take the contact: terminal, a draft waiting for
    ///   classification, closed longer than the repeat window, or closed / not accepting links for another caller.
    public static func decide(_ contact: IntakeContact, about target: WorkOrder, lead: WorkOrder?, at now: Date,
                              settings: WorkflowSettings = .default) throws(IntakeMatchRefusal) -> IntakeMatchDecision {
        let phone = phoneKey(contact.phone)
        let sameCaller = phone == nil || phone == phoneKey(target.contact.phone)
        let latestAt = ([target.createdAt] + target.repeatContacts.map(\.at)).max()
        func refuse(_ o: WorkOrder, _ reason: String) -> IntakeMatchRefusal {
            IntakeMatchRefusal(number: o.number, status: o.status, reason: reason)
        }
        if target.status.isTerminal { throw refuse(target, "it is finished; open a new case") }
        if target.status == .draft { throw refuse(target, "it waits for classification; link contacts once it is accepted") }
        if sameCaller {
            let match = IntakeMatch(field: .explicit, rule: nil, caseStatus: target.status, latestContactAt: latestAt)
            guard target.status == .closed else { return .repeatContact(case: target.id, match: match) }
            if target.mergedInto != nil {
                // A merged caller's closed case cannot be handled again on its own: the contact goes to the lead.
                guard let lead else { throw refuse(target, "its lead case is not held here") }
                guard let turned = afterMergedClose(lead: lead, field: .explicit, rule: nil, latest: latestAt,
                                                    window: Double(settings.repeatWindowDays) * 86_400, at: now, settings: settings)
                else { throw refuse(lead, "its lead case is finished or closed more than \(settings.repeatWindowDays) days ago; open a new case") }
                return turned
            }
            let closedAt = target.closures.last?.at ?? target.statusChangedAt
            guard now.timeIntervalSince(closedAt) <= Double(settings.repeatWindowDays) * 86_400 else {
                throw refuse(target, "closed more than \(settings.repeatWindowDays) days ago; open a new case")
            }
            return .reopen(case: target.id, match: match)
        }
        let parent = target.mergedInto != nil ? lead : target
        guard let parent else { throw refuse(target, "its lead case is not held here") }
        guard parent.acceptsLinks else {
            throw refuse(parent, "another caller's contact is merged only under an open case; open a new case")
        }
        return .merge(lead: parent.id, match: IntakeMatch(field: .explicit, rule: nil, caseStatus: parent.status,
                                                          latestContactAt: latestAt))
    }

    /// The latest contact of each case: its intake, a linked repeat contact, or the intake of a case merged
    /// under it.
    static func latestContacts(_ cases: [WorkOrder]) -> [CaseID: Date] {
        var latest: [CaseID: Date] = [:]
        for c in cases {
            let own = ([c.createdAt] + c.repeatContacts.map(\.at)).max() ?? c.createdAt
            latest[c.id] = max(latest[c.id] ?? own, own)
            if let parent = c.mergedInto { latest[parent] = max(latest[parent] ?? c.createdAt, c.createdAt) }
        }
        return latest
    }

    private static func byPhone(_ phone: String, rule: IntakeMatchRule, cases: [WorkOrder], latest: [CaseID: Date],
                                at now: Date, settings: WorkflowSettings) -> IntakeMatchDecision? {
        let mine = cases.filter { phoneKey($0.contact.phone) == phone }
        let open = mine.filter { $0.status.isOpen && $0.status != .draft
            && now.timeIntervalSince(latest[$0.id] ?? $0.createdAt) <= rule.window }
        if let c = open.max(by: { order($0, $1, latest) }) {
            return .repeatContact(case: c.id, match: IntakeMatch(field: .phone, rule: rule.id, caseStatus: c.status,
                                                                 latestContactAt: latest[c.id]))
        }
        let repeatWindow = Double(settings.repeatWindowDays) * 86_400
        let closed = mine.filter { c in
            guard c.status == .closed, let at = c.closures.last?.at else { return false }
            let age = now.timeIntervalSince(at)
            return age <= rule.window && age <= repeatWindow
        }
        guard let c = closed.max(by: { ($0.closures.last?.at ?? .distantPast, $1.number) < ($1.closures.last?.at ?? .distantPast, $0.number) })
        else { return nil }
        if let parent = c.mergedInto {
            // A merged caller's case has no handling round of its own: reopened, it could never be dispatched. The
            // contact is about the lead's matter — linked to the lead while it is open, or reopening it when it
            // closed within the windows; else a new case.
            guard let lead = cases.first(where: { $0.id == parent }) else { return nil }
            return afterMergedClose(lead: lead, field: .phone, rule: rule.id, latest: latest[lead.id], window: rule.window,
                                    at: now, settings: settings)
        }
        return .reopen(case: c.id, match: IntakeMatch(field: .phone, rule: rule.id, caseStatus: .closed, latestContactAt: latest[c.id]))
    }

    /// A contact about a merged caller's closed case, turned to its `lead`: a repeat contact on the lead while it is
    /// open (not a draft), a reopen of the lead closed within `window` (seconds) and the repeat window, else nil.
    static func afterMergedClose(lead: WorkOrder, field: IntakeMatch.Field, rule: String?, latest: Date?, window: TimeInterval,
                                 at now: Date, settings: WorkflowSettings) -> IntakeMatchDecision? {
        if lead.status.isOpen && lead.status != .draft {
            return .repeatContact(case: lead.id, match: IntakeMatch(field: field, rule: rule, caseStatus: lead.status,
                                                                    latestContactAt: latest))
        }
        guard lead.status == .closed, let at = lead.closures.last?.at,
              now.timeIntervalSince(at) <= min(window, Double(settings.repeatWindowDays) * 86_400) else { return nil }
        return .reopen(case: lead.id, match: IntakeMatch(field: field, rule: rule, caseStatus: .closed, latestContactAt: latest))
    }

    /// "a sorts before b" for `max`: the later latest contact wins, then the lower number.
    private static func order(_ a: WorkOrder, _ b: WorkOrder, _ latest: [CaseID: Date]) -> Bool {
        let (x, y) = (latest[a.id] ?? a.createdAt, latest[b.id] ?? b.createdAt)
        return x != y ? x < y : a.number.description > b.number.description
    }
}

extension WorkOrder {
    /// What intake did with the request of `key` on this case, when the key is this case's merged intake or one
    /// of its repeat contacts (nil: the case's own intake as a new case, or a key it does not hold). Answers a
    /// retried request with the receipt of its first submission.
    public func intakeLink(for key: IntakeKey) -> IntakeLink? {
        if intake.intakeKey == key {
            guard let parent = mergedInto, let number = mergedIntoNumber else { return nil }
            return IntakeLink(kind: .merged, target: parent, targetNumber: number,
                              match: mergeMatch ?? IntakeMatch(field: .explicit, rule: nil, caseStatus: .accepted, latestContactAt: nil))
        }
        guard let contact = repeatContacts.last(where: { $0.intakeKey == key }) else { return nil }
        let match = contact.match ?? IntakeMatch(field: .explicit, rule: nil, caseStatus: status, latestContactAt: nil)
        return IntakeLink(kind: match.afterClose ? .reopened : .repeatContact, target: id, targetNumber: number, match: match)
    }

    /// The time of the case's latest contact: its intake or a repeat contact linked to it.
    public var latestContactAt: Date { ([createdAt] + repeatContacts.map(\.at)).max() ?? createdAt }
}
