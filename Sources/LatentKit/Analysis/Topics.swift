// Topics of a bag-of-words VAE, as ProdLDA reads them (Srivastava & Sutton 2017): with a linear decoder, latent unit
// k's row of the decoder weight gives each word's logit change per unit of z_k, and its largest entries are the
// topic's top words. Their coherence is the NPMI of Lau et al. (2014) over documents, as topic-model papers report it:
// for words i, j with document frequencies P(i), P(j), P(i, j), NPMI = log(P(i, j) / (P(i) P(j))) / −log P(i, j), −1
// for words that never occur together, averaged over a topic's word pairs.

import Foundation

public struct Topic: Sendable {
    /// The latent unit.
    public let unit: Int
    /// The top words, most weighted first, with their decoder weights.
    public let words: [(word: String, weight: Float)]
    /// The mean NPMI of the top words' pairs over the reference documents.
    public let coherence: Double
}

/// A topic model's topics scored as the field scores them.
public struct TopicReport: Sendable {
    public let topics: [Topic]
    /// The mean of the topics' NPMI.
    public let meanCoherence: Double
    /// Topic diversity TD@25 (Dieng et al. 2020): the unique words among every topic's top 25, divided by 25 K.
    public let diversity: Double
    /// Topics that share fewer than half of their top words with every other topic.
    public let distinct: Int
}

public enum Topics {
    /// Words per topic of the diversity measure TD@25.
    public static let diversityWords = 25

    /// The topics of `model` (multinomial likelihood, linear decoder) with the `top` words of each, and their NPMI on
    /// `documents` (counts, one row per document). `vocabulary` names the columns.
    public static func extract(from model: VAE, on backend: any Backend, vocabulary: [String], top: Int,
                               documents: LabelledImages) throws -> [Topic] {
        try report(from: model, on: backend, vocabulary: vocabulary, top: top, documents: documents).topics
    }

    /// ``extract(from:on:vocabulary:top:documents:)`` with the diversity and the count of distinct topics.
    public static func report(from model: VAE, on backend: any Backend, vocabulary: [String], top: Int,
                              documents: LabelledImages) throws -> TopicReport {
        try score(weights: try weights(of: model, on: backend, vocabulary: vocabulary), topics: model.config.latentSize,
                  vocabulary: vocabulary, top: top, documents: documents)
    }

    /// The `K × V` topic-word matrix of `model` (row k: latent unit k's decoder weights, the values topics rank by).
    public static func weights(of model: VAE, on backend: any Backend, vocabulary: [String]) throws -> [Float] {
        let config = model.config
        try require(config.likelihood == .multinomial, "topics need a run with the multinomial likelihood (bags of words), not \(config.likelihood.rawValue)")
        try require(model.decoder.isEmpty, "topics read the word weights of a linear decoder: train with --decoder-hidden none "
                    + "(this run's decoder has hidden layers \(config.decoderWidths))")
        try require(vocabulary.count == config.inputSize, "the vocabulary has \(vocabulary.count) words but the model has \(config.inputSize) columns")
        return try backend.download(model.outputHead.weight.buffer)  // latent × vocabulary
    }

