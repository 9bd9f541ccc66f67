import Foundation

/// A P0 hand-over to 110/119/120.
public struct EmergencyTransfer: Hashable, Codable, Sendable {
    public var service: EmergencyService
    public var at: Date
    public var note: String

    public init(service: EmergencyService, at: Date, note: String) {
        self.service = service
        self.at = at
        self.note = note
    }
}
