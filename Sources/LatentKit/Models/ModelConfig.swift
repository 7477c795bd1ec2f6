// What a model is: the likelihood, the latent family and its options, the layers, and the recipe's building blocks
// (batch norms, dropout, the background bias), as config.json records them. Older configurations read with defaults.

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

/// How the word exclusivity penalty (``WordExclusivity``) weighs the words in its mean.
public enum WordWeighting: String, CaseIterable, Codable, Sendable {
    /// Each of the V words alike: most of the weight falls on rare words (the penalty as first landed, and runs recorded
    /// without a weighting).
    case uniform
    /// By the training corpus's unigram frequency, so that the words topics share their top lists with count most.
    case frequency
}

/// What a bag-of-words encoder reads of a document's counts (the decoder models the counts either way).
public enum EncoderInput: String, CaseIterable, Codable, Sendable {
    /// The counts as they are (ProdLDA's, and runs recorded without an encoder input).
    case counts
    /// log(1 + counts): a document many times longer than those trained on stays inside what the encoder has seen,
    /// where raw counts scale its first layer's input, and the posterior's KL with it, by the document's length.
    case logCounts = "log-counts"
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

    /// Whether the decoder's output weights are topics, one row per latent unit over the vocabulary: a bag of words (the
    /// multinomial likelihood) decoded linearly from one latent layer, what the topic penalties act on and `topics` ranks.
    public var hasTopicWeights: Bool {
        likelihood == .multinomial && decoderWidths.isEmpty && latent != .dvae && continuousLayers == 0
    }
    /// Whether the word exclusivity penalty is on and weighs words by the training corpus's frequencies, which the model
    /// then holds (as it does for ``backgroundBias``).
    public var weighsWordsByFrequency: Bool { wordExclusivity > 0 && wordExclusivityWeighting == .frequency }
    public var activation: Activation = .softplus
    public var likelihood: Likelihood = .bernoulli
    public var inputSize: Int = 784
    /// α of the logit-normal prior N(0, α I) on the logits (paper 001's best: 1.78).
    public var priorVariance: Float = 1.78
    /// nil: the family's default (see ``effectiveKLEstimator``).
    public var klEstimator: KLEstimator?
    /// Concrete: the latent is this many independent categoricals of `latentSize / categoricalGroups` classes.
    public var categoricalGroups: Int = 1
    /// The size of each simplex the latent lies on: one categorical's classes (Concrete), the whole latent otherwise.
    public var simplexSize: Int { latent == .concrete ? latentSize / max(categoricalGroups, 1) : latentSize }
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
    /// ProdLDA's batch normalisation of the decoder's output logits (scale fixed at 1, learned shift, ε
    /// ``decoderBatchNormEpsilon``, momentum ``decoderBatchNormMomentum``): batch statistics in training, running ones
    /// in evaluation.
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
    /// ε of the decoder's batch normalisation (`--decoder-batch-norm-epsilon`; ProdLDA's 1e-3, which runs recorded
    /// without it used). It sets how far a word whose logit barely varies over a batch is amplified: 1/√ε at most.
    public var decoderBatchNormEpsilon: Float = 1e-3
    /// λ of the topic diversity penalty (``TopicDiversity``) added to a bag-of-words model's loss: λ times the mean squared
    /// cosine between its topics' centred weight rows (0: none). Needs the multinomial likelihood, a linear decoder, no
    /// continuous layers and at least 3 topics.
    public var topicDiversity: Float = 0
    /// λ of the word exclusivity penalty (``WordExclusivity``) added to a bag-of-words model's loss: λ times the mean over
    /// the words (weighed as ``wordExclusivityWeighting`` says) of the entropy of a word's softmax over the topics of its
    /// weights (0: none). Needs what
    /// ``topicDiversity`` does, with at least 2 topics. Runs recorded without it had none.
    public var wordExclusivity: Float = 0
    /// How ``wordExclusivity`` weighs the words in its mean (`--word-exclusivity-weighting`). Runs recorded without it
    /// weighed them alike.
    public var wordExclusivityWeighting: WordWeighting = .uniform
    /// What the encoder reads of a bag of words (`--encoder-input`). Runs recorded without it read the counts.
    public var encoderInput: EncoderInput = .counts
    /// ProdLDA's ε of the encoder heads' batch normalisation.
    public static let headBatchNormEpsilon: Float = 1e-3
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
    /// Discrete VAE: λ of a weight decay on the RBM's couplings W, λ Σ W_ij² added to each step's loss (per image, in
    /// nats; the bound a step reports stays the ELBO); 0: none. It bounds how sharp the prior can grow, which a KL
    /// warm-up otherwise drives past what the persistent chains can follow (``ContinuousLayerDefaults``).
    public var rbmWeightDecay: Float = 0
    /// Continuous latent layers above the bottom latent (ContinuousLayers.swift): how many, their width, and their
    /// networks' hidden width (nil: the encoder's first). 0 layers: the one-latent model.
    public var continuousLayers: Int = 0
    public var continuousSize: Int = 0
    public var continuousHidden: Int?

    public init() {}

