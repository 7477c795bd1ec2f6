// The CPU backend's array loops for exp, softplus, sigmoid and Gumbel noise (C, Sources/CVectorMath, one build per instruction set)
// against the Swift lanes they copy (Sources/LatentCPU/VectorMath.swift): the same bits (NaN for NaN) at every level this CPU runs,
// over specials and a sweep of the whole float range. The lanes themselves are checked against mpmath by
// SpecialFunctionTests and against the OpenCL kernels by ElementwiseTests.

import Foundation
import LatentCPU
import LatentKit
import Testing

@Suite struct VectorMathTests {
    /// Specials, then every 1,021st bit pattern of the 2^32 (both signs, subnormals, infinities and NaNs included).
    static let inputs: [Float] = {
        var xs: [Float] = [0, -0.0, .nan, -.nan, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                           .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 88.722839, 88.72284, 88.8, -103.972084,
                           -103.97209, -104, 104, 1e-8, -1e-8, 0.5, -0.5, 1, -1, 16.6355, -16.6355]
        var bits: UInt32 = 0
        while true {
            xs.append(Float(bitPattern: bits))
            let (next, overflow) = bits.addingReportingOverflow(1021)
            if overflow { break }
            bits = next
        }
        return xs
    }()

    nonisolated(unsafe) static let functions: [(String, (VectorMath.V) -> VectorMath.V,
                                                (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, VectorMath.Level) -> Void)] = [
        ("exp", { VectorMath.exp($0) }, { VectorMath.exp($0, $1, count: $2, level: $3) }),
        ("softplus", { VectorMath.softplus($0) }, { VectorMath.softplus($0, $1, count: $2, level: $3) }),
        ("sigmoid", { VectorMath.sigmoid($0) }, { VectorMath.sigmoid($0, $1, count: $2, level: $3) }),
        ("gumbel", { VectorMath.gumbel($0) }, { VectorMath.gumbel($0, $1, count: $2, level: $3) }),
    ]

    /// Gumbel noise from every 97th uniform Philox can give ((k + 1/2) 2^-23), both ends included, against
    /// -log(-log u) in double: within 1e-6 relative (at least 1e-6 absolute).
    @Test func gumbelMatchesDouble() {
        var worst = 0.0, at: Float = 0
        for k in stride(from: 0, to: 1 << 23, by: 97) + [(1 << 23) - 1] {
            let u = (Float(k) + 0.5) * 0x1p-23
            let got = Double(VectorMath.gumbel(u)), want = -Foundation.log(-Foundation.log(Double(u)))
            let error = abs(got - want) / max(1, abs(want))
            if error > worst { worst = error; at = u }
        }
        #expect(worst <= 1e-6, "worst \(worst) at u = \(at)")
    }

    /// The same bits, or both NaN (a NaN's sign and payload are nobody's contract: the lanes' sigmoid of NaN comes out
    /// positive, the loops' negative).
    static func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    static var levels: [VectorMath.Level] { VectorMath.Level.allCases.filter { $0.rawValue <= VectorMath.Level.supported.rawValue } }

    @Test(arguments: levels)
    func arrayLoopsGiveTheLanesBits(level: VectorMath.Level) {
        for (name, lanes, loop) in Self.functions {
            // Gumbel noise is defined for uniforms in (0, 1) only
            let xs = name == "gumbel" ? Self.inputs.filter { $0 > 0 && $0 < 1 } : Self.inputs
            var want = [Float](repeating: 0, count: xs.count), got = want
            xs.withUnsafeBufferPointer { x in
                want.withUnsafeMutableBufferPointer { VectorMath.map(x.baseAddress!, $0.baseAddress!, 0..<xs.count, lanes) }
                got.withUnsafeMutableBufferPointer { loop(x.baseAddress!, $0.baseAddress!, xs.count, level) }
            }
            let first = (0..<xs.count).first { !Self.same(want[$0], got[$0]) }
            #expect(first == nil, "\(name) at \(level): x = \(first.map { xs[$0] } ?? 0): lanes \(first.map { String(want[$0].bitPattern, radix: 16) } ?? ""), loop \(first.map { String(got[$0].bitPattern, radix: 16) } ?? "")")

            // in place, and a count that leaves a tail on every vector width
            var inPlace = Array(xs.prefix(1_000_003))
            inPlace.withUnsafeMutableBufferPointer { loop($0.baseAddress!, $0.baseAddress!, $0.count, level) }
            #expect(inPlace.indices.allSatisfy { Self.same(inPlace[$0], want[$0]) }, "\(name) at \(level), in place")

            // rows as the training step passes them (a dense layer's 200 columns, the likelihood's 784 pixels): whole
            // blocks of vectors, a masked rest, or only the rest
            for n in [1, 3, 15, 16, 17, 100, 127, 128, 129, 200, 784] {
                var row = Array(xs[5_000..<(5_000 + n)])
                row.withUnsafeMutableBufferPointer { loop($0.baseAddress!, $0.baseAddress!, n, level) }
                #expect((0..<n).allSatisfy { Self.same(row[$0], want[5_000 + $0]) }, "\(name) at \(level), \(n) elements")
            }
        }
    }

