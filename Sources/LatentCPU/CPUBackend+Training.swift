// The fused training-step ops on the CPU: each is the unfused sequence of ops it replaces, in the same order, so a
// fused step gives bit for bit the losses of the unfused one here (the OpenCL kernels fuse them into one launch).

import LatentCore

extension CPUBackend {
    public func biasActivation(_ activation: UnaryOp?, preActivation a: Buffer, bias: Buffer, rows: Int, cols: Int, into y: Buffer) throws {
        try checkBiasActivation(activation, rows: rows, cols: cols, matrices: [(a, "pre-activation"), (activation == nil ? nil : y, "activation")],
                                bias: bias)
        // the specification of the OpenCL epilogue; the CPU's own training step adds the bias inside its GEMM (dense)
        try binary(.add, a, bias, broadcast: .row, rows: rows, cols: cols, into: a)
        if let activation { try unary(activation, a, into: y, count: rows * cols) }
    }

    public func biasActivationBackward(_ activation: UnaryOp?, preActivation a: Buffer, gradient dy: Buffer, rows: Int, cols: Int,
                                       intoInput da: Buffer?, intoBias dBias: Buffer) throws {
        try checkBiasActivationBackward(activation, rows: rows, cols: cols, preActivation: a, gradient: dy, intoInput: da, intoBias: dBias)
        guard let activation, let da else { return try reduce(.sum, dy, rows: rows, cols: cols, axis: .eachColumn, into: dBias) }
        if activation == .softplus {
            // one pass each way: da = dy σ(a) row by row, and the bias gradient summed as reduce sums a column (in double,
            // over each half of the rows: the same bits as the two passes)
            let av = try host(a, "pre-activation").floats, gv = try host(dy, "activation gradient").floats
            let dv = try host(da, "pre-activation gradient").floats, bv = try host(dBias, "bias gradient").floats
            parallelColumnSums(rows: rows, cols: cols, into: bv) { rowRange, columns, acc in  // rows × cols transcendentals
                for r in rowRange {
                    let start = r * cols + columns.lowerBound
                    VectorMath.softplusBackward(av + start, gradient: gv + start, into: dv + start, accumulating: acc, count: columns.count)
                }
            }
            return
        }
        try unaryBackward(activation, x: a, gradient: dy, into: da, count: rows * cols)
        try reduce(.sum, da, rows: rows, cols: cols, axis: .eachColumn, into: dBias)
    }

    public func elboLoss(logLikelihood ll: Buffer, count llCount: Int, kl: Buffer, count klCount: Int, klScale: Float, likelihoodScale: Float,
                         intoLoss loss: Buffer, intoSummary summary: Buffer) throws {
        try checkElboLoss(ll, llCount, kl, klCount, loss: loss, summary: summary)
        let l = reduceLine(.sum, try host(ll, "log-likelihood").floats, count: llCount, stride: 1)
        let k = reduceLine(.sum, try host(kl, "KL").floats, count: klCount, stride: 1)
        try host(loss, "loss").floats[0] = klScale * k - likelihoodScale * l
        let s = try host(summary, "loss summary").floats
        s[0] = l - k
        s[1] = k
    }

    public func elboLossBackward(gradient g: Buffer?, seed: Float, llCount: Int, klCount: Int, klScale: Float, likelihoodScale: Float,
                                 intoLogLikelihood dll: Buffer, intoKL dkl: Buffer) throws {
        try checkElboLossBackward(g, llCount: llCount, klCount: klCount, dll, dkl)
        let gradient = try g.map { try host($0, "loss gradient").floats[0] } ?? seed
        try host(dll, "log-likelihood gradient").floats.update(repeating: likelihoodScale * -gradient, count: llCount)
        try host(dkl, "KL gradient").floats.update(repeating: klScale * gradient, count: klCount)
    }
}
