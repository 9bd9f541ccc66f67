import Foundation

/// A free-text or identifier field of a citizen request, as intake names it in errors and limits.
public enum IntakeField: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case channel
    case externalID
    case category
    case jurisdiction
    case assignedUnit
    case description
    case address
    case contactName
    case contactPhone
    /// A web message's subject line.
    case subject
    /// The case the agent says the request is about (`hotline submit --about`), by id or number.
    case about

    /// Identifiers are normalised (see `IntakeText.normalizedIdentifier`); free text is kept as given.
    public var isIdentifier: Bool {
        switch self {
        case .channel, .externalID, .category, .jurisdiction, .assignedUnit, .about: true
        case .description, .address, .contactName, .contactPhone, .subject: false
        }
    }

    public var description: String { rawValue }
}

/// The bound of one intake field: at most `characters` (extended grapheme clusters, Swift `String.count`)
/// **and** at most `bytes` UTF-8 bytes. Both hold; the byte bound is what keeps a value of few characters
/// built of many combining marks (one character, any number of bytes) from growing without limit.
public struct IntakeLimit: Sendable, Hashable, Codable {
    public var characters: Int
    public var bytes: Int

    public init(characters: Int, bytes: Int) {
        self.characters = characters
        self.bytes = bytes
    }
}

/// Why a field of a citizen request was refused. Names the field and, for a length, the limit broken.
public enum IntakeFieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Empty, or only whitespace (identifiers are checked after trimming).
    case empty(IntakeField)
    /// A control character (Unicode general category Cc, e.g. U+0000, U+001F, U+007F) in an identifier;
    /// `scalar` is its code point.
    case controlCharacter(IntakeField, scalar: UInt32)
    /// An invisible character in an identifier — format (Cf: U+200B zero-width space, U+200E, U+FEFF…), line or
    /// paragraph separator (U+2028, U+2029): two ids that look the same must be the same id.
    case invisibleCharacter(IntakeField, scalar: UInt32)
    /// More characters (grapheme clusters) than `limit.characters`.
    case tooManyCharacters(IntakeField, count: Int, limit: IntakeLimit)
    /// More UTF-8 bytes than `limit.bytes`.
    case tooManyBytes(IntakeField, bytes: Int, limit: IntakeLimit)

    public var field: IntakeField {
        switch self {
        case .empty(let f), .controlCharacter(let f, _), .invisibleCharacter(let f, _), .tooManyCharacters(let f, _, _), .tooManyBytes(let f, _, _): f
        }
    }

    public var description: String {
        switch self {
        case .empty(let f): "\(f) is empty"
        case .controlCharacter(let f, let scalar):
            "\(f) contains the control character U+\(String(format: "%04X", scalar)) (identifiers may not contain control characters)"
        case .invisibleCharacter(let f, let scalar):
            "\(f) contains the invisible character U+\(String(format: "%04X", scalar)) (identifiers may not contain format or separator characters)"
        case .tooManyCharacters(let f, let count, let limit):
            "\(f) is \(count) characters long; the limit is \(limit.characters) characters (and \(limit.bytes) UTF-8 bytes)"
        case .tooManyBytes(let f, let bytes, let limit):
            "\(f) is \(bytes) UTF-8 bytes long; the limit is \(limit.bytes) UTF-8 bytes (and \(limit.characters) characters)"
        }
    }
}

