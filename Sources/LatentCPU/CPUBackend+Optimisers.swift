// The fused Adam step on the CPU.

import LatentCore

extension CPUBackend {
    public func adamStep(
        parameters: Buffer, gradients: Buffer, firstMoment: Buffer, secondMoment: Buffer, count: Int,
        hyperparameters h: AdamHyperparameters, step: Int
    ) throws {
        try require(step >= 1, "Adam step number must be >= 1, got \(step)")
        let p = try host(parameters, "Adam parameters"), g = try host(gradients, "Adam gradients")
        let m = try host(firstMoment, "Adam first moment"), v = try host(secondMoment, "Adam second moment")
        for (b, role) in [(p, "Adam parameters"), (g, "Adam gradients"), (m, "Adam first moment"), (v, "Adam second moment")] {
            try b.check(holds: count, role)
        }
        let (bc1, bc2) = h.biasCorrections(step: step)
        let stepSize = h.learningRate / bc1, sqrtBC2 = bc2.squareRoot()
        let pp = p.floats, gp = g.floats, mp = m.floats, vp = v.floats
        parallelChunks(count) { range in
            for i in range {
                let grad = gp[i]
                let mi = h.beta1 * mp[i] + (1 - h.beta1) * grad
                let vi = h.beta2 * vp[i] + (1 - h.beta2) * grad * grad
                mp[i] = mi
                vp[i] = vi
                pp[i] -= stepSize * mi / (vi.squareRoot() / sqrtBC2 + h.epsilon)
            }
        }
    }
}
