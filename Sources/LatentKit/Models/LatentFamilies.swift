// The latent families: how each samples its latent from the encoder's output, what the decoder sees, and the
// log-densities and KL term of q(z|x) and p(z).
//   gaussian      y = mean + e^(lv/2) ε, ε ~ N(0, I); decoder sees y; prior N(0, I)
//   logit-normal  the same y, decoder sees z = σ(y); prior on y N(0, α I) (paper 001)
//   softmax-gaussian  the same y, decoder sees z = softmax(y); prior on y N(0, (1/α)(1 − 1/K) I), the Laplace
//                 approximation of Dir(α·1) (ProdLDA)
//   concrete      ExpConcrete (Maddison et al. 2017): y = log-softmax((log α + G) / λ) per categorical, G ~ Gumbel;
//                 decoder sees z = e^y; prior: uniform locations, temperature λ_p
// Each family's sample, densities and KL are single fused kernels with backward kernels (Tape+FamilyOps.swift).

import Foundation

/// The encoder's output for a batch: the parameters of q(z|x).
public struct Posterior {
    private let storedLocation: Tensor?
    private let storedLogVariance: Tensor?
    /// The diagonal Gaussian's heads as the encoder's one GEMM made them, `rows × 2nz`: each row the mean, then the
    /// log-variance (nil for the other families). The fused Gaussian path reads it as it is; ``location`` and
    /// ``logVariance`` split it on first use.
    public let joined: Tensor?
    private let split: JoinedSplit?
    /// Chain and grid Gaussians: the strictly-lower non-zeros of the precision's Cholesky factor L (StructuredGaussian.swift).
    public let offDiagonal: Tensor?
    /// With continuous layers: h(x), the encoder's last hidden layer, which their posteriors see (nil otherwise).
    public internal(set) var features: Tensor?

    public init(location: Tensor, logVariance: Tensor?, offDiagonal: Tensor? = nil) {
        storedLocation = location
        storedLogVariance = logVariance
        self.offDiagonal = offDiagonal
        joined = nil
        split = nil
    }

    /// A diagonal Gaussian posterior from its joined heads (`rows × 2nz`), split on `tape` when a caller asks for the parts.
    public init(joined: Tensor, on tape: Tape) {
        storedLocation = nil
        storedLogVariance = nil
        offDiagonal = nil
        self.joined = joined
        split = JoinedSplit(joined: joined, tape: tape)
    }

    /// Gaussian, logit-normal: the mean of the Gaussian variable. Concrete: the logits log α of every class.
    public var location: Tensor {
        get throws { try split?.parts()[0] ?? storedLocation! }
    }

    /// Gaussian, logit-normal: its log-variance (chain and grid: that of L's diagonal, exp(-lv/2)). Concrete: nil.
    public var logVariance: Tensor? {
        get throws { try split?.parts()[1] ?? storedLogVariance }
    }

    /// The same posterior with each of its parameter matrices passed through `transform` (a differentiable map of
    /// rows, such as repeating each row k times for IWAE).
    public func mapped(on tape: Tape, _ transform: (Tensor) throws -> Tensor) throws -> Posterior {
        var q = joined != nil
            ? Posterior(joined: try transform(joined!), on: tape)
            : Posterior(location: try transform(location), logVariance: try logVariance.map(transform), offDiagonal: try offDiagonal.map(transform))
        q.features = try features.map(transform)
        return q
    }

    /// The same posterior with its rows mapped by `matrix` (row i of the result is Σ_j matrix[i, j] row j), differentiably.
    public func mapped(by matrix: Tensor, on tape: Tape) throws -> Posterior {
        try mapped(on: tape) { try tape.matmul(matrix, $0) }
    }
}

/// The mean and log-variance halves of joined heads, split (one differentiable op) on first use.
private final class JoinedSplit {
    let joined: Tensor
    let tape: Tape
    private var halves: [Tensor]?

    init(joined: Tensor, tape: Tape) {
        self.joined = joined
        self.tape = tape
    }

    func parts() throws -> [Tensor] {
        if let halves { return halves }
        let made = try tape.splitColumns(joined, widths: [joined.cols / 2, joined.cols / 2])
        halves = made
        return made
    }
}

