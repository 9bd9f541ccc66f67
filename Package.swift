// swift-tools-version:6.0
import PackageDescription
#if os(Linux)
import Glibc
#endif

// Layers (lower never imports higher):
//   CEpoll        — C shim exposing epoll/eventfd to Swift (Glibc does not export them)
//   ActorCluster  — generic cluster runtime: wire, transport, actor system. Knows nothing of hotlines.
//   HotlineDomain — the hotline domain as pure values and rules (cases, workflow, time, routing,
//                   classification, KPIs, traces): Foundation only — no actors, no I/O, no cluster runtime.
//   Hotline       — the actors that carry the domain out on a cluster (intake desks, district offices,
//                   dispatch groups, ...) and the replay driver; depends on HotlineDomain and ActorCluster.
//   HotlineCLI    — the `hotline` executable: node, bench, demo subcommands.
// A release `hotline` on Linux is linked for a small resident set (Docs/performance.md, "idle RSS"): by lld
// from the toolchain (its layout keeps read-only data out of the text segment), exporting no dynamic symbols
// (nothing looks them up; exporting 10,000 made the loader read their names), and, where the C library
// applies them (glibc ≥ 2.36), with packed relative relocations (DT_RELR: 17 kB of relocations to read at
// start instead of 2 MB). Together about 4 MB less per idle node. Debug builds and tests link as before.
var leanReleaseLink: [LinkerSetting] = []
#if os(Linux)
var leanFlags = ["-use-ld=lld", "-Xlinker", "--no-export-dynamic"]
// The binary then needs glibc's GLIBC_ABI_DT_RELR at run time, so it is asked for only when the C library of
// the building machine has it (a binary copied to an older system would refuse to start, naming that version).
var libcName = [CChar](repeating: 0, count: 64)  // "glibc 2.36"
_ = confstr(Int32(_CS_GNU_LIBC_VERSION), &libcName, libcName.count)
let glibc = String(decoding: libcName.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ").last.map { $0.split(separator: ".").compactMap { Int($0) } } ?? []
if glibc.count >= 2, (glibc[0], glibc[1]) >= (2, 36) { leanFlags += ["-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"] }
leanReleaseLink = [.unsafeFlags(leanFlags, .when(platforms: [.linux], configuration: .release))]
#endif

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
        .executableTarget(name: "HotlineCLI", dependencies: ["ActorCluster", "HotlineDomain", "Hotline"], exclude: ["README.md"],
                          linkerSettings: leanReleaseLink),
        .testTarget(name: "ActorClusterTests", dependencies: ["ActorCluster"]),
        .testTarget(name: "HotlineTests", dependencies: ["HotlineDomain", "Hotline"], exclude: ["Fixtures"]),
        .testTarget(name: "HotlineNodeTests", dependencies: ["ActorCluster", "HotlineDomain", "Hotline", "HotlineCLI"],
                    exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
