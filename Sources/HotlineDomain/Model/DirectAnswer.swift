import Foundation

/// A direct answer given at intake.
public struct DirectAnswer: Hashable, Codable, Sendable {
    public var citation: KnowledgeCitation
    public var answer: String
    public var at: Date

    public init(citation: KnowledgeCitation, answer: String, at: Date) {
        self.citation = citation
        self.answer = answer
        self.at = at
    }
}
