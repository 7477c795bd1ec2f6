// The ops of the continuous latent layers (Models/ContinuousLayers.swift): joining column blocks, and a layer's
// conditional Gaussian posterior with its closed-form KL to the conditional Gaussian prior, fused.

import Foundation

extension Tape {
    /// `parts` side by side, left to right (`rows × Σ cols`): the inverse of ``splitColumns(_:widths:)``.
    public func concatColumns(_ parts: [Tensor]) throws -> Tensor {
        try require(!parts.isEmpty && parts.allSatisfy { $0.rows == parts[0].rows },
                    "concatColumns: the parts' rows \(parts.map(\.rows)) differ")
        if parts.count == 1 { return parts[0] }
        let y = try output(parts[0].rows, parts.reduce(0) { $0 + $1.cols })
        var column = 0
        for part in parts {
            try backend.copyBlock(from: part.buffer, offset: 0, rowStride: part.cols, to: y.buffer, offset: column, rowStride: y.cols,
                                  rows: y.rows, cols: part.cols)
            column += part.cols
        }
        return record(.concatColumns(parts), y, inputs: parts)
    }

    /// The sample `z = μq + e^(lvq/2) noise` of the posterior whose joined heads are `posteriorHeads` (`rows × 2n`: mean,
    /// then log-variance) and the per-row `KL(q ‖ p)` to the Gaussian whose joined heads are `priorHeads`, in one kernel.
    public func gaussianConditionalPosterior(posteriorHeads q: Tensor, priorHeads p: Tensor, noise: Tensor) throws -> (sample: Tensor, kl: Tensor) {
        try require(q.cols % 2 == 0 && p.rows == q.rows && p.cols == q.cols && noise.rows == q.rows && noise.cols == q.cols / 2,
                    "gaussianConditionalPosterior: heads \(q.rows)x\(q.cols) and \(p.rows)x\(p.cols), noise \(noise.rows)x\(noise.cols) do not match")
        let z = try output(noise.rows, noise.cols), kl = try output(noise.rows, 1)
        try backend.gaussianConditionalPosterior(posteriorHeads: q.buffer, priorHeads: p.buffer, noise: noise.buffer, rows: q.rows,
                                                 latent: noise.cols, intoSample: z.buffer, intoKL: kl.buffer)
        let outputs = record(.gaussianConditionalPosterior(posteriorHeads: q, priorHeads: p, noise: noise), outputs: [z, kl], inputs: [q, p])
        return (outputs[0], outputs[1])
    }

    /// The rule of ``concatColumns(_:)``: each part's block of the gradient.
    func concatColumnsBackward(_ parts: [Tensor], gradient g: Tensor) throws {
        var column = 0
        for part in parts {
            if needsGradient(part) {
                let d = try output(part.rows, part.cols)
                try backend.copyBlock(from: g.buffer, offset: column, rowStride: g.cols, to: d.buffer, offset: 0, rowStride: part.cols,
                                      rows: part.rows, cols: part.cols)
                try accumulate(part, d)
            }
            column += part.cols
        }
    }

    /// The rule of ``gaussianConditionalPosterior(posteriorHeads:priorHeads:noise:)``.
    func gaussianConditionalPosteriorBackward(_ q: Tensor, _ p: Tensor, _ noise: Tensor, gradients: [Tensor?]) throws {
        let dq = try output(q.rows, q.cols), dp = try output(p.rows, p.cols)
        try backend.gaussianConditionalPosteriorBackward(posteriorHeads: q.buffer, priorHeads: p.buffer, noise: noise.buffer,
                                                         sampleGradient: gradients[0]?.buffer, klGradient: gradients[1]?.buffer,
                                                         rows: q.rows, latent: noise.cols, intoPosteriorHeads: dq.buffer, intoPriorHeads: dp.buffer)
        try accumulate(q, dq)
        try accumulate(p, dp)
    }
}
