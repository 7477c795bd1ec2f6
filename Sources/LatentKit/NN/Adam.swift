// The Adam optimiser over a named parameter set, one fused kernel launch per parameter tensor.

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
        for (_, p) in parameters {
            firstMoments.append(try Tensor([Float](repeating: 0, count: p.count), rows: p.rows, cols: p.cols, on: backend))
            secondMoments.append(try Tensor([Float](repeating: 0, count: p.count), rows: p.rows, cols: p.cols, on: backend))
        }
    }

    /// One update from the gradients the tape holds for each parameter (a parameter without one is left alone).
    public func update(from tape: Tape) throws {
        step += 1
        for (i, (_, p)) in parameters.enumerated() {
            guard let g = tape.gradient(of: p) else { continue }
            try tape.backend.adamStep(parameters: p.buffer, gradients: g.buffer, firstMoment: firstMoments[i].buffer,
                                      secondMoment: secondMoments[i].buffer, count: p.count, hyperparameters: hyperparameters, step: step)
        }
    }

    /// The moments under checkpoint names (`adam.m.<parameter>`, `adam.v.<parameter>`).
    public var state: [(String, Tensor)] {
        parameters.indices.flatMap { i in
            [("adam.m.\(parameters[i].0)", firstMoments[i]), ("adam.v.\(parameters[i].0)", secondMoments[i])]
        }
    }
}
