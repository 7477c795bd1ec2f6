// A penalty that keeps a bag-of-words decoder's topics apart: the mean squared cosine similarity between its topics'
// weight rows, each word's weights first centred over the topics (Xie, Deng & Xing 2015, "Diversifying Restricted
// Boltzmann Machine for Document Modeling", penalise topic vectors for pointing alike). Built from tape ops, whose
// backward rules and backend twins are checked already, so it needs no kernel of its own.

import Foundation

public enum TopicDiversity {
    /// A row's squared norm is floored at this before it divides, so that a row whose centred weights are all zero gives
    /// a cosine of 0, not NaN.
    static let normFloor: Float = 1e-12

    /// `1 × 1`: (1 / (K(K − 1))) Σ_{i ≠ j} cos²(c_i, c_j) for the `K × V` topic weights `weight` (one topic a row), where
    /// c_i is row i less the mean row. Centring makes it blind to a shift common to a word's weights in every topic, which
    /// a decoder whose input sums to 1 cannot tell from a change of its bias. 1 when all are parallel; since centred rows
    /// sum to zero, rows of equal length have cosines of -1/(K - 1) at best, so P is then at least 1/(K - 1)².
    public static func penalty(_ weight: Tensor, on tape: Tape) throws -> Tensor {
        let k = weight.rows
        try require(k >= 2, "the topic diversity penalty needs at least 2 topics, got \(k)")
        let mean = try tape.affine(tape.sum(weight, axis: .eachColumn), alpha: 1 / Float(k))
        let centred = try tape.binary(.sub, weight, mean, broadcast: .row)
        let squaredNorms = try tape.affine(tape.sum(tape.unary(.square, centred), axis: .eachRow), alpha: 1, beta: normFloor)
        let unit = try tape.binary(.mul, centred, tape.unary(.reciprocal, tape.unary(.sqrt, squaredNorms)), broadcast: .column)
        let gram = try tape.matmul(unit, unit, transposeB: true)
        // Σ_{i,j} cos² counts the K diagonal ones (each 1 up to the floor) too
        let pairs = Float(k * (k - 1))
        return try tape.affine(tape.sumAll(tape.unary(.square, gram)), alpha: 1 / pairs, beta: -Float(k) / pairs)
    }
}
