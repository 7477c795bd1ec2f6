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

public enum Topics {
    /// The topics of `model` (multinomial likelihood, linear decoder) with the `top` words of each, and their NPMI on
    /// `documents` (counts, one row per document). `vocabulary` names the columns.
    public static func extract(from model: VAE, on backend: any Backend, vocabulary: [String], top: Int,
                               documents: LabelledImages) throws -> [Topic] {
        let config = model.config
        try require(config.likelihood == .multinomial, "topics need a run with the multinomial likelihood (bags of words), not \(config.likelihood.rawValue)")
        try require(model.decoder.isEmpty, "topics read the word weights of a linear decoder: train with --decoder-hidden none "
                    + "(this run's decoder has hidden layers \(config.decoderWidths))")
        try require(vocabulary.count == config.inputSize, "the vocabulary has \(vocabulary.count) words but the model has \(config.inputSize) columns")
        try require(top >= 2, "--top must be at least 2 (coherence needs word pairs), got \(top)")
        let weights = try backend.download(model.outputHead.weight.buffer)  // latent × vocabulary
        let n = min(top, vocabulary.count)
        let presence = DocumentFrequencies(documents)
        return (0..<config.latentSize).map { k in
            let row = weights[(k * vocabulary.count)..<((k + 1) * vocabulary.count)]
            let best = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(n)
            return Topic(unit: k, words: best.map { (vocabulary[$0 - row.startIndex], row[$0]) },
                         coherence: presence.npmi(best.map { $0 - row.startIndex }))
        }
    }

    /// Reads a vocabulary file: one word per line, in the data's column order; blank lines are errors.
    public static func readVocabulary(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): no such file") }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if lines.last == "" { lines.removeLast() }
        try require(!lines.isEmpty, "\(path): the vocabulary is empty")
        if let blank = lines.firstIndex(of: "") { throw DataError("\(path): line \(blank + 1) is empty; one word per line") }
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
