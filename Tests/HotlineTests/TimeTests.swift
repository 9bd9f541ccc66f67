import XCTest
@testable import Hotline
@testable import HotlineDomain

/// Clocks, the working calendar and deadline derivation.
final class TimeTests: XCTestCase {
    func test_localDateArithmetic() throws {
        let d = try XCTUnwrap(LocalDate(year: 2026, month: 3, day: 1))
        XCTAssertEqual(d.weekday, .sunday)
        XCTAssertEqual(LocalDate(daysSinceEpoch: 0).description, "1970-01-01")
        XCTAssertEqual(LocalDate(daysSinceEpoch: d.daysSinceEpoch), d)
        XCTAssertEqual(d.adding(days: -1).description, "2026-02-28")
        XCTAssertEqual(try XCTUnwrap(LocalDate(year: 2024, month: 2, day: 28)).adding(days: 1).description, "2024-02-29")
        XCTAssertNil(LocalDate(year: 2026, month: 2, day: 29))
        XCTAssertNil(LocalDate(parsing: "2026-13-01"))
        XCTAssertEqual(LocalDate(parsing: "2026-10-01")?.weekday, .thursday)
    }

    func test_calendarLoadsFromJSONWithHolidaysAndMakeUpDays() throws {
        let cal = try calendar2026()
        XCTAssertEqual(cal.timeZone, "Asia/Shanghai")
        XCTAssertFalse(cal.isWorkingDay(try XCTUnwrap(LocalDate(parsing: "2026-10-01"))), "National Day")
        XCTAssertTrue(cal.isWorkingDay(try XCTUnwrap(LocalDate(parsing: "2026-10-10"))), "make-up Saturday")
        XCTAssertFalse(cal.isWorkingDay(try XCTUnwrap(LocalDate(parsing: "2026-10-17"))), "ordinary Saturday")
        XCTAssertTrue(cal.isWorkingDay(try XCTUnwrap(LocalDate(parsing: "2026-10-09"))))
        let round = try JSONDecoder().decode(WorkingCalendar.self, from: JSONEncoder().encode(cal))
        XCTAssertEqual(round, cal)
    }

    func test_invalidCalendarsAreRejectedWithAReason() {
        XCTAssertThrowsError(try WorkingCalendar.load(from: Data(#"{"id":"x","timeZone":"Mars/Olympus"}"#.utf8))) { error in
            XCTAssertTrue((error as? CalendarError)?.description.contains("Mars/Olympus") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try WorkingCalendar.load(from: Data(#"{"id":"x","holidays":["2026-02-30"]}"#.utf8)))
        XCTAssertThrowsError(try WorkingCalendar(id: "x", holidays: [LocalDate(daysSinceEpoch: 100)],
                                                 makeUpWorkdays: [LocalDate(daysSinceEpoch: 100)])) { error in
            XCTAssertEqual(error as? CalendarError, .holidayAndMakeUpDay(LocalDate(daysSinceEpoch: 100)))
        }
        XCTAssertThrowsError(try WorkingCalendar(id: "x", weekendDays: Weekday.allCases)) { error in
            XCTAssertEqual(error as? CalendarError, .noWorkingDays)
        }
    }

    func test_workingDayDeadlinesEndAtMidnightAndChain() {
        let cal = WorkingCalendar.weekendsOnly
        // Start on a Saturday: the first working day is Monday, due at its end.
        XCTAssertEqual(Deadline.due(start: shanghai(2026, 3, 7, 10), workingDays: 1, calendar: cal), shanghai(2026, 3, 10))
        // Start exactly at midnight ending Tuesday: +1 working day = end of Wednesday.
        XCTAssertEqual(Deadline.due(start: shanghai(2026, 3, 4), workingDays: 1, calendar: cal), shanghai(2026, 3, 5))
        XCTAssertEqual(Deadline.due(start: shanghai(2026, 3, 4), limit: .naturalMinutes(90), calendar: cal),
                       shanghai(2026, 3, 4, 1, 30))
        XCTAssertEqual(Deadline.due(start: shanghai(2026, 3, 4), workingDays: 0, calendar: cal), shanghai(2026, 3, 4))
        XCTAssertEqual(cal.workingDays(from: shanghai(2026, 3, 6, 15), to: shanghai(2026, 3, 10, 9)), 2)
    }

    func test_slaLimitJSON() throws {
        let decoded = try JSONDecoder().decode([SLALimit].self, from: Data(
            #"[{"naturalMinutes":30},{"naturalHours":24},{"workingDays":3}]"#.utf8))
        XCTAssertEqual(decoded, [.naturalMinutes(30), .naturalMinutes(1440), .workingDays(3)])
        XCTAssertEqual(decoded.map(\.description), ["30 min", "24 h", "3 working days"])
        XCTAssertThrowsError(try JSONDecoder().decode(SLALimit.self, from: Data(#"{"weeks":1}"#.utf8)))
    }

    func test_virtualClockMovesOnlyWhenTold() {
        let clock = VirtualClock(start: shanghai(2026, 3, 1))
        XCTAssertEqual(clock.now, shanghai(2026, 3, 1))
        clock.advance(bySeconds: 3_600)
        XCTAssertEqual(clock.now, shanghai(2026, 3, 1, 1))
        XCTAssertFalse(clock.set(to: shanghai(2026, 2, 1)), "time never goes backwards")
        XCTAssertTrue(clock.set(to: shanghai(2026, 3, 2)))
        XCTAssertEqual(clock.now, shanghai(2026, 3, 2))
        let fixed = FixedClock(shanghai(2026, 3, 1))
        XCTAssertEqual(fixed.advanced(bySeconds: 60).now, shanghai(2026, 3, 1, 0, 1))
        let any: any HotlineClock = fixed
        XCTAssertEqual(any.now, shanghai(2026, 3, 1))
    }
}
