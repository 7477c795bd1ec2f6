// Whole training steps of the default Gaussian VAE (784-200-200-20, softplus): gather, binarise, forward,
// backward, Adam, and the two-float read-back, at batch 100 and 1000 on every backend. Throughput is in steps/s:
// multiply by the batch size for images/s. Synthetic images (uniform intensities) stand in for MNIST: a step's
// cost does not depend on the pixel values.

import Benchmark
import Foundation
import LatentKit

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], warmupIterations: 5, maxDuration: .seconds(3), maxIterations: 1000)

    var backends: [any Backend] = [CPUBackend.shared]
    if let cl = try? OpenCLBackend.shared() {
        _ = try? cl.buildAll()
        backends.append(cl)
    }
    let count = 6000
    var rng = SystemRandomNumberGenerator()
    let images = try! LabelledImages(count: count, rows: 28, cols: 28, pixels: (0..<(count * 784)).map { _ in Float.random(in: 0...1, using: &rng) },
                                     labels: [UInt8](repeating: 0, count: count))
    for backend in backends {
        for batch in [100, 1000] {
            var config = RunConfig()
            config.batchSize = batch
            let trainer = try! Trainer(config: config, backend: backend, train: images)
            let order = trainer.permutation(epoch: 0)
            var position = 0
            Benchmark("\(backend.name) train step batch \(batch)") { benchmark in
                for _ in benchmark.scaledIterations {
                    if position + batch > count { position = 0 }
                    _ = try trainer.step(batch: Array(order[position..<(position + batch)]))
                    position += batch
                }
            }
        }
    }
}
