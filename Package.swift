// swift-tools-version: 6.1
import PackageDescription

// Layers, bottom to top (nothing reaches up):
//   COpenCL, CBLAS, CZlib  system libraries (module map + shim header)
//   CMPI                MPI loaded at run time (dlopen): no link-time dependency on libmpi
//   CVectorMath         the CPU backend's hot loops (exp, softplus, sigmoid, Philox, Adam), compiled per instruction set
//   Kernels             OpenCL C sources as Swift strings, no dependencies
//   LatentCore          the backend protocol, op enums, buffers, Philox, scalar special functions
//   LatentCPU           the CPU backend (Swift + OpenBLAS): the executable specification
//   LatentOpenCL        the OpenCL backend (thin RAII layer over OpenCL + CLBlast)
//   LatentKit           tensors and gradients, NN, models, data, training, checkpoints, evaluation
//   LatentChecks        the backend checks shared by the test suite and `latentkit selftest`, and the benchmark workloads
//                       shared by Benchmarks/ and `latentkit bench`
//   latentkit           the command-line tool
let package = Package(
    name: "LatentKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LatentKit", targets: ["LatentKit"]),
        .library(name: "LatentChecks", targets: ["LatentChecks"]),
        .executable(name: "latentkit", targets: ["latentkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        // `swift package generate-documentation --target LatentKit`: the DocC catalog in Sources/LatentKit/LatentKit.docc
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "CMPI", path: "Sources/CMPI", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CVectorMath", path: "Sources/CVectorMath"),
        .target(name: "Kernels", path: "Kernels"),
        .target(
            name: "LatentCore",
            dependencies: [.product(name: "RealModule", package: "swift-numerics")]
        ),
        .target(name: "LatentCPU", dependencies: ["LatentCore", "CBLAS", "CVectorMath"]),
        .target(name: "LatentOpenCL", dependencies: ["LatentCore", "COpenCL", "Kernels"]),
        .target(name: "LatentKit", dependencies: ["LatentCore", "LatentCPU", "LatentOpenCL", "CZlib", "CMPI"]),
        // LatentCore is named beside LatentKit (which re-exports it) wherever a target calls the Backend protocol: the
        // incremental build rebuilds a target when a direct dependency's interface changes, and a re-exported module's
        // change alone left LatentChecks calling Backend requirements by their old witness-table slots.
        .target(name: "LatentChecks", dependencies: ["LatentKit", "LatentCore", .product(name: "RealModule", package: "swift-numerics")]),
        .executableTarget(
            name: "latentkit",
            dependencies: ["LatentKit", "LatentCore", "LatentChecks", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .target(name: "TestSupport", dependencies: ["LatentKit", "LatentCore", "LatentChecks"], path: "Tests/TestSupport"),
        .testTarget(
            name: "LatentKitTests",
            dependencies: ["LatentKit", "LatentCore", "TestSupport", "Kernels", "LatentOpenCL", "LatentCPU"],
            exclude: ["Data"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
