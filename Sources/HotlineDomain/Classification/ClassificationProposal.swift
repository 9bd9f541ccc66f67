import Foundation

/// What intake's classifier proposes for a request, with the evidence and a confidence.
public struct ClassificationProposal: Hashable, Codable, Sendable {
    /// Proposed category code; nil when no keyword matched (and none was given).
    public var category: String?
    /// Proposed jurisdiction code; nil when no place name matched (and none was given).
    public var jurisdiction: String?
    /// Given urgency, else P1 for an emergency phrase or a livelihood category, else P2.
    public var urgency: Urgency
    public var kind: CaseKind
    /// Which phrases matched, per field.
    public var evidence: ClassificationEvidence
    /// 0…1 (2 decimals) for the category and jurisdiction; 1 for a field the channel gave.
    public var categoryConfidence: Double
    public var jurisdictionConfidence: Double
    /// The smaller of the two: intake accepts the proposal when it reaches the catalogue's threshold.
    public var confidence: Double

    public init(category: String?, jurisdiction: String?, urgency: Urgency, kind: CaseKind,
                evidence: ClassificationEvidence, categoryConfidence: Double, jurisdictionConfidence: Double) {
        self.category = category
        self.jurisdiction = jurisdiction
        self.urgency = urgency
        self.kind = kind
        self.evidence = evidence
        self.categoryConfidence = categoryConfidence
        self.jurisdictionConfidence = jurisdictionConfidence
        self.confidence = min(categoryConfidence, jurisdictionConfidence)
    }

    /// True when an emergency phrase matched or the request came as P0 (duty room alerted at once, even while
    /// the category is uncertain).
    public var isEmergency: Bool { !evidence.urgency.isEmpty || urgency == .p0 }
}

/// The phrases that matched, per field, as written in the catalogue (deduplicated, in the order found).
public struct ClassificationEvidence: Hashable, Codable, Sendable {
    public var category: [String]
    public var jurisdiction: [String]
    /// Emergency phrases.
    public var urgency: [String]

    public init(category: [String] = [], jurisdiction: [String] = [], urgency: [String] = []) {
        self.category = category
        self.jurisdiction = jurisdiction
        self.urgency = urgency
    }
}

/// A dispatcher's decision on a proposal in the classification queue: confirmed as proposed, or corrected.
public struct ClassificationReview: Hashable, Codable, Sendable {
    public var category: String
    public var jurisdiction: String
    public var urgency: Urgency
    public var kind: CaseKind
    /// The fields that differ from the proposal (`category`, `jurisdiction`, `urgency`, `kind`); empty = confirmed.
    public var corrected: [String]
    public var note: String

    public init(category: String, jurisdiction: String, urgency: Urgency, kind: CaseKind, proposal: ClassificationProposal?,
                note: String = "") {
        self.category = category
        self.jurisdiction = jurisdiction
        self.urgency = urgency
        self.kind = kind
        self.note = note
        var changed: [String] = []
        if proposal?.category != category { changed.append("category") }
        if proposal?.jurisdiction != jurisdiction { changed.append("jurisdiction") }
        if let p = proposal, p.urgency != urgency { changed.append("urgency") }
        if let p = proposal, p.kind != kind { changed.append("kind") }
        self.corrected = changed
    }

    /// True when the dispatcher changed the proposal.
    public var isCorrection: Bool { !corrected.isEmpty }
}