    /// Throws unless `images` are what the model takes (`--data-dir` may name another dataset than the run's).
    public func requireInput(_ images: LabelledImages, from path: String = "the data") throws {
        guard images.pixelsPerImage == inputSize else {
            throw DataError("dataset mismatch: the images have \(images.rows)x\(images.cols) = \(images.pixelsPerImage) pixels, "
                            + "the model takes \(inputSize)")
        }
        try images.requireValues(for: likelihood, path: path)
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
        rbmWeightDecay = try c.decodeIfPresent(Float.self, forKey: .rbmWeightDecay) ?? 0
        decoderBatchNorm = try c.decodeIfPresent(Bool.self, forKey: .decoderBatchNorm) ?? false
        decoderBatchNormAnnealEpochs = try c.decodeIfPresent(Int.self, forKey: .decoderBatchNormAnnealEpochs) ?? 0
        encoderHeadBatchNorm = try c.decodeIfPresent(Bool.self, forKey: .encoderHeadBatchNorm) ?? false
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        latentDropout = try c.decodeIfPresent(Float.self, forKey: .latentDropout) ?? 0
        backgroundBias = try c.decodeIfPresent(Bool.self, forKey: .backgroundBias) ?? false
        decoderBatchNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .decoderBatchNormEpsilon) ?? 1e-3
        topicDiversity = try c.decodeIfPresent(Float.self, forKey: .topicDiversity) ?? 0
        wordExclusivity = try c.decodeIfPresent(Float.self, forKey: .wordExclusivity) ?? 0
        wordExclusivityWeighting = try c.decodeIfPresent(WordWeighting.self, forKey: .wordExclusivityWeighting) ?? .uniform
        encoderInput = try c.decodeIfPresent(EncoderInput.self, forKey: .encoderInput) ?? .counts
        continuousLayers = try c.decodeIfPresent(Int.self, forKey: .continuousLayers) ?? 0
        continuousSize = try c.decodeIfPresent(Int.self, forKey: .continuousSize) ?? 0
        continuousHidden = try c.decodeIfPresent(Int.self, forKey: .continuousHidden)
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

    /// The widest layer (and latent, and input) a model may have: 2^24 units.
    public static let maximumWidth = 1 << 24

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
        if hasSimplexLatent {
            try require(latentSize >= 2, "a \(latent == .dirichlet ? "Dirichlet" : "softmax-Gaussian") needs K >= 2 components, got \(latentSize)")
            let beta = effectivePriorConcentration
            try require(beta > 0 && beta.isFinite, "--prior-concentration must be positive and finite, got \(beta)")
        }
        try validateDiscreteVAE()
        try validateContinuousLayers()
        try require(latentSize >= 1, "latent size must be at least 1, got \(latentSize)")
        try validatePosterior()
        try require(!hidden.isEmpty && hidden.allSatisfy { $0 >= 1 }, "hidden layer sizes must be positive, got \(hidden)")
        try require(decoderWidths.allSatisfy { $0 >= 1 }, "decoder hidden layer sizes must be positive, got \(decoderWidths)")
        // a layer's weights are width × width values: bounded, their counts and byte sizes cannot overflow, and the
        // backend's memory check (not the arithmetic before it) is what refuses a model too large for the machine
        for (what, sizes) in [("the latent size", [latentSize]), ("the input size", [inputSize]), ("hidden layer sizes", hidden),
                              ("decoder hidden layer sizes", decoderWidths)] {
            try require(sizes.allSatisfy { $0 <= Self.maximumWidth }, "\(what) must be at most \(Self.maximumWidth), got \(sizes.map(String.init).joined(separator: ","))")
        }
        try require(decoderHidden == nil || latent != .dvae, "--decoder-hidden: the discrete VAE's decoder mirrors its encoder")
        try require(inputSize >= 1, "input size must be positive")
        try require(priorConcentration == nil || hasSimplexLatent, "--prior-concentration applies to --latent dirichlet and softmax-gaussian only")
        for (flag, p) in [("--dropout", dropout), ("--latent-dropout", latentDropout)] {
            try require(p >= 0 && p < 1, "\(flag) must lie in [0, 1), got \(p)")
        }
        try require(decoderBatchNormAnnealEpochs >= 0, "--decoder-batch-norm-anneal must be >= 0 epochs, got \(decoderBatchNormAnnealEpochs)")
        try require(decoderBatchNormAnnealEpochs == 0 || decoderBatchNorm, "--decoder-batch-norm-anneal needs --decoder-batch-norm")
        try require(decoderBatchNormEpsilon > 0 && decoderBatchNormEpsilon <= 1,
                    "--decoder-batch-norm-epsilon must lie in (0, 1], got \(decoderBatchNormEpsilon)")
        try require(!backgroundBias || likelihood == .multinomial,
                    "--background-bias applies to bags of words (the multinomial likelihood), not \(likelihood.rawValue)")
        try require(topicDiversity >= 0 && topicDiversity.isFinite, "--topic-diversity must be >= 0 and finite, got \(topicDiversity)")
        try require(topicDiversity == 0 || (hasTopicWeights && latentSize >= 3),
                    "--topic-diversity applies to topic models: the multinomial likelihood, a linear decoder (--decoder-hidden none), no continuous layers and at least 3 topics")
        try require(wordExclusivity >= 0 && wordExclusivity.isFinite, "--word-exclusivity must be >= 0 and finite, got \(wordExclusivity)")
        try require(wordExclusivity == 0 || (hasTopicWeights && latentSize >= 2),
                    "--word-exclusivity applies to topic models: the multinomial likelihood, a linear decoder (--decoder-hidden none), no continuous layers and at least 2 topics")
        try require(encoderInput == .counts || likelihood == .multinomial,
                    "--encoder-input log-counts applies to bags of words (the multinomial likelihood), not \(likelihood.rawValue)")
        try require(!(decoderBatchNorm || backgroundBias) || likelihood != .gaussian,
                    "--decoder-batch-norm applies to logits (Bernoulli or multinomial likelihood), not to a Gaussian decoder")
        try require(latent != .dvae || !(decoderBatchNorm || encoderHeadBatchNorm || dropout > 0 || latentDropout > 0 || backgroundBias),
                    "--decoder-batch-norm, --encoder-head-batch-norm, --dropout, --latent-dropout and --background-bias: the discrete VAE's "
                    + "decoder and posterior do not take them")
    }
}
