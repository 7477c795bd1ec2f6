// Barnes-Hut t-SNE (van der Maaten 2014, "Accelerating t-SNE using tree-based algorithms") on the host:
// PCA to at most 50 dimensions, input affinities from the 3·perplexity nearest neighbours (exact, by brute force:
// n² distances over ≤ 50 dimensions: 1.6 s for 10,000 points of 20 here), the attractive forces over those sparse
// affinities and the repulsive ones from a quadtree with the opening criterion width/distance < θ. Optimisation as
// in the reference implementation: early exaggeration, momentum 0.5 then 0.8, per-coordinate gains.
// Deterministic for a seed: the initial embedding comes from a seeded generator, and the parallel loops write
// per-point results that are then summed in a fixed order.

import Foundation

public struct TSNE: Sendable {
    public var perplexity = 30.0
    /// Barnes-Hut opening angle: a cell is summarised when its width / distance < θ (0: exact, slow).
    public var theta = 0.5
    public var iterations = 1000
    public var earlyExaggeration = 12.0
    public var exaggerationIterations = 250
    /// nil: scikit-learn's "auto", max(n / exaggeration / 4, 50) (with the gradient's factor 4 included).
    public var learningRate: Double?
    public var initialMomentum = 0.5
    public var finalMomentum = 0.8
    /// PCA reduces wider inputs to this many dimensions before the affinities are computed.
    public var maximumInputDimensions = 50
    public var seed: UInt64 = 1
    /// Worker threads of the parallel loops.
    public var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public init() {}

    /// Embeds `count` points of `dimensions` coordinates (row-major) in the plane: `2·count` numbers, x then y of each.
    public func embed(_ data: [Float], count n: Int, dimensions d: Int) throws -> [Double] {
        try require(n >= 2 && d >= 1 && data.count == n * d, "t-SNE: \(data.count) numbers for \(n) points of \(d) dimensions")
        try require(data.allSatisfy(\.isFinite), "t-SNE: the input has non-finite values")
        try require(perplexity > 0 && theta >= 0 && iterations >= 0, "t-SNE: bad parameters")
        let (x, width) = Self.prepare(data, count: n, dimensions: d, maximumDimensions: maximumInputDimensions)
        let neighbours = min(n - 1, Int((3 * perplexity).rounded()))
        let affinities = Self.symmetricAffinities(x, count: n, dimensions: width, neighbours: neighbours,
                                                  perplexity: min(perplexity, Double(n - 1) / 3), threads: threads)
        return optimise(affinities, count: n)
    }

    // MARK: input

