// The VAE: an MLP encoder to (mean, log-variance) of a diagonal Gaussian over the latent (or its logits), the
// reparameterised sample, an MLP decoder to Bernoulli logits (or a Gaussian mean and log-variance), and the KL
// term of the latent family. Families: Gaussian (Kingma & Welling) and logit-normal (paper 001: z = σ(y),
// y ~ N(mu, diag σ²), prior logit-normal with zero mean and covariance α I).

import Foundation

/// What the decoder's output distribution is.
public enum Likelihood: String, CaseIterable, Codable, Sendable {
    /// Independent Bernoullis from logits: binary (or binarised) data.
    case bernoulli
    /// Independent Gaussians with a learned mean and log-variance per pixel: continuous data.
    case gaussian
}

/// The latent families available.
public enum LatentFamily: String, CaseIterable, Codable, Sendable {
    case gaussian
    /// z = σ(y) with y Gaussian; the decoder sees z in (0, 1)^nz.
    case logitNormal = "logit-normal"
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
    public var activation: Activation = .softplus
    public var likelihood: Likelihood = .bernoulli
    public var inputSize: Int = 784
    /// α of the logit-normal prior N(0, α I) on the logits (paper 001's best: 1.78).
    public var priorVariance: Float = 1.78
    /// nil: analytic for the Gaussian, Monte Carlo for the logit-normal (as in paper 001).
    public var klEstimator: KLEstimator?

    public init() {}

    /// Reads configurations written by earlier versions too: absent fields take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        latent = try c.decodeIfPresent(LatentFamily.self, forKey: .latent) ?? .gaussian
        latentSize = try c.decodeIfPresent(Int.self, forKey: .latentSize) ?? 20
        hidden = try c.decodeIfPresent([Int].self, forKey: .hidden) ?? [200, 200]
        activation = try c.decodeIfPresent(Activation.self, forKey: .activation) ?? .softplus
        likelihood = try c.decodeIfPresent(Likelihood.self, forKey: .likelihood) ?? .bernoulli
        inputSize = try c.decodeIfPresent(Int.self, forKey: .inputSize) ?? 784
        priorVariance = try c.decodeIfPresent(Float.self, forKey: .priorVariance) ?? 1.78
        klEstimator = try c.decodeIfPresent(KLEstimator.self, forKey: .klEstimator)
    }

    public var effectiveKLEstimator: KLEstimator { klEstimator ?? (latent == .gaussian ? .analytic : .monteCarlo) }

    /// Log-variance of the prior on the Gaussian variable: 0 (N(0, I)) or log α.
    public var priorLogVariance: Float { latent == .logitNormal ? Float.log(priorVariance) : 0 }

    public func validate() throws {
        if latent == .logitNormal {
            try require(priorVariance > 0 && priorVariance.isFinite, "--prior-variance must be positive and finite, got \(priorVariance)")
        }
        try require(latentSize >= 1, "latent size must be at least 1, got \(latentSize)")
        try require(!hidden.isEmpty && hidden.allSatisfy { $0 >= 1 }, "hidden layer sizes must be positive, got \(hidden)")
        try require(inputSize >= 1, "input size must be positive")
    }
}

/// The decoder's output for a batch.
public enum Decoded {
    case logits(Tensor)
    case gaussian(mean: Tensor, logVariance: Tensor)
}

public final class VAE {
    public let config: ModelConfig
    let encoder: [Dense]
    let meanHead: Dense
    let logVarianceHead: Dense
    let decoder: [Dense]
    let outputHead: Dense
    let outputLogVarianceHead: Dense?

    public init(_ config: ModelConfig, on backend: any Backend, seed: UInt32) throws {
        try config.validate()
        self.config = config
        var stream: UInt32 = 0
        func layer(_ name: String, _ inputs: Int, _ outputs: Int) throws -> Dense {
            stream += 1
            return try Dense(name: name, inputs: inputs, outputs: outputs, on: backend, seed: seed, stream: stream)
        }
        let widths = [config.inputSize] + config.hidden
        encoder = try (0..<config.hidden.count).map { try layer("encoder.\($0)", widths[$0], widths[$0 + 1]) }
        meanHead = try layer("encoder.mean", config.hidden.last!, config.latentSize)
        logVarianceHead = try layer("encoder.log_variance", config.hidden.last!, config.latentSize)
        let back = [config.latentSize] + config.hidden.reversed()
        decoder = try (0..<config.hidden.count).map { try layer("decoder.\($0)", back[$0], back[$0 + 1]) }
        outputHead = try layer(config.likelihood == .bernoulli ? "decoder.logits" : "decoder.mean", back.last!, config.inputSize)
        outputLogVarianceHead = config.likelihood == .gaussian
            ? try layer("decoder.log_variance", back.last!, config.inputSize) : nil
    }

