// The Adam optimiser over a named parameter set: one fused kernel launch per step over flat buffers that hold every
// parameter, gradient and moment (each parameter a view at an aligned offset), rather than one launch per tensor.

/// Adam (Kingma & Ba 2015) with PyTorch's update rule. Holds both moments for every parameter, by name, so that
/// checkpoints can save and restore them.
///
/// The parameters are moved into one flat buffer when the optimiser is made (their tensors keep their identity and
/// values; see ``Tensor/rebind(to:)``), and ``attach(to:)`` makes a tape write each parameter's gradient into the
/// matching view of one flat gradient buffer, so ``update(from:)`` is a single launch over all of them. The padding
/// between views is zero in every buffer and stays zero. Checkpoints see only the named tensors.
public final class Adam {
    public var hyperparameters: AdamHyperparameters
    /// Updates taken so far (the `t` of the bias correction).
    public var step: Int = 0
    public let parameters: [(String, Tensor)]
    public private(set) var firstMoments: [Tensor] = []
    public private(set) var secondMoments: [Tensor] = []
    /// Views of the flat gradient buffer, one per parameter.
    private var gradientViews: [Tensor] = []
    private let flat: (values: Buffer, gradients: Buffer, first: Buffer, second: Buffer)

    public init(parameters: [(String, Tensor)], hyperparameters: AdamHyperparameters, on backend: any Backend) throws {
        self.parameters = parameters
        self.hyperparameters = hyperparameters
        let align = backend.viewAlignment
        var offsets: [Int] = [], total = 0
        for (_, p) in parameters {
            offsets.append(total)
            total += (p.count + align - 1) / align * align
        }
        func zeroed() throws -> Buffer {
            let b = try backend.allocate(count: total, dtype: .float32)
            try backend.fill(b, with: 0, offset: 0, count: total)
            return b
        }
        flat = (try zeroed(), try zeroed(), try zeroed(), try zeroed())
        func view(_ buffer: Buffer, _ i: Int) throws -> Tensor {
            let p = parameters[i].1
            return Tensor(rows: p.rows, cols: p.cols, buffer: try backend.view(of: buffer, offset: offsets[i], count: p.count))
        }
        for (i, (_, p)) in parameters.enumerated() {
            let values = try view(flat.values, i)
            try backend.copy(from: p.buffer, offset: 0, to: values.buffer, offset: 0, count: p.count)
            try p.rebind(to: values.buffer)
            firstMoments.append(try view(flat.first, i))
            secondMoments.append(try view(flat.second, i))
            gradientViews.append(try view(flat.gradients, i))
        }
    }

    /// Makes every later backward pass of `tape` leave the parameters' gradients in the flat gradient buffer.
    public func attach(to tape: Tape) throws {
        for (i, (_, p)) in parameters.enumerated() { try tape.setGradientDestination(of: p, to: gradientViews[i]) }
    }

    /// One update from the gradients the tape holds for each parameter (a parameter without one is left alone). When
    /// every gradient is in its flat view (the tape is attached) this is one launch over all parameters.
    public func update(from tape: Tape) throws {
        step += 1
        let backend = tape.backend
        let gradients = parameters.map { tape.gradient(of: $0.1) }
        if zip(gradients, gradientViews).allSatisfy({ $0 === $1 }) {
            return try backend.adamStep(parameters: flat.values, gradients: flat.gradients, firstMoment: flat.first, secondMoment: flat.second,
                                        count: flat.values.count, hyperparameters: hyperparameters, step: step)
        }
        for (i, (_, p)) in parameters.enumerated() {
            guard let g = gradients[i] else { continue }
            try backend.adamStep(parameters: p.buffer, gradients: g.buffer, firstMoment: firstMoments[i].buffer,
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
