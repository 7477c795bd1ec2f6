// The fused latent-family and batch-norm kernels through the tape: outputs against float64 formulas written out
// here from the papers, gradients against central differences of those formulas, on every backend (so the two
// backends also agree with each other). The model-level tests (mpmath densities, sample moments, the seed report's
// bugs) exercise the same kernels through the VAE.

import Foundation
import LatentKit
import Testing
import TestSupport

/// Float64 special functions for the references: recurrence up to 10, then the asymptotic series (error < 1e-12).
enum Reference {
    static func digamma(_ x: Double) -> Double {
        var x = x, r = 0.0
        while x < 10 { r -= 1 / x; x += 1 }
        let f = 1 / (x * x)
        return r + Foundation.log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))))
    }

    static func trigamma(_ x: Double) -> Double {
        var x = x, r = 0.0
        while x < 10 { r += 1 / (x * x); x += 1 }
        let f = 1 / (x * x)
        return r + 1 / x + f / 2 + (1 / (x * x * x)) * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f / 30)))
    }

    static func logSumExp(_ v: [Double]) -> Double {
        let m = v.max()!
        return m + Foundation.log(v.reduce(0) { $0 + Foundation.exp($1 - m) })
    }

    /// Splits a row-major `rows × cols` matrix into its rows.
    static func rows(_ x: [Double], _ cols: Int) -> [[Double]] { stride(from: 0, to: x.count, by: cols).map { Array(x[$0..<($0 + cols)]) } }

    static func softplus(_ x: Double) -> Double { Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x))) }

    // MARK: the families' formulas, one row (or one categorical) at a time

    static func expConcreteLogDensity(_ y: [Double], _ logits: [Double]?, _ lambda: Double) -> Double {
        let k = Double(y.count), t = y.indices.map { (logits?[$0] ?? 0) - lambda * y[$0] }
        return Foundation.lgamma(k) + (k - 1) * Foundation.log(lambda) + t.reduce(0, +) - k * logSumExp(t)
    }

    static func categoricalKL(_ logits: [Double]) -> Double {
        let lse = logSumExp(logits), k = Double(logits.count)
        return logits.reduce(0) { $0 + Foundation.exp($1 - lse) * ($1 - lse + Foundation.log(k)) }
    }

    static func laplace(_ alpha: [Double]) -> (mean: [Double], variance: [Double]) {
        let k = Double(alpha.count)
        let meanLog: Double = alpha.map { Foundation.log($0) }.reduce(0, +) / k
        let sumInverse: Double = alpha.map { 1 / $0 }.reduce(0, +)
        let mean: [Double] = alpha.map { Foundation.log($0) - meanLog }
        let variance: [Double] = alpha.map { a -> Double in (1 / a) * (1 - 2 / k) + sumInverse / (k * k) }
        return (mean, variance)
    }

    static func aitchisonShenSample(_ alpha: [Double], _ eps: [Double]) -> [Double] {
        let k = alpha.count, aK = alpha[k - 1]
        let shared: Double = trigamma(aK).squareRoot() * eps[k - 1]
        var y = [Double](repeating: 0, count: k)
        for j in 0..<(k - 1) {
            let mean: Double = digamma(alpha[j]) - digamma(aK)
            y[j] = mean + trigamma(alpha[j]).squareRoot() * eps[j] - shared
        }
        return y
    }

    /// log N(y_{<K}; mean, diag(d) + c 11ᵀ) by a dense float64 Cholesky factorisation (independent of the kernels'
    /// determinant lemma and Sherman-Morrison).
    static func aitchisonShenLogDensity(_ y: [Double], _ alpha: [Double]) -> Double {
        let n = alpha.count - 1, aK = alpha[n], c = trigamma(aK)
        var sigma = (0..<n).map { i in (0..<n).map { j in c + (i == j ? trigamma(alpha[i]) : 0) } }
        for i in 0..<n {  // in-place Cholesky, lower triangle
            for j in 0...i {
                let s = sigma[i][j] - (0..<j).reduce(0) { $0 + sigma[i][$1] * sigma[j][$1] }
                sigma[i][j] = i == j ? s.squareRoot() : s / sigma[j][j]
            }
        }
        var v = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let r = y[i] - (digamma(alpha[i]) - digamma(aK))
            v[i] = (r - (0..<i).reduce(0) { $0 + sigma[i][$1] * v[$1] }) / sigma[i][i]
        }
        return -0.5 * (Double(n) * Foundation.log(2 * Double.pi) + 2 * (0..<n).reduce(0) { $0 + Foundation.log(sigma[$1][$1]) }
                       + v.reduce(0) { $0 + $1 * $1 })
    }

    static func dirichletKL(_ alpha: [Double], _ beta: Double) -> Double {
        let k = Double(alpha.count), a0 = alpha.reduce(0, +)
        return Foundation.lgamma(a0) - Foundation.lgamma(k * beta) - alpha.reduce(0) { $0 + Foundation.lgamma($1) } + k * Foundation.lgamma(beta)
            + alpha.reduce(0) { $0 + ($1 - beta) * (digamma($1) - digamma(a0)) }
    }

    static func dirichletLogDensity(_ z: [Double], _ alpha: [Double]) -> Double {
        Foundation.lgamma(alpha.reduce(0, +)) - alpha.reduce(0) { $0 + Foundation.lgamma($1) } + zip(alpha, z).reduce(0) { $0 + ($1.0 - 1) * Foundation.log($1.1) }
    }
}

