// `latentkit devices`: what compute is on this machine and what `--backend auto` picks.

import ArgumentParser
import Foundation
import LatentKit

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List OpenCL platforms and devices and the CPU backend, and say which one --backend auto picks.")

    @Flag(help: "Also build every kernel on the default OpenCL device and compare a few ops with the CPU backend.")
    var check = false

    func run() throws {
        print("CPU backend: \(CPUBackend.shared.deviceDescription)")
        do {
            let devices = try OpenCLBackend.devices()
            print("OpenCL devices:")
            for d in devices { print("  \(d)") }
        } catch {
            print("OpenCL: none (\(error))")
        }
        let picked = Backends.autoChoice()
        print("--backend auto picks: \(picked.name) (\(picked.deviceDescription))")
        if check { try checkOpenCL() }
    }

    /// Builds every kernel family and compares digamma, softplus and a GEMM with the CPU backend.
    func checkOpenCL() throws {
        let cl = try OpenCLBackend.shared()
        let start = Date()
        let kernels = try cl.buildAll()
        print(String(format: "built %d kernels in %d programs on %@ in %.1f s", kernels.values.map(\.count).reduce(0, +),
                     kernels.count, cl.device.name, Date().timeIntervalSince(start)))
        let xs: [Float] = [1e-6, 0.5, 1, 1.4616321, 2, 10, 1e6]
        for op in [UnaryOp.digamma, .lgamma, .softplus] {
            let results = try [CPUBackend.shared as any Backend, cl].map { backend -> [Float] in
                let y = try backend.allocate(count: xs.count, dtype: .float32)
                try backend.unary(op, try backend.buffer(xs), into: y, count: xs.count)
                return try backend.download(y)
            }
            let worst = zip(results[0], results[1]).map { abs($0 - $1) / max(abs($0), 1) }.max() ?? 0
            print("\(op.cName): OpenCL vs CPU largest difference \(worst) (relative where |f| >= 1)")
            if worst > 4e-6 { throw ToolError("OpenCL \(op.cName) disagrees with the CPU backend by \(worst)") }
        }
        print("OpenCL check passed")
    }
}
