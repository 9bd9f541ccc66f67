import ActorCluster
import Distributed
import Foundation

/// Review and analysis (`/hotline/analysis`): KPI reports over every case in the cluster.
public distributed actor Analyst {
    public typealias ActorSystem = ClusterSystem

    private let context: HotlineContext

    public init(context: HotlineContext) {
        self.context = context
        self.actorSystem = context.system
    }

    /// Collects every district office's event logs and computes the KPI report as of `asOf`
    /// (default: now on this node's clock).
    public distributed func report(asOf: Date?) async throws -> KPIReport {
        let logs = try await allEvents()
        return KPIReport.compute(logs: logs, asOf: asOf ?? context.now, settings: context.settings)
    }

    /// Bytes of encoded events asked for per page at most (`DistrictOffice.eventLogs(after:maxBytes:)`); less
    /// when a quarter of this node's frame limit is smaller.
    public static let pageBytes = 1 << 20

    /// Every case's events from every district office, paged by bytes. Not distributed: the whole cluster's
    /// history does not fit one reply; remote callers ask for the report.
    func allEvents() async throws -> [[CaseEvent]] {
        let offices = try context.allDistrictOffices()
        // A page must also fit this node's own frame limit (the reply comes here).
        let pageBytes = max(1 << 10, min(Self.pageBytes, actorSystem.settings.transport.maxFrameBytes / 4))
        return try await withThrowingTaskGroup(of: [[CaseEvent]].self) { group in
            for office in offices {
                group.addTask {
                    var logs: [[CaseEvent]] = []
                    var after: CaseID?
                    // Bounded: every page holds at least one case, and an office holds far fewer than this.
                    for _ in 0..<10_000_000 {
                        let page = try await office.eventLogs(after: after, maxBytes: pageBytes)
                        guard let last = page.last?.first?.caseID else { break }
                        logs += page
                        after = last
                    }
                    return logs
                }
            }
            var all: [[CaseEvent]] = []
            for try await part in group { all += part }
            return all
        }
    }
}
