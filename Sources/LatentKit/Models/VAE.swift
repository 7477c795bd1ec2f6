// The VAE: an MLP encoder to the parameters of q(z|x), the reparameterised sample of the latent family
// (LatentFamilies.swift), an MLP decoder to Bernoulli logits (or a Gaussian mean and log-variance).

import Foundation

/// What the decoder's output distribution is.
public enum Likelihood: String, CaseIterable, Codable, Sendable {
    /// Independent Bernoullis from logits: binary (or binarised) data.
    case bernoulli
    /// Independent Gaussians with a learned mean and log-variance per pixel: continuous data.
    case gaussian
    /// A bag of words: the counts' tokens drawn from softmax(logits) over the D columns (the vocabulary), as in
    /// ProdLDA; log p(x|z) = Σ_v x_v log softmax(logits)_v.
    case multinomial
}

/// The latent families available.
public enum LatentFamily: String, CaseIterable, Codable, Sendable {
    case gaussian
    /// z = σ(y) with y Gaussian; the decoder sees z in (0, 1)^nz.
    case logitNormal = "logit-normal"
    /// Independent K-way Concrete (Gumbel-softmax) variables, sampled as ExpConcrete in log space.
    case concrete
    /// A Dirichlet posterior (paper 000), sampled through a logistic-normal approximation, z on the simplex.
    case dirichlet
    /// Rolfe's discrete VAE (paper 002): binary z smoothed by spike-and-exponential ζ, an RBM prior (DiscreteVAE.swift).
    case dvae
    /// ProdLDA's latent (Srivastava & Sutton 2017): y from a diagonal Gaussian, the decoder sees z = softmax(y) on the
    /// simplex; the prior on y is the Laplace approximation of a symmetric Dirichlet(α), N(0, (1/α)(1 − 1/K) I).
    case softmaxGaussian = "softmax-gaussian"
}

/// What the decoder of a Dirichlet VAE is given of a sample z on the simplex.
public enum DirichletDecoderInput: String, CaseIterable, Codable, Sendable {
    /// z itself (paper 000): entries near 1/K, a small scale for the decoder's first layer.
    case simplex
    /// Its centred log-ratio log z − mean(log z): the same information (z = softmax of it), at unit scale; for the
    /// logistic-normal samplers it is the sampled logit centred.
    case centredLogRatio = "clr"
}

/// How a Dirichlet is approximated by a logistic normal for sampling (paper 000).
public enum DirichletApproximation: String, CaseIterable, Codable, Sendable {
    /// Laplace approximation in the softmax basis: μ_k = log α_k - mean_j log α_j,
    /// σ²_k = (1/α_k)(1 - 2/K) + (1/K²) Σ_j 1/α_j; z = softmax(μ + σ ε).
    case laplace
    /// The KL-optimal (Aitchison-Shen) approximation: logits y_k = ψ(α_k) - ψ(α_K) + √ψ₁(α_k) ε_k - √ψ₁(α_K) ε_K for
    /// k < K (one shared ε_K gives the off-diagonal covariance ψ₁(α_K)), y_K = 0; z = softmax(y).
    case kl
    /// No approximation: z = G / Σ G with G_k ~ Gamma(α_k, 1), differentiable by implicit reparameterisation.
    case exact
}

/// How the encoder's last layer becomes a concentration α > 0.
public enum AlphaActivation: String, CaseIterable, Codable, Sendable {
    case softplus
    /// exp(c · tanh(h)) with a learned scalar c.
    case expTanh = "exp-tanh"
    /// c · softmax(h) with a learned scalar c.
    case scaledSoftmax = "scaled-softmax"
}

/// How the KL term of the ELBO is computed.
public enum KLEstimator: String, CaseIterable, Codable, Sendable {
    /// In closed form (for the logit-normal: the KL of the underlying Gaussians, which is equal).
    case analytic
    /// One-sample Monte Carlo, `log q(z|x) - log p(z)` at the sampled z (paper 001's choice for the logit-normal).
    case monteCarlo = "monte-carlo"
}

