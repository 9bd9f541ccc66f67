import ActorCluster
import Foundation

/// `hotline health` / `members` / `placement`: ask a node's admin port (`hotline node --admin`).
enum AdminCommands {
    static let healthUsage = """
    usage: hotline health --admin HOST:PORT [--admin-token-file FILE] [--json]
      Asks a node's admin port for /health and /ready and prints them as a table (--json: one JSON object
      {"health": …, "ready": …}). Exit 0 when the node is up and ready, 3 when up but not ready, 1 when it
      cannot be asked, 2 for bad flags.
    """

    static let membersUsage = """
    usage: hotline members --admin HOST:PORT [--admin-token-file FILE] [--json]
      Asks a node's admin port for /cluster/members: every member as this node's gossip membership lists it
      (name, address, uid, status, incarnation, roles, reachability, ms since last heard), and whether this
      node's side holds the quorum. --json prints the answer as is.
      Exit 0, 1 when the node cannot be asked, 2 for bad flags.
    """

    static let placementUsage = """
    usage: hotline placement --admin HOST:PORT [--admin-token-file FILE] [--json]
      Asks a node's admin port for /cluster/placement: where every district office, dispatch group and desk
      lives now as that node places it, with its epoch (raised by every move) and whether it is at home.
      Exit 0, 1 when the node cannot be asked or is not configured, 2 for bad flags.
    """

    static let flags: Set<String> = ["admin", "admin-token-file"]

    private static func target(_ argv: [String]) throws -> (NodeAddress, [UInt8]?, json: Bool) {
        let args = try Arguments(argv, valued: flags, switches: ["json"])
        if let extra = args.positional.first { throw UsageError("unexpected argument \"\(extra)\"") }
        guard let text = args["admin"] else { throw UsageError("--admin HOST:PORT is required") }
        let address = try NodeConfig.seed(text, field: "--admin")
        var token: [UInt8]?
        if let file = args["admin-token-file"] {
            do { token = try ClusterAuth.readSecret(path: file) } catch { throw UsageError("invalid --admin-token-file: \(error)") }
        }
        return (address, token, args.has("json"))
    }

    private static func get(_ path: String, _ address: NodeAddress, _ token: [UInt8]?) throws -> AdminClient.Response {
        do {
            return try AdminClient.request("GET", path, at: address, token: token)
        } catch {
            throw CommandFailure("cannot ask \(address)\(path): \(error)")
        }
    }

    private static func object(_ r: AdminClient.Response) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:]
    }

    static func health(_ argv: [String]) throws -> Int32 {
        let (address, token, json) = try target(argv)
        let health = try get("/health", address, token)
        let ready = try get("/ready", address, token)
        if json {
            print("{\"health\":\(health.text.trimmingCharacters(in: .whitespacesAndNewlines)),\"ready\":\(ready.text.trimmingCharacters(in: .whitespacesAndNewlines))}")
        } else {
            let h = object(health), r = object(ready)
            guard health.status == 200 else {
                throw CommandFailure("\(address)/health answered \(health.status): \(h["error"] ?? health.text)")
            }
            let uptime = (h["uptimeMs"] as? Int).map { String(format: "%.1f s", Double($0) / 1000) } ?? "?"
            let readyText = ready.status == 200 ? "yes" : "no (\(ready.status))"
            print(table([["status", "\(h["status"] ?? "?")"], ["name", "\(h["name"] ?? "?")"], ["node", "\(h["node"] ?? "?")"],
                         ["uid", "\(h["uid"] ?? "?")"], ["uptime", uptime], ["ready", readyText],
                         ["detail", "\(r["detail"] ?? r["error"] ?? "")"]]))
        }
        guard health.status == 200 else { return 1 }
        return ready.status == 200 ? 0 : 3
    }

    static func members(_ argv: [String]) throws -> Int32 {
        let (address, token, json) = try target(argv)
        let answer = try get("/cluster/members", address, token)
        guard answer.status == 200 else {
            throw CommandFailure("\(address)/cluster/members answered \(answer.status): \(object(answer)["error"] ?? answer.text)")
        }
        if json {
            print(answer.text.trimmingCharacters(in: .whitespacesAndNewlines))
            return 0
        }
        let o = object(answer)
        var rows = [["NAME", "ADDRESS", "UID", "STATUS", "INC", "REACHABILITY", "HEARD", "ROLES"]]
        for m in o["members"] as? [[String: Any]] ?? [] {
            let heard = (m["lastHeardMs"] as? Int).map { $0 < 0 ? "never" : "\($0) ms" } ?? "?"
            let me = (m["isSelf"] as? Bool) == true
            rows.append(["\(m["name"] ?? "?")\(me ? " (self)" : "")", "\(m["address"] ?? "?")", "\(m["uid"] ?? "?")",
                         "\(m["status"] ?? "?")", "\(m["incarnation"] ?? "?")", "\(m["reachability"] ?? "?")",
                         me ? "-" : heard, ((m["roles"] as? [String]) ?? []).joined(separator: ",").ifEmpty("(all)")])
        }
        print(table(rows))
        if let quorum = o["hasQuorum"] as? Bool {
            print("quorum: \(quorum ? "yes" : "NO (this side does not hold the majority: it hosts no office or group)")")
        } else {
            print("membership: \(o["membership"] ?? "?") (\(o["note"] ?? ""))")
        }
        return 0
    }

    static func placement(_ argv: [String]) throws -> Int32 {
        let (address, token, json) = try target(argv)
        let answer = try get("/cluster/placement", address, token)
        guard answer.status == 200 else {
            throw CommandFailure("\(address)/cluster/placement answered \(answer.status): \(object(answer)["error"] ?? answer.text)")
        }
        if json {
            print(answer.text.trimmingCharacters(in: .whitespacesAndNewlines))
            return 0
        }
        var rows = [["KEY", "NODE", "EPOCH", "HOME"]]
        for a in object(answer)["placement"] as? [[String: Any]] ?? [] {
            rows.append(["\(a["key"] ?? "?")", "\(a["node"] ?? "-")", "\(a["epoch"] ?? "?")", (a["atHome"] as? Bool) == true ? "yes" : "no"])
        }
        print(table(rows))
        return 0
    }

    /// Rows as left-aligned columns separated by two spaces (trailing spaces trimmed).
    static func table(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n")
    }
}

/// A command that ran but failed (exit 1, message on stderr).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    /// `other` when this string is empty.
    func ifEmpty(_ other: String) -> String { isEmpty ? other : self }
}
