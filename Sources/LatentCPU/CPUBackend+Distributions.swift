// Fused distribution ops on the CPU: the specification of Kernels/Distributions.swift. Row sums in double.

import LatentCore
import RealModule

extension CPUBackend {
    public func gaussianSample(mean: Buffer, logVariance: Buffer, noise: Buffer, into z: Buffer, count: Int) throws {
        try checkRows(rows: count, cols: 1, matrices: [(mean, "mean"), (logVariance, "log-variance"), (noise, "noise"), (z, "sample")], perRow: [])
        let mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats
        let eps = try host(noise, "noise").floats, out = try host(z, "sample").floats
        parallelChunks(count) { range in
            for i in range { out[i] = mu[i] + Float.exp(0.5 * lv[i]) * eps[i] }
        }
    }

    public func gaussianSampleBackward(logVariance: Buffer, noise: Buffer, gradient dz: Buffer, into dLogVariance: Buffer, count: Int) throws {
        try checkRows(rows: count, cols: 1, matrices: [(logVariance, "log-variance"), (noise, "noise"), (dz, "gradient"), (dLogVariance, "output")], perRow: [])
        let lv = try host(logVariance, "log-variance").floats, eps = try host(noise, "noise").floats
        let g = try host(dz, "gradient").floats, out = try host(dLogVariance, "output").floats
        parallelChunks(count) { range in
            for i in range { out[i] = g[i] * eps[i] * 0.5 * Float.exp(0.5 * lv[i]) }
        }
    }