/// The architecture: `inputs-H-...-H-latent` encoder, mirrored decoder.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var latent: LatentFamily = .gaussian
    public var latentSize: Int = 20
    public var hidden: [Int] = [200, 200]
    /// The decoder's hidden layers, latent side first; nil: the encoder's mirrored. Empty: a linear decoder, whose
    /// weights are ProdLDA's topics (`latentkit topics`).
    public var decoderHidden: [Int]?
    /// The decoder's hidden layer sizes, latent side first.
    public var decoderWidths: [Int] { decoderHidden ?? hidden.reversed() }
    public var activation: Activation = .softplus
    public var likelihood: Likelihood = .bernoulli
    public var inputSize: Int = 784
    /// α of the logit-normal prior N(0, α I) on the logits (paper 001's best: 1.78).
    public var priorVariance: Float = 1.78
    /// nil: the family's default (see ``effectiveKLEstimator``).
    public var klEstimator: KLEstimator?
    /// Concrete: the latent is this many independent categoricals of `latentSize / categoricalGroups` classes.
    public var categoricalGroups: Int = 1
    /// Concrete: the posterior's temperature λ (the starting value when annealing). The default recipe is Jang et
    /// al.'s: λ from 1 annealed at 3e-5 per step towards 0.5 (20x10 on MNIST, 10 epochs: 109.4 nats; λ fixed at 0.5,
    /// paper 001's choice: 114.3; fixed at 2/3: 111.4).
    public var temperature: Float = 1
    /// Concrete: the prior's temperature (its locations are uniform).
    public var priorTemperature: Float = 1
    /// Concrete: annealing λ_t = max(minimumTemperature, temperature · exp(-annealRate · t)) at step t; 0 keeps λ fixed.
    public var annealRate: Float = 3e-5
    public var minimumTemperature: Float = 0.5
    /// Dirichlet: the logistic-normal approximation used for sampling.
    public var dirichletApproximation: DirichletApproximation = .laplace
    /// Dirichlet: how α is made positive.
    public var alphaActivation: AlphaActivation = .softplus
    /// Dirichlet: what the decoder is given (a run recorded without it, before it existed, used `simplex`).
    public var dirichletDecoderInput: DirichletDecoderInput = .centredLogRatio
    /// Dirichlet: the symmetric prior's concentration β (nil: the default recipe's, see ``effectivePriorConcentration``).
    public var priorConcentration: Float?
    /// Batch normalisation after every hidden layer's affine map (before its activation).
    public var batchNorm: Bool = false
    /// ProdLDA's batch normalisation of the decoder's output logits (scale fixed at 1, learned shift, ε and momentum
    /// ``decoderBatchNormEpsilon``): batch statistics in training, running ones in evaluation.
    public var decoderBatchNorm: Bool = false
    /// Scholar's annealing (Card et al. 2018): the decoder's logits are w·BN(η) + (1 − w)·η with w falling linearly from
    /// 1 to 0 over this many epochs, BN(η) alone after them (0: no annealing, w = 1 throughout).
    public var decoderBatchNormAnnealEpochs: Int = 0
    /// ProdLDA's batch normalisation of the encoder's output heads, with neither scale nor shift (ε 1e-3, momentum 1e-3).
    public var encoderHeadBatchNorm: Bool = false
    /// Inverted dropout on the encoder's last hidden layer, and on the sample the decoder sees (training only; masks from
    /// Philox, so every backend drops the same units).
    public var dropout: Float = 0
    public var latentDropout: Float = 0
    /// A bag-of-words decoder adds the training corpus's log unigram frequencies to its logits, a fixed bias (Scholar,
    /// Card et al. 2018), so that its weights model departures from the background.
    public var backgroundBias: Bool = false
    /// ProdLDA's ε of the decoder's and the heads' batch normalisation.
    public static let decoderBatchNormEpsilon: Float = 1e-3
    /// Their running statistics' momentum. Training normalises by the batch's statistics whatever it is; evaluation by the
    /// running ones, which ProdLDA's 1e-3 leaves far from the data's after a short run (a fraction 0.999^t of their
    /// initial 0 and 1 remains after t steps: 37% after 1,000), so PyTorch's 0.1 (pyro-ppl's ProdLDA keeps it too).
    public static let decoderBatchNormMomentum: Float = 0.1

    /// Gaussian: the structure of the posterior's precision (StructuredGaussian.swift).
    public var posterior: PosteriorStructure = .diagonal
    /// `--posterior grid`: the latent grid (nil: the squarest, see ``effectiveGrid``).
    public var grid: GridShape?
    /// Discrete VAE: β of the spike-and-exponential smoothing, its hierarchical posterior's groups, and the persistent
    /// Gibbs chains of the RBM prior's negative phase (see ``DiscreteVAEDefaults``).
    public var spikeBeta: Float = DiscreteVAEDefaults.beta
    public var posteriorGroups: Int = 1
    public var gibbsChains: Int = DiscreteVAEDefaults.gibbsChains
    public var gibbsSteps: Int = DiscreteVAEDefaults.gibbsSteps

    public init() {}

    /// Throws unless `images` are what the model takes (`--data-dir` may name another dataset than the run's).
    public func requireInput(_ images: LabelledImages) throws {
        guard images.pixelsPerImage == inputSize else {
            throw DataError("dataset mismatch: the images have \(images.rows)x\(images.cols) = \(images.pixelsPerImage) pixels, "
                            + "the model takes \(inputSize)")
        }
    }

    /// Reads configurations written by earlier versions too: absent fields take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        latent = try c.decodeIfPresent(LatentFamily.self, forKey: .latent) ?? .gaussian
        latentSize = try c.decodeIfPresent(Int.self, forKey: .latentSize) ?? 20
        hidden = try c.decodeIfPresent([Int].self, forKey: .hidden) ?? [200, 200]
        decoderHidden = try c.decodeIfPresent([Int].self, forKey: .decoderHidden)
        activation = try c.decodeIfPresent(Activation.self, forKey: .activation) ?? .softplus
        likelihood = try c.decodeIfPresent(Likelihood.self, forKey: .likelihood) ?? .bernoulli
        inputSize = try c.decodeIfPresent(Int.self, forKey: .inputSize) ?? 784
        priorVariance = try c.decodeIfPresent(Float.self, forKey: .priorVariance) ?? 1.78
        klEstimator = try c.decodeIfPresent(KLEstimator.self, forKey: .klEstimator)
        categoricalGroups = try c.decodeIfPresent(Int.self, forKey: .categoricalGroups) ?? 1
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? 1
        priorTemperature = try c.decodeIfPresent(Float.self, forKey: .priorTemperature) ?? 1
        annealRate = try c.decodeIfPresent(Float.self, forKey: .annealRate) ?? 3e-5
        minimumTemperature = try c.decodeIfPresent(Float.self, forKey: .minimumTemperature) ?? 0.5
        dirichletApproximation = try c.decodeIfPresent(DirichletApproximation.self, forKey: .dirichletApproximation) ?? .laplace
        alphaActivation = try c.decodeIfPresent(AlphaActivation.self, forKey: .alphaActivation) ?? .softplus
        dirichletDecoderInput = try c.decodeIfPresent(DirichletDecoderInput.self, forKey: .dirichletDecoderInput) ?? .simplex
        priorConcentration = try c.decodeIfPresent(Float.self, forKey: .priorConcentration)
        batchNorm = try c.decodeIfPresent(Bool.self, forKey: .batchNorm) ?? false
        posterior = try c.decodeIfPresent(PosteriorStructure.self, forKey: .posterior) ?? .diagonal
        grid = try c.decodeIfPresent(GridShape.self, forKey: .grid)
        spikeBeta = try c.decodeIfPresent(Float.self, forKey: .spikeBeta) ?? DiscreteVAEDefaults.betaOfUnrecordedRuns
        posteriorGroups = try c.decodeIfPresent(Int.self, forKey: .posteriorGroups) ?? 1
        gibbsChains = try c.decodeIfPresent(Int.self, forKey: .gibbsChains) ?? DiscreteVAEDefaults.gibbsChains
        gibbsSteps = try c.decodeIfPresent(Int.self, forKey: .gibbsSteps) ?? DiscreteVAEDefaults.gibbsSteps
        decoderBatchNorm = try c.decodeIfPresent(Bool.self, forKey: .decoderBatchNorm) ?? false
        decoderBatchNormAnnealEpochs = try c.decodeIfPresent(Int.self, forKey: .decoderBatchNormAnnealEpochs) ?? 0
        encoderHeadBatchNorm = try c.decodeIfPresent(Bool.self, forKey: .encoderHeadBatchNorm) ?? false
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        latentDropout = try c.decodeIfPresent(Float.self, forKey: .latentDropout) ?? 0
        backgroundBias = try c.decodeIfPresent(Bool.self, forKey: .backgroundBias) ?? false
    }

    /// Dirichlet: β of the symmetric prior Dir(β·1). Default 1 (the uniform distribution on the simplex): paper
    /// 000's 1/K collapses (the PyTorch reference of that recipe: reconstruction stays at the no-information 206).
    public var effectivePriorConcentration: Float { priorConcentration ?? 1 }

    /// Concrete: classes per categorical variable.
    public var categories: Int { latentSize / max(categoricalGroups, 1) }

    /// The posterior temperature after `step` training steps.
    public func temperature(atStep step: Int) -> Float {
        annealRate == 0 ? temperature : max(minimumTemperature, temperature * Float.exp(-annealRate * Float(step)))
    }

    /// The default KL term of each family: analytic for the Gaussian; Monte Carlo for the logit-normal (paper 001);
    /// for the Concrete the categorical KL of Jang et al. (paper 001's Monte Carlo KL between ExpConcrete densities
    /// at temperatures 0.5 and 1 collapses: measured 301 nats for 20x10 after 10 epochs, reconstruction at the
    /// no-information level of 206).
    public var effectiveKLEstimator: KLEstimator { klEstimator ?? (latent == .logitNormal ? .monteCarlo : .analytic) }

    /// The diagonal Gaussian's mean and log-variance heads are one layer of `2 nz` outputs: one GEMM and one epilogue
    /// for both, and one fused kernel for the sample and the KL (Objective.elbo).
    public var joinsHeads: Bool { (latent == .gaussian || latent == .softmaxGaussian) && posterior == .diagonal }

    /// Whether `--kl analytic` is the exact KL of the model's q and p. For the Concrete it is not: there it means
    /// Jang et al.'s KL of the discrete categoricals the relaxation stands for.
    public var hasAnalyticKL: Bool { latent != .concrete }

    /// The Dirichlet's number of components.
    public var components: Int { latentSize }

    /// Log-variance of the prior on the Gaussian variable: 0 (N(0, I)), log α (logit-normal), or for the softmax-Gaussian
    /// that of the Laplace approximation of Dir(α·1) in the softmax basis, log((1/α)(1 − 1/K)).
    public var priorLogVariance: Float {
        switch latent {
        case .logitNormal: return Float.log(priorVariance)
        case .softmaxGaussian:
            let k = Double(latentSize), alpha = Double(effectivePriorConcentration)
            return Float(Foundation.log((1 / alpha) * (1 - 1 / k)))
        default: return 0
        }
    }

    /// Whether the decoder's input lies on the simplex (its codes are topic proportions).
    public var hasSimplexLatent: Bool { latent == .dirichlet || latent == .softmaxGaussian }

    public func validate() throws {
        if latent == .logitNormal {
            try require(priorVariance > 0 && priorVariance.isFinite, "--prior-variance must be positive and finite, got \(priorVariance)")
        }
        if latent == .concrete {
            try require(categoricalGroups >= 1 && latentSize % categoricalGroups == 0,
                        "latent size \(latentSize) is not \(categoricalGroups) categoricals of equal size")
            try require(categories >= 2, "a categorical needs K >= 2 classes, got \(categories)")
            for (name, t) in [("--temperature", temperature), ("--prior-temperature", priorTemperature), ("--min-temperature", minimumTemperature)] {
                try require(t > 0 && t.isFinite, "\(name) must be positive and finite, got \(t)")
            }
            try require(annealRate >= 0 && annealRate.isFinite, "--anneal must be >= 0, got \(annealRate)")
        } else {
            try require(categoricalGroups == 1, "--categorical applies to --latent concrete only")
        }
        if latent == .dirichlet || latent == .softmaxGaussian {
            try require(latentSize >= 2, "a \(latent == .dirichlet ? "Dirichlet" : "softmax-Gaussian") needs K >= 2 components, got \(latentSize)")
            let beta = effectivePriorConcentration
            try require(beta > 0 && beta.isFinite, "--prior-concentration must be positive and finite, got \(beta)")
        }
        try validateDiscreteVAE()
        try require(latentSize >= 1, "latent size must be at least 1, got \(latentSize)")
        try validatePosterior()
        try require(!hidden.isEmpty && hidden.allSatisfy { $0 >= 1 }, "hidden layer sizes must be positive, got \(hidden)")
        try require(decoderWidths.allSatisfy { $0 >= 1 }, "decoder hidden layer sizes must be positive, got \(decoderWidths)")
        try require(decoderHidden == nil || latent != .dvae, "--decoder-hidden: the discrete VAE's decoder mirrors its encoder")
        try require(inputSize >= 1, "input size must be positive")
        for (flag, p) in [("--dropout", dropout), ("--latent-dropout", latentDropout)] {
            try require(p >= 0 && p < 1, "\(flag) must lie in [0, 1), got \(p)")
        }
        try require(decoderBatchNormAnnealEpochs >= 0, "--decoder-batch-norm-anneal must be >= 0 epochs, got \(decoderBatchNormAnnealEpochs)")
        try require(decoderBatchNormAnnealEpochs == 0 || decoderBatchNorm, "--decoder-batch-norm-anneal needs --decoder-batch-norm")
        try require(!backgroundBias || likelihood == .multinomial,
                    "--background-bias applies to bags of words (the multinomial likelihood), not \(likelihood.rawValue)")
        try require(!(decoderBatchNorm || backgroundBias) || likelihood != .gaussian,
                    "--decoder-batch-norm applies to logits (Bernoulli or multinomial likelihood), not to a Gaussian decoder")
        try require(latent != .dvae || !(decoderBatchNorm || encoderHeadBatchNorm || dropout > 0 || latentDropout > 0 || backgroundBias),
                    "--decoder-batch-norm, --encoder-head-batch-norm, --dropout, --latent-dropout and --background-bias: the discrete VAE's "
                    + "decoder and posterior do not take them")
    }
}

