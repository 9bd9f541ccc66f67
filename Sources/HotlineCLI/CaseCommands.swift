import ActorCluster
import Foundation
import Hotline

/// `hotline submit` and `hotline case`: an operator's hands on a running cluster, through any node.
enum SubmitCommand {
    static let usage = """
    usage: hotline submit --node HOST:PORT [--category CODE] [--jurisdiction CODE]
                          (--description TEXT | --description-file FILE) [--subject TEXT]
                          [--channel CODE] [--external-id ID] [--kind KIND] [--urgency P0|P1|P2|P3]
                          [--name NAME] [--phone PHONE] [--address TEXT] [--about CASE] [--cluster NAME] [--secret-file FILE]
      Sends one citizen request to the cluster's intake desk through the node at HOST:PORT and prints
      the receipt as JSON. Give the description as an argument (--description) or, for long text, read it
      from a file (--description-file FILE, `-` for standard input): exactly one of the two. The file must
      be UTF-8; its bytes are the description, unchanged (a trailing newline included). Channel defaults
      to "cli". Kinds: consultation, help, complaint, report, suggestion, praise. Without --category or
      --jurisdiction intake classifies the request from its words (subject, description, address): the receipt
      carries the proposal; below the catalogue's threshold the case waits (status draft) in a dispatch group's
      classification queue (`hotline dispatch --help`). --about CASE (id or number): the agent says the
      contact is about that case — the same caller (same phone, or none given) is linked to it as a repeat
      contact (a case closed within the repeat window is reopened and dispatched again), another caller's
      request becomes a case of their own merged under it (their own callback); category and jurisdiction may
      be left out. Without --about the catalogue's intakeMatching rules may do the same by phone or address;
      the receipt's "link" says what was done ({"kind": "repeatContact"|"reopened"|"merged", "targetNumber":
      …, "match": {"field": "phone"|"address"|"explicit", …}}) and "ref" is the case the citizen is told.
      The request is checked
      against intake's field rules before it is sent. When the case cannot be opened now (the node's side
      holds no quorum, or the desk or office is unreachable or recovering) the node keeps the request in its
      durable intake queue and prints {"queued": {"ticket": …, "node": …, "reason": …, "position": N}}; it
      is delivered once the cluster takes it (a request with --external-id also when the node's call to the
      desk timed out). Exit 0 accepted or queued, 3 rejected (reason on stderr), 4 undecided (the node's own
      call timed out or lost its node: retry with the same --external-id), 1 node unreachable, 2 bad flags
      (or an unreadable / non-UTF-8 --description-file).
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["node", "category", "jurisdiction", "description", "description-file", "channel", "subject",
                                                "external-id", "kind", "urgency", "name", "phone", "address", "about", "cluster",
                                                "secret-file"])
        let node = try nodeAddress(args)
        let category = args["category"] ?? ""  // empty: intake classifies
        let jurisdiction = args["jurisdiction"] ?? ""
        let description = try Self.description(args, standardInput: FileHandle.standardInput)
        var kind: CaseKind?
        if let k = args["kind"] {
            guard let parsed = CaseKind(rawValue: k) else {
                throw UsageError("invalid --kind \"\(k)\": one of \(CaseKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kind = parsed
        }
        var urgency: Urgency?
        if let u = args["urgency"] {
            guard let parsed = Urgency(rawValue: u.uppercased()) else { throw UsageError("invalid --urgency \"\(u)\": P0, P1, P2 or P3") }
            urgency = parsed
        }
        let request = CitizenRequest(channel: args["channel"] ?? "cli", externalID: args["external-id"], kind: kind,
                                     category: category, urgency: urgency, jurisdiction: jurisdiction,
                                     description: description, address: args["address"], contactName: args["name"],
                                     contactPhone: args["phone"], subject: args["subject"], about: args["about"])
        do {
            _ = try request.normalized()  // intake's own rules: refuse here rather than send megabytes
        } catch {
            FileHandle.standardError.write(Data("hotline submit: \(HotlineError.invalidRequest("\(error)"))\n".utf8))
            return 3
        }
        return try await withClient("submit", cluster: args["cluster"], secretFile: args["secret-file"]) { system in
            let hotline = try HotlineNode.on(.anyIncarnation(at: node), system: system)
            do {
                switch try await hotline.submitOrQueue(request) {
                case .accepted(let receipt):
                    print(try jsonString(receipt))
                case .queued(let ticket):
                    // Kept durably in that node's intake queue; delivered once the cluster takes it.
                    print(try jsonString(["queued": ticket]))
                }
                return 0
            } catch {
                guard let message = answeredError(error) else { throw error }
                FileHandle.standardError.write(Data("hotline submit: \(message)\n".utf8))
                // The node's own call timed out or its node was lost: nothing was decided (it may even have
                // been taken): retry, with the same --external-id, rather than "rejected".
                if case RemoteCallError.relayed(_, let inner) = error, inner.isTimeoutOrUnreachable { return 4 }
                return 3
            }
        }
    }
}

extension SubmitCommand {
    /// Reads until end of file or `count` bytes, whichever comes first (bounded: each read returns at least
    /// one byte or ends the loop).
    static func read(_ handle: FileHandle, atMost count: Int) throws -> Data {
        var data = Data()
        while data.count < count {
            guard let chunk = try handle.read(upToCount: min(64 << 10, count - data.count)), !chunk.isEmpty else { break }
            data.append(chunk)
        }
        return data
    }

    /// The description from `--description TEXT` or `--description-file FILE|-` (exactly one), as UTF-8
    /// text, unchanged.
    ///
    /// At most the description's byte limit (`IntakeText`) plus one byte is read, so `yes |` or `/dev/zero`
    /// cannot exhaust memory.
    ///
    /// - Throws: `UsageError` naming the flag: neither or both given, the file cannot be read, it is larger than
    ///   the description's byte limit, or it is not UTF-8.
    static func description(_ args: Arguments, standardInput: FileHandle) throws -> String {
        switch (args["description"], args["description-file"]) {
        case (let text?, nil):
            return text
        case (nil, let path?):
            let data: Data
            var isDirectory: ObjCBool = false
            if path != "-", FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                throw UsageError("cannot read --description-file \"\(path)\": it is a directory")
            }
            let shown = path == "-" ? "- (standard input)" : "\"\(path)\""
            let limit = IntakeText.limit(.description).bytes
            do {
                guard let handle = path == "-" ? standardInput : FileHandle(forReadingAtPath: path) else {
                    throw UsageError("cannot read --description-file \(shown): it does not exist or is not readable")
                }
                data = try Self.read(handle, atMost: limit + 1)
            } catch let error as UsageError {
                throw error
            } catch {
                let reason = (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
                throw UsageError("cannot read --description-file \(shown): \(reason)")
            }
            guard data.count <= limit else {
                throw UsageError("--description-file \(shown) is larger than the description limit of \(limit) UTF-8 bytes")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw UsageError("--description-file \(shown) is not UTF-8 text")
            }
            return text
        case (nil, nil):
            throw UsageError("--description TEXT or --description-file FILE (- for standard input) is required")
        case (_?, _?):
            throw UsageError("give --description or --description-file, not both")
        }
    }
}

enum CaseCommand {
    static let usage = """
    usage: hotline case ID|NUMBER --node HOST:PORT [--json] [--cluster NAME] [--secret-file FILE]
      Prints a case's current state and its whole event history as JSON (by case id or human number; --json is
      accepted like every people's command, the output is JSON either way).
      Exit 0 found, 3 unknown case (or another refusal), 4 unavailable (the office that may hold it is recovering
      or moving: retry), 1 node unreachable, 2 bad flags.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["node", "cluster", "secret-file"], switches: ["json"])
        guard let key = args.positional.first else { throw UsageError("which case? give its id or number") }
        guard args.positional.count == 1 else { throw UsageError("one case at a time, got \(args.positional.count)") }
        let node = try nodeAddress(args)
        return try await withClient("case", cluster: args["cluster"], secretFile: args["secret-file"]) { system in
            let hotline = try HotlineNode.on(.anyIncarnation(at: node), system: system)
            do {
                print(try jsonString(try await hotline.findCase(key.lowercased().count == 36 ? key.lowercased() : key)))
                return 0
            } catch {
                guard let message = answeredError(error) else { throw error }
                FileHandle.standardError.write(Data("hotline case: \(message)\n".utf8))
                if case HotlineError.unavailable = error { return 4 }
                return 3
            }
        }
    }
}

