// The VAE: an MLP encoder to the parameters of q(z|x), the reparameterised sample of the latent family
// (LatentFamilies.swift), an MLP decoder to Bernoulli logits (or a Gaussian mean and log-variance).

import Foundation

/// The decoder's output for a batch.
public enum Decoded {
    case logits(Tensor)
    case gaussian(mean: Tensor, logVariance: Tensor)
}

public final class VAE {
    public let config: ModelConfig
    /// Concrete: the posterior temperature in use (the trainer anneals it; checkpoints record it).
    public var temperature: Float
    /// Dirichlet with the exp-tanh or scaled-softmax activation: the learned scale c.
    let alphaScale: Tensor?
    /// One per hidden layer (encoder then decoder) when batch normalisation is on.
    let normalisers: [BatchNorm]
    /// ``ModelConfig/encoderHeadBatchNorm``: one per head (the joined heads' one covers both).
    let headNormalisers: [BatchNorm]
    /// ``ModelConfig/decoderBatchNorm``: on the output logits.
    let outputNormaliser: BatchNorm?
    /// The training corpus's log unigram frequencies (`1 × inputSize`), fixed: the decoder's bias under
    /// ``ModelConfig/backgroundBias`` and the word weights of ``ModelConfig/wordExclusivityWeighting`` `.frequency`, for
    /// either of which it exists. Set by the trainer from its data (``setBackground(fromCounts:on:)``) and saved with the
    /// statistics.
    public let background: Tensor?
    /// The weight w of the decoder's batch norm in w·BN(η) + (1 − w)·η (``ModelConfig/decoderBatchNormAnnealEpochs``): the
    /// trainer sets it every step; checkpoints record it, and evaluation uses the recorded value.
    public var decoderBatchNormWeight: Float = 1
    /// The Philox counter of the current step's dropout masks (the trainer sets it every step, as it does the noise's).
    public var dropoutCounter = PhiloxCounter()
    let seed: UInt32
    /// Batch statistics (training) or running statistics (evaluation) for batch normalisation.
    public var training = false
    /// The discrete VAE's RBM prior, group couplings and persistent chains (nil for the other families).
    public let discrete: DiscreteVAEParts?
    /// The continuous latent layers above the bottom latent (nil without `--continuous-layers`).
    public let continuous: ContinuousLayers?
    /// The exact Dirichlet sampler draws its own Gamma variates from this key and counter (the trainer and the
    /// evaluator set them for every batch, as they do the noise of the other families).
    public var gammaKey = PhiloxKey(seed: 0, stream: 0x4000)
    public var gammaCounter = PhiloxCounter()
    /// Where this batch's images sit in the global batch of a data-parallel step (nil: the batch is the whole one), so
    /// that the Gamma variates of an image do not depend on the number of ranks.
    public var batchSlice: BatchSlice?
    let encoder: [Dense]
    /// The posterior's location head; with ``ModelConfig/joinsHeads`` the mean and log-variance heads as one layer.
    let meanHead: Dense
    /// The posterior's log-variance when it is a layer of its own; the Concrete family has one parameter per class and
    /// no such head.
    let logVarianceHead: Dense?
    let decoder: [Dense]
    let outputHead: Dense
    let outputLogVarianceHead: Dense?
    /// Chain and grid posteriors: L's strictly-lower non-zeros (StructuredGaussian.swift); made last, so the other layers'
    /// initial values do not depend on the posterior structure.
    let precisionHead: Dense?

