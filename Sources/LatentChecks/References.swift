// Float64 references the checks compare the kernels with: the special functions, each family's formulas written
// out from the papers, dense Gaussian algebra, and the primitive ops.

import Foundation
import LatentKit
import RealModule

/// Float64 special functions for the references: recurrence up to 10, then the asymptotic series (error < 1e-12).
public enum Reference {
    public static func digamma(_ x: Double) -> Double {
        var x = x, r = 0.0
        while x < 10 { r -= 1 / x; x += 1 }
        let f = 1 / (x * x)
        return r + Foundation.log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))))
    }

    public static func trigamma(_ x: Double) -> Double {
        var x = x, r = 0.0
        while x < 10 { r += 1 / (x * x); x += 1 }
        let f = 1 / (x * x)
        return r + 1 / x + f / 2 + (1 / (x * x * x)) * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f / 30)))
    }

    public static func logSumExp(_ v: [Double]) -> Double {
        let m = v.max()!
        return m + Foundation.log(v.reduce(0) { $0 + Foundation.exp($1 - m) })
    }

    /// The mean over ordered pairs of topics i ≠ j of cos²(c_i, c_j), c the rows of the row-major `topics × words` matrix
    /// `w` less its mean row: ``TopicDiversity/penalty(_:on:)`` in float64.
    public static func topicDiversity(_ w: [Double], topics k: Int, words v: Int) -> Double {
        let mean = (0..<v).map { j in (0..<k).reduce(0.0) { $0 + w[$1 * v + j] } / Double(k) }
        let c = (0..<k).map { i in (0..<v).map { j in w[i * v + j] - mean[j] } }
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        var sum = 0.0
        for i in 0..<k { for j in 0..<k where i != j { sum += Foundation.pow(dot(c[i], c[j]), 2) / (dot(c[i], c[i]) * dot(c[j], c[j])) } }
        return sum / Double(k * (k - 1))
    }

    /// The mean over the words of the entropy of a word's softmax over the topics, the columns of the row-major
    /// `topics × words` matrix `w`, each word weighed by `wordWeights` (1 / V each when nil):
    /// ``WordExclusivity/penalty(_:wordWeights:on:)`` in float64.
    public static func wordExclusivity(_ w: [Double], topics k: Int, words v: Int, wordWeights: [Double]? = nil) -> Double {
        let entropies = (0..<v).map { j -> Double in
            let column = (0..<k).map { w[$0 * v + j] }
            let lse = logSumExp(column)
            return -column.reduce(0.0) { $0 + Foundation.exp($1 - lse) * ($1 - lse) }
        }
        let weights = wordWeights ?? Array(repeating: 1 / Double(v), count: v)
        return zip(entropies, weights).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Splits a row-major `rows × cols` matrix into its rows.
    public static func rows(_ x: [Double], _ cols: Int) -> [[Double]] { stride(from: 0, to: x.count, by: cols).map { Array(x[$0..<($0 + cols)]) } }

    public static func softplus(_ x: Double) -> Double { Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x))) }

    // MARK: the families' formulas, one row (or one categorical) at a time

    public static func expConcreteLogDensity(_ y: [Double], _ logits: [Double]?, _ lambda: Double) -> Double {
        let k = Double(y.count), t = y.indices.map { (logits?[$0] ?? 0) - lambda * y[$0] }
        return Foundation.lgamma(k) + (k - 1) * Foundation.log(lambda) + t.reduce(0, +) - k * logSumExp(t)
    }

    public static func categoricalKL(_ logits: [Double]) -> Double {
        let lse = logSumExp(logits), k = Double(logits.count)
        return logits.reduce(0) { $0 + Foundation.exp($1 - lse) * ($1 - lse + Foundation.log(k)) }
    }

    public static func laplace(_ alpha: [Double]) -> (mean: [Double], variance: [Double]) {
        let k = Double(alpha.count)
        let meanLog: Double = alpha.map { Foundation.log($0) }.reduce(0, +) / k
        let sumInverse: Double = alpha.map { 1 / $0 }.reduce(0, +)
        let mean: [Double] = alpha.map { Foundation.log($0) - meanLog }
        let variance: [Double] = alpha.map { a -> Double in (1 / a) * (1 - 2 / k) + sumInverse / (k * k) }
        return (mean, variance)
    }

    public static func aitchisonShenSample(_ alpha: [Double], _ eps: [Double]) -> [Double] {
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
    public static func aitchisonShenLogDensity(_ y: [Double], _ alpha: [Double]) -> Double {
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

    public static func dirichletKL(_ alpha: [Double], _ beta: Double) -> Double {
        let k = Double(alpha.count), a0 = alpha.reduce(0, +)
        return Foundation.lgamma(a0) - Foundation.lgamma(k * beta) - alpha.reduce(0) { $0 + Foundation.lgamma($1) } + k * Foundation.lgamma(beta)
            + alpha.reduce(0) { $0 + ($1 - beta) * (digamma($1) - digamma(a0)) }
    }

    public static func dirichletLogDensity(_ z: [Double], _ alpha: [Double]) -> Double {
        Foundation.lgamma(alpha.reduce(0, +)) - alpha.reduce(0) { $0 + Foundation.lgamma($1) } + zip(alpha, z).reduce(0) { $0 + ($1.0 - 1) * Foundation.log($1.1) }
    }

    // MARK: the diagonal Gaussian and Bernoulli rows

    /// Per-row float64 references of the fused row ops.
    public static func gaussianKL(_ mu: [Double], _ lv: [Double], priorLogVariance plv: Double = 0) -> Double {
        zip(mu, lv).reduce(0) { $0 - 0.5 * (1 + $1.1 - plv - ($1.0 * $1.0 + Foundation.exp($1.1)) * Foundation.exp(-plv)) }
    }
    /// KL(N(μq, e^lvq) ‖ N(μp, e^lvp)) summed over a row: a continuous layer's term.
    public static func gaussianConditionalKL(_ mq: [Double], _ lq: [Double], _ mp: [Double], _ lp: [Double]) -> Double {
        (0..<mq.count).reduce(0) { s, j in
            let d = mq[j] - mp[j]
            return s + 0.5 * (lp[j] - lq[j] + (Foundation.exp(lq[j]) + d * d) * Foundation.exp(-lp[j]) - 1)
        }
    }
    public static func bernoulliLogLikelihood(_ l: [Double], _ x: [Double]) -> Double {
        zip(l, x).reduce(0) { $0 + $1.1 * $1.0 - (Swift.max($1.0, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($1.0)))) }
    }
    public static func multinomialLogLikelihood(_ l: [Double], _ x: [Double]) -> Double {
        let m = l.max()!, logNormaliser = m + Foundation.log(l.reduce(0) { $0 + Foundation.exp($1 - m) })
        return zip(l, x).reduce(0) { $0 + $1.1 * ($1.0 - logNormaliser) }
    }
    public static func gaussianLogDensity(_ x: [Double], _ mu: [Double], _ lv: [Double]) -> Double {
        (0..<x.count).reduce(0) { s, j in
            s - 0.5 * (Foundation.log(2 * Double.pi) + lv[j] + (x[j] - mu[j]) * (x[j] - mu[j]) * Foundation.exp(-lv[j]))
        }
    }
}

