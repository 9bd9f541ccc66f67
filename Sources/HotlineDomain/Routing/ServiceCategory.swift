import Foundation

/// A request category (Open311 `service_code`).
public struct ServiceCategory: Hashable, Codable, Sendable {
    /// Stable code, e.g. `"water-outage"`.
    public var code: String
    public var name: String
    /// Sector code.
    public var sector: String
    /// Words and phrases (Chinese and English, with synonyms and traditional variants) that point to this
    /// category in a citizen's words; `Classifier` matches them as substrings after NFKC + lowercasing, so
    /// Chinese needs no word splitting. Empty (or absent in JSON) = never proposed by the classifier.
    public var keywords: [String]

    public init(code: String, name: String, sector: String, keywords: [String] = []) {
        self.code = code
        self.name = name
        self.sector = sector
        self.keywords = keywords
    }

    private enum CodingKeys: String, CodingKey { case code, name, sector, keywords }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = try c.decode(String.self, forKey: .code)
        name = try c.decode(String.self, forKey: .name)
        sector = try c.decode(String.self, forKey: .sector)
        keywords = try c.decodeIfPresent([String].self, forKey: .keywords) ?? []
    }
}
