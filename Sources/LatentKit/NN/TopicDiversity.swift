// A penalty that keeps a bag-of-words decoder's topics apart: the mean squared cosine similarity between its topics'
// weight rows, each word's weights first centred over the topics (Xie, Deng & Xing 2015, "Diversifying Restricted
// Boltzmann Machine for Document Modeling", penalise topic vectors for pointing alike). Built from tape ops, whose
// backward rules and backend twins are checked already, so it needs no kernel of its own.

import Foundation

public enum TopicDiversity {
    /// A row's squared norm is floored at this before it divides, so that a row whose centred weights are all zero gives
    /// cosines of 0, not NaN (and a diagonal of 0, which the penalty subtracts as it is).
    static let normFloor: Float = 1e-12

    /// `1 × 1`: (1 / (K(K − 1))) Σ_{i ≠ j} cos²(c_i, c_j) for the `K × V` topic weights `weight` (one topic a row, K ≥ 3),
    /// where c_i is row i less the mean row. Centring makes it blind to a shift common to a word's weights in every topic,
    /// which a decoder whose input sums to a constant (the softmax-Gaussian's θ to 1, the Dirichlet's centred log-ratio to
    /// 0) cannot tell from a change of its bias. 1 when all rows are parallel; centred rows sum to zero, so P is at least
    /// 1/(K − 1)² (K = 2 would make it 1 always: the two centred rows are each other's negatives).
    public static func penalty(_ weight: Tensor, on tape: Tape) throws -> Tensor {
        let k = weight.rows
        try require(k >= 3, "the topic diversity penalty needs at least 3 topics, got \(k)")
        let mean = try tape.affine(tape.sum(weight, axis: .eachColumn), alpha: 1 / Float(k))
        let centred = try tape.binary(.sub, weight, mean, broadcast: .row)
        let squaredNorms = try tape.affine(tape.sum(tape.unary(.square, centred), axis: .eachRow), alpha: 1, beta: normFloor)
        let inverseNorms = try tape.unary(.reciprocal, tape.unary(.sqrt, squaredNorms))
        let unit = try tape.binary(.mul, centred, inverseNorms, broadcast: .column)
        let gram = try tape.matmul(unit, unit, transposeB: true)
        // Σ_{i,j} cos² less the diagonal's K terms, each s/(s + floor) = 1 - floor/(s + floor) for squared norm s: 1 but
        // for a vanishing row
        let diagonal = try tape.affine(tape.unary(.reciprocal, squaredNorms), alpha: -normFloor, beta: 1)
        let offDiagonal = try tape.binary(.sub, tape.sumAll(tape.unary(.square, gram)), tape.sumAll(tape.unary(.square, diagonal)))
        return try tape.affine(offDiagonal, alpha: 1 / Float(k * (k - 1)))
    }
}