/// Each unary op in float64, the reference for finite differences.
public func referenceForward(_ op: UnaryOp, _ x: Double) -> Double {
    switch op {
    case .neg: return -x
    case .exp: return Double.exp(x)
    case .log: return Double.log(x)
    case .log1p: return Double.log(onePlus: x)
    case .expm1: return Double.expMinusOne(x)
    case .sqrt: return x.squareRoot()
    case .square: return x * x
    case .reciprocal: return 1 / x
    case .abs: return Swift.abs(x)
    case .tanh: return Double.tanh(x)
    case .sigmoid: return 1 / (1 + Double.exp(-x))
    case .softplus: return Double.log(onePlus: Double.exp(x))
    case .logSigmoid: return -Double.log(onePlus: Double.exp(-x))
    case .relu: return Swift.max(x, 0)
    case .elu: return x > 0 ? x : Double.expMinusOne(x)
    case .lgamma: return Foundation.lgamma(x)
    case .digamma: return SpecialFunctions.digamma(x)
    case .trigamma: return SpecialFunctions.trigamma(x)
    }
}

public func ref(_ x: [Double], _ rows: Int, _ cols: Int, _ i: Int, _ j: Int, transposed: Bool) -> Double {
    transposed ? x[j * rows + i] : x[i * cols + j]
}

/// Inputs inside each op's domain and away from its kinks (finite differences need smoothness).
public func smoothDomain(_ op: UnaryOp) -> ClosedRange<Double> {
    switch op {
    case .log, .sqrt: return 0.1...5
    case .log1p: return -0.9...5
    case .reciprocal: return 0.2...5
    case .abs, .relu, .elu: return 0.05...5  // sign flipped for half the points below
    case .lgamma, .digamma: return 0.05...30
    case .trigamma: return 0.1...30
    case .tanh, .sigmoid, .softplus, .logSigmoid: return -8...8
    default: return -5...5
    }
}

public func smoothInputs(_ op: UnaryOp, count: Int, seed: UInt64) -> [Float] {
    var rng = TestRandom(seed: seed)
    var xs = rng.floats(count, in: smoothDomain(op))
    if [.abs, .relu, .elu].contains(op) { for i in stride(from: 0, to: count, by: 2) { xs[i] = -xs[i] } }
    return xs
}

/// op(a) · op(b) in float64, with the stored shapes.
public func referenceMatmul(_ a: [Double], _ ar: Int, _ ac: Int, _ ta: Bool, _ b: [Double], _ br: Int, _ bc: Int, _ tb: Bool) -> [Double] {
    let m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            for p in 0..<k {
                c[i * n + j] += (ta ? a[p * ac + i] : a[i * ac + p]) * (tb ? b[j * bc + p] : b[p * bc + j])
            }
        }
    }
    return c
}

