// The fused training-step ops on the OpenCL backend (Kernels/Training.swift).

import COpenCL
import LatentCore

extension OpenCLBackend {
    public func biasActivation(_ activation: UnaryOp?, preActivation a: Buffer, bias: Buffer, rows: Int, cols: Int, into y: Buffer) throws {
        try checkBiasActivation(activation, rows: rows, cols: cols, matrices: [(a, "pre-activation"), (activation == nil ? nil : y, "activation")],
                                bias: bias)
        let shape = [try int(rows, "rows"), try int(cols, "cols")]
        _ = try int(rows * cols, "rows * cols")
        guard let activation else {
            return try launch(.training, "training_bias_f32", global: rows * cols,
                              [.buffer(try mem(a, "pre-activation")), .buffer(try mem(bias, "bias"))] + shape)
        }
        try launch(.training, "training_bias_\(activation.cName)_f32", global: rows * cols,
                   [.buffer(try mem(a, "pre-activation")), .buffer(try mem(bias, "bias")), .buffer(try mem(y, "activation"))] + shape)
    }

    public func biasActivationBackward(_ activation: UnaryOp?, preActivation a: Buffer, gradient dy: Buffer, rows: Int, cols: Int,
                                       intoInput da: Buffer?, intoBias dBias: Buffer) throws {
        try checkBiasActivationBackward(activation, rows: rows, cols: cols, preActivation: a, gradient: dy, intoInput: da, intoBias: dBias)
        _ = try int(rows * cols, "rows * cols")
        let written = try da.map { try mem($0, "input gradient") } ?? mem(dBias, "bias gradient")  // unused by the identity
        try launch(.training, "training_bias_\(activation?.cName ?? "identity")_backward_f32", global: columnTileWorkItems(columns: cols), [
            .buffer(try mem(a, "pre-activation")), .buffer(try mem(dy, "gradient")), .buffer(written), .buffer(try mem(dBias, "bias gradient")),
            try int(rows, "rows"), try int(cols, "cols"),
        ])
    }

    public func elboLoss(logLikelihood ll: Buffer, count llCount: Int, kl: Buffer, count klCount: Int, klScale: Float, likelihoodScale: Float,
                         intoLoss loss: Buffer, intoSummary summary: Buffer) throws {
        try checkElboLoss(ll, llCount, kl, klCount, loss: loss, summary: summary)
        try launch(.training, "training_elbo_loss_f32", global: workGroupSize, [
            .buffer(try mem(ll, "log-likelihood")), try int(llCount, "count"), .buffer(try mem(kl, "KL")), try int(klCount, "count"),
            .float(klScale), .float(likelihoodScale), .buffer(try mem(loss, "loss")), .buffer(try mem(summary, "loss summary")),
        ])
    }

    public func elboLossBackward(gradient g: Buffer?, seed: Float, llCount: Int, klCount: Int, klScale: Float, likelihoodScale: Float,
                                 intoLogLikelihood dll: Buffer, intoKL dkl: Buffer) throws {
        try checkElboLossBackward(g, llCount: llCount, klCount: klCount, dll, dkl)
        try launch(.training, "training_elbo_loss_backward_f32", global: max(llCount, klCount), [
            .buffer(try mem(g ?? dll, "loss gradient")), .int(g == nil ? 0 : 1), .float(seed), try int(llCount, "count"), try int(klCount, "count"),
            .float(klScale), .float(likelihoodScale),
            .buffer(try mem(dll, "log-likelihood gradient")), .buffer(try mem(dkl, "KL gradient")),
        ])
    }
}
