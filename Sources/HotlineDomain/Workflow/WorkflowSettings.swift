import Foundation

/// Deployment-wide workflow knobs used when applying events. Keep them stable for a log's lifetime:
/// replaying a log with different settings may accept or reject different events.
public struct WorkflowSettings: Hashable, Codable, Sendable {
    /// Working calendar for working-day limits. Default: `WorkingCalendar.weekendsOnly` (Asia/Shanghai).
    public var calendar: WorkingCalendar
    /// Unreachable callback attempts (in one callback round) after which the case may close as unreachable.
    /// Default 3.
    public var unreachableAttemptsToClose: Int
    /// A closed case may be reopened by a recontact within this many natural days of closing, and then
    /// counts as a repeat; later contacts must open a new case. Default 30.
    public var repeatWindowDays: Int
    /// Supervision level 2 fires this many working days after the handle deadline. Default 5.
    public var levelTwoAfterWorkingDays: Int
    /// Supervision level 3 fires once the case has been reopened this many times. Default 2.
    public var levelThreeAfterReopens: Int
    /// Callback limit for merged children (which have no SLA profile of their own). Default 1 working day.
    public var mergedChildCallback: SLALimit
    /// Automatic reminders before each sign and handle deadline, e.g. `[.naturalHours(1), .workingDays(1)]`
    /// (`WorkOrder.remindersDue(at:settings:)`); nil: one reminder once half the window has passed.
    /// From the catalogue's `reminders.before` on a node that configures itself.
    public var remindersBefore: [SLALimit]?

    public init(calendar: WorkingCalendar = .weekendsOnly, unreachableAttemptsToClose: Int = 3,
                repeatWindowDays: Int = 30, levelTwoAfterWorkingDays: Int = 5, levelThreeAfterReopens: Int = 2,
                mergedChildCallback: SLALimit = .workingDays(1), remindersBefore: [SLALimit]? = nil) {
        self.remindersBefore = remindersBefore
        self.calendar = calendar
        self.unreachableAttemptsToClose = unreachableAttemptsToClose
        self.repeatWindowDays = repeatWindowDays
        self.levelTwoAfterWorkingDays = levelTwoAfterWorkingDays
        self.levelThreeAfterReopens = levelThreeAfterReopens
        self.mergedChildCallback = mergedChildCallback
    }

    /// All defaults (weekends-only calendar).
    public static let `default` = WorkflowSettings()
}
