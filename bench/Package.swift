// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// A path dependency's identity is its directory's name (`slipway` in a fresh
/// clone, something else in a worktree), so it is read rather than assumed.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

/// Slipway's micro-benchmarks (ordo-one/package-benchmark): path sanitising,
/// path resolution and the LRU cache, with allocation counts.
///
///     cd bench && swift package --scratch-path .build-micro benchmark
///
/// The load benchmark against nginx is `bench/run`, not this package.
let package = Package(
    name: "slipway-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(
            url: "https://github.com/ordo-one/package-benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "SlipwayHotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "SlipwayModel", package: root),
                .product(name: "SlipwayStorage", package: root),
                .product(name: "SlipwayProxy", package: root),
            ],
            path: "Benchmarks/SlipwayHotPaths",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        )
    ]
)
