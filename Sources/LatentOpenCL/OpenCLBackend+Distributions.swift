// Fused distribution ops on the OpenCL backend: kernels `distributions_*` in Kernels/Distributions.swift.

import LatentCore

extension OpenCLBackend {
    private func rowsLaunch(_ name: String, rows: Int, cols: Int, _ buffers: [(Buffer, String)], extra: [Argument] = []) throws {
        _ = try int(rows * cols, "rows * cols")
        try launch(.distributions, name, global: rows * workGroupSize, local: workGroupSize,
                   try buffers.map { .buffer(try mem($0.0, $0.1)) } + [try int(rows, "rows"), try int(cols, "cols")] + extra)
    }

    private func elementsLaunch(_ name: String, rows: Int, cols: Int, _ buffers: [(Buffer, String)], extra: [Argument] = []) throws {
        _ = try int(rows * cols, "rows * cols")
        try launch(.distributions, name, global: rows * cols,
                   try buffers.map { .buffer(try mem($0.0, $0.1)) } + [try int(rows, "rows"), try int(cols, "cols")] + extra)
    }

    public func gaussianSample(mean: Buffer, logVariance: Buffer, noise: Buffer, into z: Buffer, count: Int) throws {
        let buffers = [(mean, "mean"), (logVariance, "log-variance"), (noise, "noise"), (z, "sample")]
        try checkRows(rows: count, cols: 1, matrices: buffers, perRow: [])
        try launch(.distributions, "distributions_gaussian_sample_f32", global: count,
                   try buffers.map { .buffer(try mem($0.0, $0.1)) } + [try int(count, "count")])
    }

    public func gaussianSampleBackward(logVariance: Buffer, noise: Buffer, gradient dz: Buffer, into dLogVariance: Buffer, count: Int) throws {
        let buffers = [(logVariance, "log-variance"), (noise, "noise"), (dz, "gradient"), (dLogVariance, "output")]
        try checkRows(rows: count, cols: 1, matrices: buffers, perRow: [])
        try launch(.distributions, "distributions_gaussian_sample_backward_f32", global: count,
                   try buffers.map { .buffer(try mem($0.0, $0.1)) } + [try int(count, "count")])
    }

