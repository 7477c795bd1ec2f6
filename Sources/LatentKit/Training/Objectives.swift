// The training objectives on the tape: the ELBO and the importance-weighted bound of Burda et al., with the
// KL warm-up weight of paper 004 (for the IWAE bound it scales log p(z) - log q(z|x) inside each weight).

import Foundation

public enum Objective {
    /// What a step needs from an objective, all batch sums except `loss` (per image, the thing minimised).
    public struct Terms {
        /// `1 × 2`: the bound's value summed over the batch (the ELBO with its true KL weight 1, or the IWAE bound), then
        /// the KL term summed over the batch (reported; for IWAE the analytic KL of the posterior). One tensor, so that a
        /// trainer records both on the device with one copy and reads many steps' worth back at once.
        public let summary: Tensor
        /// `-(weighted bound) / batch`, plus the model's regularisers (``VAE/regularised(_:on:)``): what the optimiser
        /// minimises.
        public let loss: Tensor

        public init(summary: Tensor, loss: Tensor) {
            self.summary = summary
            self.loss = loss
        }

        /// Puts the `1 × 1` `bound` and `kl` side by side in a summary (two copies on the device).
        public init(bound: Tensor, kl: Tensor, loss: Tensor, on tape: Tape) throws {
            let summary = try tape.pool.tensor(rows: 1, cols: 2)
            try tape.backend.copy(from: bound.buffer, offset: 0, to: summary.buffer, offset: 0, count: 1)
            try tape.backend.copy(from: kl.buffer, offset: 0, to: summary.buffer, offset: 1, count: 1)
            self.init(summary: summary, loss: loss)
        }

        /// The bound and the KL, read back (a blocking read: for tests and evaluation, not for a training step).
        public func values(on backend: any Backend) throws -> (bound: Double, kl: Double) {
            let v = try backend.download(summary.buffer, offset: 0, count: 2)
            return (Double(v[0]), Double(v[1]))
        }
    }

    /// Repeats each row of a batch k times (row i·k + j of the result is row i), differentiably: as row indices for
    /// the images, and for the posterior's parameters as a product with a tile [I I … I] (c × k·c) whose result,
    /// read as (batch·k) × c, holds the repeated rows, so that the backward pass sums each image's k gradients. The
    /// tile costs 2·batch·k·c² FLOP each way; the `batch·k × batch` 0/1 matrix it replaces cost 2·batch²·k·c, which at
    /// batch 1,000 was a tenth of an IWAE step on the CPU.
    public final class Repeater {
        public let samples: Int
        public let indices: Buffer
        let backend: any Backend
        private var tiles: [Int: Tensor] = [:]

        public init(batch b: Int, samples k: Int, on backend: any Backend) throws {
            samples = k
            self.backend = backend
            indices = try backend.buffer((0..<(b * k)).map { Int32($0 / k) })
        }

        /// The `c × k·c` matrix [I I … I], made once per width.
        func tile(width c: Int) throws -> Tensor {
            if let tile = tiles[c] { return tile }
            var values = [Float](repeating: 0, count: c * samples * c)
            for r in 0..<c { for j in 0..<samples { values[r * samples * c + j * c + r] = 1 } }
            let tile = try Tensor(values, rows: c, cols: samples * c, on: backend)
            tiles[c] = tile
            return tile
        }

        /// `x` (`rows × c`) with each row repeated `samples` times: `rows·samples × c`.
        public func repeated(_ x: Tensor, on tape: Tape) throws -> Tensor {
            if samples == 1 { return x }
            return try tape.reshape(tape.matmul(x, tile(width: x.cols)), rows: x.rows * samples, cols: x.cols)
        }

        /// The posterior with each row repeated `samples` times.
        public func repeated(_ q: Posterior, on tape: Tape) throws -> Posterior {
            try q.mapped(on: tape) { try repeated($0, on: tape) }
        }
    }

    /// ELBO = log p(x|z) - KL with one sample z per image (`noise` is `batch × nz`).
    public static func elbo(model: VAE, x: Tensor, posterior q: Posterior, noise: Tensor,
                            klWeight beta: Float = 1, on tape: Tape) throws -> Terms {
        var input: Tensor, kl: Tensor
        if let heads = q.joined, model.config.effectiveKLEstimator == .analytic, tape.fusesOps {
            // the diagonal Gaussian (and the softmax-Gaussian's): sample and KL in one kernel from the joined heads
            let (z, klRows) = try tape.gaussianPosterior(heads: heads, noise: noise, priorLogVariance: model.config.priorLogVariance)
            input = try model.decoderInput(gaussian: z, on: tape)
            kl = klRows
        } else {
            let (y, sampled) = try model.sample(q, noise: noise, on: tape)
            input = sampled
            kl = try model.kl(q, latent: y, on: tape)
        }
        let layers = try model.continuousLayersPosterior(base: input, posterior: q, on: tape)
        input = layers?.decoderInput ?? input
        kl = try model.addingLayerKL(kl, layers, on: tape)
        let logLikelihood = try model.logLikelihood(x, model.decode(input, on: tape), on: tape)
        let (loss, summary) = try tape.elboLoss(logLikelihood: logLikelihood, kl: kl, klWeight: beta, batch: x.rows)
        return Terms(summary: summary, loss: try model.regularised(loss, on: tape))
    }

