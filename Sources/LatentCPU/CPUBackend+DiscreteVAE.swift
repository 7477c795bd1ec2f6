// The discrete VAE's ops on the CPU: the specification of Kernels/DiscreteVAE.swift, written in the same order of
// operations (float32, one unit or one row at a time) so the two backends round alike and draw the same chains.

import LatentCore
import RealModule

private typealias SF = SpecialFunctions

extension CPUBackend {
    // MARK: spike-and-exponential

    public func spikeAndExponentialSample(logits: Buffer, uniforms rho: Buffer, beta: Float, count: Int, intoSample zeta: Buffer,
                                          intoIndicator z: Buffer) throws {
        try checkSpikeAndExponential(beta: beta, count: count, [(logits, "logits"), (rho, "uniforms"), (zeta, "sample"), (z, "indicator")])
        let l = try host(logits, "logits").floats, r = try host(rho, "uniforms").floats
        let out = try host(zeta, "sample").floats, ind = try host(z, "indicator").floats
        let em1 = SpikeAndExponential.expm1(beta: beta)
        parallelChunks(count) { range in
            for i in range {
                // s = 1 - ρ is exact for Philox uniforms; z = 1 iff s < q (ρ > 1 - q)
                let q = SF.sigmoid(l[i]), s = 1 - r[i]
                if s < q {
                    let u = (q - s) / q
                    out[i] = Float.log(onePlus: em1 * u) / beta
                    ind[i] = 1
                } else {
                    out[i] = 0
                    ind[i] = 0
                }
            }
        }
    }

    public func spikeAndExponentialSampleBackward(logits: Buffer, uniforms rho: Buffer, beta: Float, gradient dZeta: Buffer, count: Int,
                                                  into dLogits: Buffer) throws {
        try checkSpikeAndExponential(beta: beta, count: count, [(logits, "logits"), (rho, "uniforms"), (dZeta, "gradient"),
                                                                (dLogits, "logits gradient")])
        let l = try host(logits, "logits").floats, r = try host(rho, "uniforms").floats
        let g = try host(dZeta, "gradient").floats, out = try host(dLogits, "logits gradient").floats
        let em1 = SpikeAndExponential.expm1(beta: beta)
        parallelChunks(count) { range in
            for i in range {
                let q = SF.sigmoid(l[i]), s = 1 - r[i]
                if s < q {
                    // dζ/dl = em1 s (1 - q) / (β q (1 + em1 u)); s < q bounds s(1 - q)/q by 1
                    let u = (q - s) / q, p = SF.sigmoid(-l[i])
                    let slope = em1 / (1 + em1 * u)
                    out[i] = g[i] * (slope / beta) * (s * p / q)
                } else {
                    out[i] = 0
                }
            }
        }
    }

    public func indicatorBackward(logits: Buffer, indicator z: Buffer, gradient dz: Buffer, count: Int, into dLogits: Buffer) throws {
        try checkRows(rows: count, cols: 1, matrices: [(logits, "logits"), (z, "indicator"), (dz, "gradient"), (dLogits, "logits gradient")],
                      perRow: [])
        let l = try host(logits, "logits").floats, zs = try host(z, "indicator").floats
        let g = try host(dz, "gradient").floats, out = try host(dLogits, "logits gradient").floats
        parallelChunks(count) { range in
            for i in range { out[i] = g[i] * (1 - zs[i]) * SF.sigmoid(l[i]) }
        }
    }

    // MARK: RBM

