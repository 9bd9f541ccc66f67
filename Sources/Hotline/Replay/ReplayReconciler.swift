import ActorCluster
import Foundation

/// What the cluster holds at the end of a replay, against what intake acknowledged.
struct ReplayReconciliation: Sendable {
    /// Every case id any district office holds.
    var found: Set<CaseID>
    /// Case status → count, over every office.
    var byStatus: [String: Int]
    /// Distinct cases intake acknowledged (a retry's receipt names the first case).
    var accepted: Int
    /// Acknowledged cases no office holds, and their numbers (sorted).
    var lost: Int
    var lostNumbers: [String]
    /// Cases an office holds that intake never acknowledged.
    var duplicated: Int
    /// The analyst's KPI report over every office's cases, as of the replay's end.
    var kpi: KPIReport
}

/// Reconciles a replay by querying the cluster, never the driver's own bookkeeping: pages every district office's
/// case ids (bounded: at most 10,000 pages of `DistrictOffice.maxIDsPerPage` per office), sums their status
/// counts, and asks the analyst for the KPI report.
struct ReplayReconciler: Sendable {
    let context: HotlineContext
    let system: ClusterSystem

    /// - Parameters:
    ///   - receipts: what intake acknowledged (record index → receipt).
    ///   - asOf: the replay's last virtual instant (the KPI report's "now").
    /// - Throws: `RemoteCallError` / `HotlineError` from an office or the analyst; `HotlineError.routing` when no
    ///   node hosts analysis.
    func reconcile(receipts: [Int: IntakeReceipt], asOf: Date) async throws -> ReplayReconciliation {
        var found = Set<CaseID>()
        var byStatus: [String: Int] = [:]
        for office in try context.allDistrictOffices() {
            var after: CaseID?
            for _ in 0..<10_000 {
                let page = try await office.caseIDs(after: after, limit: DistrictOffice.maxIDsPerPage)
                guard let last = page.last else { break }
                found.formUnion(page)
                after = last
            }
            for (status, n) in try await office.statusCounts() { byStatus[status, default: 0] += n }
        }
        let acceptedIDs = Set(receipts.values.map(\.ref.id))
        let lostIDs = acceptedIDs.subtracting(found)
        let lostNumbers = receipts.values.filter { lostIDs.contains($0.ref.id) }.map(\.ref.number.description).sorted()
        guard let analysisNode = context.directory.analysis else { throw HotlineError.routing("no node hosts analysis now") }
        let kpi = try await Analyst.resolve(id: ClusterSystem.wellKnownID(HotlinePaths.analysis, on: analysisNode), using: system)
            .report(asOf: asOf)
        return ReplayReconciliation(found: found, byStatus: byStatus, accepted: acceptedIDs.count, lost: lostIDs.count,
                                    lostNumbers: lostNumbers,
                                    duplicated: found.subtracting(acceptedIDs).count, kpi: kpi)
    }
}
