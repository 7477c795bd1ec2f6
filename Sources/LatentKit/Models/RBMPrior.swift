// The discrete VAE's prior: a bipartite RBM p(z) ∝ exp(z_Aᵀ W z_B + bᵀ z) over binary z split into two halves, with
// persistent block-Gibbs chains for the negative phase of its gradient and annealed importance sampling for log Z.
// Everything runs on the device (Kernels/DiscreteVAE.swift); only AIS's final log-weights come back to the host.

import Foundation

public final class RBMPrior {
    public let shape: RBMShape
    /// `W`, `shape.a × shape.b`, and `b`, `1 × units`; zero at the start (the uniform prior, log Z = n log 2).
    public let weights: Tensor
    public let bias: Tensor
    /// The persistent chains' states, `chains × units`: device state, saved in checkpoints so a resumed run goes on
    /// with the same chains.
    public let chains: Tensor
    /// The latest estimate of log Z (AIS), used for the KL the trainer reports; evaluation estimates its own.
    public var logZ: Double
    let scratch: Buffer

    public init(shape: RBMShape, chains count: Int, on backend: any Backend, seed: UInt32) throws {
        self.shape = shape
        weights = try Tensor([Float](repeating: 0, count: shape.a * shape.b), rows: shape.a, cols: shape.b, on: backend)
        bias = try Tensor([Float](repeating: 0, count: shape.units), rows: 1, cols: shape.units, on: backend)
        chains = try Tensor([Float](repeating: 0, count: count * shape.units), rows: count, cols: shape.units, on: backend)
        scratch = try backend.allocate(count: count * max(shape.a, shape.b), dtype: .float32)
        logZ = Double(shape.units) * Foundation.log(2.0)
        // uniform random starting states
        try drawFreshChains(into: chains.buffer, count: count, sweeps: 0, key: PhiloxKey(seed: seed, stream: RBMPrior.initialStream),
                            probabilities: scratch, on: backend)
    }

    /// `count` fresh chains into `state`: a first sweep at inverse temperature 0, whose half-steps draw Bernoulli(1/2)
    /// (uniform states), then `sweeps` block-Gibbs sweeps of the RBM (A given B, then B given A); half-step counters
    /// `(0, 0, sweep, side)`. The starting chains (no sweeps) and prior samples (`VAE.dvaePriorSample`) both come from here.
    public func drawFreshChains(into state: Buffer, count: Int, sweeps: Int, key: PhiloxKey, probabilities: Buffer, on backend: any Backend) throws {
        try backend.fill(state, with: 0, offset: 0, count: count * shape.units)  // inverse temperature 0 must not meet leftover inf or NaN
        for sweep in 0...sweeps {
            for side in [RBMSide.a, .b] {
                try backend.rbmGibbsHalfStep(state: state, weights: weights.buffer, bias: bias.buffer, shape: shape, chains: count, side: side,
                                             inverseTemperature: sweep == 0 ? 0 : 1, key: key,
                                             counter: PhiloxCounter(0, 0, UInt32(truncatingIfNeeded: sweep), UInt32(side.rawValue)),
                                             intoProbabilities: probabilities)
            }
        }
    }

    static let initialStream: UInt32 = 0x5000
    /// The Philox stream of the training chains' draws.
    public static let chainStream: UInt32 = 0x5001
    /// The Philox stream of prior samples' chains.
    public static let sampleStream: UInt32 = 0x5002

    public var parameters: [(String, Tensor)] { [("prior.rbm.weight", weights), ("prior.rbm.bias", bias)] }
    public var statistics: [(String, Tensor)] { [("prior.rbm.chains", chains)] }

    /// `sweeps` block-Gibbs sweeps (B given A, then A given B) of the persistent chains at training step `step`; each
    /// half-step has its own Philox counter `(0, 0, step, 2·sweep + side)`.
    public func advanceChains(sweeps: Int, step: Int, seed: UInt32, on backend: any Backend) throws {
        let key = PhiloxKey(seed: seed, stream: Self.chainStream)
        for sweep in 0..<sweeps {
            for side in [RBMSide.b, .a] {
                try backend.rbmGibbsHalfStep(
                    state: chains.buffer, weights: weights.buffer, bias: bias.buffer, shape: shape, chains: chains.rows, side: side,
                    inverseTemperature: 1, key: key,
                    counter: PhiloxCounter(0, 0, UInt32(truncatingIfNeeded: step), UInt32(truncatingIfNeeded: 2 * sweep + Int(side.rawValue))),
                    intoProbabilities: scratch)
            }
        }
    }

