// The training loop: the dataset stays on the device; each step gathers a minibatch there, binarises it with
// Philox, runs the model forward and backward on the tape and takes one fused Adam step. Only the two loss
// terms (two floats) are read back per step, for the progress line and the non-finite check.

import Foundation

/// Philox streams of a run; layer initialisation uses streams 1, 2, ... (see VAE).
enum RandomStream {
    static let binarization: UInt32 = 0x1000
    static let noise: UInt32 = 0x1001
    static let shuffle: UInt32 = 0x1002
    static let gamma: UInt32 = 0x1003
    /// The discrete VAE's per-epoch AIS uses stream trainingAIS + epoch.
    static let trainingAIS: UInt32 = 0x6000
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
}

/// A live snapshot for the progress line.
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var steps: Int
    public var loss: Double
    public var kl: Double
    public var imagesPerSecond: Double
    public var etaSeconds: Double
}

public struct EpochMetrics: Sendable {
    public var epoch: Int
    public var loss: Double
    public var reconstruction: Double
    public var kl: Double
    public var seconds: Double
    public var imagesPerSecond: Double

    var json: [String: Any] {
        ["epoch": epoch, "loss": loss, "reconstruction": reconstruction, "kl": kl, "seconds": seconds, "images_per_second": imagesPerSecond]
    }
}

public enum TrainingOutcome: Equatable, Sendable {
    case finished
    /// Stopped on request at this (epoch, step in epoch); a checkpoint was saved there.
    case interrupted(epoch: Int, step: Int)
}

public final class Trainer {
    public let config: RunConfig
    public let backend: any Backend
    public let model: VAE
    public let optimizer: Adam
    let pool: BufferPool
    let tape: Tape
    let images: Tensor
    let imageCount: Int
    let indices: Buffer
    /// For the IWAE bound: the `batch·k × batch` matrix that repeats each row k times (as a product, so its
    /// gradient is the tape's matmul rule), and the matching row indices, made on first use.
    private var repeater: (batch: Int, repeater: Objective.Repeater)?

    /// Completed epochs, the step within the current epoch, and steps taken in all.
    public private(set) var epoch = 0
    public private(set) var stepInEpoch = 0
    public private(set) var globalStep = 0
    /// Sums over the current epoch so far: (negative log-likelihood, KL, images, seconds).
    var epochTotals = (reconstruction: 0.0, kl: 0.0, images: 0, seconds: 0.0)

    public var stepsPerEpoch: Int { imageCount / config.batchSize }

    public init(config: RunConfig, backend: any Backend, train: LabelledImages) throws {
        try config.validate()
        try require(train.pixelsPerImage == config.model.inputSize,
                    "the dataset has \(train.pixelsPerImage) pixels per image, the model expects \(config.model.inputSize)")
        try require(train.count >= config.batchSize, "the training set (\(train.count) images) is smaller than one batch (\(config.batchSize))")
        self.config = config
        self.backend = backend
        model = try VAE(config.model, on: backend, seed: config.seed)
        model.training = true
        optimizer = try Adam(parameters: model.parameters, hyperparameters: config.adam, on: backend)
        pool = BufferPool(backend: backend)
        tape = Tape(pool: pool)
        for (_, p) in model.parameters { tape.watch(p) }
        imageCount = train.count
        images = try Tensor(train.pixels, rows: train.count, cols: train.pixelsPerImage, on: backend)
        indices = try backend.allocate(count: config.batchSize, dtype: .int32)
    }

    /// The order of the training images in epoch `epoch`: a Fisher-Yates shuffle driven by Philox.
    public func permutation(epoch: Int) -> [Int32] {
        var order = (0..<imageCount).map(Int32.init)
        let key = PhiloxKey(seed: config.seed, stream: RandomStream.shuffle)
        for i in stride(from: imageCount - 1, to: 0, by: -1) {
            let word = Philox.block(counter: SIMD4(UInt32(i), UInt32(epoch), 0, 0), key: key)[0]
            order.swapAt(i, Int((UInt64(word) * UInt64(i + 1)) >> 32))
        }
        return order
    }