/// The decoder's output for a batch.
public enum Decoded {
    case logits(Tensor)
    case gaussian(mean: Tensor, logVariance: Tensor)
}

public final class VAE {
    public let config: ModelConfig
    /// Concrete: the posterior temperature in use (the trainer anneals it; checkpoints record it).
    public var temperature: Float
    /// Dirichlet with the exp-tanh or scaled-softmax activation: the learned scale c.
    let alphaScale: Tensor?
    /// One per hidden layer (encoder then decoder) when batch normalisation is on.
    let normalisers: [BatchNorm]
    /// ``ModelConfig/encoderHeadBatchNorm``: one per head (the joined heads' one covers both).
    let headNormalisers: [BatchNorm]
    /// ``ModelConfig/decoderBatchNorm``: on the output logits.
    let outputNormaliser: BatchNorm?
    /// ``ModelConfig/backgroundBias``: the training corpus's log unigram frequencies (`1 × inputSize`), fixed; set by the
    /// trainer from its data (``setBackground(fromCounts:)``) and saved with the statistics.
    public let background: Tensor?
    /// The weight w of the decoder's batch norm in w·BN(η) + (1 − w)·η (``ModelConfig/decoderBatchNormAnnealEpochs``): the
    /// trainer sets it every step; checkpoints record it, and evaluation uses the recorded value.
    public var decoderBatchNormWeight: Float = 1
    /// The Philox counter of the current step's dropout masks (the trainer sets it every step, as it does the noise's).
    public var dropoutCounter = PhiloxCounter()
    let seed: UInt32
    /// Batch statistics (training) or running statistics (evaluation) for batch normalisation.
    public var training = false
    /// The discrete VAE's RBM prior, group couplings and persistent chains (nil for the other families).
    public let discrete: DiscreteVAEParts?
    /// The exact Dirichlet sampler draws its own Gamma variates from this key and counter (the trainer and the
    /// evaluator set them for every batch, as they do the noise of the other families).
    public var gammaKey = PhiloxKey(seed: 0, stream: 0x4000)
    public var gammaCounter = PhiloxCounter()
    /// Where this batch's images sit in the global batch of a data-parallel step (nil: the batch is the whole one), so
    /// that the Gamma variates of an image do not depend on the number of ranks.
    public var batchSlice: BatchSlice?
    let encoder: [Dense]
    /// The posterior's location head; with ``ModelConfig/joinsHeads`` the mean and log-variance heads as one layer.
    let meanHead: Dense
    /// The posterior's log-variance when it is a layer of its own; the Concrete family has one parameter per class and
    /// no such head.
    let logVarianceHead: Dense?
    let decoder: [Dense]
    let outputHead: Dense
    let outputLogVarianceHead: Dense?
    /// Chain and grid posteriors: L's strictly-lower non-zeros (StructuredGaussian.swift); made last, so the other layers'
    /// initial values do not depend on the posterior structure.
    let precisionHead: Dense?