extension VAE {
    /// The noise each latent sample consumes.
    public var noiseDistribution: RandomDistribution {
        switch config.latent {
        case .concrete: return .gumbel
        case .dvae: return .uniform  // the ρ of the spike-and-exponential inverse CDF
        default: return .normal
        }
    }

    /// The exact Dirichlet sampler draws its Gamma variates from ``gammaKey`` and ``gammaCounter`` and reads no noise
    /// tensor, so the trainer skips filling one.
    public var drawsItsOwnNoise: Bool { config.latent == .dirichlet && config.dirichletApproximation == .exact }

    func gaussianParts(_ q: Posterior) throws -> (Tensor, Tensor) {
        guard let lv = try q.logVariance else { throw BackendError.invalidArgument("\(config.latent.rawValue) needs a log-variance") }
        return (try q.location, lv)
    }

    /// The reparameterised latent and what the decoder sees (see the table at the top of this file).
    /// `temperature` overrides the model's (for sampling the Concrete prior).
    public func sample(_ q: Posterior, noise: Tensor, temperature: Float? = nil, on tape: Tape) throws -> (latent: Tensor, decoderInput: Tensor) {
        switch config.latent {
        case .gaussian:
            let (mean, logVariance) = try gaussianParts(q)
            if let (s, off) = structuredParts(q) {
                let y = try tape.structuredGaussianSample(s, mean: mean, logVariance: logVariance, offDiagonal: off, noise: noise)
                return (y, y)
            }
            let y = try tape.gaussianSample(mean: mean, logVariance: logVariance, noise: noise)
            return (y, y)
        case .logitNormal:
            let (mean, logVariance) = try gaussianParts(q)
            let (y, z) = try tape.logitNormalSample(mean: mean, logVariance: logVariance, noise: noise)
            return (y, z)
        case .softmaxGaussian:
            let (mean, logVariance) = try gaussianParts(q)
            let y = try tape.gaussianSample(mean: mean, logVariance: logVariance, noise: noise)
            return (y, try decoderInput(gaussian: y, on: tape))
        case .concrete:
            let y = try tape.concreteSample(logits: try q.location, gumbel: noise, temperature: temperature ?? self.temperature, categories: config.categories)
            return (y, try tape.unary(.exp, y))
        case .dirichlet:
            return try dirichletSample(try q.location, noise: noise, on: tape)
        case .dvae:
            let s = try dvaeSample(q, uniforms: noise, on: tape)
            return (s.indicator, s.zeta)
        }
    }

    /// What the decoder sees of a Gaussian latent `y` of the families whose sample is one (the fused path of
    /// ``Objective/elbo(model:x:posterior:noise:klWeight:on:)`` samples y itself): y, or softmax(y) for the softmax-Gaussian.
    public func decoderInput(gaussian y: Tensor, on tape: Tape) throws -> Tensor {
        config.latent == .softmaxGaussian ? try tape.unary(.exp, tape.logSoftmax(y)) : y
    }

    /// The ExpConcrete log-density of each row of `y` (summed over its categoricals) for logits `logAlpha` (nil:
    /// uniform) at temperature λ: log Γ(K) + (K-1) log λ + Σ_k (log α_k - λ y_k) - K logsumexp_k(log α_k - λ y_k).
    public func expConcreteLogDensity(_ y: Tensor, logits logAlpha: Tensor?, temperature lambda: Float, on tape: Tape) throws -> Tensor {
        try tape.concreteLogDensity(y, logits: logAlpha, temperature: lambda, categories: config.categories)
    }

