import ActorCluster
import Foundation
import XCTest
@testable import Hotline
@testable import HotlineDomain

/// The hot path's shortcuts give exactly what the slow forms they replace give.
final class HotPathEquivalenceTests: XCTestCase {
    /// A reminder's note stamps its deadline with `Date.ISO8601FormatStyle` (no ICU formatter per call): the same
    /// text `ISO8601DateFormatter` with `.withInternetDateTime` writes, for any instant a deadline can be (but the
    /// last thousandth of a second, which the formatter rounds up).
    func test_reminderStampMatchesISO8601DateFormatter() {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        let style = Date.ISO8601FormatStyle()
        var rng = SystemRandomNumberGenerator()
        // 1900 … 2200, with edges: the epoch, fractions, the last second of a day, a leap day.
        var instants: [TimeInterval] = [0, -1, -0.5, 0.999, 59.999, 86_399.9, 951_782_400, 1_709_164_800.25,
                                        -2_208_988_800, 7_258_118_399, 1_400_310_000, 4_102_444_800]
        for _ in 0..<20_000 { instants.append(Double(Int64.random(in: -2_208_988_800...7_258_118_399, using: &rng)) + Double.random(in: 0..<1)) }
        for t in instants {
            let d = Date(timeIntervalSince1970: t)
            // The formatter rounds the last thousandth of a second up to the next second; the style truncates
            // (a note names the second its deadline falls in). Everything else is the same text.
            if t - t.rounded(.down) >= 0.999 {
                XCTAssertEqual(d.formatted(style), f.string(from: Date(timeIntervalSince1970: t.rounded(.down))), "at \(t)")
            } else {
                XCTAssertEqual(d.formatted(style), f.string(from: d), "at \(t)")
            }
        }
    }

    func test_identifierFastPathMatchesFoundation() throws {
        func slow(_ text: String) -> String {
            text.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping
        }
        for text in ["8890", "a b", "web-123", "~!@#$%^&*()_+{}|:\"<>?", "x", "run-abc-17"] {
            XCTAssertTrue(IntakeText.isPlainASCII(text))
            XCTAssertEqual(try IntakeText.normalizedIdentifier(text, field: .externalID), slow(text))
        }
        for text in [" 8890", "8890 ", "a\tb", "a\u{7F}", "caf\u{65}\u{301}", "\u{200B}x", "", "x\n", "\u{A0}x"] {
            XCTAssertFalse(IntakeText.isPlainASCII(text), text.debugDescription)
        }
        for text in ["", " ", "\t\n\r\u{0B}\u{0C}", "\u{85}", "\u{A0}\u{2028}\u{3000}", " x ", "暖气", "\u{200B}", "a"] {
            XCTAssertEqual(IntakeText.isBlank(text), text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, text.debugDescription)
        }
    }

    func test_joinedArraySizeIsTheEncodedSizeOfTheJoinedArray() throws {
        let encoder = Wire.BinaryEncoder()
        for a in [0, 1, 5, 60, 126, 127, 128, 200, 16_383, 16_384, 20_000] {
            for b in [0, 1, 2, 126, 127, 128, 300, 16_384] {
                let x = [String](repeating: "", count: a), y = [String](repeating: "", count: b)
                let joined = try encoder.encode(x + y).count
                XCTAssertEqual(DistrictOffice.joinedArraySize(try encoder.encode(x).count, try encoder.encode(y).count), joined, "\(a) + \(b)")
            }
        }
        let words = (0..<300).map { String(repeating: "w", count: $0 % 37) }
        for split in stride(from: 0, through: words.count, by: 7) {
            let joined = try encoder.encode(words).count
            XCTAssertEqual(DistrictOffice.joinedArraySize(try encoder.encode(Array(words[..<split])).count,
                                                          try encoder.encode(Array(words[split...])).count), joined)
        }
    }
}