    public init(_ config: ModelConfig, on backend: any Backend, seed: UInt32) throws {
        try config.validate()
        self.config = config
        self.seed = seed
        temperature = config.temperature
        var stream: UInt32 = 0
        func layer(_ name: String, _ inputs: Int, _ outputs: Int) throws -> Dense {
            stream += 1
            return try Dense(name: name, inputs: inputs, outputs: outputs, on: backend, seed: seed, stream: stream)
        }
        let widths = [config.inputSize] + config.hidden
        encoder = try (0..<config.hidden.count).map { try layer("encoder.\($0)", widths[$0], widths[$0 + 1]) }
        let headName = [LatentFamily.concrete: "encoder.logits", .dirichlet: "encoder.alpha", .dvae: "encoder.logits"][config.latent] ?? "encoder.mean"
        let oneParameter = config.latent == .concrete || config.latent == .dirichlet || config.latent == .dvae
        let location = try layer(headName, config.hidden.last!, config.latentSize)
        let logVariance = oneParameter ? nil : try layer("encoder.log_variance", config.hidden.last!, config.latentSize)
        if config.joinsHeads, let logVariance {
            meanHead = try Dense(name: "encoder.heads", joining: [location, logVariance], on: backend)
            logVarianceHead = nil
        } else {
            meanHead = location
            logVarianceHead = logVariance
        }
        alphaScale = config.latent == .dirichlet && config.alphaActivation != .softplus
            ? try Tensor([config.alphaActivation == .expTanh ? 1 : Float(config.latentSize)], rows: 1, cols: 1, on: backend) : nil
        let back = [config.latentSize] + config.decoderWidths
        decoder = try (0..<config.decoderWidths.count).map { try layer("decoder.\($0)", back[$0], back[$0 + 1]) }
        outputHead = try layer(config.likelihood == .gaussian ? "decoder.mean" : "decoder.logits", back.last!, config.inputSize)
        outputLogVarianceHead = config.likelihood == .gaussian
            ? try layer("decoder.log_variance", back.last!, config.inputSize) : nil
        normalisers = config.batchNorm
            ? try (encoder + decoder).map { try BatchNorm(name: "\($0.name).bn", features: $0.bias.cols, on: backend) } : []
        let eps = ModelConfig.decoderBatchNormEpsilon
        headNormalisers = config.encoderHeadBatchNorm
            ? try ([meanHead] + (logVarianceHead.map { [$0] } ?? [])).map {
                try BatchNorm(name: "\($0.name).bn", features: $0.bias.cols, epsilon: eps, momentum: ModelConfig.decoderBatchNormMomentum,
                              learnsScale: false, learnsShift: false, on: backend)
            } : []
        outputNormaliser = config.decoderBatchNorm
            ? try BatchNorm(name: "\(outputHead.name).bn", features: config.inputSize, epsilon: eps, momentum: ModelConfig.decoderBatchNormMomentum,
                            learnsScale: false, on: backend) : nil
        background = config.backgroundBias
            ? try Tensor([Float](repeating: -Float.log(Float(config.inputSize)), count: config.inputSize), rows: 1, cols: config.inputSize, on: backend) : nil
        precisionHead = try VAE.makePrecisionHead(config, layer, on: backend)
        discrete = config.latent == .dvae ? try DiscreteVAEParts(config, on: backend, seed: seed, firstStream: stream + 1) : nil
    }

