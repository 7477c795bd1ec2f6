// Continuous latent layers above the bottom latent (Rolfe 2016, "Discrete Variational Autoencoders", arXiv:1609.02200,
// the hierarchical model of its final ELBO): L layers ℨ_1 … ℨ_L of S Gaussian units generated after ℨ₀ (the discrete
// VAE's ζ, or a diagonal Gaussian z for the hierarchical Gaussian VAE beside it):
//   prior      p(ℨ_m | ℨ_{<m})    = N(μp, e^lvp), (μp, lvp) from a one-hidden-layer network of [ℨ₀, …, ℨ_{m-1}]
//   posterior  q(ℨ_m | x, ℨ_{<m}) = N(μq, e^lvq), from a network of [h(x), ℨ₀, …, ℨ_{m-1}], h(x) the encoder's last
//              hidden layer (the slides' order: the bottom latent first, then the layers)
//   decoder    sees [ℨ₀, ℨ_1, …, ℨ_L] side by side
// The ELBO adds, for each layer, KL(q(ℨ_m | …) ‖ p(ℨ_m | …)) in closed form at the sampled ℨ_{<m}: a one-sample estimate
// of its expectation over the layers below. Each layer's sample and KL are one fused kernel with its backward form
// (Tape+ContinuousLayers.swift); importance weights add log p(ℨ_m | …) − log q(ℨ_m | …) at the samples.

import Foundation

/// What `--continuous-layers L` brings when `--continuous-size` is not given: the best of issue 22's screening (10
/// epochs, nz = 128, validation split of MNIST; docs/RESULTS.md, "Discrete VAE"): one layer of 64 units had validation
/// NLL 105.9 against 117.5 without layers; 2 × 32, 2 × 64, 3 × 64 and 1 × 128 were 0.8–4.4 nats worse, and β = 5, two
/// posterior groups and hidden width 400 did not help (within 0.1 to 1.8 nats). β and the groups keep the discrete VAE's
/// defaults.
public enum ContinuousLayerDefaults {
    public static let size = 64
    /// KL warm-up of a model with layers (``RunConfig/defaultWarmupEpochs(for:)-(ModelConfig)``), screened at 50 epochs on
    /// the same split (docs/RESULTS.md, "KL warm-up for the layered models"): the hierarchical Gaussian's validation NLL
    /// fell from 93.25 to 91.08 and 91.16 (seeds 1, 2) with 10 epochs (91.00 with 20), the Discrete VAE's from 94.23 and
    /// 93.81 to 90.31 and 89.98 (90.87 with 5, 89.59 with 20 on seed 1).
    public static let warmupEpochs = 10
    /// λ of the Discrete VAE's ``ModelConfig/rbmWeightDecay`` with layers. Warm-up lets its RBM grow so sharp (log Z
    /// 226–294 against 54–63) that on all 60,000 training images the persistent chains lost the prior around epoch 41–47
    /// in 7 of 8 runs (with more sweeps, a decayed step size, or chains restarted from the posterior's samples too); with
    /// λ = 1e-3 or 1e-2 no run did (two seeds each, log Z 65–149), and 1e-3 gave the better validation NLL (90.18 and
    /// 90.44 against 90.84 and 90.99).
    public static let rbmWeightDecay: Float = 1e-3
}

extension ModelConfig {
    /// The largest `--continuous-layers` and `--continuous-size`: a typo should not ask for more than any machine holds.
    public static let maximumContinuousLayers = 64
    public static let maximumContinuousSize = 4096

    /// The width of what the decoder sees: the bottom latent and every continuous layer.
    public var decoderInputSize: Int { latentSize + continuousLayers * continuousSize }

    /// `--continuous-hidden`: the layers' networks' hidden width (default the encoder's first).
    public var effectiveContinuousHidden: Int { continuousHidden ?? hidden.first ?? 200 }

    func validateContinuousLayers() throws {
        let maxLayers = Self.maximumContinuousLayers, maxSize = Self.maximumContinuousSize
        try require((0...maxLayers).contains(continuousLayers), "--continuous-layers must be in 0...\(maxLayers), got \(continuousLayers)")
        guard continuousLayers > 0 else {
            try require(continuousSize == 0, "--continuous-size needs --continuous-layers (1...\(maxLayers))")
            try require(continuousHidden == nil, "--continuous-hidden needs --continuous-layers (1...\(maxLayers))")
            return
        }
        try require((1...maxSize).contains(continuousSize),
                    "--continuous-size must be in 1...\(maxSize) with --continuous-layers \(continuousLayers), got \(continuousSize == 0 ? "none" : "\(continuousSize)")")
        try require((1...65_536).contains(effectiveContinuousHidden), "--continuous-hidden must be in 1...65536, got \(effectiveContinuousHidden)")
        try require(latent == .dvae || (latent == .gaussian && posterior == .diagonal),
                    "--continuous-layers stack on --latent dvae or a diagonal --latent gaussian, not \(latent.rawValue)"
                    + (latent == .gaussian ? " with --posterior \(posterior.rawValue)" : ""))
        try require(!(batchNorm || decoderBatchNorm || encoderHeadBatchNorm || dropout > 0 || latentDropout > 0 || backgroundBias),
                    "--continuous-layers: --batch-norm, --decoder-batch-norm, --encoder-head-batch-norm, --dropout, --latent-dropout and "
                    + "--background-bias are not supported with continuous layers")
    }
}