    public func gaussianKL(mean: Buffer, logVariance: Buffer, priorLogVariance plv: Float, rows: Int, cols: Int, into kl: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(mean, "mean"), (logVariance, "log-variance")], perRow: [(kl, "KL output")])
        let mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats
        let inversePrior = Float.exp(-plv)
        rowSums(rows: rows, cols: cols, into: try host(kl, "KL output").floats) { i in
            -0.5 * (1 + lv[i] - plv - (mu[i] * mu[i] + Float.exp(lv[i])) * inversePrior)
        }
    }

    public func gaussianPosterior(heads: Buffer, noise: Buffer, priorLogVariance plv: Float, rows: Int, latent n: Int, intoSample z: Buffer,
                                  intoKL kl: Buffer) throws {
        try checkGaussianPosterior(heads: [(heads, "heads")], latent: [(noise, "noise"), (z, "sample")], perRow: [(kl, "KL output")], rows: rows, n: n)
        let h = try host(heads, "heads").floats, eps = try host(noise, "noise").floats, out = try host(z, "sample").floats
        let inversePrior = Float.exp(-plv)
        // the expressions of gaussianSample and gaussianKL, reading the mean at column j and the log-variance at n + j
        rowSums(rows: rows, cols: n, into: try host(kl, "KL output").floats) { i in
            let r = i / n, mu = h[i + r * n], lv = h[i + r * n + n]
            out[i] = mu + Float.exp(0.5 * lv) * eps[i]
            return -0.5 * (1 + lv - plv - (mu * mu + Float.exp(lv)) * inversePrior)
        }
    }

    public func gaussianPosteriorBackward(heads: Buffer, noise: Buffer, priorLogVariance plv: Float, sampleGradient dz: Buffer?,
                                          klGradient g: Buffer?, rows: Int, latent n: Int, intoHeads dHeads: Buffer) throws {
        try checkGaussianPosterior(heads: [(heads, "heads"), (dHeads, "heads gradient")], latent: [(noise, "noise"), (dz, "sample gradient")],
                                   perRow: [(g, "KL gradient")], rows: rows, n: n)
        let h = try host(heads, "heads").floats, eps = try host(noise, "noise").floats, out = try host(dHeads, "heads gradient").floats
        let sample = try dz.map { try host($0, "sample gradient").floats }, perRow = try g.map { try host($0, "KL gradient").floats }
        let inversePrior = Float.exp(-plv)
        perElement(rows: rows, cols: n) { i, r in
            let mu = h[i + r * n], lv = h[i + r * n + n]
            // each term as gaussianKLBackward and gaussianSampleBackward compute it, added as the tape would add them
            var dmu: Float = 0, dlv: Float = 0
            if let perRow { dmu = perRow[r] * mu * inversePrior; dlv = perRow[r] * 0.5 * (Float.exp(lv - plv) - 1) }
            if let sample {
                let d = sample[i]
                dmu = perRow == nil ? d : dmu + d
                let s = d * eps[i] * 0.5 * Float.exp(0.5 * lv)
                dlv = perRow == nil ? s : dlv + s
            }
            out[i + r * n] = dmu
            out[i + r * n + n] = dlv
        }
    }

    public func gaussianConditionalPosterior(posteriorHeads: Buffer, priorHeads: Buffer, noise: Buffer, rows: Int, latent n: Int,
                                             intoSample z: Buffer, intoKL kl: Buffer) throws {
        try checkGaussianConditionalPosterior(posteriorHeads: posteriorHeads, priorHeads: priorHeads, latent: [(noise, "noise"), (z, "sample")],
                                              perRow: [(kl, "KL output")], rows: rows, n: n)
        let q = try host(posteriorHeads, "posterior heads").floats, p = try host(priorHeads, "prior heads").floats
        let eps = try host(noise, "noise").floats, out = try host(z, "sample").floats
        rowSums(rows: rows, cols: n, into: try host(kl, "KL output").floats) { i in
            let r = i / n, mq = q[i + r * n], lq = q[i + r * n + n], mp = p[i + r * n], lp = p[i + r * n + n]
            out[i] = mq + Float.exp(0.5 * lq) * eps[i]
            let d = mq - mp
            return 0.5 * (lp - lq + (Float.exp(lq) + d * d) * Float.exp(-lp) - 1)
        }
    }

    public func gaussianConditionalPosteriorBackward(posteriorHeads: Buffer, priorHeads: Buffer, noise: Buffer, sampleGradient dz: Buffer?,
                                                     klGradient g: Buffer?, rows: Int, latent n: Int, intoPosteriorHeads dq: Buffer,
                                                     intoPriorHeads dp: Buffer) throws {
        try checkGaussianConditionalPosterior(posteriorHeads: posteriorHeads, priorHeads: priorHeads,
                                              headGradients: [(dq, "posterior heads gradient"), (dp, "prior heads gradient")],
                                              latent: [(noise, "noise"), (dz, "sample gradient")], perRow: [(g, "KL gradient")], rows: rows, n: n)
        let q = try host(posteriorHeads, "posterior heads").floats, p = try host(priorHeads, "prior heads").floats
        let eps = try host(noise, "noise").floats
        let outQ = try host(dq, "posterior heads gradient").floats, outP = try host(dp, "prior heads gradient").floats
        let sample = try dz.map { try host($0, "sample gradient").floats }, perRow = try g.map { try host($0, "KL gradient").floats }
        perElement(rows: rows, cols: n) { i, r in
            let mq = q[i + r * n], lq = q[i + r * n + n], mp = p[i + r * n], lp = p[i + r * n + n]
            var dmq: Float = 0, dlq: Float = 0, dmp: Float = 0, dlp: Float = 0
            if let perRow {
                let gr = perRow[r], d = mq - mp, inverse = Float.exp(-lp), v = Float.exp(lq - lp)
                dmq = gr * d * inverse
                dmp = -dmq
                dlq = gr * 0.5 * (v - 1)
                dlp = gr * 0.5 * (1 - v - d * d * inverse)
            }
            if let sample {
                let s = sample[i]
                dmq += s
                dlq += s * eps[i] * 0.5 * Float.exp(0.5 * lq)
            }
            outQ[i + r * n] = dmq
            outQ[i + r * n + n] = dlq
            outP[i + r * n] = dmp
            outP[i + r * n + n] = dlp
        }
    }

    public func gaussianKLBackward(
        mean: Buffer, logVariance: Buffer, priorLogVariance plv: Float, gradient g: Buffer, rows: Int, cols: Int,
        intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer
    ) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(mean, "mean"), (logVariance, "log-variance"), (dMean, "mean gradient"),
                                                        (dLogVariance, "log-variance gradient")], perRow: [(g, "KL gradient")])
        let mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats, gr = try host(g, "KL gradient").floats
        let dmu = try host(dMean, "mean gradient").floats, dlv = try host(dLogVariance, "log-variance gradient").floats
        let inversePrior = Float.exp(-plv)
        perElement(rows: rows, cols: cols) { i, r in
            dmu[i] = gr[r] * mu[i] * inversePrior
            dlv[i] = gr[r] * 0.5 * (Float.exp(lv[i] - plv) - 1)
        }
    }

    public func bernoulliLogLikelihood(logits: Buffer, targets: Buffer, rows: Int, cols: Int, into ll: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(logits, "logits"), (targets, "targets")], perRow: [(ll, "log-likelihood output")])
        let l = try host(logits, "logits").floats, x = try host(targets, "targets").floats
        let out = try host(ll, "log-likelihood output").floats
        // the softplus of four rows at a time (the step's largest transcendental workload, at the vector width), then
        // their sums side by side, each row's in column order
        let block = 4
        parallelChunks(rows, grain: max(1, (1 << 13) / max(cols, 1))) { range in
            var softplus = [Float](repeating: 0, count: block * cols)
            softplus.withUnsafeMutableBufferPointer { sp in
                for first in stride(from: range.lowerBound, to: range.upperBound, by: block) {
                    let count = min(block, range.upperBound - first), base = first * cols
                    VectorMath.softplus(l + base, sp.baseAddress!, count: count * cols)
                    VectorMath.bernoulliRowSums(logits: l + base, targets: x + base, softplus: sp.baseAddress!, into: out + first,
                                                rows: count, cols: cols)
                }
            }
        }
    }

    public func bernoulliLogLikelihoodBackward(
        logits: Buffer, targets: Buffer, gradient g: Buffer, rows: Int, cols: Int, into dLogits: Buffer
    ) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(logits, "logits"), (targets, "targets"), (dLogits, "logits gradient")],
                      perRow: [(g, "log-likelihood gradient")])
        let l = try host(logits, "logits").floats, x = try host(targets, "targets").floats
        let gr = try host(g, "log-likelihood gradient").floats, dl = try host(dLogits, "logits gradient").floats
        parallelChunks(rows, grain: max(1, (1 << 13) / max(cols, 1))) { range in
            for r in range {
                let base = r * cols
                VectorMath.sigmoid(l + base, dl + base, count: cols)
                for i in base..<(base + cols) { dl[i] = gr[r] * (x[i] - dl[i]) }
            }
        }
    }

    public func multinomialLogLikelihood(logits: Buffer, counts: Buffer, rows: Int, cols: Int, into ll: Buffer, logNormaliser: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(logits, "logits"), (counts, "counts")],
                      perRow: [(ll, "log-likelihood output"), (logNormaliser, "log-normaliser output")])
        let l = try host(logits, "logits").floats, c = try host(counts, "counts").floats
        let out = try host(ll, "log-likelihood output").floats, lse = try host(logNormaliser, "log-normaliser output").floats
        // four rows at a time: their exponentials, then their two chains of double sums side by side (VectorMath), each
        // row still summed in column order
        parallelChunks(rows, grain: max(1, (1 << 13) / max(cols, 1))) { range in
            var e = [Float](repeating: 0, count: 4 * cols), sums = [Double](repeating: 0, count: 4), m = [Float](repeating: 0, count: 4)
            for start in stride(from: range.lowerBound, to: range.upperBound, by: 4) {
                let n = min(4, range.upperBound - start)
                e.withUnsafeMutableBufferPointer { ep in
                    for i in 0..<n {
                        let lr = l + (start + i) * cols, er = ep.baseAddress! + i * cols
                        m[i] = reduceLine(.max, lr, count: cols, stride: 1)
                        for j in 0..<cols { er[j] = lr[j] - m[i] }
                        VectorMath.exp(er, er, count: cols)
                    }
                    sums.withUnsafeMutableBufferPointer { VectorMath.rowSums(ep.baseAddress!, into: $0.baseAddress!, rows: n, cols: cols) }
                }
                for i in 0..<n { lse[start + i] = m[i] + Float(Double.log(sums[i])) }
                VectorMath.multinomialRowSums(counts: c + start * cols, logits: l + start * cols, logNormalisers: lse + start,
                                              into: out + start, rows: n, cols: cols)
            }
        }
    }

    public func multinomialLogLikelihoodBackward(logits: Buffer, counts: Buffer, logNormaliser: Buffer, gradient g: Buffer, rows: Int, cols: Int,
                                                 into dLogits: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(logits, "logits"), (counts, "counts"), (dLogits, "logits gradient")],
                      perRow: [(logNormaliser, "log-normaliser"), (g, "log-likelihood gradient")])
        let l = try host(logits, "logits").floats, c = try host(counts, "counts").floats, lse = try host(logNormaliser, "log-normaliser").floats
        let gr = try host(g, "log-likelihood gradient").floats, dl = try host(dLogits, "logits gradient").floats
        parallelChunks(rows, grain: max(1, (1 << 13) / max(cols, 1))) { range in
            // the documents' lengths first, their chains of double sums side by side
            var lengths = [Double](repeating: 0, count: range.count)
            lengths.withUnsafeMutableBufferPointer {
                VectorMath.rowSums(c + range.lowerBound * cols, into: $0.baseAddress!, rows: range.count, cols: cols)
            }
            for r in range {
                let base = r * cols, z = lse[r]
                let total = Float(lengths[r - range.lowerBound])
                for j in base..<(base + cols) { dl[j] = l[j] - z }
                VectorMath.exp(dl + base, dl + base, count: cols)
                for j in base..<(base + cols) { dl[j] = gr[r] * (c[j] - total * dl[j]) }
            }
        }
    }

    public func gaussianLogDensity(_ x: Buffer, mean: Buffer, logVariance: Buffer, rows: Int, cols: Int, into lp: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(x, "x"), (mean, "mean"), (logVariance, "log-variance")], perRow: [(lp, "log-density output")])
        let xs = try host(x, "x").floats, mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats
        let log2Pi: Float = 1.837_877_066_409_345_3
        rowSums(rows: rows, cols: cols, into: try host(lp, "log-density output").floats) { i in
            let d = xs[i] - mu[i]
            return -0.5 * (log2Pi + lv[i] + d * d * Float.exp(-lv[i]))
        }
    }

    public func gaussianLogDensityBackward(
        _ x: Buffer, mean: Buffer, logVariance: Buffer, gradient g: Buffer, rows: Int, cols: Int,
        intoX dx: Buffer, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer
    ) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(x, "x"), (mean, "mean"), (logVariance, "log-variance"), (dx, "x gradient"),
                                                        (dMean, "mean gradient"), (dLogVariance, "log-variance gradient")],
                      perRow: [(g, "log-density gradient")])
        let xs = try host(x, "x").floats, mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats
        let gr = try host(g, "log-density gradient").floats
        let dxs = try host(dx, "x gradient").floats, dmu = try host(dMean, "mean gradient").floats
        let dlv = try host(dLogVariance, "log-variance gradient").floats
        perElement(rows: rows, cols: cols) { i, r in
            let diff = xs[i] - mu[i], d = diff * Float.exp(-lv[i])
            dxs[i] = -gr[r] * d
            dmu[i] = gr[r] * d
            dlv[i] = gr[r] * 0.5 * (diff * d - 1)
        }
    }
}

/// `out[r] = Σ_j term(r * cols + j)`, accumulated in double.
@inline(__always)
func rowSums(rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>, _ term: (Int) -> Float) {
    parallelChunks(rows, grain: max(1, (1 << 14) / max(cols, 1))) { range in
        for r in range {
            var s = 0.0
            for i in (r * cols)..<(r * cols + cols) { s += Double(term(i)) }
            out[r] = Float(s)
        }
    }
}

/// Calls `body(i, r)` for every element `i` of a `rows × cols` matrix with its row `r`.
@inline(__always)
func perElement(rows: Int, cols: Int, _ body: (Int, Int) -> Void) {
    parallelChunks(rows, grain: max(1, (1 << 15) / max(cols, 1))) { range in
        for r in range {
            for i in (r * cols)..<(r * cols + cols) { body(i, r) }
        }
    }
}
