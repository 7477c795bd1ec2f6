// Rolfe's discrete VAE (paper 002): binary latents z ∈ {0,1}ⁿ, each smoothed by the spike-and-exponential r(ζ|z)
// (r(ζ|0) = δ(ζ), r(ζ|1) = β e^(βζ)/(e^β - 1) on [0, 1]) so that ζ = F⁻¹(ρ; q) is a reparameterised sample; a
// hierarchical posterior q(z_j = 1 | ζ_{i<j}, x) = σ(g_j) over G groups, g_j = (h W + c)_j + Σ_{i<j} ζ_i V_ij; the
// decoder sees ζ; an RBM prior (RBMPrior.swift).
//
// The KL of q(z, ζ | x) to p(z, ζ) = r(ζ|z) p(z) is that of the binary parts (r is common to both and cancels):
//   KL = Σ_j E[Σ_u q_u log q_u + (1 - q_u) log(1 - q_u)] - E_q[z_Aᵀ W z_B + bᵀ z] + log Z,
// each group's entropy in closed form given the sampled ζ of the groups before it (Σ σ(l) l - softplus(l) in logits).
// The energy's expectation: with G = 1 the halves are independent given x, so E_q = q_Aᵀ W q_B + bᵀ q exactly; with
// G > 1 the pair term is the sample z_Aᵀ W z_B whose gradient through q is Rolfe's (1 - z)/(1 - q) estimator (the
// slides' "zᵀ W ((1 - z)/(1 - q) ⊙ ∂q)"), and the linear term bᵀ q. The gradient of log Z is E_p[∂(zᵀWz + bᵀz)],
// the negative phase, from the persistent chains: a term whose value the loss ignores and whose gradient is that.

import Foundation

/// The discrete VAE's defaults (the DiscreteVAE article; measurements in docs/RESULTS.md, "Discrete VAE").
public enum DiscreteVAEDefaults {
    /// β of the smoothing. The slides leave β open. Measured at nz = 128 over 10 epochs (same seed): β = 2, 3, 5 give a
    /// test −ELBO of 124.9, 123.6, 124.5 with all 128 units active; 10 gives 134.8 (113 active) and 20 collapses (175.2,
    /// 10 active). A smaller β smooths ζ further from binary (for z = 1 its mean is 1 − 1/β + 1/(e^β − 1), 0.72 at 3),
    /// and ∂ζ/∂q, which grows like e^β near the spike, stays small: the encoder's gradients are better conditioned. The
    /// bound is the smoothed model's either way.
    public static let beta: Float = 3
    /// β of runs whose config.json predates the spike's β being recorded (the default then).
    static let betaOfUnrecordedRuns: Float = 10
    /// One persistent chain per image of the default batch of 100.
    public static let gibbsChains = 100
    /// Block-Gibbs sweeps of the chains per training step: a few, since Adam moves W faster than PCD's single sweep follows.
    public static let gibbsSteps = 5
    /// AIS for evaluation: 1,000 chains × 10,000 temperatures (about 2.1 × 10⁷ half-step rows).
    public static let aisChains = 1000
    public static let aisTemperatures = 10_000
    /// AIS at each epoch's start, for the KL the trainer reports only.
    public static let trainingAISChains = 100
    public static let trainingAISTemperatures = 1000
    /// Block-Gibbs sweeps from uniform states for prior samples (`sample`, `plots`).
    public static let priorSweeps = 1000
}

extension ModelConfig {
    /// The RBM's halves: the first nz/2 units (A) against the last nz/2 (B).
    public var rbmShape: RBMShape { RBMShape(a: latentSize / 2, b: latentSize - latentSize / 2) }

    func validateDiscreteVAE() throws {
        guard latent == .dvae else {
            try require(posteriorGroups == 1, "--groups applies to --latent dvae only")
            try require(rbmWeightDecay == 0, "--rbm-weight-decay applies to --latent dvae only")
            return
        }
        try require(spikeBeta > 0 && spikeBeta.isFinite, "--beta must be positive, got \(spikeBeta)")
        try require(spikeBeta <= SpikeAndExponential.maximumBeta,
                    "--beta must be at most \(SpikeAndExponential.maximumBeta) (e^β must stay a finite float), got \(spikeBeta)")
        try require(latentSize >= 2 && latentSize % 2 == 0,
                    "the discrete VAE's bipartite RBM splits the latent units into two equal halves: --latent-size must be even and >= 2, got \(latentSize)")
        try require(posteriorGroups >= 1 && latentSize % posteriorGroups == 0,
                    "--groups \(posteriorGroups) does not divide the latent size \(latentSize) into equal groups")
        // upper bounds keep a typo from asking for more memory or time than any machine has
        try require(gibbsChains >= 1 && gibbsChains <= 1_000_000, "--gibbs-chains must be in 1...1000000, got \(gibbsChains)")
        try require(gibbsSteps >= 1 && gibbsSteps <= 100_000, "--gibbs-steps must be in 1...100000, got \(gibbsSteps)")
        try require(rbmWeightDecay >= 0 && rbmWeightDecay.isFinite, "--rbm-weight-decay must be >= 0 and finite, got \(rbmWeightDecay)")
    }
}