    /// The KL weight at the current step: rises linearly from 0 to 1 over `warmupEpochs` epochs.
    public var klWeight: Float {
        guard config.warmupEpochs > 0 else { return 1 }
        return min(1, (Float(epoch) + Float(stepInEpoch) / Float(stepsPerEpoch)) / Float(config.warmupEpochs))
    }

    func repeater(batch b: Int) throws -> Objective.Repeater {
        if let r = repeater, r.batch == b { return r.repeater }
        let r = try Objective.Repeater(batch: b, samples: config.iwSamples, on: backend)
        repeater = (b, r)
        return r
    }

    /// One optimisation step on the images `batch` (indices into the training set). Returns the batch sums of
    /// the negative log-likelihood and the KL (for the IWAE bound: the KL, and the rest of the negative bound).
    public func step(batch: [Int32]) throws -> (reconstruction: Double, kl: Double) {
        let b = batch.count
        tape.reset()
        try backend.upload(batch, to: indices, offset: 0)
        let x = try pool.tensor(rows: b, cols: images.cols)
        try backend.gatherRows(images.buffer, rows: imageCount, cols: images.cols, indices: indices, count: b, into: x.buffer)
        let counter = PhiloxCounter(0, UInt32(truncatingIfNeeded: globalStep), UInt32(truncatingIfNeeded: globalStep >> 32), 0)
        if config.dynamicBinarization && config.model.likelihood == .bernoulli {
            try backend.fillRandom(.bernoulli, into: x.buffer, count: x.count, key: PhiloxKey(seed: config.seed, stream: RandomStream.binarization),
                                   counter: counter, probabilities: x.buffer)
        }
        model.temperature = config.model.temperature(atStep: globalStep)
        model.gammaKey = PhiloxKey(seed: config.seed, stream: RandomStream.gamma)
        model.gammaCounter = counter
        let q = try model.encode(x, on: tape)
        let k = config.iwSamples, beta = klWeight
        let noise = try pool.tensor(rows: b * k, cols: config.model.latentSize)
        if !model.drawsItsOwnNoise {
            try backend.fillRandom(model.noiseDistribution, into: noise.buffer, count: noise.count,
                                   key: PhiloxKey(seed: config.seed, stream: RandomStream.noise), counter: counter, probabilities: nil)
        }
        let terms = config.model.latent == .dvae
            ? try model.dvaeTrainingTerms(x: x, posterior: q, uniforms: noise, klWeight: beta, step: globalStep, seed: config.seed, on: tape)
            : k == 1
            ? try Objective.elbo(model: model, x: x, posterior: q, noise: noise, klWeight: beta, on: tape)
            : try Objective.iwae(model: model, x: x, posterior: q, noise: noise, samples: k,
                                 repeater: repeater(batch: b), klWeight: beta, on: tape)
        let loss = terms.loss
        let klSum = Double(try backend.download(terms.kl.buffer, offset: 0, count: 1)[0])
        let reconstructionSum = -Double(try backend.download(terms.bound.buffer, offset: 0, count: 1)[0]) - klSum
        if !reconstructionSum.isFinite || !klSum.isFinite {
            let term = !reconstructionSum.isFinite ? "the reconstruction term (-log p(x|z))" : "the KL term"
            throw TrainingError(description: "non-finite loss at epoch \(epoch + 1), step \(stepInEpoch + 1) (global step \(globalStep + 1)): "
                                + "\(term) is \(!reconstructionSum.isFinite ? reconstructionSum : klSum); the last good checkpoint is kept")
        }
        try tape.backward(from: loss)
        try optimizer.update(from: tape)
        globalStep += 1
        return (reconstructionSum, klSum)
    }

