// Bag-of-words runs: the multinomial likelihood, and `latentkit topics` (ProdLDA's topics, NPMI coherence) on a corpus
// with planted topics that a Dirichlet VAE with a linear decoder must find.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct TopicsTests {
    /// NPMI from its definition on four documents: a in {0, 1}, b in {0, 1, 2}, c in {3}.
    @Test func npmiMatchesItsDefinition() throws {
        let counts: [Float] = [1, 2, 0, 3, 1, 0, 0, 1, 0, 0, 0, 4]
        let docs = try LabelledImages(count: 4, rows: 1, cols: 3, pixels: counts, labels: [0, 0, 0, 0], isLabelled: false)
        let f = DocumentFrequencies(docs)
        let ab = Foundation.log(0.5 / (0.5 * 0.75)) / -Foundation.log(0.5)
        #expect(abs(f.npmi(0, 1) - ab) < 1e-12)
        #expect(f.npmi(0, 2) == -1)  // never together
        #expect(abs(f.npmi(0, 0) - 1) < 1e-12)  // always together
        #expect(abs(f.npmi([0, 1, 2]) - (ab - 1 - 1) / 3) < 1e-12)
    }

    /// 2,000 documents of 20–60 tokens over 100 words; planted topic k owns words 20k..<20k+20, and each document draws
    /// 80% of its tokens from topic i % 5 and the rest from any topic (a seeded generator, the same on every machine).
    static func plantedCorpus(documents n: Int = 2000) -> [Float] {
        var state: UInt64 = 0x70_71C5
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var counts = [Float](repeating: 0, count: n * 100)
        for d in 0..<n {
            for _ in 0..<(20 + next(41)) {
                let topic = next(10) < 8 ? d % 5 : next(5)
                counts[d * 100 + topic * 20 + next(20)] += 1
            }
        }
        return counts
    }

    @Test(arguments: TestBackends.all)
    func aDirichletVAEFindsPlantedTopics(kind: BackendKind) throws {
        let dir = try temporaryDirectory("topics")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try NPY.encode(Self.plantedCorpus(), shape: [2000, 100]).write(to: URL(fileURLWithPath: dir + "/corpus.npy"))
        try Data((0..<100).map { "t\($0 / 20)w\($0 % 20)\n" }.joined().utf8).write(to: URL(fileURLWithPath: dir + "/vocab.txt"))
        let run = dir + "/run"
        // the count recipe fades the decoder's batch norm out over the first half of the epochs and the second half refits
        // the decoder without it: the perplexity below is 58.8 after 60 epochs, 47.2 after 100, 43.8 after 150
        let epochs = "150"
        let train = try runTool(["train", "--backend", kind.rawValue, "--data", dir + "/corpus.npy", "--latent", "dirichlet", "--latent-size", "5",
                                 "--hidden", "50", "--decoder-hidden", "none", "--learning-rate", "3e-3", "--epochs", epochs, "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        let config = try RunConfig.load(from: run + "/config.json")
        #expect(config.model.likelihood == .multinomial && config.model.decoderHidden == [])

        let topics = try runTool(["topics", run, "--vocabulary", dir + "/vocab.txt", "--top", "5", "--json", "--backend", kind.rawValue])
        #expect(topics.status == 0, "\(topics.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(topics.stdout.utf8)) as? [String: Any] ?? [:]
        let found = (json["topics"] as? [[String: Any]] ?? []).map { ($0["words"] as? [String] ?? []).map { $0.prefix(2) } }
        // each unit's top words come from one planted topic, and the units find all five
        #expect(found.count == 5 && found.allSatisfy { Set($0).count == 1 } && Set(found.map(\.first)).count == 5, "\(topics.stdout)")
        #expect((json["mean_npmi"] as? Double ?? -1) > 0.3, "\(topics.stdout)")

        // the perplexity: the corpus's own word distribution given each document's topic is 38.6 (20 words at 0.042,
        // 80 at 0.002); without topics (unigram frequencies) it is 100
        let eval = try runTool(["eval", run, "--k", "20", "--json", "--backend", kind.rawValue])
        let result = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any] ?? [:]
        let perplexity = result["perplexity"] as? Double ?? .infinity
        #expect(eval.status == 0 && perplexity < 50, "\(eval.stdout) \(eval.stderr)")
    }

    @Test func topicsNeedABagOfWordsRunWithALinearDecoder() throws {
        let dir = try temporaryDirectory("topics-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try NPY.encode(Self.plantedCorpus(documents: 100), shape: [100, 100]).write(to: URL(fileURLWithPath: dir + "/corpus.npy"))
        try Data((0..<100).map { "w\($0)\n" }.joined().utf8).write(to: URL(fileURLWithPath: dir + "/vocab.txt"))
        try Data((0..<99).map { "w\($0)\n" }.joined().utf8).write(to: URL(fileURLWithPath: dir + "/short.txt"))
        try Data("".utf8).write(to: URL(fileURLWithPath: dir + "/empty.txt"))
        let mlp = dir + "/mlp", linear = dir + "/linear"
        #expect(try runTool(["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--hidden", "8", "--decoder-hidden", "8", "--batch-size", "30",
                             "--epochs", "1", "--out", mlp]).status == 0)
        #expect(try runTool(["train", "--backend", "cpu", "--data", dir + "/corpus.npy", "--hidden", "8", "--decoder-hidden", "none",
                             "--batch-size", "30", "--epochs", "1", "--out", linear]).status == 0)
        for (arguments, message) in [([mlp, "--vocabulary", dir + "/vocab.txt"], "train with --decoder-hidden none"),
                                     ([linear, "--vocabulary", dir + "/short.txt"], "the vocabulary has 99 words but the model has 100 columns"),
                                     ([linear, "--vocabulary", dir + "/empty.txt"], "the vocabulary is empty")] {
            let result = try runTool(["topics"] + arguments + ["--backend", "cpu"])
            #expect(result.status == 1 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