    /// The Bernoulli log-likelihood's row sums, four rows side by side, against one row at a time in column order (the
    /// Swift loop they replace): the same bits for row counts that fill the blocks of four and leave a rest.
    @Test func bernoulliRowSumsGiveOneRowAtATimesBits() {
        let cols = 785
        for rows in [1, 3, 4, 5, 9] {
            let n = rows * cols
            let l = (0..<n).map { Float($0 % 101) * 0.173 - 8.5 }, x = (0..<n).map { Float(($0 * 7) % 3 == 0 ? 1 : 0) }
            let sp = l.map { VectorMath.softplus($0) }
            var got = [Float](repeating: .nan, count: rows)
            l.withUnsafeBufferPointer { lp in
                x.withUnsafeBufferPointer { xp in
                    sp.withUnsafeBufferPointer { sp in
                        got.withUnsafeMutableBufferPointer {
                            VectorMath.bernoulliRowSums(logits: lp.baseAddress!, targets: xp.baseAddress!, softplus: sp.baseAddress!,
                                                        into: $0.baseAddress!, rows: rows, cols: cols)
                        }
                    }
                }
            }
            for r in 0..<rows {
                var s = 0.0
                for j in r * cols..<(r + 1) * cols { s += Double(x[j] * l[j] - sp[j]) }
                #expect(got[r].bitPattern == Float(s).bitPattern, "row \(r) of \(rows)")
            }
        }
    }

    /// The multinomial log-likelihood's row sums (the exponentials' normaliser and the documents' lengths, then the
    /// counts' dot with the log-probabilities), four rows side by side, against one row at a time in column order: the
    /// same bits for row counts that fill the blocks of four and leave a rest.
    @Test func multinomialRowSumsGiveOneRowAtATimesBits() {
        let cols = 2_001
        for rows in [1, 3, 4, 5, 9] {
            let n = rows * cols
            let l: [Float] = (0..<n).map { Float($0 % 97) * 0.131 - 6.25 }
            let c: [Float] = (0..<n).map { i -> Float in (i * 5) % 7 == 0 ? Float(i % 4) : 0 }
            let z: [Float] = (0..<rows).map { Float($0) * 0.37 + 7.5 }
            var sums = [Double](repeating: .nan, count: rows), got = [Float](repeating: .nan, count: rows)
            l.withUnsafeBufferPointer { lp in
                c.withUnsafeBufferPointer { cp in
                    z.withUnsafeBufferPointer { zp in
                        sums.withUnsafeMutableBufferPointer { VectorMath.rowSums(lp.baseAddress!, into: $0.baseAddress!, rows: rows, cols: cols) }
                        got.withUnsafeMutableBufferPointer {
                            VectorMath.multinomialRowSums(counts: cp.baseAddress!, logits: lp.baseAddress!, logNormalisers: zp.baseAddress!,
                                                          into: $0.baseAddress!, rows: rows, cols: cols)
                        }
                    }
                }
            }
            for r in 0..<rows {
                var total = 0.0, dot = 0.0
                for j in r * cols..<(r + 1) * cols {
                    total += Double(l[j])
                    dot += Double(c[j] * (l[j] - z[r]))
                }
                #expect(sums[r].bitPattern == total.bitPattern && got[r].bitPattern == Float(dot).bitPattern, "row \(r) of \(rows)")
            }
        }
    }

