// swift-tools-version:6.0
import PackageDescription

// libFuzzer target for the wire layer. A separate package so the product (`../../Package.swift`) keeps no
// extra targets and `swift build` / `swift test` at the root are unaffected. Build and run: `./run.sh [seconds]`.
//
// The harness uses `@testable import ActorCluster` (CallEnvelope / ReplyEnvelope are internal): SwiftPM
// compiles every target with `-enable-testing` in the debug configuration, so only `-c debug` builds work.
let package = Package(
    name: "HotlineFuzz",
    dependencies: [.package(name: "Hotline", path: "../..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "WireFuzz", dependencies: ["CFuzzDriver", .product(name: "ActorCluster", package: "Hotline")]),
    ],
    swiftLanguageModes: [.v6]
)