public func referenceBroadcast(_ op: BinaryOp, _ a: [Double], _ b: [Double], _ rows: Int, _ cols: Int, _ broadcast: Broadcast) -> [Double] {
    (0..<(rows * cols)).map { i in
        let y = switch broadcast {
        case .none: b[i]
        case .row: b[i % cols]
        case .column: b[i / cols]
        case .scalar: b[0]
        }
        return switch op {
        case .add: a[i] + y
        case .sub: a[i] - y
        case .mul: a[i] * y
        case .div: a[i] / y
        case .max: Swift.max(a[i], y)
        case .min: Swift.min(a[i], y)
        }
    }
}

public func referenceRowReduce(_ x: [Double], _ rows: Int, _ cols: Int, _ axis: ReductionAxis, _ f: ([Double]) -> Double) -> [Double] {
    axis == .eachRow
        ? (0..<rows).map { r in f(Array(x[(r * cols)..<(r * cols + cols)])) }
        : (0..<cols).map { c in f((0..<rows).map { x[$0 * cols + c] }) }
}

/// Dense float64 algebra of one batch row.
public enum DenseGaussian {
    public typealias Matrix = [[Double]]

    /// L from the log-variances of its diagonal (L_aa = e^(-lv/2)) and its strictly-lower non-zeros, row by row: row a of
    /// block r = a / c reaches back to the first column of block r - 1 (of block 0 for r = 0).
    public static func factor(_ lv: [Double], _ off: [Double], blockSize c: Int) -> Matrix {
        let n = lv.count
        var l = Matrix(repeating: [Double](repeating: 0, count: n), count: n)
        var k = 0
        for a in 0..<n {
            let first = a / c == 0 ? 0 : (a / c - 1) * c
            for j in first..<a { l[a][j] = off[k]; k += 1 }
            l[a][a] = Foundation.exp(-lv[a] / 2)
        }
        precondition(k == off.count, "\(off.count) off-diagonals for \(k) slots")
        return l
    }

    public static func product(_ a: Matrix, _ b: Matrix) -> Matrix {
        a.indices.map { i in b[0].indices.map { j in b.indices.reduce(0.0) { $0 + a[i][$1] * b[$1][j] } } }
    }

    public static func transpose(_ a: Matrix) -> Matrix { a[0].indices.map { j in a.indices.map { a[$0][j] } } }

    public static func cholesky(_ p: Matrix) -> Matrix {
        let n = p.count
        var l = Matrix(repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in 0...i {
                let s = (0..<j).reduce(p[i][j]) { $0 - l[i][$1] * l[j][$1] }
                l[i][j] = i == j ? s.squareRoot() : s / l[j][j]
            }
        }
        return l
    }

    /// Gauss-Jordan with partial pivoting.
    public static func inverse(_ a: Matrix) -> Matrix {
        let n = a.count
        var m = a.indices.map { i in a[i] + (0..<n).map { $0 == i ? 1.0 : 0.0 } }
        for col in 0..<n {
            let pivot = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            m.swapAt(col, pivot)
            let d = m[col][col]
            m[col] = m[col].map { $0 / d }
            for r in 0..<n where r != col {
                let f = m[r][col]
                m[r] = zip(m[r], m[col]).map { $0 - f * $1 }
            }
        }
        return m.map { Array($0[n...]) }
    }

    public static func precision(_ lv: [Double], _ off: [Double], _ c: Int) -> Matrix {
        let l = factor(lv, off, blockSize: c)
        return product(l, transpose(l))
    }

    /// log det P from P's own Cholesky factor (not from L).
    public static func logDeterminant(_ p: Matrix) -> Double { 2 * cholesky(p).indices.reduce(0.0) { $0 + Foundation.log(cholesky(p)[$1][$1]) } }

    public static func kl(_ mean: [Double], _ lv: [Double], _ off: [Double], _ c: Int) -> Double {
        let p = precision(lv, off, c), sigma = inverse(p), n = mean.count
        let trace = (0..<n).reduce(0.0) { $0 + sigma[$1][$1] }
        return 0.5 * (trace + mean.reduce(0.0) { $0 + $1 * $1 } - Double(n) + logDeterminant(p))
    }

    public static func logDensity(_ z: [Double], _ mean: [Double], _ lv: [Double], _ off: [Double], _ c: Int) -> Double {
        let p = precision(lv, off, c), n = z.count, r = zip(z, mean).map { $0 - $1 }
        var quadratic = 0.0  // loops, not nested reduce closures: those took the type checker 2 s of every build
        for i in 0..<n { for j in 0..<n { quadratic += r[i] * p[i][j] * r[j] } }
        return -0.5 * (Double(n) * Foundation.log(2 * Double.pi) - logDeterminant(p) + quadratic)
    }

    /// mean + v with Lᵀ v = noise, by dense back substitution.
    public static func sample(_ mean: [Double], _ lv: [Double], _ off: [Double], _ noise: [Double], _ c: Int) -> [Double] {
        let l = factor(lv, off, blockSize: c), n = mean.count
        var v = [Double](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            v[i] = ((i + 1)..<n).reduce(noise[i]) { $0 - l[$1][i] * v[$1] } / l[i][i]
        }
        return zip(mean, v).map { $0 + $1 }
    }
}
