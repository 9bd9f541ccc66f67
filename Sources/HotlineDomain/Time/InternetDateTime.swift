import Foundation

/// RFC 3339 "internet date-time" in UTC with whole seconds (`2014-05-17T07:00:00Z`): what `ISO8601DateFormatter`
/// writes with `formatOptions = [.withInternetDateTime]`, computed directly for years 1583…9999 (Gregorian
/// calendar, the seconds truncated towards the past) so the hot path creates no formatter.
public enum InternetDateTime {
    public static func string(from date: Date) -> String {
        let t = date.timeIntervalSince1970
        guard t.isFinite, abs(t) < 1e15 else {
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime]
            return f.string(from: date)
        }
        // As ICU sees the instant: the nearest millisecond since 1970, from the reference-date interval.
        let ms = ((date.timeIntervalSinceReferenceDate + 978_307_200.0) * 1000.0).rounded()
        var seconds = Int64(ms) / 1000
        if Int64(ms) % 1000 < 0 { seconds -= 1 }
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 { rest += 86_400; days -= 1 }
        // Days since 1970-01-01 to a civil date (H. Hinnant, "chrono-compatible low-level date algorithms").
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        // ICU switches to the Julian calendar before 1582-10-15: older dates take the formatter.
        guard (1583...9999).contains(year) else {
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime]
            return f.string(from: date)
        }
        var out = [UInt8]()
        out.reserveCapacity(20)
        func put(_ v: Int64, _ width: Int) {
            var digits = [UInt8](repeating: 0x30, count: width)
            var v = v
            for i in stride(from: width - 1, through: 0, by: -1) { digits[i] = 0x30 + UInt8(v % 10); v /= 10 }
            out += digits
        }
        put(year, 4); out.append(0x2D); put(month, 2); out.append(0x2D); put(day, 2)
        out.append(0x54)
        put(rest / 3_600, 2); out.append(0x3A); put(rest / 60 % 60, 2); out.append(0x3A); put(rest % 60, 2)
        out.append(0x5A)
        return String(decoding: out, as: UTF8.self)
    }
}
