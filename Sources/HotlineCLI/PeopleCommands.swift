import ActorCluster
import Foundation
import Hotline

/// What the people's commands (`unit`, `dispatch`, `callback`, `cases`) share: reaching the cluster through
/// any node, exit codes, and readable tables (JSON with `--json`).
enum People {
    /// The flags every people's command takes.
    static let common: Set<String> = ["node", "cluster", "secret-file"]

    /// Runs `body` against the hotline node at `--node`; prints what it returns (`text` unless `--json`).
    /// Exit 0 done, 3 refused (the node's reason on stderr), 1 node unreachable.
    static func run<T: Encodable & Sendable>(_ command: String, _ args: Arguments,
                                             _ body: @Sendable (HotlineNode) async throws -> T,
                                             text: (T) -> String) async throws -> Int32 {
        let node = try nodeAddress(args)
        let json = args.has("json")
        return try await withClient(command, cluster: args["cluster"], secretFile: args["secret-file"]) { system in
            let hotline = try HotlineNode.on(.anyIncarnation(at: node), system: system)
            do {
                let value = try await body(hotline)
                print(json ? try jsonString(value) : text(value))
                return 0
            } catch {
                guard let message = answeredError(error) else { throw error }
                FileHandle.standardError.write(Data("hotline \(command): \(message)\n".utf8))
                return 3
            }
        }
    }

    /// The one case the command acts on (a case id is matched lowercased). Throws `UsageError`.
    static func caseKey(_ args: Arguments) throws -> String {
        guard let key = args.positional.first else { throw UsageError("which case? give its id or number") }
        guard args.positional.count == 1 else { throw UsageError("one case at a time, got \(args.positional.count)") }
        return key.lowercased().count == 36 ? key.lowercased() : key
    }

    static func noPositional(_ args: Arguments) throws {
        if let extra = args.positional.first { throw UsageError("unexpected argument \"\(extra)\"") }
    }

    /// A required non-empty flag. Throws `UsageError`.
    static func required(_ args: Arguments, _ flag: String) throws -> String {
        guard let v = args[flag], !v.trimmingCharacters(in: .whitespaces).isEmpty else { throw UsageError("--\(flag) is required") }
        return v
    }

    /// Exactly one of `choices` (switches), by name. Throws `UsageError`.
    static func one(of choices: [String], _ args: Arguments) throws -> String {
        let given = choices.filter { args.has($0) }
        guard given.count == 1 else {
            throw UsageError(given.isEmpty ? "give one of " + choices.map { "--\($0)" }.joined(separator: ", ")
                             : "give only one of " + given.map { "--\($0)" }.joined(separator: ", "))
        }
        return given[0]
    }

    /// `2026-12-01 09:30Z` (UTC, minutes), or `-`.
    static func time(_ d: Date?) -> String {
        guard let d else { return "-" }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm'Z'"
        return f.string(from: d)
    }

    /// Columns padded to their widest cell (by characters), two spaces apart.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// A worklist as a table, with its clock and the offices that did not answer.
    static func text(_ list: Worklist, columns: [WorklistColumn]) -> String {
        var out = list.entries.isEmpty ? "(none)" : table(columns.map(\.title), list.entries.map { e in columns.map { $0.cell(e) } })
        out += "\n\(list.entries.count) case(s) as of \(time(list.asOf))"
        if !list.unanswered.isEmpty { out += "; these district offices did not answer: \(list.unanswered.joined(separator: ", "))" }
        return out
    }

    /// A case after a step, one line.
    static func text(_ s: CaseSnapshot) -> String {
        "case \(s.number)  status \(s.status.rawValue)  lead \(s.leadUnit ?? "-")  office \(s.jurisdiction ?? "-")  events \(s.eventCount)"
    }
}

/// A column of a worklist table.
enum WorklistColumn {
    case number, status, waiting, unit, lead, category, urgency, signDue, handleDue, callbackDue, overdue, level, since, summary
    case delivered

