import Foundation

/// An intake channel. Channels are data, never enum constants: the 8890 phone line, the 12345 line,
/// the Minxin website, the mayor's mailbox, WeChat, an industry hotline, an Open311 client, … are all values
/// of this type, configured by the deployment.
public struct Channel: Hashable, Codable, Sendable, CustomStringConvertible {
    /// Stable code used in events and KPI grouping, e.g. `"8890"`, `"web-minxin"`, `"mailbox-mayor"`.
    public var code: String
    /// Display name for people, e.g. `"8890 热线电话"`.
    public var name: String

    public init(code: String, name: String) {
        self.code = code
        self.name = name
    }

    public var description: String { code }
}
