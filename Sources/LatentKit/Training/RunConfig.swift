// Everything a run is made of, saved as config.json in the run directory.

import Foundation

/// How data in [0, 1] becomes binary for a Bernoulli likelihood.
public enum Binarization: String, CaseIterable, Codable, Sendable {
    /// Each value a fresh Bernoulli(value) draw every time a step sees it (Salakhutdinov & Murray; the default), and the
    /// test set binarised once with a fixed key.
    case dynamic
    /// The training set binarised once, with the run's seed, before training; the test set as for `dynamic`.
    case fixed
    /// The values as they are, in training and in evaluation (a cross-entropy, not a likelihood, for values inside (0, 1)).
    case none
}

public struct RunConfig: Codable, Equatable, Sendable {
    public var model = ModelConfig()
    public var dataset: DatasetName = .mnist
    public var dataDirectory: String?
    /// The run's own data files (.npy), in place of `dataset`.
    public var data: DataFiles?
    public var epochs: Int = 10
    public var batchSize: Int = 100
    public var learningRate: Float = 1e-3
    /// Exponential learning-rate decay: epoch e (counted from 0) trains at ``learningRate`` × decay^e, as PyTorch's
    /// `ExponentialLR` stepped once an epoch; 1 (the default, and what runs recorded before it read) keeps it constant.
    public var learningRateDecay: Float = 1
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var seed: UInt32 = 1
    /// Train on the first N training images only (quick runs and tests).
    public var trainLimit: Int?
    /// How data in [0, 1] becomes binary for a Bernoulli likelihood (see ``Binarization``).
    public var binarization: Binarization = .dynamic
    /// Resample each training pixel as Bernoulli(intensity) every time it is seen: ``Binarization/dynamic``.
    public var dynamicBinarization: Bool { binarization == .dynamic }
    /// KL warm-up (paper 004): the KL weight rises linearly from 0 to 1 over ``warmupSteps`` steps when set, else over
    /// this many epochs' steps (0: off).
    public var warmupEpochs: Int = 0
    /// KL warm-up in steps: the same length whatever the data's size (an epoch of 1,000 images is 10 steps, of 60,000
    /// is 600). Takes precedence over ``warmupEpochs``.
    public var warmupSteps: Int?
    /// Importance samples of the IWAE bound (Burda et al.); 1 is the ELBO.
    public var iwSamples: Int = 1
    /// Train on the variational Rényi bound with this α (Li & Turner 2016; ``Objective/renyi(alpha:model:x:posterior:noise:samples:repeater:klWeight:on:)``)
    /// and ``iwSamples`` samples; nil: the ELBO (k = 1) or the IWAE bound.
    public var renyiAlpha: Float?
    /// Keep the training set on the host and stream it to the device in chunks of this many images (rounded down to whole
    /// batches); nil: on the device whole when it fits, streamed in the largest chunks that do when it does not.
    public var streamChunk: Int?

    public init() {}

    /// Keys of fields earlier versions wrote: `dynamicBinarization` (true or false) before `binarization`.
    enum LegacyKeys: String, CodingKey { case dynamicBinarization }

