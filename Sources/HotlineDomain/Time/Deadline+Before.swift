import Foundation

extension Deadline {
    /// The instant `limit` before `due` (reminder points: "1 h before", "1 working day before").
    /// - Natural minutes: `due − minutes`.
    /// - Working days (N ≥ 1): the same local time of day, N working days before `due`'s local day (days that are
    ///   not working days are skipped): 1 working day before "end of Wednesday" (Thursday 00:00) is Wednesday
    ///   00:00 — the start of the last working day; before Monday 15:00, Friday 15:00. Searches at most 100
    ///   years back.
    /// - N ≤ 0 returns `due`.
    public static func before(due: Date, limit: SLALimit, calendar: WorkingCalendar) -> Date {
        switch limit {
        case .naturalMinutes(let minutes): return due.addingTimeInterval(-Double(max(0, minutes)) * 60)
        case .workingDays(let days):
            guard days > 0 else { return due }
            let day = calendar.localDate(of: due)
            let timeOfDay = due.timeIntervalSince(calendar.startOfDay(day))
            var current = day
            var remaining = days
            var steps = 0
            while remaining > 0, steps < 36_600 {
                current = current.adding(days: -1)
                steps += 1
                if calendar.isWorkingDay(current) { remaining -= 1 }
            }
            return calendar.startOfDay(current).addingTimeInterval(timeOfDay)
        }
    }
}