/// The discrete VAE's own parts: the RBM prior and, for G > 1, the couplings V_ij from group i's ζ to group j's logits.
public final class DiscreteVAEParts {
    public let rbm: RBMPrior
    public let groups: Int
    /// `couplings[j][i]` for i < j, `m × m` with m = nz/G, Xavier-initialised.
    let couplings: [[Tensor]]
    /// Constant `nz × m` 0/1 matrices picking group j's columns: x·E_j is group j's block, y·E_jᵀ puts one back.
    let selectors: [Tensor]
    /// A constant zero bias, for the pair term alone.
    let zeroBias: Tensor

    init(_ config: ModelConfig, on backend: any Backend, seed: UInt32, firstStream: UInt32) throws {
        groups = config.posteriorGroups
        let nz = config.latentSize, m = nz / groups
        rbm = try RBMPrior(shape: config.rbmShape, chains: config.gibbsChains, on: backend, seed: seed)
        var stream = firstStream
        couplings = try (0..<groups).map { j in
            try (0..<j).map { i in
                stream += 1
                return try Dense(name: "encoder.coupling.\(i).\(j)", inputs: m, outputs: m, on: backend, seed: seed, stream: stream).weight
            }
        }
        selectors = try (0..<groups).map { j in
            var e = [Float](repeating: 0, count: nz * m)
            for u in 0..<m { e[(j * m + u) * m + u] = 1 }
            return try Tensor(e, rows: nz, cols: m, on: backend)
        }
        zeroBias = try Tensor([Float](repeating: 0, count: nz), rows: 1, cols: nz, on: backend)
    }

    var parameters: [(String, Tensor)] {
        couplings.enumerated().flatMap { j, row in row.enumerated().map { i, v in ("encoder.coupling.\(i).\(j).weight", v) } } + rbm.parameters
    }
    var statistics: [(String, Tensor)] { rbm.statistics }
}

/// One hierarchical sample of the posterior: every group's logits, ζ and z side by side (`batch × nz`).
public struct DiscreteSample {
    public let logits: Tensor
    public let zeta: Tensor
    /// z = [ζ > 0], differentiable by Rolfe's estimator.
    public let indicator: Tensor
}

extension VAE {
    func dvaeParts() throws -> DiscreteVAEParts {
        guard let d = discrete else { throw BackendError.invalidArgument("\(config.latent.rawValue) is not the discrete VAE") }
        return d
    }

    /// Samples the hierarchical posterior group by group: group j's logits are its block of the encoder's logits
    /// (`q.location`) plus Σ_{i<j} ζ_i V_ij, then ζ_j = F⁻¹(ρ_j; σ(logits_j)). `uniforms` (`batch × nz`) are the ρ.
    public func dvaeSample(_ q: Posterior, uniforms: Tensor, on tape: Tape) throws -> DiscreteSample {
        let d = try dvaeParts(), beta = config.spikeBeta
        if d.groups == 1 {
            let (zeta, z) = try tape.spikeAndExponentialSample(logits: q.location, uniforms: uniforms, beta: beta)
            return DiscreteSample(logits: try q.location, zeta: zeta, indicator: z)
        }
        var logits: [Tensor] = [], zetas: [Tensor] = [], indicators: [Tensor] = []
        for j in 0..<d.groups {
            var l = try tape.matmul(q.location, d.selectors[j])
            for i in 0..<j { l = try tape.binary(.add, l, tape.matmul(zetas[i], d.couplings[j][i])) }
            let (zeta, z) = try tape.spikeAndExponentialSample(logits: l, uniforms: tape.matmul(uniforms, d.selectors[j]), beta: beta)
            logits.append(l)
            zetas.append(zeta)
            indicators.append(z)
        }
        func assemble(_ parts: [Tensor]) throws -> Tensor {
            var all = try tape.matmul(parts[0], d.selectors[0], transposeB: true)
            for j in 1..<d.groups { all = try tape.binary(.add, all, tape.matmul(parts[j], d.selectors[j], transposeB: true)) }
            return all
        }
        return DiscreteSample(logits: try assemble(logits), zeta: try assemble(zetas), indicator: try assemble(indicators))
    }

