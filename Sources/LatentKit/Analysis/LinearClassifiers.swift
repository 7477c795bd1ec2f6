// The linear classifiers of paper 000's Fig. 4, on the host in double precision: codes have tens to hundreds of
// dimensions, so a pass over 60,000 codes is a few tens of milliseconds (measured in the README) and the device
// would add transfers without saving time. Both are deterministic: fixed chunking, fixed summation order.

import Foundation

/// Column means and standard deviations of a training set; a constant column keeps its scale (divides by 1).
public struct Standardiser: Sendable {
    public let mean: [Double]
    public let scale: [Double]

    public init(_ codes: LatentCodes) {
        let d = codes.size, n = Double(max(codes.count, 1))
        let mean = CodeStatistics.columnMeans(codes.values, count: codes.count, size: d)
        var variance = [Double](repeating: 0, count: d)
        for i in 0..<codes.count {
            for j in 0..<d {
                let v = Double(codes.values[i * d + j]) - mean[j]
                variance[j] += v * v
            }
        }
        self.mean = mean
        scale = variance.map { $0 > 0 ? ($0 / n).squareRoot() : 1 }
    }

    public func apply(_ codes: LatentCodes) -> [Double] {
        let d = codes.size
        return codes.values.indices.map { (Double(codes.values[$0]) - mean[$0 % d]) / scale[$0 % d] }
    }
}

/// Multinomial logistic regression (softmax regression) on standardised codes, minimising the mean negative
/// log-likelihood plus (l2/2)·||W||² (biases not penalised) by L-BFGS to a gradient below `tolerance`.
public struct LogisticRegression: Sendable {
    public let classes: Int
    public let size: Int
    /// `classes × (size + 1)`, row-major; the last column is the bias.
    public private(set) var weights: [Double]
    public let standardiser: Standardiser
    public private(set) var iterations = 0
    public private(set) var finalGradientNorm = 0.0

    public init(train: LatentCodes, l2: Double = 1e-4, tolerance: Double = 1e-6, maxIterations: Int = 1000) throws {
        try require(train.count > 0, "logistic regression needs training codes")
        classes = Int(train.labels.max() ?? 0) + 1
        size = train.size
        standardiser = Standardiser(train)
        weights = [Double](repeating: 0, count: classes * (size + 1))
        let x = standardiser.apply(train)
        let (c, d, labels) = (classes, size, train.labels)
        (weights, iterations, finalGradientNorm) = LBFGS.minimise(weights, tolerance: tolerance, maxIterations: maxIterations) {
            Self.lossAndGradient($0, x: x, labels: labels, classes: c, size: d, l2: l2)
        }
    }

    /// The loss and its gradient, summed over 8 fixed chunks of rows (in parallel, then in chunk order).
    static func lossAndGradient(_ w: [Double], x: [Double], labels: [Int32], classes c: Int, size d: Int, l2: Double) -> (Double, [Double]) {
        let n = labels.count, chunks = 8, width = d + 1
        var losses = [Double](repeating: 0, count: chunks)
        var gradients = [[Double]](repeating: [Double](repeating: 0, count: c * width), count: chunks)
        losses.withUnsafeMutableBufferPointer { lossOut in
            gradients.withUnsafeMutableBufferPointer { gradOut in
                parallelFor(iterations: chunks) { chunk in
                    var g = [Double](repeating: 0, count: c * width), z = [Double](repeating: 0, count: c)
                    var loss = 0.0
                    for i in stride(from: chunk * n / chunks, to: (chunk + 1) * n / chunks, by: 1) {
                        let row = i * d
                        var top = -Double.infinity
                        for k in 0..<c {
                            var s = w[k * width + d]
                            for j in 0..<d { s += w[k * width + j] * x[row + j] }
                            z[k] = s
                            top = max(top, s)
                        }
                        let y = Int(labels[i])
                        let logitOfLabel = z[y]
                        var sum = 0.0
                        for k in 0..<c { z[k] = Foundation.exp(z[k] - top); sum += z[k] }
                        loss += Foundation.log(sum) + top - logitOfLabel
                        for k in 0..<c {
                            let residual = z[k] / sum - (k == y ? 1 : 0)
                            for j in 0..<d { g[k * width + j] += residual * x[row + j] }
                            g[k * width + d] += residual
                        }
                    }
                    lossOut[chunk] = loss
                    gradOut[chunk] = g
                }
            }
        }
        var loss = 0.0, gradient = [Double](repeating: 0, count: c * width)
        for chunk in 0..<chunks {
            loss += losses[chunk]
            for e in 0..<gradient.count { gradient[e] += gradients[chunk][e] }
        }
        loss /= Double(n)
        for e in 0..<gradient.count {
            gradient[e] /= Double(n)
            if e % width != d {  // the weights, not the biases
                loss += 0.5 * l2 * w[e] * w[e]
                gradient[e] += l2 * w[e]
            }
        }
        return (loss, gradient)
    }