let familyCases: [RuleCase] = {
    var cases: [RuleCase] = []
    let rows = 3
    // Concrete: 2 categoricals of 3 classes per row
    for lambda in [0.5, 1.3] {
        cases.append(RuleCase(
            description: "concreteSample λ=\(lambda)", inputs: [(rows, 6, -2...2, false), (rows, 6, -1...3, true)],
            tape: { t, x in try t.concreteSample(logits: x[0], gumbel: x[1], temperature: Float(lambda), categories: 3) },
            reference: { x in
                let t = (0..<(rows * 6)).map { (x[0][$0] + x[1][$0]) / lambda }
                return Reference.rows(t, 3).flatMap { seg in seg.map { $0 - Reference.logSumExp(seg) } }
            }))
        cases.append(RuleCase(
            description: "concreteLogDensity λ=\(lambda)", inputs: [(rows, 6, -4...0, false), (rows, 6, -2...2, false)],
            tape: { t, x in try t.concreteLogDensity(x[0], logits: x[1], temperature: Float(lambda), categories: 3) },
            reference: { x in
                zip(Reference.rows(x[0], 6), Reference.rows(x[1], 6)).map { y, l in
                    Reference.expConcreteLogDensity(Array(y[0..<3]), Array(l[0..<3]), lambda)
                        + Reference.expConcreteLogDensity(Array(y[3..<6]), Array(l[3..<6]), lambda)
                }
            }))
    }
    cases.append(RuleCase(
        description: "concreteLogDensity uniform prior", inputs: [(rows, 6, -4...0, false)],
        tape: { t, x in try t.concreteLogDensity(x[0], logits: nil, temperature: 1, categories: 3) },
        reference: { x in
            Reference.rows(x[0], 6).map { y in Reference.expConcreteLogDensity(Array(y[0..<3]), nil, 1) + Reference.expConcreteLogDensity(Array(y[3..<6]), nil, 1) }
        }))
    cases.append(RuleCase(
        description: "categoricalKL", inputs: [(rows, 6, -3...3, false)],
        tape: { t, x in try t.categoricalKL(x[0], categories: 3) },
        reference: { x in Reference.rows(x[0], 6).map { Reference.categoricalKL(Array($0[0..<3])) + Reference.categoricalKL(Array($0[3..<6])) } }))
    // logit-normal
    cases.append(RuleCase(
        description: "logitNormalSample (z)", inputs: [(rows, 4, -2...2, false), (rows, 4, -2...1, false), (rows, 4, -2...2, true)],
        tape: { t, x in try t.logitNormalSample(mean: x[0], logVariance: x[1], noise: x[2]).sample },
        reference: { x in
            (0..<(rows * 4)).map { i -> Double in
                let y: Double = x[0][i] + Foundation.exp(0.5 * x[1][i]) * x[2][i]
                return 1 / (1 + Foundation.exp(-y))
            }
        }))
    cases.append(RuleCase(
        description: "logitNormalSample (y and z together)", inputs: [(rows, 4, -2...2, false), (rows, 4, -2...1, false), (rows, 4, -2...2, true)],
        tape: { t, x in
            let (y, z) = try t.logitNormalSample(mean: x[0], logVariance: x[1], noise: x[2])
            return try t.binary(.add, t.affine(y, alpha: 0.5), z)
        },
        reference: { x in
            (0..<(rows * 4)).map { i in
                let y = x[0][i] + Foundation.exp(0.5 * x[1][i]) * x[2][i]
                return 0.5 * y + 1 / (1 + Foundation.exp(-y))
            }
        }))
    cases.append(RuleCase(
        description: "logitNormalLogDensity", inputs: [(rows, 4, -3...3, false), (rows, 4, -1...1, false), (rows, 4, -1...1, false)],
        tape: { t, x in try t.logitNormalLogDensity(logit: x[0], mean: x[1], logVariance: x[2]) },
        reference: { x in
            (0..<rows).map { r -> Double in
                var s = 0.0
                for i in (r * 4)..<(r * 4 + 4) {
                    let d = x[0][i] - x[1][i]
                    let gaussian: Double = -0.5 * (Foundation.log(2 * Double.pi) + x[2][i] + d * d * Foundation.exp(-x[2][i]))
                    s += gaussian + Reference.softplus(x[0][i]) + Reference.softplus(-x[0][i])
                }
                return s
            }
        }))
    // Dirichlet, K = 4, α over small and large concentrations
    for (name, range) in [("small α", 0.2...1.5), ("large α", 2.0...40.0)] {
        cases.append(RuleCase(
            description: "dirichletSample laplace \(name)", inputs: [(rows, 4, range, false), (rows, 4, -2...2, true)],
            tape: { t, x in try t.dirichletSample(.laplace, alpha: x[0], noise: x[1]) },
            reference: { x in
                zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).flatMap { a, e in
                    let (m, v) = Reference.laplace(a)
                    return (0..<4).map { m[$0] + v[$0].squareRoot() * e[$0] }
                }
            }))
        cases.append(RuleCase(
            description: "dirichletSample aitchison-shen \(name)", inputs: [(rows, 4, range, false), (rows, 4, -2...2, true)],
            tape: { t, x in try t.dirichletSample(.aitchisonShen, alpha: x[0], noise: x[1]) },
            reference: { x in zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).flatMap { Reference.aitchisonShenSample($0, $1) } }))
        cases.append(RuleCase(
            description: "dirichletApproximationLogDensity laplace \(name)", inputs: [(rows, 4, -2...2, false), (rows, 4, range, false)],
            tape: { t, x in try t.dirichletApproximationLogDensity(.laplace, logits: x[0], alpha: x[1]) },
            reference: { x in
                zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).map { y, a in
                    let (m, v) = Reference.laplace(a)
                    return (0..<4).reduce(0) { $0 - 0.5 * (Foundation.log(2 * Double.pi * v[$1]) + (y[$1] - m[$1]) * (y[$1] - m[$1]) / v[$1]) }
                }
            }))
        cases.append(RuleCase(
            description: "dirichletApproximationLogDensity aitchison-shen \(name)", inputs: [(rows, 4, -2...2, false), (rows, 4, range, false)],
            tape: { t, x in try t.dirichletApproximationLogDensity(.aitchisonShen, logits: x[0], alpha: x[1]) },
            // the K-th logit is fixed at 0 by the sampler and carries no density: its gradient is 0
            reference: { x in zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).map { Reference.aitchisonShenLogDensity($0, $1) } }))
        for beta in [0.25, 1.0] {
            cases.append(RuleCase(
                description: "dirichletKL β=\(beta) \(name)", inputs: [(rows, 4, range, false)],
                tape: { t, x in try t.dirichletKL(x[0], priorConcentration: Float(beta)) },
                reference: { x in Reference.rows(x[0], 4).map { Reference.dirichletKL($0, beta) } }))
        }
        cases.append(RuleCase(
            description: "dirichletLogDensity \(name)", inputs: [(rows, 4, 0.05...0.6, false), (rows, 4, range, false)],
            tape: { t, x in try t.dirichletLogDensity(x[0], alpha: x[1]) },
            reference: { x in zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).map { Reference.dirichletLogDensity($0, $1) } }))
    }
    // batch normalisation with a learned scale and shift
    cases.append(RuleCase(
        description: "batchNorm scale and shift", inputs: [(5, 3, -2...2, false), (1, 3, 0.5...2, false), (1, 3, -1...1, false)],
        tape: { t, x in
            let statistics = try BatchNorm(name: "bn", features: 3, on: t.backend)
            return try t.batchNorm(x[0], scale: x[1], shift: x[2], runningMean: statistics.runningMean, runningVariance: statistics.runningVariance,
                                   epsilon: BatchNorm.epsilon, momentum: BatchNorm.momentum)
        },
        reference: { x in
            var y = [Double](repeating: 0, count: 15)
            for c in 0..<3 {
                let col = (0..<5).map { x[0][$0 * 3 + c] }
                let m = col.reduce(0, +) / 5, v = col.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 5
                for r in 0..<5 { y[r * 3 + c] = x[1][c] * (col[r] - m) / (v + Double(BatchNorm.epsilon)).squareRoot() + x[2][c] }
            }
            return y
        }))
    return cases
}()

