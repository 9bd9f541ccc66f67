import Foundation

extension KPIReport {
    /// The report for people: the overall KPIs (each rate with its numerator/denominator), then one table per
    /// breakdown, then the rejected logs.
    public func textTable() -> String {
        var out: [String] = []
        out.append("KPI report as of \(asOf.formatted(.iso8601)) — \(overall.cases) cases, \(rejectedLogs.count) logs rejected")
        out.append("")
        out.append(Self.overallTable(overall).render())
        for breakdown in breakdowns {
            out.append("")
            out.append("by \(breakdown.dimension.rawValue)")
            let rows = breakdown.rows.map { row -> [String] in
                let k = row.kpis
                return [row.key, String(k.cases), String(k.dispatched), Self.pct(k.completion), Self.pct(k.onTimeReply),
                        Self.pct(k.satisfaction), Self.days(k.dispatchToReplyDays), Self.days(k.intakeToCloseDays)]
            }
            out.append(TextTable(
                headers: [breakdown.dimension.rawValue, "cases", "dispatched", "completion", "on-time reply",
                          "satisfaction", "avg days dispatch→reply", "avg days intake→close"],
                rows: rows, rightAligned: Set(1...7)).render())
        }
        if !rejectedLogs.isEmpty {
            out.append("")
            out.append("rejected logs")
            out.append(TextTable(
                headers: ["case", "event", "reason"],
                rows: rejectedLogs.map { [$0.caseID?.description ?? "?", $0.sequence.map { "#\($0)" } ?? "?", $0.reason] }
            ).render())
        }
        return out.joined(separator: "\n")
    }

    static func overallTable(_ k: KPISet) -> TextTable {
        func rate(_ name: String, _ r: Rate, _ definition: String) -> [String] {
            [name, pct(r), "\(r.numerator)/\(r.denominator)", definition]
        }
        func count(_ name: String, _ n: Int, _ definition: String) -> [String] { [name, String(n), "", definition] }
        func stat(_ name: String, _ s: DurationStatistic, _ definition: String) -> [String] {
            [name, s.average.map(Rate.fixed2) ?? "—", "median \(s.median.map(Rate.fixed2) ?? "—"), n=\(s.count)", definition]
        }
        let rows: [[String]] = [
            rate("completion rate", k.completion, "closed ÷ dispatched"),
            rate("reply rate", k.replyRate, "replied ÷ dispatched"),
            rate("on-time reply rate", k.onTimeReply, "lead replies by due (+ext) ÷ judged lead assignments"),
            rate("on-time sign rate", k.onTimeSign, "lead signs by due ÷ judged lead assignments"),
            rate("satisfaction rate", k.satisfaction, "(satisfied + basically) ÷ reached callbacks"),
            rate("resolution rate", k.resolution, "resolved ÷ reached callbacks"),
            rate("direct-answer rate", k.directAnswer, "answered at intake ÷ valid requests"),
            rate("callback rate", k.callback, "called back ÷ due a callback"),
            rate("effective callback rate", k.effectiveCallback, "reached ÷ due a callback"),
            rate("repeat-contact rate", k.repeatContact, "with repeat contact ÷ valid requests"),
            rate("  while open", k.repeatContactWhileOpen, "with a contact linked while open ÷ valid requests"),
            rate("  after close", k.repeatContactAfterClose, "reopened by a recontact after close ÷ valid requests"),
            rate("return rate", k.returnRate, "with lead return ÷ dispatched"),
            rate("reopen rate", k.reopenRate, "reopened ÷ dispatched"),
            rate("assignments delivered", k.delivered, "current-round assignments delivered ÷ all (k of n)"),
            stat("days dispatch→reply", k.dispatchToReplyDays, "natural days, first dispatch → latest lead reply"),
            stat("days intake→close", k.intakeToCloseDays, "natural days, intake → close"),
            stat("hours dispatch latency", k.dispatchLatencyHours, "hours, accepted → first dispatch"),
            rate("classified automatically", k.automaticClassification, "accepted at intake ÷ classified after a proposal"),
            rate("classification corrected", k.correctedClassification, "corrected ÷ classified by a dispatcher"),
            stat("hours in classification queue", k.classificationWaitHours, "hours, queued → dispatcher's review"),
            count("cases", k.cases, "replayed logs"),
            count("valid requests", k.validRequests, "accepted, not emergency / out of scope"),
            count("dispatched", k.dispatched, "lead delivered"),
            count("closed", k.closed, "closed now"),
            count("closed unreachable", k.closedUnreachable, "closed after N unreachable attempts"),
            count("callbacks unreachable", k.callbacksUnreachable, "attempts; not in satisfaction"),
            count("repeat contacts while open", k.repeatContactsWhileOpen, "contacts linked to open cases"),
            count("repeat contacts after close", k.repeatContactsAfterClose, "recontacts that reopened a closed case"),
            count("merged", k.merged, "callers' cases merged under a lead case"),
            count("overdue replies", k.overdueReplies, "lead assignments late or past due"),
            count("overdue signs", k.overdueSigns, "lead assignments signed late or unsigned past due"),
            count("extensions requested", k.extensionsRequested, ""),
            count("extensions approved", k.extensionsApproved, ""),
            count("extensions denied", k.extensionsDenied, ""),
            count("lead returns", k.leadReturns, ""),
            count("arbitrations", k.arbitrations, "second returns"),
            count("delivery failures", k.deliveryFailures, "alerted, retried"),
            count("awaiting delivery", k.awaitingDelivery, "open cases not delivered to every unit now"),
            count("classification proposed", k.classificationProposed, "requests intake classified"),
            count("awaiting classification", k.awaitingClassification, "in a classification queue now"),
        ]
        return TextTable(headers: ["KPI", "value", "n/d", "definition"], rows: rows, rightAligned: [1, 2])
    }

    private static func pct(_ r: Rate) -> String { r.percent.map { Rate.fixed2($0) + "%" } ?? "—" }
    private static func days(_ s: DurationStatistic) -> String { s.average.map(Rate.fixed2) ?? "—" }
}