    /// The most probable class of each code (ties: the lower class).
    public func predict(_ codes: LatentCodes) -> [Int32] {
        let x = standardiser.apply(codes), width = size + 1
        return (0..<codes.count).map { i in
            var best = 0, bestScore = -Double.infinity
            for k in 0..<classes {
                var s = weights[k * width + size]
                for j in 0..<size { s += weights[k * width + j] * x[i * size + j] }
                if s > bestScore { best = k; bestScore = s }
            }
            return Int32(best)
        }
    }
}

/// Limited-memory BFGS (Nocedal and Wright, Algorithm 7.4) with a backtracking Armijo line search.
enum LBFGS {
    static func minimise(_ start: [Double], tolerance: Double, maxIterations: Int, memory: Int = 10,
                         _ f: ([Double]) -> (Double, [Double])) -> (x: [Double], iterations: Int, gradientNorm: Double) {
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        var x = start
        var (fx, g) = f(x)
        var s: [[Double]] = [], y: [[Double]] = []
        var iteration = 0
        while iteration < maxIterations {
            if (g.map(abs).max() ?? 0) < tolerance { break }
            iteration += 1
            // two-loop recursion: direction = -H g
            var q = g, alphas: [Double] = []
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                let a = dot(s[i], q) / dot(y[i], s[i])
                alphas.append(a)
                for e in q.indices { q[e] -= a * y[i][e] }
            }
            let gamma = s.isEmpty ? 1 / max(1, dot(g, g).squareRoot()) : dot(s.last!, y.last!) / dot(y.last!, y.last!)
            for e in q.indices { q[e] *= gamma }
            for (n, i) in s.indices.enumerated() {
                let b = dot(y[i], q) / dot(y[i], s[i])
                let a = alphas[s.count - 1 - n]
                for e in q.indices { q[e] += s[i][e] * (a - b) }
            }
            var direction = q.map { -$0 }
            var slope = dot(g, direction)
            if slope >= 0 {  // not a descent direction (rounding): restart from steepest descent
                s.removeAll(); y.removeAll()
                direction = g.map { -$0 / max(1, dot(g, g).squareRoot()) }
                slope = dot(g, direction)
            }
            var step = 1.0, accepted = false
            var next = x, fNext = fx, gNext = g
            while step > 1e-20 {
                next = zip(x, direction).map { $0 + step * $1 }
                (fNext, gNext) = f(next)
                if fNext <= fx + 1e-4 * step * slope { accepted = true; break }
                step *= 0.5
            }
            if !accepted { break }
            let sk = zip(next, x).map { $0 - $1 }, yk = zip(gNext, g).map { $0 - $1 }
            if dot(sk, yk) > 1e-12 * dot(yk, yk).squareRoot() * dot(sk, sk).squareRoot() {
                s.append(sk); y.append(yk)
                if s.count > memory { s.removeFirst(); y.removeFirst() }
            }
            let decrease = fx - fNext
            x = next; fx = fNext; g = gNext
            if decrease <= 1e-15 * max(1, abs(fx)) { break }
        }
        return (x, iteration, g.map(abs).max() ?? 0)
    }
}

