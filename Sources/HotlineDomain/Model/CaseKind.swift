import Foundation

/// What the citizen wants (BRIEF §4 "Kinds"). `report` is whistle-blowing: the reporter is confidential.
public enum CaseKind: String, Codable, Sendable, CaseIterable, Hashable {
    case consultation
    /// A request for help that is not an emergency.
    case help
    case complaint
    /// Whistle-blowing; the reporter's identity is confidential.
    case report
    case suggestion
    case praise
}
