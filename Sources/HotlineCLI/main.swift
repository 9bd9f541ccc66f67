import ActorCluster
import Foundation

/// `hotline` — the node process and operator tool of the Hotline cluster.
let topUsage = """
usage: hotline <command> [options]
  replay    the main job: replay a request trace through a local cluster, print KPIs and reconciliation
  node      run a cluster node (see `hotline node --help`)
  submit    send one citizen request to a running cluster (`hotline submit --help`)
  case      show a case's state and event history (`hotline case --help`)
  dispatch  the dispatcher: queues, classify, route, review a reply, decide a return, arbitrate (`hotline dispatch --help`)
  unit      a department's workbench: inbox, sign, reply, progress, return, extend (`hotline unit --help`)
  callback  the callback seat: cases due for a callback, record one (`hotline callback --help`)
  cases     the supervisor's list: cases by status, overdue ones (`hotline cases --help`)
  health    ask a node's admin port whether it is up and ready (`hotline health --help`)
  members   list the cluster's members as a node's admin port reports them (`hotline members --help`)
  placement where each office, group and desk lives now (`hotline placement --help`)
  demo      start two local node processes and make remote calls between them
  bench     measure the runtime: `hotline bench rtt|pipeline|stream|fanout|idle-rss` (JSON output; use a
            release build); `hotline bench compare`: against C, SwiftNIO and Erlang in the same run;
            `hotline bench attack <name>`: a node's RSS and a member's latency under a resource attack
  help      this text
"""

func runMain() async -> Int32 {
    var argv = Array(CommandLine.arguments.dropFirst())
    guard let command = argv.first else {
        FileHandle.standardError.write(Data((topUsage + "\n").utf8))
        return 2
    }
    argv.removeFirst()
    // `--help` / `-h` as the first argument here; elsewhere `Arguments` finds it in a flag position only (so
    // `--external-id -h` is a value, not a help request).
    let wantsHelp = argv.first == "--help" || argv.first == "-h"
    let usage: String? = switch command {
    case "node": NodeCommand.usage
    case "replay": ReplayCommand.usage
    case "submit": SubmitCommand.usage
    case "case": CaseCommand.usage
    case "dispatch": DispatchCommand.usage
    case "unit": UnitCommand.usage
    case "callback": CallbackCommand.usage
    case "cases": CasesCommand.usage
    case "demo": DemoCommand.usage
    case "health": AdminCommands.healthUsage
    case "members": AdminCommands.membersUsage
    case "placement": AdminCommands.placementUsage
    case "bench": BenchCommand.usage
    default: nil
    }
    do {
        switch command {
        case "node":
            if wantsHelp { print(NodeCommand.usage); return 0 }
            return try await NodeCommand.run(argv)
        case "replay":
            if wantsHelp { print(ReplayCommand.usage); return 0 }
            return try await ReplayCommand.run(argv)
        case "submit":
            if wantsHelp { print(SubmitCommand.usage); return 0 }
            return try await SubmitCommand.run(argv)
        case "case":
            if wantsHelp { print(CaseCommand.usage); return 0 }
            return try await CaseCommand.run(argv)
        case "dispatch":
            if wantsHelp { print(DispatchCommand.usage); return 0 }
            return try await DispatchCommand.run(argv)
        case "unit":
            if wantsHelp { print(UnitCommand.usage); return 0 }
            return try await UnitCommand.run(argv)
        case "callback":
            if wantsHelp { print(CallbackCommand.usage); return 0 }
            return try await CallbackCommand.run(argv)
        case "cases":
            if wantsHelp { print(CasesCommand.usage); return 0 }
            return try await CasesCommand.run(argv)
        case "health":
            if wantsHelp { print(AdminCommands.healthUsage); return 0 }
            return try AdminCommands.health(argv)
        case "members":
            if wantsHelp { print(AdminCommands.membersUsage); return 0 }
            return try AdminCommands.members(argv)
        case "placement":
            if wantsHelp { print(AdminCommands.placementUsage); return 0 }
            return try AdminCommands.placement(argv)
        case "demo":
            if wantsHelp { print(DemoCommand.usage); return 0 }
            return try await DemoCommand.run(argv)
        case "bench":
            if wantsHelp { print(BenchCommand.usage); return 0 }
            return try await BenchCommand.run(argv)
        case "help", "--help", "-h":
            print(topUsage)
            return 0
        default:
            throw UsageError("unknown command \"\(command)\"\n\(topUsage)")
        }
    } catch is HelpRequested {
        print(usage ?? topUsage)
        return 0
    } catch let error as UsageError {
        FileHandle.standardError.write(Data("hotline \(command): \(error.message)\n".utf8))
        return 2
    } catch {
        FileHandle.standardError.write(Data("hotline \(command): \(error)\n".utf8))
        return 1
    }
}

exit(await runMain())
