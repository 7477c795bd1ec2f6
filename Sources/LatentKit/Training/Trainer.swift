// The training loop: the dataset and each epoch's order stay on the device; a step gathers and binarises its
// minibatch in one launch, runs the model forward and backward on the tape, takes one multi-tensor Adam step over all
// parameters and copies its two loss terms into a history buffer on the device. Nothing in a step waits for the
// device: the history is read back once every `readbackInterval` steps and at the end of each epoch (the progress
// line and the non-finite check happen there), and the epoch's order is uploaded once per epoch.

import Foundation

/// Philox streams of a run; layer initialisation uses streams 1, 2, ... (see VAE).
enum RandomStream {
    static let binarization: UInt32 = 0x1000
    static let noise: UInt32 = 0x1001
    static let shuffle: UInt32 = 0x1002
    static let gamma: UInt32 = 0x1003
    static let dropout: UInt32 = 0x1004
    static let latentDropout: UInt32 = 0x1005
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

    /// A one-line warning when the posterior collapsed onto the prior in this epoch: a KL below 0.5 nats per item (the
    /// KL term itself, not weighted by a warm-up) means the code carries next to nothing about the input.
    public func collapseWarning(latent: LatentFamily) -> String? {
        guard kl < EpochMetrics.collapseThreshold else { return nil }
        let family = latent == .dirichlet ? "Dirichlet posterior" : "\(latent.rawValue) posterior"
        return String(format: "warning: the %@ collapsed onto the prior in epoch %d (KL %.3f nats per item, below %.1f): the code "
                      + "carries next to nothing about the input; a longer KL warm-up helps (--warmup-steps, e.g. 3000), "
                      + "as do more data or a lower --learning-rate", family, epoch, kl, EpochMetrics.collapseThreshold)
    }

    public static let collapseThreshold = 0.5

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
    /// The training images on the device: all of them (one slot), or with ``streamChunk`` two slots of one chunk each.
    let imageSlots: [Tensor]
    /// The slot the steps being issued read.
    var activeSlot = 0
    /// The images the steps being issued read.
    var images: Tensor { imageSlots[activeSlot] }
    let imageCount: Int
    /// Streaming: images per chunk (whole batches). The training set then stays on the host (`hostImages`); the steps of
    /// one chunk of the epoch's order read one slot while the next chunk's upload, started after the chunk's first step
    /// is issued, fills the other (double buffering: the upload overlaps the steps). Steps gather through the identity
    /// in `order`. nil: the whole set is on the device and steps gather through the epoch's permutation in `order`.
    public let streamChunk: Int?
    let hostImages: [Float]
    /// Streaming: the chunk each slot holds or is being filled with, and its upload.
    var slotChunks: [ChunkKey?] = [nil, nil]
    var slotUploads: [PendingUpload?] = [nil, nil]
    var hostOrder: (epoch: Int, order: [Int32])?
    /// The minibatch indices of ``step(batch:)``.
    let indices: Buffer
    /// The current epoch's permutation of the training images, on the device (uploaded once per epoch).
    let order: Buffer
    var orderEpoch = -1
    /// The (bound, KL) batch sums of each step enqueued since the last read-back, two floats a step.
    let history: Buffer
    /// The ranks of a data-parallel job (nil: one process), and this rank's slice of every global batch.
    public let communicator: Communicator?
    public let slice: BatchSlice
    /// Averages the gradients over the ranks (nil: one process, or a slice trained alone).
    let exchange: GradientExchange?
    /// Data-parallel: whether some rank asked to stop, as the last exchange agreed; polled instead of `shouldStop`.
    private var stopAgreed = false
    private var pollStop: () -> Bool = { false }
    /// Steps enqueued whose loss terms have not been read back yet.
    public private(set) var pendingSteps = 0
    /// Steps between two read-backs of the loss terms: the only blocking call of a training step, one in this many.
    public static let readbackInterval = 20
    /// For the IWAE bound: the `batch·k × batch` matrix that repeats each row k times (as a product, so its
    /// gradient is the tape's matmul rule), and the matching row indices, made on first use.
    private var repeater: (batch: Int, repeater: Objective.Repeater)?

    /// The vocabulary's words the training documents never use, where the model holds their frequencies
    /// (``ModelConfig/backgroundBias`` or words weighed by frequency): their frequency is floored at half an occurrence,
    /// and the command says so once under the bias.
    public private(set) var flooredBackgroundWords = 0

