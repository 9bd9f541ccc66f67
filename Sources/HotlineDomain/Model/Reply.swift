import Foundation

/// A unit's reply. The lead's reply goes to the hotline; a co-handler's reply goes to the lead unit.
public struct Reply: Hashable, Codable, Sendable {
    public enum Addressee: Hashable, Codable, Sendable {
        case hotline
        /// A co-handler's contribution, addressed to the lead unit.
        case leadUnit(code: String)
    }

    public var assignment: AssignmentID
    public var unit: String
    public var at: Date
    public var text: String
    public var addressee: Addressee

    public init(assignment: AssignmentID, unit: String, at: Date, text: String, addressee: Addressee) {
        self.assignment = assignment
        self.unit = unit
        self.at = at
        self.text = text
        self.addressee = addressee
    }
}
