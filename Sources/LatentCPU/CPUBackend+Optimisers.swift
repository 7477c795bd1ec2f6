// The fused Adam step on the CPU.

import LatentCore

extension CPUBackend {
    public func adamStep(_ tensors: [AdamTensors], hyperparameters h: AdamHyperparameters, step: Int) throws {
        try checkAdam(tensors, step: step)
        for t in tensors {
            try adamStep(try host(t.parameters, "Adam parameters"), try host(t.gradients, "Adam gradients"), try host(t.firstMoment, "Adam first moment"),
                         try host(t.secondMoment, "Adam second moment"), count: t.count, hyperparameters: h, step: step)
        }
    }

    private func adamStep(_ p: CPUBuffer, _ g: CPUBuffer, _ m: CPUBuffer, _ v: CPUBuffer, count: Int, hyperparameters h: AdamHyperparameters,
                          step: Int) throws {
        let (bc1, bc2) = h.biasCorrections(step: step)
        let stepSize = h.learningRate / bc1, sqrtBC2 = bc2.squareRoot()
        let pp = p.floats, gp = g.floats, mp = m.floats, vp = v.floats
        // At the CPU's vector width (Sources/CVectorMath/adam.c), the operations in the OpenCL kernel's order.
        parallelChunks(count, grain: 1 << 14) { range in
            let i = range.lowerBound
            VectorMath.adam(parameters: pp + i, gradients: gp + i, firstMoment: mp + i, secondMoment: vp + i, count: range.count,
                            beta1: h.beta1, beta2: h.beta2, epsilon: h.epsilon, stepSize: stepSize, sqrtBC2: sqrtBC2)
        }
    }
}