    /// Completed epochs, the step within the current epoch, and steps taken in all.
    public internal(set) var epoch = 0
    public internal(set) var stepInEpoch = 0
    public internal(set) var globalStep = 0
    /// Sums over the current epoch so far: (negative log-likelihood, KL, images, seconds).
    var epochTotals = (reconstruction: 0.0, kl: 0.0, images: 0, seconds: 0.0)

    public var stepsPerEpoch: Int { imageCount / config.batchSize }

    /// `fusesOps: false` runs every fused op of a step as the ops it replaces and Adam once per parameter tensor: the reference
    /// the fused step is tested against.
    ///
    /// `communicator`: train as one rank of a data-parallel job (see ``BatchSlice`` and `GradientExchange`): every rank
    /// must call this with the same configuration and data (checked), and rank 0's initial parameters are broadcast.
    /// `rankSlice` without a communicator trains rank `rank` of `ranks`'s slice alone, without averaging: what that rank
    /// computes in its first step (for tests).
    public init(config: RunConfig, backend: any Backend, train: LabelledImages, fusesOps: Bool = true,
                communicator: Communicator? = nil, rankSlice: (rank: Int, ranks: Int)? = nil) throws {
        try config.validate()
        let ranks = communicator.map { (rank: $0.rank, ranks: $0.size) } ?? rankSlice ?? (0, 1)
        slice = try BatchSlice(rank: ranks.rank, of: ranks.ranks, batch: config.batchSize)
        self.communicator = communicator
        if let communicator, communicator.size > 1 {
            var fingerprint = Fingerprint()
            fingerprint.add(String(decoding: try JSONEncoder.sorted.encode(config), as: UTF8.self))
            try communicator.requireAgreement(on: fingerprint.value, "the run's configuration (flags)")
            fingerprint.add(train.pixels)
            try communicator.requireAgreement(on: fingerprint.value, "the training data (\(train.count) images on this rank)")
        }
        try require(train.pixelsPerImage == config.model.inputSize,
                    "the dataset has \(train.pixelsPerImage) pixels per image, the model expects \(config.model.inputSize)")
        try require(train.count >= config.batchSize, "the training set (\(train.count) images) is smaller than one batch (\(config.batchSize))")
        self.config = config
        self.backend = backend
        if config.model.likelihood == .multinomial { try train.requireTokens(naming: "training document") }
        model = try VAE(config.model, on: backend, seed: config.seed)
        model.training = true
        flooredBackgroundWords = try model.setBackground(fromCounts: train, on: backend)
        optimizer = try Adam(parameters: model.parameters, hyperparameters: config.adam, on: backend)
        pool = BufferPool(backend: backend)
        tape = Tape(pool: pool)
        for (_, p) in model.parameters { tape.watch(p) }
        imageCount = train.count
        let train = config.binarization == .fixed && config.model.likelihood == .bernoulli ? try Self.binarizedOnce(train, seed: config.seed) : train
        (imageSlots, streamChunk) = try Self.deviceImages(train, batch: config.batchSize, chunk: config.streamChunk, on: backend)
        hostImages = streamChunk == nil ? [] : train.pixels
        indices = try backend.allocate(count: config.batchSize, dtype: .int32)
        if let communicator, communicator.size > 1 {
            exchange = try GradientExchange(parameters: model.parameters.map(\.1), communicator: communicator, on: backend)
        } else {
            exchange = nil
        }
        order = try backend.allocate(count: streamChunk ?? train.count, dtype: .int32)
        if let chunk = streamChunk { try backend.upload((0..<chunk).map(Int32.init), to: order, offset: 0) }
        history = try backend.allocate(count: 2 * Self.readbackInterval, dtype: .float32)
        tape.fusesOps = fusesOps
        try broadcastState()
    }

    /// Data-parallel: rank 0's parameters, optimiser moments and statistics on every rank (after initialisation, so that
    /// every replica starts alike whatever each rank computed, and after a restore).
    func broadcastState() throws {
        guard let communicator, communicator.size > 1 else { return }
        for (_, t) in model.parameters + optimizer.state + model.statistics {
            var values = try backend.download(t.buffer, offset: 0, count: t.count)
            try communicator.broadcast(&values, from: 0)
            if !communicator.isRoot { try backend.upload(values, to: t.buffer, offset: 0) }
        }
    }

