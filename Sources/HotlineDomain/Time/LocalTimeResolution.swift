import Foundation

/// A local (wall-clock) time resolved to an instant in a time zone, and how.
///
/// The rule, as java.time's `ZonedDateTime.ofLocal` and Python's `zoneinfo` with `fold=0`:
/// - a local time that exists once is that instant (`.exact`);
/// - a local time in a **gap** (skipped when clocks go forward) is moved forward by the gap's length:
///   it is read with the offset in force before the gap (2014-03-09 02:30 in Los Angeles → 03:30 PDT,
///   10:30 UTC) — `.inGap(shift:)`, shift in seconds;
/// - a local time in an **overlap** (repeated when clocks go back) takes the earlier of its two instants,
///   i.e. the offset in force before the transition (2014-11-02 01:30 in Los Angeles → 01:30 PDT,
///   08:30 UTC) — `.inOverlap(later:)` names the other reading.
///
/// Offsets come from Foundation (`TimeZone.secondsFromGMT(for:)`); candidates are the offsets in force a
/// day before, at and a day after the wall-clock time, so zones whose offset changes twice within two days
/// are out of scope.
public struct ResolvedLocalTime: Sendable, Equatable {
    public enum Adjustment: Sendable, Equatable {
        case exact
        /// The local time does not exist; the instant is `shift` seconds later on the wall clock.
        case inGap(shift: TimeInterval)
        /// The local time exists twice; `date` is the earlier instant, `later` the other.
        case inOverlap(later: Date)
    }

    public var date: Date
    public var adjustment: Adjustment

    /// Resolves `wallClock` — the local date and time expressed as if it were UTC (what a `DateFormatter`
    /// with `TimeZone.gmt` yields) — in `timeZone`, by the rule above.
    public static func resolve(wallClock: Date, in timeZone: TimeZone) -> ResolvedLocalTime {
        let local = wallClock.timeIntervalSince1970
        let before = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: local - 86_400))
        let offsets = [before, timeZone.secondsFromGMT(for: wallClock),
                       timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: local + 86_400))]
        var valid: [Date] = []
        for offset in Set(offsets) {
            let instant = Date(timeIntervalSince1970: local - Double(offset))
            if timeZone.secondsFromGMT(for: instant) == offset { valid.append(instant) }
        }
        valid.sort()
        switch valid.count {
        case 1: return ResolvedLocalTime(date: valid[0], adjustment: .exact)
        case 0:
            // In a gap: read with the offset before it, which lands after the gap by its length.
            let instant = Date(timeIntervalSince1970: local - Double(before))
            let after = timeZone.secondsFromGMT(for: instant)
            return ResolvedLocalTime(date: instant, adjustment: .inGap(shift: Double(after - before)))
        default:
            return ResolvedLocalTime(date: valid[0], adjustment: .inOverlap(later: valid[valid.count - 1]))
        }
    }
}