    public func rbmGibbsHalfStep(state: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, chains: Int, side: RBMSide,
                                 inverseTemperature t: Float, key: PhiloxKey, counter: PhiloxCounter,
                                 intoProbabilities probabilities: Buffer) throws {
        try checkRBM(shape, rows: chains, state: state, weights: weights, bias: bias)
        let nThis = side == .a ? shape.a : shape.b, nOther = side == .a ? shape.b : shape.a
        try probabilities.check(holds: chains * nThis, "Gibbs probabilities")
        let z = try host(state, "RBM state").floats, w = try host(weights, "RBM weights").floats
        let b = try host(bias, "RBM bias").floats, p = try host(probabilities, "Gibbs probabilities").floats
        let n = shape.units, thisOffset = side == .a ? 0 : shape.a
        // A chain's units summed side by side (see `inputsOfA` / `inputsOfB`), in the kernel's order per unit.
        let transposed = side == .a ? Self.transposed(w, shape: shape) : []
        parallelChunks(chains, grain: max(1, (1 << 12) / max(nThis * nOther, 1))) { range in
            let input = UnsafeMutablePointer<Float>.allocate(capacity: nThis)
            defer { input.deallocate() }
            for c in range {
                let zr = z + c * n, this = zr + thisOffset
                if side == .a {
                    inputsOfA(zr, transposed: transposed, shape, into: input)
                } else {
                    inputsOfB(zr, w, shape, into: input)
                }
                // Unit i draws word i mod 4 of block i / 4 (counter + i / 4), as the kernel does; the blocks come sixteen
                // at a time (`Philox.blocks16`, the same words), 64 units' worth.
                var j = 0
                while j < nThis {
                    let first = (c * nThis + j) / 4
                    let words = Philox.blocks16(counter: counter, first: UInt64(first), key: key)
                    let end = min(nThis, first * 4 + 64 - c * nThis)
                    while j < end {
                        let i = c * nThis + j, lane = i / 4 - first
                        let prob = SF.sigmoid(t * (input[j] + b[thisOffset + j]))
                        p[i] = prob
                        let word = switch i % 4 { case 0: words.0[lane]; case 1: words.1[lane]; case 2: words.2[lane]; default: words.3[lane] }
                        this[j] = Philox.uniform(word) < prob ? 1 : 0
                        j += 1
                    }
                }
            }
        }
    }

    /// Wᵀ (B × A) of the RBM's couplings W (A × B).
    private static func transposed(_ w: UnsafeMutablePointer<Float>, shape: RBMShape) -> [Float] {
        let na = shape.a, nb = shape.b
        var t = [Float](repeating: 0, count: na * nb)
        for k in 0..<nb { for j in 0..<na { t[k * na + j] = w[j * nb + k] } }
        return t
    }

    /// The inputs of a row's A units from its B units, into[i] = Σ_j W_ij z_B[j], each added in the order j = 0, 1, …
    /// as the kernels add it (so the same bits), but computed side by side over i from the rows of Wᵀ, a contiguous
    /// loop that vectorises where the dot product per unit does not.
    private func inputsOfA(_ zr: UnsafeMutablePointer<Float>, transposed wT: [Float], _ shape: RBMShape,
                           into input: UnsafeMutablePointer<Float>) {
        let na = shape.a, nb = shape.b
        input.initialize(repeating: 0, count: na)
        wT.withUnsafeBufferPointer { wT in
            for j in 0..<nb {
                let zj = zr[na + j], row = wT.baseAddress! + j * na
                for i in 0..<na { input[i] += row[i] * zj }
            }
        }
    }

    /// The inputs of a row's B units from its A units, into[j] = Σ_k z_A[k] W_kj in the order k = 0, 1, …, side by
    /// side over j (as `inputsOfA`).
    private func inputsOfB(_ zr: UnsafeMutablePointer<Float>, _ w: UnsafeMutablePointer<Float>, _ shape: RBMShape,
                           into input: UnsafeMutablePointer<Float>) {
        let na = shape.a, nb = shape.b
        input.initialize(repeating: 0, count: nb)
        for k in 0..<na {
            let zk = zr[k], row = w + k * nb
            for j in 0..<nb { input[j] += zk * row[j] }
        }
    }

    public func rbmEnergy(_ z: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, rows: Int, into e: Buffer) throws {
        try checkRBM(shape, rows: rows, state: z, weights: weights, bias: bias)
        try e.check(holds: rows, "RBM energy output")
        let zs = try host(z, "RBM state").floats, w = try host(weights, "RBM weights").floats
        let b = try host(bias, "RBM bias").floats, out = try host(e, "RBM energy output").floats
        let n = shape.units, na = shape.a
        let wT = Self.transposed(w, shape: shape)
        parallelChunks(rows, grain: max(1, (1 << 12) / max(shape.a * shape.b, 1))) { range in
            let t = UnsafeMutablePointer<Float>.allocate(capacity: na)
            defer { t.deallocate() }
            for r in range {
                let zr = zs + r * n
                var lin: Float = 0
                for i in 0..<n { lin += b[i] * zr[i] }
                // z_Aᵀ (W z_B), summed in the kernel's order
                inputsOfA(zr, transposed: wT, shape, into: t)
                var pair: Float = 0
                for i in 0..<na { pair += zr[i] * t[i] }
                out[r] = pair + lin
            }
        }
    }