    /// Reads configurations written by earlier versions too: absent fields take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RunConfig()
        model = try c.decodeIfPresent(ModelConfig.self, forKey: .model) ?? d.model
        dataset = try c.decodeIfPresent(DatasetName.self, forKey: .dataset) ?? d.dataset
        dataDirectory = try c.decodeIfPresent(String.self, forKey: .dataDirectory)
        data = try c.decodeIfPresent(DataFiles.self, forKey: .data)
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        learningRateDecay = try c.decodeIfPresent(Float.self, forKey: .learningRateDecay) ?? d.learningRateDecay
        beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? d.beta1
        beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? d.beta2
        epsilon = try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? d.epsilon
        seed = try c.decodeIfPresent(UInt32.self, forKey: .seed) ?? d.seed
        trainLimit = try c.decodeIfPresent(Int.self, forKey: .trainLimit)
        if let b = try c.decodeIfPresent(Binarization.self, forKey: .binarization) {
            binarization = b
        } else if let dynamic = try decoder.container(keyedBy: LegacyKeys.self).decodeIfPresent(Bool.self, forKey: .dynamicBinarization) {
            binarization = dynamic ? .dynamic : .none
        }
        warmupEpochs = try c.decodeIfPresent(Int.self, forKey: .warmupEpochs) ?? d.warmupEpochs
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps)
        iwSamples = try c.decodeIfPresent(Int.self, forKey: .iwSamples) ?? d.iwSamples
        renyiAlpha = try c.decodeIfPresent(Float.self, forKey: .renyiAlpha)
        streamChunk = try c.decodeIfPresent(Int.self, forKey: .streamChunk)
    }

    /// The default KL warm-up of a latent family when none is asked for: 5 epochs for the Dirichlet, none for the
    /// others. Measured on MNIST slices of 1,000 to 60,000 images for 3 and 10 epochs (README, Dirichlet): with the
    /// decoder given the centred log-ratio, 5 epochs' steps (50 on 1,000 images, 3,000 on 60,000) gave a lower test
    /// −ELBO than a fixed 3,000 steps in every cell, and no collapse wherever the Gaussian's KL exceeds 5 nats.
    public static func defaultWarmupEpochs(for latent: LatentFamily) -> Int { latent == .dirichlet ? 5 : 0 }

    /// The default KL warm-up of a model when none is asked for: a model with continuous layers above its bottom latent
    /// (the full Discrete VAE, the hierarchical Gaussian) warms up over ``ContinuousLayerDefaults/warmupEpochs``; any
    /// other, over its family's (``defaultWarmupEpochs(for:)-(LatentFamily)``). The Discrete VAE's warm-up needs the
    /// RBM's weight decay beside it (``ContinuousLayerDefaults/rbmWeightDecay``), which `train` also sets.
    public static func defaultWarmupEpochs(for model: ModelConfig) -> Int {
        model.continuousLayers > 0 ? ContinuousLayerDefaults.warmupEpochs : defaultWarmupEpochs(for: model.latent)
    }

    /// Steps of KL warm-up for epochs of `stepsPerEpoch` steps.
    public func warmupLength(stepsPerEpoch: Int) -> Int {
        warmupSteps ?? { let (n, overflowed) = warmupEpochs.multipliedReportingOverflow(by: stepsPerEpoch); return overflowed ? .max : n }()
    }

    /// The most epochs a run (or its KL warm-up) may ask for; a billion epochs of one step each is already decades.
    public static let maximumEpochs = 1_000_000_000

    /// The run's data: its own files when it has them, else the named dataset (from `directory` when given, else from
    /// the run's directory).
    public func loadData(directory: String? = nil, trainLimit: Int?, testLimit: Int?) throws -> Dataset {
        if let data {
            try require(directory == nil, "--data-dir applies to MNIST-like runs; this run trains on \(data.train)")
            return try Dataset(files: data, seed: seed, trainLimit: trainLimit, testLimit: testLimit)
        }
        return try Dataset(dataset, directory: directory ?? dataDirectory, trainLimit: trainLimit, testLimit: testLimit)
    }

    /// The data's name for progress lines: the dataset's, or the training file's.
    public var dataName: String { data?.name ?? dataset.rawValue }

    public var adam: AdamHyperparameters {
        AdamHyperparameters(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
    }

    /// The learning rate of epoch `epoch` (counted from 0) under ``learningRateDecay``: a function of the epoch alone,
    /// so a resumed run and every rank of a data-parallel one use the same. A decay of 1 gives ``learningRate`` to the
    /// bit (1^e is exactly 1, and Float → Double → Float is exact).
    public func learningRate(epoch: Int) -> Float {
        Float(Double(learningRate) * Foundation.pow(Double(learningRateDecay), Double(epoch)))
    }

    public func validate() throws {
        try model.validate()
        try require((1...Self.maximumEpochs).contains(epochs), "--epochs must be in 1...\(Self.maximumEpochs), got \(epochs)")
        try require(batchSize >= 1, "batch size must be >= 1, got \(batchSize)")
        // a step's largest tensor (a batch's samples through the widest layer), counted without overflowing
        let widest = ([model.inputSize, model.latentSize] + model.hidden + model.decoderWidths).max() ?? 1
        let (samples, overflowed) = batchSize.multipliedReportingOverflow(by: max(iwSamples, 1))
        let (values, overflowedAgain) = samples.multipliedReportingOverflow(by: widest)
        try require(!overflowed && !overflowedAgain && values <= 1 << 40,
                    "a step's largest tensor (batch \(batchSize) × \(iwSamples) samples × \(widest) units) would hold more than 2^40 values")
        try require(learningRate > 0 && learningRate.isFinite, "learning rate must be positive, got \(learningRate)")
        try require(learningRateDecay > 0 && learningRateDecay <= 1, "--learning-rate-decay must lie in (0, 1], got \(learningRateDecay)")
        try require((0..<1).contains(beta1) && (0..<1).contains(beta2), "--adam-beta1 and --adam-beta2 must lie in [0, 1), got \(beta1) and \(beta2)")
        try require(epsilon > 0, "Adam epsilon must be positive")
        if let n = trainLimit { try require(n >= 1, "--limit must be >= 1, got \(n)") }
        try require((0...Self.maximumEpochs).contains(warmupEpochs), "--warmup-epochs must be in 0...\(Self.maximumEpochs), got \(warmupEpochs)")
        try require((warmupSteps ?? 0) >= 0, "--warmup-steps must be >= 0, got \(warmupSteps ?? 0)")
        try require(iwSamples >= 1, "--iw-samples must be >= 1, got \(iwSamples)")
        try data?.validate()
        try require(binarization == .dynamic || model.likelihood == .bernoulli,
                    "--binarize \(binarization.rawValue) applies to the Bernoulli likelihood only (this run's is \(model.likelihood.rawValue))")
        if let n = streamChunk { try require(n >= batchSize, "--stream-chunk must hold at least one batch (\(batchSize) images), got \(n)") }
        try require(iwSamples == 1 || model.latent != .dvae, "--iw-samples: the discrete VAE trains on the ELBO only")
        if let a = renyiAlpha {
            try require(a.isFinite && a >= 0 && a <= 1, "--renyi-alpha must lie in [0, 1], got \(a)")
            try require(model.latent != .dvae, "--objective renyi: the discrete VAE trains on the ELBO only")
        }
    }

    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func load(from path: String) throws -> RunConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): no such file") }
        do {
            return try JSONDecoder().decode(RunConfig.self, from: data)
        } catch {
            throw DataError("\(path): not a LatentKit run configuration (\(error))")
        }
    }
}

