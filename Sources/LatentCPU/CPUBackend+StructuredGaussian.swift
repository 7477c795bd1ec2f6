// The structured Gaussian posterior ops on the CPU: the specification of Kernels/StructuredGaussian.swift, in the same
// order of operations (float32, one batch row at a time). L's diagonal is exp(-lv/2); every division by it is written
// as a multiplication by σ = exp(lv/2), so that with zero off-diagonals the sample is bit for bit the diagonal
// family's `mean + exp(lv/2) noise`.

import LatentCore
import RealModule

private let log2Pi: Float = 1.837_877_066_409_345_3

/// One batch row's Cholesky factor L of the precision: the log-variances of its diagonal and its strictly-lower non-zeros.
private struct FactorRow {
    let structure: PrecisionStructure
    let logVariance: UnsafeMutablePointer<Float>
    let offDiagonal: UnsafeMutablePointer<Float>

    var n: Int { structure.latentSize }
    /// 1 / L_aa.
    @inline(__always) func sigma(_ a: Int) -> Float { Float.exp(0.5 * logVariance[a]) }
    /// L_aa.
    @inline(__always) func diagonal(_ a: Int) -> Float { Float.exp(-0.5 * logVariance[a]) }
    /// The index of L_aj (firstColumn(a) <= j < a) among the off-diagonals.
    @inline(__always) func index(_ a: Int, _ j: Int) -> Int { structure.rowStart(a) + j - structure.firstColumn(a) }
    @inline(__always) func entry(_ a: Int, _ j: Int) -> Float { offDiagonal[index(a, j)] }
    /// The last row whose band reaches column j: the end of the block after j's.
    @inline(__always) func lastRow(inColumn j: Int) -> Int { min(n, (j / structure.blockSize + 2) * structure.blockSize) - 1 }

    /// v = L⁻ᵀ eps into `v`, by back substitution over the columns of Lᵀ (the rows of L).
    func solveTransposed(_ eps: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>) {
        for a in 0..<n { v[a] = eps[a] }
        for a in stride(from: n - 1, through: 0, by: -1) {
            let va = sigma(a) * v[a]
            v[a] = va
            for j in structure.firstColumn(a)..<a { v[j] -= entry(a, j) * va }
        }
    }

    /// w = L⁻¹ g into `w`, by forward substitution.
    func solve(_ g: UnsafeMutablePointer<Float>, into w: UnsafeMutablePointer<Float>) {
        for a in 0..<n {
            var t = g[a]
            for j in structure.firstColumn(a)..<a { t -= entry(a, j) * w[j] }
            w[a] = t * sigma(a)
        }
    }

    /// (Lᵀ r)_j, gathering column j of L (its rows j...lastRow(j)).
    func transposedProduct(_ r: (Int) -> Float, _ j: Int) -> Float {
        var t = diagonal(j) * r(j)
        if j + 1 <= lastRow(inColumn: j) { for a in (j + 1)...lastRow(inColumn: j) { t += entry(a, j) * r(a) } }
        return t
    }

    // The diagonal block D_r (k < i) and the sub-diagonal block B_r of L.
    @inline(__always) func d(_ r: Int, _ i: Int, _ k: Int) -> Float {
        let c = structure.blockSize
        return offDiagonal[structure.rowStart(r * c + i) + (r > 0 ? c : 0) + k]
    }
    @inline(__always) func b(_ r: Int, _ i: Int, _ k: Int) -> Float { offDiagonal[structure.rowStart(r * structure.blockSize + i) + k] }

