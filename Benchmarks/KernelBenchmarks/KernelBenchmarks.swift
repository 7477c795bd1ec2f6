// Kernel microbenchmarks on every available backend: the kernel workloads of LatentChecks (Workloads.kernels, which
// `latentkit bench` times too): each unary op and random fill at 1<<20 elements (throughput is ops/s: multiply by
// 1,048,576 for elements/s), GEMM at the VAE's shapes (multiply ops/s by 2mnk for FLOP/s) and the fused family
// kernels. Programs are built and one warm-up iteration runs before measuring, so compile time is excluded; every
// iteration waits for the device, so the time is the device's, not the enqueue's.

import Benchmark
import Foundation
import LatentChecks
import LatentKit

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], warmupIterations: 2, maxDuration: .seconds(1), maxIterations: 200)
    for backend in availableBackends() {
        for workload in Workloads.kernels() {
            let iteration = try! workload.prepare(backend)
            Benchmark("\(backend.name) \(workload.name)") { benchmark in
                for _ in benchmark.scaledIterations { try iteration() }
            }
        }
    }
}

func availableBackends() -> [any Backend] {
    var backends: [any Backend] = [CPUBackend.shared]
    if let cl = try? OpenCLBackend.shared() {
        _ = try? cl.buildAll()
        backends.append(cl)
    }
    return backends
}
