/// A usage or configuration error: printed as `hotline <command>: <message>` and exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// `--help` or `-h` where a flag may stand (not as the value of another flag, so `--external-id -h` is a
/// value): the command prints its usage and exits 0.
struct HelpRequested: Error {}

/// Minimal `--flag value` / `--flag=value` parser. Flags are declared up front so a typo is an error
/// that names the flag, not a silently ignored option.
struct Arguments {
    private(set) var values: [String: String] = [:]
    private(set) var switches: Set<String> = []
    private(set) var positional: [String] = []

    /// - Parameters:
    ///   - valued: flags that take a value (without the leading `--`).
    ///   - switches: flags without a value.
    /// - Throws: `UsageError` for an unknown flag or a missing value; `HelpRequested` for `--help` / `-h`
    ///   in a flag position.
    init(_ args: [String], valued: Set<String>, switches allowed: Set<String> = []) throws {
        var i = 0
        while i < args.count {
            let arg = args[i]
            i += 1
            if arg == "--help" || arg == "-h" { throw HelpRequested() }
            guard arg.hasPrefix("--") else {
                positional.append(arg)
                continue
            }
            var name = String(arg.dropFirst(2))
            var value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if allowed.contains(name) {
                guard value == nil else { throw UsageError("--\(name) takes no value") }
                switches.insert(name)
            } else if valued.contains(name) {
                guard values[name] == nil else { throw UsageError("--\(name) given twice") }
                if value == nil {
                    guard i < args.count else { throw UsageError("--\(name) needs a value") }
                    value = args[i]
                    i += 1
                }
                values[name] = value
            } else {
                throw UsageError("unknown flag --\(name)")
            }
        }
    }

    subscript(_ name: String) -> String? { values[name] }
    func has(_ name: String) -> Bool { switches.contains(name) }

    /// Integer flag in `range`; nil when absent. Throws naming the flag when malformed.
    func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard text.first != "+", let v = Int(text), range.contains(v) else {
            throw UsageError("invalid --\(name) \"\(text)\": expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }
}
