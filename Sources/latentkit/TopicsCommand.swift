// `latentkit topics RUN_DIR --vocabulary vocab.txt`: the topics of a bag-of-words run (multinomial likelihood, linear
// decoder), their top words, NPMI coherence, diversity and distinct topics on the run's test documents (or its training
// documents); `--export` writes the topic-word matrix, and `--weights` scores any such matrix the same way
// (Sources/LatentKit/Analysis/Topics.swift).

import ArgumentParser
import Foundation
import LatentKit

/// `--reference`: which documents NPMI counts co-occurrences in.
enum TopicReference: String, ExpressibleByArgument, CaseIterable {
    case test, train
}

struct TopicsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Top words of each topic of a bag-of-words run (or of a topic-word matrix), their NPMI coherence, diversity and distinct topics.",
        discussion: """
            The run must use the multinomial likelihood (counts from --data) and a linear decoder (--decoder-hidden none), \
            as ProdLDA: unit k's topic is its row of the decoder weight, its top words the largest entries. Coherence is \
            the mean NPMI of the top words' pairs over the reference documents (document co-occurrence; -1 for words \
            never seen together): the run's test documents by default, its training documents with --reference train. \
            Diversity is TD@25, the unique words among all topics' top 25 over 25 K; a topic is distinct when it shares \
            fewer than half of its top words with every other. --export FILE.npy writes the K x V topic-word matrix \
            (float32), and --weights FILE.npy --documents DOCS.npy scores any such matrix (Pyro's, scikit-learn's) alike.
            """)

    @Argument(help: "A run directory made by latentkit train (not with --weights).") var runDirectory: String?
    @Option(help: "The vocabulary: one word per line, in the order of the data's columns (default: the run's, from train --vocabulary).")
    var vocabulary: String?
    @Option(help: "Words shown (and scored) per topic.") var top: Int = 10
    @Option(help: "The documents NPMI counts in: test (the run's test documents, the default) or train.") var reference: TopicReference?
    @Option(help: "Also write the run's K x V topic-word matrix to this .npy file (float32, one topic a row).") var export: String?
    @Option(help: "Score this K x V topic-word matrix (.npy) instead of a run's topics (needs --documents).") var weights: String?
    @Option(help: "With --weights: the reference documents (.npy counts, N x V).") var documents: String?
    @OptionGroup var backendOptions: BackendOptions
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        if top < 2 { throw ValidationError("--top must be at least 2 (coherence needs word pairs), got \(top)") }
        if weights != nil {
            if runDirectory != nil { throw ValidationError("--weights scores a matrix in place of a run: pass one or the other") }
            if documents == nil { throw ValidationError("--weights needs --documents DOCS.npy, the reference documents") }
            if reference != nil || export != nil { throw ValidationError("--reference and --export apply to a run, not to --weights") }
            if vocabulary == nil { throw ValidationError("--weights needs --vocabulary VOCAB.txt") }
        } else {
            if runDirectory == nil { throw ValidationError("pass a run directory, or --weights FILE.npy --documents DOCS.npy") }
            if documents != nil { throw ValidationError("--documents applies to --weights; a run scores on its own documents (--reference)") }
        }
    }

    func run() throws {
        if weights == nil { try RunDirectory(runDirectory!).requireRun() }  // "not a run" before "no vocabulary"
        let words = try weights == nil ? RunDirectory(runDirectory!).vocabulary(vocabulary) : Topics.readVocabulary(vocabulary ?? "")
        let report: TopicReport, referenceName: String, documentCount: Int
        if let weights, let documents {
            let matrix = try NPY.read(weights)
            try require(matrix.shape.count == 2 && matrix.shape[1] == words.count,
                        "\(weights): the topic-word matrix has shape \(matrix.shape), the vocabulary \(words.count) words (K x \(words.count) needed)")
            let docs = try LabelledImages(npy: documents, labels: nil)
            try require(docs.pixelsPerImage == words.count, "\(documents): \(docs.pixelsPerImage) columns, the vocabulary has \(words.count) words")
            if let bad = docs.firstNonCount() { throw DataError("\(documents): item \(bad.item), word \(bad.feature) is \(bad.value), not a count") }
            report = try Topics.score(weights: matrix.values, topics: matrix.shape[0], vocabulary: words, top: top, documents: docs)
            (referenceName, documentCount) = (documents, docs.count)
        } else {
            let backend = try backendOptions.make()
            let (config, model) = try loadRun(runDirectory!, on: backend)
            let which = reference ?? .test
            let data = try config.loadData(trainLimit: nil, testLimit: which == .test ? nil : 1)
            if which == .test && data.test.count == 0 {
                throw DataError("\(runDirectory!) has no test documents; use --reference train")
            }
            let docs = which == .test ? data.test : data.train
            let matrix = try Topics.weights(of: model, on: backend, vocabulary: words)
            report = try Topics.score(weights: matrix, topics: config.model.latentSize, vocabulary: words, top: top, documents: docs)
            if let export {
                try writeAtomically(try NPY.encode(matrix, shape: [config.model.latentSize, words.count]), to: export)
            }
            (referenceName, documentCount) = (which.rawValue, docs.count)
        }
        if json {
            let object: [String: Any] = [
                "mean_npmi": report.meanCoherence, "documents": documentCount, "reference": referenceName,
                "diversity": report.diversity, "distinct": report.distinct,
                "topics": report.topics.map { ["unit": $0.unit, "npmi": $0.coherence, "words": $0.words.map(\.word)] as [String: Any] },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        for topic in report.topics {
            print(String(format: "topic %2d  NPMI %+.3f  ", topic.unit + 1, topic.coherence) + topic.words.map(\.word).joined(separator: " "))
        }
        print(String(format: "mean NPMI %.3f over %d topics (top %d words, %d %@ documents); diversity TD@25 %.3f; %d distinct topics",
                     report.meanCoherence, report.topics.count, top, documentCount, referenceName, report.diversity, report.distinct))
    }
}

/// Writes `data` to `path` through a temporary file and a rename, so that an interrupted write leaves no half file.
func writeAtomically(_ data: Data, to path: String) throws {
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw DataError("cannot write \(path): \(error.localizedDescription)")
    }
}