    /// Whether this process writes the run's files: one process, or rank 0 of a data-parallel job.
    public var writesRunFiles: Bool { communicator?.isRoot ?? true }

    /// Data-parallel: seconds per step the step spent in the gradient exchange (placing, reading back, waiting, writing
    /// back; a bucket's sum that runs while the backward pass computes costs nothing here) and waiting for sums alone,
    /// over the steps since the last call; the floats each exchange sends, and in how many buckets.
    public func exchangeTimes() -> (exchange: Double, allreduce: Double, floatsPerStep: Int, bucketsPerStep: Int)? {
        guard let exchange, exchange.exchanges > 0 else { return nil }
        defer { exchange.resetTimes() }
        let n = Double(exchange.exchanges)
        return (exchange.seconds.exchange / n, exchange.seconds.allreduce / n, exchange.floatsPerStep, exchange.buckets / exchange.exchanges)
    }

    /// The weight of the decoder's batch norm at global step `step` (``ModelConfig/decoderBatchNormAnnealEpochs``): 1 without
    /// annealing, else falling linearly from 1 at step 0 to 0 after the annealing epochs' steps.
    public func decoderBatchNormWeight(atStep step: Int) -> Float {
        let length = config.model.decoderBatchNormAnnealEpochs * stepsPerEpoch
        guard length > 0 else { return 1 }
        return max(0, 1 - Float(step) / Float(length))
    }

    /// The KL weight at the current step: rises linearly from 0 to 1 over the warm-up's steps.
    public var klWeight: Float { klWeight(epoch: epoch, stepInEpoch: stepInEpoch) }

    /// The KL weight of the step at `stepInEpoch` of `epoch` (both counted from 0).
    public func klWeight(epoch: Int, stepInEpoch: Int) -> Float {
        let length = config.warmupLength(stepsPerEpoch: stepsPerEpoch)
        guard length > 0 else { return 1 }
        return min(1, Float(epoch * stepsPerEpoch + stepInEpoch) / Float(length))
    }

    func repeater(batch b: Int) throws -> Objective.Repeater {
        if let r = repeater, r.batch == b { return r.repeater }
        let r = try Objective.Repeater(batch: b, samples: config.iwSamples, on: backend)
        repeater = (b, r)
        return r
    }

    /// One optimisation step on the images `batch` (indices into the training set), read back at once (a blocking
    /// call: for tests and benchmarks of single steps; ``train(run:checkpointEvery:progress:epochDone:shouldStop:)`` does not wait).
    /// Returns the batch sums of the negative log-likelihood and the KL (for the IWAE bound: the KL, and the rest of
    /// the negative bound).
    public func step(batch: [Int32]) throws -> (reconstruction: Double, kl: Double) {
        try require(pendingSteps < Self.readbackInterval, "step: \(pendingSteps) steps are waiting to be read back")
        try backend.upload(batch, to: indices, offset: 0)
        try enqueueStep(indices: indices, offset: 0, count: batch.count)
        return try collectPendingSteps().last!
    }

    /// `count` optimisation steps (at most ``readbackInterval``) on consecutive batches of the current epoch's order, starting
    /// at batch `firstBatch` (wrapping around), enqueued as ``train(run:checkpointEvery:progress:epochDone:shouldStop:)`` enqueues them and
    /// read back once at the end: what a benchmark of training throughput times. The epoch's position does not move.
    public func steps(_ count: Int, firstBatch: Int) throws -> [(reconstruction: Double, kl: Double)] {
        try require(count >= 1 && pendingSteps + count <= Self.readbackInterval,
                    "steps: \(count) steps with \(pendingSteps) waiting exceed the \(Self.readbackInterval) of one read-back")
        for s in 0..<count {
            try enqueueStep(indices: order, offset: batchOffset(step: (firstBatch + s) % stepsPerEpoch), count: config.batchSize)
        }
        return try collectPendingSteps()
    }

