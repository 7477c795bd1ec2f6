// Test-set bounds of a Concrete run as a discrete model (issue 14): the relaxed objective Jang et al. train is not a
// bound on any model's likelihood, so `eval` reports the bounds of the model a Concrete VAE approximates: latents
// z ~ Cat(π) with π = softmax(logits) for each of the G categoricals, decoded as one-hot vectors, the prior uniform.
//
//   −ELBO = E_q[−log p(x|z)] + KL(Cat(π) ‖ Uniform)              (hard samples; the categorical KL is analytic)
//   NLL_k = −log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ Cat(π),  log p(z) = −G log K
//
// Both hold for every k and every network: NLL_k ≤ −ELBO in expectation, and both ≥ −log p(x).

import Foundation

extension VAE {
    /// Hard samples z ~ Cat(softmax(logits)) of each categorical by the Gumbel-max trick with the Gumbel noise `gumbel`
    /// (the zero-temperature limit of the Concrete sample with that noise): the one-hot vector of argmax(log π + G),
    /// made as exp(10³⁰ (v − max v)), which is exactly 1 at the maximum and 0 elsewhere. Returns the one-hot rows and
    /// log q(z|x) = Σ_g log π_g(z_g) of each row. Not differentiable (evaluation only).
    public func categoricalSample(logits: Tensor, gumbel: Tensor, on tape: Tape) throws -> (oneHot: Tensor, logProbability: Tensor) {
        try require(config.latent == .concrete, "categorical samples are the Concrete family's discrete model")
        let b = logits.rows, k = config.categories, groups = config.latentSize / k
        let logPi = try tape.logSoftmax(tape.reshape(logits, rows: b * groups, cols: k))
        let perturbed = try tape.binary(.add, logPi, tape.reshape(gumbel, rows: b * groups, cols: k))
        let largest = try tape.pool.tensor(rows: b * groups, cols: 1)
        try tape.backend.reduce(.max, perturbed.buffer, rows: b * groups, cols: k, axis: .eachRow, into: largest.buffer)
        let oneHot = try tape.unary(.exp, tape.affine(tape.binary(.sub, perturbed, largest, broadcast: .column), alpha: 1e30))
        let logQ = try tape.sum(tape.reshape(tape.binary(.mul, oneHot, logPi), rows: b, cols: groups * k), axis: .eachRow)
        return (try tape.reshape(oneHot, rows: b, cols: groups * k), logQ)
    }

    /// log p(z) of every categorical latent under the uniform prior: −G log K.
    var uniformCategoricalLogPrior: Float {
        let k = config.categories
        return -Float(config.latentSize / k) * Foundation.log(Float(k))
    }
}
