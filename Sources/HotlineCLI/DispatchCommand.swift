import ActorCluster
import Foundation
import Hotline

/// `hotline dispatch`: a dispatcher's hands on a running cluster, through any node — the queues, classification,
/// routing, reviews of replies, decisions on returns and arbitration.
enum DispatchCommand {
    static let usage = """
    usage: hotline dispatch queue --node HOST:PORT [--group CODE] [--json] [--cluster NAME] [--secret-file FILE]
           hotline dispatch classify CASE --node HOST:PORT --category CODE --jurisdiction CODE
                                     [--urgency P1|P2|P3] [--kind KIND] [--note TEXT] [--dispatcher NAME]
                                     [--cluster NAME] [--secret-file FILE]
           hotline dispatch route CASE [--lead UNIT] [--co UNIT,...] [--dispatcher NAME] --node HOST:PORT [--json] ...
           hotline dispatch review CASE (--accept | --reject) [--note TEXT] --node HOST:PORT [--json] ...
           hotline dispatch return CASE (--approve | --reject) [--note TEXT] --node HOST:PORT [--json] ...
           hotline dispatch arbitrate CASE --lead UNIT [--note TEXT] [--dispatcher NAME] --node HOST:PORT [--json] ...
           hotline dispatch extension CASE (--approve | --deny) --reason TEXT [--dispatcher NAME] --node HOST:PORT [--json] ...
      queue: what waits for a dispatcher, in each dispatch group (or --group's): the classification queue
      (intake's proposal, its confidence, whether the duty room was alerted), then the cases pending dispatch
      and the returns awaiting a decision or arbitration. A table; JSON with --json
      ({"classification": [...], "dispatch": {...}}).
      classify: the dispatcher confirms or corrects the classification of case CASE (id or number,
      e.g. 2026-000123); the case is accepted, routed by the catalogue to the confirmed jurisdiction and
      dispatched; the review (with the fields corrected) is an event of the case. --urgency and --kind
      default to the proposal's. Prints the case's snapshot as JSON.
      route: dispatches a case pending dispatch (after an approved return) by the catalogue, or to
      --lead UNIT (the catalogue's lead is recorded as overridden), with the co-handlers --co UNIT,... (default:
      the catalogue's). A functional matter (catalogue) is refused to a sub-district or
      community unit, as lead or co-handler, with the reason. Intake dispatches classified requests itself, so a
      new case is already dispatched.
      review: accepts the lead unit's reply (the case waits for its callback) or rejects it (reopened and
      dispatched again to the same units). return: approves the lead's first return (the case waits for
      dispatch) or rejects it (back to the unit). arbitrate: a second return is decided only by arbitration —
      a binding dispatch to --lead UNIT, which cannot return it again. extension: decides the lead unit's
      pending request for more time (`hotline unit extend`): approved → its reply deadline moves by the time
      asked; denied → it stays.
      route, review, return, arbitrate, extension print the case's line after the step (JSON snapshot with --json).
      Exit 0 done, 3 refused (unknown case, unit or code, a step the workflow refuses; reason on stderr),
      1 node unreachable, 2 bad flags.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        guard let sub = argv.first else { throw UsageError("queue, classify, route, review, return, arbitrate or extension?\n\(usage)") }
        let rest = Array(argv.dropFirst())
        switch sub {
        case "queue": return try await queue(rest)
        case "classify": return try await classify(rest)
        case "route":
            let args = try Arguments(rest, valued: People.common.union(["lead", "co", "dispatcher"]), switches: ["json"])
            let key = try People.caseKey(args)
            let lead = args["lead"]
            if let lead, lead.isEmpty { throw UsageError("--lead needs a unit code") }
            let co = args["co"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            let dispatcher = args["dispatcher"] ?? ""
            return try await People.run("dispatch route", args, { node in
                if let co { return try await node.dispatchCase(key, lead: lead, coUnits: co, dispatcher: dispatcher) }
                return try await node.dispatchCase(key, lead: lead, dispatcher: dispatcher)
            }, text: People.text)
        case "review":
            let args = try Arguments(rest, valued: People.common.union(["note"]), switches: ["json", "accept", "reject"])
            let key = try People.caseKey(args)
            let accepted = try People.one(of: ["accept", "reject"], args) == "accept"
            let note = args["note"] ?? ""
            return try await People.run("dispatch review", args, { try await $0.reviewReply(key, accepted: accepted, note: note) },
                                        text: People.text)
        case "return":
            let args = try Arguments(rest, valued: People.common.union(["note"]), switches: ["json", "approve", "reject"])
            let key = try People.caseKey(args)
            let approved = try People.one(of: ["approve", "reject"], args) == "approve"
            let note = args["note"] ?? ""
            return try await People.run("dispatch return", args, { try await $0.decideReturn(key, approved: approved, note: note) },
                                        text: People.text)
        case "arbitrate":
            let args = try Arguments(rest, valued: People.common.union(["lead", "note", "dispatcher"]), switches: ["json"])
            let key = try People.caseKey(args)
            let lead = try People.required(args, "lead")
            let note = args["note"] ?? ""
            let arbiter = args["dispatcher"] ?? ""
            return try await People.run("dispatch arbitrate", args, { try await $0.arbitrate(key, lead: lead, note: note, arbiter: arbiter) },
                                        text: People.text)
        case "extension":
            let args = try Arguments(rest, valued: People.common.union(["reason", "dispatcher"]), switches: ["json", "approve", "deny"])
            let key = try People.caseKey(args)
            let approved = try People.one(of: ["approve", "deny"], args) == "approve"
            let reason = try People.required(args, "reason")
            let staff = args["dispatcher"] ?? ""
            return try await People.run("dispatch extension", args, { try await $0.decideExtension(key, approved: approved, note: reason, by: staff) },
                                        text: People.text)
        default: throw UsageError("unknown dispatch command \"\(sub)\": queue, classify, route, review, return, arbitrate or extension")
        }
    }

    /// What `dispatch queue --json` prints.
    struct Queues: Codable, Sendable {
        var classification: [ClassificationQueue]
        var dispatch: Worklist
    }

    static func queue(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: People.common.union(["group"]), switches: ["json"])
        try People.noPositional(args)
        let group = args["group"]
        return try await People.run("dispatch queue", args, { node in
            Queues(classification: try await node.classificationQueues(group: group),
                   dispatch: try await node.worklist(.dispatchQueue(group: group)))
        }) { q in
            let waiting = q.classification.flatMap { c in c.entries.map { (c.group, $0) } }
            var out = "Classification queue\n"
            out += waiting.isEmpty ? "(none)" : People.table(
                ["GROUP", "CASE", "PROPOSED CATEGORY", "PLACE", "URG", "CONFIDENCE", "DUTY ROOM", "QUEUED", "SUMMARY"],
                waiting.map { g, e in
                    [g, e.ref.number.description, e.proposal.category ?? "-", e.proposal.jurisdiction ?? "-",
                     e.proposal.urgency.rawValue, String(format: "%.2f", e.proposal.confidence), e.dutyRoomAlerted ? "alerted" : "-",
                     People.time(e.queuedAt), e.summary.count > 40 ? String(e.summary.prefix(39)) + "…" : e.summary]
                })
            let unanswered = q.classification.flatMap(\.unanswered)
            if !unanswered.isEmpty { out += "\n(these district offices did not answer: \(unanswered.joined(separator: ", ")))" }
            out += "\n\nPending dispatch and returns\n"
            out += People.text(q.dispatch, columns: [.number, .waiting, .status, .lead, .category, .urgency, .since, .summary])
            return out
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
