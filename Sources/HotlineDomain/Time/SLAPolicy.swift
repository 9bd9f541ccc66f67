import Foundation

/// A table kind × urgency → `SLAProfile`. An entry with `kind == nil` applies to every kind of that
/// urgency; an entry naming the kind wins over it. The routing catalogue's rules name a policy by id.
public struct SLAPolicy: Hashable, Codable, Sendable {
    public struct Entry: Hashable, Codable, Sendable {
        /// nil = any kind.
        public var kind: CaseKind?
        public var urgency: Urgency
        public var profile: SLAProfile

        public init(kind: CaseKind?, urgency: Urgency, profile: SLAProfile) {
            self.kind = kind
            self.urgency = urgency
            self.profile = profile
        }
    }

    public var id: String
    public var name: String
    public var entries: [Entry]

    public init(id: String, name: String, entries: [Entry]) {
        self.id = id
        self.name = name
        self.entries = entries
    }

    /// The profile for a kind × urgency.
    /// - Throws: `SLAPolicyError.noProfile` when no entry fits (always for P0).
    public func profile(kind: CaseKind, urgency: Urgency) throws(SLAPolicyError) -> SLAProfile {
        if let exact = entries.first(where: { $0.kind == kind && $0.urgency == urgency }) { return exact.profile }
        if let any = entries.first(where: { $0.kind == nil && $0.urgency == urgency }) { return any.profile }
        throw .noProfile(policy: id, kind: kind, urgency: urgency)
    }

    /// BRIEF §4 defaults (`"standard"`):
    /// - P1 (any kind): sign 30 natural minutes; first feedback 24 natural hours; reply 72 natural hours;
    ///   callback 24 natural hours; 1 extension.
    /// - P2: sign 1 working day; reply 3 (consultation) / 7 (help, suggestion, praise) / 15 (complaint, report)
    ///   working days; callback 1 working day; 1 extension.
    /// - P3: as P2 but up to 3 extensions ("by approved extension").
    /// - P0: none (transferred to 110/119/120).
    public static let standard: SLAPolicy = {
        func handleDays(_ kind: CaseKind) -> Int {
            switch kind {
            case .consultation: 3
            case .help, .suggestion, .praise: 7
            case .complaint, .report: 15
            }
        }
        var entries: [Entry] = [
            Entry(kind: nil, urgency: .p1, profile: SLAProfile(
                id: "P1-livelihood", sign: .naturalMinutes(30), firstFeedback: .naturalHours(24),
                handle: .naturalHours(72), callback: .naturalHours(24), maxExtensions: 1)),
        ]
        for kind in CaseKind.allCases {
            entries.append(Entry(kind: kind, urgency: .p2, profile: SLAProfile(
                id: "P2-\(kind.rawValue)", sign: .workingDays(1), firstFeedback: nil,
                handle: .workingDays(handleDays(kind)), callback: .workingDays(1), maxExtensions: 1)))
            entries.append(Entry(kind: kind, urgency: .p3, profile: SLAProfile(
                id: "P3-\(kind.rawValue)", sign: .workingDays(1), firstFeedback: nil,
                handle: .workingDays(handleDays(kind)), callback: .workingDays(1), maxExtensions: 3)))
        }
        return SLAPolicy(id: "standard", name: "BRIEF §4 defaults", entries: entries)
    }()
}
