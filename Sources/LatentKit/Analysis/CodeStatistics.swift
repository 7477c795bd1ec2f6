// Unsupervised statistics of a set of codes, on the host in double precision (nz is tens to hundreds, the work
// is one pass over the codes and an nz × nz eigenproblem): Burda et al.'s unit activity and the PCA spectrum.

import Foundation

/// What a unit's activity Cov_x(·) is taken of.
public enum ActivityMeasure: String, Sendable {
    /// E_q[u|x] itself (Burda et al.): the Gaussian mean, the logit-normal's logit mean, a discrete unit's probability.
    case posteriorMean = "posterior-mean"
    /// clr(E_q[z|x])_u, the centred log-ratio of the posterior mean on the simplex (Dirichlet, Concrete, softmax-Gaussian).
    case centredLogRatio = "clr-posterior-mean"

    /// How the command lines name the quantity.
    public var formula: String { self == .posteriorMean ? "Cov_x E_q[u|x]" : "Cov_x clr(E_q[z|x])_u" }
}

extension LatentFamily {
    /// Simplex codes are measured on their log-ratios: their shares are confined to [0, 1].
    public var activityMeasure: ActivityMeasure { hasSimplexCodes ? .centredLogRatio : .posteriorMean }
}

public enum CodeStatistics {
    /// The mean of each column of the `count × size` row-major `values`.
    public static func columnMeans(_ values: [Float], count: Int, size: Int) -> [Double] {
        var mean = [Double](repeating: 0, count: size)
        for i in 0..<count { for j in 0..<size { mean[j] += Double(values[i * size + j]) } }
        return mean.map { $0 / Double(max(count, 1)) }
    }

    /// The sample covariance (denominator n - 1) of the columns, `size × size` row-major.
    public static func covariance(_ values: [Float], count: Int, size: Int) -> [Double] {
        let mean = columnMeans(values, count: count, size: size)
        var cov = [Double](repeating: 0, count: size * size)
        var centred = [Double](repeating: 0, count: size)
        for i in 0..<count {
            for j in 0..<size { centred[j] = Double(values[i * size + j]) - mean[j] }
            for a in 0..<size where centred[a] != 0 {
                let ca = centred[a]
                for b in a..<size { cov[a * size + b] += ca * centred[b] }
            }
        }
        let scale = 1 / Double(max(count - 1, 1))
        for a in 0..<size {
            for b in a..<size {
                cov[a * size + b] *= scale
                cov[b * size + a] = cov[a * size + b]
            }
        }
        return cov
    }

    /// Burda et al.'s activity of each unit u, A_u = Cov_x(E_q[u|x]): the variance of each column of the codes,
    /// measured as `measure` says (simplex codes of `groupSize` shares: on their centred log-ratios).
    public static func unitActivity(_ codes: LatentCodes, measure: ActivityMeasure = .posteriorMean, groupSize: Int? = nil) -> [Double] {
        unitActivity(codes.values, count: codes.count, size: codes.size, measure: measure, groupSize: groupSize)
    }

    /// The same for `count` codes of `size` values, row-major, without labels (what `eval` has).
    public static func unitActivity(_ values: [Float], count: Int, size: Int, measure: ActivityMeasure, groupSize: Int? = nil) -> [Double] {
        let measured = measure == .centredLogRatio
            ? centredLogRatio(values, count: count, size: size, groupSize: groupSize ?? size) : values
        return columnVariances(measured, count: count, size: size)
    }

    /// The sample variance (denominator n − 1) of each column of the `count × size` row-major `values`.
    public static func columnVariances(_ values: [Float], count: Int, size: Int) -> [Double] {
        let mean = columnMeans(values, count: count, size: size)
        var variance = [Double](repeating: 0, count: size)
        for i in 0..<count {
            for j in 0..<size {
                let d = Double(values[i * size + j]) - mean[j]
                variance[j] += d * d
            }
        }
        return variance.map { $0 / Double(max(count - 1, 1)) }
    }

