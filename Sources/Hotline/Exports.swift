// The actors module re-exports the pure domain: a caller that imports `Hotline` to run a cluster also sees the
// values it passes to the actors (cases, requests, catalogues). The domain never imports this module.
@_exported import HotlineDomain
