// The Dirichlet family (paper 000): α from the encoder, a logistic-normal approximation for the reparameterised
// sample (Laplace, or the KL-optimal Aitchison-Shen one), the analytic KL to a symmetric Dirichlet prior, and the
// logistic-normal densities that IWAE and importance sampling use. Everything is composed from tape ops whose
// kernels and gradients are tested on their own (lgamma, digamma and trigamma have backward kernels).
//
// The seed report's public code had four bugs; none is here, and tests pin each: the KL is summed over the
// components (not averaged); the noise is scaled by the standard deviation (not the variance); the appended
// logit is 0 (not 1); the KL approximation's off-diagonal covariance ψ₁(α_K) is kept (one shared ε_K).

import Foundation

extension VAE {
    /// The one-hot column e_K and the row mask (1, ..., 1, 0) of a K-component Dirichlet.
    func dirichletHelpers() throws -> (last: Tensor, mask: Tensor) {
        guard let c = dirichletConstants else { throw BackendError.invalidArgument("not a Dirichlet model") }
        return c
    }

    /// The Laplace approximation's mean and variance of the softmax-basis logits.
    func laplace(_ alpha: Tensor, on tape: Tape) throws -> (mean: Tensor, variance: Tensor) {
        let k = Float(config.components)
        let logAlpha = try tape.unary(.log, alpha)
        let mean = try tape.binary(.sub, logAlpha, tape.affine(tape.sum(logAlpha, axis: .eachRow), alpha: 1 / k), broadcast: .column)
        let inverse = try tape.unary(.reciprocal, alpha)
        let variance = try tape.binary(.add, tape.affine(inverse, alpha: 1 - 2 / k), tape.affine(tape.sum(inverse, axis: .eachRow), alpha: 1 / (k * k)),
                                       broadcast: .column)
        return (mean, variance)
    }

    /// The KL approximation's parts: mean ψ(α_k) - ψ(α_K) (0 in column K), the diagonal ψ₁(α_k) and ψ₁(α_K).
    func aitchisonShen(_ alpha: Tensor, last: Tensor, on tape: Tape) throws -> (mean: Tensor, diagonal: Tensor, shared: Tensor) {
        let alphaK = try tape.matmul(alpha, last)
        let mean = try tape.binary(.sub, tape.unary(.digamma, alpha), tape.unary(.digamma, alphaK), broadcast: .column)
        return (mean, try tape.unary(.trigamma, alpha), try tape.unary(.trigamma, alphaK))
    }

    /// Logits y and the sample z = softmax(y) on the simplex.
    func dirichletSample(_ alpha: Tensor, noise: Tensor, on tape: Tape) throws -> (latent: Tensor, decoderInput: Tensor) {
        let y: Tensor
        switch config.dirichletApproximation {
        case .laplace:
            let (mean, variance) = try laplace(alpha, on: tape)
            y = try tape.binary(.add, mean, tape.binary(.mul, tape.unary(.sqrt, variance), noise))
        case .exact:
            let gamma = try tape.gammaSample(alpha, key: gammaKey, counter: gammaCounter)
            let z = try tape.binary(.div, gamma, tape.sum(gamma, axis: .eachRow), broadcast: .column)
            return (z, z)
        case .kl:
            let (last, _) = try dirichletHelpers()
            let (mean, diagonal, shared) = try aitchisonShen(alpha, last: last, on: tape)
            let own = try tape.binary(.add, mean, tape.binary(.mul, tape.unary(.sqrt, diagonal), noise))
            // column K: (0 + √ψ₁(α_K) ε_K) - √ψ₁(α_K) ε_K = 0 exactly, the fixed logit of the additive log-ratio
            y = try tape.binary(.sub, own, tape.binary(.mul, tape.unary(.sqrt, shared), tape.matmul(noise, last)), broadcast: .column)
        }
        return (y, try tape.unary(.exp, tape.logSoftmax(y)))
    }

    /// KL(Dir(α) ‖ Dir(β·1)) of each row, summed over the components:
    /// lgamma(α₀) - lgamma(Kβ) - Σ lgamma(α_k) + K lgamma(β) + Σ (α_k - β)(ψ(α_k) - ψ(α₀)).
    func dirichletKL(_ alpha: Tensor, on tape: Tape) throws -> Tensor {
        let k = Double(config.components), beta = Double(config.effectivePriorConcentration)
        let alpha0 = try tape.sum(alpha, axis: .eachRow)
        let digammaGap = try tape.binary(.sub, tape.unary(.digamma, alpha), tape.unary(.digamma, alpha0), broadcast: .column)
        let cross = try tape.sum(tape.binary(.mul, tape.affine(alpha, alpha: 1, beta: -Float(beta)), digammaGap), axis: .eachRow)
        let constant = Float(k * lgamma(beta) - lgamma(k * beta))
        return try tape.binary(.add, tape.binary(.sub, tape.unary(.lgamma, alpha0), tape.sum(tape.unary(.lgamma, alpha), axis: .eachRow)),
                               tape.affine(cross, alpha: 1, beta: constant))
    }

