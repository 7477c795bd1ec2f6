// The fused Adam step on the OpenCL backend: kernel `optimisers_adam_f32` in Kernels/Optimisers.swift.

import LatentCore

extension OpenCLBackend {
    public func adamStep(
        parameters: Buffer, gradients: Buffer, firstMoment: Buffer, secondMoment: Buffer, count: Int,
        hyperparameters h: AdamHyperparameters, step: Int
    ) throws {
        try require(step >= 1, "Adam step number must be >= 1, got \(step)")
        let roles = ["Adam parameters", "Adam gradients", "Adam first moment", "Adam second moment"]
        let buffers = [parameters, gradients, firstMoment, secondMoment]
        var args: [Argument] = []
        for (b, role) in zip(buffers, roles) {
            try b.check(holds: count, role)
            args.append(.buffer(try mem(b, role)))
        }
        let (bc1, bc2) = h.biasCorrections(step: step)
        args += [try int(count, "count"), .float(h.beta1), .float(h.beta2), .float(h.epsilon),
                 .float(h.learningRate / bc1), .float(bc2.squareRoot())]
        try launch(.optimisers, "optimisers_adam_f32", global: count, args)
    }
}
