import Foundation

/// Where a handling unit stands in the administrative hierarchy. The State Council's 2025 guidance on 12345
/// platforms forbids pushing matters within a functional department's duties (`ServiceCategory.functionalMatter`)
/// down to sub-districts (街道) or communities (社区): `mayReceiveFunctionalMatters` is false for those two.
/// JSON: `"city-department"`, `"district-government"`, `"sub-district"`, `"community"`.
public enum UnitLevel: String, Codable, Sendable, Hashable, CaseIterable {
    /// A city-wide department or utility (市直部门), e.g. the water supply group.
    case cityDepartment = "city-department"
    /// A district (county) government or one of its bureaus and duty room (区县政府及其部门).
    case districtGovernment = "district-government"
    /// A sub-district office (街道办事处) or township.
    case subDistrict = "sub-district"
    /// A community (社区) residents' committee or village committee.
    case community

    /// False for `subDistrict` and `community`: they must not be given functional matters.
    public var mayReceiveFunctionalMatters: Bool {
        switch self {
        case .cityDepartment, .districtGovernment: true
        case .subDistrict, .community: false
        }
    }

    /// The level a unit's `parent` must have (nil: a unit at this level has no parent in the catalogue).
    public var parentLevel: UnitLevel? {
        switch self {
        case .cityDepartment, .districtGovernment: nil
        case .subDistrict: .districtGovernment
        case .community: .subDistrict
        }
    }
}
