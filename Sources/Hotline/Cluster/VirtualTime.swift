import ActorCluster
import Foundation

/// Replay time carried with each call as call baggage (`ClusterSystem.CallBaggage`): the replay driver
/// owns time and stamps every call it makes; the callee — and every call it makes in turn, on any node —
/// reads it through `HotlineContext.now`. So all nodes agree on the instant of each step without a separate
/// clock round trip, and supervision ticks fire at the driver's instants.
public enum VirtualTime {
    /// Baggage key; the value is the instant's `timeIntervalSinceReferenceDate` bit pattern in hex (exact).
    public static let baggageKey = "hotline.time"

    /// The instant carried by the current call, if any.
    public static var current: Date? {
        guard let text = ClusterSystem.CallBaggage.current[baggageKey], let bits = UInt64(text, radix: 16) else {
            return nil
        }
        return Date(timeIntervalSinceReferenceDate: Double(bitPattern: bits))
    }

    /// Runs `operation` with `instant` as the time of every call it makes.
    public static func at<T>(_ instant: Date, _ operation: () async throws -> T) async rethrows -> T {
        let text = String(instant.timeIntervalSinceReferenceDate.bitPattern, radix: 16)
        return try await ClusterSystem.withBaggage(baggageKey, text) { try await operation() }
    }
}
