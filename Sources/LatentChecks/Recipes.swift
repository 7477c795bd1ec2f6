// Every training recipe the toolkit has, at a size a test can afford: the list the portability and Oclgrind checks
// run, and `selftest` compares between a device and the CPU, so that each family's kernels are exercised.

import LatentKit

/// A named way to configure a run.
public struct Recipe: Sendable, CustomStringConvertible {
    public let name: String
    public let configure: @Sendable (inout RunConfig) -> Void
    public var description: String { name }

    /// A tiny run of this recipe: `hidden` units, `latentSize` latents (Concrete: as `groups × classes`), batch `batch`.
    public func config(hidden: [Int] = [16, 16], latentSize: Int = 4, batch: Int = 20) -> RunConfig {
        var c = RunConfig()
        c.model.hidden = hidden
        c.model.latentSize = latentSize
        c.batchSize = batch
        c.epochs = 1
        configure(&c)
        return c
    }

    /// The per-step losses (the batch's negative bound plus KL sums) of `steps` training steps of batch `batch` from the
    /// start of `images`, wrapping around, on `backend`; `config` gives the run's settings.
    public static func stepLosses(_ config: RunConfig, images: LabelledImages, steps: Int, on backend: any Backend) throws -> [Double] {
        let trainer = try Trainer(config: config, backend: backend, train: images)
        let batch = config.batchSize
        return try (0..<steps).map { s in
            let indices = (0..<batch).map { Int32((s * batch + $0) % images.count) }
            let (r, k) = try trainer.step(batch: indices)
            return r + k
        }
    }

    /// `count` deterministic 28 × 28 images of uniform intensities (a step's cost and checks do not need digits).
    public static func syntheticImages(count: Int) throws -> LabelledImages {
        try LabelledImages(count: count, rows: 28, cols: 28, pixels: randomFloats(count * 784, in: 0...1, seed: 11),
                           labels: (0..<count).map { UInt8($0 % 10) })
    }

    /// One of each family, estimator, approximation, objective and posterior structure.
    public static let all: [Recipe] = [
        Recipe(name: "gaussian") { _ in },
        Recipe(name: "logit-normal") { $0.model.latent = .logitNormal },
        Recipe(name: "concrete 1x4") { $0.model.latent = .concrete },
        Recipe(name: "concrete 2x2 monte-carlo") { c in
            c.model.latent = .concrete
            c.model.categoricalGroups = 2
            c.model.klEstimator = .monteCarlo
        },
        Recipe(name: "dirichlet laplace") { $0.model.latent = .dirichlet },
        Recipe(name: "dirichlet kl") { c in
            c.model.latent = .dirichlet
            c.model.dirichletApproximation = .kl
        },
        Recipe(name: "dirichlet exact") { c in
            c.model.latent = .dirichlet
            c.model.dirichletApproximation = .exact
        },
        Recipe(name: "batch-norm") { $0.model.batchNorm = true },
        Recipe(name: "iwae-3") { $0.iwSamples = 3 },
        Recipe(name: "chain") { $0.model.posterior = .chain },
        Recipe(name: "grid 2x2") { c in
            c.model.posterior = .grid
            c.model.grid = GridShape(rows: 2, columns: 2)
        },
        // ProdLDA's parts: the softmax-Gaussian, batch norm on the heads and (annealed) on the logits, both dropouts, a
        // linear decoder
        Recipe(name: "topic-model parts") { c in
            c.model.latent = .softmaxGaussian
            c.model.decoderHidden = []
            c.model.decoderBatchNorm = true
            c.model.decoderBatchNormAnnealEpochs = 1
            c.model.encoderHeadBatchNorm = true
            c.model.dropout = 0.2
            c.model.latentDropout = 0.2
            c.beta1 = 0.99
        },
        // the count recipe's own parts on counts (the synthetic images' intensities read as fractional counts): the
        // multinomial likelihood, Scholar's background bias, the word exclusivity penalty with words weighed by frequency,
        // and an encoder that reads log(1 + counts)
        Recipe(name: "count recipe parts") { c in
            c.model.likelihood = .multinomial
            c.model.latent = .softmaxGaussian
            c.model.decoderHidden = []
            c.model.backgroundBias = true
            c.model.encoderHeadBatchNorm = true
            c.model.wordExclusivity = 10
            c.model.wordExclusivityWeighting = .frequency
            c.model.encoderInput = .logCounts
        },
        Recipe(name: "dvae") { c in
            c.model.latent = .dvae
            c.model.gibbsChains = 8
        },
        // paper 002's full model: the RBM, two posterior groups, and two continuous layers above ζ
        Recipe(name: "dvae, 2 groups, 2 continuous layers") { c in
            c.model.latent = .dvae
            c.model.gibbsChains = 8
            c.model.posteriorGroups = 2
            c.model.continuousLayers = 2
            c.model.continuousSize = 3
            c.model.continuousHidden = 8
            c.model.rbmWeightDecay = 0.05  // the recipe's weight decay on the couplings, large enough to matter in a few steps
        },
        // the hierarchical Gaussian beside it, under the IWAE bound
        Recipe(name: "gaussian, 2 continuous layers, iwae-3") { c in
            c.model.continuousLayers = 2
            c.model.continuousSize = 3
            c.model.continuousHidden = 8
            c.iwSamples = 3
        },
    ]
}