    /// The log-density of each row of logits `y` under the sampling approximation of Dir(α) (q) and of the prior
    /// Dir(β·1) (p): a diagonal Gaussian (Laplace), or N(mean, diag(d) + c 11ᵀ) over the first K-1 logits (KL).
    func dirichletLogDensities(_ y: Tensor, alpha: Tensor, on tape: Tape) throws -> (posterior: Tensor, prior: Tensor) {
        let rows = y.rows, k = config.components, beta = Double(config.effectivePriorConcentration)
        func constant(_ value: Double, cols: Int) throws -> Tensor {
            let t = try tape.pool.tensor(rows: rows, cols: cols)
            try tape.backend.fill(t.buffer, with: Float(value), offset: 0, count: t.count)
            return t
        }
        switch config.dirichletApproximation {
        case .laplace:
            let (mean, variance) = try laplace(alpha, on: tape)
            let priorVariance = (1 / beta) * (1 - 1 / Double(k))  // the Laplace approximation of Dir(β·1)
            return (try tape.gaussianLogDensity(y, mean: mean, logVariance: tape.unary(.log, variance)),
                    try tape.gaussianLogDensity(y, mean: constant(0, cols: k), logVariance: constant(Foundation.log(priorVariance), cols: k)))
        case .exact:
            return (try dirichletLogDensity(y, alpha: alpha, on: tape), try dirichletLogDensity(y, alpha: nil, on: tape))
        case .kl:
            let (last, mask) = try dirichletHelpers()
            let (mean, diagonal, shared) = try aitchisonShen(alpha, last: last, on: tape)
            let psi1 = Double(SpecialFunctions.trigamma(Float(beta)))
            return (try logisticNormalLogDensity(y, mean: mean, diagonal: diagonal, shared: shared, mask: mask, on: tape),
                    try logisticNormalLogDensity(y, mean: constant(0, cols: k), diagonal: constant(psi1, cols: k),
                                                 shared: constant(psi1, cols: 1), mask: mask, on: tape))
        }
    }

    /// log Dir(z; α) = lgamma(α₀) - Σ lgamma(α_k) + Σ (α_k - 1) log z_k of each row (α nil: the prior's β·1).
    func dirichletLogDensity(_ z: Tensor, alpha: Tensor?, on tape: Tape) throws -> Tensor {
        let logZ = try tape.unary(.log, z)
        guard let alpha else {
            let k = Double(config.components), beta = Double(config.effectivePriorConcentration)
            return try tape.affine(tape.sum(logZ, axis: .eachRow), alpha: Float(beta - 1), beta: Float(lgamma(k * beta) - k * lgamma(beta)))
        }
        let normaliser = try tape.binary(.sub, tape.unary(.lgamma, tape.sum(alpha, axis: .eachRow)), tape.sum(tape.unary(.lgamma, alpha), axis: .eachRow))
        return try tape.binary(.add, normaliser, tape.sum(tape.binary(.mul, tape.affine(alpha, alpha: 1, beta: -1), logZ), axis: .eachRow))
    }

    /// log N(y_{<K}; mean_{<K}, diag(d_{<K}) + c 11ᵀ) by the matrix determinant lemma and Sherman-Morrison (linear in
    /// K): log det = Σ log d + log(1 + c Σ 1/d); quadratic form = Σ r²/d - c (Σ r/d)² / (1 + c Σ 1/d), r = y - mean.
    func logisticNormalLogDensity(_ y: Tensor, mean: Tensor, diagonal d: Tensor, shared c: Tensor, mask: Tensor, on tape: Tape) throws -> Tensor {
        let k = config.components
        let r = try tape.binary(.sub, y, mean)
        let inverse = try tape.binary(.mul, tape.unary(.reciprocal, d), mask, broadcast: .row)
        let s1 = try tape.sum(inverse, axis: .eachRow)
        let s2 = try tape.sum(tape.binary(.mul, tape.unary(.square, r), inverse), axis: .eachRow)
        let s3 = try tape.sum(tape.binary(.mul, r, inverse), axis: .eachRow)
        let onePlus = try tape.affine(tape.binary(.mul, c, s1), alpha: 1, beta: 1)
        let logDeterminant = try tape.binary(.add, tape.sum(tape.binary(.mul, tape.unary(.log, d), mask, broadcast: .row), axis: .eachRow),
                                             tape.unary(.log, onePlus))
        let quadratic = try tape.binary(.sub, s2, tape.binary(.div, tape.binary(.mul, c, tape.unary(.square, s3)), onePlus))
        return try tape.affine(tape.binary(.add, logDeterminant, quadratic), alpha: -0.5,
                               beta: -0.5 * Float(Double(k - 1) * Foundation.log(2 * Double.pi)))
    }
}
