// The discrete VAE's ops on the tape (Kernels/DiscreteVAE.swift): the spike-and-exponential sample with its binary
// indicator, and the RBM's per-row negative energy. One kernel forward and one or two backward each.

import Foundation

/// How a discrete-VAE op's output was made: the inputs its backward kernels need.
enum DiscreteRule {
    /// The output is ζ; the uniforms are constants.
    case spikeAndExponentialSample(logits: Tensor, uniforms: Tensor, beta: Float)
    /// The output is the binary z = [ζ > 0], differentiated by Rolfe's estimator ∂z/∂q := (1 - z)/(1 - q).
    case indicator(logits: Tensor)
    case rbmEnergy(state: Tensor, weights: Tensor, bias: Tensor, shape: RBMShape)
}

extension Tape {
    private func recordDiscrete(_ rule: DiscreteRule, _ output: Tensor, inputs: [Tensor]) -> Tensor {
        record(.discrete(rule), output, inputs: inputs)
    }

    /// The spike-and-exponential sample ζ = F⁻¹(ρ; σ(logits)) and its indicator z = [ζ > 0], elementwise, in one kernel.
    /// Both are differentiable in the logits: ζ exactly, z by Rolfe's estimator (its expectation's derivative).
    public func spikeAndExponentialSample(logits: Tensor, uniforms: Tensor, beta: Float) throws -> (sample: Tensor, indicator: Tensor) {
        try requireSameShape([logits, uniforms], "spikeAndExponentialSample")
        let zeta = try output(logits.rows, logits.cols), z = try output(logits.rows, logits.cols)
        try backend.spikeAndExponentialSample(logits: logits.buffer, uniforms: uniforms.buffer, beta: beta, count: logits.count,
                                              intoSample: zeta.buffer, intoIndicator: z.buffer)
        return (recordDiscrete(.spikeAndExponentialSample(logits: logits, uniforms: uniforms, beta: beta), zeta, inputs: [logits]),
                recordDiscrete(.indicator(logits: logits), z, inputs: [logits]))
    }

    /// `z_Aᵀ W z_B + bᵀ z` of each row of `state` (`rows × 1`), differentiable in the state, `W` and `b`.
    public func rbmEnergy(_ state: Tensor, weights: Tensor, bias: Tensor, shape: RBMShape) throws -> Tensor {
        try require(state.cols == shape.units && weights.count == shape.a * shape.b && bias.count == shape.units,
                    "rbmEnergy: state \(state.rows)x\(state.cols), weights \(weights.rows)x\(weights.cols), bias \(bias.count) do not fit a "
                    + "\(shape.a)x\(shape.b) RBM")
        let e = try output(state.rows, 1)
        try backend.rbmEnergy(state.buffer, weights: weights.buffer, bias: bias.buffer, shape: shape, rows: state.rows, into: e.buffer)
        return recordDiscrete(.rbmEnergy(state: state, weights: weights, bias: bias, shape: shape), e, inputs: [state, weights, bias])
    }

    func applyDiscreteRule(_ rule: DiscreteRule, output y: Tensor, gradient g: Tensor) throws {
        switch rule {
        case .spikeAndExponentialSample(let logits, let uniforms, let beta):
            let dl = try output(logits.rows, logits.cols)
            try backend.spikeAndExponentialSampleBackward(logits: logits.buffer, uniforms: uniforms.buffer, beta: beta, gradient: g.buffer,
                                                          count: logits.count, into: dl.buffer)
            try accumulate(logits, dl)

        case .indicator(let logits):
            let dl = try output(logits.rows, logits.cols)
            try backend.indicatorBackward(logits: logits.buffer, indicator: y.buffer, gradient: g.buffer, count: logits.count, into: dl.buffer)
            try accumulate(logits, dl)

        case .rbmEnergy(let state, let weights, let bias, let shape):
            let dz = needsGradient(state) ? try output(state.rows, state.cols) : nil
            let parameters = needsGradient(weights) || needsGradient(bias)
            let dW = parameters ? try output(weights.rows, weights.cols) : nil, db = parameters ? try output(bias.rows, bias.cols) : nil
            try backend.rbmEnergyBackward(state.buffer, weights: weights.buffer, bias: bias.buffer, shape: shape, rows: state.rows,
                                          gradient: g.buffer, intoState: dz?.buffer, intoWeights: dW?.buffer, intoBias: db?.buffer)
            if let dz { try accumulate(state, dz) }
            if let dW, let db {
                try accumulate(weights, dW)
                try accumulate(bias, db)
            }
        }
    }
}
