import Foundation

/// The district duty room alerted about a P1 livelihood case, and its acknowledgement.
public struct DutyRoomAlert: Hashable, Codable, Sendable {
    /// Duty room unit code (catalogue `jurisdictions[].dutyRoom`).
    public var dutyRoom: String
    public var at: Date
    public var note: String
    public var acknowledgedAt: Date?
    public var acknowledgedBy: EventAuthor?
    public var acknowledgementNote: String?

    public init(dutyRoom: String, at: Date, note: String) {
        self.dutyRoom = dutyRoom
        self.at = at
        self.note = note
    }

    public var isAcknowledged: Bool { acknowledgedAt != nil }
}