    /// The CPU backend's multinomial log-likelihood, forward and backward, against the one-row-at-a-time loop it
    /// replaced (each row's maximum, exponentials, then its double sums in column order), bit for bit, with row counts
    /// that split into two parallel chunks whose rows do not divide into fours.
    @Test func cpuMultinomialLogLikelihoodKeepsTheRowLoopsBits() throws {
        let backend = CPUBackend.shared, cols = 2_001
        for rows in [9, 11] {
            let n = rows * cols
            let l: [Float] = (0..<n).map { Float(($0 * 37) % 101) * 0.113 - 5.5 }
            let c: [Float] = (0..<n).map { i -> Float in (i * 3) % 11 == 0 ? Float(i % 5) : 0 }
            let g: [Float] = (0..<rows).map { Float($0) * 0.25 - 1 }
            let logits = try Tensor(l, rows: rows, cols: cols, on: backend), counts = try Tensor(c, rows: rows, cols: cols, on: backend)
            let ll = try Tensor([Float](repeating: 0, count: rows), rows: rows, cols: 1, on: backend)
            let z = try Tensor([Float](repeating: 0, count: rows), rows: rows, cols: 1, on: backend)
            let grad = try Tensor(g, rows: rows, cols: 1, on: backend), dl = try Tensor([Float](repeating: 0, count: n), rows: rows, cols: cols, on: backend)
            try backend.multinomialLogLikelihood(logits: logits.buffer, counts: counts.buffer, rows: rows, cols: cols, into: ll.buffer, logNormaliser: z.buffer)
            try backend.multinomialLogLikelihoodBackward(logits: logits.buffer, counts: counts.buffer, logNormaliser: z.buffer, gradient: grad.buffer,
                                                         rows: rows, cols: cols, into: dl.buffer)
            let gotLL = try backend.download(ll.buffer), gotZ = try backend.download(z.buffer), gotD = try backend.download(dl.buffer)
            for r in 0..<rows {
                let row = Array(l[(r * cols)..<((r + 1) * cols)]), counts = Array(c[(r * cols)..<((r + 1) * cols)])
                let m = row.max()!
                var e = row.map { $0 - m }
                e.withUnsafeMutableBufferPointer { VectorMath.exp($0.baseAddress!, $0.baseAddress!, count: cols) }
                var sum = 0.0, dot = 0.0, total = 0.0
                for j in 0..<cols { sum += Double(e[j]) }
                let zr = m + Float(Double.log(sum))
                for j in 0..<cols { dot += Double(counts[j] * (row[j] - zr)) }
                for j in 0..<cols { total += Double(counts[j]) }
                var d = row.map { $0 - zr }
                d.withUnsafeMutableBufferPointer { VectorMath.exp($0.baseAddress!, $0.baseAddress!, count: cols) }
                let wantD = (0..<cols).map { g[r] * (counts[$0] - Float(total) * d[$0]) }
                #expect(gotZ[r].bitPattern == zr.bitPattern && gotLL[r].bitPattern == Float(dot).bitPattern, "forward, row \(r) of \(rows)")
                #expect((0..<cols).allSatisfy { gotD[r * cols + $0].bitPattern == wantD[$0].bitPattern }, "backward, row \(r) of \(rows)")
            }
        }
    }

    /// The softplus layer's backward row loop against the lanes: d = sigmoid(a) g bit for bit, the double sums exact.
    @Test(arguments: levels)
    func softplusBackwardGivesTheLanesBits(level: VectorMath.Level) {
        let n = 1_003
        let a = (0..<n).map { Float($0 % 97) * 0.37 - 18 }, g = (0..<n).map { Float($0 % 13) * 0.11 - 0.6 }
        var d = [Float](repeating: 0, count: n), acc = [Double](repeating: 0.25, count: n)
        a.withUnsafeBufferPointer { ap in
            g.withUnsafeBufferPointer { gp in
                d.withUnsafeMutableBufferPointer { dp in
                    acc.withUnsafeMutableBufferPointer {
                        VectorMath.softplusBackward(ap.baseAddress!, gradient: gp.baseAddress!, into: dp.baseAddress!, accumulating: $0.baseAddress!,
                                                    count: n, level: level)
                    }
                }
            }
        }
        for i in 0..<n {
            let want = VectorMath.sigmoid(a[i]) * g[i]
            #expect(d[i].bitPattern == want.bitPattern, "d[\(i)] at \(level)")
            #expect(acc[i] == 0.25 + Double(want), "acc[\(i)] at \(level)")
        }
    }

