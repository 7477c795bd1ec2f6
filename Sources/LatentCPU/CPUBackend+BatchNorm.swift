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
        for c in 0..<cols {
            var mean: Float = 0, variance: Float = 0
            for r in 0..<rows { mean += xs[r * cols + c] }
            mean /= n
            for r in 0..<rows { let d = xs[r * cols + c] - mean; variance += d * d }
            variance /= n
            let inverse = 1 / (variance + epsilon).squareRoot()
            for r in 0..<rows { let i = r * cols + c; ys[i] = gamma[c] * ((xs[i] - mean) * inverse) + beta[c] }
            bm[c] = mean
            bi[c] = inverse
            rm[c] = (1 - momentum) * rm[c] + momentum * mean
            rv[c] = (1 - momentum) * rv[c] + momentum * (variance * n / (n - 1))
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
        let n = Float(rows)
        for c in 0..<cols {
            let mean = bm[c], inverse = bi[c]
            var sg: Float = 0, sgx: Float = 0
            for r in 0..<rows { let i = r * cols + c; sg += g[i]; sgx += g[i] * (xs[i] - mean) * inverse }
            let k = gamma[c] * inverse
            for r in 0..<rows { let i = r * cols + c; dxs[i] = k * (g[i] - sg / n - (xs[i] - mean) * inverse * sgx / n) }
            dg[c] = sgx
            db[c] = sg
        }
    }
}
