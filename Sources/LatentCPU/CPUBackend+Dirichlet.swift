// The fused Dirichlet ops on the CPU (paper 000): the specification of the `families_dirichlet_*` kernels in
// Kernels/LatentFamilies.swift, one row of K components at a time, in the kernels' order of operations.

import LatentCore
import RealModule

private typealias SF = SpecialFunctions

/// Calls `body(r)` for each row, in parallel chunks.
@inline(__always)
private func eachRow(_ rows: Int, _ k: Int, _ body: (Int) -> Void) {
    parallelChunks(rows, grain: max(1, (1 << 11) / max(k, 1))) { range in
        for r in range { body(r) }
    }
}

/// The Laplace approximation of one row: the mean of log α and Σ 1/α, from which each logit's mean and variance follow.
private struct LaplaceRow {
    let k: Float, meanLog: Float, sumInverse: Float

    init(_ a: UnsafeMutablePointer<Float>, _ b: Int, _ k: Int) {
        var sl: Float = 0, si: Float = 0
        for j in 0..<k { sl += Float.log(a[b + j]); si += 1 / a[b + j] }
        self.k = Float(k)
        meanLog = sl / Float(k)
        sumInverse = si
    }

    func mean(_ a: Float) -> Float { Float.log(a) - meanLog }
    func variance(_ a: Float) -> Float { (1 / a) * (1 - 2 / k) + sumInverse / (k * k) }

    /// The chain rule from A_j = ∂L/∂mean_j and B_j = ∂L/∂var_j to α: `parts(j)` gives (A_j, B_j) and `write(j, A_j, dα_j)`
    /// receives the result. dα_i = (A_i - ΣA/K)/α_i - ((1 - 2/K) B_i + ΣB/K²)/α_i².
    func backward(_ a: UnsafeMutablePointer<Float>, _ b: Int, parts: (Int, Float, Float) -> (Float, Float), write: (Int, Float, Float) -> Void) {
        let n = Int(k)
        var sa: Float = 0, sb: Float = 0
        for j in 0..<n {
            let p = parts(j, mean(a[b + j]), variance(a[b + j]))
            sa += p.0
            sb += p.1
        }
        for j in 0..<n {
            let aj = a[b + j], p = parts(j, mean(aj), variance(aj))
            write(j, p.0, (p.0 - sa / k) / aj - ((1 - 2 / k) * p.1 + sb / (k * k)) / (aj * aj))
        }
    }
}

/// Σ 1/d, Σ r²/d, Σ r/d and Σ log d over the first K-1 logits of the Aitchison-Shen approximation.
private func aitchisonSums(_ a: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ b: Int, _ k: Int)
    -> (s1: Float, s2: Float, s3: Float, logDiagonal: Float)
{
    let psiK = SF.digamma(a[b + k - 1])
    var s1: Float = 0, s2: Float = 0, s3: Float = 0, sl: Float = 0
    for j in 0..<(k - 1) {
        let d = SF.trigamma(a[b + j]), r = y[b + j] - (SF.digamma(a[b + j]) - psiK)
        s1 += 1 / d
        s2 += r * r / d
        s3 += r / d
        sl += Float.log(d)
    }
    return (s1, s2, s3, sl)
}

private let log2Pi: Float = 1.837_877_066_409_345_3

