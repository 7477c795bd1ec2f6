// The Trainer's checkpoints: what a safetensors checkpoint holds of a run in progress (parameters, Adam's moments,
// batch-norm statistics and the position in training), and restoring from one.

import Foundation

extension Trainer {

    public func checkpoint() throws -> Checkpoint {
        var c = Checkpoint()
        for (name, t) in model.parameters + optimizer.state + model.statistics { try c.add(name, t, from: backend, joined: model.joinedColumns) }
        c.metadata = [
            "format": "latentkit", "epoch": "\(epoch)", "step_in_epoch": "\(stepInEpoch)", "global_step": "\(globalStep)",
            "adam_step": "\(optimizer.step)", "temperature": "\(config.model.temperature(atStep: globalStep))", "epoch_reconstruction": "\(epochTotals.reconstruction)", "epoch_kl": "\(epochTotals.kl)",
            "epoch_images": "\(epochTotals.images)", "epoch_seconds": "\(epochTotals.seconds)",
        ]
        if let rbm = model.discrete?.rbm { c.metadata["rbm_log_z"] = "\(rbm.logZ)" }
        if config.model.decoderBatchNorm { c.metadata["decoder_bn_weight"] = "\(decoderBatchNormWeight(atStep: globalStep))" }
        return c
    }

    /// Writes the checkpoint (rank 0 alone, in a data-parallel job), with config.json's checksum, keeping the one
    /// before it beside it.
    public func saveCheckpoint(to run: RunDirectory) throws {
        guard writesRunFiles else { return }
        var c = try checkpoint()
        run.recordConfig(in: &c)
        try c.write(to: run.checkpoint, keepingPrevious: true)
    }

    /// Restores parameters, optimiser moments and the position in training from `checkpoint`.
    public func restore(from checkpoint: Checkpoint) throws {
        try model.load(from: checkpoint, on: backend)
        for (name, m) in optimizer.state { try checkpoint.load(name, into: m, on: backend, joined: model.joinedColumns) }
        func integer(_ key: String) throws -> Int {
            guard let v = checkpoint.metadata[key].flatMap(Int.init) else { throw DataError("checkpoint metadata lacks '\(key)'") }
            return v
        }
        epoch = try integer("epoch")
        stepInEpoch = try integer("step_in_epoch")
        globalStep = try integer("global_step")
        optimizer.step = try integer("adam_step")
        epochTotals = (Double(checkpoint.metadata["epoch_reconstruction"] ?? "") ?? 0, Double(checkpoint.metadata["epoch_kl"] ?? "") ?? 0,
                       try integer("epoch_images"), Double(checkpoint.metadata["epoch_seconds"] ?? "") ?? 0)
        try broadcastState()
    }
}