    public init(_ config: ModelConfig, on backend: any Backend, seed: UInt32) throws {
        try config.validate()
        self.config = config
        self.seed = seed
        temperature = config.temperature
        var stream: UInt32 = 0
        func layer(_ name: String, _ inputs: Int, _ outputs: Int) throws -> Dense {
            stream += 1
            return try Dense(name: name, inputs: inputs, outputs: outputs, on: backend, seed: seed, stream: stream)
        }
        let widths = [config.inputSize] + config.hidden
        encoder = try (0..<config.hidden.count).map { try layer("encoder.\($0)", widths[$0], widths[$0 + 1]) }
        let headName = [LatentFamily.concrete: "encoder.logits", .dirichlet: "encoder.alpha", .dvae: "encoder.logits"][config.latent] ?? "encoder.mean"
        let oneParameter = config.latent == .concrete || config.latent == .dirichlet || config.latent == .dvae
        let location = try layer(headName, config.hidden.last!, config.latentSize)
        let logVariance = oneParameter ? nil : try layer("encoder.log_variance", config.hidden.last!, config.latentSize)
        if config.joinsHeads, let logVariance {
            meanHead = try Dense(name: "encoder.heads", joining: [location, logVariance], on: backend)
            logVarianceHead = nil
        } else {
            meanHead = location
            logVarianceHead = logVariance
        }
        alphaScale = config.latent == .dirichlet && config.alphaActivation != .softplus
            ? try Tensor([config.alphaActivation == .expTanh ? 1 : Float(config.latentSize)], rows: 1, cols: 1, on: backend) : nil
        let back = [config.decoderInputSize] + config.decoderWidths
        decoder = try (0..<config.decoderWidths.count).map { try layer("decoder.\($0)", back[$0], back[$0 + 1]) }
        outputHead = try layer(config.likelihood == .gaussian ? "decoder.mean" : "decoder.logits", back.last!, config.inputSize)
        outputLogVarianceHead = config.likelihood == .gaussian
            ? try layer("decoder.log_variance", back.last!, config.inputSize) : nil
        normalisers = config.batchNorm
            ? try (encoder + decoder).map { try BatchNorm(name: "\($0.name).bn", features: $0.bias.cols, on: backend) } : []
        let eps = ModelConfig.headBatchNormEpsilon
        headNormalisers = config.encoderHeadBatchNorm
            ? try ([meanHead] + (logVarianceHead.map { [$0] } ?? [])).map {
                try BatchNorm(name: "\($0.name).bn", features: $0.bias.cols, epsilon: eps, momentum: ModelConfig.decoderBatchNormMomentum,
                              learnsScale: false, learnsShift: false, on: backend)
            } : []
        outputNormaliser = config.decoderBatchNorm
            ? try BatchNorm(name: "\(outputHead.name).bn", features: config.inputSize, epsilon: config.decoderBatchNormEpsilon, momentum: ModelConfig.decoderBatchNormMomentum,
                            learnsScale: false, on: backend) : nil
        background = config.backgroundBias || config.weighsWordsByFrequency
            ? try Tensor([Float](repeating: -Float.log(Float(config.inputSize)), count: config.inputSize), rows: 1, cols: config.inputSize, on: backend) : nil
        precisionHead = try VAE.makePrecisionHead(config, layer, on: backend)
        discrete = config.latent == .dvae ? try DiscreteVAEParts(config, on: backend, seed: seed, firstStream: stream + 1) : nil
        continuous = config.continuousLayers > 0
            ? try ContinuousLayers(config, features: config.hidden.last!, on: backend, seed: seed, firstStream: 0x8000) : nil
    }

    /// Every parameter under its checkpoint name, in a fixed order.
    public var parameters: [(String, Tensor)] {
        (encoder + [meanHead] + (logVarianceHead.map { [$0] } ?? []) + decoder + [outputHead] + (outputLogVarianceHead.map { [$0] } ?? []))
            .flatMap(\.parameters) + (alphaScale.map { [("encoder.alpha_scale", $0)] } ?? []) + normalisers.flatMap(\.parameters)
            + (outputNormaliser?.parameters ?? [])
            + (precisionHead?.parameters ?? [])
            + (discrete?.parameters ?? [])
            + (continuous?.parameters ?? [])
    }

    /// State that is saved but not trained: batch normalisation's running statistics.
    public var statistics: [(String, Tensor)] {
        normalisers.flatMap(\.statistics) + (discrete?.statistics ?? []) + headNormalisers.flatMap(\.statistics)
            + (outputNormaliser?.statistics ?? []) + (background.map { [("decoder.background", $0)] } ?? [])
    }

    /// Parameters the model keeps joined that checkpoints store as the layers they stand for: the diagonal Gaussian's
    /// heads (``ModelConfig/joinsHeads``) are `encoder.mean` and `encoder.log_variance`, as they always were.
    public var joinedColumns: [JoinedColumns] {
        guard config.joinsHeads else { return [] }
        let n = config.latentSize
        return [JoinedColumns(name: "encoder.heads.", parts: [("encoder.mean.", 0..<n), ("encoder.log_variance.", n..<(2 * n))])]
    }

