// Which backends the suite runs against, and the shared numeric assertions.

import Foundation
@_exported import LatentChecks
import LatentKit

/// The backends under test. The CPU backend always; OpenCL when a platform exists, and also when
/// `LATENTKIT_REQUIRE_OPENCL=1` (CI) even if it does not, so that every OpenCL test then fails instead of
/// being skipped.
public enum TestBackends {
    public static var requireOpenCL: Bool { ProcessInfo.processInfo.environment["LATENTKIT_REQUIRE_OPENCL"] == "1" }

    public static let all: [BackendKind] = {
        if requireOpenCL || (try? OpenCLBackend.shared()) != nil { return [.cpu, .opencl] }
        return [.cpu]
    }()

    /// Pairs of (reference, other) for cross-backend agreement tests: the CPU backend is the reference.
    public static let others: [BackendKind] = all.filter { $0 != .cpu }

    public static func backend(_ kind: BackendKind) throws -> any Backend {
        switch kind {
        case .cpu: return CPUBackend.shared
        case .opencl: return try OpenCLBackend.shared()
        }
    }
}

/// Path of a file in `Tests/LatentKitTests/Data`.
public func testDataPath(_ name: String, file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LatentKitTests/Data/\(name)").path
}

/// The package's root folder (where `data/` lives).
public func packageRoot(file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

/// MNIST as `scripts/setup.sh` fetched it; a missing copy is a test failure with the fix in the message.
public func mnist(trainLimit: Int? = nil, testLimit: Int? = nil) throws -> Dataset {
    try Dataset(.mnist, directory: packageRoot() + "/data/mnist", trainLimit: trainLimit, testLimit: testLimit)
}

/// A fresh temporary directory.
public func temporaryDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("latentkit-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A small VAE of `latent` family for tests of its latent maths (sampling, densities, KL), which do not depend on
/// the network's weights. `configure` sets the family's options.
public func smallVAE(_ latent: LatentFamily, latentSize: Int, on backend: any Backend,
                     _ configure: (inout ModelConfig) -> Void = { _ in }) throws -> VAE {
    var c = ModelConfig()
    c.latent = latent
    c.latentSize = latentSize
    c.hidden = [8]
    c.inputSize = 4
    configure(&c)
    return try VAE(c, on: backend, seed: 1)
}

/// Reads a tab-separated table of numbers from a file, skipping `#` comment lines.
public func readTable(_ path: String) throws -> [[Double]] {
    readTable(text: try String(contentsOfFile: path, encoding: .utf8))
}
