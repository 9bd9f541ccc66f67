import Foundation

/// A case (work order, 工单): the projection (fold) of its events. Fields are read-only from outside the
/// module; the only way to change a case is `apply(_:settings:)` with the next event (see
/// `WorkOrder+Apply.swift`). `description` never includes the citizen's phone or a reporter's identity.
public struct WorkOrder: Hashable, Codable, Sendable, CustomStringConvertible {
    public internal(set) var id: CaseID
    /// Human number, e.g. `2026-000123`.
    public internal(set) var number: CaseNumber
    /// What intake captured (channel, external id, contact as given, description, location).
    public internal(set) var intake: IntakeRecord
    /// The citizen contact; confidential for reporters of kind `report`.
    public internal(set) var contact: CitizenContact
    /// Kind, category, sector, urgency, jurisdiction; nil while `draft` (and for drafts closed as
    /// out-of-scope or emergency before classification).
    public internal(set) var classification: Classification?
    public internal(set) var status: CaseStatus
    /// Intake classifier's proposal (nil when the channel gave category and jurisdiction).
    public internal(set) var classificationProposal: ClassificationProposal?
    /// The dispatch group whose classification queue holds the case now (nil when not waiting).
    public internal(set) var classificationQueue: String?
    /// When the case entered the classification queue.
    public internal(set) var classificationQueuedAt: Date?
    /// The dispatcher's confirmation or correction, when and by whom.
    public internal(set) var classificationReview: ClassificationReview?
    public internal(set) var classificationReviewedAt: Date?
    public internal(set) var classificationReviewedBy: EventAuthor?
    /// When the first (drafted) event happened: intake.
    public internal(set) var createdAt: Date
    public internal(set) var acceptedAt: Date?
    public internal(set) var statusChangedAt: Date
    /// Sequence number of the last applied event (the next event must carry this + 1).
    public internal(set) var lastSequence: UInt64
    public internal(set) var lastEventAt: Date

    // Intake outcomes
    public internal(set) var directAnswer: DirectAnswer?
    public internal(set) var outOfScope: OutOfScopeRuling?
    public internal(set) var emergencyTransfer: EmergencyTransfer?

    // Merge and repeat contacts
    /// The open parent this duplicate was merged into.
    public internal(set) var mergedInto: CaseID?
    /// The parent's human number (nil when not merged).
    public internal(set) var mergedIntoNumber: CaseNumber?
    /// Why intake merged this case into its parent (nil: not merged, or merged by hand).
    public internal(set) var mergeMatch: IntakeMatch?
    /// Duplicates merged into this case (children).
    public internal(set) var duplicates: [CaseID]
    public internal(set) var repeatContacts: [RepeatContact]

    // Emergencies
    public internal(set) var dutyRoomAlerts: [DutyRoomAlert]

    // Dispatch
    /// Dispatch group queue the case was last put into.
    public internal(set) var queuedGroup: String?
    public internal(set) var dispatches: [DispatchRecord]
    public internal(set) var assignments: [Assignment]
    public internal(set) var deliveryAlerts: [DeliveryAlert]
    public internal(set) var returns: [ReturnRecord]
    /// Lead unit fixed by an arbitration ruling; later dispatches must keep it and it cannot return.
    public internal(set) var bindingLead: String?

    // Overlays
    public internal(set) var extensions: [ExtensionRequest]
    public internal(set) var reminders: [Reminder]
    public internal(set) var escalations: [SupervisionEscalation]

    // Handling results
    public internal(set) var progressReports: [ProgressReport]
    public internal(set) var replies: [Reply]
    public internal(set) var reviews: [ReplyReview]

    // Callback and closing
    /// Number of times the case entered `pendingCallback` (the current callback round).
    public internal(set) var callbackRound: Int
    /// Derived callback deadline of the current round.
    public internal(set) var callbackDue: Date?
    public internal(set) var callbacks: [CallbackAttempt]
    public internal(set) var reopenings: [Reopening]
    /// Every closing (a case reopened after closing and closed again has two).
    public internal(set) var closures: [Closure]

    init(id: CaseID, number: CaseNumber, intake: IntakeRecord, at: Date) {
        self.id = id
        self.number = number
        self.intake = intake
        self.contact = intake.contact
        self.status = .draft
        self.createdAt = at
        self.statusChangedAt = at
        self.lastSequence = 1
        self.lastEventAt = at
        self.duplicates = []
        self.repeatContacts = []
        self.dutyRoomAlerts = []
        self.dispatches = []
        self.assignments = []
        self.deliveryAlerts = []
        self.returns = []
        self.extensions = []
        self.reminders = []
        self.escalations = []
        self.progressReports = []
        self.replies = []
        self.reviews = []
        self.callbackRound = 0
        self.callbacks = []
        self.reopenings = []
        self.closures = []
    }

    /// `2026-000123 [inProgress] complaint/road-damage P2 @210302 lead=210302-CM contact=张** 138****5678`.
    public var description: String {
        var parts = ["\(number) [\(status.rawValue)]"]
        if let c = classification {
            parts.append("\(c.kind.rawValue)/\(c.category) \(c.urgency.rawValue) @\(c.jurisdiction)")
        }
        if let lead = leadAssignment?.unit { parts.append("lead=\(lead)") }
        parts.append("contact=\(contact)")
        return parts.joined(separator: " ")
    }
}
