import Foundation

/// How a unit receives its assignments (catalogue `units[].delivery`).
///
/// JSON: absent or `{"kind": "inbox"}` — the platform's own inbox: an assignment is delivered when the district
/// office stores it; `{"kind": "http", "url": "https://…", "timeoutMs": 5000}` — the unit's own system: the
/// office POSTs the assignment there (`timeoutMs` optional, 1…600,000; default the node's delivery timeout) and
/// records it delivered on a 2xx answer; anything else is a failed attempt, retried with backoff and alerted.
public enum DeliveryChannel: Hashable, Sendable, Codable {
    case inbox
    /// An external system: `url` (http or https, with a host), and its own timeout in ms (nil: the node's).
    case http(url: String, timeoutMs: Int?)

    /// True for `http`: delivery can fail and is retried.
    public var isExternal: Bool {
        if case .http = self { return true }
        return false
    }

    /// `inbox` or `http <url>`.
    public var summary: String {
        switch self {
        case .inbox: "inbox"
        case .http(let url, _): "http \(url)"
        }
    }

    /// Why the channel is unusable (nil when it is fine): a URL that does not parse, is not http(s) or has no host,
    /// or a timeout outside 1…600,000 ms.
    public var problem: String? {
        guard case .http(let text, let timeout) = self else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else { return "\(text.debugDescription) is not an http(s) URL with a host" }
        if let timeout, !(1...600_000).contains(timeout) { return "timeoutMs \(timeout) is not in 1...600000" }
        return nil
    }

    private enum CodingKeys: String, CodingKey { case kind, url, timeoutMs }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "inbox": self = .inbox
        case "http":
            self = .http(url: try c.decode(String.self, forKey: .url), timeoutMs: try c.decodeIfPresent(Int.self, forKey: .timeoutMs))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c,
                                                   debugDescription: "unknown delivery kind \(other.debugDescription) (inbox or http)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .inbox:
            try c.encode("inbox", forKey: .kind)
        case .http(let url, let timeout):
            try c.encode("http", forKey: .kind)
            try c.encode(url, forKey: .url)
            try c.encodeIfPresent(timeout, forKey: .timeoutMs)
        }
    }
}