/// One conditional Gaussian's network: a hidden layer of the inputs side by side, then the joined heads (mean, then
/// log-variance: `2S` outputs).
struct LayerNetwork {
    let hidden: Dense
    let heads: Dense

    func callAsFunction(_ inputs: [Tensor], activation: UnaryOp, on tape: Tape) throws -> Tensor {
        try heads(tape.dense(tape.concatColumns(inputs), weight: hidden.weight, bias: hidden.bias, activation: activation), on: tape)
    }

    var parameters: [(String, Tensor)] { hidden.parameters + heads.parameters }
}

/// The networks of the continuous layers: for each layer, the prior's and the posterior's.
public final class ContinuousLayers {
    public let count: Int
    public let size: Int
    let prior: [LayerNetwork]
    let posterior: [LayerNetwork]

    /// `features`: the width of h(x), the encoder's last hidden layer. Streams from `firstStream` on, after every other
    /// layer's, so a model's other initial values do not depend on its layers.
    init(_ config: ModelConfig, features: Int, on backend: any Backend, seed: UInt32, firstStream: UInt32) throws {
        count = config.continuousLayers
        size = config.continuousSize
        let n = config.latentSize, s = size, h = config.effectiveContinuousHidden
        var stream = firstStream
        func layer(_ name: String, _ inputs: Int, _ outputs: Int) throws -> Dense {
            stream += 1
            return try Dense(name: name, inputs: inputs, outputs: outputs, on: backend, seed: seed, stream: stream)
        }
        func network(_ name: String, inputs: Int) throws -> LayerNetwork {
            LayerNetwork(hidden: try layer("\(name).hidden", inputs, h), heads: try layer("\(name).heads", h, 2 * s))
        }
        var prior: [LayerNetwork] = [], posterior: [LayerNetwork] = []
        for m in 0..<count {  // in this order, so that each layer's streams are what they were
            prior.append(try network("layers.\(m).prior", inputs: n + m * s))
            posterior.append(try network("layers.\(m).posterior", inputs: features + n + m * s))
        }
        self.prior = prior
        self.posterior = posterior
    }

    var parameters: [(String, Tensor)] { zip(prior, posterior).flatMap { $0.parameters + $1.parameters } }
}

/// One sample of the continuous layers of q above a bottom latent.
public struct LayerSample {
    /// [ℨ₀, ℨ_1, …, ℨ_L] side by side: what the decoder sees (`rows × decoderInputSize`).
    public let decoderInput: Tensor
    /// Σ_m KL(q(ℨ_m | x, ℨ_{<m}) ‖ p(ℨ_m | ℨ_{<m})) of each row at the sampled ℨ_{<m} (`rows × 1`).
    public let kl: Tensor
    /// Each layer's sample ℨ_m and the joined heads of its posterior and prior.
    public let samples: [Tensor]
    let posteriorHeads: [Tensor]
    let priorHeads: [Tensor]
}

extension VAE {
    /// The Philox key of layer `m`'s normal noise: beside the exact Dirichlet's Gamma variates (``gammaKey``), whose
    /// counter (``gammaCounter``) the trainer and the evaluator set for every batch.
    func layerNoiseKey(_ m: Int) -> PhiloxKey { PhiloxKey(seed: gammaKey.seed, stream: gammaKey.stream &+ 0x100 &+ UInt32(m)) }

    func layerNoise(rows: Int, layer m: Int, on tape: Tape) throws -> Tensor {
        let noise = try tape.pool.tensor(rows: rows, cols: config.continuousSize)
        try tape.backend.fillRandom(.normal, into: noise.buffer, count: noise.count, key: layerNoiseKey(m), counter: gammaCounter,
                                    streamOffset: batchSlice?.streamOffset(elements: noise.count) ?? 0, probabilities: nil)
        return noise
    }

    /// Samples q's continuous layers above the bottom latent `base` (what the decoder sees of ℨ₀), layer by layer, with
    /// each layer's KL to its prior; nil when the model has no layers. `q` carries h(x) (``Posterior/features``).
    public func continuousLayersPosterior(base: Tensor, posterior q: Posterior, on tape: Tape) throws -> LayerSample? {
        guard let layers = continuous else { return nil }
        guard let features = q.features else { throw BackendError.invalidArgument("internal error: the posterior has no features for the continuous layers") }
        var inputs = [base], samples: [Tensor] = [], qHeads: [Tensor] = [], pHeads: [Tensor] = []
        var kl: Tensor?
        for m in 0..<layers.count {
            let qm = try layers.posterior[m]([features] + inputs, activation: config.activation.op, on: tape)
            let pm = try layers.prior[m](inputs, activation: config.activation.op, on: tape)
            let (z, klm) = try tape.gaussianConditionalPosterior(posteriorHeads: qm, priorHeads: pm, noise: layerNoise(rows: base.rows, layer: m, on: tape))
            kl = try kl.map { try tape.binary(.add, $0, klm) } ?? klm
            inputs.append(z)
            samples.append(z)
            qHeads.append(qm)
            pHeads.append(pm)
        }
        return LayerSample(decoderInput: try tape.concatColumns(inputs), kl: kl!, samples: samples, posteriorHeads: qHeads, priorHeads: pHeads)
    }