    /// Enqueues one optimisation step on the images `indices[offset ..< offset + count]` without waiting for the device;
    /// its loss terms go to the history buffer.
    /// Data-parallel (and `rankSlice`): a global batch's step computes this rank's slice of it.
    func enqueueStep(indices: Buffer, offset: Int, count: Int) throws {
        tape.reset()
        let sliced = slice.count < config.batchSize && count == config.batchSize
        let b = sliced ? slice.count : count, offset = sliced ? offset + slice.first : offset
        let part = sliced ? slice : BatchSlice(wholeBatchOf: b)
        let x = try pool.tensor(rows: b, cols: images.cols)
        let counter = PhiloxCounter(0, UInt32(truncatingIfNeeded: globalStep), UInt32(truncatingIfNeeded: globalStep >> 32), 0)
        let binarize = config.dynamicBinarization && config.model.likelihood == .bernoulli
        let binarization = (key: PhiloxKey(seed: config.seed, stream: RandomStream.binarization), counter: counter,
                            streamOffset: part.streamOffset(elements: x.count))
        try backend.gatherRows(images.buffer, rows: images.rows, cols: images.cols, indices: indices, indexOffset: offset, count: b,
                               binarizing: binarize && tape.fusesOps ? binarization : nil, into: x.buffer)
        if binarize && !tape.fusesOps {
            try backend.fillRandom(.bernoulli, into: x.buffer, count: x.count, key: binarization.key, counter: counter,
                                   streamOffset: binarization.streamOffset, probabilities: x.buffer)
        }
        model.temperature = config.model.temperature(atStep: globalStep)
        model.gammaKey = PhiloxKey(seed: config.seed, stream: RandomStream.gamma)
        model.gammaCounter = counter
        model.batchSlice = part
        model.dropoutCounter = counter
        model.decoderBatchNormWeight = decoderBatchNormWeight(atStep: globalStep)
        let q = try model.encode(x, on: tape)
        let k = config.iwSamples, beta = klWeight
        let noise = try pool.tensor(rows: b * k, cols: config.model.latentSize)
        if !model.drawsItsOwnNoise {
            try backend.fillRandom(model.noiseDistribution, into: noise.buffer, count: noise.count,
                                   key: PhiloxKey(seed: config.seed, stream: RandomStream.noise), counter: counter,
                                   streamOffset: part.streamOffset(elements: noise.count), probabilities: nil)
        }
        let terms = config.model.latent == .dvae
            ? try model.dvaeTrainingTerms(x: x, posterior: q, uniforms: noise, klWeight: beta, step: globalStep, seed: config.seed, on: tape)
            : k == 1 && config.renyiAlpha == nil
            ? try Objective.elbo(model: model, x: x, posterior: q, noise: noise, klWeight: beta, on: tape)
            : try Objective.renyi(alpha: config.renyiAlpha ?? 0, model: model, x: x, posterior: q, noise: noise, samples: k,
                                  repeater: repeater(batch: b), klWeight: beta, on: tape)
        if let exchange {
            exchange.begin()
            try tape.backward(from: terms.loss, whenFinal: exchange.gradientIsFinal)
            stopAgreed = try exchange.finish(on: tape, stopRequested: pollStop())
        } else {
            try tape.backward(from: terms.loss)
        }
        try optimizer.update(from: tape, oneLaunchPerTensor: !tape.fusesOps)
        // recorded after the backward pass and Adam are enqueued, so a later read-back never drains the queue mid-step
        try backend.copy(from: terms.summary.buffer, offset: 0, to: history, offset: 2 * pendingSteps, count: 2)
        pendingSteps += 1
        globalStep += 1
    }

    /// Reads back the loss terms of the steps enqueued since the last read-back (one blocking read) and checks that
    /// they are finite. Returns each step's (reconstruction, KL) batch sums, oldest first. The steps are the last
    /// `pendingSteps` of the current epoch (``stepInEpoch`` already counts them).
    func collectPendingSteps() throws -> [(reconstruction: Double, kl: Double)] {
        guard pendingSteps > 0 else { return [] }
        var values = try backend.download(history, offset: 0, count: 2 * pendingSteps).map(Double.init)
        if exchange != nil, let communicator { try communicator.sum(&values) }  // the global batch's sums
        let first = pendingSteps
        pendingSteps = 0
        return try (0..<first).map { s in
            let kl = values[2 * s + 1], reconstruction = -values[2 * s] - kl
            if !reconstruction.isFinite || !kl.isFinite {
                let term = !reconstruction.isFinite ? "the reconstruction term (-log p(x|z))" : "the KL term"
                let stepNumber = stepInEpoch - first + s + 1, global = globalStep - first + s + 1
                throw TrainingError(description: "non-finite loss at epoch \(epoch + 1), step \(stepNumber) (global step \(global)): "
                                    + "\(term) is \(!reconstruction.isFinite ? reconstruction : kl)")
            }
            return (reconstruction, kl)
        }
    }

