// Test-set evaluation: the negative ELBO with its two terms, and the importance-sampled negative
// log-likelihood of Burda et al. (-log (1/k) Σ p(x, z_i) / q(z_i | x)), its logsumexp taken on the device.

import Foundation

public struct EvaluationResult: Sendable {
    public var negativeELBO: Double
    public var reconstruction: Double
    public var kl: Double
    /// The k-sample importance-sampled negative log-likelihood, when asked for.
    public var negativeLogLikelihood: Double?
    public var k: Int
    public var images: Int
    /// Burda et al.'s activity of each latent unit, Cov_x(E_q[u|x]), over the evaluated images (``activityMeasure``).
    public var unitActivity: [Double] = []
    /// What ``unitActivity`` is taken of: the posterior mean, or on the simplex its centred log-ratio.
    public var activityMeasure: ActivityMeasure = .posteriorMean
    /// Discrete VAE: the AIS estimate of the RBM prior's log Z (in both bounds) and its standard error over chains.
    public var logZ: Double?
    public var logZStandardError: Double?
    /// The standard error of the importance-sampled NLL over the images (sd / √images).
    public var nllStandardError: Double?
    /// Each image's importance-sampled NLL, in the order of the test set (empty when not sampled): two models evaluated
    /// on the same images compare by their paired differences, whose spread is far smaller than either model's.
    public var imageNLL: [Double] = []
    /// Concrete: the relaxed objective the run was trained on (relaxed samples at the training temperature, the
    /// training KL), which bounds no model's likelihood; ``negativeELBO`` and the NLL are the discrete model's.
    public var relaxedObjective: Double?
    /// Multinomial likelihood: the mean tokens (sum of counts) of the evaluated documents, for perplexities.
    public var tokensPerDocument: Double?
    /// exp(−ELBO per token): the perplexity bound of topic-model papers (ProdLDA's), with its importance-sampled
    /// counterpart from the NLL; nil unless the likelihood is multinomial.
    public var perplexityBound: Double? { tokensPerDocument.map { Foundation.exp(negativeELBO / $0) } }
    /// The mean over documents of exp(−ELBO_d / N_d): the per-document perplexity bound (papers mix it with the corpus-level
    /// ``perplexityBound``, exp(Σ −ELBO_d / Σ N_d)).
    public var documentPerplexityBound: Double?
    public var perplexity: Double? { tokensPerDocument.flatMap { t in negativeLogLikelihood.map { Foundation.exp($0 / t) } } }
    /// Units with activity above 0.01.
    public var activeUnits: Int { unitActivity.filter { $0 > 0.01 }.count }

    public var json: [String: Any] {
        var d: [String: Any] = ["test_neg_elbo": negativeELBO, "test_recon": reconstruction, "test_kl": kl, "k": k, "images": images,
                                "active_units": activeUnits, "unit_activity": unitActivity,
                                "active_units_measure": activityMeasure.rawValue]
        d["test_nll"] = negativeLogLikelihood ?? NSNull()
        if let relaxedObjective { d["test_relaxed_objective"] = relaxedObjective }
        if let tokensPerDocument {
            d["tokens_per_document"] = tokensPerDocument
            d["perplexity_bound"] = perplexityBound ?? NSNull()
            d["perplexity"] = perplexity ?? NSNull()
            d["perplexity_bound_document"] = documentPerplexityBound ?? NSNull()
        }
        // with the NLL; a discrete VAE's JSON has the key (null without sampling) as it always had
        if negativeLogLikelihood != nil || logZ != nil { d["nll_standard_error"] = nllStandardError ?? NSNull() }
        if let logZ {
            d["log_z"] = logZ
            d["log_z_standard_error"] = logZStandardError ?? NSNull()
        }
        return d
    }

    /// Throws unless every figure is finite. An infinite or NaN bound is not a measurement: the model is untrained or
    /// diverged, or the items are far from what it was trained on (an encoder that never saw a document that long can put
    /// its posterior far out); the one-line error names the figure and, with importance sampling, the first such item.
    public func requireFinite() throws {
        let figures: [(String, Double?)] = [("test -ELBO", negativeELBO), ("reconstruction term", reconstruction), ("KL term", kl),
                                            ("importance-sampled NLL", negativeLogLikelihood), ("perplexity bound", perplexityBound),
                                            ("per-document perplexity bound", documentPerplexityBound), ("perplexity", perplexity),
                                            ("RBM log Z", logZ)]
        guard let (name, value) = figures.first(where: { $0.1.map { !$0.isFinite } ?? false }) else { return }
        let item = imageNLL.firstIndex { !$0.isFinite }.map { ", first at test item \($0)" } ?? ""
        throw DataError("the \(name) is \(value!) (test -ELBO \(negativeELBO), KL \(kl) nats\(item)): the model's bound diverges on these "
                        + "data (untrained or diverged, or items far from its training data); no figures are reported")
    }