/// Linear discriminant analysis: Gaussian classes with a shared covariance (pooled within-class, plus a ridge of
/// 1e-6 of its mean variance: simplex codes sum to one, so their covariance is singular) and the training priors.
public struct LinearDiscriminant: Sendable {
    public let classes: Int
    public let size: Int
    /// Σ⁻¹ μ_c per class (`classes × size`) and the constants -μ_cᵀΣ⁻¹μ_c / 2 + log π_c.
    let directions: [Double]
    let offsets: [Double]

    public init(train: LatentCodes, ridge: Double = 1e-6) throws {
        try require(train.count > 0, "LDA needs training codes")
        let d = train.size, c = Int(train.labels.max() ?? 0) + 1
        classes = c
        size = d
        var means = [Double](repeating: 0, count: c * d), counts = [Int](repeating: 0, count: c)
        for i in 0..<train.count {
            let k = Int(train.labels[i])
            counts[k] += 1
            for j in 0..<d { means[k * d + j] += Double(train.values[i * d + j]) }
        }
        for k in 0..<c where counts[k] > 0 { for j in 0..<d { means[k * d + j] /= Double(counts[k]) } }
        var cov = [Double](repeating: 0, count: d * d), centred = [Double](repeating: 0, count: d)
        for i in 0..<train.count {
            let k = Int(train.labels[i])
            for j in 0..<d { centred[j] = Double(train.values[i * d + j]) - means[k * d + j] }
            for a in 0..<d { for b in a..<d { cov[a * d + b] += centred[a] * centred[b] } }
        }
        let present = counts.filter { $0 > 0 }.count
        let denominator = Double(max(train.count - present, 1))
        var trace = 0.0
        for a in 0..<d {
            for b in a..<d { cov[a * d + b] /= denominator; cov[b * d + a] = cov[a * d + b] }
            trace += cov[a * d + a]
        }
        let epsilon = ridge * max(trace / Double(d), 1e-12)
        for a in 0..<d { cov[a * d + a] += epsilon }
        let factor = try Cholesky(cov, size: d)
        var directions = [Double](repeating: 0, count: c * d), offsets = [Double](repeating: -.infinity, count: c)
        for k in 0..<c where counts[k] > 0 {
            let mu = Array(means[(k * d)..<((k + 1) * d)])
            let a = factor.solve(mu)
            for j in 0..<d { directions[k * d + j] = a[j] }
            offsets[k] = -0.5 * zip(mu, a).reduce(0) { $0 + $1.0 * $1.1 } + Foundation.log(Double(counts[k]) / Double(train.count))
        }
        self.directions = directions
        self.offsets = offsets
    }

    /// The class of largest discriminant xᵀΣ⁻¹μ_c - μ_cᵀΣ⁻¹μ_c / 2 + log π_c (ties: the lower class).
    public func predict(_ codes: LatentCodes) -> [Int32] {
        (0..<codes.count).map { i in
            var best = 0, bestScore = -Double.infinity
            for k in 0..<classes where offsets[k] > -.infinity {
                var s = offsets[k]
                for j in 0..<size { s += directions[k * size + j] * Double(codes.values[i * size + j]) }
                if s > bestScore { best = k; bestScore = s }
            }
            return Int32(best)
        }
    }
}

/// The Cholesky factor L (A = L Lᵀ) of a symmetric positive-definite matrix, for solving A x = b.
struct Cholesky {
    let l: [Double]
    let n: Int

    init(_ a: [Double], size n: Int) throws {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard s > 0 else { throw DataError("the codes' covariance is not positive definite (pivot \(i): \(s))") }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        self.l = l
        self.n = n
    }

    func solve(_ b: [Double]) -> [Double] {
        var y = b
        for i in 0..<n {
            for k in 0..<i { y[i] -= l[i * n + k] * y[k] }
            y[i] /= l[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            for k in (i + 1)..<n { y[i] -= l[k * n + i] * y[k] }
            y[i] /= l[i * n + i]
        }
        return y
    }
}
