// The latent families as distributions in the spirit of torch.distributions: a value type per family holding its
// parameters (tensors on a tape, so every result is differentiable in them), with a reparameterised sample, the
// log-density and the KL to its prior or to another member. Each is a thin layer over the fused kernels the VAE
// uses (Autodiff/Tape+FamilyOps.swift, Tape+Ops.swift), or a composition of checked tape ops where no kernel exists
// (the KL between two diagonal Gaussians, between two Dirichlets). Rows are independent batch members; every
// density and KL is `rows × 1`.

import Foundation

/// Where a reparameterised sample draws its noise: a Philox stream and position, the same numbers on every backend.
/// Draws at different `step`s (or streams) are independent.
public struct RandomSource: Sendable {
    public var key: PhiloxKey
    public var counter: PhiloxCounter

    public init(seed: UInt32, stream: UInt32 = 0, step: Int = 0) {
        key = PhiloxKey(seed: seed, stream: stream)
        counter = PhiloxCounter(0, UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: step >> 32), 0)
    }

    /// A `rows × cols` tensor of `distribution` draws (no gradient).
    func noise(_ distribution: RandomDistribution, rows: Int, cols: Int, on tape: Tape) throws -> Tensor {
        let noise = try tape.pool.tensor(rows: rows, cols: cols)
        try tape.backend.fillRandom(distribution, into: noise.buffer, count: noise.count, key: key, counter: counter, probabilities: nil)
        return noise
    }
}

/// N(mean, diag(e^logVariance)) in each row.
public struct DiagonalNormal {
    public let mean: Tensor
    public let logVariance: Tensor
    public let tape: Tape

    public init(mean: Tensor, logVariance: Tensor, on tape: Tape) throws {
        try tape.requireSameShape([mean, logVariance], "DiagonalNormal")
        self.mean = mean
        self.logVariance = logVariance
        self.tape = tape
    }

    /// mean + e^(logVariance/2) ε, ε ~ N(0, I).
    public func rsample(_ source: RandomSource) throws -> Tensor {
        try tape.gaussianSample(mean: mean, logVariance: logVariance, noise: source.noise(.normal, rows: mean.rows, cols: mean.cols, on: tape))
    }

    public func logProbability(_ value: Tensor) throws -> Tensor { try tape.gaussianLogDensity(value, mean: mean, logVariance: logVariance) }

    /// KL to N(0, e^priorLogVariance I): the VAE's prior.
    public func klToIsotropic(priorLogVariance: Float = 0) throws -> Tensor {
        try tape.gaussianKL(mean: mean, logVariance: logVariance, priorLogVariance: priorLogVariance)
    }

    /// KL(self ‖ other) = ½ Σ (lv₂ − lv₁ + (e^lv₁ + (μ₁ − μ₂)²) e^−lv₂ − 1).
    public func kl(to other: DiagonalNormal) throws -> Tensor {
        try tape.requireSameShape([mean, other.mean], "DiagonalNormal.kl")
        let t = tape, difference = try t.binary(.sub, mean, other.mean)
        let spread = try t.binary(.add, t.unary(.exp, logVariance), t.binary(.mul, difference, difference))
        let ratio = try t.binary(.mul, spread, t.unary(.exp, t.unary(.neg, other.logVariance)))
        let terms = try t.binary(.add, t.binary(.sub, other.logVariance, logVariance), ratio)
        return try t.affine(t.sum(terms, axis: .eachRow), alpha: 0.5, beta: -0.5 * Float(mean.cols))
    }
}

/// z = σ(y) with y ~ N(mean, diag(e^logVariance)): a distribution on (0, 1)^n (paper 001).
public struct LogitNormal {
    /// The distribution of the logit y.
    public let logit: DiagonalNormal
    public var mean: Tensor { logit.mean }
    public var logVariance: Tensor { logit.logVariance }
    var tape: Tape { logit.tape }

    public init(mean: Tensor, logVariance: Tensor, on tape: Tape) throws {
        logit = try DiagonalNormal(mean: mean, logVariance: logVariance, on: tape)
    }

    /// The sample z and its logit y (densities are best computed from y: z near 0 or 1 loses it in float).
    public func rsample(_ source: RandomSource) throws -> (value: Tensor, logit: Tensor) {
        let noise = try source.noise(.normal, rows: mean.rows, cols: mean.cols, on: tape)
        let (logit, value) = try tape.logitNormalSample(mean: mean, logVariance: logVariance, noise: noise)
        return (value, logit)
    }

    /// log p(z) for z = σ(logit), with the Jacobian of σ.
    public func logProbability(logit: Tensor) throws -> Tensor { try tape.logitNormalLogDensity(logit: logit, mean: mean, logVariance: logVariance) }