    /// The centred log-ratio of each group of `groupSize` probabilities in the `count × size` row-major `values`:
    /// clr(p)_i = log p_i − (1/G) Σ_j log p_j (Aitchison). A share of a simplex code lies in [0, 1], so its variance
    /// over the data stays small however much the code moves (a unit of 20 near 1/20 varies by less than 0.01 even
    /// when it doubles); the log-ratios are the simplex's own coordinates, and they are constant exactly when the
    /// code is. A probability that underflowed to 0 in single precision is read as the smallest positive float.
    public static func centredLogRatio(_ values: [Float], count: Int, size: Int, groupSize: Int) -> [Float] {
        precondition(groupSize >= 1 && size % groupSize == 0, "groups of \(groupSize) do not tile codes of size \(size)")
        var out = [Float](repeating: 0, count: values.count)
        var logs = [Double](repeating: 0, count: groupSize)
        for start in stride(from: 0, to: count * size, by: groupSize) {
            for j in 0..<groupSize { logs[j] = Foundation.log(Double(max(values[start + j], Float.leastNonzeroMagnitude))) }
            let mean = logs.reduce(0, +) / Double(groupSize)
            for j in 0..<groupSize { out[start + j] = Float(logs[j] - mean) }
        }
        return out
    }

    /// The eigenvalues of the symmetric `n × n` matrix, in descending order.
    public static func symmetricEigenvalues(_ matrix: [Double], size n: Int) -> [Double] {
        symmetricEigensystem(matrix, size: n).values
    }

    /// The eigenvalues of the symmetric `n × n` matrix in descending order, with the unit eigenvector of each (row
    /// `i` of `vectors` belongs to `values[i]`), by cyclic Jacobi rotations (Golub and Van Loan, Algorithm 8.4.3):
    /// accurate to a few ulps of the largest eigenvalue and simple; n is at most a few hundred here (a latent space).
    /// PCA of the codes and t-SNE's projection both use it.
    public static func symmetricEigensystem(_ matrix: [Double], size n: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix, v = [Double](repeating: 0, count: n * n)
        for r in 0..<n { v[r * n + r] = 1 }
        for _ in 0..<100 {
            var off = 0.0, total = 0.0
            for p in 0..<n {
                for q in 0..<n {
                    total += a[p * n + q] * a[p * n + q]
                    if p != q { off += a[p * n + q] * a[p * n + q] }
                }
            }
            if off <= 1e-26 * total { break }
            for p in 0..<n {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    // the rotation J that zeroes a[p][q] (Algorithm 8.4.1)
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {  // A ← A·J
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {  // A ← Jᵀ·A
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {  // V ← V·J: the eigenvectors are V's columns
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] > a[$1 * n + $1] }
        return (order.map { a[$0 * n + $0] }, order.flatMap { c in (0..<n).map { v[$0 * n + c] } })
    }
}

/// The spectrum of the codes' covariance.
public struct PCAResult: Sendable {
    /// Eigenvalues of the sample covariance, largest first (the variance along each principal axis).
    public let explainedVariance: [Double]
    public var explainedVarianceRatio: [Double] {
        let total = explainedVariance.reduce(0) { $0 + max($1, 0) }
        return explainedVariance.map { total > 0 ? max($0, 0) / total : 0 }
    }

    /// The fewest leading components whose ratios add up to at least `fraction` (0.95 in the report).
    public func components(for fraction: Double) -> Int {
        var sum = 0.0
        for (i, r) in explainedVarianceRatio.enumerated() {
            sum += r
            if sum >= fraction - 1e-12 { return i + 1 }
        }
        return explainedVariance.count
    }

    public init(_ codes: LatentCodes) {
        explainedVariance = CodeStatistics.symmetricEigenvalues(
            CodeStatistics.covariance(codes.values, count: codes.count, size: codes.size), size: codes.size)
    }
}
