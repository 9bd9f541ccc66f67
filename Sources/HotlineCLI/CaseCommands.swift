import ActorCluster
import Foundation
import Hotline

/// `hotline submit` and `hotline case`: an operator's hands on a running cluster, through any node.
enum SubmitCommand {
    static let usage = """
    usage: hotline submit --node HOST:PORT --category CODE --jurisdiction CODE --description TEXT
                          [--channel CODE] [--external-id ID] [--kind KIND] [--urgency P0|P1|P2|P3]
                          [--name NAME] [--phone PHONE] [--address TEXT] [--cluster NAME]
      Sends one citizen request to the cluster's intake desk through the node at HOST:PORT and prints
      the receipt as JSON. Channel defaults to "cli". Kinds: consultation, help, complaint, report,
      suggestion, praise. Exit 0 accepted, 3 rejected (reason on stderr), 1 node unreachable, 2 bad flags.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["node", "category", "jurisdiction", "description", "channel",
                                                "external-id", "kind", "urgency", "name", "phone", "address", "cluster"])
        let node = try nodeAddress(args)
        guard let category = args["category"] else { throw UsageError("--category is required") }
        guard let jurisdiction = args["jurisdiction"] else { throw UsageError("--jurisdiction is required") }
        guard let description = args["description"] else { throw UsageError("--description is required") }
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
                                     contactPhone: args["phone"])
        return try await withClient("submit", cluster: args["cluster"]) { system in
            let hotline = try HotlineNode.on(.anyIncarnation(at: node), system: system)
            do {
                let receipt = try await hotline.submit(request)
                print(try jsonString(receipt))
                return 0
            } catch RemoteCallError.remoteError(_, let message) {
                FileHandle.standardError.write(Data("hotline submit: \(message)\n".utf8))
                return 3
            }
        }
    }
}

enum CaseCommand {
    static let usage = """
    usage: hotline case ID|NUMBER --node HOST:PORT [--cluster NAME]
      Prints a case's current state and its whole event history as JSON (by case id or human number).
      Exit 0 found, 3 unknown case, 1 node unreachable, 2 bad flags.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["node", "cluster"])
        guard let key = args.positional.first else { throw UsageError("which case? give its id or number") }
        guard args.positional.count == 1 else { throw UsageError("one case at a time, got \(args.positional.count)") }
        let node = try nodeAddress(args)
        return try await withClient("case", cluster: args["cluster"]) { system in
            let hotline = try HotlineNode.on(.anyIncarnation(at: node), system: system)
            do {
                print(try jsonString(try await hotline.findCase(key.lowercased().count == 36 ? key.lowercased() : key)))
                return 0
            } catch RemoteCallError.remoteError(_, let message) {
                FileHandle.standardError.write(Data("hotline case: \(message)\n".utf8))
                return 3
            }
        }
    }
}

func nodeAddress(_ args: Arguments) throws -> NodeAddress {
    guard let text = args["node"] else { throw UsageError("--node HOST:PORT is required") }
    guard let address = NodeAddress(parsing: text) else { throw UsageError("invalid --node \"\(text)\": expected HOST:PORT") }
    return address
}

/// Runs `body` with a short-lived client node on an ephemeral loopback port.
func withClient(_ command: String, cluster: String?, _ body: (ClusterSystem) async throws -> Int32) async throws -> Int32 {
    let settings = ClusterSettings.client("cli", cluster: cluster ?? "hotline")
    let system = try ClusterSystem(settings: settings, logger: Logger(level: .error))
    defer { system.shutdown() }
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
