// Whole training steps of the default Gaussian VAE (784-200-200-20, softplus): gather, binarise, forward,
// backward, Adam, and the two-float read-back, at batch 100 and 1000 on every backend; and at batch 100 the same
// step for every other latent family and recipe (their fused sample, KL and density kernels, batch norm, IWAE).
// Throughput is in steps/s: multiply by the batch size for images/s. Synthetic images (uniform intensities) stand in for MNIST: a step's
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
    /// The recipes besides the default, each as its `latentkit train` flags would set it.
    let recipes: [(String, (inout ModelConfig) -> Void)] = [
        ("logit-normal", { $0.latent = .logitNormal }),
        ("concrete 20x10", { $0.latent = .concrete; $0.categoricalGroups = 20; $0.latentSize = 200 }),
        ("concrete 20x10 mc-kl", { $0.latent = .concrete; $0.categoricalGroups = 20; $0.latentSize = 200; $0.klEstimator = .monteCarlo }),
        ("dirichlet laplace", { $0.latent = .dirichlet }),
        ("dirichlet kl", { $0.latent = .dirichlet; $0.dirichletApproximation = .kl }),
        ("dirichlet exact", { $0.latent = .dirichlet; $0.dirichletApproximation = .exact }),
        ("gaussian batch-norm", { $0.batchNorm = true }),
        ("gaussian iwae-5", { _ in }),  // five samples per image: set on the run config below
    ]
    func register(_ name: String, _ config: RunConfig, on backend: any Backend) {
        let batch = config.batchSize
        let trainer = try! Trainer(config: config, backend: backend, train: images)
        let order = trainer.permutation(epoch: 0)
        var position = 0
        Benchmark("\(backend.name) train step \(name) batch \(batch)") { benchmark in
            for _ in benchmark.scaledIterations {
                if position + batch > count { position = 0 }
                _ = try trainer.step(batch: Array(order[position..<(position + batch)]))
                position += batch
            }
        }
    }
    for backend in backends {
        for batch in [100, 1000] {
            var config = RunConfig()
            config.batchSize = batch
            register("gaussian", config, on: backend)
        }
        for (name, recipe) in recipes {
            var config = RunConfig()
            recipe(&config.model)
            if name.hasSuffix("iwae-5") { config.iwSamples = 5 }
            register(name, config, on: backend)
        }
    }
}
