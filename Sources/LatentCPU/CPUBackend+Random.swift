// Philox random fills on the CPU, one Philox block per four elements (the same layout as Kernels/Random.swift).

import LatentCore
import RealModule

/// The values of one Philox block under each distribution; lane `l` of block `b` is element `4b + l`.
public enum RandomTransform {
    @inlinable
    public static func normalPair(_ u0: Float, _ u1: Float) -> (Float, Float) {
        let r = (-2 * Float.log(u0)).squareRoot()
        let theta = Float(6.283_185_307_179_586) * u1
        return (r * Float.cos(theta), r * Float.sin(theta))
    }

    @inlinable
    public static func gumbel(_ u: Float) -> Float { -Float.log(-Float.log(u)) }
}

extension CPUBackend {
    public func fillRandom(
        _ distribution: RandomDistribution, into y: Buffer, count: Int,
        key: PhiloxKey, counter: PhiloxCounter, probabilities: Buffer?
    ) throws {
        try checkRandomFill(distribution, y, count, probabilities)
        let out = try host(y, "random output").floats
        let p = try probabilities.map { try host($0, "bernoulli probabilities").floats }
        let blocks = (count + 3) / 4
        parallelChunks(blocks, grain: 1 << 13) { range in
            for b in range {
                let w = Philox.block(counter: counter.advanced(by: UInt64(b)).words, key: key)
                var v = SIMD4<Float>(Philox.uniform(w[0]), Philox.uniform(w[1]), Philox.uniform(w[2]), Philox.uniform(w[3]))
                switch distribution {
                case .uniform: break
                case .normal:
                    let (z0, z1) = RandomTransform.normalPair(v[0], v[1])
                    let (z2, z3) = RandomTransform.normalPair(v[2], v[3])
                    v = SIMD4(z0, z1, z2, z3)
                case .gumbel:
                    for l in 0..<4 { v[l] = RandomTransform.gumbel(v[l]) }
                case .bernoulli:
                    for l in 0..<4 where 4 * b + l < count { v[l] = v[l] < p![4 * b + l] ? 1 : 0 }
                }
                for l in 0..<min(4, count - 4 * b) { out[4 * b + l] = v[l] }
            }
        }
    }

    public func fillRandomBits(into y: Buffer, count: Int, key: PhiloxKey, counter: PhiloxCounter) throws {
        let out = try host(y, "random bits output")
        try out.check(holds: count, of: .int32, "random bits output")
        let ints = out.ints
        for b in 0..<((count + 3) / 4) {
            let w = Philox.block(counter: counter.advanced(by: UInt64(b)).words, key: key)
            for l in 0..<min(4, count - 4 * b) { ints[4 * b + l] = Int32(bitPattern: w[l]) }
        }
    }
}