    /// Records the per-image NLLs with their mean and its standard error over the images.
    mutating func recordImportanceSampled(_ nll: [Double]) {
        let n = Double(nll.count), mean = nll.reduce(0, +) / n
        imageNLL = nll
        negativeLogLikelihood = mean
        nllStandardError = (nll.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(n - 1, 1)).squareRoot() / n.squareRoot()
    }
}

public final class Evaluator {
    public let model: VAE
    public let backend: any Backend
    let pool: BufferPool
    let tape: Tape
    /// Discrete VAE: the chains and temperatures of the AIS estimate of log Z.
    public var aisChains = DiscreteVAEDefaults.aisChains
    public var aisTemperatures = DiscreteVAEDefaults.aisTemperatures

    /// The fixed key of the test set's one binarisation: the same for every run, so runs are compared on the
    /// same binary images.
    public static let testBinarizationKey = PhiloxKey(seed: 0x7E57, stream: 0)
    static let noiseStream: UInt32 = 0x2000

    /// Whether ``testImages(_:limit:)`` binarises the test set for a Bernoulli model (false for a run trained with
    /// `--binarize none`, which evaluates on the values as they are).
    public var binarizesTestSet = true

    /// Under `mpirun`: the ranks split the importance-sampled estimates (the bulk of `eval`'s work) by image, each
    /// image's draws keyed by its index as in one process, and the per-image results are summed over the ranks, so every
    /// rank returns what one process returns. The ELBO, unit activity and the discrete VAE's AIS estimate of log Z
    /// are computed by every rank alike.
    public var communicator: Communicator?

    public init(model: VAE, backend: any Backend) {
        self.model = model
        self.backend = backend
        pool = BufferPool(backend: backend)
        tape = Tape(pool: pool)
    }

    /// The first `limit` test images, binarised once with ``testBinarizationKey`` for a Bernoulli model.
    public func testImages(_ test: LabelledImages, limit: Int?) throws -> Tensor {
        let n = min(limit ?? test.count, test.count)
        let x = try Tensor(Array(test.pixels.prefix(n * test.pixelsPerImage)), rows: n, cols: test.pixelsPerImage, on: backend)
        if model.config.likelihood == .bernoulli && binarizesTestSet {
            try backend.fillRandom(.bernoulli, into: x.buffer, count: x.count, key: Self.testBinarizationKey,
                                   counter: PhiloxCounter(), probabilities: x.buffer)
        }
        return x
    }

    func rows(_ x: Tensor, _ start: Int, _ count: Int) throws -> Tensor {
        let t = try pool.tensor(rows: count, cols: x.cols)
        try backend.copy(from: x.buffer, offset: start * x.cols, to: t.buffer, offset: 0, count: count * x.cols)
        return t
    }

    /// Single-sample ELBO over `x`, in batches; returns the per-image means of -log p(x|z) and KL. For the Concrete,
    /// the discrete model's (CategoricalEvaluation.swift), or with `relaxed` the relaxed objective it was trained on.
    public func elbo(_ x: Tensor, batchSize: Int = 500, seed: UInt32 = 1, relaxed: Bool = false) throws -> (reconstruction: Double, kl: Double) {
        let rows = try elboRows(x, batchSize: batchSize, seed: seed, relaxed: relaxed)
        return (rows.reconstruction.reduce(0, +) / Double(x.rows), rows.kl.reduce(0, +) / Double(x.rows))
    }

