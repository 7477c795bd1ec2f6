// Test-set evaluation of the discrete VAE: log Z of the RBM prior by AIS (RBMPrior.swift), then the -ELBO and the
// importance-sampled NLL of Burda et al. with that log Z, and the NLL's standard error over the images.
//
// The importance weight of a sample (z, ζ) ~ q(z, ζ | x) is p(x | ζ) p(z) / Π_j q(z_j | ζ_{<j}, x): the smoothing
// r(ζ|z) is the same in p and q and cancels; z = [ζ > 0]; log p(z) = z_Aᵀ W z_B + bᵀ z - log Z; and
// log q(z | ...) = Σ_u z_u l_u - softplus(l_u), the Bernoulli log-likelihood of z under the sampled logits.

import Foundation

extension Evaluator {
    static let aisStream: UInt32 = 0x2100

    func evaluateDiscreteVAE(_ x: Tensor, k: Int, importanceSampling: Bool, progress: (Int) -> Void) throws -> EvaluationResult {
        let rbm = try model.dvaeParts().rbm
        let (logZ, logZError) = try rbm.annealedLogPartition(chains: aisChains, temperatures: aisTemperatures, seed: 1, stream: Self.aisStream,
                                                             on: backend)
        rbm.logZ = logZ
        let wasTraining = model.training
        model.training = false
        defer { model.training = wasTraining }
        var reconstruction = 0.0, kl = 0.0
        let batchSize = 500
        for start in stride(from: 0, to: x.rows, by: batchSize) {
            tape.reset()
            let b = min(batchSize, x.rows - start)
            let xb = try rows(x, start, b)
            let uniforms = try pool.tensor(rows: b, cols: model.config.latentSize)
            try backend.fillRandom(.uniform, into: uniforms.buffer, count: uniforms.count, key: PhiloxKey(seed: 1, stream: Self.noiseStream),
                                   counter: PhiloxCounter(offset: UInt64(start) << 16), probabilities: nil)
            keyOwnDraws(seed: 1, batchStart: start)  // the continuous layers' noise
            let q = try model.encode(xb, on: tape)
            let s = try model.dvaeSample(q, uniforms: uniforms, on: tape)
            let layers = try model.continuousLayersPosterior(base: s.zeta, posterior: q, on: tape)
            let ll = try tape.sumAll(model.logLikelihood(xb, model.decode(layers?.decoderInput ?? s.zeta, on: tape), on: tape))
            let klSum = try tape.sumAll(model.addingLayerKL(model.dvaeKLWithoutLogZ(s, on: tape), layers, on: tape))
            reconstruction -= Double(try backend.download(ll.buffer, offset: 0, count: 1)[0])
            kl += Double(try backend.download(klSum.buffer, offset: 0, count: 1)[0]) + Double(b) * logZ
        }
        tape.reset()
        reconstruction /= Double(x.rows)
        kl /= Double(x.rows)
        var result = EvaluationResult(negativeELBO: reconstruction + kl, reconstruction: reconstruction, kl: kl, negativeLogLikelihood: nil,
                                      k: k, images: x.rows, unitActivity: try unitActivity(x))
        result.logZ = logZ
        result.logZStandardError = logZError
        if importanceSampling {
            result.recordImportanceSampled(try discreteImportanceSampledNLL(x, k: k, logZ: logZ, progress: progress))
        }
        return result
    }

    /// `-log (1/k) Σ_i w_i` for each image, w = p(x|ζ) p(z) / Π q(z_j|ζ_{<j}, x) (r cancels), by the shared loop.
    func discreteImportanceSampledNLL(_ x: Tensor, k: Int, logZ: Double, chunk: Int = 1000, progress: (Int) -> Void) throws -> [Double] {
        let nz = model.config.latentSize, rbm = try model.dvaeParts().rbm
        return try importanceSampled(x, k: k, chunk: chunk, progress: progress) { qc, xs, start, i in
            let uniforms = try pool.tensor(rows: xs.rows, cols: nz)
            try backend.fillRandom(.uniform, into: uniforms.buffer, count: uniforms.count, key: PhiloxKey(seed: 1, stream: Self.noiseStream + 1),
                                   counter: Self.importanceCounter(sample: start, image: i), probabilities: nil)
            keyOwnDraws(seed: 1, sample: start, image: i)  // the continuous layers' noise
            let s = try model.dvaeSample(qc, uniforms: uniforms, on: tape)
            let layers = try model.continuousLayersPosterior(base: s.zeta, posterior: qc, on: tape)
            let logLikelihood = try model.logLikelihood(xs, model.decode(layers?.decoderInput ?? s.zeta, on: tape), on: tape)
            // and the layers' Gaussians: w = p(x|ℨ) p(z) Π p(ℨ_m|…) / (q(z|x) Π q(ℨ_m|…))
            let (logPosterior, logPrior) = try model.addingLayerDensities(
                posterior: tape.bernoulliLogLikelihood(logits: s.logits, targets: s.indicator),
                prior: tape.affine(tape.rbmEnergy(s.indicator, weights: rbm.weights, bias: rbm.bias, shape: rbm.shape), alpha: 1, beta: -Float(logZ)),
                layers, on: tape)
            return try tape.binary(.sub, tape.binary(.add, logLikelihood, logPrior), logPosterior)
        }
    }
}
