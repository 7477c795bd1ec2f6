// Batch normalisation (Ioffe & Szegedy 2015; paper 004 uses it on the hidden layers), composed from tape ops so
// its gradient is the tape's (each rule tested against finite differences). PyTorch's conventions: ε = 1e-5,
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
    public func callAsFunction(_ x: Tensor, training: Bool, on tape: Tape) throws -> Tensor {
        let backend = tape.backend, n = Float(x.rows)
        let normalised: Tensor
        if training {
            try require(x.rows > 1, "batch normalisation needs more than one row in training")
            let mean = try tape.affine(tape.sum(x, axis: .eachColumn), alpha: 1 / n)
            let centred = try tape.binary(.sub, x, mean, broadcast: .row)
            let variance = try tape.affine(tape.sum(tape.unary(.square, centred), axis: .eachColumn), alpha: 1 / n)
            let inverseDeviation = try tape.unary(.reciprocal, tape.unary(.sqrt, tape.affine(variance, alpha: 1, beta: Self.epsilon)))
            normalised = try tape.binary(.mul, centred, inverseDeviation, broadcast: .row)
            // running ← (1 - m) running + m batch (variance unbiased), outside the tape
            let m = Self.momentum, h = x.cols
            try backend.affine(runningMean.buffer, alpha: 1 - m, beta: 0, into: runningMean.buffer, count: h)
            try backend.affine(runningVariance.buffer, alpha: 1 - m, beta: 0, into: runningVariance.buffer, count: h)
            let scaledMean = try tape.pool.tensor(rows: 1, cols: h), scaledVariance = try tape.pool.tensor(rows: 1, cols: h)
            try backend.affine(mean.buffer, alpha: m, beta: 0, into: scaledMean.buffer, count: h)
            try backend.affine(variance.buffer, alpha: m * n / (n - 1), beta: 0, into: scaledVariance.buffer, count: h)
            try backend.binary(.add, runningMean.buffer, scaledMean.buffer, broadcast: .none, rows: 1, cols: h, into: runningMean.buffer)
            try backend.binary(.add, runningVariance.buffer, scaledVariance.buffer, broadcast: .none, rows: 1, cols: h, into: runningVariance.buffer)
        } else {
            let deviation = try tape.pool.tensor(rows: 1, cols: x.cols)
            try backend.affine(runningVariance.buffer, alpha: 1, beta: Self.epsilon, into: deviation.buffer, count: x.cols)
            try backend.unary(.sqrt, deviation.buffer, into: deviation.buffer, count: x.cols)
            normalised = try tape.binary(.div, tape.binary(.sub, x, runningMean, broadcast: .row), deviation, broadcast: .row)
        }
        return try tape.binary(.add, tape.binary(.mul, normalised, scale, broadcast: .row), shift, broadcast: .row)
    }
}
