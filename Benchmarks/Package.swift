// swift-tools-version: 6.1
// LatentKit's benchmarks, a package of their own so that building and testing LatentKit does not build the
// benchmark harness. Run from this folder: swift package --allow-writing-to-package-directory benchmark
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where LatentKit was cloned.
let latentKitIdentity = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "LatentKitBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                .product(name: "LatentKit", package: latentKitIdentity),
                .product(name: "LatentChecks", package: latentKitIdentity),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "KernelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "TrainingBenchmarks",
            dependencies: [
                .product(name: "LatentKit", package: latentKitIdentity),
                .product(name: "LatentChecks", package: latentKitIdentity),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "TrainingBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
