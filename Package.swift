// swift-tools-version:6.0
import PackageDescription

// Layers (lower never imports higher):
//   CEpoll        — C shim exposing epoll/eventfd to Swift (Glibc does not export them)
//   ActorCluster  — generic cluster runtime: wire, transport, actor system. Knows nothing of hotlines.
//   Hotline       — the hotline domain (cases, routing, KPIs); depends on ActorCluster only.
//   HotlineCLI    — the `hotline` executable: node, bench, demo subcommands.
let package = Package(
    name: "Hotline",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ActorCluster", targets: ["ActorCluster"]),
        .library(name: "Hotline", targets: ["Hotline"]),
        .executable(name: "hotline", targets: ["HotlineCLI"]),
    ],
    targets: [
        .target(name: "CEpoll"),
        .target(name: "ActorCluster", dependencies: ["CEpoll"], exclude: ["README.md"]),
        .target(name: "Hotline", dependencies: ["ActorCluster"], exclude: ["README.md"]),
        .executableTarget(name: "HotlineCLI", dependencies: ["ActorCluster", "Hotline"], exclude: ["README.md"]),
        .testTarget(name: "ActorClusterTests", dependencies: ["ActorCluster"]),
        .testTarget(name: "HotlineTests", dependencies: ["Hotline"], exclude: ["Fixtures"]),
        .testTarget(name: "HotlineNodeTests", dependencies: ["ActorCluster", "Hotline", "HotlineCLI"],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
