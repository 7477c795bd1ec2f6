// A penalty that gives each word of a bag-of-words decoder to few topics: the mean over the vocabulary of the entropy of a
// word's softmax over the topics of its weights. At 50 topics on 20 Newsgroups the plain decoder splits a newsgroup into
// sub-topics that share their top words (six hardware topics with "drive disk scsi"); a topic's own words are what tell
// it apart, and this is the term that asks for them. It measures the word-topic exclusivity that the structural topic
// model's FREX ranks by (Roberts, Stewart & Airoldi 2016), as a loss. Built from tape ops whose backward rules and
// backend twins are checked already (the column-wise log-sum-exp keeps it stable), so it needs no kernel of its own.

import Foundation

public enum WordExclusivity {
    /// `1 × 1`: (1 / V) Σ_v H(softmax_k W_kv) for the `K × V` topic weights `weight` (one topic a row, K ≥ 2): 0 when every
    /// word's weight in one topic is far above its weights in the others, log K when they are all alike. The softmax is
    /// blind to a shift common to a word's weights in every topic, which a decoder whose input sums to a constant cannot
    /// tell from a change of its bias.
    public static func penalty(_ weight: Tensor, on tape: Tape) throws -> Tensor {
        try require(weight.rows >= 2, "the word exclusivity penalty needs at least 2 topics, got \(weight.rows)")
        let logNormaliser = try tape.logSumExp(weight, axis: .eachColumn)
        let logProbabilities = try tape.binary(.sub, weight, logNormaliser, broadcast: .row)
        let probabilities = try tape.unary(.exp, logProbabilities)
        let negativeEntropy = try tape.sumAll(tape.binary(.mul, probabilities, logProbabilities))
        return try tape.affine(negativeEntropy, alpha: -1 / Float(weight.cols))
    }
}
