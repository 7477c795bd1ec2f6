// The k smallest elements per row (nearest-neighbour search over a distance matrix) on the CPU: the
// specification of the order the OpenCL kernel in Kernels/Analysis.swift reproduces.

import LatentCore

/// The total order of ``Backend/smallestPerRow(_:rows:cols:k:intoValues:intoIndices:)``: numbers ascending,
/// NaN after every number, ties (equal values, -0 and +0 included) by the lower column. A total order makes the
/// result unique, so the two backends can be compared element for element.
@inline(__always)
func precedes(_ a: Float, _ ia: Int32, _ b: Float, _ ib: Int32) -> Bool {
    let aNaN = a.isNaN, bNaN = b.isNaN
    if aNaN != bNaN { return bNaN }
    if !aNaN && a != b { return a < b }
    return ia < ib
}

extension CPUBackend {
    public func smallestPerRow(_ x: Buffer, rows: Int, cols: Int, k: Int, intoValues values: Buffer, intoIndices indices: Buffer) throws {
        let xs = try host(x, "smallestPerRow input"), vs = try host(values, "smallestPerRow values")
        let ix = try host(indices, "smallestPerRow indices")
        try checkSmallestPerRow(xs, rows: rows, cols: cols, k: k, vs, ix)
        let src = xs.floats, outV = vs.floats, outI = ix.ints
        parallelChunks(rows, grain: max(1, (1 << 16) / max(cols, 1))) { range in
            // A sorted list of the best k seen so far: one comparison per element once the list is full, which is
            // all a k-NN search (k << cols) needs. For large k a full sort of the row's indices is cheaper.
            var bestV = [Float](repeating: 0, count: k), bestI = [Int32](repeating: 0, count: k)
            var order = k * 8 > cols ? [Int32](repeating: 0, count: cols) : []
            for r in range {
                let row = src + r * cols, dv = outV + r * k, di = outI + r * k
                if !order.isEmpty {
                    for j in 0..<cols { order[j] = Int32(j) }
                    order.sort { precedes(row[Int($0)], $0, row[Int($1)], $1) }
                    for e in 0..<k { dv[e] = row[Int(order[e])]; di[e] = order[e] }
                    continue
                }
                var held = 0
                for j in 0..<cols {
                    let v = row[j], jj = Int32(j)
                    if held == k && !precedes(v, jj, bestV[k - 1], bestI[k - 1]) { continue }
                    var p = held < k ? held : k - 1
                    if held < k { held += 1 }
                    while p > 0 && precedes(v, jj, bestV[p - 1], bestI[p - 1]) {
                        bestV[p] = bestV[p - 1]
                        bestI[p] = bestI[p - 1]
                        p -= 1
                    }
                    bestV[p] = v
                    bestI[p] = jj
                }
                for e in 0..<k { dv[e] = bestV[e]; di[e] = bestI[e] }
            }
        }
    }
}