/// What the node answered when it refused or failed the request (exit 3): a `HotlineError`, a failure of a call
/// the node made itself (`RemoteCallError.relayed`: it was reached and answered), or the message of an error
/// this tool cannot rethrow typed (`remoteError`, e.g. from a node of another version). Nil when the node itself
/// was not reached or did not answer (exit 1, `withClient`).
func answeredError(_ error: any Error) -> String? {
    switch error {
    case let refusal as HotlineError: "\(refusal)"
    case RemoteCallError.relayed: "\(error)"
    case RemoteCallError.remoteError(_, let message): message
    default: nil
    }
}

func nodeAddress(_ args: Arguments) throws -> NodeAddress {
    guard let text = args["node"] else { throw UsageError("--node HOST:PORT is required") }
    guard let address = NodeAddress(parsing: text) else { throw UsageError("invalid --node \"\(text)\": expected HOST:PORT") }
    return address
}

/// Runs `body` with a short-lived client node on an ephemeral loopback port.
/// Runs `body` with a short-lived client node (loopback, ephemeral port) of cluster `cluster` that proves
/// the secret in `secretFile` (none: open, accepted only by open nodes).
func withClient(_ command: String, cluster: String?, secretFile: String?,
                _ body: (ClusterSystem) async throws -> Int32) async throws -> Int32 {
    var settings = ClusterSettings.client("cli", cluster: cluster ?? "hotline")
    // Above the nodes' own wait for a moved office (`HotlineContext.failoverWait`, 15 s) plus their call timeout:
    // a submission during a failover is answered with its outcome, not cut off by this tool.
    settings.callTimeout = .seconds(25)
    settings.transport.auth = try NodeConfig.auth(secretFile: secretFile, previousSecretFile: nil, listen: nil)
    let system = try ClusterSystem(settings: settings, logger: Logger(level: .error))
    defer { system.shutdown() }
    try HotlineError.registerWireErrors(on: system)
    do {
        return try await body(system)
    } catch let error as RemoteCallError {
        FileHandle.standardError.write(Data("hotline \(command): \(error)\n".utf8))
        return 1
    }
}

func jsonString<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

extension RemoteCallError {
    /// A timeout or a lost node, however deeply relayed: the call's outcome is unknown, not a refusal.
    var isTimeoutOrUnreachable: Bool {
        switch self {
        case .timeout, .nodeUnreachable: true
        case .relayed(_, let inner): inner.isTimeoutOrUnreachable
        default: false
        }
    }
}
