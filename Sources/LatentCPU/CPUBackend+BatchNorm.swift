// Fused batch normalisation on the CPU: the specification of Kernels/Normalisation.swift, one feature column at a
// time in the kernels' order of operations.

import LatentCore

extension CPUBackend {
    public func batchNormTraining(_ x: Buffer, scale: Buffer, shift: Buffer, rows: Int, cols: Int, epsilon: Float, momentum: Float,
                                  runningMean: Buffer, runningVariance: Buffer, into y: Buffer, batchMean: Buffer,
                                  inverseDeviation: Buffer) throws {
        try require(rows > 1, "batch normalisation needs more than one row in training, got \(rows)")
        try checkRows(rows: rows, cols: cols, matrices: [(x, "input"), (y, "output")], perRow: [])
        try checkRows(rows: cols, cols: 1, matrices: [(scale, "scale"), (shift, "shift"), (runningMean, "running mean"),
                                                      (runningVariance, "running variance"), (batchMean, "batch mean"),
                                                      (inverseDeviation, "inverse deviation")], perRow: [])
        let xs = try host(x, "input").floats, ys = try host(y, "output").floats
        let gamma = try host(scale, "scale").floats, beta = try host(shift, "shift").floats
        let rm = try host(runningMean, "running mean").floats, rv = try host(runningVariance, "running variance").floats
        let bm = try host(batchMean, "batch mean").floats, bi = try host(inverseDeviation, "inverse deviation").floats
        let n = Float(rows)
        // A block of columns per thread, walked row by row in memory order (vector loops in C); each column's sums keep
        // the row order of one column at a time (the kernels' order), so the bits are those of the column-by-column loop.
        parallelChunks(cols, grain: max(8, (1 << 13) / max(rows, 1))) { range in
            let lo = range.lowerBound, m = range.count
            var statistics = [Float](repeating: 0, count: 2 * m)
            statistics.withUnsafeMutableBufferPointer { buffer in
                let mean = buffer.baseAddress!, inverse = mean + m
                VectorMath.batchNormStatistics(xs + lo, stride: cols, rows: rows, columns: m, mean: mean, squaredDeviations: inverse)
                for k in 0..<m {
                    let c = lo + k, v = inverse[k] / n
                    rv[c] = (1 - momentum) * rv[c] + momentum * (v * n / (n - 1))
                    inverse[k] = 1 / (v + epsilon).squareRoot()
                }
                VectorMath.batchNormNormalise(xs + lo, stride: cols, rows: rows, columns: m, scale: gamma + lo, shift: beta + lo,
                                              mean: mean, inverse: inverse, into: ys + lo)
                for k in 0..<m {
                    let c = lo + k
                    bm[c] = mean[k]
                    bi[c] = inverse[k]
                    rm[c] = (1 - momentum) * rm[c] + momentum * mean[k]
                }
            }
        }
    }

    public func batchNormInference(_ x: Buffer, scale: Buffer, shift: Buffer, runningMean: Buffer, runningVariance: Buffer, rows: Int, cols: Int,
                                   epsilon: Float, into y: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(x, "input"), (y, "output")], perRow: [])
        try checkRows(rows: cols, cols: 1, matrices: [(scale, "scale"), (shift, "shift"), (runningMean, "running mean"),
                                                      (runningVariance, "running variance")], perRow: [])
        let xs = try host(x, "input").floats, ys = try host(y, "output").floats
        let gamma = try host(scale, "scale").floats, beta = try host(shift, "shift").floats
        let rm = try host(runningMean, "running mean").floats, rv = try host(runningVariance, "running variance").floats
        perElement(rows: rows, cols: cols) { i, _ in
            let c = i % cols
            ys[i] = gamma[c] * ((xs[i] - rm[c]) / (rv[c] + epsilon).squareRoot()) + beta[c]
        }
    }

    public func batchNormBackward(_ x: Buffer, scale: Buffer, batchMean: Buffer, inverseDeviation: Buffer, gradient dy: Buffer, rows: Int, cols: Int,
                                  intoInput dx: Buffer, intoScale dScale: Buffer, intoShift dShift: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(x, "input"), (dy, "gradient"), (dx, "input gradient")], perRow: [])
        try checkRows(rows: cols, cols: 1, matrices: [(scale, "scale"), (batchMean, "batch mean"), (inverseDeviation, "inverse deviation"),
                                                      (dScale, "scale gradient"), (dShift, "shift gradient")], perRow: [])
        let xs = try host(x, "input").floats, g = try host(dy, "gradient").floats, dxs = try host(dx, "input gradient").floats
        let gamma = try host(scale, "scale").floats, bm = try host(batchMean, "batch mean").floats
        let bi = try host(inverseDeviation, "inverse deviation").floats
        let dg = try host(dScale, "scale gradient").floats, db = try host(dShift, "shift gradient").floats
        // Column blocks per thread, rows in memory order, each column's sums in row order (as batchNormTraining).
        parallelChunks(cols, grain: max(8, (1 << 13) / max(rows, 1))) { range in
            let lo = range.lowerBound, m = range.count
            var sums = [Float](repeating: 0, count: 2 * m)
            sums.withUnsafeMutableBufferPointer { buffer in
                let sg = buffer.baseAddress!, sgx = sg + m
                VectorMath.batchNormBackward(xs + lo, gradient: g + lo, stride: cols, rows: rows, columns: m, scale: gamma + lo, mean: bm + lo,
                                             inverse: bi + lo, sums: sg, scaledSums: sgx, into: dxs + lo)
                for k in 0..<m {
                    dg[lo + k] = sgx[k]
                    db[lo + k] = sg[k]
                }
            }
        }
    }
}
