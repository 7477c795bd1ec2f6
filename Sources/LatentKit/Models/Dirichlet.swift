// The Dirichlet family (paper 000): α from the encoder, a logistic-normal approximation for the reparameterised
// sample (Laplace, or the KL-optimal Aitchison-Shen one) or an exact Gamma-variate sample, the analytic KL to a
// symmetric Dirichlet prior, and the densities that IWAE and importance sampling use. Each is one fused kernel with
// its backward kernel (Kernels/LatentFamilies.swift; the Gamma sampler in Kernels/Random.swift).
//
// The seed report's public code had four bugs; none is here, and tests pin each: the KL is summed over the
// components (not averaged); the noise is scaled by the standard deviation (not the variance); the appended
// logit is 0 (not 1); the KL approximation's off-diagonal covariance ψ₁(α_K) is kept (one shared ε_K).

import Foundation

extension DirichletApproximation {
    /// The logistic-normal kernel of an approximation (nil for the exact sampler).
    var logisticNormal: LogisticNormal? {
        switch self {
        case .laplace: return .laplace
        case .kl: return .aitchisonShen
        case .exact: return nil
        }
    }
}

extension VAE {
    /// Logits y and the sample z = softmax(y) on the simplex (for `exact`, y is z itself).
    /// The decoder's input is z, or its centred log-ratio (``DirichletDecoderInput``): for the exact sampler
    /// log γ − mean(log γ) (the normaliser Σγ cancels), for the logistic-normal ones y − mean(y).
    func dirichletSample(_ alpha: Tensor, noise: Tensor, on tape: Tape) throws -> (latent: Tensor, decoderInput: Tensor) {
        let clr = config.dirichletDecoderInput == .centredLogRatio
        guard let approximation = config.dirichletApproximation.logisticNormal else {
            let gamma = try tape.gammaSample(alpha, key: gammaKey, counter: gammaCounter,
                                             streamOffset: batchSlice?.streamOffset(elements: alpha.count) ?? 0)
            let z = try tape.binary(.div, gamma, tape.sum(gamma, axis: .eachRow), broadcast: .column)
            return (z, clr ? try centredRows(tape.unary(.log, gamma), on: tape) : z)
        }
        let y = try tape.dirichletSample(approximation, alpha: alpha, noise: noise)
        return (y, clr ? try centredRows(y, on: tape) : try tape.unary(.exp, tape.logSoftmax(y)))
    }

    /// Each row minus its mean.
    func centredRows(_ v: Tensor, on tape: Tape) throws -> Tensor {
        try tape.binary(.sub, v, tape.affine(tape.sum(v, axis: .eachRow), alpha: 1 / Float(v.cols)), broadcast: .column)
    }

    /// What the decoder is given for points `z` on the simplex (codes, interpolations): z, or its centred log-ratio,
    /// with z floored at 10⁻⁶ so that a vertex of the simplex stays finite.
    public func decoderInput(simplexPoints z: Tensor, on tape: Tape) throws -> Tensor {
        guard config.latent == .dirichlet && config.dirichletDecoderInput == .centredLogRatio else { return z }
        let floor = try Tensor([1e-6], rows: 1, cols: 1, on: tape.backend)
        return try centredRows(tape.unary(.log, tape.binary(.max, z, floor, broadcast: .scalar)), on: tape)
    }

    /// KL(Dir(α) ‖ Dir(β·1)) of each row, summed over the components.
    func dirichletKL(_ alpha: Tensor, on tape: Tape) throws -> Tensor {
        try tape.dirichletKL(alpha, priorConcentration: config.effectivePriorConcentration)
    }

    /// The log-density of each row of `y` under the sampling distribution for Dir(α) (q) and for the prior Dir(β·1)
    /// (p): the approximation's Gaussian over the logits, or the Dirichlet density itself for `exact`. The Laplace
    /// approximation of the prior is N(0, (1/β)(1 - 1/K) I).
    func dirichletLogDensities(_ y: Tensor, alpha: Tensor, on tape: Tape) throws -> (posterior: Tensor, prior: Tensor) {
        let rows = y.rows, k = config.components, beta = config.effectivePriorConcentration
        func constant(_ value: Float) throws -> Tensor {
            let t = try tape.pool.tensor(rows: rows, cols: k)
            try tape.backend.fill(t.buffer, with: value, offset: 0, count: t.count)
            return t
        }
        switch config.dirichletApproximation.logisticNormal {
        case .laplace:
            let priorVariance = (1 / Double(beta)) * (1 - 1 / Double(k))
            return (try tape.dirichletApproximationLogDensity(.laplace, logits: y, alpha: alpha),
                    try tape.gaussianLogDensity(y, mean: constant(0), logVariance: constant(Float(Foundation.log(priorVariance)))))
        case .aitchisonShen:
            return (try tape.dirichletApproximationLogDensity(.aitchisonShen, logits: y, alpha: alpha),
                    try tape.dirichletApproximationLogDensity(.aitchisonShen, logits: y, alpha: constant(beta)))
        case nil:
            return (try tape.dirichletLogDensity(y, alpha: alpha), try tape.dirichletLogDensity(y, alpha: constant(beta)))
        }
    }
}
