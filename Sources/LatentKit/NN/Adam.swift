// The Adam optimiser over a named parameter set: one fused launch updates every parameter tensor that has a gradient
// (up to AdamTensors.perLaunch tensors a launch, each in its own buffers), not one launch per tensor.

/// Adam (Kingma & Ba 2015) with PyTorch's update rule. Holds both moments for every parameter, by name, so that
/// checkpoints can save and restore them.
public final class Adam {
    public var hyperparameters: AdamHyperparameters
    /// Updates taken so far (the `t` of the bias correction).
    public var step: Int = 0
    public let parameters: [(String, Tensor)]
    public private(set) var firstMoments: [Tensor] = []
    public private(set) var secondMoments: [Tensor] = []

    public init(parameters: [(String, Tensor)], hyperparameters: AdamHyperparameters, on backend: any Backend) throws {
        self.parameters = parameters
        self.hyperparameters = hyperparameters
        // uploaded zeros (not the fill kernel, whose writes Oclgrind's --uninitialized pass did not count here), a slice at
        // a time: no host array of each parameter's size, twice the model again at its peak
        func zeros(like p: Tensor) throws -> Tensor {
            try Tensor(rows: p.rows, cols: p.cols, on: backend) { [Float](repeating: 0, count: $0.count) }
        }
        for (_, p) in parameters {
            firstMoments.append(try zeros(like: p))
            secondMoments.append(try zeros(like: p))
        }
    }

    /// One update from the gradients the tape holds for each parameter (a parameter without one is left alone), as one
    /// multi-tensor step; `oneLaunchPerTensor` updates them one by one instead (the unfused reference of the tests).
    public func update(from tape: Tape, oneLaunchPerTensor: Bool = false) throws {
        step += 1
        let tensors = parameters.indices.compactMap { i -> AdamTensors? in
            let p = parameters[i].1
            guard let g = tape.gradient(of: p) else { return nil }
            return AdamTensors(parameters: p.buffer, gradients: g.buffer, firstMoment: firstMoments[i].buffer,
                               secondMoment: secondMoments[i].buffer, count: p.count)
        }
        if oneLaunchPerTensor {
            for t in tensors { try tape.backend.adamStep([t], hyperparameters: hyperparameters, step: step) }
        } else if !tensors.isEmpty {
            try tape.backend.adamStep(tensors, hyperparameters: hyperparameters, step: step)
        }
    }

    /// The moments under checkpoint names (`adam.m.<parameter>`, `adam.v.<parameter>`).
    public var state: [(String, Tensor)] {
        parameters.indices.flatMap { i in
            [("adam.m.\(parameters[i].0)", firstMoments[i]), ("adam.v.\(parameters[i].0)", secondMoments[i])]
        }
    }
}
