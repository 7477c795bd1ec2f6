// The differentiable ops: each runs the backend op, checks shapes, and records its rule.

import Foundation

extension Tape {
    func output(_ rows: Int, _ cols: Int) throws -> Tensor { try pool.tensor(rows: rows, cols: cols) }

    /// `op(a) · op(b)` where `op` transposes when asked.
    public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        let m = transposeA ? a.cols : a.rows, k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows, n = transposeB ? b.rows : b.cols
        try require(k == kb, "matmul: inner dimensions \(k) and \(kb) differ (\(a.rows)x\(a.cols) · \(b.rows)x\(b.cols))")
        let c = try output(m, n)
        try backend.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a.buffer, b.buffer, beta: 0, c.buffer)
        return record(.matmul(a, b, transposeA: transposeA, transposeB: transposeB), c, inputs: [a, b])
    }

    /// `x · weight + bias` with `bias` a `1 × out` row.
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor) throws -> Tensor {
        try dense(x, weight: weight, bias: bias, activation: nil)
    }

    /// `f(x · weight + bias)`: a GEMM and one fused epilogue (bias and activation); its gradient is one fused kernel
    /// (activation derivative and bias gradient) and the two GEMMs. `activation` is one of `UnaryOp.denseActivations`
    /// or nil.
    public func dense(_ x: Tensor, weight: Tensor, bias: Tensor, activation: UnaryOp?) throws -> Tensor {
        if !fusesOps {
            let a = try binary(.add, matmul(x, weight), bias, broadcast: .row)
            return try activation.map { try unary($0, a) } ?? a
        }
        try require(x.cols == weight.rows, "dense: input \(x.rows)x\(x.cols) does not match weight \(weight.rows)x\(weight.cols)")
        try require(bias.count == weight.cols, "dense: bias of \(bias.count) for \(weight.cols) outputs")
        let a = try output(x.rows, weight.cols)
        let y = activation == nil ? a : try output(x.rows, weight.cols)
        try backend.dense(x.buffer, weight: weight.buffer, bias: bias.buffer, activation: activation, rows: x.rows, inputs: x.cols,
                          outputs: weight.cols, preActivation: a.buffer, into: y.buffer)
        return record(.dense(x: x, weight: weight, bias: bias, activation: activation, preActivation: a), y, inputs: [x, weight, bias])
    }

    /// The column blocks of `x` of the given `widths` (which add up to `x.cols`), left to right, as separate tensors.
    public func splitColumns(_ x: Tensor, widths: [Int]) throws -> [Tensor] {
        try require(widths.allSatisfy { $0 >= 1 } && widths.reduce(0, +) == x.cols, "splitColumns: widths \(widths) do not make \(x.cols) columns")
        var column = 0
        let parts = try widths.map { w -> Tensor in
            let part = try output(x.rows, w)
            try backend.copyBlock(from: x.buffer, offset: column, rowStride: x.cols, to: part.buffer, offset: 0, rowStride: w, rows: x.rows, cols: w)
            column += w
            return part
        }
        return record(.splitColumns(x), outputs: parts, inputs: [x])
    }

    /// The sample `z = mean + e^(lv/2) noise` and the per-row `KL(N(mean, e^lv) ‖ N(0, e^priorLogVariance))` of the diagonal
    /// Gaussian posterior whose joined heads are `heads` (`rows × 2n`: mean, then log-variance), in one fused kernel.
    public func gaussianPosterior(heads: Tensor, noise: Tensor, priorLogVariance: Float = 0) throws -> (sample: Tensor, kl: Tensor) {
        try require(heads.cols % 2 == 0 && noise.rows == heads.rows && noise.cols == heads.cols / 2,
                    "gaussianPosterior: heads \(heads.rows)x\(heads.cols) and noise \(noise.rows)x\(noise.cols) do not match")
        let z = try output(noise.rows, noise.cols), kl = try output(noise.rows, 1)
        try backend.gaussianPosterior(heads: heads.buffer, noise: noise.buffer, priorLogVariance: priorLogVariance, rows: heads.rows,
                                      latent: noise.cols, intoSample: z.buffer, intoKL: kl.buffer)
        let outputs = record(.gaussianPosterior(heads: heads, noise: noise, priorLogVariance: priorLogVariance), outputs: [z, kl], inputs: [heads])
        return (outputs[0], outputs[1])
    }

    /// The ELBO's loss chain in one op: `loss = klWeight Σ kl / batch - Σ logLikelihood / batch` (`1 × 1`, recorded) and
    /// `summary = (Σ ll - Σ kl, Σ kl)` (`1 × 2`, not differentiable: the bound and the KL for reporting).
    public func elboLoss(logLikelihood ll: Tensor, kl: Tensor, klWeight beta: Float, batch: Int) throws -> (loss: Tensor, summary: Tensor) {
        let b = Float(batch)
        let klScale = beta / b, likelihoodScale = 1 / b
        if !fusesOps {
            let l = try sumAll(ll), k = try sumAll(kl)
            let loss = try binary(.sub, affine(k, alpha: klScale), affine(l, alpha: likelihoodScale))
            return (loss, try Objective.Terms(bound: try binary(.sub, l, k), kl: k, loss: loss, on: self).summary)
        }
        let loss = try output(1, 1), summary = try output(1, 2)
        try backend.elboLoss(logLikelihood: ll.buffer, count: ll.count, kl: kl.buffer, count: kl.count, klScale: klScale,
                             likelihoodScale: likelihoodScale, intoLoss: loss.buffer, intoSummary: summary.buffer)
        let recorded = record(.elboLoss(logLikelihood: ll, kl: kl, klScale: klScale, likelihoodScale: likelihoodScale), loss, inputs: [ll, kl])
        return (recorded, summary)
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        let y = try output(x.rows, x.cols)
        try backend.unary(op, x.buffer, into: y.buffer, count: x.count)
        return record(.unary(op, x), y, inputs: [x])
    }

    /// `a ∘ b` with `b` shaped as `broadcast` says against `a`. max and min have no gradient rule.
    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, broadcast: Broadcast = .none) throws -> Tensor {
        let expected: (Int, Int) = switch broadcast {
        case .none: (a.rows, a.cols)
        case .row: (1, a.cols)
        case .column: (a.rows, 1)
        case .scalar: (1, 1)
        }
        try require(b.rows == expected.0 && b.cols == expected.1,
                    "\(op.rawValue): operand \(b.rows)x\(b.cols) does not match \(a.rows)x\(a.cols) with \(broadcast) broadcast")
        if (op == .max || op == .min) && (needsGradient(a) || needsGradient(b)) {
            throw BackendError.invalidArgument("\(op.rawValue) has no gradient rule; use relu for a differentiable maximum")
        }
        let c = try output(a.rows, a.cols)
        try backend.binary(op, a.buffer, b.buffer, broadcast: broadcast, rows: a.rows, cols: a.cols, into: c.buffer)
        return record(.binary(op, a, b, broadcast), c, inputs: [a, b])
    }

    /// `alpha x + beta`.
    public func affine(_ x: Tensor, alpha: Float, beta: Float = 0) throws -> Tensor {
        let y = try output(x.rows, x.cols)
        try backend.affine(x.buffer, alpha: alpha, beta: beta, into: y.buffer, count: x.count)
        return record(.affine(x, alpha: alpha), y, inputs: [x])
    }

    /// Sum of each row (`rows × 1`) or of each column (`1 × cols`).
    public func sum(_ x: Tensor, axis: ReductionAxis) throws -> Tensor {
        let y = axis == .eachRow ? try output(x.rows, 1) : try output(1, x.cols)
        try backend.reduce(.sum, x.buffer, rows: x.rows, cols: x.cols, axis: axis, into: y.buffer)
        return record(.sum(x, axis), y, inputs: [x])
    }

    /// Sum of every element, `1 × 1`.
    public func sumAll(_ x: Tensor) throws -> Tensor {
        let y = try output(1, 1)
        try backend.reduce(.sum, x.buffer, rows: 1, cols: x.count, axis: .eachRow, into: y.buffer)
        return record(.sumAll(x), y, inputs: [x])
    }

    /// `log Σ exp` of each row or column, computed stably.
    public func logSumExp(_ x: Tensor, axis: ReductionAxis) throws -> Tensor {
        let y = axis == .eachRow ? try output(x.rows, 1) : try output(1, x.cols)
        try backend.reduce(.logSumExp, x.buffer, rows: x.rows, cols: x.cols, axis: axis, into: y.buffer)
        return record(.logSumExp(x, axis), y, inputs: [x])
    }

    /// The reparameterised sample `mean + exp(logVariance / 2) noise`.
    public func gaussianSample(mean: Tensor, logVariance: Tensor, noise: Tensor) throws -> Tensor {
        try requireSameShape([mean, logVariance, noise], "gaussianSample")
        let z = try output(mean.rows, mean.cols)
        try backend.gaussianSample(mean: mean.buffer, logVariance: logVariance.buffer, noise: noise.buffer, into: z.buffer, count: z.count)
        return record(.gaussianSample(mean: mean, logVariance: logVariance, noise: noise), z, inputs: [mean, logVariance])
    }

    /// `KL(N(mean, diag e^logVariance) ‖ N(0, e^priorLogVariance I))` of each row, `rows × 1`.
    public func gaussianKL(mean: Tensor, logVariance: Tensor, priorLogVariance: Float = 0) throws -> Tensor {
        try requireSameShape([mean, logVariance], "gaussianKL")
        let kl = try output(mean.rows, 1)
        try backend.gaussianKL(mean: mean.buffer, logVariance: logVariance.buffer, priorLogVariance: priorLogVariance,
                               rows: mean.rows, cols: mean.cols, into: kl.buffer)
        return record(.gaussianKL(mean: mean, logVariance: logVariance, priorLogVariance: priorLogVariance), kl, inputs: [mean, logVariance])
    }

    /// Gamma(α, 1) variates, one per element of `alpha`, differentiable in α by implicit reparameterisation.
    public func gammaSample(_ alpha: Tensor, key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int = 0) throws -> Tensor {
        let y = try output(alpha.rows, alpha.cols)
        try backend.fillGamma(concentration: alpha.buffer, into: y.buffer, count: alpha.count, key: key, counter: counter,
                              streamOffset: streamOffset)
        return record(.gammaSample(alpha), y, inputs: [alpha])
    }

    /// `x - logsumexp(x)` of each row.
    public func logSoftmax(_ x: Tensor) throws -> Tensor {
        let y = try output(x.rows, x.cols)
        try backend.softmax(.logSoftmax, x.buffer, rows: x.rows, cols: x.cols, into: y.buffer)
        return record(.logSoftmax(x), y, inputs: [x])
    }

    /// The same elements as a `rows × cols` matrix (no copy), differentiable.
    public func reshape(_ x: Tensor, rows: Int, cols: Int) throws -> Tensor {
        record(.reshape(x), try x.reshaped(rows: rows, cols: cols), inputs: [x])
    }

    /// `log p(targets | logits)` of each row under independent Bernoullis, `rows × 1`. Targets are constants.
    public func bernoulliLogLikelihood(logits: Tensor, targets: Tensor) throws -> Tensor {
        try requireSameShape([logits, targets], "bernoulliLogLikelihood")
        let ll = try output(logits.rows, 1)
        try backend.bernoulliLogLikelihood(logits: logits.buffer, targets: targets.buffer, rows: logits.rows, cols: logits.cols, into: ll.buffer)
        return record(.bernoulliLogLikelihood(logits: logits, targets: targets), ll, inputs: [logits])
    }

    /// `Σ_v counts_v log softmax(logits)_v` of each row, `rows × 1`: the log-probability of a bag of words' tokens under
    /// the word distribution softmax(logits) (ProdLDA's reconstruction term; the multinomial coefficient, which does not
    /// depend on the model, is left out, as perplexity leaves it out). Counts are constants. One fused op each way (the
    /// log-softmax, product and row sum it replaces made ten passes over the logits, the largest tensor of a topic model's
    /// step); its gradient is counts − N softmax(logits).
    public func multinomialLogLikelihood(logits: Tensor, counts: Tensor) throws -> Tensor {
        try requireSameShape([logits, counts], "multinomialLogLikelihood")
        if !fusesOps { return try sum(binary(.mul, logSoftmax(logits), counts), axis: .eachRow) }
        let ll = try output(logits.rows, 1), z = try output(logits.rows, 1)
        try backend.multinomialLogLikelihood(logits: logits.buffer, counts: counts.buffer, rows: logits.rows, cols: logits.cols,
                                             into: ll.buffer, logNormaliser: z.buffer)
        return record(.multinomialLogLikelihood(logits: logits, counts: counts, logNormaliser: z), ll, inputs: [logits])
    }

    /// `log N(x; mean, diag e^logVariance)` of each row, `rows × 1`.
    public func gaussianLogDensity(_ x: Tensor, mean: Tensor, logVariance: Tensor) throws -> Tensor {
        try requireSameShape([x, mean, logVariance], "gaussianLogDensity")
        let lp = try output(x.rows, 1)
        try backend.gaussianLogDensity(x.buffer, mean: mean.buffer, logVariance: logVariance.buffer, rows: x.rows, cols: x.cols, into: lp.buffer)
        return record(.gaussianLogDensity(x: x, mean: mean, logVariance: logVariance), lp, inputs: [x, mean, logVariance])
    }

    func requireSameShape(_ tensors: [Tensor], _ op: String) throws {
        let first = tensors[0]
        for t in tensors.dropFirst() {
            try require(t.rows == first.rows && t.cols == first.cols,
                        "\(op): shapes \(tensors.map { "\($0.rows)x\($0.cols)" }.joined(separator: ", ")) differ")
        }
    }
}