    /// `log q(y|x)` and `log p(y)` of each row. For the logit-normal the Jacobian `-log z(1-z)` of z = σ(y) is the
    /// same in both, so every ratio q/p (Monte Carlo KL, importance weights) is exact in logit space; likewise the
    /// Concrete densities are those of the ExpConcrete variable y, whose map to z = e^y is shared.
    public func logDensities(latent y: Tensor, posterior q: Posterior, on tape: Tape) throws -> (posterior: Tensor, prior: Tensor) {
        switch config.latent {
        case .gaussian, .logitNormal, .softmaxGaussian:
            let (mean, logVariance) = try gaussianParts(q)
            let zero = try tape.pool.tensor(rows: y.rows, cols: y.cols)
            let priorLogVariance = try tape.pool.tensor(rows: y.rows, cols: y.cols)
            try tape.backend.fill(zero.buffer, with: 0, offset: 0, count: zero.count)
            try tape.backend.fill(priorLogVariance.buffer, with: config.priorLogVariance, offset: 0, count: zero.count)
            if let (s, off) = structuredParts(q) {
                return (try tape.structuredGaussianLogDensity(s, y, mean: mean, logVariance: logVariance, offDiagonal: off),
                        try tape.gaussianLogDensity(y, mean: zero, logVariance: priorLogVariance))
            }
            return (try tape.gaussianLogDensity(y, mean: mean, logVariance: logVariance),
                    try tape.gaussianLogDensity(y, mean: zero, logVariance: priorLogVariance))
        case .concrete:
            return (try expConcreteLogDensity(y, logits: try q.location, temperature: temperature, on: tape),
                    try expConcreteLogDensity(y, logits: nil, temperature: config.priorTemperature, on: tape))
        case .dirichlet:
            return try dirichletLogDensities(y, alpha: try q.location, on: tape)
        case .dvae:
            throw BackendError.invalidArgument("the discrete VAE's densities need the sampled logits: see DiscreteVAE.swift")
        }
    }

    /// The logit-normal log-density of each row of `z` in (0, 1)^nz (paper 001): log N(logit z; mean, e^lv) plus the
    /// Jacobian -Σ log z(1-z), computed in logit space as softplus(y) + softplus(-y) so it stays finite near 0 and 1.
    /// Training never needs it (the Jacobian cancels in every ratio); it is the density users and tests compare.
    public func logitNormalLogDensity(logits y: Tensor, mean: Tensor, logVariance: Tensor, on tape: Tape) throws -> Tensor {
        try tape.logitNormalLogDensity(logit: y, mean: mean, logVariance: logVariance)
    }

    /// The KL term of each row: analytic, or `log q(y|x) - log p(y)` at the sample `y`. For the Concrete, "analytic"
    /// is the KL of the discrete categoricals, Σ_k π_k log(K π_k) with π = softmax(logits) (Jang et al. 2017).
    public func kl(_ q: Posterior, latent y: Tensor, estimator: KLEstimator? = nil, on tape: Tape) throws -> Tensor {
        try require(config.latent != .dvae, "the discrete VAE's KL needs the sampled logits: see DiscreteVAE.swift")
        switch estimator ?? config.effectiveKLEstimator {
        case .analytic where config.latent == .dirichlet:
            return try dirichletKL(try q.location, on: tape)
        case .analytic where config.latent == .concrete:
            return try tape.categoricalKL(try q.location, categories: config.categories)
        case .analytic:
            let (mean, logVariance) = try gaussianParts(q)
            if let (s, off) = structuredParts(q) { return try tape.structuredGaussianKL(s, mean: mean, logVariance: logVariance, offDiagonal: off) }
            return try tape.gaussianKL(mean: mean, logVariance: logVariance, priorLogVariance: config.priorLogVariance)
        case .monteCarlo:
            let (logQ, logPrior) = try logDensities(latent: y, posterior: q, on: tape)
            return try tape.binary(.sub, logQ, logPrior)
        }
    }

    /// The prior as a `Posterior` of `rows` rows, for sampling from it with ``sample(_:noise:temperature:on:)``.
    public func prior(rows: Int, on backend: any Backend) throws -> Posterior {
        try require(config.latent != .dvae,
                    "prior samples of the discrete VAE come from Gibbs chains of its RBM: use VAE.dvaePriorSample")
        let n = rows * config.latentSize
        let zero = try Tensor([Float](repeating: 0, count: n), rows: rows, cols: config.latentSize, on: backend)
        if config.latent == .concrete { return Posterior(location: zero, logVariance: nil) }
        if config.latent == .dirichlet {
            return Posterior(location: try Tensor([Float](repeating: config.effectivePriorConcentration, count: n), rows: rows,
                                                  cols: config.latentSize, on: backend), logVariance: nil)
        }
        return Posterior(location: zero, logVariance: try Tensor([Float](repeating: config.priorLogVariance, count: n), rows: rows,
                                                                  cols: config.latentSize, on: backend))
    }
}