extension CPUBackend {
    public func dirichletSample(_ approximation: LogisticNormal, alpha: Buffer, noise: Buffer, rows: Int, components k: Int, into y: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(alpha, "alpha"), (noise, "noise"), (y, "logits")], perRow: [])
        try require(k >= 2, "a Dirichlet needs at least 2 components, got \(k)")
        let a = try host(alpha, "alpha").floats, eps = try host(noise, "noise").floats, out = try host(y, "logits").floats
        eachRow(rows, k) { r in
            let b = r * k
            switch approximation {
            case .laplace:
                let row = LaplaceRow(a, b, k)
                for j in 0..<k { out[b + j] = row.mean(a[b + j]) + row.variance(a[b + j]).squareRoot() * eps[b + j] }
            case .aitchisonShen:
                let aK = a[b + k - 1], psiK = SF.digamma(aK), shared = SF.trigamma(aK).squareRoot() * eps[b + k - 1]
                for j in 0..<(k - 1) { out[b + j] = (SF.digamma(a[b + j]) - psiK) + SF.trigamma(a[b + j]).squareRoot() * eps[b + j] - shared }
                out[b + k - 1] = 0
            }
        }
    }

    public func dirichletSampleBackward(_ approximation: LogisticNormal, alpha: Buffer, noise: Buffer, gradient dy: Buffer, rows: Int,
                                        components k: Int, into dAlpha: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(alpha, "alpha"), (noise, "noise"), (dy, "logits gradient"), (dAlpha, "alpha gradient")], perRow: [])
        try require(k >= 2, "a Dirichlet needs at least 2 components, got \(k)")
        let a = try host(alpha, "alpha").floats, eps = try host(noise, "noise").floats
        let g = try host(dy, "logits gradient").floats, out = try host(dAlpha, "alpha gradient").floats
        eachRow(rows, k) { r in
            let b = r * k
            switch approximation {
            case .laplace:
                LaplaceRow(a, b, k).backward(a, b, parts: { j, _, v in (g[b + j], g[b + j] * eps[b + j] * 0.5 / v.squareRoot()) },
                                             write: { j, _, d in out[b + j] = d })
            case .aitchisonShen:
                var sum: Float = 0
                for j in 0..<(k - 1) {
                    let aj = a[b + j], t1 = SF.trigamma(aj)
                    out[b + j] = g[b + j] * (t1 + eps[b + j] * SF.tetragamma(aj) * 0.5 / t1.squareRoot())
                    sum += g[b + j]
                }
                let aK = a[b + k - 1], t1K = SF.trigamma(aK)
                out[b + k - 1] = -sum * (t1K + eps[b + k - 1] * SF.tetragamma(aK) * 0.5 / t1K.squareRoot())
            }
        }
    }

    public func dirichletApproximationLogDensity(_ approximation: LogisticNormal, logits y: Buffer, alpha: Buffer, rows: Int, components k: Int,
                                                 into lp: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(y, "logits"), (alpha, "alpha")], perRow: [(lp, "log-density output")])
        try require(k >= 2, "a Dirichlet needs at least 2 components, got \(k)")
        let ys = try host(y, "logits").floats, a = try host(alpha, "alpha").floats, out = try host(lp, "log-density output").floats
        eachRow(rows, k) { r in
            let b = r * k
            switch approximation {
            case .laplace:
                let row = LaplaceRow(a, b, k)
                var s: Float = 0
                for j in 0..<k {
                    let v = row.variance(a[b + j]), d = ys[b + j] - row.mean(a[b + j])
                    s += -0.5 * (log2Pi + Float.log(v) + d * d / v)
                }
                out[r] = s
            case .aitchisonShen:
                let s = aitchisonSums(a, ys, b, k)
                let c = SF.trigamma(a[b + k - 1]), u = 1 + c * s.s1
                out[r] = -0.5 * (Float(k - 1) * log2Pi + s.logDiagonal + Float.log(u) + s.s2 - c * s.s3 * s.s3 / u)
            }
        }
    }

    public func dirichletApproximationLogDensityBackward(_ approximation: LogisticNormal, logits y: Buffer, alpha: Buffer, gradient g: Buffer,
                                                         rows: Int, components k: Int, intoLogits dy: Buffer, intoAlpha dAlpha: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(y, "logits"), (alpha, "alpha"), (dy, "logits gradient"), (dAlpha, "alpha gradient")],
                      perRow: [(g, "log-density gradient")])
        try require(k >= 2, "a Dirichlet needs at least 2 components, got \(k)")
        let ys = try host(y, "logits").floats, a = try host(alpha, "alpha").floats, gr = try host(g, "log-density gradient").floats
        let dys = try host(dy, "logits gradient").floats, da = try host(dAlpha, "alpha gradient").floats
        eachRow(rows, k) { r in
            let b = r * k
            switch approximation {
            case .laplace:
                LaplaceRow(a, b, k).backward(a, b, parts: { j, m, v in
                    let c = (ys[b + j] - m) / v
                    return (gr[r] * c, gr[r] * 0.5 * (c * c - 1 / v))
                }, write: { j, partial, d in
                    da[b + j] = d
                    dys[b + j] = -partial
                })
            case .aitchisonShen:
                let s = aitchisonSums(a, ys, b, k)
                let aK = a[b + k - 1], psiK = SF.digamma(aK), c = SF.trigamma(aK), u = 1 + c * s.s1
                var sq: Float = 0
                for j in 0..<(k - 1) {
                    let aj = a[b + j], d = SF.trigamma(aj), rj = ys[b + j] - (SF.digamma(aj) - psiK)
                    let q = (rj - c * s.s3 / u) / d
                    let dd = 0.5 * (q * q - 1 / d + c / (u * d * d))
                    dys[b + j] = -gr[r] * q
                    da[b + j] = gr[r] * (q * d + dd * SF.tetragamma(aj))
                    sq += q
                }
                let dc = -0.5 * (s.s1 / u - s.s3 * s.s3 / (u * u))
                dys[b + k - 1] = 0
                da[b + k - 1] = gr[r] * (-sq * c + dc * SF.tetragamma(aK))
            }
        }
    }

    public func dirichletKL(alpha: Buffer, priorConcentration beta: Float, rows: Int, components k: Int, into kl: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(alpha, "alpha")], perRow: [(kl, "KL output")])
        let a = try host(alpha, "alpha").floats, out = try host(kl, "KL output").floats
        let constant = FamilyConstants.dirichletPrior(components: k, concentration: beta)
        eachRow(rows, k) { r in
            let b = r * k
            var a0: Float = 0, lg: Float = 0
            for j in 0..<k { a0 += a[b + j]; lg += SF.logGamma(a[b + j]) }
            let psi0 = SF.digamma(a0)
            var cross: Float = 0
            for j in 0..<k { cross += (a[b + j] - beta) * (SF.digamma(a[b + j]) - psi0) }
            out[r] = (SF.logGamma(a0) - lg) + (cross + constant)
        }
    }

    public func dirichletKLBackward(alpha: Buffer, priorConcentration beta: Float, gradient g: Buffer, rows: Int, components k: Int,
                                    into dAlpha: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(alpha, "alpha"), (dAlpha, "alpha gradient")], perRow: [(g, "KL gradient")])
        let a = try host(alpha, "alpha").floats, gr = try host(g, "KL gradient").floats, out = try host(dAlpha, "alpha gradient").floats
        eachRow(rows, k) { r in
            let b = r * k
            var a0: Float = 0
            for j in 0..<k { a0 += a[b + j] }
            let common = (a0 - Float(k) * beta) * SF.trigamma(a0)
            for j in 0..<k { out[b + j] = gr[r] * ((a[b + j] - beta) * SF.trigamma(a[b + j]) - common) }
        }
    }

    public func dirichletLogDensity(_ z: Buffer, alpha: Buffer, rows: Int, components k: Int, into lp: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(z, "sample"), (alpha, "alpha")], perRow: [(lp, "log-density output")])
        let zs = try host(z, "sample").floats, a = try host(alpha, "alpha").floats, out = try host(lp, "log-density output").floats
        eachRow(rows, k) { r in
            let b = r * k
            var a0: Float = 0, lg: Float = 0, s: Float = 0
            for j in 0..<k { a0 += a[b + j]; lg += SF.logGamma(a[b + j]); s += (a[b + j] - 1) * Float.log(zs[b + j]) }
            out[r] = (SF.logGamma(a0) - lg) + s
        }
    }

    public func dirichletLogDensityBackward(_ z: Buffer, alpha: Buffer, gradient g: Buffer, rows: Int, components k: Int,
                                            intoSample dz: Buffer, intoAlpha dAlpha: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(z, "sample"), (alpha, "alpha"), (dz, "sample gradient"), (dAlpha, "alpha gradient")],
                      perRow: [(g, "log-density gradient")])
        let zs = try host(z, "sample").floats, a = try host(alpha, "alpha").floats, gr = try host(g, "log-density gradient").floats
        let dzs = try host(dz, "sample gradient").floats, da = try host(dAlpha, "alpha gradient").floats
        eachRow(rows, k) { r in
            let b = r * k
            var a0: Float = 0
            for j in 0..<k { a0 += a[b + j] }
            let psi0 = SF.digamma(a0)
            for j in 0..<k {
                dzs[b + j] = gr[r] * (a[b + j] - 1) / zs[b + j]
                da[b + j] = gr[r] * (psi0 - SF.digamma(a[b + j]) + Float.log(zs[b + j]))
            }
        }
    }
}