    /// ``elbo(_:batchSize:seed:relaxed:)`` of each row: −log p(x|z) and the KL of every image (one read-back a batch).
    public func elboRows(_ x: Tensor, batchSize: Int = 500, seed: UInt32 = 1, relaxed: Bool = false) throws -> (reconstruction: [Double], kl: [Double]) {
        var reconstruction: [Double] = [], kl: [Double] = []
        let wasTraining = model.training
        model.training = false  // batch normalisation by its running statistics
        defer { model.training = wasTraining }
        for start in stride(from: 0, to: x.rows, by: batchSize) {
            tape.reset()
            let b = min(batchSize, x.rows - start)
            let xb = try rows(x, start, b)
            let q = try model.encode(xb, on: tape)
            let noise = try pool.tensor(rows: b, cols: q.location.cols)
            try backend.fillRandom(model.noiseDistribution, into: noise.buffer, count: noise.count, key: PhiloxKey(seed: seed, stream: Self.noiseStream),
                                   counter: PhiloxCounter(offset: UInt64(start) << 16), probabilities: nil)
            keyOwnDraws(seed: seed, batchStart: start)
            if model.config.latent == .concrete && !relaxed {
                let z = try model.categoricalSample(logits: try q.location, gumbel: noise, on: tape)
                let ll = try model.logLikelihood(xb, model.decode(z.oneHot, on: tape), on: tape)
                let klRows = try tape.categoricalKL(try q.location, categories: model.config.categories)
                reconstruction += try backend.download(ll.buffer, offset: 0, count: b).map { -Double($0) }
                kl += try backend.download(klRows.buffer, offset: 0, count: b).map(Double.init)
                continue
            }
            let (y, sampled) = try model.sample(q, noise: noise, on: tape)
            let layers = try model.continuousLayersPosterior(base: sampled, posterior: q, on: tape)
            let ll = try model.logLikelihood(xb, model.decode(layers?.decoderInput ?? sampled, on: tape), on: tape)
            // the analytic KL where the family has one (the same expectation as Monte Carlo, without its noise);
            // for the Concrete, the KL the model was trained with (its "analytic" one is a different objective)
            let klRows = try model.addingLayerKL(model.kl(q, latent: y, estimator: model.config.hasAnalyticKL ? .analytic : nil, on: tape),
                                                 layers, on: tape)
            reconstruction += try backend.download(ll.buffer, offset: 0, count: b).map { -Double($0) }
            kl += try backend.download(klRows.buffer, offset: 0, count: b).map(Double.init)
        }
        tape.reset()
        return (reconstruction, kl)
    }

    /// E_q[u|x] for every image and unit: the mean of the Gaussian variable (Gaussian; for the logit-normal, of the
    /// logit), the class probabilities softmax(log α) of each categorical (Concrete), α/α₀ (Dirichlet).
    /// `includingLayers`: with continuous layers, each row also holds every layer's posterior mean given the means below
    /// (``VAE/continuousLayerMeans(base:posterior:on:)``): `decoderInputSize` values a row, the code `encode` writes.
    public func posteriorMeans(_ x: Tensor, batchSize: Int = 1000, includingLayers: Bool = false) throws -> [Float] {
        let wasTraining = model.training
        model.training = false
        defer { model.training = wasTraining }
        var means: [Float] = []
        let nz = model.config.latentSize
        for start in stride(from: 0, to: x.rows, by: batchSize) {
            tape.reset()
            let b = min(batchSize, x.rows - start)
            let q = try model.encode(try rows(x, start, b), on: tape)
            var m: Tensor
            switch model.config.latent {
            case .gaussian, .logitNormal: m = try q.location
            case .concrete:
                let groups = model.config.categoricalGroups
                m = try tape.unary(.exp, tape.logSoftmax(tape.reshape(q.location, rows: b * groups, cols: nz / groups)))
            case .softmaxGaussian:
                m = try tape.unary(.exp, tape.logSoftmax(q.location))
            case .dirichlet:
                m = try tape.binary(.div, q.location, tape.sum(q.location, axis: .eachRow), broadcast: .column)
            case .dvae:
                m = try model.dvaeCodes(q, rows: b, on: tape)
            }
            if includingLayers, let layers = try model.continuousLayerMeans(base: m, posterior: q, on: tape) {
                m = try tape.concatColumns([m, layers])
            }
            means += try backend.download(m.buffer, offset: 0, count: m.count)
        }
        tape.reset()
        return means
    }

    /// Cov_x(E_q[u|x]) of each unit u over the images of `x` (Burda et al.: a unit is active above 0.01); on the
    /// simplex, of the centred log-ratio of the posterior mean (``ActivityMeasure``).
    public func unitActivity(_ x: Tensor) throws -> [Double] {
        let config = model.config
        return CodeStatistics.unitActivity(try posteriorMeans(x), count: x.rows, size: config.latentSize,
                                           measure: config.latent.activityMeasure, groupSize: config.simplexSize)
    }