/// The one place intake's text rules live: field limits, and how identifiers are normalised.
///
/// **Identifiers** (channel, external id, category, jurisdiction, assigned unit): leading and trailing
/// whitespace and newlines are trimmed, the rest is put in Unicode Normalization Form C (Foundation's
/// `precomposedStringWithCanonicalMapping`); empty after trimming, or containing a control character
/// (general category Cc) → refused. So `"8890 "` and `"8890"` are one channel, and an id typed in NFD is
/// the id typed in NFC.
///
/// **Free text** (description, address, contact name, contact phone) is kept exactly as given (the
/// citizen's words, byte for byte) and only bounded.
///
/// Every field is bounded in characters **and** UTF-8 bytes (`limits`), checked after normalisation.
public enum IntakeText {
    /// Limits per field. Byte bounds are 4 × the character bound for free text (any text of single-scalar
    /// characters up to the character limit fits), so only values heavy in combining marks hit them.
    public static let limits: [IntakeField: IntakeLimit] = [
        .channel: IntakeLimit(characters: 64, bytes: 256),
        .externalID: IntakeLimit(characters: 128, bytes: 512),
        .category: IntakeLimit(characters: 128, bytes: 512),
        .jurisdiction: IntakeLimit(characters: 64, bytes: 256),
        .assignedUnit: IntakeLimit(characters: 128, bytes: 512),
        .description: IntakeLimit(characters: 20_000, bytes: 80_000),
        .address: IntakeLimit(characters: 500, bytes: 2_000),
        .subject: IntakeLimit(characters: 500, bytes: 2_000),
        .contactName: IntakeLimit(characters: 100, bytes: 400),
        .contactPhone: IntakeLimit(characters: 24, bytes: 96),
        .about: IntakeLimit(characters: 64, bytes: 256),
    ]

    /// The limit of `field`.
    public static func limit(_ field: IntakeField) -> IntakeLimit {
        limits[field] ?? IntakeLimit(characters: 0, bytes: 0)
    }

    /// `text` trimmed, NFC, checked (non-empty, no control, format or separator character, within the
    /// field's limit).
    ///
    /// - Throws: `IntakeFieldError` naming `field`.
    public static func normalizedIdentifier(_ text: String, field: IntakeField) throws -> String {
        // Printable ASCII with no space at either end is already trimmed and NFC, and has no control, format or
        // separator character: only its limit is left to check (Foundation's trimming and NFC cost ~4 % of
        // intake's CPU per request otherwise).
        if isPlainASCII(text) {
            try checkLimit(text, field: field)
            return text
        }
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping
        guard !value.isEmpty else { throw IntakeFieldError.empty(field) }
        for scalar in value.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control: throw IntakeFieldError.controlCharacter(field, scalar: scalar.value)
            case .format, .lineSeparator, .paragraphSeparator:
                throw IntakeFieldError.invisibleCharacter(field, scalar: scalar.value)
            default: continue
            }
        }
        try checkLimit(value, field: field)
        return value
    }

    /// True when `text` is non-empty, every byte is printable ASCII (U+0020…U+007E) and it neither starts nor
    /// ends with a space: such a text is its own trimmed NFC form.
    @inline(__always)
    static func isPlainASCII(_ text: String) -> Bool {
        if let fast = text.utf8.withContiguousStorageIfAvailable({ Self.isPlainASCII(bytes: $0) }) { return fast }
        return Array(text.utf8).withUnsafeBufferPointer { Self.isPlainASCII(bytes: $0) }
    }

    private static func isPlainASCII(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = bytes.first, let last = bytes.last, first != 0x20, last != 0x20 else { return false }
        for b in bytes where b < 0x20 || b > 0x7E { return false }
        return true
    }

    /// True when `text` is empty or only whitespace and newlines (`trimmingCharacters(in: .whitespacesAndNewlines)`
    /// is empty), stopping at the first other scalar instead of building the trimmed copy.
    public static func isBlank(_ text: String) -> Bool {
        for scalar in text.unicodeScalars where !blank.contains(scalar) { return false }
        return true
    }

    private static let blank = CharacterSet.whitespacesAndNewlines

    /// Checks `text` against the field's limit (bytes first: counting characters of a huge value is slow).
    ///
    /// - Throws: `IntakeFieldError.tooManyBytes` / `.tooManyCharacters` naming `field` and the limit.
    public static func checkLimit(_ text: String, field: IntakeField) throws {
        let limit = limit(field)
        let bytes = text.utf8.count
        guard bytes <= limit.bytes else { throw IntakeFieldError.tooManyBytes(field, bytes: bytes, limit: limit) }
        let count = text.count
        guard count <= limit.characters else {
            throw IntakeFieldError.tooManyCharacters(field, count: count, limit: limit)
        }
    }
}

/// The idempotency key of intake: channel and external id, both normalised, as a structured value (two
/// different pairs can never compare equal, whatever characters they contain).
public struct IntakeKey: Hashable, Sendable, Codable {
    public var channel: String
    public var externalID: String

    public init(channel: String, externalID: String) {
        self.channel = channel
        self.externalID = externalID
    }
}