    /// Every parameter under its checkpoint name, in a fixed order.
    public var parameters: [(String, Tensor)] {
        (encoder + [meanHead] + (logVarianceHead.map { [$0] } ?? []) + decoder + [outputHead] + (outputLogVarianceHead.map { [$0] } ?? []))
            .flatMap(\.parameters) + (alphaScale.map { [("encoder.alpha_scale", $0)] } ?? []) + normalisers.flatMap(\.parameters)
            + (outputNormaliser?.parameters ?? [])
            + (precisionHead?.parameters ?? [])
            + (discrete?.parameters ?? [])
    }

    /// State that is saved but not trained: batch normalisation's running statistics.
    public var statistics: [(String, Tensor)] {
        normalisers.flatMap(\.statistics) + (discrete?.statistics ?? []) + headNormalisers.flatMap(\.statistics)
            + (outputNormaliser?.statistics ?? []) + (background.map { [("decoder.background", $0)] } ?? [])
    }

    /// Parameters the model keeps joined that checkpoints store as the layers they stand for: the diagonal Gaussian's
    /// heads (``ModelConfig/joinsHeads``) are `encoder.mean` and `encoder.log_variance`, as they always were.
    public var joinedColumns: [JoinedColumns] {
        guard config.joinsHeads else { return [] }
        let n = config.latentSize
        return [JoinedColumns(name: "encoder.heads.", parts: [("encoder.mean.", 0..<n), ("encoder.log_variance.", n..<(2 * n))])]
    }

