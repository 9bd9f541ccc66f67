import Foundation

/// Exactly one `lead` per dispatch round; any number of `coHandler`s, who reply to the lead.
public enum AssignmentRole: String, Codable, Sendable, Hashable {
    case lead
    case coHandler
}
