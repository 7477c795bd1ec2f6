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
        let b1 = h.beta1, b2 = h.beta2, eps = h.epsilon
        // 16 lanes at a time (the same operations, in the same order, as the scalar tail and the OpenCL kernel).
        typealias V = SIMD16<Float>
        parallelChunks(count / 16, grain: 1 << 10) { blocks in
            for blk in blocks {
                let i = blk * 16
                let grad = UnsafeRawPointer(gp + i).loadUnaligned(as: V.self)
                let mi = b1 * UnsafeRawPointer(mp + i).loadUnaligned(as: V.self) + (1 - b1) * grad
                let vi = b2 * UnsafeRawPointer(vp + i).loadUnaligned(as: V.self) + (1 - b2) * grad * grad
                UnsafeMutableRawPointer(mp + i).storeBytes(of: mi, as: V.self)
                UnsafeMutableRawPointer(vp + i).storeBytes(of: vi, as: V.self)
                let step = stepSize * mi / (vi.squareRoot() / sqrtBC2 + eps)
                UnsafeMutableRawPointer(pp + i).storeBytes(of: UnsafeRawPointer(pp + i).loadUnaligned(as: V.self) - step, as: V.self)
            }
        }
        for i in (count / 16 * 16)..<count {
            let grad = gp[i]
            let mi = b1 * mp[i] + (1 - b1) * grad
            let vi = b2 * vp[i] + (1 - b2) * grad * grad
            mp[i] = mi
            vp[i] = vi
            pp[i] -= stepSize * mi / (vi.squareRoot() / sqrtBC2 + eps)
        }
    }
}