    /// The C Philox uniforms against Philox.blocks16 and Philox.uniform, across a carry out of the counter's low word
    /// and the wrap of its low 64 bits, for keys and high words that are not zero.
    @Test(arguments: levels)
    func philoxUniformsGiveTheSwiftWords(level: VectorMath.Level) {
        let cases: [(PhiloxCounter, UInt64, PhiloxKey)] = [
            (PhiloxCounter(offset: 0), 0, PhiloxKey(seed: 0, stream: 0)),
            (PhiloxCounter(0xFFFF_FFF0, 7, 0xDEAD_BEEF, 42), 3, PhiloxKey(seed: 12345, stream: 7)),
            (PhiloxCounter(0xFFFF_FFFA, 0xFFFF_FFFF, 1, 2), 0, PhiloxKey(seed: .max, stream: .max)),
        ]
        for (counter, first, key) in cases {
            let blocks = 37  // not a multiple of any vector width
            var got = [Float](repeating: 0, count: 4 * blocks)
            got.withUnsafeMutableBufferPointer {
                VectorMath.philoxUniforms(counter: counter, first: first, key: key, blocks: blocks, into: $0.baseAddress!, level: level)
            }
            var want = [Float]()
            for group in stride(from: 0, to: blocks, by: 16) {
                let w = Philox.blocks16(counter: counter, first: first + UInt64(group), key: key)
                for lane in 0..<min(16, blocks - group) {
                    want += [w.0[lane], w.1[lane], w.2[lane], w.3[lane]].map(Philox.uniform)
                }
            }
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "\(level), counter \(counter.words), first \(first)")
        }
    }

    /// The C Adam step against the same formula in Swift scalars (the order of operations of the OpenCL kernel), for a
    /// count that leaves a tail on every vector width; gradients of every size and sign, zeros included.
    @Test(arguments: levels)
    func adamGivesTheScalarFormulasBits(level: VectorMath.Level) {
        let n = 1_037, b1: Float = 0.9, b2: Float = 0.999, epsilon: Float = 1e-8, stepSize: Float = 1.3e-3, sqrtBC2: Float = 0.0447
        let g = (0..<n).map { Float(bitPattern: UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) & 0x3FFF_FFFF | ($0 % 2 == 0 ? 0 : 0x8000_0000)) }
        var p = (0..<n).map { Float($0) * 0.001 - 0.5 }, m = (0..<n).map { Float($0 % 7) * 0.01 - 0.03 }, v = (0..<n).map { Float($0 % 5) * 1e-4 }
        var (wantP, wantM, wantV) = (p, m, v)
        for i in 0..<n {
            wantM[i] = b1 * wantM[i] + (1 - b1) * g[i]
            wantV[i] = b2 * wantV[i] + (1 - b2) * g[i] * g[i]
            wantP[i] = wantP[i] - stepSize * wantM[i] / (wantV[i].squareRoot() / sqrtBC2 + epsilon)
        }
        VectorMath.adam(parameters: &p, gradients: g, firstMoment: &m, secondMoment: &v, count: n, beta1: b1, beta2: b2, epsilon: epsilon,
                        stepSize: stepSize, sqrtBC2: sqrtBC2, level: level)
        #expect(p.map(\.bitPattern) == wantP.map(\.bitPattern) && m.map(\.bitPattern) == wantM.map(\.bitPattern)
                && v.map(\.bitPattern) == wantV.map(\.bitPattern), "\(level)")
    }

    /// The C batch-norm loops against the column-by-column formulas in Swift scalars (the OpenCL kernels' order), on a
    /// block of 37 of 45 columns (a tail on every vector width, a row stride wider than the block) of 29 rows.
    @Test(arguments: levels)
    func batchNormGivesTheColumnLoopsBits(level: VectorMath.Level) {
        let rows = 29, cols = 45, lo = 5, m = 37, n = Float(rows)
        let x = (0..<(rows * cols)).map { Float(($0 &* 2_654_435_761) % 1_000) * 0.003 - 1.2 }
        let g = (0..<(rows * cols)).map { Float(($0 &* 40_503) % 977) * 0.002 - 0.9 }
        let scale = (0..<m).map { 0.5 + Float($0) * 0.03 }, shift = (0..<m).map { Float($0) * 0.01 - 0.2 }
        var wantMean = [Float](repeating: 0, count: m), wantSquares = wantMean, wantY = [Float](repeating: 0, count: rows * cols)
        var wantSums = wantMean, wantScaled = wantMean, wantDx = wantY
        for k in 0..<m {
            for r in 0..<rows { wantMean[k] += x[r * cols + lo + k] }
            wantMean[k] /= n
            for r in 0..<rows { let d = x[r * cols + lo + k] - wantMean[k]; wantSquares[k] += d * d }
        }
        let inverse = (0..<m).map { 1 / (wantSquares[$0] / n + 1e-5).squareRoot() }
        for k in 0..<m {
            for r in 0..<rows {
                let i = r * cols + lo + k
                wantY[i] = scale[k] * ((x[i] - wantMean[k]) * inverse[k]) + shift[k]
                wantSums[k] += g[i]
                wantScaled[k] += g[i] * (x[i] - wantMean[k]) * inverse[k]
            }
            for r in 0..<rows {
                let i = r * cols + lo + k
                wantDx[i] = scale[k] * inverse[k] * (g[i] - wantSums[k] / n - (x[i] - wantMean[k]) * inverse[k] * wantScaled[k] / n)
            }
        }
        var mean = [Float](repeating: 0, count: m), squares = mean, y = [Float](repeating: 0, count: rows * cols)
        var sums = mean, scaled = mean, dx = y
        // the pointers stay inside the closures that lend them
        x.withUnsafeBufferPointer { xp in
            g.withUnsafeBufferPointer { gp in
                y.withUnsafeMutableBufferPointer { yp in
                    dx.withUnsafeMutableBufferPointer { dp in
                        let xs = xp.baseAddress! + lo
                        VectorMath.batchNormStatistics(xs, stride: cols, rows: rows, columns: m, mean: &mean, squaredDeviations: &squares,
                                                       level: level)
                        VectorMath.batchNormNormalise(xs, stride: cols, rows: rows, columns: m, scale: scale, shift: shift, mean: mean,
                                                      inverse: inverse, into: yp.baseAddress! + lo, level: level)
                        VectorMath.batchNormBackward(xs, gradient: gp.baseAddress! + lo, stride: cols, rows: rows, columns: m, scale: scale,
                                                     mean: mean, inverse: inverse, sums: &sums, scaledSums: &scaled,
                                                     into: dp.baseAddress! + lo, level: level)
                    }
                }
            }
        }
        let bits = { (a: [Float]) in a.map(\.bitPattern) }
        #expect(bits(mean) == bits(wantMean) && bits(squares) == bits(wantSquares), "\(level): statistics")
        #expect(bits(y) == bits(wantY), "\(level): normalised")
        #expect(bits(sums) == bits(wantSums) && bits(scaled) == bits(wantScaled) && bits(dx) == bits(wantDx), "\(level): backward")
    }

    /// The binarising loop of the data feed against its comparison in Swift scalars, ties and NaNs included, with a tail
    /// on every vector width.
    @Test(arguments: levels)
    func binariseGivesTheComparisonsBits(level: VectorMath.Level) {
        let n = 1_037
        let u = (0..<n).map { Float(($0 &* 2_654_435_761) % 1_024) / 1_024 }
        let p: [Float] = (0..<n).map { (i: Int) -> Float in
            if i % 97 == 0 { return .nan }
            return i % 5 == 0 ? u[i] : Float((i &* 40_503) % 1_024) / 1_024
        }
        var out = [Float](repeating: -1, count: n)
        VectorMath.binarise(uniforms: u, probabilities: p, into: &out, count: n, level: level)
        #expect(out == (0..<n).map { u[$0] < p[$0] ? Float(1) : 0 }, "\(level)")
    }

    @Test func theChosenLevelIsOneThisCPURuns() {
        #expect(VectorMath.Level.chosen.rawValue <= VectorMath.Level.supported.rawValue)
    }
}
