// Training throughput on every backend: the training workloads of LatentChecks (Workloads.training, which
// `latentkit bench` times too). One iteration is 20 steps enqueued as `latentkit train` enqueues them and read back
// once (gather, binarise, forward, backward, Adam): the default Gaussian VAE (784-200-200-20, softplus) at batch 100
// and 1000, and every other latent family and recipe at batch 100. Throughput is in iterations/s: multiply by 20 × the
// batch size for images/s (summarize.py does). Synthetic images (uniform intensities) stand in for MNIST: a step's
// cost does not depend on the pixel values.

import Benchmark
import Foundation
import LatentChecks
import LatentKit

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], warmupIterations: 2, maxDuration: .seconds(3), maxIterations: 1000)
    var backends: [any Backend] = [CPUBackend.shared]
    if let cl = try? OpenCLBackend.shared() {
        _ = try? cl.buildAll()
        backends.append(cl)
    }
    for backend in backends {
        for workload in Workloads.training() {
            let iteration = try! workload.prepare(backend)
            Benchmark("\(backend.name) \(workload.name)") { benchmark in
                for _ in benchmark.scaledIterations { try iteration() }
            }
        }
    }
}
