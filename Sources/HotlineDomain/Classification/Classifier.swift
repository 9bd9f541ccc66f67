import Foundation

/// Proposes category, jurisdiction and urgency for a citizen's words from the routing catalogue's vocabulary
/// (`ServiceCategory.keywords`, `Jurisdiction.placeNames`, `ClassificationSettings.emergencyPhrases`). Pure:
/// build once per catalogue (it indexes every phrase), then call `propose` from any thread.
///
/// Rules (stated, so a dispatcher can follow a proposal):
/// - text and phrases are normalised by `ClassifierText` (NFKC, lowercase, no whitespace) and matched as
///   substrings of Unicode scalars, so Chinese needs no word splitting; a Latin phrase must start at a word
///   boundary; the catalogue lists traditional/simplified variants, any of them matches;
/// - within one field a phrase found inside a longer matched phrase of that field does not count (`千山` in
///   `千山区`); each distinct phrase counts once, weighing its length in scalars (Chinese) or 1 + its words
///   (Latin), at most 4;
/// - a field's confidence is `share × strength`: `share` = best score ÷ (best + runner-up), `strength` =
///   min(1, best ÷ 3); 2 decimals. No match: no proposal, confidence 0. A field the channel gave: confidence 1;
/// - urgency: the given one; else P1 when an emergency phrase matched or the category is a livelihood one;
///   else P2;
/// - the proposal's `confidence` is the smaller field confidence.
public struct Classifier: Sendable {
    /// Score at which a field's strength is full (one 3-character phrase, or a 2- and a 1-word phrase).
    public static let fullStrength = 3.0

    /// What the channel already knew; nil or empty = classify.
    public struct Given: Sendable, Hashable {
        public var category: String?
        public var jurisdiction: String?
        public var urgency: Urgency?
        public var kind: CaseKind?

        public init(category: String? = nil, jurisdiction: String? = nil, urgency: Urgency? = nil, kind: CaseKind? = nil) {
            self.category = category
            self.jurisdiction = jurisdiction
            self.urgency = urgency
            self.kind = kind
        }
    }

    private enum Field: Int { case category, jurisdiction, urgency }

    private struct Phrase: Sendable {
        var scalars: [Unicode.Scalar]
        var text: String
        var field: Field
        /// Category or jurisdiction code (empty for emergency phrases).
        var target: String
        var latin: Bool
        var weight: Double
    }

    private let phrases: [Phrase]
    private let byFirst: [Unicode.Scalar: [Int]]
    private let livelihood: Set<String>

    public init(catalogue: RoutingCatalogue) {
        var list: [Phrase] = []
        struct Key: Hashable { var scalars: [Unicode.Scalar]; var field: Int; var target: String }
        var seen = Set<Key>()
        func add(_ text: String, _ field: Field, _ target: String) {
            let s = ClassifierText.scalars(text)
            // Two spellings that normalise alike (`street light`, `streetlight`) are one phrase.
            guard let first = s.first, seen.insert(Key(scalars: s, field: field.rawValue, target: target)).inserted else { return }
            let latin = ClassifierText.isLatinWordScalar(first)
            let words = text.split(whereSeparator: { $0.isWhitespace }).count
            let weight = min(4, latin ? Double(1 + words) : Double(s.count))
            list.append(Phrase(scalars: s, text: text, field: field, target: target, latin: latin, weight: weight))
        }
        for c in catalogue.categories { for k in c.keywords { add(k, .category, c.code) } }
        for j in catalogue.jurisdictions { for p in j.placeNames { add(p, .jurisdiction, j.code) } }
        for e in catalogue.classification.emergencyPhrases { add(e, .urgency, "") }
        var index: [Unicode.Scalar: [Int]] = [:]
        for (i, p) in list.enumerated() { index[p.scalars[0], default: []].append(i) }
        phrases = list
        byFirst = index
        livelihood = Set(catalogue.livelihoodCategories)
    }

    /// The proposal for a request's words (`subject`, `description` and `address` are read as one text).
    public func propose(subject: String? = nil, description: String, address: String? = nil,
                        given: Given = Given()) -> ClassificationProposal {
        let text = [subject, description, address].compactMap { $0 }.joined(separator: "\n")
        let (scalars, boundary) = ClassifierText.normalized(text)
        struct Match { var start: Int; var end: Int; var phrase: Int }
        var found: [Match] = []
        for i in scalars.indices {
            guard let candidates = byFirst[scalars[i]] else { continue }
            for k in candidates {
                let p = phrases[k]
                let end = i + p.scalars.count
                guard end <= scalars.count, !p.latin || boundary[i] else { continue }
                if scalars[i..<end].elementsEqual(p.scalars) { found.append(Match(start: i, end: end, phrase: k)) }
            }
        }
        // A phrase inside a longer match of the same field does not count.
        let kept = found.filter { m in
            !found.contains { o in
                o.phrase != m.phrase && phrases[o.phrase].field == phrases[m.phrase].field
                    && o.start <= m.start && o.end >= m.end && (o.end - o.start) > (m.end - m.start)
            }
        }
        var seen = Set<Int>()
        var scores: [Field: [String: Double]] = [:]
        var evidence: [Field: [String: [String]]] = [:]
        var emergency: [String] = []
        for m in kept where seen.insert(m.phrase).inserted {
            let p = phrases[m.phrase]
            if p.field == .urgency {
                if !emergency.contains(p.text) { emergency.append(p.text) }
                continue
            }
            scores[p.field, default: [:]][p.target, default: 0] += p.weight
            evidence[p.field, default: [:]][p.target, default: []].append(p.text)
        }
        func best(_ field: Field, given: String?) -> (code: String?, confidence: Double, evidence: [String]) {
            if let given, !given.isEmpty { return (given, 1, []) }
            let ranked = (scores[field] ?? [:]).sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            guard let top = ranked.first else { return (nil, 0, []) }
            let runnerUp = ranked.dropFirst().first?.value ?? 0
            let share = top.value / (top.value + runnerUp)
            let strength = min(1, top.value / Self.fullStrength)
            return (top.key, (share * strength * 100).rounded() / 100, evidence[field]?[top.key] ?? [])
        }
        let category = best(.category, given: given.category)
        let place = best(.jurisdiction, given: given.jurisdiction)
        let urgency = given.urgency
            ?? (!emergency.isEmpty || category.code.map(livelihood.contains) == true ? .p1 : .p2)
        return ClassificationProposal(
            category: category.code, jurisdiction: place.code, urgency: urgency, kind: given.kind ?? .help,
            evidence: ClassificationEvidence(category: category.evidence, jurisdiction: place.evidence,
                                             urgency: emergency),
            categoryConfidence: category.confidence, jurisdictionConfidence: place.confidence)
    }
}
