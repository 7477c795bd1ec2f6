// Batch normalisation (Ioffe & Szegedy 2015; paper 004 uses it on the hidden layers) as fused kernels with a
// backward kernel. PyTorch's conventions: ε = 1e-5, momentum 0.1 by default, the batch variance biased for normalising
// and unbiased for the running estimate. The same layer serves ProdLDA's two uses (Srivastava & Sutton 2017): on the
// decoder's logits with the scale fixed at 1 and a learned shift (ε = momentum = 1e-3), and on the encoder's output
// heads with neither scale nor shift; a fixed scale or shift stays a constant tensor the kernels read.

import Foundation

public final class BatchNorm {
    public let name: String
    public let scale: Tensor
    public let shift: Tensor
    public let runningMean: Tensor
    public let runningVariance: Tensor
    /// Whether the scale and the shift are trained (and saved); a fixed one stays 1 (scale) or 0 (shift).
    public let learnsScale: Bool
    public let learnsShift: Bool
    public let epsilon: Float
    public let momentum: Float
    public static let epsilon: Float = 1e-5
    public static let momentum: Float = 0.1

    public init(name: String, features: Int, epsilon: Float = BatchNorm.epsilon, momentum: Float = BatchNorm.momentum,
                learnsScale: Bool = true, learnsShift: Bool = true, on backend: any Backend) throws {
        try require(epsilon > 0 && epsilon.isFinite, "batch normalisation: ε must be positive, got \(epsilon)")
        try require(momentum > 0 && momentum <= 1, "batch normalisation: the momentum must lie in (0, 1], got \(momentum)")
        self.name = name
        self.epsilon = epsilon
        self.momentum = momentum
        self.learnsScale = learnsScale
        self.learnsShift = learnsShift
        scale = try Tensor([Float](repeating: 1, count: features), rows: 1, cols: features, on: backend)
        shift = try Tensor([Float](repeating: 0, count: features), rows: 1, cols: features, on: backend)
        runningMean = try Tensor([Float](repeating: 0, count: features), rows: 1, cols: features, on: backend)
        runningVariance = try Tensor([Float](repeating: 1, count: features), rows: 1, cols: features, on: backend)
    }

    /// Trained parameters: the scale and the shift, those of them that are learned.
    public var parameters: [(String, Tensor)] {
        (learnsScale ? [("\(name).weight", scale)] : []) + (learnsShift ? [("\(name).bias", shift)] : [])
    }
    /// Running statistics: saved in checkpoints, not trained.
    public var statistics: [(String, Tensor)] { [("\(name).running_mean", runningMean), ("\(name).running_var", runningVariance)] }

    /// With `training`, normalises by the batch's statistics and updates the running ones; otherwise by the running ones.
    /// Both are one fused kernel (Kernels/Normalisation.swift); training's backward is another.
    public func callAsFunction(_ x: Tensor, training: Bool, on tape: Tape) throws -> Tensor {
        if training {
            try require(x.rows > 1, "batch normalisation needs more than one row in training")
            return try tape.batchNorm(x, scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance,
                                      epsilon: epsilon, momentum: momentum)
        }
        // evaluation's fused kernel records no gradient rule: refuse rather than let gradients silently stop here
        try require(!tape.needsGradient(x), "batch normalisation by running statistics (evaluation mode) has no gradient; differentiate in training mode")
        let y = try tape.pool.tensor(rows: x.rows, cols: x.cols)
        try tape.backend.batchNormInference(x.buffer, scale: scale.buffer, shift: shift.buffer, runningMean: runningMean.buffer,
                                            runningVariance: runningVariance.buffer, rows: x.rows, cols: x.cols, epsilon: epsilon, into: y.buffer)
        return y
    }
}
