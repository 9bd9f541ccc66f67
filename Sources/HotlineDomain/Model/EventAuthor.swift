import Foundation

/// Who caused an event. Only the hotline side (`hotline` staff or the hotline's own `system` automation)
/// may accept, dispatch, review, record callbacks and close; a `unit` may sign, return, request
/// extensions, report progress and reply — nothing else.
public enum EventAuthor: Hashable, Codable, Sendable, CustomStringConvertible {
    /// A hotline staff member (call-taker, dispatcher, reviewer, shift leader) by staff id.
    case hotline(staff: String)
    /// A handling unit (department, district government, utility, duty room) by unit code.
    case unit(code: String)
    /// The citizen (web form, app, IVR keypress).
    case citizen
    /// Hotline automation (supervision timer, delivery gateway, replay importer) by component name.
    case system(component: String)

    /// True for `hotline` and `system`: the hotline's own side.
    public var isHotlineSide: Bool {
        switch self {
        case .hotline, .system: true
        case .unit, .citizen: false
        }
    }

    /// The unit code when the author is a unit.
    public var unitCode: String? {
        if case .unit(let code) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case .hotline(let staff): "hotline:\(staff)"
        case .unit(let code): "unit:\(code)"
        case .citizen: "citizen"
        case .system(let component): "system:\(component)"
        }
    }
}