    /// Per row: Σ_u σ(l_u) l_u - softplus(l_u) (the negative entropy of the groups' Bernoullis given the earlier ζ)
    /// minus the expected negative energy (see the top of this file); adding log Z gives the KL.
    public func dvaeKLWithoutLogZ(_ s: DiscreteSample, on tape: Tape) throws -> Tensor {
        let d = try dvaeParts(), rbm = d.rbm
        let q = try tape.unary(.sigmoid, s.logits)
        let negativeEntropy = try tape.sum(tape.binary(.sub, tape.binary(.mul, q, s.logits), tape.unary(.softplus, s.logits)), axis: .eachRow)
        let energy = d.groups == 1
            ? try tape.rbmEnergy(q, weights: rbm.weights, bias: rbm.bias, shape: rbm.shape)
            : try tape.binary(.add, tape.rbmEnergy(s.indicator, weights: rbm.weights, bias: d.zeroBias, shape: rbm.shape),
                              tape.matmul(q, rbm.bias, transposeB: true))
        return try tape.binary(.sub, negativeEntropy, energy)
    }

    /// The ELBO's terms for one training step: the persistent chains advance `gibbsSteps` sweeps under the current
    /// prior, then -ELBO with the prior's current log Z estimate (reported values only; log Z's gradient is the
    /// negative phase, the chains' mean negative energy, added to the loss with the KL weight).
    public func dvaeTrainingTerms(x: Tensor, posterior q: Posterior, uniforms: Tensor, klWeight: Float, step: Int, seed: UInt32,
                           on tape: Tape) throws -> Objective.Terms {
        let rbm = try dvaeParts().rbm, b = Float(x.rows)
        try rbm.advanceChains(sweeps: config.gibbsSteps, step: step, seed: seed, on: tape.backend)
        let s = try dvaeSample(q, uniforms: uniforms, on: tape)
        let layers = try continuousLayersPosterior(base: s.zeta, posterior: q, on: tape)
        let logLikelihood = try tape.sumAll(logLikelihood(x, decode(layers?.decoderInput ?? s.zeta, on: tape), on: tape))
        let klRows = try addingLayerKL(dvaeKLWithoutLogZ(s, on: tape), layers, on: tape)
        let kl = try tape.affine(tape.sumAll(klRows), alpha: 1, beta: b * Float(rbm.logZ))
        let negativePhase = try tape.affine(tape.sumAll(tape.rbmEnergy(rbm.chains, weights: rbm.weights, bias: rbm.bias, shape: rbm.shape)),
                                            alpha: klWeight / Float(rbm.chains.rows))
        let loss = try tape.binary(.add, tape.binary(.sub, tape.affine(kl, alpha: klWeight / b), tape.affine(logLikelihood, alpha: 1 / b)),
                                   negativePhase)
        return try Objective.Terms(bound: try tape.binary(.sub, logLikelihood, kl), kl: kl, loss: regularised(loss, on: tape), on: tape)
    }

    /// The codes of `x`: q(z_u = 1 | ...) along the median path ρ = 1/2 (ζ of earlier groups at their medians), so a
    /// code does not depend on noise.
    public func dvaeCodes(_ x: Tensor, on tape: Tape) throws -> Tensor {
        try dvaeCodes(try encode(x, on: tape), rows: x.rows, on: tape)
    }

    /// The codes of the `rows` images whose posterior is `q`.
    public func dvaeCodes(_ q: Posterior, rows: Int, on tape: Tape) throws -> Tensor {
        let half = try tape.pool.tensor(rows: rows, cols: config.latentSize)
        try tape.backend.fill(half.buffer, with: 0.5, offset: 0, count: half.count)
        return try tape.unary(.sigmoid, dvaeSample(q, uniforms: half, on: tape).logits)
    }

    /// ζ for `count` samples of the prior: fresh chains from uniform states, `DiscreteVAEDefaults.priorSweeps` block-Gibbs
    /// sweeps of the RBM, then ζ ~ r(ζ|z) through the same sampler with q = σ(±100), i.e. q = 1 or 0 to float precision.
    public func dvaePriorSample(count: Int, uniforms: Tensor, seed: UInt32, on tape: Tape) throws -> Tensor {
        let rbm = try dvaeParts().rbm, backend = tape.backend
        let state = try tape.pool.tensor(rows: count, cols: rbm.shape.units)
        try rbm.drawFreshChains(into: state.buffer, count: count, sweeps: DiscreteVAEDefaults.priorSweeps,
                                key: PhiloxKey(seed: seed, stream: RBMPrior.sampleStream),
                                probabilities: try backend.allocate(count: count * max(rbm.shape.a, rbm.shape.b), dtype: .float32), on: backend)
        return try tape.spikeAndExponentialSample(logits: tape.affine(state, alpha: 200, beta: -100), uniforms: uniforms, beta: config.spikeBeta).sample
    }
}
