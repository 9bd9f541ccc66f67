import Foundation

/// Emergency services a P0 case is transferred to. Encoded as `"110"`, `"119"`, `"120"`.
public enum EmergencyService: String, Codable, Sendable, CaseIterable, Hashable {
    /// Police.
    case police = "110"
    /// Fire and rescue.
    case fire = "119"
    /// Ambulance.
    case ambulance = "120"
}
