import Foundation

/// What a KPI breakdown groups cases by. Every case falls in exactly one row per dimension.
public enum KPIDimension: String, Codable, Sendable, CaseIterable, Hashable {
    /// Classification jurisdiction code, or `(unclassified)`.
    case jurisdiction
    /// Lead unit of the case's latest dispatch, or `(not dispatched)`.
    case department
    /// Classification category code, or `(unclassified)`.
    case category
    /// Intake channel code.
    case channel
    /// Dispatch group of the latest dispatch (else the queue it waits in), or `(not dispatched)`.
    case dispatchGroup
    /// Local month of intake, `YYYY-MM`, in the calendar's time zone.
    case period

    /// The row key of `order` in this dimension.
    public func key(of order: WorkOrder, calendar: WorkingCalendar) -> String {
        switch self {
        case .jurisdiction: order.classification?.jurisdiction ?? "(unclassified)"
        case .department: order.dispatches.last?.decision.lead ?? "(not dispatched)"
        case .category: order.classification?.category ?? "(unclassified)"
        case .channel: order.intake.channel.code
        case .dispatchGroup: order.dispatches.last?.decision.dispatchGroup ?? order.queuedGroup ?? "(not dispatched)"
        case .period: calendar.month(of: order.createdAt)
        }
    }
}