    /// Loads the parameters and statistics from `checkpoint` (shapes checked), and the annealed temperature.
    public func load(from checkpoint: Checkpoint, on backend: any Backend) throws {
        for (name, p) in parameters + statistics { try checkpoint.load(name, into: p, on: backend, joined: joinedColumns) }
        if let t = checkpoint.metadata["temperature"].flatMap(Float.init) { temperature = t }
        if let logZ = checkpoint.metadata["rbm_log_z"].flatMap(Double.init) { discrete?.rbm.logZ = logZ }
        if let w = checkpoint.metadata["decoder_bn_weight"].flatMap(Float.init) { decoderBatchNormWeight = w }
    }

    /// The hidden layers; `normalisers` (empty without batch norm) pairs with `layers` in order.
    func hidden(_ x: Tensor, _ layers: [Dense], _ normalisers: ArraySlice<BatchNorm>, _ tape: Tape) throws -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() {
            if normalisers.isEmpty {  // GEMM, then bias and activation in one fused epilogue
                h = try tape.dense(h, weight: layer.weight, bias: layer.bias, activation: config.activation.op)
                continue
            }
            let a = try normalisers[normalisers.startIndex + i](layer(h, on: tape), training: training, on: tape)
            h = try tape.unary(config.activation.op, a)
        }
        return h
    }

    /// The parameters of q(z|x) for each row of `x` (for the Dirichlet: the concentrations α).
    public func encode(_ x: Tensor, on tape: Tape) throws -> Posterior {
        var h = try hidden(x, encoder, normalisers.prefix(normalisers.isEmpty ? 0 : encoder.count), tape)
        if training && config.dropout > 0 { h = try dropout(h, keep: 1 - config.dropout, stream: RandomStream.dropout, on: tape) }
        /// A head's output, batch-normalised without scale or shift when ``ModelConfig/encoderHeadBatchNorm`` asks.
        func head(_ i: Int, _ layer: Dense) throws -> Tensor {
            let y = try layer(h, on: tape)
            return headNormalisers.isEmpty ? y : try headNormalisers[i](y, training: training, on: tape)
        }
        let location = try head(0, meanHead)
        if config.joinsHeads { return Posterior(joined: location, on: tape) }
        if config.latent == .dirichlet { return Posterior(location: try alpha(location, on: tape), logVariance: nil) }
        return Posterior(location: location, logVariance: try logVarianceHead.map { try head(1, $0) },
                         offDiagonal: try precisionHead.map { try $0(h, on: tape) })
    }

    /// Inverted dropout of `x` with this step's mask from Philox stream `stream` (element i of the global batch's mask
    /// at element `streamOffset + i`, so that a data-parallel rank drops what one process drops there).
    func dropout(_ x: Tensor, keep: Float, stream: UInt32, on tape: Tape) throws -> Tensor {
        try tape.dropout(x, keep: keep, key: PhiloxKey(seed: seed, stream: stream), counter: dropoutCounter,
                         streamOffset: batchSlice?.streamOffset(elements: x.count) ?? 0)
    }

    /// The smallest concentration the activations produce: keeps lgamma, digamma and trigamma finite however far
    /// the encoder drives a component down (softplus alone reaches 0 below h = -103).
    static let alphaFloor: Float = 1e-3

    func alpha(_ h: Tensor, on tape: Tape) throws -> Tensor {
        let positive: Tensor
        switch config.alphaActivation {
        case .softplus: positive = try tape.unary(.softplus, h)
        case .expTanh: positive = try tape.unary(.exp, tape.binary(.mul, tape.unary(.tanh, h), alphaScale!, broadcast: .scalar))
        case .scaledSoftmax: positive = try tape.binary(.mul, tape.unary(.exp, tape.logSoftmax(h)), alphaScale!, broadcast: .scalar)
        }
        return try tape.affine(positive, alpha: 1, beta: Self.alphaFloor)
    }

    public func decode(_ z: Tensor, on tape: Tape) throws -> Decoded {
        let input = training && config.latentDropout > 0 ? try dropout(z, keep: 1 - config.latentDropout, stream: RandomStream.latentDropout, on: tape) : z
        let h = try hidden(input, decoder, normalisers.dropFirst(normalisers.isEmpty ? 0 : encoder.count), tape)
        if let lv = outputLogVarianceHead { return .gaussian(mean: try outputHead(h, on: tape), logVariance: try lv(h, on: tape)) }
        var logits = try outputHead(h, on: tape)
        if let background { logits = try tape.binary(.add, logits, background, broadcast: .row) }
        if let bn = outputNormaliser, decoderBatchNormWeight > 0 {
            let w = decoderBatchNormWeight, normalised = try bn(logits, training: training, on: tape)
            logits = w == 1 ? normalised : try tape.binary(.add, tape.affine(normalised, alpha: w), tape.affine(logits, alpha: 1 - w))
        }
        return .logits(logits)
    }

    /// The log unigram frequencies of the `rows × inputSize` counts `documents` as the fixed background bias: log(n_v / N)
    /// with n_v floored at 1/2 for a word the corpus never uses. Returns how many words were floored.
    @discardableResult
    public func setBackground(fromCounts documents: LabelledImages, on backend: any Backend) throws -> Int {
        guard let background else { return 0 }
        let v = documents.pixelsPerImage
        try require(v == background.cols, "background bias: the documents have \(v) words, the model \(background.cols)")
        var counts = [Double](repeating: 0, count: v)
        for d in 0..<documents.count { for w in 0..<v { counts[w] += Double(documents.pixels[d * v + w]) } }
        let floored = counts.filter { $0 < 0.5 }.count
        let total = max(counts.reduce(0, +), 1)
        try backend.upload(counts.map { Float(Foundation.log(max($0, 0.5) / total)) }, to: background.buffer, offset: 0)
        return floored
    }

    /// `log p(x | z)` of each row, `batch × 1`.
    public func logLikelihood(_ x: Tensor, _ decoded: Decoded, on tape: Tape) throws -> Tensor {
        switch decoded {
        case .logits(let logits) where config.likelihood == .multinomial: return try tape.multinomialLogLikelihood(logits: logits, counts: x)
        case .logits(let logits): return try tape.bernoulliLogLikelihood(logits: logits, targets: x)
        case .gaussian(let mean, let logVariance): return try tape.gaussianLogDensity(x, mean: mean, logVariance: logVariance)
        }
    }

    /// The decoder's expected image: `σ(logits)`, the Gaussian mean, or the word probabilities softmax(logits).
    public func expectation(_ decoded: Decoded, on tape: Tape) throws -> Tensor {
        switch decoded {
        case .logits(let logits) where config.likelihood == .multinomial: return try tape.unary(.exp, tape.logSoftmax(logits))
        case .logits(let logits): return try tape.unary(.sigmoid, logits)
        case .gaussian(let mean, _): return mean
        }
    }
}