    /// The inverse temperatures 0 = β_0 < … < β_T = 1 of AIS: Salakhutdinov & Murray's (2008) schedule scaled to T
    /// steps — 1/15 of them uniform on [0, 0.5], 4/15 on [0.5, 0.9], 10/15 on [0.9, 1] — dense near 1, where the
    /// distributions change fastest for a trained RBM.
    public static func annealingSchedule(temperatures t: Int) -> [Float] {
        let first = max(1, t / 15), second = max(1, 4 * t / 15), third = max(1, t - first - second)
        var betas: [Double] = [0]
        for (count, from, to) in [(first, 0.0, 0.5), (second, 0.5, 0.9), (third, 0.9, 1.0)] {
            for i in 1...count { betas.append(from + (to - from) * Double(i) / Double(count)) }
        }
        return betas.map(Float.init)
    }

    /// log Z by annealed importance sampling from the uniform distribution (log Z_0 = n log 2) with `chainCount`
    /// parallel chains on the device and the B side summed out analytically (so the weights depend on z_A only). Each
    /// temperature: the weight increment, then a block-Gibbs sweep at that temperature. Returns log Z, the standard
    /// error of log mean(w) by the delta method (sd(w)/(mean(w)·√chains)).
    public func annealedLogPartition(chains chainCount: Int, temperatures: Int, seed: UInt32, stream: UInt32,
                                     on backend: any Backend) throws -> (logZ: Double, standardError: Double) {
        try require(chainCount >= 2 && temperatures >= 3, "AIS needs at least 2 chains and 3 temperatures")
        let state = try backend.allocate(count: chainCount * shape.units, dtype: .float32)
        let logWeights = try backend.allocate(count: chainCount, dtype: .float32)
        let probabilities = try backend.allocate(count: chainCount * max(shape.a, shape.b), dtype: .float32)
        try backend.fill(state, with: 0, offset: 0, count: chainCount * shape.units)
        try backend.fill(logWeights, with: 0, offset: 0, count: chainCount)
        let key = PhiloxKey(seed: seed, stream: stream)
        func halfStep(_ side: RBMSide, _ t: Float, _ index: Int) throws {
            try backend.rbmGibbsHalfStep(state: state, weights: weights.buffer, bias: bias.buffer, shape: shape, chains: chainCount, side: side,
                                         inverseTemperature: t, key: key,
                                         counter: PhiloxCounter(0, 0, UInt32(truncatingIfNeeded: index), UInt32(side.rawValue)),
                                         intoProbabilities: probabilities)
        }
        try halfStep(.a, 0, 0)  // exact samples of p_0, the uniform distribution
        let betas = Self.annealingSchedule(temperatures: temperatures)
        for t in 1..<betas.count {
            try backend.rbmFreeEnergyIncrement(state: state, weights: weights.buffer, bias: bias.buffer, shape: shape, chains: chainCount,
                                               from: betas[t - 1], to: betas[t], accumulatingInto: logWeights)
            if t < betas.count - 1 {
                try halfStep(.b, betas[t], t)
                try halfStep(.a, betas[t], t)
            }
        }
        let w = try backend.download(logWeights, offset: 0, count: chainCount).map(Double.init)
        let m = w.max()!
        let scaled = w.map { Foundation.exp($0 - m) }
        let mean = scaled.reduce(0, +) / Double(chainCount)
        let variance = scaled.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(chainCount - 1)
        let logZ0 = Double(shape.units) * Foundation.log(2.0)
        return (logZ0 + m + Foundation.log(mean), variance.squareRoot() / (mean * Double(chainCount).squareRoot()))
    }

    /// Exact log Z by enumerating the 2^a states of the A side (the B side summed analytically), in double precision
    /// on the host: for RBMs with up to ~20 units a side (tests, and checking AIS).
    public func exactLogPartition(on backend: any Backend) throws -> Double {
        try require(shape.a <= 20, "exact log Z enumerates 2^\(shape.a) states; at most 20 A units")
        let w = try backend.download(weights.buffer).map(Double.init), b = try backend.download(bias.buffer).map(Double.init)
        var terms: [Double] = []
        terms.reserveCapacity(1 << shape.a)
        for bits in 0..<(1 << shape.a) {
            var value = 0.0
            for i in 0..<shape.a where bits & (1 << i) != 0 { value += b[i] }
            for j in 0..<shape.b {
                var a = b[shape.a + j]
                for i in 0..<shape.a where bits & (1 << i) != 0 { a += w[i * shape.b + j] }
                value += max(a, 0) + Foundation.log1p(Foundation.exp(-abs(a)))
            }
            terms.append(value)
        }
        let m = terms.max()!
        return m + Foundation.log(terms.reduce(0) { $0 + Foundation.exp($1 - m) })
    }
}
