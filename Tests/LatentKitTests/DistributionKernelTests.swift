// The fused distribution kernels: forward against float64 formulas, backward against float64 finite
// differences, on every backend (which also makes the two backends agree to those tolerances).

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct DistributionKernelTests {
    static let rows = 7, cols = 37  // odd sizes; cols > 1 so the row sums reduce

    func row(_ v: [Float], _ r: Int) -> [Double] { (0..<Self.cols).map { Double(v[r * Self.cols + $0]) } }

    /// Central difference of `f` in the `j`-th coordinate of `v`.
    func derivative(_ v: [Double], _ j: Int, _ f: ([Double]) -> Double) -> Double {
        let h = 1e-6 * Swift.max(1, Swift.abs(v[j]))
        var plus = v, minus = v
        plus[j] += h
        minus[j] -= h
        return (f(plus) - f(minus)) / (2 * h)
    }

    func close(_ got: Float, _ want: Double, _ what: String) {
        #expect(Swift.abs(Double(got) - want) <= 2e-5 * Swift.abs(want) + 2e-5, "\(what): got \(got), want \(want)")
    }

    /// Standard normal prior, and the logit-normal paper's prior variance 1.78.
    @Test(arguments: TestBackends.all, [0, Foundation.log(1.78)])
    func gaussianKLAndItsGradient(kind: BackendKind, plv: Double) throws {
        let b = try TestBackends.backend(kind)
        let n = Self.rows * Self.cols
        let mu = randomFloats(n, in: -2...2, seed: 1), lv = randomFloats(n, in: -3...2, seed: 2), g = randomFloats(Self.rows, in: -1...1, seed: 3)
        let kl = try b.allocate(count: Self.rows, dtype: .float32)
        try b.gaussianKL(mean: try b.buffer(mu), logVariance: try b.buffer(lv), priorLogVariance: Float(plv), rows: Self.rows, cols: Self.cols, into: kl)
        let dmu = try b.allocate(count: n, dtype: .float32), dlv = try b.allocate(count: n, dtype: .float32)
        try b.gaussianKLBackward(mean: try b.buffer(mu), logVariance: try b.buffer(lv), priorLogVariance: Float(plv), gradient: try b.buffer(g),
                                 rows: Self.rows, cols: Self.cols, intoMean: dmu, intoLogVariance: dlv)
        let klv = try b.download(kl), dmuv = try b.download(dmu), dlvv = try b.download(dlv)
        for r in 0..<Self.rows {
            let m = row(mu, r), l = row(lv, r)
            close(klv[r], Reference.gaussianKL(m, l, priorLogVariance: plv), "KL row \(r)")
            for j in 0..<Self.cols {
                close(dmuv[r * Self.cols + j], Double(g[r]) * derivative(m, j) { Reference.gaussianKL($0, l, priorLogVariance: plv) }, "dKL/dmu")
                close(dlvv[r * Self.cols + j], Double(g[r]) * derivative(l, j) { Reference.gaussianKL(m, $0, priorLogVariance: plv) }, "dKL/dlv")
            }
        }
    }

    @Test(arguments: TestBackends.all)
    func bernoulliLogLikelihoodAndItsGradient(kind: BackendKind) throws {
        let b = try TestBackends.backend(kind)
        let n = Self.rows * Self.cols
        var logits = randomFloats(n, in: -30...30, seed: 4)
        logits[0] = 90  // far in the tails: softplus must not overflow
        logits[1] = -90
        let x = randomFloats(n, in: 0...1, seed: 5).map { $0 < 0.5 ? Float(0) : 1 }, g = randomFloats(Self.rows, in: -1...1, seed: 6)
        let ll = try b.allocate(count: Self.rows, dtype: .float32), dl = try b.allocate(count: n, dtype: .float32)
        try b.bernoulliLogLikelihood(logits: try b.buffer(logits), targets: try b.buffer(x), rows: Self.rows, cols: Self.cols, into: ll)
        try b.bernoulliLogLikelihoodBackward(logits: try b.buffer(logits), targets: try b.buffer(x), gradient: try b.buffer(g),
                                             rows: Self.rows, cols: Self.cols, into: dl)
        let llv = try b.download(ll), dlv = try b.download(dl)
        for r in 0..<Self.rows {
            let l = row(logits, r), xs = row(x, r)
            close(llv[r], Reference.bernoulliLogLikelihood(l, xs), "log-likelihood row \(r)")
            for j in 0..<Self.cols {
                close(dlv[r * Self.cols + j], Double(g[r]) * derivative(l, j) { Reference.bernoulliLogLikelihood($0, xs) }, "dll/dl")
            }
        }
    }

    /// Bags of words: sparse counts (most zero, as in a document; one row empty), logits wide enough that a row's maximum
    /// dominates, a vocabulary of one word, and rows of 2,000 words (a vocabulary's size) whose sums a work-group splits. Forward against the float64 formula,
    /// backward against its finite differences (and, on the long rows, the float64 gradient).
    @Test(arguments: TestBackends.all, [1, 37, 2000])
    func multinomialLogLikelihoodAndItsGradient(kind: BackendKind, cols: Int) throws {
        let b = try TestBackends.backend(kind)
        let n = Self.rows * cols
        var logits = randomFloats(n, in: -8...8, seed: 9)
        logits[0] = 80  // e^80 overflows unless the row's maximum is taken out first
        var counts = randomFloats(n, in: 0...1, seed: 10).map { $0 < 0.8 ? Float(0) : Float(Int($0 * 40) % 7 + 1) }
        for j in 0..<cols { counts[cols + j] = 0 }  // an empty row: log-likelihood and gradient 0
        counts[2 * cols] = 3  // and a non-empty one, whatever the draw (one word: log-likelihood 0)
        let g = randomFloats(Self.rows, in: -1...1, seed: 11)
        let ll = try b.allocate(count: Self.rows, dtype: .float32), z = try b.allocate(count: Self.rows, dtype: .float32)
        let dl = try b.allocate(count: n, dtype: .float32)
        try b.multinomialLogLikelihood(logits: try b.buffer(logits), counts: try b.buffer(counts), rows: Self.rows, cols: cols, into: ll, logNormaliser: z)
        try b.multinomialLogLikelihoodBackward(logits: try b.buffer(logits), counts: try b.buffer(counts), logNormaliser: z, gradient: try b.buffer(g),
                                               rows: Self.rows, cols: cols, into: dl)
        let llv = try b.download(ll), dlv = try b.download(dl)
        for r in 0..<Self.rows {
            let l = (0..<cols).map { Double(logits[r * cols + $0]) }, c = (0..<cols).map { Double(counts[r * cols + $0]) }
            close(llv[r], Reference.multinomialLogLikelihood(l, c), "log-likelihood row \(r)")
            // finite differences of a sum of 2,000 terms are noisier than the float kernel; the long rows take the float64
            // gradient g (c − N softmax(l)), the formula the short rows' finite differences check
            let m = l.max()!, z = m + Foundation.log(l.reduce(0) { $0 + Foundation.exp($1 - m) }), total = c.reduce(0, +)
            for j in 0..<cols {
                let want = cols > 100 ? Double(g[r]) * (c[j] - total * Foundation.exp(l[j] - z))
                    : Double(g[r]) * derivative(l, j) { Reference.multinomialLogLikelihood($0, c) }
                close(dlv[r * cols + j], want, "dll/dl row \(r) word \(j)")
            }
        }
    }

    @Test(arguments: TestBackends.all)
    func gaussianLogDensityAndItsGradient(kind: BackendKind) throws {
        let b = try TestBackends.backend(kind)
        let n = Self.rows * Self.cols
        let x = randomFloats(n, in: -3...3, seed: 7), mu = randomFloats(n, in: -1...1, seed: 8)
        let lv = randomFloats(n, in: -2...2, seed: 9), g = randomFloats(Self.rows, in: -1...1, seed: 10)
        let lp = try b.allocate(count: Self.rows, dtype: .float32)
        try b.gaussianLogDensity(try b.buffer(x), mean: try b.buffer(mu), logVariance: try b.buffer(lv), rows: Self.rows, cols: Self.cols, into: lp)
        let grads = try (0..<3).map { _ in try b.allocate(count: n, dtype: .float32) }
        try b.gaussianLogDensityBackward(try b.buffer(x), mean: try b.buffer(mu), logVariance: try b.buffer(lv), gradient: try b.buffer(g),
                                         rows: Self.rows, cols: Self.cols, intoX: grads[0], intoMean: grads[1], intoLogVariance: grads[2])
        let lpv = try b.download(lp), d = try grads.map { try b.download($0) }
        for r in 0..<Self.rows {
            let xs = row(x, r), m = row(mu, r), l = row(lv, r)
            close(lpv[r], Reference.gaussianLogDensity(xs, m, l), "log-density row \(r)")
            for j in 0..<Self.cols {
                let i = r * Self.cols + j
                close(d[0][i], Double(g[r]) * derivative(xs, j) { Reference.gaussianLogDensity($0, m, l) }, "dlp/dx")
                close(d[1][i], Double(g[r]) * derivative(m, j) { Reference.gaussianLogDensity(xs, $0, l) }, "dlp/dmu")
                close(d[2][i], Double(g[r]) * derivative(l, j) { Reference.gaussianLogDensity(xs, m, $0) }, "dlp/dlv")
            }
        }
    }

    @Test(arguments: TestBackends.all)
    func gaussianSampleAndItsGradient(kind: BackendKind) throws {
        let b = try TestBackends.backend(kind)
        let n = 1031
        let mu = randomFloats(n, in: -2...2, seed: 11), lv = randomFloats(n, in: -4...3, seed: 12)
        let eps = randomFloats(n, in: -3...3, seed: 13), g = randomFloats(n, in: -1...1, seed: 14)
        let z = try b.allocate(count: n, dtype: .float32), dlv = try b.allocate(count: n, dtype: .float32)
        try b.gaussianSample(mean: try b.buffer(mu), logVariance: try b.buffer(lv), noise: try b.buffer(eps), into: z, count: n)
        try b.gaussianSampleBackward(logVariance: try b.buffer(lv), noise: try b.buffer(eps), gradient: try b.buffer(g), into: dlv, count: n)
        let zv = try b.download(z), dv = try b.download(dlv)
        for i in 0..<n {
            let m = Double(mu[i]), e = Double(eps[i])
            close(zv[i], m + Foundation.exp(0.5 * Double(lv[i])) * e, "sample")
            close(dv[i], Double(g[i]) * derivative([Double(lv[i])], 0) { m + Foundation.exp(0.5 * $0[0]) * e }, "dz/dlv")
        }
    }
}
