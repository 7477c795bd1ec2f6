// `latentkit train`: train a VAE with sensible defaults, or resume a run.

import ArgumentParser
import Dispatch
import Foundation
import LatentKit

extension DatasetName: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}
extension Likelihood: ExpressibleByArgument {}
extension Binarization: ExpressibleByArgument {}
extension LatentFamily: ExpressibleByArgument {}
extension KLEstimator: ExpressibleByArgument {}
extension DirichletApproximation: ExpressibleByArgument {}
extension AlphaActivation: ExpressibleByArgument {}
extension DirichletDecoderInput: ExpressibleByArgument {}
extension WordWeighting: ExpressibleByArgument {}
extension EncoderInput: ExpressibleByArgument {}

/// `--objective`: what a training step maximises.
enum TrainingObjective: String, ExpressibleByArgument, CaseIterable {
    case elbo, iwae, renyi
}
extension PosteriorStructure: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a VAE (default: Gaussian, nz 20, 784-200-200, softplus, batch 100, Adam 1e-3, 10 epochs on MNIST).",
        discussion: """
            Writes a run directory with config.json, metrics.jsonl (one line per epoch) and checkpoint.safetensors \
            (after every epoch, and on Ctrl-C, which stops cleanly). --resume RUN_DIR continues a run exactly where it \
            stopped; --epochs then sets the new total.
            """)

    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Number of epochs (the total, when resuming).") var epochs: Int?
    @Option(help: "Random seed (initialisation, shuffling, binarisation, noise).") var seed: UInt32?
    @Option(help: "Dataset: mnist or fashion-mnist.") var dataset: DatasetName?
    @Option(help: "Folder with the dataset's IDX files (default: data/mnist, or Debian's fashion-mnist folder).") var dataDir: String?
    @Option(help: "Your own data: a NumPy .npy file of N items x D features (or N x H x W pictures) in place of --dataset.")
    var data: String?
    @Option(help: "With --data: a .npy file of N integer labels (0 to 255), for analyze.") var labels: String?
    @Option(help: "With --data (counts): the vocabulary, one word a line in the columns' order, recorded with the run for topics and plots.")
    var vocabulary: String?
    @Option(help: "With --data: a .npy test set (default: hold out --test-fraction of --data).") var testData: String?
    @Option(help: "With --test-data: its labels (.npy).") var testLabels: String?
    @Option(help: "With --data and no --test-data: the fraction held out for testing, chosen by --seed (default 0.1).")
    var testFraction: Double?
    @Option(help: "Bernoulli likelihood: dynamic (a fresh binary draw of each value every time it is seen; default), fixed (one draw, before training) or none (the values as they are).")
    var binarize: Binarization?
    @Option(help: "Stream the training set to the device in chunks of this many images (default: whole if it fits, else the largest chunks that do).")
    var streamChunk: Int?
    @Option(help: "Run directory to create (default: runs/<dataset>-<latent>-<time>).") var out: String?
    @Option(help: "Continue the run in this directory.") var resume: String?
    @Option(help: "Also save a checkpoint every STEPS steps within an epoch (default: at the end of each epoch only).")
    var checkpointEvery: Int?
    @Option(help: "Minibatch size.") var batchSize: Int?
    @Option(help: "Latent dimensions.") var latentSize: Int?
    @Option(help: "Hidden layer sizes, comma-separated, e.g. 200,200.") var hidden: String?
    @Option(help: "The decoder's hidden layer sizes, latent side first, or 'none' for a linear decoder (ProdLDA's; default: the encoder's mirrored).")
    var decoderHidden: String?
    @Option(help: "Hidden activation: softplus, tanh, relu, elu, sigmoid.") var activation: Activation?
    @Option(help: "Adam learning rate.") var learningRate: Float?
    @Option(help: "Multiply the learning rate by this factor after every epoch (PyTorch's ExponentialLR; default 1: constant).")
    var learningRateDecay: Float?
    @Option(help: "Decoder likelihood: bernoulli (binarised data), gaussian (continuous) or multinomial (counts, e.g. bags of words; default with --data: from the data's values).")
    var likelihood: Likelihood?
    @Option(help: "Train on the first N training images only.") var limit: Int?
    @Option(help: "Latent family: gaussian, logit-normal, concrete, dirichlet, dvae or softmax-gaussian (ProdLDA's; the default for counts).") var latent: LatentFamily?
    @Option(help: "Logit-normal prior variance α (prior N(0, α I) on the logits; default 1.78).") var priorVariance: Float?
    @Option(help: "KL term: analytic or monte-carlo (default: monte-carlo for logit-normal, else analytic; for concrete, analytic is the categorical KL of Jang et al.).") var kl: KLEstimator?
    @Option(help: "Importance samples k of the IWAE or Rényi bound (1: the ELBO; default 5 with --objective iwae or renyi).") var iwSamples: Int?
    @Option(help: "Objective: elbo, iwae (Burda et al.) or renyi (the variational Rényi bound of Li & Turner, with --renyi-alpha; default: elbo, or iwae when --iw-samples > 1).")
    var objective: TrainingObjective?
    @Option(help: "The α of --objective renyi, in [0, 1]: 0 is the IWAE bound, 1 the ELBO.") var renyiAlpha: Float?
    @Option(help: "KL warm-up: the KL weight rises linearly from 0 to 1 over this many steps (in place of --warmup-epochs).") var warmupSteps: Int?
    @Option(help: "KL warm-up in epochs: this many times the steps of one epoch (default 5 for dirichlet, 10 with --continuous-layers L >= 1, else 0; on counts the count recipe's epochs / 4).") var warmupEpochs: Int?
    @Option(help: "Concrete: GxK, G independent K-way categoricals (e.g. 20x10); default one 20-way variable.") var categorical: String?
    @Option(help: "Concrete: posterior temperature (default 1; the start when annealing).") var temperature: Float?
    @Option(help: "Concrete: prior temperature (default 1).") var priorTemperature: Float?
    @Option(help: "Concrete: anneal the temperature as max(min, t0·exp(-rate·step)) at this rate (default 3e-5; 0: fixed).") var anneal: Float?
    @Option(help: "Concrete: the annealing floor (default 0.5).") var minTemperature: Float?
    @Option(help: "Dirichlet: logistic-normal approximation for sampling: laplace or kl.") var dirichletApprox: DirichletApproximation?
    @Option(help: "Dirichlet: alpha activation: softplus, exp-tanh or scaled-softmax.") var alphaActivation: AlphaActivation?
    @Option(help: "Dirichlet and softmax-gaussian: the symmetric Dirichlet prior's concentration α (default 1; softmax-gaussian: its Laplace approximation).") var priorConcentration: Float?
    @Option(help: "Dirichlet: what the decoder is given: clr (the sample's centred log-ratio, default) or simplex (the sample z, as paper 000).")
    var decoderInput: DirichletDecoderInput?
    @Flag(help: "Batch normalisation on the hidden layers (running statistics at evaluation).") var batchNorm = false
    @Flag(inversion: .prefixedNo, help: "Batch normalisation of the decoder's output logits, scale fixed at 1, learned shift, ε = momentum = 1e-3 (ProdLDA's; default on for counts).")
    var decoderBatchNorm: Bool?
    @Option(help: "Fade the decoder's batch norm out over the first E epochs (Scholar's annealing; default 0: kept throughout).")
    var decoderBatchNormAnneal: Int?
    @Option(help: "ε of the decoder's batch norm, in (0, 1] (default 1e-3, ProdLDA's).") var decoderBatchNormEpsilon: Float?
    @Option(help: "λ of a penalty on how alike a bag-of-words decoder's topics are: λ times their mean squared cosine (default 0).") var topicDiversity: Float?
    @Option(help: "λ of a penalty that gives each word of a bag-of-words decoder to few topics: λ times the mean entropy of a word's softmax over the topics (the count recipe's unless given).") var wordExclusivity: Float?
    @Option(help: "What a bag-of-words encoder reads: counts, or log-counts (log(1 + counts); the count recipe's).") var encoderInput: EncoderInput?
    @Option(help: "How --word-exclusivity weighs the words in its mean: frequency (by the training corpus's word frequencies; the count recipe's) or uniform.") var wordExclusivityWeighting: WordWeighting?
    @Flag(inversion: .prefixedNo, help: "Batch normalisation without scale or shift on the encoder's output heads (ProdLDA's; default on for counts).")
    var encoderHeadBatchNorm: Bool?
    @Option(help: "Dropout probability on the encoder's last hidden layer, in training (default 0; 0.2 for counts).") var dropout: Float?
    @Option(help: "Dropout probability on the latent sample the decoder sees, in training (default 0).") var latentDropout: Float?
    @Option(help: "Adam β₁ (default 0.9; 0.99 for counts).") var adamBeta1: Float?
    @Option(help: "Adam β₂ (default 0.999).") var adamBeta2: Float?
    @Flag(inversion: .prefixedNo, help: "Bags of words: a fixed decoder bias of the training corpus's log word frequencies (Scholar's background).")
    var backgroundBias: Bool?
    @Option(help: "Gaussian: the posterior's precision structure: diagonal, chain (tridiagonal) or grid (block-tridiagonal).") var posterior: PosteriorStructure?
    @Option(help: "Grid posterior: RxC latent grid, R·C = latent size (default: the squarest, 4x5 for 20).") var grid: String?
    @Option(help: "Discrete VAE: β of the spike-and-exponential smoothing, in (0, 80] (default 3).") var beta: Float?
    @Option(help: "Discrete VAE: groups of the hierarchical posterior, dividing the latent size (default 1).") var groups: Int?
    @Option(help: "Discrete VAE: persistent Gibbs chains of the RBM prior's negative phase (default 100).") var gibbsChains: Int?
    @Option(help: "Discrete VAE: block-Gibbs sweeps of the chains per training step (default 5).") var gibbsSteps: Int?
    @Option(help: "Discrete VAE: λ of a weight decay on the RBM's couplings, λ Σ W² added to the loss (default 0; 1e-3 with --continuous-layers L >= 1).") var rbmWeightDecay: Float?
    @Option(help: "Continuous Gaussian latent layers above the latent, 0...64 (Rolfe's full model with --latent dvae; a hierarchical Gaussian VAE with --latent gaussian; default 0).")
    var continuousLayers: Int?
    @Option(help: "Units of each continuous layer, 1...4096 (default 64 with --continuous-layers).") var continuousSize: Int?
    @Option(help: "Hidden width of each continuous layer's prior and posterior networks (default: the first --hidden width).") var continuousHidden: Int?

    func run() throws {
        lineBufferStandardOutput()
        if let n = checkpointEvery, n < 1 { throw ToolError("--checkpoint-every must be >= 1, got \(n)") }
        var (config, run, resuming) = try prepare()
        // under mpirun: one rank of a data-parallel run; rank 0 alone prints and writes the run's files
        let communicator = try Communicator.world()
        let root = communicator?.isRoot ?? true
        let backend = try backendOptions.make()
        // a run on its own files reads all of its test documents too, so that bad values there stop it now, not its eval
        let data = try config.loadData(trainLimit: config.trainLimit, testLimit: config.data == nil ? 1 : nil)
        if !resuming, let files = config.data {
            try config.model.fit(to: data.train, from: files.train, likelihood: likelihood, decoderInput: decoderInput)
            if likelihood == nil && config.model.likelihood == .gaussian, let value = data.train.firstNonCount(), root {
                print("note: \(files.train): item \(value.item), feature \(value.feature) is \(value.value), neither in [0, 1] nor a count: "
                      + "training with the Gaussian likelihood (--likelihood chooses another)")
            }
            CountRecipe.apply(to: &config, keeping: givenRecipeSettings, documents: data.train.count)
            if root, config.model.likelihood == .multinomial, !givenRecipeSettings.contains(.epochs),
               CountRecipe.epochScale(documents: data.train.count) > 1 {
                print("note: \(data.train.count) training documents, fewer than the \(CountRecipe.referenceDocuments) the count recipe's epochs "
                      + "are for: training \(config.epochs) epochs, so as to make as many updates, up to \(CountRecipe.maxEpochScale) times the epochs (--epochs sets them)")
            }
            config.model.klEstimator = kl ?? config.model.effectiveKLEstimator
            do { try config.validate() } catch { throw ValidationError("\(error)") }
        }
        if !resuming && wordExclusivityWeighting != nil && config.model.wordExclusivity == 0 {
            throw ValidationError("--word-exclusivity-weighting needs the word exclusivity penalty (--word-exclusivity λ > 0, which the count recipe sets for a linear topic decoder)")
        }
        if !resuming && decoderBatchNormEpsilon != nil && !config.model.decoderBatchNorm {
            throw ValidationError("--decoder-batch-norm-epsilon needs --decoder-batch-norm")
        }
        if let files = config.data {
            try config.model.requireInput(data.train, from: files.train)
            try config.model.requireInput(data.test, from: files.test ?? files.train)
        }
        let vocabularyWords = try vocabulary.map { path in
            let words = try Topics.readVocabulary(path)
            try require(words.count == config.model.inputSize, "\(path): the vocabulary has \(words.count) words but the data have \(config.model.inputSize) columns")
            return words
        }
        let trainer = try Trainer(config: config, backend: backend, train: data.train, communicator: communicator)
        if trainer.flooredBackgroundWords > 0 && config.model.backgroundBias && root {
            print("note: \(trainer.flooredBackgroundWords) of the vocabulary's words never occur in the training documents; the background "
                  + "bias gives them the frequency of half an occurrence")
        }
        let createsFolder = !FileManager.default.fileExists(atPath: run.path)
        if !resuming && root { try run.create() }  // only once the data, backend and model are known to be good
        if resuming {
            // every rank reads it (the run folder is shared); rank 0 says what it found
            let (checkpoint, notice) = try run.readCheckpointForResume(movingDamagedAside: root)
            try trainer.restore(from: checkpoint)
            // a run trained as far as asked, or further: nothing to do, said rather than done silently
            if trainer.epoch >= config.epochs && trainer.stepInEpoch == 0 {
                guard trainer.epoch == config.epochs else {
                    throw ToolError("\(run.path) has trained \(trainer.epoch) epochs, more than --epochs \(config.epochs): pass more to go on")
                }
                if root { print("\(run.path) has trained \(trainer.epoch) of \(config.epochs) epochs: nothing to do (--epochs N above \(trainer.epoch) goes on)") }
                return
            }
            if root {
                if let notice { FileHandle.standardError.write(Data((notice + "\n").utf8)) }
                try run.keepMetrics(ofEpochs: trainer.epoch)
                print("resuming \(run.path) at epoch \(trainer.epoch + 1), step \(trainer.stepInEpoch) of \(trainer.stepsPerEpoch)")
            }
        } else if root {
            try config.save(to: run.config)
            if let words = vocabularyWords { try writeAtomically(Data(words.map { $0 + "\n" }.joined().utf8), to: run.vocabulary) }
        }
        if root { print("training on \(backend.name) (\(backend.deviceDescription)): \(config.dataName), \(data.train.count) images, "
              + "\(config.model.latent.rawValue) \(config.model.inputSize)-\(config.model.hidden.map(String.init).joined(separator: "-"))-"
              + "\(config.model.latentSize) \(config.model.activation.rawValue)"
              + (config.model.decoderHidden.map { ", decoder " + ([config.model.latentSize] + $0 + [config.model.inputSize]).map(String.init).joined(separator: "-") } ?? "")
              + ", batch \(config.batchSize), \(config.epochs) epochs"
              + (config.model.precisionStructure.map { ", \(config.model.posterior.rawValue) posterior (\($0))" } ?? "")
              + (config.renyiAlpha.map { ", Rényi bound α=\($0) k=\(config.iwSamples)" } ?? (config.iwSamples > 1 ? ", IWAE k=\(config.iwSamples)" : "")) + (config.warmupLength(stepsPerEpoch: trainer.stepsPerEpoch) > 0 ? ", KL warm-up \(config.warmupLength(stepsPerEpoch: trainer.stepsPerEpoch)) steps" : "")
              + (trainer.streamChunk.map { ", streamed to the device in chunks of \($0) images" } ?? "")
              + (communicator.map { ", data-parallel over \($0.size) ranks (\($0.implementation)), \(trainer.slice.count) images each" } ?? "")
              + " -> \(run.path)") }

        let stop = SetOnceFlag()
        // Ctrl-C; under mpirun also SIGTERM, which is what Open MPI's mpirun sends every rank when it gets Ctrl-C
        let signals = [SIGINT] + (communicator == nil ? [] : [SIGTERM])
        let sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }

        let outcome: TrainingOutcome
        do {
            outcome = try train(trainer, run: run, config: config, stop: stop)
        } catch {
            // a new run that failed before its first checkpoint (a NaN in the first epoch, a step too large for memory):
            // nothing to resume, so none of its files are left
            if !resuming && ![run.checkpoint, run.previousCheckpoint].contains(where: { FileManager.default.fileExists(atPath: $0) }) {
                if root { run.removeUnstarted(folder: createsFolder) }
                throw ToolError("\(error); no checkpoint was written, so nothing of \(run.path) is kept")
            }
            // what is on disk: a non-finite loss keeps the last good checkpoint; a device that fails mid-run (or any other
            // fault that leaves the checkpoint on disk, the last one written whole) says how to go on; a full disk says it
            guard FileManager.default.fileExists(atPath: run.checkpoint), !(error is CheckpointWriteError) else { throw error }
            if error is TrainingError { throw ToolError("\(error); the last good checkpoint is kept") }
            throw ToolError("\(error); the last checkpoint is kept: resume with latentkit train --resume \(run.path)")
        }
        if case .interrupted(let epoch, let step) = outcome {
            if root { print("\ninterrupted at epoch \(epoch + 1), step \(step); checkpoint saved. Resume with: latentkit train --resume \(run.path)") }
            throw ExitCode(130)
        }
        if root { print("done: \(run.path) (evaluate with: latentkit eval \(run.path))") }
    }

    /// Runs `trainer` with the progress line and the per-epoch lines.
    private func train(_ trainer: Trainer, run: RunDirectory, config: RunConfig, stop: SetOnceFlag) throws -> TrainingOutcome {
        let root = trainer.writesRunFiles, live = root && isatty(STDOUT_FILENO) != 0
        var lastDraw = Date.distantPast, warnedOfCollapse = false
        return try trainer.train(
            run: run, checkpointEvery: checkpointEvery,
            progress: { p in
                guard live, Date().timeIntervalSince(lastDraw) > 0.2 || p.step == p.steps else { return }
                lastDraw = Date()
                let line = String(format: "epoch %d/%d  step %d/%d  loss %.2f  KL %.2f  %.0f images/s  ETA %@",
                                  p.epoch, p.epochs, p.step, p.steps, p.loss, p.kl, p.imagesPerSecond, duration(p.etaSeconds))
                FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
            },
            epochDone: { m in
                let exchange = trainer.exchangeTimes()
                guard root else { return }
                defer {
                    if !warnedOfCollapse, let warning = m.collapseWarning(latent: config.model.latent) {
                        warnedOfCollapse = true
                        FileHandle.standardError.write(Data((warning + "\n").utf8))
                    }
                }
                if live { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
                print(String(format: "epoch %d/%d  loss %.3f  reconstruction %.3f  KL %.3f  %.1f s  %.0f images/s",
                             m.epoch, config.epochs, m.loss, m.reconstruction, m.kl, m.seconds, m.imagesPerSecond)
                      + (exchange.map { e in
                          let step = m.seconds / Double(trainer.stepsPerEpoch)
                          return String(format: "  gradient exchange %.2f ms/step (allreduce %.2f ms, %.0f%% of a step; %d floats in %d ",
                                        1000 * e.exchange, 1000 * e.allreduce, 100 * e.exchange / step, e.floatsPerStep,
                                        e.bucketsPerStep) + (e.bucketsPerStep == 1 ? "bucket)" : "buckets)")
                      } ?? ""))
            },
            shouldStop: { stop.isSet })
    }

    /// The settings of the count recipe that flags chose (``CountRecipe``).
    var givenRecipeSettings: Set<RecipeSetting> {
        let given: [(RecipeSetting, Bool)] = [
            (.latent, latent != nil), (.hidden, hidden != nil), (.decoderHidden, decoderHidden != nil), (.activation, activation != nil),
            (.epochs, epochs != nil), (.batchSize, batchSize != nil), (.learningRate, learningRate != nil), (.adamBeta1, adamBeta1 != nil),
            (.adamBeta2, adamBeta2 != nil), (.decoderBatchNorm, decoderBatchNorm != nil),
            (.decoderBatchNormEpsilon, decoderBatchNormEpsilon != nil), (.encoderHeadBatchNorm, encoderHeadBatchNorm != nil),
            (.dropout, dropout != nil), (.latentDropout, latentDropout != nil), (.priorConcentration, priorConcentration != nil),
            (.dirichletApproximation, dirichletApprox != nil), (.decoderBatchNormAnneal, decoderBatchNormAnneal != nil),
            (.backgroundBias, backgroundBias != nil), (.warmup, warmupEpochs != nil || warmupSteps != nil),
            (.wordExclusivity, wordExclusivity != nil), (.wordExclusivityWeighting, wordExclusivityWeighting != nil),
            (.encoderInput, encoderInput != nil),
        ]
        return Set(given.filter(\.1).map(\.0))
    }

    /// The run's configuration and directory, new or resumed, with flags checked before anything runs.
    func prepare() throws -> (RunConfig, RunDirectory, Bool) {
        if let resume {
            let run = RunDirectory(resume)
            try run.requireRun()
            var config = try RunConfig.load(from: run.config)
            let fixed: [(String, Bool)] = [("--seed", seed != nil), ("--dataset", dataset != nil), ("--batch-size", batchSize != nil),
                                           ("--latent-size", latentSize != nil), ("--hidden", hidden != nil), ("--decoder-hidden", decoderHidden != nil), ("--activation", activation != nil),
                                           ("--learning-rate", learningRate != nil), ("--learning-rate-decay", learningRateDecay != nil),
                                           ("--likelihood", likelihood != nil), ("--limit", limit != nil),
                                           ("--out", out != nil), ("--latent", latent != nil), ("--prior-variance", priorVariance != nil),
                                           ("--kl", kl != nil), ("--iw-samples", iwSamples != nil), ("--objective", objective != nil), ("--renyi-alpha", renyiAlpha != nil), ("--warmup-epochs", warmupEpochs != nil), ("--warmup-steps", warmupSteps != nil),
                                           ("--categorical", categorical != nil), ("--temperature", temperature != nil),
                                           ("--prior-temperature", priorTemperature != nil), ("--anneal", anneal != nil),
                                           ("--min-temperature", minTemperature != nil), ("--dirichlet-approx", dirichletApprox != nil),
                                           ("--alpha-activation", alphaActivation != nil), ("--prior-concentration", priorConcentration != nil), ("--decoder-input", decoderInput != nil),
                                           ("--batch-norm", batchNorm), ("--posterior", posterior != nil), ("--grid", grid != nil),
                                           ("--beta", beta != nil), ("--groups", groups != nil), ("--gibbs-chains", gibbsChains != nil),
                                           ("--gibbs-steps", gibbsSteps != nil), ("--rbm-weight-decay", rbmWeightDecay != nil), ("--binarize", binarize != nil), ("--data", data != nil), ("--labels", labels != nil),
                                           ("--test-data", testData != nil), ("--test-labels", testLabels != nil),
                                           ("--test-fraction", testFraction != nil), ("--vocabulary", vocabulary != nil), ("--decoder-batch-norm", decoderBatchNorm != nil),
                                           ("--decoder-batch-norm-anneal", decoderBatchNormAnneal != nil), ("--decoder-batch-norm-epsilon", decoderBatchNormEpsilon != nil), ("--topic-diversity", topicDiversity != nil), ("--word-exclusivity", wordExclusivity != nil), ("--word-exclusivity-weighting", wordExclusivityWeighting != nil), ("--encoder-input", encoderInput != nil), ("--encoder-head-batch-norm", encoderHeadBatchNorm != nil),
                                           ("--dropout", dropout != nil), ("--latent-dropout", latentDropout != nil), ("--adam-beta1", adamBeta1 != nil),
                                           ("--adam-beta2", adamBeta2 != nil), ("--background-bias", backgroundBias != nil),
                                           ("--continuous-layers", continuousLayers != nil), ("--continuous-size", continuousSize != nil),
                                           ("--continuous-hidden", continuousHidden != nil)]
            if let flag = fixed.first(where: \.1) {
                throw ValidationError("\(flag.0) cannot change when resuming; it is fixed by \(run.config)")
            }
            if let epochs { config.epochs = epochs }
            if let dataDir { config.dataDirectory = dataDir }
            if let streamChunk { config.streamChunk = streamChunk }  // where the images live, not what is computed
            try config.validate()
            return (config, run, true)
        }
        var config = RunConfig()
        if let epochs { config.epochs = epochs }
        if let seed { config.seed = seed }
        if let dataset { config.dataset = dataset }
        config.dataDirectory = dataDir
        if let data {
            guard dataset == nil && dataDir == nil else { throw ValidationError("--data replaces --dataset and --data-dir; pass one or the other") }
            // absolute, so that the run's other commands find the files from any directory
            func absolute(_ path: String?) -> String? { path.map { URL(fileURLWithPath: $0).standardizedFileURL.path } }
            config.data = DataFiles(train: absolute(data)!, trainLabels: absolute(labels), test: absolute(testData), testLabels: absolute(testLabels),
                                    testFraction: testFraction ?? DataFiles.defaultTestFraction)
        } else if [labels, testData, testLabels, vocabulary].contains(where: { $0 != nil }) || testFraction != nil {
            throw ValidationError("--labels, --test-data, --test-labels, --test-fraction and --vocabulary apply to --data only")
        }
        if let batchSize { config.batchSize = batchSize }
        if let latentSize { config.model.latentSize = latentSize }
        if let hidden {
            let sizes = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--hidden takes positive sizes separated by commas, e.g. 200,200; got '\(hidden)'")
            }
            config.model.hidden = sizes.map { $0! }
        }
        if let decoderHidden {
            let sizes = decoderHidden == "none" ? [] : decoderHidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (decoderHidden == "none" || !sizes.isEmpty), sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--decoder-hidden takes positive sizes separated by commas, or none; got '\(decoderHidden)'")
            }
            config.model.decoderHidden = sizes.map { $0! }
        }
        if let activation { config.model.activation = activation }
        if let learningRate { config.learningRate = learningRate }
        if let learningRateDecay { config.learningRateDecay = learningRateDecay }
        if let likelihood { config.model.likelihood = likelihood }
        if likelihood == .multinomial && data == nil {
            throw ValidationError("--likelihood multinomial models counts (bags of words): pass them with --data COUNTS.npy")
        }
        config.trainLimit = limit
        if let latent { config.model.latent = latent }
        if let priorVariance {
            guard config.model.latent == .logitNormal else { throw ValidationError("--prior-variance applies to --latent logit-normal only") }
            config.model.priorVariance = priorVariance
        }
        let concreteFlags = [categorical != nil, temperature != nil, priorTemperature != nil, anneal != nil, minTemperature != nil]
        if concreteFlags.contains(true) && config.model.latent != .concrete {
            throw ValidationError("--categorical, --temperature, --prior-temperature, --anneal and --min-temperature apply to --latent concrete only")
        }
        if let categorical {
            let parts = categorical.lowercased().split(separator: "x").map { Int($0) }
            guard parts.count == 2, let groups = parts[0], let classes = parts[1], groups >= 1, classes >= 1 else {
                throw ValidationError("--categorical takes GxK with positive integers, e.g. 20x10; got '\(categorical)'")
            }
            let (size, overflowed) = groups.multipliedReportingOverflow(by: classes)
            guard !overflowed else { throw ValidationError("--categorical \(categorical) has more than \(Int.max) latents") }
            config.model.categoricalGroups = groups
            config.model.latentSize = size
        }
        if let temperature { config.model.temperature = temperature }
        if let priorTemperature { config.model.priorTemperature = priorTemperature }
        if let anneal { config.model.annealRate = anneal }
        if let minTemperature { config.model.minimumTemperature = minTemperature }
        if [dirichletApprox != nil, alphaActivation != nil, decoderInput != nil].contains(true) && config.model.latent != .dirichlet {
            throw ValidationError("--dirichlet-approx, --alpha-activation and --decoder-input apply to --latent dirichlet only")
        }
        if let decoderInput { config.model.dirichletDecoderInput = decoderInput }
        if let dirichletApprox { config.model.dirichletApproximation = dirichletApprox }
        if let alphaActivation { config.model.alphaActivation = alphaActivation }
        config.model.priorConcentration = priorConcentration
        config.model.batchNorm = batchNorm
        if let decoderBatchNorm { config.model.decoderBatchNorm = decoderBatchNorm }
        if let decoderBatchNormAnneal { config.model.decoderBatchNormAnnealEpochs = decoderBatchNormAnneal }
        if let decoderBatchNormEpsilon { config.model.decoderBatchNormEpsilon = decoderBatchNormEpsilon }
        if let topicDiversity { config.model.topicDiversity = topicDiversity }
        if let wordExclusivity { config.model.wordExclusivity = wordExclusivity }
        if let wordExclusivityWeighting { config.model.wordExclusivityWeighting = wordExclusivityWeighting }
        if let encoderInput { config.model.encoderInput = encoderInput }
        if let encoderHeadBatchNorm { config.model.encoderHeadBatchNorm = encoderHeadBatchNorm }
        if let dropout { config.model.dropout = dropout }
        if let latentDropout { config.model.latentDropout = latentDropout }
        if let adamBeta1 { config.beta1 = adamBeta1 }
        if let adamBeta2 { config.beta2 = adamBeta2 }
        if let backgroundBias { config.model.backgroundBias = backgroundBias }
        if let posterior { config.model.posterior = posterior }
        if let grid {
            guard let shape = GridShape(parsing: grid) else { throw ValidationError("--grid takes RxC with positive integers, e.g. 4x5; got '\(grid)'") }
            config.model.grid = shape
        }
        if [beta != nil, groups != nil, gibbsChains != nil, gibbsSteps != nil, rbmWeightDecay != nil].contains(true) && config.model.latent != .dvae {
            throw ValidationError("--beta, --groups, --gibbs-chains, --gibbs-steps and --rbm-weight-decay apply to --latent dvae only")
        }
        if let beta { config.model.spikeBeta = beta }
        if let groups { config.model.posteriorGroups = groups }
        if let gibbsChains { config.model.gibbsChains = gibbsChains }
        if let gibbsSteps { config.model.gibbsSteps = gibbsSteps }
        if let continuousLayers { config.model.continuousLayers = continuousLayers }
        if let continuousSize {
            config.model.continuousSize = continuousSize
        } else if let continuousLayers, continuousLayers > 0 {
            config.model.continuousSize = ContinuousLayerDefaults.size  // the screened recipe
        }
        if let continuousHidden { config.model.continuousHidden = continuousHidden }
        if let rbmWeightDecay {
            config.model.rbmWeightDecay = rbmWeightDecay
        } else if config.model.latent == .dvae && config.model.continuousLayers > 0 {
            config.model.rbmWeightDecay = ContinuousLayerDefaults.rbmWeightDecay  // the screened recipe
        }
        if let iwSamples { config.iwSamples = iwSamples }
        switch objective {
        case .elbo?:
            guard (iwSamples ?? 1) == 1 && renyiAlpha == nil else { throw ValidationError("--objective elbo takes one sample and no --renyi-alpha") }
        case .iwae?:
            guard renyiAlpha == nil else { throw ValidationError("--renyi-alpha applies to --objective renyi only") }
            config.iwSamples = iwSamples ?? 5
        case .renyi?:
            guard let renyiAlpha else { throw ValidationError("--objective renyi needs --renyi-alpha A (0: IWAE, 1: the ELBO)") }
            config.renyiAlpha = renyiAlpha
            config.iwSamples = iwSamples ?? 5
        case nil:
            if renyiAlpha != nil { throw ValidationError("--renyi-alpha applies to --objective renyi only") }
        }
        config.streamChunk = streamChunk
        if let binarize { config.binarization = binarize }
        if warmupEpochs != nil && warmupSteps != nil { throw ValidationError("--warmup-steps and --warmup-epochs: pass one or the other") }
        config.warmupSteps = warmupSteps
        config.warmupEpochs = warmupSteps != nil ? 0 : warmupEpochs ?? RunConfig.defaultWarmupEpochs(for: config.model)
        config.model.klEstimator = kl ?? config.model.effectiveKLEstimator  // recorded, so the run describes itself
        // with --data and no --likelihood the likelihood (and so what applies) is known once the data are read: fit checks then
        if data == nil || likelihood != nil {
            do { try config.validate() } catch { throw ValidationError("\(error)") }
        }
        let stamp = DateFormatter()
        stamp.dateFormat = "yyyyMMdd-HHmmss"
        let dataName = URL(fileURLWithPath: config.dataName).deletingPathExtension().lastPathComponent
        let run = RunDirectory(out ?? "runs/\(dataName)-\(config.model.latent)-\(stamp.string(from: Date()))")
        if [run.checkpoint, run.previousCheckpoint].contains(where: FileManager.default.fileExists(atPath:)) {
            throw ValidationError("\(run.path) already holds a run; use --resume \(run.path) to continue it, or another --out")
        }
        return (config, run, false)
    }
}


func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) : String(format: "%dm%02ds", s / 60, s % 60)
}