    /// Trains until `config.epochs` epochs are complete. After each epoch: a metrics line and a checkpoint in
    /// `run` (when given). `shouldStop` is polled every step; when it returns true a checkpoint is saved at the
    /// current step and training returns `.interrupted`.
    /// `checkpointEvery`: also save a checkpoint (in `run`) every that many global steps within an epoch, after reading
    /// back the steps before it, so that a killed run loses at most that many steps.
    public func train(
        run: RunDirectory?, checkpointEvery: Int? = nil, progress: (TrainingProgress) -> Void = { _ in },
        epochDone: (EpochMetrics) -> Void = { _ in }, shouldStop: @escaping () -> Bool = { false }
    ) throws -> TrainingOutcome {
        try require(checkpointEvery.map { $0 >= 1 } ?? true, "--checkpoint-every must be >= 1, got \(checkpointEvery ?? 0)")
        // data-parallel: every rank stops at the step after the one whose exchange carried some rank's wish to stop
        pollStop = shouldStop
        defer { pollStop = { false } }
        let stopNow = exchange == nil ? shouldStop : { [unowned self] in stopAgreed }
        while epoch < config.epochs {
            optimizer.hyperparameters.learningRate = config.learningRate(epoch: epoch)
            if stepInEpoch == 0, let rbm = model.discrete?.rbm {
                // the KL this epoch reports uses log Z of the prior as the epoch starts (the gradient does not need it)
                rbm.logZ = try rbm.annealedLogPartition(chains: DiscreteVAEDefaults.trainingAISChains,
                                                        temperatures: DiscreteVAEDefaults.trainingAISTemperatures, seed: config.seed,
                                                        stream: RandomStream.trainingAIS &+ UInt32(truncatingIfNeeded: epoch), on: backend).logZ
            }
            var mark = Date()
            /// Reads back the steps since the last read-back into the epoch's totals and reports progress.
            func collect() throws {
                for (reconstruction, kl) in try collectPendingSteps() {
                    epochTotals.reconstruction += reconstruction
                    epochTotals.kl += kl
                    epochTotals.images += config.batchSize
                }
                let now = Date()
                epochTotals.seconds += now.timeIntervalSince(mark)
                mark = now
                let rate = Double(epochTotals.images) / max(epochTotals.seconds, 1e-9)
                let remaining = Double((config.epochs - epoch) * stepsPerEpoch - stepInEpoch) * Double(config.batchSize)
                progress(TrainingProgress(
                    epoch: epoch + 1, epochs: config.epochs, step: stepInEpoch, steps: stepsPerEpoch,
                    loss: (epochTotals.reconstruction + epochTotals.kl) / Double(max(epochTotals.images, 1)),
                    kl: epochTotals.kl / Double(max(epochTotals.images, 1)), imagesPerSecond: rate, etaSeconds: remaining / rate))
            }
            while stepInEpoch < stepsPerEpoch {
                if stopNow() {
                    try collect()
                    if let run { try saveCheckpoint(to: run) }
                    return .interrupted(epoch: epoch, step: stepInEpoch)
                }
                try enqueueStep(indices: order, offset: batchOffset(step: stepInEpoch), count: config.batchSize)
                stepInEpoch += 1
                if pendingSteps == Self.readbackInterval || stepInEpoch == stepsPerEpoch { try collect() }
                if let every = checkpointEvery, let run, globalStep % every == 0, stepInEpoch < stepsPerEpoch {
                    try collect()
                    try saveCheckpoint(to: run)
                }
            }
            let n = Double(epochTotals.images)
            let metrics = EpochMetrics(
                epoch: epoch + 1, loss: (epochTotals.reconstruction + epochTotals.kl) / n, reconstruction: epochTotals.reconstruction / n,
                kl: epochTotals.kl / n, seconds: epochTotals.seconds, imagesPerSecond: n / max(epochTotals.seconds, 1e-9))
            epoch += 1
            stepInEpoch = 0
            epochTotals = (0, 0, 0, 0)
            if let run, writesRunFiles {
                try run.appendMetrics(metrics.json)
                try saveCheckpoint(to: run)
            }
            epochDone(metrics)
        }
        return .finished
    }


}
