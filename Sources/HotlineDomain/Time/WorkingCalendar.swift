import Foundation

/// Which days are working days, as data: weekend days, public holidays and make-up working days (调休上班),
/// in one fixed time zone (Gregorian calendar). Loaded from JSON, e.g.
/// `{"id":"cn-2026","version":1,"timeZone":"Asia/Shanghai","weekendDays":["saturday","sunday"],
///   "holidays":["2026-10-01"],"makeUpWorkdays":["2026-10-10"]}`.
/// A day is a working day when it is a make-up day, or it is neither a weekend day nor a holiday.
public struct WorkingCalendar: Hashable, Codable, Sendable {
    /// Calendar id, e.g. `"cn-2026"`.
    public let id: String
    /// Version of this calendar's data (bump when holidays change).
    public let version: Int
    /// IANA time zone identifier; `"Asia/Shanghai"` by default.
    public let timeZone: String
    public let weekendDays: [Weekday]
    public let holidays: [LocalDate]
    public let makeUpWorkdays: [LocalDate]

    private let weekendIndexes: Set<Int>
    private let holidaySet: Set<LocalDate>
    private let makeUpSet: Set<LocalDate>
    private let zone: TimeZone

    private enum CodingKeys: String, CodingKey {
        case id, version, timeZone, weekendDays, holidays, makeUpWorkdays
    }

    /// Builds and validates a calendar.
    /// - Throws: `CalendarError.unknownTimeZone`, `.noWorkingDays`, `.holidayAndMakeUpDay`.
    public init(id: String, version: Int = 1, timeZone: String = "Asia/Shanghai",
                weekendDays: [Weekday] = [.saturday, .sunday], holidays: [LocalDate] = [],
                makeUpWorkdays: [LocalDate] = []) throws(CalendarError) {
        guard let zone = TimeZone(identifier: timeZone) else { throw .unknownTimeZone(timeZone) }
        guard Set(weekendDays).count < 7 else { throw .noWorkingDays }
        let holidaySet = Set(holidays)
        let makeUpSet = Set(makeUpWorkdays)
        if let clash = holidaySet.intersection(makeUpSet).sorted().first { throw .holidayAndMakeUpDay(clash) }
        self.id = id
        self.version = version
        self.timeZone = timeZone
        self.weekendDays = weekendDays
        self.holidays = holidays.sorted()
        self.makeUpWorkdays = makeUpWorkdays.sorted()
        self.weekendIndexes = Set(weekendDays.map(\.index))
        self.holidaySet = holidaySet
        self.makeUpSet = makeUpSet
        self.zone = zone
    }

    /// Decodes and validates (`weekendDays` defaults to Saturday + Sunday, `timeZone` to Asia/Shanghai,
    /// `holidays`/`makeUpWorkdays` to empty, `version` to 1).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(
                id: c.decode(String.self, forKey: .id),
                version: c.decodeIfPresent(Int.self, forKey: .version) ?? 1,
                timeZone: c.decodeIfPresent(String.self, forKey: .timeZone) ?? "Asia/Shanghai",
                weekendDays: c.decodeIfPresent([Weekday].self, forKey: .weekendDays) ?? [.saturday, .sunday],
                holidays: c.decodeIfPresent([LocalDate].self, forKey: .holidays) ?? [],
                makeUpWorkdays: c.decodeIfPresent([LocalDate].self, forKey: .makeUpWorkdays) ?? [])
        } catch let error as CalendarError {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(version, forKey: .version)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encode(weekendDays, forKey: .weekendDays)
        try c.encode(holidays, forKey: .holidays)
        try c.encode(makeUpWorkdays, forKey: .makeUpWorkdays)
    }

    /// Loads a calendar from JSON. - Throws: `CalendarError` naming what is wrong.
    public static func load(from data: Data) throws(CalendarError) -> WorkingCalendar {
        do {
            return try JSONDecoder().decode(WorkingCalendar.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw .malformed(context.debugDescription)
        } catch {
            throw .malformed(String(describing: error))
        }
    }

    /// Saturday + Sunday weekends, no holidays, Asia/Shanghai. The default when no calendar is configured.
    public static let weekendsOnly: WorkingCalendar = {
        do {
            return try WorkingCalendar(id: "weekends-only")
        } catch {
            // Unreachable with the constant arguments above; kept total rather than trapping.
            return WorkingCalendar(uncheckedID: "weekends-only")
        }
    }()

    private init(uncheckedID id: String) {
        self.id = id
        version = 1
        timeZone = "GMT"
        weekendDays = [.saturday, .sunday]
        holidays = []
        makeUpWorkdays = []
        weekendIndexes = [0, 6]
        holidaySet = []
        makeUpSet = []
        zone = TimeZone(secondsFromGMT: 0) ?? .current
    }

    // MARK: - Queries

    /// The calendar's time zone as a Foundation value.
    public var foundationTimeZone: TimeZone { zone }

    /// True for a make-up working day, or a day that is neither a weekend day nor a holiday.
    public func isWorkingDay(_ day: LocalDate) -> Bool {
        if makeUpSet.contains(day) { return true }
        if holidaySet.contains(day) { return false }
        return !weekendIndexes.contains(day.weekday.index)
    }

    /// True when the instant falls on a working day in this calendar's time zone.
    public func isWorkingDay(_ instant: Date) -> Bool { isWorkingDay(localDate(of: instant)) }

    /// The local calendar day containing `instant`.
    public func localDate(of instant: Date) -> LocalDate {
        let local = instant.timeIntervalSince1970 + Double(zone.secondsFromGMT(for: instant))
        return LocalDate(daysSinceEpoch: Self.wholeDays(local))
    }

    /// The instant local midnight begins `day`.
    public func startOfDay(_ day: LocalDate) -> Date {
        let utcMidnight = Double(day.daysSinceEpoch) * 86_400
        let firstOffset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: utcMidnight))
        let guess = utcMidnight - Double(firstOffset)
        let secondOffset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: guess))
        return Date(timeIntervalSince1970: utcMidnight - Double(secondOffset))
    }

    /// The `count`-th working day strictly after `day` (`count` ≤ 0 returns `day`). Searches at most
    /// 100 years ahead (a valid calendar always has working days).
    public func workingDay(after day: LocalDate, count: Int) -> LocalDate {
        guard count > 0 else { return day }
        var remaining = count
        var current = day
        var steps = 0
        while remaining > 0, steps < 36_600 {
            current = current.adding(days: 1)
            steps += 1
            if isWorkingDay(current) { remaining -= 1 }
        }
        return current
    }

    /// Working days strictly after `from`'s day up to and including `to`'s day (0 when `to` ≤ `from`).
    public func workingDays(from: Date, to: Date) -> Int {
        let start = localDate(of: from)
        let end = localDate(of: to)
        guard end > start else { return 0 }
        var n = 0
        var current = start
        while current < end {
            current = current.adding(days: 1)
            if isWorkingDay(current) { n += 1 }
        }
        return n
    }

    /// Local year-month (`"2026-03"`) of an instant, for KPI periods.
    public func month(of instant: Date) -> String {
        let d = localDate(of: instant)
        return String(d.description.prefix(7))
    }

    private static func wholeDays(_ seconds: Double) -> Int {
        guard seconds.isFinite, abs(seconds) < 1e14 else { return 0 }
        return Int((seconds / 86_400).rounded(.down))
    }
}
