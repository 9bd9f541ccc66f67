import Foundation

/// A KPI report: overall figures, breakdowns by dimension, and the logs that could not be used.
/// Render with `textTable()` for people, `jsonData()` for machines.
public struct KPIReport: Hashable, Codable, Sendable {
    /// Reference instant for "past due".
    public var asOf: Date
    public var overall: KPISet
    public var breakdowns: [KPIBreakdown]
    public var rejectedLogs: [RejectedLog]

    public init(asOf: Date, overall: KPISet, breakdowns: [KPIBreakdown], rejectedLogs: [RejectedLog]) {
        self.asOf = asOf
        self.overall = overall
        self.breakdowns = breakdowns
        self.rejectedLogs = rejectedLogs
    }

    /// Replays each log (one per case) and computes the report. Logs that do not replay are listed in
    /// `rejectedLogs` with the refused event and reason, and are not counted.
    public static func compute(logs: [[CaseEvent]], asOf: Date, settings: WorkflowSettings = .default,
                               dimensions: [KPIDimension] = KPIDimension.allCases) -> KPIReport
    {
        var orders: [WorkOrder] = []
        var rejected: [RejectedLog] = []
        for log in logs {
            do {
                orders.append(try WorkOrder.replay(log, settings: settings))
            } catch {
                rejected.append(RejectedLog(caseID: error.caseID, sequence: error.sequence,
                                            reason: error.violation.description))
            }
        }
        var report = compute(orders: orders, asOf: asOf, calendar: settings.calendar, dimensions: dimensions)
        report.rejectedLogs = rejected
        return report
    }

    /// Computes the report from already-projected cases. `calendar` supplies the time zone of `period`.
    public static func compute(orders: [WorkOrder], asOf: Date, calendar: WorkingCalendar = .weekendsOnly,
                               dimensions: [KPIDimension] = KPIDimension.allCases) -> KPIReport
    {
        let breakdowns = dimensions.map { dimension in
            let groups = Dictionary(grouping: orders) { dimension.key(of: $0, calendar: calendar) }
            let rows = groups.keys.sorted().map { key in KPIRow(key: key, kpis: KPISet(orders: groups[key] ?? [], asOf: asOf)) }
            return KPIBreakdown(dimension: dimension, rows: rows)
        }
        return KPIReport(asOf: asOf, overall: KPISet(orders: orders, asOf: asOf), breakdowns: breakdowns,
                         rejectedLogs: [])
    }

    /// The breakdown for a dimension, if computed.
    public func breakdown(_ dimension: KPIDimension) -> KPIBreakdown? {
        breakdowns.first { $0.dimension == dimension }
    }
}
