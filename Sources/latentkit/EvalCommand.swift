// `latentkit eval RUN_DIR` and `latentkit sample RUN_DIR`: use a trained run.

import ArgumentParser
import Foundation
import LatentKit

/// The run's configuration and its model with the checkpoint's parameters, on `backend`.
func loadRun(_ path: String, on backend: any Backend) throws -> (RunConfig, VAE) {
    let run = RunDirectory(path)
    try run.requireRun()
    let config = try RunConfig.load(from: run.config)
    let model = try VAE(config.model, on: backend, seed: config.seed)
    let (checkpoint, notice) = try run.readCheckpoint()
    if let notice { FileHandle.standardError.write(Data((notice + "\n").utf8)) }
    try model.load(from: checkpoint, on: backend)
    return (config, model)
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Test negative ELBO (reconstruction and KL) and the k-sample importance-sampled negative log-likelihood.")

    @Argument(help: "A run directory made by latentkit train.") var runDirectory: String
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Importance samples per image for the log-likelihood (Burda et al. use 5000); 0 skips it.") var k: Int = 5000
    @Option(help: "Evaluate the first N test images only.") var limit: Int?
    @Option(help: "Folder with the dataset's IDX files (default: the run's).") var dataDir: String?
    @Option(help: "Evaluate on this .npy file (N x D, D the model's input size) instead of the run's test set.") var data: String?
    @Flag(help: "Print one JSON object instead of text.") var json = false
    @Option(help: ArgumentHelp("Also write each image's importance-sampled NLL to this .npy file (float32, one per image, in the test set's order), to compare two models by paired differences.", valueName: "file.npy"))
    var perImage: String?
    @Option(help: "Discrete VAE: parallel AIS chains for log Z of the RBM prior.") var aisChains: Int = DiscreteVAEDefaults.aisChains
    @Option(help: "Discrete VAE: AIS inverse temperatures.") var aisTemperatures: Int = DiscreteVAEDefaults.aisTemperatures

    func validate() throws {
        if k < 0 { throw ValidationError("--k must be >= 0, got \(k)") }
        if aisChains < 2 || aisChains > 1_000_000 { throw ValidationError("--ais-chains must be in 2...1000000, got \(aisChains)") }
        if aisTemperatures < 3 || aisTemperatures > 10_000_000 {
            throw ValidationError("--ais-temperatures must be in 3...10000000, got \(aisTemperatures)")
        }
        if let limit, limit < 1 { throw ValidationError("--limit must be >= 1, got \(limit)") }
        if let perImage {
            if k == 0 { throw ValidationError("--per-image needs importance sampling: --k must be >= 1, got 0") }
            try requireWritableFile(perImage, flag: "--per-image")  // refused before the evaluation's minutes, not after them
        }
    }

    func run() throws {
        // under mpirun: the ranks split the importance sampling by image; rank 0 prints
        let communicator = try Communicator.world()
        let root = communicator?.isRoot ?? true
        let backend = try backendOptions.make()
        let (config, model) = try loadRun(runDirectory, on: backend)
        let test: LabelledImages
        if let path = self.data {
            guard dataDir == nil else { throw ValidationError("--data and --data-dir: pass one or the other") }
            test = try LabelledImages(npy: path, labels: nil)  // `evaluate` takes its first --limit items
        } else {
            test = try config.loadData(directory: dataDir, trainLimit: 1, testLimit: limit).test
        }
        try config.model.requireInput(test, from: self.data ?? config.data?.test ?? config.data?.train ?? "the test images")
        let live = root && isatty(STDERR_FILENO) != 0
        let started = Date()
        let evaluator = Evaluator(model: model, backend: backend)
        evaluator.binarizesTestSet = config.binarization != .none
        evaluator.aisChains = aisChains
        evaluator.aisTemperatures = aisTemperatures
        evaluator.communicator = communicator
        let result = try evaluator.evaluate(
            test, k: max(k, 1), limit: limit, importanceSampling: k > 0,
            progress: { done in
                let share = communicator == nil ? "" : " (rank 0's share)"
                if live && (done % 10 == 0 || done == test.count) {
                    FileHandle.standardError.write(Data("\r\u{1B}[Kimportance sampling: \(done)/\(test.count) images\(share)".utf8))
                }
            })
        if live && k > 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        guard root else { return }
        try result.requireFinite()
        if let perImage {
            try writeAtomically(try NPY.encode(result.imageNLL.map { Float($0) }, shape: [result.imageNLL.count]), to: perImage)
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: result.json, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(String(format: "test -ELBO %.3f nats (reconstruction %.3f, KL %.3f) on %d images", result.negativeELBO,
                     result.reconstruction, result.kl, result.images))
        if let relaxed = result.relaxedObjective {
            print(String(format: "  (the discrete model: hard categorical samples, decoded one-hot; the relaxed objective the run "
                         + "was trained on, not a bound: %.3f)", relaxed))
        }
        print("active units: \(result.activeUnits) of \(result.unitActivity.count) (\(result.activityMeasure.formula) > 0.01)")
        if let logZ = result.logZ {
            print(String(format: "RBM prior log Z %.3f ± %.3f (AIS, %d chains, %d temperatures)", logZ, result.logZStandardError ?? .nan,
                         aisChains, aisTemperatures))
        }
        if let nll = result.negativeLogLikelihood {
            let error = result.nllStandardError.map { String(format: " ± %.3f (standard error over images)", $0) } ?? ""
            print(String(format: "test NLL %.3f nats", nll) + error + " (importance sampling, k = \(result.k))")
        }
        if let bound = result.perplexityBound, let tokens = result.tokensPerDocument {
            print(String(format: "test perplexity %.1f", result.perplexity ?? bound) + (result.perplexity == nil ? " (bound: exp(-ELBO per token))" : "")
                  + String(format: ", bound %.1f (corpus: exp(Σ -ELBO / Σ tokens)), per-document bound %.1f (mean of exp(-ELBO_d / N_d)); "
                           + "%.1f tokens per document", bound, result.documentPerplexityBound ?? .nan, tokens))
        }
        print(String(format: "%.1f s on %@", Date().timeIntervalSince(started), backend.name)
              + (communicator.map { " × \($0.size) ranks" } ?? ""))
    }
}

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample", abstract: "Decode samples of the prior into a PNG grid of images.")

    @Argument(help: "A run directory made by latentkit train.") var runDirectory: String
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Number of images.") var count: Int = 64
    @Option(help: "Output PNG file.") var out: String
    @Option(help: "Random seed of the prior samples.") var seed: UInt32 = 1

    func validate() throws {
        if count < 1 || count > 10_000 { throw ValidationError("--count must be between 1 and 10000, got \(count)") }
    }

    func run() throws {
        let backend = try backendOptions.make()
        let (config, model) = try loadRun(runDirectory, on: backend)
        let pixels = try LatentPictures(model: model, backend: backend).priorSamples(count: count, seed: seed)
        let side = Int(Double(config.model.inputSize).squareRoot())
        guard side * side == config.model.inputSize else { throw ValidationError("images of \(config.model.inputSize) pixels are not square") }
        let columns = Int(Double(count).squareRoot().rounded(.up))
        try PNG.writeGrid((0..<count).map { Array(pixels[($0 * side * side)..<(($0 + 1) * side * side)]) }, side: side, columns: columns, to: out)
        print("wrote \(count) samples to \(out)")
    }
}