    /// Loads the parameters and statistics from `checkpoint` (shapes checked), and the annealed temperature.
    public func load(from checkpoint: Checkpoint, on backend: any Backend) throws {
        for (name, p) in parameters + statistics { try checkpoint.load(name, into: p, on: backend, joined: joinedColumns) }
        if let t: Float = try checkpoint.metadataNumber("temperature", "a positive number", valid: { $0 > 0 }) { temperature = t }
        if let logZ: Double = try checkpoint.metadataNumber("rbm_log_z") { discrete?.rbm.logZ = logZ }
        if let w: Float = try checkpoint.metadataNumber("decoder_bn_weight", "a weight in [0, 1]", valid: { (0...1).contains($0) }) {
            decoderBatchNormWeight = w
        }
    }

    /// The hidden layers; `normalisers` (empty without batch norm) pairs with `layers` in order.
    func hidden(_ x: Tensor, _ layers: [Dense], _ normalisers: ArraySlice<BatchNorm>, _ tape: Tape) throws -> Tensor {
        var h = x
        for (i, layer) in layers.enumerated() {
            if normalisers.isEmpty {  // GEMM, then bias and activation in one fused epilogue
                h = try tape.dense(h, weight: layer.weight, bias: layer.bias, activation: config.activation.op)
                continue
            }
            let a = try normalisers[normalisers.startIndex + i](layer(h, on: tape), training: training, on: tape)
            h = try tape.unary(config.activation.op, a)
        }
        return h
    }

    /// The parameters of q(z|x) for each row of `x` (for the Dirichlet: the concentrations α).
    public func encode(_ x: Tensor, on tape: Tape) throws -> Posterior {
        let input = config.encoderInput == .logCounts ? try tape.unary(.log1p, x) : x
        var h = try hidden(input, encoder, normalisers.prefix(normalisers.isEmpty ? 0 : encoder.count), tape)
        if training && config.dropout > 0 { h = try dropout(h, keep: 1 - config.dropout, stream: RandomStream.dropout, on: tape) }
        /// A head's output, batch-normalised without scale or shift when ``ModelConfig/encoderHeadBatchNorm`` asks.
        func head(_ i: Int, _ layer: Dense) throws -> Tensor {
            let y = try layer(h, on: tape)
            return headNormalisers.isEmpty ? y : try headNormalisers[i](y, training: training, on: tape)
        }
        let location = try head(0, meanHead)
        var q: Posterior
        if config.joinsHeads {
            q = Posterior(joined: location, on: tape)
        } else if config.latent == .dirichlet {
            q = Posterior(location: try alpha(location, on: tape), logVariance: nil)
        } else {
            q = Posterior(location: location, logVariance: try logVarianceHead.map { try head(1, $0) },
                          offDiagonal: try precisionHead.map { try $0(h, on: tape) })
        }
        if continuous != nil { q.features = h }  // h(x), for the continuous layers' posteriors
        return q
    }

    /// Inverted dropout of `x` with this step's mask from Philox stream `stream` (element i of the global batch's mask
    /// at element `streamOffset + i`, so that a data-parallel rank drops what one process drops there).
    func dropout(_ x: Tensor, keep: Float, stream: UInt32, on tape: Tape) throws -> Tensor {
        try tape.dropout(x, keep: keep, key: PhiloxKey(seed: seed, stream: stream), counter: dropoutCounter,
                         streamOffset: batchSlice?.streamOffset(elements: x.count) ?? 0)
    }

    /// The smallest concentration the activations produce: keeps lgamma, digamma and trigamma finite however far
    /// the encoder drives a component down (softplus alone reaches 0 below h = -103).
    static let alphaFloor: Float = 1e-3

    func alpha(_ h: Tensor, on tape: Tape) throws -> Tensor {
        let positive: Tensor
        switch config.alphaActivation {
        case .softplus: positive = try tape.unary(.softplus, h)
        case .expTanh: positive = try tape.unary(.exp, tape.binary(.mul, tape.unary(.tanh, h), alphaScale!, broadcast: .scalar))
        case .scaledSoftmax: positive = try tape.binary(.mul, tape.unary(.exp, tape.logSoftmax(h)), alphaScale!, broadcast: .scalar)
        }
        return try tape.affine(positive, alpha: 1, beta: Self.alphaFloor)
    }

