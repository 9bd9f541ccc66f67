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

    public init(code: String, name: String, kind: JurisdictionKind, government: String, dutyRoom: String? = nil) {
        self.code = code
        self.name = name
        self.kind = kind
        self.government = government
        self.dutyRoom = dutyRoom
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
