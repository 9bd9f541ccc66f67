import Foundation

/// A district, county, county-level city or management committee.
public struct Jurisdiction: Hashable, Codable, Sendable {
    /// Administrative code (`"210302"`) or an invented stable code for zones (`"AS-HT"`).
    public var code: String
    public var name: String
    public var kind: JurisdictionKind
    /// Unit code of the jurisdiction's government (or management committee): the fallback lead.
    public var government: String
    /// Unit code of the duty room alerted for P1 livelihood cases; nil = the government unit.
    public var dutyRoom: String?
    /// Place names that locate a request here — the jurisdiction's own name, sub-districts, towns,
    /// communities, well-known roads and estates — in every written form the catalogue wants matched
    /// (simplified and traditional, Chinese and pinyin/English). `Classifier` matches them as substrings
    /// after NFKC + lowercasing; a name inside a longer matched name (千山 in 千山区) does not count.
    /// Empty (or absent in JSON) = never proposed by the classifier.
    public var placeNames: [String]

    public init(code: String, name: String, kind: JurisdictionKind, government: String, dutyRoom: String? = nil,
                placeNames: [String] = []) {
        self.code = code
        self.name = name
        self.kind = kind
        self.government = government
        self.dutyRoom = dutyRoom
        self.placeNames = placeNames
    }

    private enum CodingKeys: String, CodingKey { case code, name, kind, government, dutyRoom, placeNames }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = try c.decode(String.self, forKey: .code)
        name = try c.decode(String.self, forKey: .name)
        kind = try c.decode(JurisdictionKind.self, forKey: .kind)
        government = try c.decode(String.self, forKey: .government)
        dutyRoom = try c.decodeIfPresent(String.self, forKey: .dutyRoom)
        placeNames = try c.decodeIfPresent([String].self, forKey: .placeNames) ?? []
    }

    /// The duty room unit code (falls back to the government).
    public var dutyRoomUnit: String { dutyRoom ?? government }
}

extension Jurisdiction {
    /// Whether `code` can name a jurisdiction: 1–64 bytes of ASCII letters, digits, `-`, `_` and `.`, with at
    /// least one letter or digit (so never `.` or `..`) — it becomes part of the district office's actor path
    /// (`/hotline/district/<code>`) and of log lines.
    public static func isUsableCode(_ code: String) -> Bool {
        !code.isEmpty && code.utf8.count <= 64
            && code.utf8.contains { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) }
            && code.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
        }
    }
}