    public func decode(_ z: Tensor, on tape: Tape) throws -> Decoded {
        let input = training && config.latentDropout > 0 ? try dropout(z, keep: 1 - config.latentDropout, stream: RandomStream.latentDropout, on: tape) : z
        let h = try hidden(input, decoder, normalisers.dropFirst(normalisers.isEmpty ? 0 : encoder.count), tape)
        if let lv = outputLogVarianceHead { return .gaussian(mean: try outputHead(h, on: tape), logVariance: try lv(h, on: tape)) }
        var logits = try outputHead(h, on: tape)
        if config.backgroundBias, let background { logits = try tape.binary(.add, logits, background, broadcast: .row) }
        if let bn = outputNormaliser, decoderBatchNormWeight > 0 {
            let w = decoderBatchNormWeight, normalised = try bn(logits, training: training, on: tape)
            logits = w == 1 ? normalised : try tape.binary(.add, tape.affine(normalised, alpha: w), tape.affine(logits, alpha: 1 - w))
        }
        return .logits(logits)
    }

    /// `loss` plus the model's penalties: ``ModelConfig/topicDiversity`` and ``ModelConfig/wordExclusivity`` on the
    /// decoder's topic weights and ``ModelConfig/rbmWeightDecay`` on the RBM's couplings, where set; `loss` itself
    /// otherwise. Only the minimised loss carries them: the bound a step reports stays the ELBO.
    public func regularised(_ loss: Tensor, on tape: Tape) throws -> Tensor {
        var loss = loss
        /// Adds λ times the `1 × 1` penalty that `term` records, unless λ is 0 (then nothing is recorded).
        func add(_ lambda: Float, _ term: () throws -> Tensor) throws {
            guard lambda > 0 else { return }
            loss = try tape.binary(.add, loss, tape.affine(term(), alpha: lambda))
        }
        try add(config.topicDiversity) { try TopicDiversity.penalty(outputHead.weight, on: tape) }
        try add(config.wordExclusivity) {
            var wordWeights: Tensor?
            if config.weighsWordsByFrequency {
                try require(background != nil, "words weighed by frequency, but the model holds no word frequencies")
                wordWeights = try tape.unary(.exp, background!)
            }
            return try WordExclusivity.penalty(outputHead.weight, wordWeights: wordWeights, on: tape)
        }
        if let rbm = discrete?.rbm { try add(config.rbmWeightDecay) { try tape.sumAll(tape.unary(.square, rbm.weights)) } }
        return loss
    }

    /// The log unigram frequencies of the `rows × inputSize` counts `documents` as ``background`` (the fixed bias, the
    /// word weights, or both): log(n_v / N) with n_v floored at 1/2 for a word the corpus never uses. Returns how many
    /// words were floored; 0 for a model that holds no frequencies.
    @discardableResult
    public func setBackground(fromCounts documents: LabelledImages, on backend: any Backend) throws -> Int {
        guard let background else { return 0 }
        let v = documents.pixelsPerImage
        try require(v == background.cols, "word frequencies: the documents have \(v) words, the model \(background.cols)")
        var counts = [Double](repeating: 0, count: v)
        for d in 0..<documents.count { for w in 0..<v { counts[w] += Double(documents.pixels[d * v + w]) } }
        let floored = counts.filter { $0 < 0.5 }.count
        let total = max(counts.reduce(0, +), 1)
        try backend.upload(counts.map { Float(Foundation.log(max($0, 0.5) / total)) }, to: background.buffer, offset: 0)
        return floored
    }

    /// `log p(x | z)` of each row, `batch × 1`.
    public func logLikelihood(_ x: Tensor, _ decoded: Decoded, on tape: Tape) throws -> Tensor {
        switch decoded {
        case .logits(let logits) where config.likelihood == .multinomial: return try tape.multinomialLogLikelihood(logits: logits, counts: x)
        case .logits(let logits): return try tape.bernoulliLogLikelihood(logits: logits, targets: x)
        case .gaussian(let mean, let logVariance): return try tape.gaussianLogDensity(x, mean: mean, logVariance: logVariance)
        }
    }

    /// The decoder's expected image: `σ(logits)`, the Gaussian mean, or the word probabilities softmax(logits).
    public func expectation(_ decoded: Decoded, on tape: Tape) throws -> Tensor {
        switch decoded {
        case .logits(let logits) where config.likelihood == .multinomial: return try tape.unary(.exp, tape.logSoftmax(logits))
        case .logits(let logits): return try tape.unary(.sigmoid, logits)
        case .gaussian(let mean, _): return mean
        }
    }
}
