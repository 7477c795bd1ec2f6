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
        // counts a run reaches (2^50 steps is centuries); beyond them the arithmetic on them would overflow
        func integer(_ key: String, upTo limit: Int = 1 << 50) throws -> Int {
            guard let text = checkpoint.metadata[key] else { throw DataError("checkpoint metadata lacks '\(key)'") }
            guard let v = Int(text), (0...limit).contains(v) else {
                throw DataError("checkpoint metadata '\(key)' is \(text), not a count in 0...\(limit): the checkpoint is damaged")
            }
            return v
        }
        epoch = try integer("epoch")
        stepInEpoch = try integer("step_in_epoch", upTo: stepsPerEpoch)
        globalStep = try integer("global_step")
        optimizer.step = try integer("adam_step")
        func total(_ key: String) throws -> Double { try checkpoint.metadataNumber(key) ?? 0 }
        epochTotals = (try total("epoch_reconstruction"), try total("epoch_kl"), try integer("epoch_images"), try total("epoch_seconds"))
        try broadcastState()
    }
}