@Suite struct FamilyKernelTests {
    @Test(arguments: TestBackends.all, familyCases)
    func fusedKernelMatchesItsFormulaAndFiniteDifferences(kind: BackendKind, rule: RuleCase) throws {
        try checkRule(rule, on: TestBackends.backend(kind))
    }

    /// The running statistics: PyTorch's update with the unbiased batch variance; inference normalises by them.
    @Test(arguments: TestBackends.all)
    func batchNormRunningStatistics(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let bn = try BatchNorm(name: "bn", features: 2, on: backend)
        let x: [Float] = [1, 10, 2, 20, 4, 30, 5, 60]  // 4 rows × 2 features
        _ = try bn(try Tensor(x, rows: 4, cols: 2, on: backend), training: true, on: tape)
        let mean = try backend.download(bn.runningMean.buffer), variance = try backend.download(bn.runningVariance.buffer)
        #expect(abs(mean[0] - 0.9 * 0 - 0.1 * 3) < 1e-6 && abs(mean[1] - 0.1 * 30) < 1e-5)
        #expect(abs(variance[0] - (0.9 + 0.1 * 10.0 / 3)) < 1e-5 && abs(variance[1] - (0.9 + 0.1 * 1400.0 / 3)) < 1e-3, "\(variance)")
        let y = try backend.download(bn(try Tensor([3, 30], rows: 1, cols: 2, on: backend), training: false, on: tape).buffer)
        let want = [(3 - mean[0]) / (variance[0] + BatchNorm.epsilon).squareRoot(), (30 - mean[1]) / (variance[1] + BatchNorm.epsilon).squareRoot()]
        #expect(firstMismatch(y, want, rtol: 1e-5, atol: 1e-6) == nil, "\(y) vs \(want)")
    }

    /// Shapes that do not fit are a thrown error, never a kernel reading out of bounds.
    @Test(arguments: TestBackends.all)
    func badShapesAreErrors(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let a = try Tensor([Float](repeating: 1, count: 6), rows: 2, cols: 3, on: backend)
        let one = try Tensor([Float](repeating: 1, count: 2), rows: 2, cols: 1, on: backend)
        #expect(throws: BackendError.self) { try tape.categoricalKL(a, categories: 2) }  // 3 columns are not 2-way categoricals
        #expect(throws: BackendError.self) { try tape.dirichletSample(.laplace, alpha: one, noise: one) }  // K = 1
        #expect(throws: BackendError.self) { try tape.dirichletLogDensity(a, alpha: one) }
        let small = try backend.allocate(count: 2, dtype: .float32)
        #expect(throws: BackendError.self) { try backend.dirichletKL(alpha: a.buffer, priorConcentration: 1, rows: 3, components: 2, into: small) }
    }
}
