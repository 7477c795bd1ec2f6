// swift-tools-version: 6.1
// Three programs that use LatentKit as a library, as a user's package does: `train-a-vae` (a whole VAE from data to
// checkpoint, about 40 lines), `dirichlet-block` (the Dirichlet building blocks inside a model of one's own) and
// `topic-model` (bag-of-words counts to topics with their NPMI, about 50 lines).
// Run from the repository root: swift run --package-path Examples train-a-vae [epochs] [data.npy]
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where LatentKit was cloned.
let latentKitIdentity = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "LatentKitExamples",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(name: "train-a-vae", dependencies: [.product(name: "LatentKit", package: latentKitIdentity)],
                          path: "Sources/TrainAVAE"),
        .executableTarget(name: "dirichlet-block", dependencies: [.product(name: "LatentKit", package: latentKitIdentity)],
                          path: "Sources/DirichletBlock"),
        .executableTarget(name: "topic-model", dependencies: [.product(name: "LatentKit", package: latentKitIdentity)],
                          path: "Sources/TopicModel"),
    ],
    swiftLanguageModes: [.v6]
)