    /// `-log (1/k) Σ_i p(x, z_i) / q(z_i | x)` for each image of `x`, with `z_i ~ q(z | x)`, in chunks of `chunk`
    /// samples. The k log-weights of an image are gathered in one device buffer and reduced with logsumexp there.
    public func importanceSampledNLL(_ x: Tensor, k: Int, chunk: Int = 1000, seed: UInt32 = 1,
                                     progress: (Int) -> Void = { _ in }) throws -> [Double] {
        let nz = model.config.latentSize
        return try importanceSampled(x, k: k, chunk: chunk, progress: progress) { qc, xs, start, i in
            let noise = try pool.tensor(rows: xs.rows, cols: nz)
            try backend.fillRandom(model.noiseDistribution, into: noise.buffer, count: noise.count, key: PhiloxKey(seed: seed, stream: Self.noiseStream + 1),
                                   counter: Self.importanceCounter(sample: start, image: i), probabilities: nil)
            keyOwnDraws(seed: seed, sample: start, image: i)
            if model.config.latent == .concrete {  // the discrete model's weights p(x|z) p(z) / q(z|x)
                let z = try model.categoricalSample(logits: try qc.location, gumbel: noise, on: tape)
                let logLikelihood = try model.logLikelihood(xs, model.decode(z.oneHot, on: tape), on: tape)
                return try tape.affine(tape.binary(.sub, logLikelihood, z.logProbability), alpha: 1, beta: model.uniformCategoricalLogPrior)
            }
            let (y, sampled) = try model.sample(qc, noise: noise, on: tape)
            let layers = try model.continuousLayersPosterior(base: sampled, posterior: qc, on: tape)
            let bottom = try model.logDensities(latent: y, posterior: qc, on: tape)
            let (logQ, logPrior) = try model.addingLayerDensities(posterior: bottom.posterior, prior: bottom.prior, layers, on: tape)
            let logLikelihood = try model.logLikelihood(xs, model.decode(layers?.decoderInput ?? sampled, on: tape), on: tape)
            return try tape.binary(.sub, tape.binary(.add, logLikelihood, logPrior), logQ)
        }
    }

    /// Keys the model's own draws for the ELBO's batch at `batchStart`, and for samples `sample...` of image `image` of an
    /// importance-sampled estimate: the same for every family, so the discrete VAE's evaluation draws what the others do.
    func keyOwnDraws(seed: UInt32, batchStart start: Int) {
        model.keyOwnDraws(PhiloxKey(seed: seed, stream: Self.noiseStream + 2), counter: PhiloxCounter(UInt32(start), 0, 0, 0))
    }

    func keyOwnDraws(seed: UInt32, sample start: Int, image i: Int) {
        model.keyOwnDraws(PhiloxKey(seed: seed, stream: Self.noiseStream + 3), counter: PhiloxCounter(UInt32(start), UInt32(i), 0, 0))
    }

    /// The Philox counter of the noise for samples `sample...` of image `image`: the two indices in the high words, so
    /// that each fill (which advances the low 64 bits by a block per 4 values) draws from its own range. Putting the
    /// sample index in the low words made consecutive chunks of 1000 samples reuse each other's noise whenever
    /// nz > 4 (chunk 2's first 800 rows were chunk 1's last 800 at nz = 20).
    public static func importanceCounter(sample: Int, image: Int) -> PhiloxCounter {
        PhiloxCounter(0, 0, UInt32(truncatingIfNeeded: sample), UInt32(truncatingIfNeeded: image))
    }

