import Foundation

/// Where the matter is. The address is free text (UTF-8, Chinese allowed); coordinates are optional
/// WGS-84 degrees (Open311 `lat`/`long`).
public struct Location: Hashable, Codable, Sendable {
    public var address: String
    public var latitude: Double?
    public var longitude: Double?

    public init(address: String, latitude: Double? = nil, longitude: Double? = nil) {
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
    }
}
