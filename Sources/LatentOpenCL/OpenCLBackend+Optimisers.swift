// The fused Adam step on the OpenCL backend: kernel `optimisers_adam_f32` in Kernels/Optimisers.swift, up to
// AdamTensors.perLaunch tensors a launch.

import LatentCore

extension OpenCLBackend {
    public func adamStep(_ tensors: [AdamTensors], hyperparameters h: AdamHyperparameters, step: Int) throws {
        try checkAdam(tensors, step: step)
        let (bc1, bc2) = h.biasCorrections(step: step)
        let scalars: [Argument] = [.float(h.beta1), .float(h.beta2), .float(h.epsilon), .float(h.learningRate / bc1), .float(bc2.squareRoot())]
        for start in stride(from: 0, to: tensors.count, by: AdamTensors.perLaunch) {
            let chunk = tensors[start..<min(start + AdamTensors.perLaunch, tensors.count)]
            var buffers: [Argument] = [], offsets: [Argument] = [], total = 0
            for slot in 0..<AdamTensors.perLaunch {
                offsets.append(try int(total, "Adam offset"))
                // unused slots repeat the first tensor's buffers with no elements
                let t = slot < chunk.count ? chunk[chunk.startIndex + slot] : chunk[chunk.startIndex]
                for (b, role) in [(t.parameters, "Adam parameters"), (t.gradients, "Adam gradients"), (t.firstMoment, "Adam first moment"),
                                  (t.secondMoment, "Adam second moment")] {
                    buffers.append(.buffer(try mem(b, role)))
                }
                if slot < chunk.count { total += t.count }
            }
            offsets.append(try int(total, "Adam elements"))
            try launch(.optimisers, "optimisers_adam_f32", global: total, buffers + offsets + scalars)
        }
    }
}
