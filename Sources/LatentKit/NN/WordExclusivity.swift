// A penalty that gives each word of a bag-of-words decoder to few topics: the mean over the vocabulary of the entropy of a
// word's softmax over the topics of its weights. At 50 topics on 20 Newsgroups the plain decoder splits a newsgroup into
// sub-topics that share their top words (six hardware topics with "drive disk scsi"); a topic's own words are what tell
// it apart, and this is the term that asks for them. It measures the word-topic exclusivity that the structural topic
// model's FREX ranks by (Roberts, Stewart & Airoldi 2016), as a loss. Built from tape ops whose backward rules and
// backend twins are checked already (the column-wise log-sum-exp keeps it stable), so it needs no kernel of its own.

import Foundation

public enum WordExclusivity {
    /// `1 × 1`: Σ_v f_v H(softmax_k W_kv) for the `K × V` topic weights `weight` (one topic a row, K ≥ 2) and the `1 × V`
    /// `wordWeights` f (the training corpus's word frequencies), or f_v = 1 / V when there are none: 0 when every word's
    /// weight in one topic is far above its weights in the others, log K when they are all alike (for f summing to 1).
    /// The softmax is blind to a shift common to a word's weights in every topic, which a decoder whose input sums to a
    /// constant cannot tell from a change of its bias.
    ///
    /// Why frequencies: of 2,000 words most are rare, so equal weights put most of the penalty on words no topic ranks
    /// high; to make such a word exclusive the decoder lifts it in one topic, where its log-lift over the background puts
    /// it among that topic's top words. Weighted by frequency, the penalty falls on the words topics share. On 20
    /// Newsgroups' validation split (docs/RESULTS.md) the weighted form gave as much topic diversity as the uniform one
    /// at 0.15 more NPMI.
    public static func penalty(_ weight: Tensor, wordWeights: Tensor? = nil, on tape: Tape) throws -> Tensor {
        try require(weight.rows >= 2, "the word exclusivity penalty needs at least 2 topics, got \(weight.rows)")
        let logNormaliser = try tape.logSumExp(weight, axis: .eachColumn)
        let logProbabilities = try tape.binary(.sub, weight, logNormaliser, broadcast: .row)
        let probabilities = try tape.unary(.exp, logProbabilities)
        let terms = try tape.binary(.mul, probabilities, logProbabilities)
        guard let wordWeights else { return try tape.affine(tape.sumAll(terms), alpha: -1 / Float(weight.cols)) }
        try require(wordWeights.rows == 1 && wordWeights.cols == weight.cols,
                    "the word exclusivity penalty's word weights are \(wordWeights.rows) × \(wordWeights.cols), the topics have \(weight.cols) words")
        return try tape.affine(tape.sumAll(tape.binary(.mul, terms, wordWeights, broadcast: .row)), alpha: -1)
    }
}
