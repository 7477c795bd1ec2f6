// The structured Gaussian posterior ops on the tape (paper 003's chain and grid): the sample, the analytic KL to N(0, I)
// and the log-density, each one fused kernel forward and one backward (Kernels/StructuredGaussian.swift). L's
// strictly-lower non-zeros (`offDiagonal`, rows × structure.offDiagonalCount) are a differentiable input like the mean.

import Foundation

/// How a structured Gaussian op's output was made: the inputs its backward kernel needs.
enum StructuredGaussianRule {
    case sample(PrecisionStructure, mean: Tensor, logVariance: Tensor, offDiagonal: Tensor, noise: Tensor)
    case kl(PrecisionStructure, mean: Tensor, logVariance: Tensor, offDiagonal: Tensor)
    case logDensity(PrecisionStructure, sample: Tensor, mean: Tensor, logVariance: Tensor, offDiagonal: Tensor)
}

extension Tape {
    private func checkStructured(_ s: PrecisionStructure, latent: [Tensor], offDiagonal: Tensor, _ op: String) throws {
        try requireSameShape(latent, op)
        try s.check(latentSize: latent[0].cols)
        try require(offDiagonal.rows == latent[0].rows && offDiagonal.cols == s.offDiagonalCount,
                    "\(op): \(s) needs \(latent[0].rows) × \(s.offDiagonalCount) off-diagonals, got \(offDiagonal.rows) × \(offDiagonal.cols)")
    }

    /// `z = mean + v` with `Lᵀ v = noise`: a sample of N(mean, (L Lᵀ)⁻¹) for standard normal noise.
    public func structuredGaussianSample(_ s: PrecisionStructure, mean: Tensor, logVariance: Tensor, offDiagonal: Tensor,
                                         noise: Tensor) throws -> Tensor {
        try checkStructured(s, latent: [mean, logVariance, noise], offDiagonal: offDiagonal, "structuredGaussianSample")
        let z = try output(mean.rows, mean.cols)
        try backend.structuredGaussianSample(s, mean: mean.buffer, logVariance: logVariance.buffer, offDiagonal: offDiagonal.buffer,
                                             noise: noise.buffer, rows: mean.rows, into: z.buffer)
        return record(.structuredGaussian(.sample(s, mean: mean, logVariance: logVariance, offDiagonal: offDiagonal, noise: noise)), z,
                      inputs: [mean, logVariance, offDiagonal])
    }

    /// KL(N(mean, (L Lᵀ)⁻¹) ‖ N(0, I)) of each row, `rows × 1`.
    public func structuredGaussianKL(_ s: PrecisionStructure, mean: Tensor, logVariance: Tensor, offDiagonal: Tensor) throws -> Tensor {
        try checkStructured(s, latent: [mean, logVariance], offDiagonal: offDiagonal, "structuredGaussianKL")
        let kl = try output(mean.rows, 1)
        try backend.structuredGaussianKL(s, mean: mean.buffer, logVariance: logVariance.buffer, offDiagonal: offDiagonal.buffer,
                                         rows: mean.rows, into: kl.buffer)
        return record(.structuredGaussian(.kl(s, mean: mean, logVariance: logVariance, offDiagonal: offDiagonal)), kl,
                      inputs: [mean, logVariance, offDiagonal])
    }

    /// log N(z; mean, (L Lᵀ)⁻¹) of each row, `rows × 1`.
    public func structuredGaussianLogDensity(_ s: PrecisionStructure, _ z: Tensor, mean: Tensor, logVariance: Tensor,
                                             offDiagonal: Tensor) throws -> Tensor {
        try checkStructured(s, latent: [z, mean, logVariance], offDiagonal: offDiagonal, "structuredGaussianLogDensity")
        let lp = try output(z.rows, 1)
        try backend.structuredGaussianLogDensity(s, z.buffer, mean: mean.buffer, logVariance: logVariance.buffer, offDiagonal: offDiagonal.buffer,
                                                 rows: z.rows, into: lp.buffer)
        return record(.structuredGaussian(.logDensity(s, sample: z, mean: mean, logVariance: logVariance, offDiagonal: offDiagonal)), lp,
                      inputs: [z, mean, logVariance, offDiagonal])
    }

    func applyStructuredGaussianRule(_ rule: StructuredGaussianRule, gradient g: Tensor) throws {
        switch rule {
        case .sample(let s, let mean, let logVariance, let offDiagonal, let noise):
            try accumulate(mean, g)
            let dlv = try output(logVariance.rows, logVariance.cols), doff = try output(offDiagonal.rows, offDiagonal.cols)
            try backend.structuredGaussianSampleBackward(s, logVariance: logVariance.buffer, offDiagonal: offDiagonal.buffer, noise: noise.buffer,
                                                         gradient: g.buffer, rows: mean.rows, intoLogVariance: dlv.buffer,
                                                         intoOffDiagonal: doff.buffer)
            try accumulate(logVariance, dlv)
            try accumulate(offDiagonal, doff)

        case .kl(let s, let mean, let logVariance, let offDiagonal):
            let dmu = try output(mean.rows, mean.cols), dlv = try output(mean.rows, mean.cols), doff = try output(offDiagonal.rows, offDiagonal.cols)
            try backend.structuredGaussianKLBackward(s, mean: mean.buffer, logVariance: logVariance.buffer, offDiagonal: offDiagonal.buffer,
                                                     gradient: g.buffer, rows: mean.rows, intoMean: dmu.buffer, intoLogVariance: dlv.buffer,
                                                     intoOffDiagonal: doff.buffer)
            try accumulate(mean, dmu)
            try accumulate(logVariance, dlv)
            try accumulate(offDiagonal, doff)

        case .logDensity(let s, let z, let mean, let logVariance, let offDiagonal):
            let dz = try output(z.rows, z.cols), dmu = try output(z.rows, z.cols), dlv = try output(z.rows, z.cols)
            let doff = try output(offDiagonal.rows, offDiagonal.cols)
            try backend.structuredGaussianLogDensityBackward(s, z.buffer, mean: mean.buffer, logVariance: logVariance.buffer,
                                                             offDiagonal: offDiagonal.buffer, gradient: g.buffer, rows: z.rows,
                                                             intoSample: dz.buffer, intoMean: dmu.buffer, intoLogVariance: dlv.buffer,
                                                             intoOffDiagonal: doff.buffer)
            try accumulate(z, dz)
            try accumulate(mean, dmu)
            try accumulate(logVariance, dlv)
            try accumulate(offDiagonal, doff)
        }
    }
}
