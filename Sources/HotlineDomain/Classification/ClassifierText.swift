import Foundation

/// Text normalisation for classification: Unicode NFKC (Foundation's
/// `precomposedStringWithCompatibilityMapping`, which folds full-width letters, digits and punctuation to
/// their half-width forms: `２１９公园` → `219公园`), then lowercase, then whitespace removed — Chinese is
/// written without blanks, so matching never splits words at blanks and a stray blank (`南胜利 路`) does not
/// hide a phrase.
public enum ClassifierText {
    /// The normalised Unicode scalars of `text`, whitespace and control characters removed.
    public static func scalars(_ text: String) -> [Unicode.Scalar] {
        normalized(text).scalars
    }

    /// Normalised scalars, and for each whether a word boundary precedes it (start of text, whitespace,
    /// punctuation, or a non-Latin letter such as a Chinese character): Latin phrases match only at a
    /// boundary, so `heat` is found in `heating` but not in `theatre`.
    static func normalized(_ text: String) -> (scalars: [Unicode.Scalar], boundary: [Bool]) {
        let folded = text.precomposedStringWithCompatibilityMapping.lowercased()
        var scalars: [Unicode.Scalar] = []
        var boundary: [Bool] = []
        scalars.reserveCapacity(folded.unicodeScalars.count)
        var previousIsLatin = false
        for s in folded.unicodeScalars {
            let p = s.properties
            if p.isWhitespace || p.generalCategory == .control || p.generalCategory == .format {
                previousIsLatin = false
                continue
            }
            scalars.append(s)
            boundary.append(!previousIsLatin)
            previousIsLatin = isLatinWordScalar(s)
        }
        return (scalars, boundary)
    }

    /// ASCII letters and digits, and Latin letters with diacritics (below U+0250).
    static func isLatinWordScalar(_ s: Unicode.Scalar) -> Bool {
        (s.value >= 0x30 && s.value <= 0x39) || (s.value >= 0x61 && s.value <= 0x7A) || (s.value >= 0x41 && s.value <= 0x5A)
            || (s.value >= 0xC0 && s.value < 0x250 && s.properties.isAlphabetic)
    }
}
