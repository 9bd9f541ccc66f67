import Foundation

/// Derives due instants. Due dates are always computed from a start instant, a limit and a calendar —
/// never typed in. An act is on time when it happens at or before the due instant.
public enum Deadline {
    /// The due instant for `limit` counted from `start`.
    /// - Natural minutes: `start + minutes` (nights, weekends and holidays count).
    /// - Working days (N ≥ 1): the start day does not count, whatever the hour; the due instant is the end
    ///   (24:00, i.e. the next local midnight) of the N-th working day after the start day. A start exactly at
    ///   local midnight belongs to the day that just ended, so that day-ends chain: extending a deadline of
    ///   "end of Tuesday" by 1 working day gives "end of Wednesday".
    /// - N ≤ 0 returns `start`.
    public static func due(start: Date, limit: SLALimit, calendar: WorkingCalendar) -> Date {
        switch limit {
        case .naturalMinutes(let minutes): due(start: start, naturalMinutes: minutes)
        case .workingDays(let days): due(start: start, workingDays: days, calendar: calendar)
        }
    }

    /// `start + minutes` natural minutes.
    public static func due(start: Date, naturalMinutes minutes: Int) -> Date {
        start.addingTimeInterval(Double(minutes) * 60)
    }

    /// End of the `days`-th working day after the start day (see `due(start:limit:calendar:)`).
    public static func due(start: Date, workingDays days: Int, calendar: WorkingCalendar) -> Date {
        guard days > 0 else { return start }
        var startDay = calendar.localDate(of: start)
        if calendar.startOfDay(startDay) == start { startDay = startDay.adding(days: -1) }
        let last = calendar.workingDay(after: startDay, count: days)
        return calendar.startOfDay(last.adding(days: 1))
    }
}
