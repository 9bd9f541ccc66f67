import Foundation

/// The knowledge-base article a direct answer cites (e.g. one of the epidemic answer base's 112 answers).
public struct KnowledgeCitation: Hashable, Codable, Sendable {
    /// Article id, e.g. `"KB-EPI-0042"`.
    public var articleID: String
    /// Article edition/version the answer was given from (≥ 1).
    public var version: Int

    public init(articleID: String, version: Int) {
        self.articleID = articleID
        self.version = version
    }
}
