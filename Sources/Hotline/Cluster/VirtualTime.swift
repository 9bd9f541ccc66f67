import ActorCluster
import Foundation

/// Replay time carried with each call as call baggage (`ClusterSystem.CallBaggage`): the replay driver
/// owns time and stamps every call it makes; the callee — and every call it makes in turn, on any node —
/// reads it through `HotlineContext.now`. So all nodes agree on the instant of each step without a separate
/// clock round trip, and supervision ticks fire at the driver's instants.
public enum VirtualTime {
    /// Baggage key; the value is the instant's `timeIntervalSinceReferenceDate` bit pattern in hex (exact).
    public static let baggageKey = "hotline.time"

    /// Instants a call may carry: 1970-01-01 to 9999-12-31 (case numbers are `YYYY-NNNNNN`). Anything else
    /// (NaN, infinity, year 506713) reads as no time.
    public static let plausible: ClosedRange<Date> =
        Date(timeIntervalSince1970: 0)...Date(timeIntervalSince1970: 253_402_300_799)

    /// The instant carried by the current call, if any and plausible.
    public static var current: Date? {
        guard let text = ClusterSystem.CallBaggage.current[baggageKey], text.utf8.count <= 16,
              let bits = UInt64(text, radix: 16) else {
            return nil
        }
        let seconds = Double(bitPattern: bits)
        guard seconds.isFinite else { return nil }
        let date = Date(timeIntervalSinceReferenceDate: seconds)
        return plausible.contains(date) ? date : nil
    }

    /// Runs `operation` with `instant` as the time of every call it makes.
    public static func at<T>(_ instant: Date, _ operation: () async throws -> T) async rethrows -> T {
        let text = String(instant.timeIntervalSinceReferenceDate.bitPattern, radix: 16)
        return try await ClusterSystem.withBaggage(baggageKey, text) { try await operation() }
    }
}
