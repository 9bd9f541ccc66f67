import Foundation

/// Who asked. Logging and `description` never show the full phone number (`138****5678`); a confidential
/// contact (every reporter of a case of kind `report`) shows neither name nor phone.
public struct CitizenContact: Hashable, Codable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The citizen's name as given (may be empty: anonymous callers are allowed).
    public var name: String
    /// Phone number as given (digits, possibly with `+86`); may be empty.
    public var phone: String
    /// When true the reporter's identity must not be shown to handling units or in logs.
    public var confidential: Bool

    public init(name: String, phone: String, confidential: Bool = false) {
        self.name = name
        self.phone = phone
        self.confidential = confidential
    }

    /// The phone with all but the first 3 and last 4 digits masked (`13812345678` → `138****5678`);
    /// numbers of fewer than 8 characters are masked entirely.
    public var maskedPhone: String {
        let chars = Array(phone)
        guard chars.count >= 8 else { return chars.isEmpty ? "" : "****" }
        return String(chars.prefix(3)) + "****" + String(chars.suffix(4))
    }

    /// The name with everything after the first character masked (`张三丰` → `张**`).
    public var maskedName: String {
        guard let first = name.first else { return "" }
        return String(first) + String(repeating: "*", count: max(1, name.count - 1))
    }

    /// Log form: `张** 138****5678`, or `(confidential reporter)`.
    public var description: String {
        if confidential { return "(confidential reporter)" }
        return [maskedName, maskedPhone].filter { !$0.isEmpty }.joined(separator: " ")
    }

    public var debugDescription: String { "CitizenContact(\(description))" }

    /// Mirrors (`dump`, `print` of an enclosing value) show only the masked form.
    public var customMirror: Mirror { Mirror(self, children: ["masked": description], displayStyle: .struct) }
}
