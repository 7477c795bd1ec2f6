// The gradient descent of Barnes-Hut t-SNE and its quadtree (see TSNE.swift for the input affinities).

import Foundation

extension TSNE {
    /// Gradient descent on KL(P‖Q) from a small random embedding; returns x, y of each point.
    func optimise(_ p: Affinities, count n: Int) -> [Double] {
        var random = SplitMix64(seed: seed)
        var y = (0..<(2 * n)).map { _ in 1e-4 * random.nextNormal() }
        var update = [Double](repeating: 0, count: 2 * n), gains = [Double](repeating: 1, count: 2 * n)
        var attractive = [Double](repeating: 0, count: 2 * n), repulsive = [Double](repeating: 0, count: 2 * n)
        var normaliser = [Double](repeating: 0, count: n)
        let eta = learningRate ?? max(Double(n) / earlyExaggeration / 4, 50)
        let theta = self.theta, threads = self.threads
        for iteration in 0..<iterations {
            let exaggerating = iteration < exaggerationIterations
            let exaggeration = exaggerating ? earlyExaggeration : 1, momentum = exaggerating ? initialMomentum : finalMomentum
            let tree = BarnesHutTree(y, count: n)
            p.rowStart.withUnsafeBufferPointer { rowStart in
            p.column.withUnsafeBufferPointer { column in
            p.value.withUnsafeBufferPointer { value in
            y.withUnsafeBufferPointer { ys in
                attractive.withUnsafeMutableBufferPointer { attr in
                    repulsive.withUnsafeMutableBufferPointer { rep in
                        normaliser.withUnsafeMutableBufferPointer { z in
                            Self.parallelRanges(n, threads: threads) { range in
                                var stack: [Int32] = []
                                stack.reserveCapacity(256)
                                for i in range {
                                    let xi = ys[2 * i], yi = ys[2 * i + 1]
                                    // attraction along the sparse affinities: Σ_j p_ij q_ij Z (y_i − y_j)
                                    var fx = 0.0, fy = 0.0
                                    for e in rowStart[i]..<rowStart[i + 1] {
                                        let j = Int(column[e])
                                        let dx = xi - ys[2 * j], dy = yi - ys[2 * j + 1]
                                        let w = value[e] / (1 + dx * dx + dy * dy)
                                        fx += w * dx
                                        fy += w * dy
                                    }
                                    attr[2 * i] = fx
                                    attr[2 * i + 1] = fy
                                    let r = tree.repulsion(on: i, x: xi, y: yi, theta: theta, stack: &stack)
                                    rep[2 * i] = r.x
                                    rep[2 * i + 1] = r.y
                                    z[i] = r.normaliser
                                }
                            }
                        }
                    }
                }
            }
            }}}
            let z = normaliser.reduce(0, +)  // in index order: the same sum whatever the threads did
            var meanX = 0.0, meanY = 0.0
            for k in 0..<(2 * n) {
                let gradient = 4 * (exaggeration * attractive[k] - repulsive[k] / z)
                // gains grow where the gradient keeps its direction against the last step, shrink where it turns
                gains[k] = (gradient > 0) != (update[k] > 0) ? gains[k] + 0.2 : max(gains[k] * 0.8, 0.01)
                update[k] = momentum * update[k] - eta * gains[k] * gradient
                y[k] += update[k]
                if k % 2 == 0 { meanX += y[k] } else { meanY += y[k] }
            }
            meanX /= Double(n)
            meanY /= Double(n)
            for i in 0..<n {
                y[2 * i] -= meanX
                y[2 * i + 1] -= meanY
            }
        }
        return y
    }
}

/// A point-region quadtree over the embedding with each cell's point count and centre of mass. Cells are kept in
/// parallel arrays; a cell's four children are contiguous.
struct BarnesHutTree {
    var centreX: [Double] = [], centreY: [Double] = [], halfWidth: [Double] = []
    var massX: [Double] = [], massY: [Double] = []
    var count: [Int32] = []
    /// -1 for a leaf.
    var firstChild: [Int32] = []
    /// A leaf's point (for a leaf holding several, one of them); -1 when empty or not a leaf.
    var point: [Int32] = []
    /// Beyond this depth a leaf keeps every point that reaches it (coinciding points would otherwise split forever).
    static let maximumDepth = 48