    /// log p(z) of a value in (0, 1)^n (its logit log z − log(1 − z) computed here).
    public func logProbability(_ value: Tensor) throws -> Tensor {
        let complement = try tape.affine(value, alpha: -1, beta: 1)
        return try logProbability(logit: tape.binary(.sub, tape.unary(.log, value), tape.unary(.log, complement)))
    }

    /// KL(self ‖ other): exactly the KL of the underlying Gaussians (σ is a bijection, and KL is invariant under one).
    public func kl(to other: LogitNormal) throws -> Tensor { try logit.kl(to: other.logit) }
}

/// G independent K-way relaxed categoricals (Concrete / Gumbel-softmax, Maddison et al., Jang et al.) per row, in log
/// space (ExpConcrete): a sample is the row's G log-probability vectors, side by side.
public struct RelaxedCategorical {
    public let logits: Tensor
    public let temperature: Float
    public let categories: Int
    public let tape: Tape

    public init(logits: Tensor, temperature: Float, categories: Int, on tape: Tape) throws {
        try require(categories >= 2 && logits.cols % categories == 0, "RelaxedCategorical: \(logits.cols) logits are not groups of \(categories) categories")
        try require(temperature > 0 && temperature.isFinite, "RelaxedCategorical: temperature must be positive, got \(temperature)")
        self.logits = logits
        self.temperature = temperature
        self.categories = categories
        self.tape = tape
    }

    /// log-softmax((logits + Gumbel noise) / temperature) of each categorical.
    public func rsample(_ source: RandomSource) throws -> Tensor {
        let gumbel = try source.noise(.gumbel, rows: logits.rows, cols: logits.cols, on: tape)
        return try tape.concreteSample(logits: logits, gumbel: gumbel, temperature: temperature, categories: categories)
    }

    /// The ExpConcrete log-density of a log-space sample.
    public func logProbability(_ value: Tensor) throws -> Tensor {
        try tape.concreteLogDensity(value, logits: logits, temperature: temperature, categories: categories)
    }

    /// The KL of the discrete categoricals to uniform ones, Σ π log(K π) (Jang et al.'s KL term).
    public func categoricalKLToUniform() throws -> Tensor { try tape.categoricalKL(logits, categories: categories) }
}

/// Dir(concentration) in each row.
public struct Dirichlet {
    public let concentration: Tensor
    public let tape: Tape

    /// How ``rsample(_:method:)`` reparameterises a draw.
    public enum SamplingMethod: Sendable {
        /// Gamma draws normalised, differentiable by implicit reparameterisation (Figurnov et al. 2018): exact.
        case exact
        /// The softmax of a logistic-normal approximation (paper 000's Laplace or Aitchison–Shen's KL-optimal one).
        case logisticNormal(LogisticNormal)
    }

    public init(concentration: Tensor, on tape: Tape) {
        self.concentration = concentration
        self.tape = tape
    }

    /// A point on the simplex in each row.
    public func rsample(_ source: RandomSource, method: SamplingMethod = .exact) throws -> Tensor {
        switch method {
        case .exact:
            let gamma = try tape.gammaSample(concentration, key: source.key, counter: source.counter)
            return try tape.binary(.div, gamma, tape.sum(gamma, axis: .eachRow), broadcast: .column)
        case .logisticNormal(let approximation):
            let noise = try source.noise(.normal, rows: concentration.rows, cols: concentration.cols, on: tape)
            return try tape.unary(.exp, tape.logSoftmax(tape.dirichletSample(approximation, alpha: concentration, noise: noise)))
        }
    }

    public func logProbability(_ value: Tensor) throws -> Tensor { try tape.dirichletLogDensity(value, alpha: concentration) }

    /// KL to the symmetric Dir(β·1): the VAE's prior (one fused kernel).
    public func klToSymmetric(concentration beta: Float) throws -> Tensor { try tape.dirichletKL(concentration, priorConcentration: beta) }

    /// KL(Dir(a) ‖ Dir(b)) = log Γ(a₀) − Σ log Γ(a_k) − log Γ(b₀) + Σ log Γ(b_k) + Σ (a_k − b_k)(ψ(a_k) − ψ(a₀)).
    public func kl(to other: Dirichlet) throws -> Tensor {
        try tape.requireSameShape([concentration, other.concentration], "Dirichlet.kl")
        let t = tape, a = concentration, b = other.concentration
        let a0 = try t.sum(a, axis: .eachRow), b0 = try t.sum(b, axis: .eachRow)
        let normalisers = try t.binary(.sub, t.unary(.lgamma, a0), t.unary(.lgamma, b0))
        let perComponent = try t.binary(.sub, t.unary(.lgamma, b), t.unary(.lgamma, a))
        let digammaGap = try t.binary(.sub, t.unary(.digamma, a), t.unary(.digamma, a0), broadcast: .column)
        let cross = try t.binary(.mul, t.binary(.sub, a, b), digammaGap)
        return try t.binary(.add, normalisers, t.sum(t.binary(.add, perComponent, cross), axis: .eachRow))
    }
}
