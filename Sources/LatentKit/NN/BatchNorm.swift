// Batch normalisation (Ioffe & Szegedy 2015; paper 004 uses it on the hidden layers) as fused kernels with a
// backward kernel. PyTorch's conventions: ε = 1e-5,
// momentum 0.1, the batch variance biased for normalising and unbiased for the running estimate.

import Foundation

public final class BatchNorm {
    public let name: String
    public let scale: Tensor
    public let shift: Tensor
    public let runningMean: Tensor
    public let runningVariance: Tensor
    public static let epsilon: Float = 1e-5
    public static let momentum: Float = 0.1

    public init(name: String, features: Int, on backend: any Backend) throws {
        self.name = name
        scale = try Tensor([Float](repeating: 1, count: features), rows: 1, cols: features, on: backend)
        shift = try Tensor([Float](repeating: 0, count: features), rows: 1, cols: features, on: backend)
        runningMean = try Tensor([Float](repeating: 0, count: features), rows: 1, cols: features, on: backend)
        runningVariance = try Tensor([Float](repeating: 1, count: features), rows: 1, cols: features, on: backend)
    }

    /// Trained parameters.
    public var parameters: [(String, Tensor)] { [("\(name).weight", scale), ("\(name).bias", shift)] }
    /// Running statistics: saved in checkpoints, not trained.
    public var statistics: [(String, Tensor)] { [("\(name).running_mean", runningMean), ("\(name).running_var", runningVariance)] }

    /// With `training`, normalises by the batch's statistics and updates the running ones; otherwise by the running ones.
    /// Both are one fused kernel (Kernels/Normalisation.swift); training's backward is another.
    public func callAsFunction(_ x: Tensor, training: Bool, on tape: Tape) throws -> Tensor {
        if training {
            try require(x.rows > 1, "batch normalisation needs more than one row in training")
            return try tape.batchNorm(x, scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance,
                                      epsilon: Self.epsilon, momentum: Self.momentum)
        }
        // evaluation's fused kernel records no gradient rule: refuse rather than let gradients silently stop here
        try require(!tape.needsGradient(x), "batch normalisation by running statistics (evaluation mode) has no gradient; differentiate in training mode")
        let y = try tape.pool.tensor(rows: x.rows, cols: x.cols)
        try tape.backend.batchNormInference(x.buffer, scale: scale.buffer, shift: shift.buffer, runningMean: runningMean.buffer,
                                            runningVariance: runningVariance.buffer, rows: x.rows, cols: x.cols, epsilon: Self.epsilon, into: y.buffer)
        return y
    }
}