/// The files of a run directory.
public struct RunDirectory: Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public var config: String { "\(path)/config.json" }
    public var metrics: String { "\(path)/metrics.jsonl" }
    public var checkpoint: String { "\(path)/checkpoint.safetensors" }
    /// A bag-of-words run's vocabulary (`train --vocabulary`), one word a line in the columns' order.
    public var vocabulary: String { "\(path)/vocabulary.txt" }

    /// The vocabulary at `path`, or else the run's own (`train --vocabulary`); an error naming both when neither exists.
    public func vocabulary(_ path: String?) throws -> [String] {
        if let path { return try Topics.readVocabulary(path) }
        guard FileManager.default.fileExists(atPath: vocabulary) else {
            throw DataError("\(self.path) has no vocabulary: pass --vocabulary VOCAB.txt (or train with --vocabulary to record one)")
        }
        return try Topics.readVocabulary(vocabulary)
    }

    /// Creates the directory (and parents), failing clearly when it cannot be written.
    public func create() throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw DataError("cannot create run directory \(path): \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: path) else { throw DataError("run directory \(path) is not writable") }
    }

    /// Removes what a new run wrote before its first checkpoint (its configuration, vocabulary and metrics), and the
    /// directory itself when `folder` is true and nothing else is in it: a run that failed before it trained anything
    /// leaves no half-made run directory behind.
    public func removeUnstarted(folder: Bool) {
        for file in [config, vocabulary, metrics] { try? FileManager.default.removeItem(atPath: file) }
        if folder, (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// Checks that `path` holds a run (a config and a checkpoint, or the previous one alone: a resume that found the last
    /// one damaged moved it aside).
    public func requireRun() throws {
        let checkpoints = FileManager.default.fileExists(atPath: previousCheckpoint) ? [] : [checkpoint]
        for file in [config] + checkpoints where !FileManager.default.fileExists(atPath: file) {
            throw DataError("\(path) is not a LatentKit run directory: \(file) is missing")
        }
    }

    public func appendMetrics(_ line: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) + Data("\n".utf8)
        if let handle = FileHandle(forWritingAtPath: metrics) {
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
            try handle.close()
        } else {
            guard FileManager.default.createFile(atPath: metrics, contents: data) else { throw DataError("cannot write \(metrics)") }
        }
    }

    /// Keeps the metrics lines of the first `epochs` epochs only. An epoch's line is appended just before its checkpoint is
    /// written, so a run killed (or out of disk) between the two has a line for an epoch its checkpoint does not hold;
    /// resuming drops it, and the epoch's line is written again when the epoch is.
    public func keepMetrics(ofEpochs epochs: Int) throws {
        guard let data = FileManager.default.contents(atPath: metrics) else { return }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let kept = lines.filter { line in
            let epoch = (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["epoch"] as? Int
            return epoch.map { $0 <= epochs } ?? true
        }
        guard kept.count != lines.count else { return }
        do {
            try Data(kept.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: metrics), options: .atomic)
        } catch {
            throw DataError("cannot rewrite \(metrics): \(error.localizedDescription)")
        }
    }

    public func readMetrics() throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: metrics) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