    /// tr P⁻¹ = ‖L⁻¹‖²_F = Σ_r tr G_r, with G_r = D_r⁻¹ (I + B_r G_{r-1} B_rᵀ) D_r⁻ᵀ the Gram matrix of L⁻¹'s block row r (the
    /// identity block and B_r times the previous block row touch disjoint columns). Leaves every G_r in `ws`.
    func trace(workspace ws: UnsafeMutablePointer<Float>) -> Float {
        let c = structure.blockSize, cc = c * c, blocks = structure.blocks
        let m = ws + blocks * cc, y = m + cc
        var trace: Float = 0
        for r in 0..<blocks {
            let base = r * c, g = ws + r * cc
            if r == 0 {
                for i in 0..<c { for j in 0..<c { m[i * c + j] = i == j ? 1 : 0 } }
            } else {
                let previous = ws + (r - 1) * cc
                for i in 0..<c { for j in 0..<c {
                    var t: Float = 0
                    for k in 0..<c { t += b(r, i, k) * previous[k * c + j] }
                    y[i * c + j] = t
                } }
                for i in 0..<c { for j in 0..<c {
                    var t: Float = i == j ? 1 : 0
                    for k in 0..<c { t += y[i * c + k] * b(r, j, k) }
                    m[i * c + j] = t
                } }
            }
            for j in 0..<c { for i in 0..<c {  // y = D⁻¹ m
                var t = m[i * c + j]
                for k in 0..<i { t -= d(r, i, k) * y[k * c + j] }
                y[i * c + j] = t * sigma(base + i)
            } }
            for j in 0..<c { for i in 0..<c {  // G = D⁻¹ yᵀ
                var t = y[j * c + i]
                for k in 0..<i { t -= d(r, i, k) * g[k * c + j] }
                g[i * c + j] = t * sigma(base + i)
            } }
            for i in 0..<c { trace += g[i * c + i] }
        }
        return trace
    }

    /// The adjoint of ``trace(workspace:)`` (after it, with the G_r in `ws`), scaled by `scale`: D̄_r = -2 D_r⁻ᵀ Ḡ_r G_r,
    /// B̄_r = 2 M̄_r B_r G_{r-1}, M̄_r = D_r⁻ᵀ Ḡ_r D_r⁻¹, Ḡ_r = I + B_{r+1}ᵀ M̄_{r+1} B_{r+1}. The off-diagonal adjoints go to
    /// `dOff`; the diagonal's, D̄_aa, are returned through `diagonalAdjoint(a, D̄_aa)`.
    func traceBackward(workspace ws: UnsafeMutablePointer<Float>, scale: Float, dOff: UnsafeMutablePointer<Float>,
                       diagonalAdjoint: (Int, Float) -> Void) {
        let c = structure.blockSize, cc = c * c, blocks = structure.blocks
        let gbar = ws + blocks * cc, mbar = gbar + cc, x = mbar + cc, t = x + cc
        for r in stride(from: blocks - 1, through: 0, by: -1) {
            let base = r * c, g = ws + r * cc
            if r < blocks - 1 {  // Ḡ = I + Bᵀ M̄ B with the next block's B and M̄
                for i in 0..<c { for j in 0..<c {
                    var s: Float = 0
                    for k in 0..<c { s += mbar[i * c + k] * b(r + 1, k, j) }
                    t[i * c + j] = s
                } }
                for i in 0..<c { for j in 0..<c {
                    var s: Float = i == j ? 1 : 0
                    for k in 0..<c { s += b(r + 1, k, i) * t[k * c + j] }
                    gbar[i * c + j] = s
                } }
            } else {
                for i in 0..<c { for j in 0..<c { gbar[i * c + j] = i == j ? 1 : 0 } }
            }
            for j in 0..<c { for i in stride(from: c - 1, through: 0, by: -1) {  // x = D⁻ᵀ Ḡ
                var s = gbar[i * c + j]
                for k in (i + 1)..<c { s -= d(r, k, i) * x[k * c + j] }
                x[i * c + j] = s * sigma(base + i)
            } }
            for j in 0..<c { for i in stride(from: c - 1, through: 0, by: -1) {  // M̄ = D⁻ᵀ xᵀ
                var s = x[j * c + i]
                for k in (i + 1)..<c { s -= d(r, k, i) * mbar[k * c + j] }
                mbar[i * c + j] = s * sigma(base + i)
            } }
            for i in 0..<c { for j in 0...i {  // D̄ = -2 x G
                var s: Float = 0
                for k in 0..<c { s += x[i * c + k] * g[k * c + j] }
                let adjoint = -2 * s
                if j == i { diagonalAdjoint(base + i, adjoint) } else { dOff[index(base + i, base + j)] = scale * adjoint }
            } }
            if r > 0 {  // B̄ = 2 M̄ B G_{r-1}
                let previous = ws + (r - 1) * cc
                for i in 0..<c { for j in 0..<c {
                    var s: Float = 0
                    for k in 0..<c { s += b(r, i, k) * previous[k * c + j] }
                    t[i * c + j] = s
                } }
                for i in 0..<c { for j in 0..<c {
                    var s: Float = 0
                    for k in 0..<c { s += mbar[i * c + k] * t[k * c + j] }
                    dOff[index(base + i, base - c + j)] = scale * 2 * s
                } }
            }
        }
    }
}

