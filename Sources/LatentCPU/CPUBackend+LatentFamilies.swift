// The fused latent-family ops on the CPU: the specification of Kernels/LatentFamilies.swift, written in the same
// order of operations (float32, one segment or row at a time) so the two backends round alike.

import LatentCore
import RealModule

private typealias SF = SpecialFunctions

/// Calls `body(s)` for each of `count` segments (categoricals, Dirichlet rows), in parallel chunks.
@inline(__always)
private func eachSegment(_ count: Int, length: Int, _ body: (Int) -> Void) {
    parallelChunks(count, grain: max(1, (1 << 12) / max(length, 1))) { range in
        for s in range { body(s) }
    }
}

/// Max and Σ exp(t - max) of `t(j)` for `j < k`.
@inline(__always)
private func logSumExpParts(_ k: Int, _ t: (Int) -> Float) -> (max: Float, sum: Float) {
    var m = -Float.infinity
    for j in 0..<k { let v = t(j); if v > m || v.isNaN { m = v } }
    var e: Float = 0
    for j in 0..<k { e += Float.exp(t(j) - m) }
    return (m, e)
}

extension CPUBackend {
    // MARK: Concrete

    public func concreteSample(logits: Buffer, gumbel: Buffer, temperature: Float, segments: Int, categories k: Int, into y: Buffer) throws {
        try checkRows(rows: segments, cols: k, matrices: [(logits, "logits"), (gumbel, "gumbel noise"), (y, "sample")], perRow: [])
        let l = try host(logits, "logits").floats, g = try host(gumbel, "gumbel noise").floats, out = try host(y, "sample").floats
        eachSegment(segments, length: k) { s in
            let b = s * k
            for j in 0..<k { out[b + j] = (l[b + j] + g[b + j]) / temperature }
            let (m, e) = logSumExpParts(k) { out[b + $0] }
            let lse = m + Float.log(e)
            for j in 0..<k { out[b + j] -= lse }
        }
    }

    public func concreteSampleBackward(sample y: Buffer, gradient dy: Buffer, temperature: Float, segments: Int, categories k: Int,
                                       into dLogits: Buffer) throws {
        try checkRows(rows: segments, cols: k, matrices: [(y, "sample"), (dy, "gradient"), (dLogits, "logits gradient")], perRow: [])
        let ys = try host(y, "sample").floats, g = try host(dy, "gradient").floats, out = try host(dLogits, "logits gradient").floats
        eachSegment(segments, length: k) { s in
            let b = s * k
            var sd: Float = 0
            for j in 0..<k { sd += g[b + j] }
            for j in 0..<k { out[b + j] = (g[b + j] - Float.exp(ys[b + j]) * sd) / temperature }
        }
    }

    public func concreteLogDensity(sample y: Buffer, logits: Buffer?, temperature lambda: Float, rows: Int, groups: Int, categories k: Int,
                                   into lp: Buffer) throws {
        try checkRows(rows: rows, cols: groups * k, matrices: [(y, "sample")] + (logits.map { [($0, "logits")] } ?? []), perRow: [(lp, "log-density output")])
        let ys = try host(y, "sample").floats, a = try logits.map { try host($0, "logits").floats }, out = try host(lp, "log-density output").floats
        let constant = FamilyConstants.expConcrete(categories: k, temperature: lambda)
        eachSegment(rows, length: groups * k) { r in
            var total: Float = 0
            for q in 0..<groups {
                let b = (r * groups + q) * k
                let t = { (j: Int) -> Float in (a?[b + j] ?? 0) - lambda * ys[b + j] }
                let (m, e) = logSumExpParts(k, t)
                var st: Float = 0
                for j in 0..<k { st += t(j) }
                total += constant + st - Float(k) * (m + Float.log(e))
            }
            out[r] = total
        }
    }

    public func concreteLogDensityBackward(sample y: Buffer, logits: Buffer?, temperature lambda: Float, gradient g: Buffer, rows: Int,
                                           groups: Int, categories k: Int, intoSample dy: Buffer, intoLogits dLogits: Buffer?) throws {
        try checkConcreteLogDensityBackward(sample: y, logits: logits, gradient: g, rows: rows, groups: groups, categories: k,
                                            intoSample: dy, intoLogits: dLogits)
        let ys = try host(y, "sample").floats, a = try logits.map { try host($0, "logits").floats }, gr = try host(g, "log-density gradient").floats
        let outY = try host(dy, "sample gradient").floats, outA = try dLogits.map { try host($0, "logits gradient").floats }
        eachSegment(rows, length: groups * k) { r in
            for q in 0..<groups {
                let b = (r * groups + q) * k
                let t = { (j: Int) -> Float in (a?[b + j] ?? 0) - lambda * ys[b + j] }
                let (m, e) = logSumExpParts(k, t)
                for j in 0..<k {
                    let w = Float.exp(t(j) - m) / e, dt = gr[r] * (1 - Float(k) * w)
                    outA?[b + j] = dt
                    outY[b + j] = -lambda * dt
                }
            }
        }
    }

    /// logsumexp of one categorical's logits and its KL to the uniform categorical, Σ π (log π + log K).
    private func categoricalParts(_ l: UnsafeMutablePointer<Float>, _ b: Int, _ k: Int) -> (lse: Float, kl: Float) {
        let (m, e) = logSumExpParts(k) { l[b + $0] }
        let lse = m + Float.log(e), logK = Float.log(Float(k))
        var kl: Float = 0
        for j in 0..<k { let lp = l[b + j] - lse; kl += Float.exp(lp) * (lp + logK) }
        return (lse, kl)
    }

