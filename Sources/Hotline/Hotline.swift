import ActorCluster

/// The hotline domain: cases (work orders), routing catalogue, workflow actors and KPIs.
/// Built on the generic `ActorCluster` runtime; the runtime never imports this module.
public enum HotlineDomain {
    /// Version of the domain model carried in events and reports.
    public static let modelVersion = 1
}