    /// Scores any `topics × V` topic-word matrix (row-major; larger means more of the word): each topic's `top` words
    /// and their NPMI on `documents`, the topic diversity TD@25 and the distinct topics. One scorer for LatentKit's
    /// topics and for other tools' (Pyro, scikit-learn, gensim), so that all are scored alike.
    public static func score(weights: [Float], topics k: Int, vocabulary: [String], top: Int, documents: LabelledImages) throws -> TopicReport {
        let v = vocabulary.count
        try require(k >= 1 && weights.count == k * v, "the topic-word matrix has \(weights.count) values, not \(k) topics x \(v) words")
        try require(documents.pixelsPerImage == v, "the documents have \(documents.pixelsPerImage) words per row, the vocabulary \(v)")
        try require(top >= 2, "--top must be at least 2 (coherence needs word pairs), got \(top)")
        try require(top <= v, "--top \(top) is more than the vocabulary's \(v) words")
        if let bad = weights.firstIndex(where: { !$0.isFinite }) {
            throw DataError("the topic-word matrix has a non-finite value at topic \(bad / v), word \(bad % v)")
        }
        let n = min(top, v), presence = DocumentFrequencies(documents)
        let ranked = (0..<k).map { topic -> [Int] in
            let row = weights[(topic * v)..<((topic + 1) * v)]
            return row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(max(n, diversityWords)).map { $0 - row.startIndex }
        }
        let topics = ranked.enumerated().map { topic, words in
            Topic(unit: topic, words: words.prefix(n).map { (vocabulary[$0], weights[topic * v + $0]) }, coherence: presence.npmi(Array(words.prefix(n))))
        }
        let d = min(diversityWords, v)
        let diversity = Double(Set(ranked.flatMap { $0.prefix(d) }).count) / Double(d * k)
        let sets = ranked.map { Set($0.prefix(n)) }
        let distinct = (0..<k).filter { a in (0..<k).allSatisfy { b in a == b || 2 * sets[a].intersection(sets[b]).count < n } }.count
        return TopicReport(topics: topics, meanCoherence: topics.map(\.coherence).reduce(0, +) / Double(k), diversity: diversity, distinct: distinct)
    }

    /// Reads a vocabulary file (or another list of names, `what`): one word per line, in the data's column order; blank
    /// and repeated lines are errors.
    public static func readVocabulary(_ path: String, what: String = "vocabulary") throws -> [String] {
        var folder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &folder) else { throw DataError("\(path): no such file") }
        guard !folder.boolValue else { throw DataError("\(path) is a folder, not a file of one name a line") }
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot be read") }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if lines.last == "" { lines.removeLast() }
        try require(!lines.isEmpty, "\(path): the \(what) is empty")
        if let blank = lines.firstIndex(of: "") { throw DataError("\(path): line \(blank + 1) is empty; one word per line") }
        // a word in two columns would be one word to TD@25 and the distinct-topic count, two to the model
        var firstLine: [String: Int] = [:]
        for (i, word) in lines.enumerated() {
            if let earlier = firstLine.updateValue(i, forKey: word) {
                throw DataError("\(path): line \(i + 1) repeats the word '\(word)' of line \(earlier + 1); one distinct word per line")
            }
        }
        return lines
    }
}

/// Which documents contain each word, for NPMI.
public struct DocumentFrequencies: Sendable {
    let documents: Int
    /// For each word, the sorted indices of the documents that contain it.
    let containing: [[Int32]]

    public init(_ documents: LabelledImages) {
        let v = documents.pixelsPerImage
        var containing = [[Int32]](repeating: [], count: v)
        for d in 0..<documents.count {
            for w in 0..<v where documents.pixels[d * v + w] > 0 { containing[w].append(Int32(d)) }
        }
        self.documents = documents.count
        self.containing = containing
    }

    /// The mean NPMI over the pairs of `words`.
    public func npmi(_ words: [Int]) -> Double {
        var total = 0.0, pairs = 0
        for a in 0..<words.count {
            for b in (a + 1)..<words.count {
                total += npmi(words[a], words[b])
                pairs += 1
            }
        }
        return pairs == 0 ? 0 : total / Double(pairs)
    }

    /// NPMI of two words: −1 when they never occur together, 1 when they always do.
    public func npmi(_ i: Int, _ j: Int) -> Double {
        let n = Double(documents)
        let pi = Double(containing[i].count) / n, pj = Double(containing[j].count) / n
        let both = Double(Self.intersectionCount(containing[i], containing[j])) / n
        guard both > 0 else { return -1 }
        guard both < 1 else { return 1 }
        return Foundation.log(both / (pi * pj)) / -Foundation.log(both)
    }

    static func intersectionCount(_ a: [Int32], _ b: [Int32]) -> Int {
        var i = 0, j = 0, count = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                count += 1
                i += 1
                j += 1
            } else if a[i] < b[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return count
    }
}
