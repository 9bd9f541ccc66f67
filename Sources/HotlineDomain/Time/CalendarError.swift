import Foundation

/// Why a working calendar was rejected.
public enum CalendarError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The JSON could not be decoded (shape, date format); the decoder's explanation.
    case malformed(String)
    /// `timeZone` is not a known IANA identifier.
    case unknownTimeZone(String)
    /// Every weekday is a weekend day: no working days.
    case noWorkingDays
    /// A date is listed both as a holiday and as a make-up working day.
    case holidayAndMakeUpDay(LocalDate)

    public var description: String {
        switch self {
        case .malformed(let detail): "working calendar is malformed: \(detail)"
        case .unknownTimeZone(let id): "working calendar field 'timeZone': unknown time zone '\(id)'"
        case .noWorkingDays: "working calendar field 'weekendDays': all seven days are weekend days"
        case .holidayAndMakeUpDay(let date):
            "working calendar: \(date) is listed in both 'holidays' and 'makeUpWorkdays'"
        }
    }
}