    var title: String {
        switch self {
        case .number: "CASE"
        case .status: "STATUS"
        case .waiting: "WAITING FOR"
        case .unit: "UNIT"
        case .lead: "LEAD"
        case .category: "CATEGORY"
        case .urgency: "URG"
        case .signDue: "SIGN DUE"
        case .handleDue: "REPLY DUE"
        case .callbackDue: "CALLBACK DUE"
        case .overdue: "OVERDUE"
        case .level: "SUPERVISION"
        case .since: "SINCE"
        case .summary: "SUMMARY"
        case .delivered: "DELIVERED"
        }
    }

    func cell(_ e: WorklistEntry) -> String {
        switch self {
        case .number: e.number.description
        case .status: e.status.rawValue
        case .waiting: e.waitingFor
        case .unit: e.unit ?? "-"
        case .lead: e.leadUnit ?? "-"
        case .category: e.category ?? "-"
        case .urgency: e.urgency?.rawValue ?? "-"
        case .signDue: People.time(e.signDue)
        case .handleDue: People.time(e.handleDue)
        case .callbackDue: People.time(e.callbackDue)
        case .overdue: e.overdue ? "yes" : "no"
        case .level: e.supervisionLevel.map { "level \($0)" } ?? "-"
        case .since: People.time(e.since)
        case .summary: e.summary
        case .delivered: e.delivery.map { p in
            "\(p.delivered) of \(p.total)" + (p.pendingUnits.isEmpty ? "" : " (waiting: \(p.pendingUnits.joined(separator: ", "))"
                + (p.lastFailure.map { "; \(p.failedAttempts) failed, last: \($0)" } ?? "") + ")")
        } ?? "-"
        }
    }
}

