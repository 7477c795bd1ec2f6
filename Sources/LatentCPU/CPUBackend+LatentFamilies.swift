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

/// Calls `body(first, count, scratch)` for blocks of consecutive segments of `length` floats (rows of categoricals:
/// contiguous in memory) covering all `count` of them, in parallel chunks; `scratch` holds `scratchPerSegment` floats
/// for each segment of a block. Blocks of about 2,048 floats let the exps of many small categoricals run as one
/// vector loop (VectorMath.exp) instead of glibc's scalar expf, one element at a time.
@inline(__always)
private func eachSegmentBlock(_ count: Int, length: Int, scratchPerSegment: Int,
                              _ body: (_ first: Int, _ count: Int, _ scratch: UnsafeMutablePointer<Float>) -> Void) {
    let perBlock = max(1, 2048 / max(length, 1))
    parallelChunks(count, grain: max(1, (1 << 12) / max(length, 1))) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, perBlock * scratchPerSegment)) { scratch in
            var first = range.lowerBound
            while first < range.upperBound {
                let n = min(perBlock, range.upperBound - first)
                body(first, n, scratch.baseAddress!)
                first += n
            }
        }
    }
}

/// For `count` consecutive categoricals of `k` values at `x`: each one's logsumexp into `lse` (max, then
/// max + log Σ exp(x - max), summed in order: logSumExpParts' operations) with exp(x - max) left in `e`.
@inline(__always)
private func blockLogSumExp(_ x: UnsafePointer<Float>, count: Int, k: Int, exps e: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
    for s in 0..<count {
        var m = -Float.infinity
        for j in 0..<k { let v = x[s * k + j]; if v > m || v.isNaN { m = v } }
        lse[s] = m
        for j in 0..<k { e[s * k + j] = x[s * k + j] - m }
    }
    VectorMath.exp(e, e, count: count * k)
    for s in 0..<count {
        var sum: Float = 0
        for j in 0..<k { sum += e[s * k + j] }
        lse[s] += Float.log(sum)
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
        eachSegmentBlock(segments, length: k, scratchPerSegment: k + 1) { first, n, scratch in
            let b = first * k, lse = scratch + n * k
            for i in b..<(b + n * k) { out[i] = (l[i] + g[i]) / temperature }
            blockLogSumExp(out + b, count: n, k: k, exps: scratch, lse: lse)
            for s in 0..<n { for j in 0..<k { out[b + s * k + j] -= lse[s] } }
        }
    }

    public func concreteSampleBackward(sample y: Buffer, gradient dy: Buffer, temperature: Float, segments: Int, categories k: Int,
                                       into dLogits: Buffer) throws {
        try checkRows(rows: segments, cols: k, matrices: [(y, "sample"), (dy, "gradient"), (dLogits, "logits gradient")], perRow: [])
        let ys = try host(y, "sample").floats, g = try host(dy, "gradient").floats, out = try host(dLogits, "logits gradient").floats
        eachSegmentBlock(segments, length: k, scratchPerSegment: k) { first, n, e in
            let b = first * k
            VectorMath.exp(ys + b, e, count: n * k)
            for s in 0..<n {
                var sd: Float = 0
                for j in 0..<k { sd += g[b + s * k + j] }
                for j in 0..<k { out[b + s * k + j] = (g[b + s * k + j] - e[s * k + j] * sd) / temperature }
            }
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

    /// For rows `first ..< first + n` of `groups` categoricals of `k` logits: each categorical's log-probabilities
    /// log π = l - logsumexp(l) into `lp`, π = e^lp into `p` and its KL to the uniform categorical, Σ π (log π + log K),
    /// into `kl` (`scratch` holds (2k + 1) floats per categorical: lp, p, then kl).
    private func categoricalBlock(_ l: UnsafeMutablePointer<Float>, first: Int, rows n: Int, groups: Int, k: Int,
                                  scratch: UnsafeMutablePointer<Float>) -> (lp: UnsafeMutablePointer<Float>, p: UnsafeMutablePointer<Float>, kl: UnsafeMutablePointer<Float>) {
        let count = n * groups, b = first * groups * k
        let lp = scratch, p = scratch + count * k, kl = scratch + 2 * count * k
        blockLogSumExp(l + b, count: count, k: k, exps: p, lse: kl)
        for s in 0..<count { for j in 0..<k { lp[s * k + j] = l[b + s * k + j] - kl[s] } }
        VectorMath.exp(lp, p, count: count * k)
        let logK = Float.log(Float(k))
        for s in 0..<count {
            var total: Float = 0
            for j in 0..<k { total += p[s * k + j] * (lp[s * k + j] + logK) }
            kl[s] = total
        }
        return (lp, p, kl)
    }

    public func categoricalKL(logits: Buffer, rows: Int, groups: Int, categories k: Int, into kl: Buffer) throws {
        try checkRows(rows: rows, cols: groups * k, matrices: [(logits, "logits")], perRow: [(kl, "KL output")])
        let l = try host(logits, "logits").floats, out = try host(kl, "KL output").floats
        eachSegmentBlock(rows, length: groups * k, scratchPerSegment: groups * (2 * k + 1)) { first, n, scratch in
            let parts = categoricalBlock(l, first: first, rows: n, groups: groups, k: k, scratch: scratch)
            for r in 0..<n {
                var total: Float = 0
                for q in 0..<groups { total += parts.kl[r * groups + q] }
                out[first + r] = total
            }
        }
    }

    public func categoricalKLBackward(logits: Buffer, gradient g: Buffer, rows: Int, groups: Int, categories k: Int, into dLogits: Buffer) throws {
        try checkRows(rows: rows, cols: groups * k, matrices: [(logits, "logits"), (dLogits, "logits gradient")], perRow: [(g, "KL gradient")])
        let l = try host(logits, "logits").floats, gr = try host(g, "KL gradient").floats, out = try host(dLogits, "logits gradient").floats
        let logK = Float.log(Float(k))
        eachSegmentBlock(rows, length: groups * k, scratchPerSegment: groups * (2 * k + 1)) { first, n, scratch in
            let parts = categoricalBlock(l, first: first, rows: n, groups: groups, k: k, scratch: scratch)
            let b = first * groups * k
            for r in 0..<n {
                for q in 0..<groups {
                    let s = r * groups + q
                    for j in 0..<k {
                        let i = s * k + j
                        out[b + i] = gr[first + r] * parts.p[i] * (parts.lp[i] + logK - parts.kl[s])
                    }
                }
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
