// swift-tools-version: 6.1
// libFuzzer targets for every reader of outside bytes, a package of its own so that building and testing LatentKit does
// not build them with sanitizers. Built and run by scripts/fuzz.sh (swift build -Xswiftc -sanitize=fuzzer,address).
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where LatentKit was cloned.
let latentKitIdentity = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "LatentKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "LatentKitFuzz",
            dependencies: [.product(name: "LatentKit", package: latentKitIdentity)],
            path: "Sources"
        ),
    ],
    swiftLanguageModes: [.v6]
)
