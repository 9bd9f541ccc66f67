import Foundation

/// What kind of jurisdiction: district, county, county-level city, or a management committee (zone).
public enum JurisdictionKind: String, Codable, Sendable, Hashable, CaseIterable {
    case district
    case county
    case countyCity
    case managementCommittee
}
