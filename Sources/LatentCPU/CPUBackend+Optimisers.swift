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