    public func categoricalKL(logits: Buffer, rows: Int, groups: Int, categories k: Int, into kl: Buffer) throws {
        try checkRows(rows: rows, cols: groups * k, matrices: [(logits, "logits")], perRow: [(kl, "KL output")])
        let l = try host(logits, "logits").floats, out = try host(kl, "KL output").floats
        eachSegment(rows, length: groups * k) { r in
            var total: Float = 0
            for q in 0..<groups { total += categoricalParts(l, (r * groups + q) * k, k).kl }
            out[r] = total
        }
    }

    public func categoricalKLBackward(logits: Buffer, gradient g: Buffer, rows: Int, groups: Int, categories k: Int, into dLogits: Buffer) throws {
        try checkRows(rows: rows, cols: groups * k, matrices: [(logits, "logits"), (dLogits, "logits gradient")], perRow: [(g, "KL gradient")])
        let l = try host(logits, "logits").floats, gr = try host(g, "KL gradient").floats, out = try host(dLogits, "logits gradient").floats
        let logK = Float.log(Float(k))
        eachSegment(rows, length: groups * k) { r in
            for q in 0..<groups {
                let b = (r * groups + q) * k
                let (lse, kl) = categoricalParts(l, b, k)
                for j in 0..<k { let lp = l[b + j] - lse; out[b + j] = gr[r] * Float.exp(lp) * (lp + logK - kl) }
            }
        }
    }

    // MARK: logit-normal

    public func logitNormalSample(mean: Buffer, logVariance: Buffer, noise: Buffer, intoLogit y: Buffer, intoSample z: Buffer, count: Int) throws {
        try checkRows(rows: count, cols: 1, matrices: [(mean, "mean"), (logVariance, "log-variance"), (noise, "noise"), (y, "logit"), (z, "sample")],
                      perRow: [])
        let mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats, eps = try host(noise, "noise").floats
        let ys = try host(y, "logit").floats, zs = try host(z, "sample").floats
        parallelChunks(count) { range in
            for i in range {
                let v = mu[i] + Float.exp(0.5 * lv[i]) * eps[i]
                ys[i] = v
                zs[i] = SF.sigmoid(v)
            }
        }
    }

    public func logitNormalSampleBackward(logVariance: Buffer, noise: Buffer, logit y: Buffer, gradient dz: Buffer, count: Int,
                                          intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer) throws {
        try checkRows(rows: count, cols: 1, matrices: [(logVariance, "log-variance"), (noise, "noise"), (y, "logit"), (dz, "gradient"),
                                                       (dMean, "mean gradient"), (dLogVariance, "log-variance gradient")], perRow: [])
        let lv = try host(logVariance, "log-variance").floats, eps = try host(noise, "noise").floats, ys = try host(y, "logit").floats
        let g = try host(dz, "gradient").floats, dmu = try host(dMean, "mean gradient").floats, dlv = try host(dLogVariance, "log-variance gradient").floats
        parallelChunks(count) { range in
            for i in range {
                let s = g[i] * SF.sigmoid(ys[i]) * SF.sigmoid(-ys[i])
                dmu[i] = s
                dlv[i] = s * eps[i] * 0.5 * Float.exp(0.5 * lv[i])
            }
        }
    }

    public func logitNormalLogDensity(logit y: Buffer, mean: Buffer, logVariance: Buffer, rows: Int, cols: Int, into lp: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(y, "logit"), (mean, "mean"), (logVariance, "log-variance")], perRow: [(lp, "log-density output")])
        let ys = try host(y, "logit").floats, mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats
        let out = try host(lp, "log-density output").floats
        let log2Pi: Float = 1.837_877_066_409_345_3
        eachSegment(rows, length: cols) { r in
            var s: Float = 0
            for i in (r * cols)..<(r * cols + cols) {
                let d = ys[i] - mu[i]
                s += -0.5 * (log2Pi + lv[i] + d * d * Float.exp(-lv[i])) + SF.softplus(ys[i]) + SF.softplus(-ys[i])
            }
            out[r] = s
        }
    }

    public func logitNormalLogDensityBackward(logit y: Buffer, mean: Buffer, logVariance: Buffer, gradient g: Buffer, rows: Int, cols: Int,
                                              intoLogit dy: Buffer, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(y, "logit"), (mean, "mean"), (logVariance, "log-variance"), (dy, "logit gradient"),
                                                        (dMean, "mean gradient"), (dLogVariance, "log-variance gradient")],
                      perRow: [(g, "log-density gradient")])
        let ys = try host(y, "logit").floats, mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats
        let gr = try host(g, "log-density gradient").floats, dys = try host(dy, "logit gradient").floats
        let dmu = try host(dMean, "mean gradient").floats, dlv = try host(dLogVariance, "log-variance gradient").floats
        perElement(rows: rows, cols: cols) { i, r in
            let diff = ys[i] - mu[i], d = diff * Float.exp(-lv[i])
            dys[i] = gr[r] * (Float.tanh(0.5 * ys[i]) - d)
            dmu[i] = gr[r] * d
            dlv[i] = gr[r] * 0.5 * (diff * d - 1)
        }
    }
}