    /// Centred, PCA-reduced to at most `maximumDimensions`, scaled so that the largest |coordinate| is 1 (the
    /// reference implementation's normalisation, which keeps the perplexity search's β in a sane range).
    static func prepare(_ data: [Float], count n: Int, dimensions d: Int, maximumDimensions: Int) -> ([Double], Int) {
        var x = data.map(Double.init)
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += x[i * d + j] } }
        for j in 0..<d { mean[j] /= Double(n) }
        for i in 0..<n { for j in 0..<d { x[i * d + j] -= mean[j] } }
        var width = d
        if d > maximumDimensions {
            let components = principalAxes(x, count: n, dimensions: d, keep: maximumDimensions)
            var reduced = [Double](repeating: 0, count: n * maximumDimensions)
            for i in 0..<n {
                for c in 0..<maximumDimensions {
                    var s = 0.0
                    for j in 0..<d { s += x[i * d + j] * components[c * d + j] }
                    reduced[i * maximumDimensions + c] = s
                }
            }
            x = reduced
            width = maximumDimensions
        }
        let largest = x.map(abs).max() ?? 0
        if largest > 0 { x = x.map { $0 / largest } }
        return (x, width)
    }

    /// The `keep` leading eigenvectors (rows, unit length) of the covariance of the centred rows of `x`.
    public static func principalAxes(_ x: [Double], count n: Int, dimensions d: Int, keep: Int) -> [Double] {
        var a = [Double](repeating: 0, count: d * d)
        for i in 0..<n {
            for r in 0..<d {
                let xr = x[i * d + r]
                for c in r..<d { a[r * d + c] += xr * x[i * d + c] }
            }
        }
        for r in 0..<d { for c in r..<d { a[c * d + r] = a[r * d + c] } }
        return Array(CodeStatistics.symmetricEigensystem(a, size: d).vectors.prefix(keep * d))
    }

    /// Sparse symmetric affinities P (CSR, summing to 1): each point's Gaussian conditional over its nearest
    /// neighbours calibrated to the perplexity by bisection on β = 1/2σ², then (P + Pᵀ) / sum.
    struct Affinities {
        var rowStart: [Int]
        var column: [Int32]
        var value: [Double]
    }

    static func symmetricAffinities(_ x: [Double], count n: Int, dimensions d: Int, neighbours k: Int,
                                    perplexity: Double, threads: Int) -> Affinities {
        var index = [Int32](repeating: 0, count: n * k)
        var conditional = [Double](repeating: 0, count: n * k)
        let target = Foundation.log(perplexity)
        x.withUnsafeBufferPointer { xs in
            index.withUnsafeMutableBufferPointer { indexOut in
                conditional.withUnsafeMutableBufferPointer { pOut in
                    parallelRanges(n, threads: threads) { range in
                        var heapDistance = [Double](), heapIndex = [Int32]()
                        heapDistance.reserveCapacity(k)
                        heapIndex.reserveCapacity(k)
                        for i in range {
                            heapDistance.removeAll(keepingCapacity: true)
                            heapIndex.removeAll(keepingCapacity: true)
                            let xi = xs.baseAddress! + i * d
                            for j in 0..<n where j != i {
                                let xj = xs.baseAddress! + j * d
                                var s = 0.0
                                for c in 0..<d { let t = xi[c] - xj[c]; s += t * t }
                                pushNearest(s, Int32(j), &heapDistance, &heapIndex, capacity: k)
                            }
                            // the perplexity bisection on the squared distances
                            var beta = 1.0, lo = -Double.infinity, hi = Double.infinity
                            let dmin = heapDistance.min() ?? 0
                            var p = [Double](repeating: 0, count: heapDistance.count)
                            for _ in 0..<200 {
                                var sum = 0.0, weighted = 0.0
                                for m in 0..<p.count {
                                    // shifting by the smallest distance keeps exp from underflowing for large β
                                    p[m] = Foundation.exp(-beta * (heapDistance[m] - dmin))
                                    sum += p[m]
                                    weighted += (heapDistance[m] - dmin) * p[m]
                                }
                                let entropy = Foundation.log(sum) + beta * weighted / sum
                                for m in 0..<p.count { p[m] /= sum }
                                let gap = entropy - target
                                if abs(gap) < 1e-5 { break }
                                if gap > 0 {
                                    lo = beta
                                    beta = hi.isInfinite ? beta * 2 : (beta + hi) / 2
                                } else {
                                    hi = beta
                                    beta = lo.isInfinite ? beta / 2 : (beta + lo) / 2
                                }
                            }
                            for m in 0..<p.count {
                                indexOut[i * k + m] = heapIndex[m]
                                pOut[i * k + m] = p[m]
                            }
                        }
                    }
                }
            }
        }
        // symmetrise: every (i, j, p_j|i) also as (j, i, p_j|i); sorted by row then column, duplicates summed
        var entries: [(row: Int32, column: Int32, value: Double)] = []
        entries.reserveCapacity(2 * n * k)
        for i in 0..<n {
            for m in 0..<k {
                entries.append((Int32(i), index[i * k + m], conditional[i * k + m]))
                entries.append((index[i * k + m], Int32(i), conditional[i * k + m]))
            }
        }
        entries.sort { $0.row != $1.row ? $0.row < $1.row : $0.column < $1.column }
        var rowStart = [Int](repeating: 0, count: n + 1), column: [Int32] = [], value: [Double] = []
        column.reserveCapacity(entries.count)
        value.reserveCapacity(entries.count)
        var total = 0.0, e = 0
        for r in 0..<n {
            rowStart[r] = column.count
            while e < entries.count && Int(entries[e].row) == r {
                if column.count > rowStart[r] && column[column.count - 1] == entries[e].column {
                    value[value.count - 1] += entries[e].value
                } else {
                    column.append(entries[e].column)
                    value.append(entries[e].value)
                }
                total += entries[e].value
                e += 1
            }
        }
        rowStart[n] = column.count
        value = value.map { $0 / total }
        return Affinities(rowStart: rowStart, column: column, value: value)
    }

    /// Keeps the `capacity` smallest distances in a max-heap.
    @inline(__always)
    static func pushNearest(_ distance: Double, _ index: Int32, _ heap: inout [Double], _ indices: inout [Int32], capacity: Int) {
        if heap.count < capacity {
            heap.append(distance)
            indices.append(index)
            var c = heap.count - 1
            while c > 0 {
                let parent = (c - 1) / 2
                if heap[parent] >= heap[c] { break }
                heap.swapAt(parent, c)
                indices.swapAt(parent, c)
                c = parent
            }
        } else if distance < heap[0] {
            heap[0] = distance
            indices[0] = index
            var c = 0
            while true {
                let l = 2 * c + 1, r = l + 1
                var largest = c
                if l < heap.count && heap[l] > heap[largest] { largest = l }
                if r < heap.count && heap[r] > heap[largest] { largest = r }
                if largest == c { break }
                heap.swapAt(largest, c)
                indices.swapAt(largest, c)
                c = largest
            }
        }
    }

    /// Runs `body` over `threads` contiguous chunks of `0..<n` in parallel (the chunks are fixed, so results that
    /// each index writes for itself are deterministic).
    static func parallelRanges(_ n: Int, threads: Int, _ body: (Range<Int>) -> Void) {
        let chunks = max(1, min(n, threads * 4))
        parallelFor(iterations: chunks) { c in
            body((c * n / chunks)..<((c + 1) * n / chunks))
        }
    }
}