    /// Every parameter under its checkpoint name, in a fixed order.
    public var parameters: [(String, Tensor)] {
        (encoder + [meanHead, logVarianceHead] + decoder + [outputHead] + (outputLogVarianceHead.map { [$0] } ?? []))
            .flatMap(\.parameters)
    }

    func hidden(_ x: Tensor, _ layers: [Dense], _ tape: Tape) throws -> Tensor {
        var h = x
        for layer in layers { h = try tape.unary(config.activation.op, layer(h, on: tape)) }
        return h
    }

    /// The posterior's mean and log-variance, each `batch × latentSize`.
    public func encode(_ x: Tensor, on tape: Tape) throws -> (mean: Tensor, logVariance: Tensor) {
        let h = try hidden(x, encoder, tape)
        return (try meanHead(h, on: tape), try logVarianceHead(h, on: tape))
    }

    public func decode(_ z: Tensor, on tape: Tape) throws -> Decoded {
        let h = try hidden(z, decoder, tape)
        if let lv = outputLogVarianceHead { return .gaussian(mean: try outputHead(h, on: tape), logVariance: try lv(h, on: tape)) }
        return .logits(try outputHead(h, on: tape))
    }

    /// The reparameterised latent `y = mean + e^(logVariance/2) noise` and what the decoder sees: `y` itself, or
    /// `σ(y)` for the logit-normal.
    public func sample(mean: Tensor, logVariance: Tensor, noise: Tensor, on tape: Tape) throws -> (latent: Tensor, decoderInput: Tensor) {
        let y = try tape.gaussianSample(mean: mean, logVariance: logVariance, noise: noise)
        return (y, config.latent == .logitNormal ? try tape.unary(.sigmoid, y) : y)
    }

    /// `log q(y|x)` and `log p(y)` of each row, in the Gaussian variable. For the logit-normal the Jacobian
    /// `-log z(1-z)` of z = σ(y) is the same in both densities, so every ratio q/p (Monte Carlo KL, importance
    /// weights) is exact without it.
    public func logDensities(latent y: Tensor, mean: Tensor, logVariance: Tensor, on tape: Tape) throws -> (posterior: Tensor, prior: Tensor) {
        let zero = try tape.pool.tensor(rows: y.rows, cols: y.cols)
        let priorLogVariance = try tape.pool.tensor(rows: y.rows, cols: y.cols)
        try tape.backend.fill(zero.buffer, with: 0, offset: 0, count: zero.count)
        try tape.backend.fill(priorLogVariance.buffer, with: config.priorLogVariance, offset: 0, count: zero.count)
        return (try tape.gaussianLogDensity(y, mean: mean, logVariance: logVariance),
                try tape.gaussianLogDensity(y, mean: zero, logVariance: priorLogVariance))
    }

    /// The KL term of each row: analytic, or `log q(y|x) - log p(y)` at the sample `y`.
    public func kl(mean: Tensor, logVariance: Tensor, latent y: Tensor, estimator: KLEstimator? = nil, on tape: Tape) throws -> Tensor {
        switch estimator ?? config.effectiveKLEstimator {
        case .analytic:
            return try tape.gaussianKL(mean: mean, logVariance: logVariance, priorLogVariance: config.priorLogVariance)
        case .monteCarlo:
            let (q, p) = try logDensities(latent: y, mean: mean, logVariance: logVariance, on: tape)
            return try tape.binary(.sub, q, p)
        }
    }

    /// `log p(x | z)` of each row, `batch × 1`.
    public func logLikelihood(_ x: Tensor, _ decoded: Decoded, on tape: Tape) throws -> Tensor {
        switch decoded {
        case .logits(let logits): return try tape.bernoulliLogLikelihood(logits: logits, targets: x)
        case .gaussian(let mean, let logVariance): return try tape.gaussianLogDensity(x, mean: mean, logVariance: logVariance)
        }
    }

    /// The decoder's expected image: `σ(logits)` or the Gaussian mean.
    public func expectation(_ decoded: Decoded, on tape: Tape) throws -> Tensor {
        switch decoded {
        case .logits(let logits): return try tape.unary(.sigmoid, logits)
        case .gaussian(let mean, _): return mean
        }
    }
}