    /// Σ_m log q(ℨ_m | x, ℨ_{<m}) and Σ_m log p(ℨ_m | ℨ_{<m}) of each row at the sample's layers: their share of an
    /// importance weight.
    public func continuousLayersLogDensities(_ s: LayerSample, on tape: Tape) throws -> (posterior: Tensor, prior: Tensor) {
        var logQ: Tensor?, logP: Tensor?
        for (z, (qm, pm)) in zip(s.samples, zip(s.posteriorHeads, s.priorHeads)) {
            let q = try tape.splitColumns(qm, widths: [z.cols, z.cols]), p = try tape.splitColumns(pm, widths: [z.cols, z.cols])
            let lq = try tape.gaussianLogDensity(z, mean: q[0], logVariance: q[1]), lp = try tape.gaussianLogDensity(z, mean: p[0], logVariance: p[1])
            logQ = try logQ.map { try tape.binary(.add, $0, lq) } ?? lq
            logP = try logP.map { try tape.binary(.add, $0, lp) } ?? lp
        }
        return (logQ!, logP!)
    }

    /// `kl` (of each row) plus the layers' KL; `kl` itself without layers.
    public func addingLayerKL(_ kl: Tensor, _ layers: LayerSample?, on tape: Tape) throws -> Tensor {
        guard let layers else { return kl }
        return try tape.binary(.add, kl, layers.kl)
    }

    /// `log q` and `log p` of each row plus the layers' (``continuousLayersLogDensities(_:on:)``); unchanged without layers.
    public func addingLayerDensities(posterior logQ: Tensor, prior logP: Tensor, _ layers: LayerSample?,
                                     on tape: Tape) throws -> (posterior: Tensor, prior: Tensor) {
        guard let layers else { return (logQ, logP) }
        let (lq, lp) = try continuousLayersLogDensities(layers, on: tape)
        return (try tape.binary(.add, logQ, lq), try tape.binary(.add, logP, lp))
    }

    /// Keys the model's own draws (the exact Dirichlet's Gamma variates, the continuous layers' noise) for a whole batch.
    public func keyOwnDraws(_ key: PhiloxKey, counter: PhiloxCounter) {
        gammaKey = key
        gammaCounter = counter
        batchSlice = nil
    }

    /// The joined heads (`rows × 2S`: mean, then log-variance) of p(ℨ_m | ℨ_{<m}) given the layers below, `below`
    /// = [ℨ₀, …, ℨ_{m-1}]: the prior's conditional, for densities or quadrature of the model.
    public func continuousLayerPrior(_ m: Int, below: [Tensor], on tape: Tape) throws -> Tensor {
        guard let layers = continuous, m >= 0 && m < layers.count && below.count == m + 1 else {
            throw BackendError.invalidArgument("continuousLayerPrior: layer \(m) with \(below.count) layers below, of \(continuous?.count ?? 0) layers")
        }
        return try layers.prior[m](below, activation: config.activation.op, on: tape)
    }

    /// What the decoder sees of a prior sample whose bottom latent is `base`: each layer drawn from its prior given the
    /// layers below (the posterior heads given as the prior's own, so the kernel's KL is 0 and unused).
    public func continuousLayersPrior(base: Tensor, on tape: Tape) throws -> Tensor {
        guard let layers = continuous else { return base }
        var inputs = [base]
        for m in 0..<layers.count {
            let pm = try layers.prior[m](inputs, activation: config.activation.op, on: tape)
            inputs.append(try tape.gaussianConditionalPosterior(posteriorHeads: pm, priorHeads: pm, noise: layerNoise(rows: base.rows, layer: m, on: tape)).sample)
        }
        return try tape.concatColumns(inputs)
    }

    /// The posterior means of every continuous layer along the path of posterior means (each layer's mean given the means
    /// below), `rows × L·S`: what `encode` writes beside the bottom latent's codes. `base`: the bottom latent's mean.
    public func continuousLayerMeans(base: Tensor, posterior q: Posterior, on tape: Tape) throws -> Tensor? {
        guard let layers = continuous, let features = q.features else { return nil }
        var inputs = [base]
        for m in 0..<layers.count {
            let qm = try layers.posterior[m]([features] + inputs, activation: config.activation.op, on: tape)
            inputs.append(try tape.splitColumns(qm, widths: [layers.size, layers.size])[0])
        }
        return try tape.concatColumns(Array(inputs.dropFirst()))
    }
}