/// `hotline unit`: a department's workbench.
enum UnitCommand {
    static let usage = """
    usage: hotline unit inbox --unit CODE --node HOST:PORT [--json] [--cluster NAME] [--secret-file FILE]
           hotline unit sign CASE --unit CODE --node HOST:PORT [--json] ...
           hotline unit reply CASE --unit CODE --text TEXT --node HOST:PORT [--json] ...
           hotline unit progress CASE --unit CODE --text TEXT --node HOST:PORT [--json] ...
           hotline unit return CASE --unit CODE --reason TEXT --node HOST:PORT [--json] ...
           hotline unit extend CASE --unit CODE (--hours N | --days N) --reason TEXT --node HOST:PORT [--json] ...
      inbox: the unit's assignments of the current dispatch round awaiting its sign or its reply, with
      their deadlines (UTC), soonest first; overdue ones say so. sign / reply / progress / return / extend:
      the unit acts on its assignment of case CASE (id or number): signs for it, replies (the lead's reply
      then awaits the dispatcher's review), reports progress, returns it as mis-routed (the dispatcher
      decides; a second return goes to arbitration), or asks for N more natural hours or N working days
      (before the reply deadline; the hotline decides). Prints a table or the line of the case after the
      step; JSON with --json. Exit 0 done, 3 refused (unknown case, no assignment of that unit, a step the
      workflow refuses; reason on stderr), 1 node unreachable, 2 bad flags.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        guard let sub = argv.first else { throw UsageError("inbox, sign, reply, progress, return or extend?\n\(usage)") }
        guard ["inbox", "sign", "reply", "progress", "return", "extend"].contains(sub) else {
            throw UsageError("unknown unit command \"\(sub)\": inbox, sign, reply, progress, return or extend")
        }
        let rest = Array(argv.dropFirst())
        let args = try Arguments(rest, valued: People.common.union(["unit", "text", "reason", "hours", "days"]), switches: ["json"])
        let unit = try People.required(args, "unit")
        if sub == "inbox" {
            try People.noPositional(args)
            return try await People.run("unit inbox", args, { try await $0.worklist(.unitInbox(unit: unit)) }) {
                People.text($0, columns: [.number, .waiting, .status, .category, .urgency, .signDue, .handleDue, .overdue, .level, .summary])
            }
        }
        let action: UnitAction
        switch sub {
        case "sign": action = .sign
        case "reply": action = .reply(text: try People.required(args, "text"))
        case "progress": action = .progress(note: try People.required(args, "text"))
        case "return": action = .returnCase(reason: try People.required(args, "reason"))
        case "extend":
            let reason = try People.required(args, "reason")
            switch (try args.int("hours", in: 1...8_760), try args.int("days", in: 1...365)) {
            case (let h?, nil): action = .requestExtension(extra: .naturalHours(h), reason: reason)
            case (nil, let d?): action = .requestExtension(extra: .workingDays(d), reason: reason)
            case (nil, nil): throw UsageError("--hours N (natural hours) or --days N (working days) is required")
            default: throw UsageError("give --hours or --days, not both")
            }
        default: throw UsageError("unknown unit command \"\(sub)\": inbox, sign, reply, progress, return or extend")
        }
        let key = try People.caseKey(args)
        return try await People.run("unit \(sub)", args, { try await $0.unitAct(key, unit: unit, action: action) }, text: People.text)
    }
}

/// `hotline callback`: the callback seat.
enum CallbackCommand {
    static let usage = """
    usage: hotline callback due --node HOST:PORT [--json] [--cluster NAME] [--secret-file FILE]
           hotline callback record CASE (--satisfied | --basically-satisfied | --dissatisfied) [--unresolved]
                                   --node HOST:PORT [--json] ...
           hotline callback record CASE --unreachable [--note TEXT] --node HOST:PORT [--json] ...
      due: the cases whose reply was accepted and whose citizen must be called back, by callback deadline
      (UTC). record: one callback attempt on case CASE (id or number). Reached: satisfied or basically
      satisfied (and resolved) → closed; dissatisfied, or --unresolved → reopened and dispatched again to
      the same units. --unreachable: an attempt that did not reach the citizen (closed as unreachable after
      the configured number of attempts, never counted as satisfied). Prints the case after the attempt;
      JSON with --json. Exit 0 done, 3 refused (unknown case, not pending callback), 1 node unreachable,
      2 bad flags.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        guard let sub = argv.first else { throw UsageError("due or record?\n\(usage)") }
        let rest = Array(argv.dropFirst())
        switch sub {
        case "due":
            let args = try Arguments(rest, valued: People.common, switches: ["json"])
            try People.noPositional(args)
            return try await People.run("callback due", args, { try await $0.worklist(.callbackDue) }) {
                People.text($0, columns: [.number, .callbackDue, .lead, .category, .since, .summary])
            }
        case "record":
            let args = try Arguments(rest, valued: People.common.union(["note"]),
                                     switches: ["json", "satisfied", "basically-satisfied", "dissatisfied", "unresolved", "unreachable"])
            let key = try People.caseKey(args)
            let outcome: CallbackOutcome
            switch try People.one(of: ["satisfied", "basically-satisfied", "dissatisfied", "unreachable"], args) {
            case "unreachable":
                if args.has("unresolved") { throw UsageError("--unresolved needs a citizen reached, not --unreachable") }
                outcome = .unreachable(note: args["note"] ?? "")
            case let s:
                let satisfaction: Satisfaction = s == "satisfied" ? .satisfied : (s == "dissatisfied" ? .unsatisfied : .basicallySatisfied)
                outcome = .reached(evaluation: CallbackEvaluation(resolved: !args.has("unresolved"), satisfaction: satisfaction))
            }
            return try await People.run("callback record", args, { try await $0.callBack(key, outcome: outcome) }, text: People.text)
        default:
            throw UsageError("unknown callback command \"\(sub)\": due or record")
        }
    }
}

