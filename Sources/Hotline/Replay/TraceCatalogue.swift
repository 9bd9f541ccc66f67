import Foundation

/// Derives a routing catalogue from a trace when none is given (`hotline replay` without `--catalog`):
/// each district becomes a jurisdiction (records without one go to the city-wide jurisdiction `CITY`),
/// each agency a unit, each category a service category whose lead is the agency that handled most of
/// that category's records in that district (ties: alphabetical). Sectors follow the BRIEF's seven by
/// keywords of the category name (`city-management` when none matches). Jurisdictions are split over
/// four dispatch groups in code order. SLA policy: the standard one.
public enum TraceCatalogue {
    /// Jurisdiction code of district `d` (`D6`), or `CITY` for records with no district.
    public static func jurisdiction(forDistrict d: String?) -> String {
        guard let d, !d.isEmpty else { return cityWide }
        return "D\(d)"
    }

    public static let cityWide = "CITY"

    static let sectors: [(code: String, name: String, keywords: [String])] = [
        ("housing", "Housing & construction", ["building", "housing", "construction", "residential"]),
        ("utilities", "Public utilities (water, heat, power, gas, telecom)", ["sewer", "water", "power", "gas", "streetlight", "light", "utility", "heat"]),
        ("city-management", "City management & environment", ["graffiti", "street", "sidewalk", "cleaning", "tree", "litter", "damaged", "noise", "encampment", "general"]),
        ("transport", "Transport", ["vehicle", "muni", "parking", "sign", "traffic", "transit", "signal"]),
        ("public-security", "Public security & legal", ["police", "security", "homeless concerns"]),
        ("market", "Market regulation & business", ["business", "market", "vendor"]),
        ("social-welfare", "Social welfare", ["human services", "health", "welfare", "homeless", "education"]),
    ]

    static func sector(ofCategory name: String) -> String {
        let lower = name.lowercased()
        return sectors.first { s in s.keywords.contains { lower.contains($0) } }?.code ?? "city-management"
    }

    /// Builds the catalogue. `name` labels it (e.g. the trace file name).
    public static func derive(from records: [TraceRecord], name: String) -> RoutingCatalogue {
        var jurisdictionCodes = Set<String>()
        var agencies = Set<String>()
        var categories = Set<String>()
        var counts: [String: [String: [String: Int]]] = [:]  // category → jurisdiction → agency → n
        for r in records {
            let j = jurisdiction(forDistrict: r.district)
            let agency = r.agency.isEmpty ? "unknown-agency" : r.agency
            jurisdictionCodes.insert(j)
            agencies.insert(agency)
            categories.insert(r.category)
            counts[r.category, default: [:]][j, default: [:]][agency, default: 0] += 1
        }
        jurisdictionCodes.insert(cityWide)
        let orderedJurisdictions = jurisdictionCodes.sorted { a, b in
            (Int(a.dropFirst()) ?? Int.max, a) < (Int(b.dropFirst()) ?? Int.max, b)
        }
        let jurisdictions = orderedJurisdictions.map { code in
            Jurisdiction(code: code, name: code == cityWide ? "City-wide" : "Supervisor district \(code.dropFirst())",
                         kind: .district, government: "gov-\(code)")
        }
        var units = agencies.sorted().map { HandlingUnit(code: $0, name: $0, sector: "city-management", jurisdiction: nil) }
        units += orderedJurisdictions.map {
            HandlingUnit(code: "gov-\($0)", name: "Government of \($0)", sector: "city-management", jurisdiction: $0)
        }
        let groupCount = 4
        let perGroup = max(1, (orderedJurisdictions.count + groupCount - 1) / groupCount)
        var groups: [DispatchGroupSpec] = []
        for g in 0..<groupCount {
            let slice = Array(orderedJurisdictions.dropFirst(g * perGroup).prefix(perGroup))
            if !slice.isEmpty { groups.append(DispatchGroupSpec(code: "G\(g + 1)", name: "Dispatch group \(g + 1)", jurisdictions: slice)) }
        }
        var rules: [RoutingRule] = []
        for category in categories.sorted() {
            for (j, byAgency) in (counts[category] ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let lead = byAgency.max(by: { ($0.value, $1.key) < ($1.value, $0.key) })?.key else { continue }
                rules.append(RoutingRule(id: "R\(rules.count + 1)", category: category, jurisdiction: j, lead: lead))
            }
        }
        let serviceCategories = categories.sorted().map { ServiceCategory(code: $0, name: $0, sector: sector(ofCategory: $0)) }
        return RoutingCatalogue(
            version: "derived-\(records.count)", name: "Derived from \(name)",
            sectors: sectors.map { Sector(code: $0.code, name: $0.name) }, jurisdictions: jurisdictions,
            units: units, dispatchGroups: groups, categories: serviceCategories, livelihoodCategories: [],
            rules: rules)
    }
}