    public func rbmEnergyBackward(_ z: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, rows: Int, gradient g: Buffer,
                                  intoState dz: Buffer?, intoWeights dW: Buffer?, intoBias db: Buffer?) throws {
        try checkRBM(shape, rows: rows, state: z, weights: weights, bias: bias)
        try g.check(holds: rows, "RBM energy gradient")
        try require((dW == nil) == (db == nil), "RBM energy backward: the weight and bias gradients go together")
        let zs = try host(z, "RBM state").floats, w = try host(weights, "RBM weights").floats
        let b = try host(bias, "RBM bias").floats, gr = try host(g, "RBM energy gradient").floats
        let na = shape.a, nb = shape.b, n = shape.units
        if let dz {
            try dz.check(holds: rows * n, "RBM state gradient")
            let out = try host(dz, "RBM state gradient").floats
            let wT = Self.transposed(w, shape: shape)
            parallelChunks(rows, grain: max(1, (1 << 12) / max(na * nb, 1))) { range in
                let a = UnsafeMutablePointer<Float>.allocate(capacity: n)
                defer { a.deallocate() }
                for r in range {
                    let zr = zs + r * n
                    inputsOfA(zr, transposed: wT, shape, into: a)
                    inputsOfB(zr, w, shape, into: a + na)
                    for u in 0..<n { out[r * n + u] = gr[r] * (b[u] + a[u]) }
                }
            }
        }
        if let dW, let db {
            try dW.check(holds: na * nb, "RBM weight gradient")
            try db.check(holds: n, "RBM bias gradient")
            let ow = try host(dW, "RBM weight gradient").floats, ob = try host(db, "RBM bias gradient").floats
            // Each entry summed over the rows in the order r = 0, 1, … as the kernel sums it, a row of W's entries
            // (and then the bias's) side by side.
            parallelChunks(na + 1, grain: max(1, (1 << 12) / max(rows * nb, 1))) { range in
                for a in range {
                    if a < na {
                        let row = ow + a * nb
                        row.initialize(repeating: 0, count: nb)
                        for r in 0..<rows {
                            let ga = gr[r] * zs[r * n + a], zb = zs + r * n + na
                            for c in 0..<nb { row[c] += ga * zb[c] }
                        }
                    } else {
                        ob.initialize(repeating: 0, count: n)
                        for r in 0..<rows {
                            let g = gr[r], zr = zs + r * n
                            for u in 0..<n { ob[u] += g * zr[u] }
                        }
                    }
                }
            }
        }
    }

    public func rbmFreeEnergyIncrement(state: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, chains: Int, from: Float, to: Float,
                                       accumulatingInto logWeights: Buffer) throws {
        try checkRBM(shape, rows: chains, state: state, weights: weights, bias: bias)
        try logWeights.check(holds: chains, "AIS log-weights")
        let zs = try host(state, "RBM state").floats, w = try host(weights, "RBM weights").floats
        let b = try host(bias, "RBM bias").floats, lw = try host(logWeights, "AIS log-weights").floats
        let na = shape.a, nb = shape.b, n = shape.units
        parallelChunks(chains, grain: max(1, (1 << 12) / max(na * nb, 1))) { range in
            let input = UnsafeMutablePointer<Float>.allocate(capacity: nb)
            defer { input.deallocate() }
            for r in range {
                let zr = zs + r * n
                var lin: Float = 0
                for i in 0..<na { lin += b[i] * zr[i] }
                var d = (to - from) * lin
                inputsOfB(zr, w, shape, into: input)
                for j in 0..<nb {
                    let a = input[j] + b[na + j]
                    d += SF.softplus(to * a) - SF.softplus(from * a)
                }
                lw[r] += d
            }
        }
    }
}