    init(_ y: [Double], count n: Int) {
        var minX = Double.infinity, maxX = -Double.infinity, minY = Double.infinity, maxY = -Double.infinity
        for i in 0..<n {
            minX = min(minX, y[2 * i]); maxX = max(maxX, y[2 * i])
            minY = min(minY, y[2 * i + 1]); maxY = max(maxY, y[2 * i + 1])
        }
        let reserve = 2 * n + 4
        for a in [\BarnesHutTree.centreX, \.centreY, \.halfWidth, \.massX, \.massY] { self[keyPath: a].reserveCapacity(reserve) }
        count.reserveCapacity(reserve)
        firstChild.reserveCapacity(reserve)
        point.reserveCapacity(reserve)
        addCell(x: (minX + maxX) / 2, y: (minY + maxY) / 2, half: max(maxX - minX, maxY - minY) / 2 * (1 + 1e-9) + 1e-9)
        for i in 0..<n { insert(Int32(i), y[2 * i], y[2 * i + 1], y) }
        for c in 0..<count.count where count[c] > 0 {
            massX[c] /= Double(count[c])
            massY[c] /= Double(count[c])
        }
    }

    mutating func addCell(x: Double, y: Double, half: Double) {
        centreX.append(x); centreY.append(y); halfWidth.append(half)
        massX.append(0); massY.append(0); count.append(0); firstChild.append(-1); point.append(-1)
    }

    mutating func insert(_ i: Int32, _ px: Double, _ py: Double, _ y: [Double]) {
        var cell = 0, depth = 0
        while true {
            if firstChild[cell] < 0 {
                if count[cell] == 0 {
                    point[cell] = i
                    count[cell] = 1; massX[cell] = px; massY[cell] = py
                    return
                }
                let resident = Int(point[cell])
                if (y[2 * resident] == px && y[2 * resident + 1] == py) || depth >= Self.maximumDepth {
                    count[cell] += 1; massX[cell] += px; massY[cell] += py
                    return
                }
                // split: the resident mass (one point, or copies of one point) moves to its quadrant
                let h = halfWidth[cell] / 2
                firstChild[cell] = Int32(count.count)
                for q in 0..<4 { addCell(x: centreX[cell] + (q & 1 == 1 ? h : -h), y: centreY[cell] + (q & 2 == 2 ? h : -h), half: h) }
                let child = Int(firstChild[cell]) + quadrant(cell, y[2 * resident], y[2 * resident + 1])
                count[child] = count[cell]; massX[child] = massX[cell]; massY[child] = massY[cell]; point[child] = point[cell]
                point[cell] = -1
            }
            count[cell] += 1; massX[cell] += px; massY[cell] += py
            cell = Int(firstChild[cell]) + quadrant(cell, px, py)
            depth += 1
        }
    }

    @inline(__always)
    func quadrant(_ cell: Int, _ px: Double, _ py: Double) -> Int { (px >= centreX[cell] ? 1 : 0) + (py >= centreY[cell] ? 2 : 0) }

    /// Σ_j q_ij² Z² (y_i − y_j) and Σ_j q_ij Z over all j ≠ i, a cell of width w at distance D standing for its
    /// points when w / D < θ (w the full width, scikit-learn's convention).
    func repulsion(on i: Int, x px: Double, y py: Double, theta: Double, stack: inout [Int32]) -> (x: Double, y: Double, normaliser: Double) {
        var fx = 0.0, fy = 0.0, z = 0.0
        let theta2 = theta * theta
        stack.removeAll(keepingCapacity: true)
        stack.append(0)
        count.withUnsafeBufferPointer { count in
        firstChild.withUnsafeBufferPointer { firstChild in
        massX.withUnsafeBufferPointer { massX in
        massY.withUnsafeBufferPointer { massY in
        halfWidth.withUnsafeBufferPointer { halfWidth in
        point.withUnsafeBufferPointer { point in
            while let top = stack.popLast() {
                let c = Int(top)
                var n = Double(count[c])
                if n == 0 { continue }
                let leaf = firstChild[c] < 0
                if leaf && Int(point[c]) == i {
                    n -= 1  // not the point itself
                    if n == 0 { continue }
                }
                let dx = px - massX[c], dy = py - massY[c], d2 = dx * dx + dy * dy
                let width = 2 * halfWidth[c]
                if leaf || width * width < theta2 * d2 {
                    let q = 1 / (1 + d2)
                    z += n * q
                    let m = n * q * q
                    fx += m * dx
                    fy += m * dy
                } else {
                    let first = firstChild[c]
                    stack.append(first); stack.append(first + 1); stack.append(first + 2); stack.append(first + 3)
                }
            }
        }}}}}}
        return (fx, fy, z)
    }
}

/// SplitMix64 (Steele et al.): a small seeded generator for the initial embedding.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1): the top 53 bits, offset by half a step.
    mutating func nextUniform() -> Double { (Double(next() >> 11) + 0.5) / 9_007_199_254_740_992 }

    /// A standard normal by Box-Muller (one of the pair).
    mutating func nextNormal() -> Double {
        let u = nextUniform(), v = nextUniform()
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v)
    }
}