    /// Trains until `config.epochs` epochs are complete. After each epoch: a metrics line and a checkpoint in
    /// `run` (when given). `shouldStop` is polled every step; when it returns true a checkpoint is saved at the
    /// current step and training returns `.interrupted`.
    public func train(
        run: RunDirectory?, progress: (TrainingProgress) -> Void = { _ in }, epochDone: (EpochMetrics) -> Void = { _ in },
        shouldStop: () -> Bool = { false }
    ) throws -> TrainingOutcome {
        while epoch < config.epochs {
            let order = permutation(epoch: epoch)
            if stepInEpoch == 0, let rbm = model.discrete?.rbm {
                // the KL this epoch reports uses log Z of the prior as the epoch starts (the gradient does not need it)
                rbm.logZ = try rbm.annealedLogPartition(chains: DiscreteVAEDefaults.trainingAISChains,
                                                        temperatures: DiscreteVAEDefaults.trainingAISTemperatures, seed: config.seed,
                                                        stream: RandomStream.trainingAIS &+ UInt32(truncatingIfNeeded: epoch), on: backend).logZ
            }
            var mark = Date()
            while stepInEpoch < stepsPerEpoch {
                if shouldStop() {
                    if let run { try saveCheckpoint(to: run) }
                    return .interrupted(epoch: epoch, step: stepInEpoch)
                }
                let start = stepInEpoch * config.batchSize
                let (reconstruction, kl) = try step(batch: Array(order[start..<(start + config.batchSize)]))
                stepInEpoch += 1
                let now = Date()
                epochTotals.reconstruction += reconstruction
                epochTotals.kl += kl
                epochTotals.images += config.batchSize
                epochTotals.seconds += now.timeIntervalSince(mark)
                mark = now
                let rate = Double(epochTotals.images) / max(epochTotals.seconds, 1e-9)
                let remaining = Double((config.epochs - epoch) * stepsPerEpoch - stepInEpoch) * Double(config.batchSize)
                progress(TrainingProgress(
                    epoch: epoch + 1, epochs: config.epochs, step: stepInEpoch, steps: stepsPerEpoch,
                    loss: (epochTotals.reconstruction + epochTotals.kl) / Double(epochTotals.images),
                    kl: epochTotals.kl / Double(epochTotals.images), imagesPerSecond: rate, etaSeconds: remaining / rate))
            }
            let n = Double(epochTotals.images)
            let metrics = EpochMetrics(
                epoch: epoch + 1, loss: (epochTotals.reconstruction + epochTotals.kl) / n, reconstruction: epochTotals.reconstruction / n,
                kl: epochTotals.kl / n, seconds: epochTotals.seconds, imagesPerSecond: n / max(epochTotals.seconds, 1e-9))
            epoch += 1
            stepInEpoch = 0
            epochTotals = (0, 0, 0, 0)
            if let run {
                try run.appendMetrics(metrics.json)
                try saveCheckpoint(to: run)
            }
            epochDone(metrics)
        }
        return .finished
    }

    // MARK: checkpoints

    public func checkpoint() throws -> Checkpoint {
        var c = Checkpoint()
        for (name, p) in model.parameters { try c.add(name, p, from: backend) }
        for (name, m) in optimizer.state + model.statistics { try c.add(name, m, from: backend) }
        c.metadata = [
            "format": "latentkit", "epoch": "\(epoch)", "step_in_epoch": "\(stepInEpoch)", "global_step": "\(globalStep)",
            "adam_step": "\(optimizer.step)", "temperature": "\(config.model.temperature(atStep: globalStep))", "epoch_reconstruction": "\(epochTotals.reconstruction)", "epoch_kl": "\(epochTotals.kl)",
            "epoch_images": "\(epochTotals.images)", "epoch_seconds": "\(epochTotals.seconds)",
        ]
        if let rbm = model.discrete?.rbm { c.metadata["rbm_log_z"] = "\(rbm.logZ)" }
        return c
    }

    public func saveCheckpoint(to run: RunDirectory) throws { try checkpoint().write(to: run.checkpoint) }

    /// Restores parameters, optimiser moments and the position in training from `checkpoint`.
    public func restore(from checkpoint: Checkpoint) throws {
        try model.load(from: checkpoint, on: backend)
        for (name, m) in optimizer.state { try checkpoint.load(name, into: m, on: backend) }
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
    }
}