    /// IWAE bound log (1/k) Σ_j p(x|z_j) [p(z_j) / q(z_j|x)]^beta with k samples per image (`noise` is
    /// `batch·k × nz`, sample j of image i in row i·k + j). The k log-weights of an image form one row for a
    /// logsumexp on the device. With k = 1 this is the ELBO with the Monte Carlo KL.
    public static func iwae(model: VAE, x: Tensor, posterior q: Posterior, noise: Tensor, samples k: Int,
                            repeater: Repeater, klWeight beta: Float = 1, on tape: Tape) throws -> Terms {
        try renyi(alpha: 0, model: model, x: x, posterior: q, noise: noise, samples: k, repeater: repeater, klWeight: beta, on: tape)
    }

    /// The variational Rényi bound of Li & Turner (2016), paper 003's proposal:
    /// L_α = 1/(1−α) · log (1/k) Σ_j w_j^(1−α), w_j = p(x|z_j) [p(z_j) / q(z_j|x)]^beta, with k samples per image. α = 0
    /// is the IWAE bound; α → 1 tends to the mean of log w_j, the ELBO with the Monte Carlo KL, which α = 1 is.
    /// Between them it is a bound on log p(x) tighter than the ELBO and looser than IWAE's.
    public static func renyi(alpha: Float, model: VAE, x: Tensor, posterior q: Posterior, noise: Tensor, samples k: Int,
                             repeater: Repeater, klWeight beta: Float = 1, on tape: Tape) throws -> Terms {
        let b = x.rows
        try require(noise.rows == b * k, "IWAE: noise has \(noise.rows) rows, \(b) images x \(k) samples need \(b * k)")
        let qK = try repeater.repeated(q, on: tape)
        let xK = try tape.pool.tensor(rows: b * k, cols: x.cols)
        try tape.backend.gatherRows(x.buffer, rows: b, cols: x.cols, indices: repeater.indices, count: b * k, into: xK.buffer)
        let (y, sampled) = try model.sample(qK, noise: noise, on: tape)
        let layers = try model.continuousLayersPosterior(base: sampled, posterior: qK, on: tape)
        let logLikelihood = try model.logLikelihood(xK, model.decode(layers?.decoderInput ?? sampled, on: tape), on: tape)
        let bottom = try model.logDensities(latent: y, posterior: qK, on: tape)
        let (logQ, logPrior) = try model.addingLayerDensities(posterior: bottom.posterior, prior: bottom.prior, layers, on: tape)
        let logWeights = try tape.binary(.add, logLikelihood, tape.affine(tape.binary(.sub, logPrior, logQ), alpha: beta))
        let bound: Tensor
        if alpha == 1 {
            bound = try tape.affine(tape.sumAll(logWeights), alpha: 1 / Float(k))
        } else {
            let scaled = alpha == 0 ? logWeights : try tape.affine(logWeights, alpha: 1 - alpha)  // IWAE: no launch for ×1
            bound = try tape.affine(tape.sumAll(tape.logSumExp(tape.reshape(scaled, rows: b, cols: k), axis: .eachRow)),
                                    alpha: 1 / (1 - alpha), beta: -Float(b) * Float.log(Float(k)) / (1 - alpha))
        }
        // reported only: the KL of the posterior (closed form where there is one, else at the first sample)
        // plus, with continuous layers, their closed-form KLs averaged over the k samples of the layers below
        var kl = model.config.hasAnalyticKL
            ? try tape.sumAll(model.kl(q, latent: y, estimator: .analytic, on: tape))
            : try tape.affine(tape.sumAll(tape.binary(.sub, logQ, logPrior)), alpha: 1 / Float(k))
        if let layers, model.config.hasAnalyticKL { kl = try tape.binary(.add, kl, tape.affine(tape.sumAll(layers.kl), alpha: 1 / Float(k))) }
        return try Terms(bound: bound, kl: kl, loss: model.regularised(tape.affine(bound, alpha: -1 / Float(b)), on: tape), on: tape)
    }
}