    public func gaussianKL(mean: Buffer, logVariance: Buffer, priorLogVariance: Float, rows: Int, cols: Int, into kl: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(mean, "mean"), (logVariance, "log-variance")], perRow: [(kl, "KL output")])
        try rowsLaunch("distributions_gaussian_kl_f32", rows: rows, cols: cols, [(mean, "mean"), (logVariance, "log-variance"), (kl, "KL output")],
                       extra: [.float(priorLogVariance)])
    }

    public func gaussianPosterior(heads: Buffer, noise: Buffer, priorLogVariance: Float, rows: Int, latent n: Int, intoSample z: Buffer,
                                  intoKL kl: Buffer) throws {
        try checkGaussianPosterior(heads: [(heads, "heads")], latent: [(noise, "noise"), (z, "sample")], perRow: [(kl, "KL output")], rows: rows, n: n)
        _ = try int(2 * rows * n, "rows * 2n")
        try rowsLaunch("distributions_gaussian_posterior_f32", rows: rows, cols: n,
                       [(heads, "heads"), (noise, "noise"), (z, "sample"), (kl, "KL output")], extra: [.float(priorLogVariance)])
    }

    public func gaussianPosteriorBackward(heads: Buffer, noise: Buffer, priorLogVariance: Float, sampleGradient dz: Buffer?,
                                          klGradient g: Buffer?, rows: Int, latent n: Int, intoHeads dHeads: Buffer) throws {
        try checkGaussianPosterior(heads: [(heads, "heads"), (dHeads, "heads gradient")], latent: [(noise, "noise"), (dz, "sample gradient")],
                                   perRow: [(g, "KL gradient")], rows: rows, n: n)
        _ = try int(2 * rows * n, "rows * 2n")
        // an absent gradient is flagged, and another buffer stands in for its (unread) argument
        try elementsLaunch("distributions_gaussian_posterior_backward_f32", rows: rows, cols: n,
                           [(heads, "heads"), (noise, "noise"), (dz ?? noise, "sample gradient"), (g ?? noise, "KL gradient"), (dHeads, "heads gradient")],
                           extra: [.float(priorLogVariance), .int(dz == nil ? 0 : 1), .int(g == nil ? 0 : 1)])
    }

    public func gaussianConditionalPosterior(posteriorHeads: Buffer, priorHeads: Buffer, noise: Buffer, rows: Int, latent n: Int,
                                             intoSample z: Buffer, intoKL kl: Buffer) throws {
        try checkGaussianConditionalPosterior(posteriorHeads: posteriorHeads, priorHeads: priorHeads, latent: [(noise, "noise"), (z, "sample")],
                                              perRow: [(kl, "KL output")], rows: rows, n: n)
        _ = try int(2 * rows * n, "rows * 2n")
        try rowsLaunch("distributions_gaussian_conditional_posterior_f32", rows: rows, cols: n,
                       [(posteriorHeads, "posterior heads"), (priorHeads, "prior heads"), (noise, "noise"), (z, "sample"), (kl, "KL output")])
    }

    public func gaussianConditionalPosteriorBackward(posteriorHeads: Buffer, priorHeads: Buffer, noise: Buffer, sampleGradient dz: Buffer?,
                                                     klGradient g: Buffer?, rows: Int, latent n: Int, intoPosteriorHeads dq: Buffer,
                                                     intoPriorHeads dp: Buffer) throws {
        try checkGaussianConditionalPosterior(posteriorHeads: posteriorHeads, priorHeads: priorHeads,
                                              headGradients: [(dq, "posterior heads gradient"), (dp, "prior heads gradient")],
                                              latent: [(noise, "noise"), (dz, "sample gradient")], perRow: [(g, "KL gradient")], rows: rows, n: n)
        _ = try int(2 * rows * n, "rows * 2n")
        // an absent gradient is flagged, and another buffer stands in for its (unread) argument
        try elementsLaunch("distributions_gaussian_conditional_posterior_backward_f32", rows: rows, cols: n,
                           [(posteriorHeads, "posterior heads"), (priorHeads, "prior heads"), (noise, "noise"), (dz ?? noise, "sample gradient"),
                            (g ?? noise, "KL gradient"), (dq, "posterior heads gradient"), (dp, "prior heads gradient")],
                           extra: [.int(dz == nil ? 0 : 1), .int(g == nil ? 0 : 1)])
    }

    public func gaussianKLBackward(
        mean: Buffer, logVariance: Buffer, priorLogVariance: Float, gradient g: Buffer, rows: Int, cols: Int,
        intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer
    ) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(mean, "mean"), (logVariance, "log-variance"), (dMean, "mean gradient"),
                                                        (dLogVariance, "log-variance gradient")], perRow: [(g, "KL gradient")])
        try elementsLaunch("distributions_gaussian_kl_backward_f32", rows: rows, cols: cols, [
            (mean, "mean"), (logVariance, "log-variance"), (g, "KL gradient"), (dMean, "mean gradient"), (dLogVariance, "log-variance gradient"),
        ], extra: [.float(priorLogVariance)])
    }

    public func bernoulliLogLikelihood(logits: Buffer, targets: Buffer, rows: Int, cols: Int, into ll: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(logits, "logits"), (targets, "targets")], perRow: [(ll, "log-likelihood output")])
        try rowsLaunch("distributions_bernoulli_log_likelihood_f32", rows: rows, cols: cols,
                       [(logits, "logits"), (targets, "targets"), (ll, "log-likelihood output")])
    }

    public func bernoulliLogLikelihoodBackward(
        logits: Buffer, targets: Buffer, gradient g: Buffer, rows: Int, cols: Int, into dLogits: Buffer
    ) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(logits, "logits"), (targets, "targets"), (dLogits, "logits gradient")],
                      perRow: [(g, "log-likelihood gradient")])
        try elementsLaunch("distributions_bernoulli_log_likelihood_backward_f32", rows: rows, cols: cols,
                           [(logits, "logits"), (targets, "targets"), (g, "log-likelihood gradient"), (dLogits, "logits gradient")])
    }

    public func multinomialLogLikelihood(logits: Buffer, counts: Buffer, rows: Int, cols: Int, into ll: Buffer, logNormaliser: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(logits, "logits"), (counts, "counts")],
                      perRow: [(ll, "log-likelihood output"), (logNormaliser, "log-normaliser output")])
        try rowsLaunch("distributions_multinomial_log_likelihood_f32", rows: rows, cols: cols,
                       [(logits, "logits"), (counts, "counts"), (ll, "log-likelihood output"), (logNormaliser, "log-normaliser output")])
    }

    public func multinomialLogLikelihoodBackward(logits: Buffer, counts: Buffer, logNormaliser: Buffer, gradient g: Buffer, rows: Int, cols: Int,
                                                 into dLogits: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(logits, "logits"), (counts, "counts"), (dLogits, "logits gradient")],
                      perRow: [(logNormaliser, "log-normaliser"), (g, "log-likelihood gradient")])
        try rowsLaunch("distributions_multinomial_log_likelihood_backward_f32", rows: rows, cols: cols,
                       [(logits, "logits"), (counts, "counts"), (logNormaliser, "log-normaliser"), (g, "log-likelihood gradient"),
                        (dLogits, "logits gradient")])
    }

    public func gaussianLogDensity(_ x: Buffer, mean: Buffer, logVariance: Buffer, rows: Int, cols: Int, into lp: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(x, "x"), (mean, "mean"), (logVariance, "log-variance")], perRow: [(lp, "log-density output")])
        try rowsLaunch("distributions_gaussian_log_density_f32", rows: rows, cols: cols,
                       [(x, "x"), (mean, "mean"), (logVariance, "log-variance"), (lp, "log-density output")])
    }

    public func gaussianLogDensityBackward(
        _ x: Buffer, mean: Buffer, logVariance: Buffer, gradient g: Buffer, rows: Int, cols: Int,
        intoX dx: Buffer, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer
    ) throws {
        let buffers = [(x, "x"), (mean, "mean"), (logVariance, "log-variance"), (g, "log-density gradient"), (dx, "x gradient"),
                       (dMean, "mean gradient"), (dLogVariance, "log-variance gradient")]
        try checkRows(rows: rows, cols: cols, matrices: buffers.filter { $0.1 != "log-density gradient" }, perRow: [(g, "log-density gradient")])
        try elementsLaunch("distributions_gaussian_log_density_backward_f32", rows: rows, cols: cols, buffers)
    }
}
