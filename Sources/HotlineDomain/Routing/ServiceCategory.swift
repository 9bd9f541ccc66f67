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
    /// A matter within a functional department's statutory duties (职能部门职责事项): by the State Council's 2025
    /// guidance on 12345 platforms it must not be pushed down to a sub-district or community unit — the
    /// catalogue validator refuses a rule that routes it there, and a dispatcher's manual dispatch is refused
    /// (`RoutingCatalogue.checkPushDown`). JSON `functionalMatter`, default false.
    public var functionalMatter: Bool

    public init(code: String, name: String, sector: String, keywords: [String] = [], functionalMatter: Bool = false) {
        self.code = code
        self.name = name
        self.sector = sector
        self.keywords = keywords
        self.functionalMatter = functionalMatter
    }

    private enum CodingKeys: String, CodingKey { case code, name, sector, keywords, functionalMatter }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = try c.decode(String.self, forKey: .code)
        name = try c.decode(String.self, forKey: .name)
        sector = try c.decode(String.self, forKey: .sector)
        keywords = try c.decodeIfPresent([String].self, forKey: .keywords) ?? []
        functionalMatter = try c.decodeIfPresent(Bool.self, forKey: .functionalMatter) ?? false
    }
}
