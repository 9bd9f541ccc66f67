import Foundation

/// One callback attempt recorded by the hotline.
public struct CallbackAttempt: Hashable, Codable, Sendable {
    public var at: Date
    public var by: EventAuthor
    public var outcome: CallbackOutcome
    /// Callback round: 1 for the first time the case entered `pendingCallback`, +1 per later entry.
    public var round: Int

    public init(at: Date, by: EventAuthor, outcome: CallbackOutcome, round: Int) {
        self.at = at
        self.by = by
        self.outcome = outcome
        self.round = round
    }
}
