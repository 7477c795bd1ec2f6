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
    public static func gumbel(_ u: Float) -> Float { VectorMath.gumbel(u) }
}

extension CPUBackend {
    public func fillRandom(
        _ distribution: RandomDistribution, into y: Buffer, count: Int,
        key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int, probabilities: Buffer?
    ) throws {
        try checkRandomFill(distribution, y, count, probabilities, streamOffset: streamOffset)
        let out = try host(y, "random output").floats
        let p = try probabilities.map { try host($0, "bernoulli probabilities").floats }
        // Stream element `shift + j` of the counter below is element `streamOffset + j` of the whole stream: output j.
        let shift = streamOffset % 4, counter = counter.advanced(by: UInt64(streamOffset / 4)), total = count + shift
        let blocks = (total + 3) / 4
        // Sixteen Philox blocks (64 elements) per iteration; element 4b + l is word l of block b.
        parallelChunks((blocks + 15) / 16, grain: 1 << 8) { range in
            var v = [Float](repeating: 0, count: 64)
            for group in range {
                v.withUnsafeMutableBufferPointer {
                    VectorMath.philoxUniforms(counter: counter, first: UInt64(group * 16), key: key, blocks: 16, into: $0.baseAddress!)
                }
                let base = group * 64 - shift
                let first = max(0, -base), n = min(64, count - base)
                switch distribution {
                case .uniform: break
                case .normal:
                    for i in stride(from: 0, to: 64, by: 2) {
                        let (z0, z1) = RandomTransform.normalPair(v[i], v[i + 1])
                        v[i] = z0
                        v[i + 1] = z1
                    }
                case .gumbel:
                    v.withUnsafeMutableBufferPointer { VectorMath.gumbel($0.baseAddress!, $0.baseAddress!, count: 64) }
                case .bernoulli:
                    for i in first..<n { v[i] = v[i] < p![base + i] ? 1 : 0 }
                }
                for i in first..<n { out[base + i] = v[i] }
            }
        }
    }

    /// The uniforms of ``fillRandom(_:into:count:key:counter:streamOffset:probabilities:)``, then each mapped to
    /// `u < keep ? 1 / keep : 0` (the kernel `random_dropout_mask_f32` compares the same uniforms).
    public func fillDropoutMask(into y: Buffer, count: Int, keep: Float, key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int) throws {
        try checkDropoutMask(y, count, keep: keep, streamOffset: streamOffset)
        try fillRandom(.uniform, into: y, count: count, key: key, counter: counter, streamOffset: streamOffset, probabilities: nil)
        let out = try host(y, "dropout mask").floats, scale = 1 / keep
        parallelChunks(count, grain: 1 << 12) { range in
            for i in range { out[i] = out[i] < keep ? scale : 0 }
        }
    }

    public func fillGamma(concentration alpha: Buffer, into y: Buffer, count: Int, key: PhiloxKey, counter: PhiloxCounter,
                          streamOffset: Int) throws {
        try require(streamOffset >= 0, "gamma fill: negative stream offset \(streamOffset)")
        let a = try host(alpha, "gamma concentration"), out = try host(y, "gamma output")
        try a.check(holds: count, "gamma concentration")
        try out.check(holds: count, "gamma output")
        try require(count <= Int(UInt32.max), "too many gamma variates")
        let ap = a.floats, op = out.floats
        parallelChunks(count, grain: 1 << 10) { range in
            for i in range { op[i] = GammaDistribution.sample(alpha: ap[i], index: UInt32(truncatingIfNeeded: streamOffset + i), key: key, counter: counter) }
        }
    }

    public func gammaBackward(concentration alpha: Buffer, sample x: Buffer, gradient g: Buffer, into dAlpha: Buffer, count: Int) throws {
        try checkRows(rows: count, cols: 1, matrices: [(alpha, "gamma concentration"), (x, "gamma sample"), (g, "gradient"),
                                                       (dAlpha, "concentration gradient")], perRow: [])
        let ap = try host(alpha, "gamma concentration").floats, xp = try host(x, "gamma sample").floats
        let gp = try host(g, "gradient").floats, out = try host(dAlpha, "concentration gradient").floats
        parallelChunks(count, grain: 1 << 8) { range in
            for i in range { out[i] = gp[i] * GammaDistribution.dxDalpha(alpha: ap[i], x: xp[i]) }
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
