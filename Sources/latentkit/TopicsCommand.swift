// `latentkit topics RUN_DIR --vocabulary vocab.txt`: the topics of a bag-of-words run (multinomial likelihood, linear
// decoder), their top words and NPMI coherence on the training documents (Sources/LatentKit/Analysis/Topics.swift).

import ArgumentParser
import Foundation
import LatentKit

struct TopicsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Top words of each latent unit of a bag-of-words run, and their NPMI coherence on the training documents.",
        discussion: """
            The run must use the multinomial likelihood (counts from --data) and a linear decoder (--decoder-hidden none), \
            as ProdLDA: unit k's topic is its row of the decoder weight, its top words the largest entries. Coherence is \
            the mean NPMI of the top words' pairs over the training documents (document co-occurrence; -1 for words \
            never seen together).
            """)

    @Argument(help: "A run directory made by latentkit train.") var runDirectory: String
    @Option(help: "The vocabulary: one word per line, in the order of the data's columns.") var vocabulary: String
    @Option(help: "Words shown (and scored) per topic.") var top: Int = 10
    @OptionGroup var backendOptions: BackendOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        if top < 2 { throw ValidationError("--top must be at least 2 (coherence needs word pairs), got \(top)") }
    }

    func run() throws {
        let backend = try backendOptions.make()
        let (config, model) = try loadRun(runDirectory, on: backend)
        let words = try Topics.readVocabulary(vocabulary)
        let data = try config.loadData(trainLimit: nil, testLimit: 1)
        let topics = try Topics.extract(from: model, on: backend, vocabulary: words, top: top, documents: data.train)
        let mean = topics.map(\.coherence).reduce(0, +) / Double(topics.count)
        if json {
            let object: [String: Any] = [
                "mean_npmi": mean, "documents": data.train.count,
                "topics": topics.map { ["unit": $0.unit, "npmi": $0.coherence, "words": $0.words.map(\.word)] as [String: Any] },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        for topic in topics {
            print(String(format: "topic %2d  NPMI %+.3f  ", topic.unit + 1, topic.coherence) + topic.words.map(\.word).joined(separator: " "))
        }
        print(String(format: "mean NPMI %.3f over %d topics (top %d words, %d training documents)", mean, topics.count, top, data.train.count))
    }
}
