// swift-tools-version:6.0
// The SwiftNIO anchor of `Tests/Benchmarks/compare.sh`: a framed echo / sink server and its clients, what a
// Swift engineer would otherwise pick. Its own package so that Hotline's product keeps no dependencies; built
// only by the benchmark script (`swift build -c release --package-path Tests/Benchmarks/anchors/nio`).
import PackageDescription

let package = Package(
    name: "NIOAnchor",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.2"),
    ],
    targets: [
        .executableTarget(name: "NIOAnchor", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
    ],
    // Plain NIO handler code of the 2.x style; the benchmark is about the runtime, not strict concurrency.
    swiftLanguageModes: [.v5]
)