extension CPUBackend {
    /// Calls `body(row, workspace)` for each batch row in parallel chunks, each chunk with its own workspace of `floats`.
    private func eachFactorRow(_ rows: Int, workspace floats: Int, _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        parallelChunks(rows, grain: 64) { range in
            let ws = UnsafeMutablePointer<Float>.allocate(capacity: max(floats, 1))
            defer { ws.deallocate() }
            for r in range { body(r, ws) }
        }
    }

    private func factor(_ s: PrecisionStructure, _ lv: UnsafeMutablePointer<Float>, _ off: UnsafeMutablePointer<Float>, row r: Int) -> FactorRow {
        FactorRow(structure: s, logVariance: lv + r * s.latentSize, offDiagonal: off + r * s.offDiagonalCount)
    }

    public func structuredGaussianSample(_ s: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer, noise: Buffer,
                                         rows: Int, into z: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(mean, "mean"), (logVariance, "log-variance"), (noise, "noise"), (z, "sample")],
                            offDiagonal: [(offDiagonal, "off-diagonals")])
        let mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats, off = try host(offDiagonal, "off-diagonals").floats
        let eps = try host(noise, "noise").floats, out = try host(z, "sample").floats
        let n = s.latentSize
        eachFactorRow(rows, workspace: 0) { r, _ in
            let o = r * n
            factor(s, lv, off, row: r).solveTransposed(eps + o, into: out + o)
            for a in 0..<n { out[o + a] = mu[o + a] + out[o + a] }
        }
    }

    public func structuredGaussianSampleBackward(_ s: PrecisionStructure, logVariance: Buffer, offDiagonal: Buffer, noise: Buffer,
                                                 gradient dz: Buffer, rows: Int, intoLogVariance dLogVariance: Buffer,
                                                 intoOffDiagonal dOffDiagonal: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(logVariance, "log-variance"), (noise, "noise"), (dz, "gradient"), (dLogVariance, "log-variance gradient")],
                            offDiagonal: [(offDiagonal, "off-diagonals"), (dOffDiagonal, "off-diagonal gradient")])
        let lv = try host(logVariance, "log-variance").floats, off = try host(offDiagonal, "off-diagonals").floats
        let eps = try host(noise, "noise").floats, g = try host(dz, "gradient").floats
        let outLv = try host(dLogVariance, "log-variance gradient").floats, outOff = try host(dOffDiagonal, "off-diagonal gradient").floats
        let n = s.latentSize, m = s.offDiagonalCount
        eachFactorRow(rows, workspace: s.vectorWorkspace) { r, ws in
            let f = factor(s, lv, off, row: r), o = r * n, v = ws, w = ws + n
            f.solveTransposed(eps + o, into: v)
            f.solve(g + o, into: w)
            for a in 0..<n {
                for j in s.firstColumn(a)..<a { outOff[r * m + f.index(a, j)] = -v[a] * w[j] }
                outLv[o + a] = 0.5 * v[a] * w[a] * f.diagonal(a)  // -v_a w_a · dL_aa/dlv_a, dL_aa/dlv_a = -L_aa / 2
            }
        }
    }

    public func structuredGaussianKL(_ s: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer, rows: Int,
                                     into kl: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(mean, "mean"), (logVariance, "log-variance")], offDiagonal: [(offDiagonal, "off-diagonals")],
                            perRow: [(kl, "KL output")])
        let mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats, off = try host(offDiagonal, "off-diagonals").floats
        let out = try host(kl, "KL output").floats
        let n = s.latentSize
        eachFactorRow(rows, workspace: s.klWorkspace) { r, ws in
            let trace = factor(s, lv, off, row: r).trace(workspace: ws)
            var rest: Float = 0
            for a in 0..<n { rest += mu[r * n + a] * mu[r * n + a] - lv[r * n + a] }
            out[r] = 0.5 * (trace + rest - Float(n))
        }
    }

    public func structuredGaussianKLBackward(_ s: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer,
                                             gradient g: Buffer, rows: Int, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer,
                                             intoOffDiagonal dOffDiagonal: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(mean, "mean"), (logVariance, "log-variance"), (dMean, "mean gradient"),
                                                    (dLogVariance, "log-variance gradient")],
                            offDiagonal: [(offDiagonal, "off-diagonals"), (dOffDiagonal, "off-diagonal gradient")], perRow: [(g, "KL gradient")])
        let mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats, off = try host(offDiagonal, "off-diagonals").floats
        let gr = try host(g, "KL gradient").floats, outMu = try host(dMean, "mean gradient").floats
        let outLv = try host(dLogVariance, "log-variance gradient").floats, outOff = try host(dOffDiagonal, "off-diagonal gradient").floats
        let n = s.latentSize, m = s.offDiagonalCount
        eachFactorRow(rows, workspace: s.klWorkspace) { r, ws in
            let f = factor(s, lv, off, row: r), half = 0.5 * gr[r]
            _ = f.trace(workspace: ws)
            // KL = ½ (T + μᵀμ - n - Σ lv): dlv_a = ½ g (D̄_aa dL_aa/dlv_a - 1) with dL_aa/dlv_a = -L_aa / 2
            f.traceBackward(workspace: ws, scale: half, dOff: outOff + r * m) { a, adjoint in
                outLv[r * n + a] = half * (adjoint * (-0.5 * f.diagonal(a)) - 1)
            }
            for a in 0..<n { outMu[r * n + a] = gr[r] * mu[r * n + a] }
        }
    }

    public func structuredGaussianLogDensity(_ s: PrecisionStructure, _ z: Buffer, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer,
                                             rows: Int, into lp: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(z, "sample"), (mean, "mean"), (logVariance, "log-variance")],
                            offDiagonal: [(offDiagonal, "off-diagonals")], perRow: [(lp, "log-density output")])
        let zs = try host(z, "sample").floats, mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats
        let off = try host(offDiagonal, "off-diagonals").floats, out = try host(lp, "log-density output").floats
        let n = s.latentSize
        eachFactorRow(rows, workspace: 0) { r, _ in
            let f = factor(s, lv, off, row: r), o = r * n
            var total: Float = 0
            for j in 0..<n {
                let u = f.transposedProduct({ zs[o + $0] - mu[o + $0] }, j)
                total += log2Pi + lv[o + j] + u * u
            }
            out[r] = -0.5 * total
        }
    }

    public func structuredGaussianLogDensityBackward(_ s: PrecisionStructure, _ z: Buffer, mean: Buffer, logVariance: Buffer,
                                                     offDiagonal: Buffer, gradient g: Buffer, rows: Int, intoSample dz: Buffer,
                                                     intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer,
                                                     intoOffDiagonal dOffDiagonal: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(z, "sample"), (mean, "mean"), (logVariance, "log-variance"), (dz, "sample gradient"),
                                                    (dMean, "mean gradient"), (dLogVariance, "log-variance gradient")],
                            offDiagonal: [(offDiagonal, "off-diagonals"), (dOffDiagonal, "off-diagonal gradient")], perRow: [(g, "log-density gradient")])
        let zs = try host(z, "sample").floats, mu = try host(mean, "mean").floats, lv = try host(logVariance, "log-variance").floats
        let off = try host(offDiagonal, "off-diagonals").floats, gr = try host(g, "log-density gradient").floats
        let outZ = try host(dz, "sample gradient").floats, outMu = try host(dMean, "mean gradient").floats
        let outLv = try host(dLogVariance, "log-variance gradient").floats, outOff = try host(dOffDiagonal, "off-diagonal gradient").floats
        let n = s.latentSize, m = s.offDiagonalCount
        eachFactorRow(rows, workspace: s.vectorWorkspace) { r, u in
            let f = factor(s, lv, off, row: r), o = r * n, gRow = gr[r]
            let residual = { (a: Int) -> Float in zs[o + a] - mu[o + a] }
            for j in 0..<n { u[j] = f.transposedProduct(residual, j) }
            // f = -½‖u‖², u = Lᵀ(z - μ): dz = -g L u, dL_aj = -g (z - μ)_a u_j on L's pattern
            for a in 0..<n {
                let ra = residual(a)
                var t = f.diagonal(a) * u[a]
                for j in s.firstColumn(a)..<a {
                    t += f.entry(a, j) * u[j]
                    outOff[r * m + f.index(a, j)] = -gRow * ra * u[j]
                }
                outZ[o + a] = -gRow * t
                outMu[o + a] = gRow * t
                outLv[o + a] = gRow * (-0.5 + 0.5 * ra * u[a] * f.diagonal(a))
            }
        }
    }
}
