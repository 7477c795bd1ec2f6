// The topic-model recipe's building blocks (issue 21): the softmax-Gaussian latent and its Laplace prior, dropout,
// ProdLDA's batch norms, the background bias, Adam's betas, the count recipe's defaults, and `topics`' field measures
// (TD@25, distinct topics, the reference documents, --export and --weights). The kernels' own checks (the dropout mask
// against the uniform stream, the fixed-scale batch norm's gradient, backend agreement) run with every other check in
// FamilyKernelTests, PhiloxTests and SelfTestTests.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct TopicModelTests {
    /// The Laplace approximation of Dir(α·1) in the softmax basis (Srivastava & Sutton 2017, eq. 3; paper 000):
    /// μ = 0, Σ_kk = (1/α)(1 − 2/K) + (1/K²) Σ_j 1/α = (1/α)(1 − 1/K); the KL is that of two diagonal Gaussians.
    @Test(arguments: TestBackends.all)
    func softmaxGaussianKLIsToTheLaplacePrior(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        for (k, alpha) in [(20, 1.0), (50, 0.02), (3, 2.5)] {
            var c = ModelConfig()
            c.latent = .softmaxGaussian
            c.latentSize = k
            c.priorConcentration = Float(alpha)
            let model = try VAE(c, on: backend, seed: 1)
            let tape = Tape(pool: BufferPool(backend: backend))
            let mean = randomFloats(2 * k, in: -1...1, seed: 3), lv = randomFloats(2 * k, in: -2...1, seed: 4)
            let q = Posterior(location: try Tensor(mean, rows: 2, cols: k, on: backend), logVariance: try Tensor(lv, rows: 2, cols: k, on: backend))
            let noise = try Tensor([Float](repeating: 0.3, count: 2 * k), rows: 2, cols: k, on: backend)
            let (y, z) = try model.sample(q, noise: noise, on: tape)
            let kl = try backend.download(model.kl(q, latent: y, on: tape).buffer)
            let priorVariance = (1 / alpha) * (1 - 1 / Double(k))
            for r in 0..<2 {
                var want = 0.0
                for j in 0..<k {
                    let m = Double(mean[r * k + j]), v = exp(Double(lv[r * k + j]))
                    want += 0.5 * (log(priorVariance / v) + (v + m * m) / priorVariance - 1)
                }
                #expect(abs(Double(kl[r]) - want) < 1e-4 * max(1, abs(want)), "K \(k) α \(alpha) row \(r): \(kl[r]) vs \(want)")
            }
            // the decoder sees softmax(y): rows on the simplex
            let zs = try backend.download(z.buffer)
            for r in 0..<2 { #expect(abs(zs[(r * k)..<((r + 1) * k)].reduce(0, +) - 1) < 1e-5) }
        }
    }

    /// The count recipe sets what no flag gave, keeps what one did, and leaves other likelihoods alone.
    @Test func countRecipeFillsWhatNoFlagSet() {
        /// A count-data run configured by `flags` (the settings they give in `given`), then the recipe applied.
        func recipe(keeping given: Set<RecipeSetting> = [], _ flags: (inout RunConfig) -> Void) -> RunConfig {
            var config = RunConfig()
            config.model.likelihood = .multinomial
            flags(&config)
            CountRecipe.apply(to: &config, keeping: given)
            return config
        }
        let config = recipe(keeping: [.epochs]) { $0.epochs = 7 }
        #expect(config.epochs == 7 && config.model.latent == .softmaxGaussian && config.model.decoderHidden == [] && config.batchSize == 200)
        #expect(config.model.decoderBatchNorm && config.model.encoderHeadBatchNorm && config.model.dropout > 0 && config.beta1 == 0.99)
        // Scholar's background and batch norm faded out over half the epochs, those given included
        #expect(config.model.backgroundBias && config.model.decoderBatchNormAnnealEpochs == 3)
        // KL warm-up over the first quarter, unless one was given
        #expect(config.warmupEpochs == 1 && config.warmupSteps == nil)
        #expect(recipe(keeping: [.warmup]) { $0.warmupSteps = 40 }.warmupEpochs == 0)
        #expect(recipe { _ in }.warmupEpochs == 50)
        // the encoder: ProdLDA's 100 units up to 25 topics, 4 K above
        #expect(config.model.hidden == [100, 100])
        #expect(recipe { $0.model.latentSize = 50 }.model.hidden == [200, 200])
        let noNorm = recipe(keeping: [.decoderBatchNorm]) { $0.model.decoderBatchNorm = false }
        #expect(!noNorm.model.decoderBatchNorm && noNorm.model.decoderBatchNormAnnealEpochs == 0)
        #expect((try? noNorm.validate()) != nil)
        // each word given to few topics, words weighed by frequency (a smaller λ in the Dirichlet's recipe), but not where
        // the decoder has no topics to rank
        #expect(config.model.wordExclusivity == CountRecipe.wordExclusivity && CountRecipe.wordExclusivity > 0)
        #expect(config.model.wordExclusivityWeighting == .frequency && config.model.weighsWordsByFrequency)
        #expect(config.model.encoderInput == .logCounts && recipe(keeping: [.encoderInput]) { _ in }.model.encoderInput == .counts)
        let many = recipe { $0.model.latentSize = 50 }
        #expect(many.model.wordExclusivity == CountRecipe.wordExclusivity)
        #expect(recipe(keeping: [.wordExclusivityWeighting]) { _ in }.model.wordExclusivityWeighting == .uniform)
        #expect(recipe(keeping: [.wordExclusivity]) { $0.model.latentSize = 50; $0.model.wordExclusivity = 2 }.model.wordExclusivity == 2)
        #expect((try? many.validate()) != nil)
        let hiddenDecoder = recipe(keeping: [.decoderHidden]) { $0.model.latentSize = 50; $0.model.decoderHidden = [50] }
        #expect(hiddenDecoder.model.wordExclusivity == 0 && (try? hiddenDecoder.validate()) != nil)
        let layered = recipe(keeping: [.latent]) { $0.model.latent = .gaussian; $0.model.latentSize = 50; $0.model.continuousLayers = 1; $0.model.continuousSize = 8 }
        #expect(layered.model.wordExclusivity == 0)
        #expect(recipe(keeping: [.latent]) { $0.model.latent = .dvae; $0.model.latentSize = 50 }.model.wordExclusivity == 0)
        // one topic has no words to share: a one-unit Gaussian on counts trains without the penalty
        let oneUnit = recipe(keeping: [.latent]) { $0.model.latent = .gaussian; $0.model.latentSize = 1 }
        #expect(oneUnit.model.wordExclusivity == 0 && (try? oneUnit.validate()) != nil)
        let dirichlet = recipe(keeping: [.latent]) { $0.model.latent = .dirichlet }
        #expect(dirichlet.model.latent == .dirichlet && dirichlet.model.decoderHidden == [] && !dirichlet.model.encoderHeadBatchNorm)
        // above 25 topics the Dirichlet trains 350 epochs, with a third of them warm-up and half the batch-norm fade
        #expect(dirichlet.epochs == 200)
        let wide = recipe(keeping: [.latent]) { $0.model.latent = .dirichlet; $0.model.latentSize = 50 }
        #expect(wide.epochs == 350 && wide.warmupEpochs == 116 && wide.model.decoderBatchNormAnnealEpochs == 175)
        #expect(wide.model.wordExclusivity == CountRecipe.dirichletWordExclusivity && dirichlet.model.wordExclusivity == CountRecipe.dirichletWordExclusivity)
        #expect(recipe(keeping: [.latent, .epochs]) { $0.model.latent = .dirichlet; $0.model.latentSize = 50; $0.epochs = 40 }.warmupEpochs == 13)
        #expect(recipe(keeping: [.epochs]) { $0.model.latentSize = 50; $0.epochs = 40 }.warmupEpochs == 10)
        // a corpus smaller than the one the recipe was chosen on trains as many updates, at most 5 times the epochs
        #expect(CountRecipe.epochs(200, documents: 11_259) == 200 && CountRecipe.epochs(200, documents: 10_000) == 200)
        #expect(CountRecipe.epochs(200, documents: 6_528) == 307 && CountRecipe.epochs(350, documents: 5_875) == 596)
        #expect(CountRecipe.epochs(200, documents: 400) == 1000 && CountRecipe.epochs(200, documents: 0) == 200)
        #expect(CountRecipe.epochScale(documents: 10_000) == 1 && CountRecipe.epochScale(documents: 5_000) == 2 && CountRecipe.epochScale(documents: 1) == 5)
        var small = RunConfig()
        small.model.likelihood = .multinomial
        CountRecipe.apply(to: &small, keeping: [], documents: 5_000)
        #expect(small.epochs == 400 && small.warmupEpochs == 100 && small.model.decoderBatchNormAnnealEpochs == 200 && small.batchSize == 200)
        var smallGiven = RunConfig()
        smallGiven.model.likelihood = .multinomial
        smallGiven.epochs = 7
        CountRecipe.apply(to: &smallGiven, keeping: [.epochs], documents: 5_000)
        #expect(smallGiven.epochs == 7 && smallGiven.warmupEpochs == 1)
        var images = RunConfig()
        CountRecipe.apply(to: &images, keeping: [])
        #expect(images == RunConfig())
    }

    /// Dropout acts in training only: the same batch encodes to the same posterior twice in evaluation, and to different
    /// ones in training steps with different counters; the dropped share is about the rate.
    @Test func dropoutActsInTrainingOnly() throws {
        let backend = try TestBackends.backend(.cpu)
        var c = ModelConfig()
        c.inputSize = 30
        c.hidden = [64]
        c.latentSize = 4
        c.dropout = 0.5
        let model = try VAE(c, on: backend, seed: 2)
        let x = try Tensor(randomFloats(5 * 30, in: 0...1, seed: 8), rows: 5, cols: 30, on: backend)
        func location(_ training: Bool, _ counter: UInt32) throws -> [Float] {
            model.training = training
            model.dropoutCounter = PhiloxCounter(0, counter, 0, 0)
            let tape = Tape(pool: BufferPool(backend: backend))
            return try backend.download(model.encode(x, on: tape).location.buffer)
        }
        #expect(try location(false, 1) == location(false, 2))
        #expect(try location(true, 1) == location(true, 1))
        #expect(try location(true, 1) != location(true, 2))
        #expect(try location(true, 1) != location(false, 1))
    }

    /// Words weighed by frequency need the corpus's frequencies, which the model then holds without `--background-bias`
    /// too; only that flag adds them to the decoder's logits.
    @Test func frequencyWeightsHoldTheCorpusWithoutBiasingTheDecoder() throws {
        let backend = try TestBackends.backend(.cpu)
        var c = ModelConfig()
        c.likelihood = .multinomial
        c.latent = .softmaxGaussian
        c.inputSize = 5
        c.hidden = [8]
        c.latentSize = 3
        c.decoderHidden = []
        c.wordExclusivity = 1
        c.wordExclusivityWeighting = .frequency
        var plain = c
        plain.wordExclusivity = 0
        let weighted = try VAE(c, on: backend, seed: 3), unweighted = try VAE(plain, on: backend, seed: 3)
        #expect(weighted.background != nil && unweighted.background == nil)
        let documents = try LabelledImages(count: 2, rows: 1, cols: 5, pixels: [3, 0, 1, 0, 0, 1, 1, 0, 0, 2], labels: [0, 0], isLabelled: false)
        #expect(try weighted.setBackground(fromCounts: documents, on: backend) == 1)
        let frequencies = try backend.download(weighted.background!.buffer).map { Double(Foundation.exp($0)) }
        let expected = [4, 1, 1, 0.5, 2].map { $0 / 8.0 }
        #expect(zip(frequencies, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(frequencies)")
        let z = try Tensor([0.2, 0.3, 0.5, 0.6, 0.1, 0.3], rows: 2, cols: 3, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        guard case .logits(let a) = try weighted.decode(z, on: tape), case .logits(let b) = try unweighted.decode(z, on: tape) else {
            Issue.record("a bag-of-words decoder gives logits")
            return
        }
        #expect(try backend.download(a.buffer) == backend.download(b.buffer))
        // the loss the model minimises carries λ times the penalty with those frequencies as the word weights
        let w = try #require(weighted.parameters.first { $0.0 == "decoder.logits.weight" }?.1)
        let topics = try backend.download(w.buffer).map(Double.init)
        let penalised = try backend.download(weighted.regularised(Tensor([0], rows: 1, cols: 1, on: backend), on: tape).buffer)[0]
        let byFrequency = Reference.wordExclusivity(topics, topics: 3, words: 5, wordWeights: frequencies)
        let alike = Reference.wordExclusivity(topics, topics: 3, words: 5)
        #expect(abs(Double(penalised) - byFrequency) < 1e-5 && abs(byFrequency - alike) > 1e-4, "\(penalised) against \(byFrequency) (alike: \(alike))")
    }

    /// `--encoder-input log-counts`: documents 60 times longer than those trained on keep a finite bound near the short
    /// ones' perplexity (measured: KL 128 nats against 4.9, perplexity bound 104 against 115), where raw counts scale the
    /// encoder's input, and the KL, with their length (measured: 7e28 nats, which `eval` refuses as a diverged bound).
    /// Recorded in config.json; old runs read the counts.
    @Test func logCountsKeepLongDocumentsInsideTheEncodersRange() throws {
        let dir = try temporaryDirectory("encoder-input")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeCorpus(dir, documents: 400)
        let corpus = try NPY.read(dir + "/corpus.npy")
        let first = Array(corpus.values.prefix(3 * 100))
        try NPY.encode(first, shape: [3, 100]).write(to: URL(fileURLWithPath: dir + "/short.npy"))
        try NPY.encode(first.map { 60 * $0 }, shape: [3, 100]).write(to: URL(fileURLWithPath: dir + "/long.npy"))
        /// The test KL and perplexity bound of `file` under a run trained with `input`; nil where `eval` refuses the bound.
        func evaluated(_ input: EncoderInput, _ file: String) throws -> (kl: Double, perplexity: Double)? {
            let run = dir + "/" + input.rawValue
            if !FileManager.default.fileExists(atPath: run) {
                let train = try runTool(["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--latent-size", "5", "--epochs", "20",
                                         "--encoder-input", input.rawValue, "--out", run])
                #expect(train.status == 0, "\(train.stderr)")
                #expect(try RunConfig.load(from: run + "/config.json").model.encoderInput == input)
            }
            let eval = try runTool(["eval", run, "--k", "0", "--json", "--data", dir + "/" + file])
            guard eval.status == 0 else {
                #expect(eval.stderr.contains("diverges"), "\(eval.stderr)")
                return nil
            }
            let json = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any] ?? [:]
            return (json["test_kl"] as? Double ?? .nan, json["perplexity_bound"] as? Double ?? .nan)
        }
        let short = try #require(try evaluated(.logCounts, "short.npy")), long = try #require(try evaluated(.logCounts, "long.npy"))
        #expect(long.kl < 1000 && long.perplexity < 1.5 * short.perplexity, "long \(long), short \(short)")
        let raw = try evaluated(.counts, "long.npy")
        #expect(raw.map { $0.kl > 100 * long.kl } ?? true, "raw counts: \(String(describing: raw)) against \(long)")
        let old = try JSONDecoder().decode(ModelConfig.self, from: Data(#"{"likelihood": "multinomial"}"#.utf8))
        #expect(old.encoderInput == .counts)
    }

    /// Scholar's annealing: the decoder batch norm's weight falls linearly from 1 to 0 over the annealing epochs.
    @Test func decoderBatchNormAnnealing() throws {
        var config = RunConfig()
        config.model.inputSize = 784
        config.model.hidden = [8]
        config.model.decoderBatchNorm = true
        config.model.decoderBatchNormAnnealEpochs = 2
        config.batchSize = 20
        let images = try Recipe.syntheticImages(count: 100)  // 5 steps an epoch
        let trainer = try Trainer(config: config, backend: try TestBackends.backend(.cpu), train: images)
        #expect(trainer.decoderBatchNormWeight(atStep: 0) == 1 && trainer.decoderBatchNormWeight(atStep: 5) == 0.5)
        #expect(trainer.decoderBatchNormWeight(atStep: 10) == 0 && trainer.decoderBatchNormWeight(atStep: 400) == 0)
        _ = try trainer.step(batch: (0..<20).map(Int32.init))
        #expect(try trainer.checkpoint().metadata["decoder_bn_weight"] == "\(trainer.decoderBatchNormWeight(atStep: 1))")
    }

    static func writeCorpus(_ dir: String, documents n: Int = 600, emptyWord: Bool = false) throws {
        var counts = TopicsTests.plantedCorpus(documents: n)
        if emptyWord { for d in 0..<n { counts[d * 100 + 99] = 0 } }
        try NPY.encode(Array(counts.prefix(n * 100)), shape: [n, 100]).write(to: URL(fileURLWithPath: dir + "/corpus.npy"))
        try Data((0..<100).map { "t\($0 / 20)w\($0 % 20)\n" }.joined().utf8).write(to: URL(fileURLWithPath: dir + "/vocab.txt"))
    }

    /// `train --data COUNTS.npy` with no recipe flag trains the count recipe, records every part in config.json, and
    /// `topics` scores it on the run's test documents with the field's measures; its export, scored by `--weights`,
    /// gives the same figures.
    @Test(arguments: TestBackends.all)
    func countDefaultsTrainTopicsThatScoreAlikeEitherWay(kind: BackendKind) throws {
        let dir = try temporaryDirectory("count-recipe")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeCorpus(dir, documents: 1000)
        try NPY.encode((0..<1000).map { Int32($0 % 5) }, shape: [1000]).write(to: URL(fileURLWithPath: dir + "/labels.npy"))
        let run = dir + "/run"
        let train = try runTool(["train", "--backend", kind.rawValue, "--data", dir + "/corpus.npy", "--labels", dir + "/labels.npy",
                                 "--vocabulary", dir + "/vocab.txt", "--latent-size", "5", "--epochs", "40",
                                 "--background-bias", "--adam-beta2", "0.99", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        let config = try RunConfig.load(from: run + "/config.json")
        #expect(config.model.latent == .softmaxGaussian && config.model.decoderHidden == [] && config.model.decoderBatchNorm)
        #expect(config.model.encoderHeadBatchNorm && config.model.dropout == 0.2 && config.model.latentDropout == 0 && config.model.backgroundBias)
        #expect(config.beta1 == 0.99 && config.beta2 == 0.99 && config.epochs == 40 && config.batchSize == 200)

        let topics = try runTool(["topics", run, "--vocabulary", dir + "/vocab.txt", "--top", "5", "--json", "--backend", kind.rawValue,
                                  "--export", dir + "/topics.npy"])
        #expect(topics.status == 0, "\(topics.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(topics.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(json["reference"] as? String == "test" && json["documents"] as? Int == 100, "\(topics.stdout)")
        let found = (json["topics"] as? [[String: Any]] ?? []).map { ($0["words"] as? [String] ?? []).map { $0.prefix(2) } }
        #expect(found.count == 5 && found.allSatisfy { Set($0).count == 1 } && Set(found.map(\.first)).count == 5, "\(topics.stdout)")
        // each topic's top 25 holds its own 20 words and 5 of others': at least 100 unique words of 125
        #expect(json["distinct"] as? Int == 5 && (json["diversity"] as? Double ?? 0) >= 0.7, "\(topics.stdout)")

        let matrix = try NPY.read(dir + "/topics.npy")
        #expect(matrix.shape == [5, 100])
        let rescored = try runTool(["topics", "--weights", dir + "/topics.npy", "--documents", dir + "/corpus.npy", "--vocabulary",
                                    dir + "/vocab.txt", "--top", "5", "--json"])
        let again = try runTool(["topics", run, "--reference", "train", "--vocabulary", dir + "/vocab.txt", "--top", "5", "--json",
                                 "--backend", kind.rawValue])
        let a = try JSONSerialization.jsonObject(with: Data(rescored.stdout.utf8)) as? [String: Any] ?? [:]
        let b = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any] ?? [:]
        // the run's training documents are the 900 the held-out split left; --weights was given all 1,000: same topics,
        // NPMI of the same words on overlapping documents
        #expect(rescored.status == 0 && again.status == 0, "\(rescored.stderr) \(again.stderr)")
        #expect((a["topics"] as? [[String: Any]])?.map { $0["words"] as? [String] ?? [] } == (b["topics"] as? [[String: Any]])?.map { $0["words"] as? [String] ?? [] })
        #expect(b["reference"] as? String == "train" && b["documents"] as? Int == 900 && a["documents"] as? Int == 1000)

        // the vocabulary recorded with the run serves topics and plots; plots draws the three topic pictures
        #expect(try runTool(["topics", run, "--backend", kind.rawValue]).stdout.contains("5 distinct topics"))
        let plots = try runTool(["plots", run, "--tsne-points", "50", "--backend", kind.rawValue, "--out", dir + "/plots"])
        #expect(plots.status == 0, "\(plots.stderr)")
        for name in ["topics.svg", "topic_npmi.svg", "topic_labels.svg"] {
            let bytes = [UInt8](FileManager.default.contents(atPath: dir + "/plots/" + name) ?? Data())
            #expect(HTMLReport.inlineSVG(bytes) != nil, "\(name) is missing or not inlineable in the report")
        }

        // eval reports the per-document perplexity beside the corpus-level one
        let eval = try runTool(["eval", run, "--k", "0", "--json", "--backend", kind.rawValue])
        let e = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(eval.status == 0 && (e["perplexity_bound"] as? Double ?? 0) > 1 && (e["perplexity_bound_document"] as? Double ?? 0) > 1, "\(eval.stdout)")
    }

    /// Trains 8 topics on the 5-topic corpus in `dir` with `flags` (`flag λ` among them) from the seed's initial weights,
    /// checks that config.json records λ at `recorded`, and returns `measure` of the exported topic-word matrix.
    private func trainedTopicMeasure(_ dir: String, _ flag: String, _ lambda: String, recorded: KeyPath<ModelConfig, Float>,
                                     flags: [String] = [], alsoRecorded: (ModelConfig) -> Bool = { _ in true },
                                     measure: ([Double], _ topics: Int, _ words: Int) -> Double) throws -> Double {
        let run = dir + "/run" + flag + lambda
        let train = try runTool(["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--latent-size", "8", flag, lambda, "--out", run] + flags)
        #expect(train.status == 0, "\(train.stderr)")
        let model = try RunConfig.load(from: run + "/config.json").model
        #expect(model[keyPath: recorded] == Float(lambda) && alsoRecorded(model))
        let export = try runTool(["topics", run, "--vocabulary", dir + "/vocab.txt", "--export", run + "/w.npy"])
        #expect(export.status == 0, "\(export.stderr)")
        let w = try NPY.read(run + "/w.npy")
        return measure(w.values.map(Double.init), w.shape[0], w.shape[1])
    }

    /// `--topic-diversity λ`: recorded in config.json, and training with it leaves 8 topics of a 5-topic corpus less alike
    /// by the penalty's own measure (the mean squared cosine of the centred topic rows, computed here from the exported
    /// matrix) than the same run without it, from the same initial weights.
    @Test func topicDiversityPenaltyPushesTopicsApart() throws {
        let dir = try temporaryDirectory("topic-diversity")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeCorpus(dir, documents: 400)
        func trainedSimilarity(_ lambda: String) throws -> Double {
            try trainedTopicMeasure(dir, "--topic-diversity", lambda, recorded: \.topicDiversity, flags: ["--epochs", "10"],
                                    measure: Reference.topicDiversity)
        }
        // K centred rows sum to zero, so each row's cosines with the others sum to -1 when the rows are equally long: the
        // mean squared cosine is then at least 1/(K-1)^2, which the penalty approaches and plain training stays above
        let floor = 1.0 / 49, without = try trainedSimilarity("0"), with = try trainedSimilarity("100")
        #expect(with < 1.1 * floor && without > 1.25 * floor, "mean squared cosine \(with) with the penalty against \(without) without")
    }

    /// `--word-exclusivity λ` with each `--word-exclusivity-weighting`: recorded in config.json, and training with it gives
    /// the words of a 5-topic corpus to fewer of 8 topics, by the penalty's own measure computed here from the exported
    /// matrix (the entropy of a word's softmax over the topics, averaged over the words alike or by their frequency in the
    /// corpus), than the same run with λ = 0, from the same initial weights.
    @Test(arguments: WordWeighting.allCases)
    func wordExclusivityPenaltyGivesWordsToFewerTopics(weighting: WordWeighting) throws {
        let dir = try temporaryDirectory("word-exclusivity-\(weighting)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeCorpus(dir, documents: 400)
        let corpus = try NPY.read(dir + "/corpus.npy"), words = corpus.shape[1]
        let counts = (0..<words).map { w in stride(from: w, to: corpus.values.count, by: words).reduce(0.0) { $0 + Double(corpus.values[$1]) } }
        let total = counts.reduce(0, +)
        let wordWeights = weighting == .frequency ? counts.map { $0 / total } : nil
        // 400 steps at a larger rate: the entropy is at its maximum for equal weights, so the penalty only grows the
        // differences that the likelihood starts, and 20 steps at the recipe's rate leave the weights near their start
        // (a weighting without the penalty is refused, so λ = 0 runs without one)
        func trainedEntropy(_ lambda: String) throws -> Double {
            let on = lambda != "0"
            return try trainedTopicMeasure(dir, "--word-exclusivity", lambda, recorded: \.wordExclusivity,
                                           flags: ["--epochs", "20", "--batch-size", "20", "--learning-rate", "1e-2"]
                                               + (on ? ["--word-exclusivity-weighting", weighting.rawValue] : []),
                                           alsoRecorded: { !on || $0.wordExclusivityWeighting == weighting }) {
                Reference.wordExclusivity($0, topics: $1, words: $2, wordWeights: wordWeights)
            }
        }
        // log 8 = 2.08 nats when a word's weights are alike in every topic (measured, uniform: 0.95 against 1.76)
        let without = try trainedEntropy("0"), with = try trainedEntropy("100")
        #expect(with < 0.7 * without && without > 1, "mean entropy \(with) nats with the penalty against \(without) without")
    }

    /// Bad input: one line, a non-zero exit, nothing written.
    @Test func badTopicModelInputIsOneLine() throws {
        let dir = try temporaryDirectory("count-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeCorpus(dir, documents: 200, emptyWord: true)
        // a word the training documents never use: the background bias floors it and says so
        let floored = try runTool(["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--latent-size", "3", "--epochs", "1",
                                   "--background-bias", "--out", dir + "/floored"])
        #expect(floored.status == 0 && floored.stdout.contains("1 of the vocabulary's words never occur"), "\(floored.stdout) \(floored.stderr)")
        // a document with no tokens
        var counts = TopicsTests.plantedCorpus(documents: 200)
        for w in 0..<100 { counts[7 * 100 + w] = 0 }
        try NPY.encode(counts, shape: [200, 100]).write(to: URL(fileURLWithPath: dir + "/empty-doc.npy"))
        try Data((0..<99).map { "w\($0)\n" }.joined().utf8).write(to: URL(fileURLWithPath: dir + "/short.txt"))
        try NPY.encode([Float](repeating: 0.5, count: 300), shape: [3, 100]).write(to: URL(fileURLWithPath: dir + "/w3x100.npy"))
        try NPY.encode([Float](repeating: 0.5, count: 297), shape: [3, 99, 1]).write(to: URL(fileURLWithPath: dir + "/w-bad.npy"))
        try FileManager.default.createDirectory(atPath: dir + "/a-folder", withIntermediateDirectories: true)
        let cases: [([String], String)] = [
            (["train", "--backend", "cpu", "--data", dir + "/empty-doc.npy", "--epochs", "1", "--out", dir + "/e"], "has no tokens"),
            (["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--dropout", "1", "--out", dir + "/d"], "--dropout must lie in [0, 1)"),
            (["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--adam-beta1", "1.5", "--out", dir + "/b"], "--adam-beta1"),
            (["train", "--backend", "cpu", "--background-bias", "--limit", "100", "--out", dir + "/m"], "--background-bias applies to bags of words"),
            (["train", "--backend", "cpu", "--prior-concentration", "0.1", "--limit", "100", "--out", dir + "/p"], "--prior-concentration applies"),
            (["topics", "--weights", dir + "/w-bad.npy", "--documents", dir + "/corpus.npy", "--vocabulary", dir + "/vocab.txt"], "K x 100 needed"),
            (["topics", "--weights", dir + "/w3x100.npy", "--documents", dir + "/w3x100.npy", "--vocabulary", dir + "/vocab.txt"], "not a count"),
            (["topics", "--weights", dir + "/w3x100.npy", "--vocabulary", dir + "/vocab.txt"], "--weights needs --documents"),
            (["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--topic-diversity=-1", "--out", dir + "/t"], "--topic-diversity must be >= 0"),
            (["train", "--backend", "cpu", "--topic-diversity", "1", "--limit", "100", "--out", dir + "/u"], "--topic-diversity applies to topic models"),
            (["train", "--resume", dir + "/floored", "--topic-diversity", "1"], "--topic-diversity cannot change when resuming"),
            (["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--word-exclusivity", "nan", "--out", dir + "/x"], "--word-exclusivity must be >= 0"),
            (["train", "--backend", "cpu", "--word-exclusivity", "1", "--limit", "100", "--out", dir + "/y"], "--word-exclusivity applies to topic models"),
            (["train", "--resume", dir + "/floored", "--word-exclusivity", "1"], "--word-exclusivity cannot change when resuming"),
            (["train", "--resume", dir + "/floored", "--word-exclusivity-weighting", "uniform"], "--word-exclusivity-weighting cannot change when resuming"),
            (["train", "--resume", dir + "/floored", "--encoder-input", "counts"], "--encoder-input cannot change when resuming"),
            (["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--word-exclusivity", "0", "--word-exclusivity-weighting", "uniform",
              "--out", dir + "/w"], "--word-exclusivity-weighting needs the word exclusivity penalty"),
            (["train", "--backend", "cpu", "--encoder-input", "log-counts", "--limit", "100", "--out", dir + "/z"], "--encoder-input log-counts applies to bags of words"),
            (["train", "--resume", dir + "/floored", "--dropout", "0.1"], "--dropout cannot change when resuming"),
            (["topics", dir + "/floored"], "has no vocabulary"),
            (["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--vocabulary", dir + "/short.txt", "--out", dir + "/v"],
             "the vocabulary has 99 words but the data have 100 columns"),
            (["topics", "--weights", dir + "/w3x100.npy", "--documents", dir + "/corpus.npy", "--vocabulary", dir + "/vocab.txt", "--top", "101"],
             "--top 101 is more than the vocabulary's 100 words"),
            // checked before any picture is written, so that the folder is not left half-made
            (["plots", dir + "/floored", "--backend", "cpu", "--vocabulary", dir + "/short.txt", "--out", dir + "/plots"],
             "the vocabulary has 99 words but the model has 100 columns"),
            (["plots", dir + "/floored", "--backend", "cpu", "--vocabulary", dir + "/vocab.txt", "--label-names", dir + "/a-folder", "--out", dir + "/plots"],
             "is a folder, not a file of one name a line"),
            // a document of no tokens has no perplexity: refused in every split, as in training
            (["eval", dir + "/floored", "--backend", "cpu", "--k", "0", "--data", dir + "/empty-doc.npy"], "document 7 (row 7 of the counts, from 0) has no tokens"),
        ]
        for (arguments, message) in cases {
            let result = try runTool(arguments)
            // one line: the error (the background-bias note of a resumed run goes to standard output)
            #expect(result.status != 0 && result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(message),
                    "\(arguments): \(result.stderr)")
        }
        for made in ["e", "d", "b", "m", "p", "v", "t", "u", "plots"] { #expect(!FileManager.default.fileExists(atPath: dir + "/" + made)) }
    }
}
