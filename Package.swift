// swift-tools-version:6.0
import PackageDescription

// Layers (lower never imports higher):
//   CEpoll        — C shim exposing epoll/eventfd to Swift (Glibc does not export them)
//   ActorCluster  — generic cluster runtime: wire, transport, actor system. Knows nothing of hotlines.
//   HotlineDomain — the hotline domain as pure values and rules (cases, workflow, time, routing,
//                   classification, KPIs, traces): Foundation only — no actors, no I/O, no cluster runtime.
//   Hotline       — the actors that carry the domain out on a cluster (intake desks, district offices,
//                   dispatch groups, ...) and the replay driver; depends on HotlineDomain and ActorCluster.
//   HotlineCLI    — the `hotline` executable: node, bench, demo subcommands.
let package = Package(
    name: "Hotline",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ActorCluster", targets: ["ActorCluster"]),
        .library(name: "HotlineDomain", targets: ["HotlineDomain"]),
        .library(name: "Hotline", targets: ["Hotline"]),
        .executable(name: "hotline", targets: ["HotlineCLI"]),
    ],
    targets: [
        .target(name: "CEpoll"),
        .target(name: "ActorCluster", dependencies: ["CEpoll"], exclude: ["README.md"]),
        .target(name: "HotlineDomain", exclude: ["README.md"]),
        .target(name: "Hotline", dependencies: ["HotlineDomain", "ActorCluster"], exclude: ["README.md"]),
        .executableTarget(name: "HotlineCLI", dependencies: ["ActorCluster", "HotlineDomain", "Hotline"], exclude: ["README.md"]),
        .testTarget(name: "ActorClusterTests", dependencies: ["ActorCluster"]),
        .testTarget(name: "HotlineTests", dependencies: ["HotlineDomain", "Hotline"], exclude: ["Fixtures"]),
        .testTarget(name: "HotlineNodeTests", dependencies: ["ActorCluster", "HotlineDomain", "Hotline", "HotlineCLI"],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
