import Foundation

extension KPIReport {
    /// Pretty, key-sorted JSON with ISO-8601 dates. - Throws: `EncodingError` (not expected for valid values).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    /// Decodes `jsonData()` output. - Throws: `DecodingError`.
    public static func decode(from data: Data) throws -> KPIReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(KPIReport.self, from: data)
    }
}