    /// The loop every importance-sampling estimate shares: for each image, its posterior repeated for each chunk of
    /// samples (as a product, so the same `Posterior.mapped` serves IWAE) and the image repeated alike; `logWeights`
    /// returns the chunk's `log p(x, z) - log q(z|x)` (samples `start..<start + chunk` of image `image`), gathered in
    /// one device buffer per image and reduced there by logsumexp. Returns `-log (1/k) Σ w` per image.
    func importanceSampled(_ x: Tensor, k: Int, chunk: Int, progress: (Int) -> Void,
                           logWeights: (_ q: Posterior, _ images: Tensor, _ start: Int, _ image: Int) throws -> Tensor) throws -> [Double] {
        try require(k >= 1, "k must be >= 1, got \(k)")
        let chunk = min(chunk, k)
        let weights = try backend.allocate(count: k, dtype: .float32)
        let repeatRow = try Tensor([Float](repeating: 1, count: chunk), rows: chunk, cols: 1, on: backend)
        let index = try backend.buffer([Int32](repeating: 0, count: chunk))  // every sample reads the image's row 0
        let lse = try backend.allocate(count: 1, dtype: .float32)
        var result: [Double] = []
        let wasTraining = model.training
        model.training = false
        defer { model.training = wasTraining }
        let ranks = communicator?.size ?? 1, rank = communicator?.rank ?? 0
        let mine = (rank * x.rows / ranks)..<((rank + 1) * x.rows / ranks)
        for i in mine {
            tape.reset()
            let xi = try rows(x, i, 1)
            let q = try model.encode(xi, on: tape)
            for start in stride(from: 0, to: k, by: chunk) {
                let c = min(chunk, k - start)
                let qc = try q.mapped(by: c == chunk ? repeatRow : try rows(repeatRow, 0, c), on: tape)
                let xs = try pool.tensor(rows: c, cols: x.cols)
                try backend.gatherRows(xi.buffer, rows: 1, cols: x.cols, indices: index, count: c, into: xs.buffer)
                let w = try logWeights(qc, xs, start, i)
                try backend.copy(from: w.buffer, offset: 0, to: weights, offset: start, count: c)
            }
            try backend.reduce(.logSumExp, weights, rows: 1, cols: k, axis: .eachRow, into: lse)
            let nll = -(Double(try backend.download(lse, offset: 0, count: 1)[0]) - Foundation.log(Double(k)))
            guard nll.isFinite else {
                // never a silent NaN in a reported mean: name the item (seen: a 2,801-token document whose posterior
                // variance underflowed, so that log q(z|x) of its own sample was 0 × ∞)
                throw TrainingError(description: "the importance-sampled NLL of test item \(i) is \(nll): its log-weights "
                                    + "log p(x, z) - log q(z|x) are not finite (a degenerate posterior for this item?); evaluate with --k 0, "
                                    + "or --limit \(i) to stop before it")
            }
            result.append(nll)
            progress(i + 1 - mine.lowerBound)
        }
        tape.reset()
        if let communicator, ranks > 1 {
            var all = [Double](repeating: 0, count: x.rows)
            all.replaceSubrange(mine, with: result)
            try communicator.sum(&all)
            return all
        }
        return result
    }

    /// Everything `latentkit eval` reports.
    public func evaluate(_ test: LabelledImages, k: Int, limit: Int?, importanceSampling: Bool = true,
                         progress: (Int) -> Void = { _ in }) throws -> EvaluationResult {
        let x = try testImages(test, limit: limit)
        if model.config.latent == .dvae {
            return try evaluateDiscreteVAE(x, k: k, importanceSampling: importanceSampling, progress: progress)
        }
        let rows = try elboRows(x)
        let reconstruction = rows.reconstruction.reduce(0, +) / Double(x.rows), kl = rows.kl.reduce(0, +) / Double(x.rows)
        let nll = importanceSampling ? try importanceSampledNLL(x, k: k, progress: progress) : nil
        var result = EvaluationResult(
            negativeELBO: reconstruction + kl, reconstruction: reconstruction, kl: kl,
            negativeLogLikelihood: nil, k: k, images: x.rows,
            unitActivity: try unitActivity(x), activityMeasure: model.config.latent.activityMeasure)
        if let nll { result.recordImportanceSampled(nll) }
        if model.config.latent == .concrete {
            let (r, k) = try elbo(x, relaxed: true)
            result.relaxedObjective = r + k
        }
        if model.config.likelihood == .multinomial {
            let n = min(limit ?? test.count, test.count)
            let v = test.pixelsPerImage
            let tokens = (0..<n).map { d in test.pixels[(d * v)..<((d + 1) * v)].reduce(0) { $0 + Double($1) } }
            result.tokensPerDocument = tokens.reduce(0, +) / Double(n)
            // the mean over documents of exp(−ELBO_d / N_d), the per-document form some topic-model papers report
            result.documentPerplexityBound = (0..<n).map { d in Foundation.exp((rows.reconstruction[d] + rows.kl[d]) / max(tokens[d], 1)) }
                .reduce(0, +) / Double(n)
        }
        return result
    }
}
