import ActorCluster
import Foundation
import Hotline

/// `hotline dispatch queue` and `hotline dispatch classify`: a dispatcher's hands on the classification
/// queue of a running cluster, through any node.
enum DispatchCommand {
    static let usage = """
    usage: hotline dispatch queue --node HOST:PORT [--group CODE] [--cluster NAME] [--secret-file FILE]
           hotline dispatch classify CASE --node HOST:PORT --category CODE --jurisdiction CODE
                                     [--urgency P1|P2|P3] [--kind KIND] [--note TEXT] [--dispatcher NAME]
                                     [--cluster NAME] [--secret-file FILE]
      queue: prints, as JSON, the cases waiting in each dispatch group's classification queue (or in
      --group's): intake's proposal (category, jurisdiction, urgency, the phrases that matched, confidence
      0…1), when the case entered the queue and whether the duty room was alerted (emergency words).
      classify: the dispatcher confirms or corrects the classification of case CASE (id or number,
      e.g. 2026-000123); the case is accepted, routed by the catalogue to the confirmed jurisdiction and
      dispatched; the review (with the fields corrected) is an event of the case. --urgency and --kind
      default to the proposal's. Prints the case's snapshot as JSON.
      Exit 0 done, 3 refused (unknown case or code, not in a classification queue; reason on stderr),
      1 node unreachable, 2 bad flags.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        guard let sub = argv.first else { throw UsageError("queue or classify?\n\(usage)") }
        let rest = Array(argv.dropFirst())
        switch sub {
        case "queue": return try await queue(rest)
        case "classify": return try await classify(rest)
        default: throw UsageError("unknown dispatch command \"\(sub)\": queue or classify")
        }
    }

    static func queue(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["node", "group", "cluster", "secret-file"])
        guard args.positional.isEmpty else { throw UsageError("unexpected argument \"\(args.positional[0])\"") }
        let node = try nodeAddress(args)
        return try await withClient("dispatch queue", cluster: args["cluster"], secretFile: args["secret-file"]) { system in
            let hotline = try HotlineNode.on(.anyIncarnation(at: node), system: system)
            do {
                print(try jsonString(try await hotline.classificationQueues(group: args["group"])))
                return 0
            } catch {
                guard let message = answeredError(error) else { throw error }
                FileHandle.standardError.write(Data("hotline dispatch queue: \(message)\n".utf8))
                return 3
            }
        }
    }

    static func classify(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: ["node", "category", "jurisdiction", "urgency", "kind", "note", "dispatcher",
                                                "cluster", "secret-file"])
        guard let key = args.positional.first else { throw UsageError("which case? give its id or number") }
        guard args.positional.count == 1 else { throw UsageError("one case at a time, got \(args.positional.count)") }
        let node = try nodeAddress(args)
        guard let category = args["category"], !category.isEmpty else { throw UsageError("--category is required") }
        guard let jurisdiction = args["jurisdiction"], !jurisdiction.isEmpty else { throw UsageError("--jurisdiction is required") }
        var urgency: Urgency?
        if let u = args["urgency"] {
            guard let parsed = Urgency(rawValue: u.uppercased()), parsed != .p0 else {
                throw UsageError("invalid --urgency \"\(u)\": P1, P2 or P3 (P0 is transferred to 110/119/120, not dispatched)")
            }
            urgency = parsed
        }
        var kind: CaseKind?
        if let k = args["kind"] {
            guard let parsed = CaseKind(rawValue: k) else {
                throw UsageError("invalid --kind \"\(k)\": one of \(CaseKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kind = parsed
        }
        let caseKey = key.lowercased().count == 36 ? key.lowercased() : key
        return try await withClient("dispatch classify", cluster: args["cluster"], secretFile: args["secret-file"]) { system in
            let hotline = try HotlineNode.on(.anyIncarnation(at: node), system: system)
            do {
                let snapshot = try await hotline.classify(caseKey, category: category, jurisdiction: jurisdiction, urgency: urgency,
                                                          kind: kind, note: args["note"] ?? "",
                                                          dispatcher: args["dispatcher"] ?? "")
                print(try jsonString(snapshot))
                return 0
            } catch {
                guard let message = answeredError(error) else { throw error }
                FileHandle.standardError.write(Data("hotline dispatch classify: \(message)\n".utf8))
                return 3
            }
        }
    }
}