/// `hotline cases`: the supervisor's list.
enum CasesCommand {
    static let usage = """
    usage: hotline cases [--status STATUS] [--overdue] [--undelivered] --node HOST:PORT [--json] [--cluster NAME] [--secret-file FILE]
           hotline cases --handover [--since TIME] --node HOST:PORT [--json] ...
      Lists the cluster's cases (every district office), by case number: their status, what each waits
      for, the lead unit, its deadlines (UTC), whether an assignment is overdue now and the supervision level
      reached. --status: only cases in that status (draft, pendingDispatch, dispatched, inProgress,
      returnReview, replied, pendingCallback, reopened, closed, ...); --overdue: only cases with an overdue
      assignment. DELIVERED: "k of n" — how many of the current round's units (lead and co-handlers) have
      the case. --undelivered: only open cases whose lead or a co-handler still waits for delivery (a unit's
      external system failed; the office retries with backoff), with the units waiting and the failed
      attempts; not with --status or --overdue. --handover: the shift-handover list for the shift leader —
      open P1 cases, unacknowledged duty-room alerts, overdue and unsigned assignments, overdue callbacks (P1
      first, then overdue), with why each is listed; --since TIME (ISO 8601, e.g. 2026-03-02T08:00:00+08:00:
      the start of the shift that ends) marks NEW what arose since. JSON with --json. Exit 0, 3 refused, 1 node
      unreachable,
      2 bad flags.
    """

    static func run(_ argv: [String]) async throws -> Int32 {
        let args = try Arguments(argv, valued: People.common.union(["status", "since"]), switches: ["json", "overdue", "handover", "undelivered"])
        try People.noPositional(args)
        if args.has("handover") { return try await handover(args) }
        if args["since"] != nil { throw UsageError("--since goes with --handover") }
        var status: CaseStatus?
        if let s = args["status"] {
            guard let parsed = CaseStatus(rawValue: s) else {
                throw UsageError("invalid --status \"\(s)\": one of \(CaseStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = parsed
        }
        if args.has("undelivered") {
            guard status == nil, !args.has("overdue") else { throw UsageError("--undelivered lists open cases awaiting delivery; give it alone") }
            return try await People.run("cases", args, { try await $0.worklist(.undelivered) }) {
                People.text($0, columns: [.number, .status, .lead, .delivered, .since, .summary])
            }
        }
        let query = WorklistQuery.cases(status: status, overdueOnly: args.has("overdue"))
        return try await People.run("cases", args, { try await $0.worklist(query) }) {
            People.text($0, columns: [.number, .status, .waiting, .lead, .delivered, .signDue, .handleDue, .overdue, .level, .summary])
        }
    }

    /// `hotline cases --handover [--since TIME]`.
    static func handover(_ args: Arguments) async throws -> Int32 {
        if args["status"] != nil || args.has("overdue") { throw UsageError("--handover lists by its own rules: no --status or --overdue") }
        var since: Date?
        if let text = args["since"] {
            let f = ISO8601DateFormatter()
            guard let parsed = f.date(from: text) else {
                throw UsageError("invalid --since \"\(text)\": an ISO 8601 time such as 2026-03-02T08:00:00+08:00")
            }
            since = parsed
        }
        let start = since
        return try await People.run("cases --handover", args, { try await $0.handover(since: start) }) { h in
            var out = h.entries.isEmpty ? "(nothing to hand over)" : People.table(
                ["CASE", "WHY", "NEW", "STATUS", "WAITING FOR", "LEAD", "URG", "SIGN DUE", "REPLY DUE", "SUPERVISION", "SUMMARY"],
                h.entries.map { e in
                    [e.entry.number.description, e.reasons.map(\.rawValue).joined(separator: ", "), e.new ? "new" : "-",
                     e.entry.status.rawValue, e.entry.waitingFor, e.entry.leadUnit ?? "-", e.entry.urgency?.rawValue ?? "-",
                     People.time(e.entry.signDue), People.time(e.entry.handleDue),
                     e.entry.supervisionLevel.map { "level \($0)" } ?? "-", e.entry.summary]
                })
            out += "\n\(h.entries.count) case(s) to hand over as of \(People.time(h.asOf))"
            if let since = h.since { out += "; new since \(People.time(since))" }
            if !h.unanswered.isEmpty { out += "; these district offices did not answer: \(h.unanswered.joined(separator: ", "))" }
            return out
        }
    }
}
