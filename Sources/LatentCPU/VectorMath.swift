// 16-lane exp, log1p, softplus, sigmoid and Gumbel noise for the CPU backend's hottest loops (the softplus of every hidden
// layer and the Bernoulli likelihood of every pixel). glibc's scalar log1pf was a sixth of a training step.
// Algorithms: Cephes expf and logf (Moshier); softplus evaluates them in float lanes, carrying the roundings of
// e^-|x| and of 1 + t into log1p(t) (see softplus(_:)). Every softplus-family result of the CPU
// backend comes from here (scalar calls use one lane), so vector and scalar paths cannot disagree. The array loops
// (`softplus(_:_:count:)` and its kin) run the same operations from C (Sources/CVectorMath), compiled for AVX-512 and
// AVX2 as well as baseline x86-64 and picked by the CPU's features: the same bits as these lanes, 2-4 times faster.

import CVectorMath
import Foundation
import LatentCore

public enum VectorMath {
    public typealias V = SIMD16<Float>

    /// Cephes expf's steps for a clamped argument: e^xc = (1 + s) 2^n, with s (|s| < 1) and 2^n as two normal factors
    /// s1 s2, so that results down to the subnormal range scale correctly.
    @inline(__always)
    static func expParts(_ xc: V) -> (s: V, s1: V, s2: V) {
        // Round to the nearest integer by adding 1.5 * 2^23: the sum's low mantissa bits are the integer
        // (generic SIMD rounding and float-to-int conversion run lane by lane in Swift's standard library).
        let shifted = xc * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        var r = xc - n * 0.693_359_375
        r = r - n * -2.121_944_40e-4
        let z = r * r
        var p = V(repeating: 1.987_569_150_0e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let ni = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let n1 = ni &>> 1, n2 = ni &- n1
        return (p * z + r, unsafeBitCast((n1 &+ 127) &<< 23, to: V.self), unsafeBitCast((n2 &+ 127) &<< 23, to: V.self))
    }

    /// e^x; +inf above 88.72, 0 below -103.97 (subnormal results in between are rounded once), NaN for NaN.
    @inline(__always)
    public static func exp(_ x: V) -> V {
        let xc = x.replacing(with: -104, where: x .< -104).replacing(with: 88.8, where: x .> 88.8)
        let (s, s1, s2) = expParts(xc)
        var result = (s + 1) * s1 * s2
        result.replace(with: .infinity, where: x .> 88.722_839)
        result.replace(with: 0, where: x .< -103.972_084)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// e^-a for a >= 0 as hi + lo: exp(_:)'s steps, except that the last addition 1 + s is split into its rounded
    /// value and its rounding error (exact: |s| < 1), both scaled by 2^n. Carrying lo into log1p is what keeps a float
    /// softplus near one rounding (without it, 1.6 ulp).
    @inline(__always)
    static func expNegativeSplit(_ a: V) -> (hi: V, lo: V) {
        let (s, s1, s2) = expParts(-a.replacing(with: 104, where: a .> 104))  // below e^-104 the result is below float's range
        let q = s + 1
        let ql = s - (q - 1)
        return (q * s1 * s2, ql * s1 * s2)
    }

    /// Cephes logf's polynomial P(f): log(1 + f) = f - f^2 / 2 + f^3 P(f) for f in [sqrt(1/2) - 1, sqrt(2) - 1].
    @inline(__always)
    static func logPolynomial(_ f: V) -> V {
        var y = V(repeating: 7.037_683_629_2e-2)
        y = y * f - 1.151_461_031_0e-1
        y = y * f + 1.167_699_874_0e-1
        y = y * f - 1.242_014_084_6e-1
        y = y * f + 1.424_932_278_7e-1
        y = y * f - 1.666_805_766_5e-1
        y = y * f + 2.000_071_476_5e-1
        y = y * f - 2.499_999_399_3e-1
        y = y * f + 3.333_333_117_4e-1
        return y
    }

    /// log(1 + e^x) = max(x, 0) + log1p(t), t = e^-|x| carried as hi + lo, in float lanes: at most 1.21 ulp against
    /// a long-double reference over every third float in [-103, 120] (a double-lane form gave 0.54 at 1.7 times the
    /// cost). log1p(t) is Cephes logf's polynomial in t itself for t <= sqrt(2) - 1 (its range, no rounding of 1 + t);
    /// above, of f = (1 + t) / 2 - 1 (exact) plus ln 2, with the rounding of 1 + t and lo carried over as
    /// (error) / (1 + t), 1 / (1 + t) = 0.5 / (1 + f) taken as 0.5 (1 - f + f^2) (below t, 1 - t + t^2): wrong by
    /// f^3 relative on a term below 2^-24, far below the result's rounding. NaN for NaN.
    @inline(__always)
    public static func softplus(_ x: V) -> V {
        let (t, tl) = expNegativeSplit(abs(x))
        let big = t .> 0.414_213_56
        let u = 1 + t
        let c = t - (u - 1)
        let f = t.replacing(with: u * 0.5 - 1, where: big)
        let z = f * f
        let y = logPolynomial(f) * f * z - 0.5 * z
        let carried = V(repeating: 0).replacing(with: c, where: big) + tl
        let correction = carried * (V(repeating: 1).replacing(with: 0.5, where: big) * (1 - f + z))
        let ln2Low = V(repeating: 0).replacing(with: -2.121_944_40e-4, where: big)
        let ln2High = V(repeating: 0).replacing(with: 0.693_359_375, where: big)  // + f: exact (both on a 2^-24 grid)
        let log1pT = (ln2High + f) + (y + (ln2Low + correction))
        let result = x.replacing(with: 0, where: x .< 0) + log1pT
        return result.replacing(with: x, where: x .!= x)
    }

    /// log x for positive normal finite x only (Cephes logf: x = m 2^e, m in [sqrt(1/2), sqrt(2)), the polynomial in
    /// m - 1, exact); what Gumbel noise needs, whose arguments are Philox uniforms in (0, 1) and their -log.
    @inline(__always)
    static func logPositiveNormal(_ x: V) -> V {
        let bits = unsafeBitCast(x, to: SIMD16<Int32>.self)
        var e = V((bits &>> 23) &- 126)
        var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: V.self)  // in [0.5, 1)
        let small = m .< 0.707_106_77
        e = e.replacing(with: e - 1, where: small)
        m = m.replacing(with: m + m, where: small) - 1
        let z = m * m
        var y = logPolynomial(m) * m * z
        y = y + e * -2.121_944_40e-4
        y = y - 0.5 * z
        return (m + y) + e * 0.693_359_375
    }

    /// Gumbel noise -log(-log u) of uniforms u in (0, 1) (Philox's: never 0 or 1).
    @inline(__always)
    public static func gumbel(_ u: V) -> V { -logPositiveNormal(-logPositiveNormal(u)) }

    /// 1 / (1 + e^-x), from e^-|x| on either side so that nothing overflows.
    @inline(__always)
    public static func sigmoid(_ x: V) -> V {
        let e = exp(-abs(x))
        let r = 1 / (1 + e)
        return r.replacing(with: e * r, where: x .< 0)
    }

    @inline(__always)
    static func abs(_ x: V) -> V { unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: V.self) }

    // One-lane forms for scalar code paths.
    @inline(__always) public static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }
    @inline(__always) public static func gumbel(_ u: Float) -> Float { gumbel(V(repeating: u))[0] }
    @inline(__always) public static func softplus(_ x: Float) -> Float { softplus(V(repeating: x))[0] }
    @inline(__always) public static func sigmoid(_ x: Float) -> Float { sigmoid(V(repeating: x))[0] }

    /// The instruction sets the array loops can run on, best last.
    public enum Level: Int32, CaseIterable, Sendable {
        case baseline = 0, avx2 = 1, avx512 = 2

        /// What this CPU and build allow: AVX-512F or AVX2 when /proc/cpuinfo lists them (the kernel lists AVX-512
        /// only when it saves that state) and the C target was compiled for x86-64.
        public static let supported: Level = {
            let compiled = Level(rawValue: lk_vector_level_compiled()) ?? .baseline
            let flags = OpenBLASKernels.cpuFlags()
            let cpu: Level = flags.contains("avx512f") ? .avx512 : (flags.contains("avx2") ? .avx2 : .baseline)
            return Level(rawValue: min(compiled.rawValue, cpu.rawValue))!
        }()

        /// `supported`, or a lower level named by `LATENTKIT_CPU_VECTOR` (baseline, avx2, avx512), to measure what
        /// the wider loops gain; a higher or unknown name is refused with one line on standard error.
        public static let chosen: Level = {
            guard let name = ProcessInfo.processInfo.environment["LATENTKIT_CPU_VECTOR"] else { return supported }
            guard let named = allCases.first(where: { "\($0)" == name }), named.rawValue <= supported.rawValue else {
                FileHandle.standardError.write(Data("latentkit: LATENTKIT_CPU_VECTOR=\(name) ignored: this CPU runs \(allCases.filter { $0.rawValue <= supported.rawValue }.map { "\($0)" }.joined(separator: ", "))\n".utf8))
                return supported
            }
            return named
        }()
    }

    /// `y[i] = exp(x[i])`, `softplus(x[i])`, `sigmoid(x[i])` for `count` elements: the lanes' bits, at `level`'s width.
    /// `x` and `y` may be the same array.
    @inline(__always)
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, level: Level = .chosen) {
        lk_vector_exp_f32(level.rawValue, x, y, count)
    }

    @inline(__always)
    public static func softplus(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, level: Level = .chosen) {
        lk_vector_softplus_f32(level.rawValue, x, y, count)
    }

    @inline(__always)
    public static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, level: Level = .chosen) {
        lk_vector_sigmoid_f32(level.rawValue, x, y, count)
    }

    /// `y[i] = gumbel(x[i])` for uniforms in (0, 1): the lanes' bits, at `level`'s width; in place allowed.
    @inline(__always)
    public static func gumbel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int, level: Level = .chosen) {
        lk_vector_gumbel_f32(level.rawValue, x, y, count)
    }

    /// `out[r] = Σ_j Double(x·l − sp)` over each of `rows` rows of `cols` (the Bernoulli log-likelihood given
    /// `sp = softplus(l)`), each row summed in column order: the bits of one row at a time, several rows side by side.
    @inline(__always)
    public static func bernoulliRowSums(logits l: UnsafePointer<Float>, targets x: UnsafePointer<Float>, softplus sp: UnsafePointer<Float>,
                                        into out: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        lk_bernoulli_row_sums_f32(l, x, sp, out, rows, cols)
    }

    /// `out[r] = Σ_j Double(x[r·cols + j])` in column order for each of `rows` rows: one row at a time's bits, several
    /// rows' chains side by side.
    @inline(__always)
    public static func rowSums(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Double>, rows: Int, cols: Int) {
        lk_row_sums_f64_f32(x, out, rows, cols)
    }

    /// `out[r] = Σ_j Double(c·(l − z[r]))` in column order for each of `rows` rows (the multinomial log-likelihood given the
    /// log-normalisers z): one row at a time's bits, several rows' chains side by side.
    @inline(__always)
    public static func multinomialRowSums(counts c: UnsafePointer<Float>, logits l: UnsafePointer<Float>, logNormalisers z: UnsafePointer<Float>,
                                          into out: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        lk_multinomial_row_sums_f32(c, l, z, out, rows, cols)
    }

    /// `d[i] = sigmoid(a[i]) g[i]`, then `acc[i] += Double(d[i])`, for `count` elements: a row of the softplus layer's
    /// backward pass and its bias-gradient column sums, at `level`'s width (the lanes' sigmoid bits).
    @inline(__always)
    public static func softplusBackward(_ a: UnsafePointer<Float>, gradient g: UnsafePointer<Float>, into d: UnsafeMutablePointer<Float>,
                                        accumulating acc: UnsafeMutablePointer<Double>, count: Int, level: Level = .chosen) {
        lk_softplus_backward_f32(level.rawValue, a, g, d, acc, count)
    }

    /// `Philox.uniform` of every word of `blocks` consecutive Philox blocks from `counter + first`, word `w` of block
    /// `b` at `out[4 b + w]`: the words of `Philox.blocks16`, at `level`'s width.
    @inline(__always)
    public static func philoxUniforms(counter: PhiloxCounter, first: UInt64, key: PhiloxKey, blocks: Int, into out: UnsafeMutablePointer<Float>,
                                      level: Level = .chosen) {
        let low = (UInt64(counter.words[1]) << 32 | UInt64(counter.words[0])) &+ first
        lk_philox_uniform_f32(level.rawValue, key.seed, key.stream, low, counter.words[2], counter.words[3], out, blocks)
    }

    /// One Adam step over `count` parameters, in place: `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g g`,
    /// `p -= stepSize m / (sqrt(v) / sqrtBC2 + epsilon)`, in that order of operations (the OpenCL kernel's).
    @inline(__always)
    public static func adam(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, firstMoment m: UnsafeMutablePointer<Float>,
                            secondMoment v: UnsafeMutablePointer<Float>, count: Int, beta1: Float, beta2: Float, epsilon: Float,
                            stepSize: Float, sqrtBC2: Float, level: Level = .chosen) {
        lk_adam_f32(level.rawValue, p, g, m, v, count, beta1, beta2, epsilon, stepSize, sqrtBC2)
    }

    /// Batch normalisation's statistics over `m` columns of `rows` rows (row stride `stride`), each column's sums in row
    /// order: `mean` (zeroed by the caller) becomes the column means, `variance` (zeroed) the sums of squared deviations.
    @inline(__always)
    public static func batchNormStatistics(_ x: UnsafePointer<Float>, stride: Int, rows: Int, columns m: Int, mean: UnsafeMutablePointer<Float>,
                                           squaredDeviations variance: UnsafeMutablePointer<Float>, level: Level = .chosen) {
        lk_batch_norm_statistics_f32(level.rawValue, x, stride, rows, m, mean, variance)
    }

    /// `y = scale ((x - mean) inverse) + shift` over `m` columns of `rows` rows; `y` may be `x`.
    @inline(__always)
    public static func batchNormNormalise(_ x: UnsafePointer<Float>, stride: Int, rows: Int, columns m: Int, scale: UnsafePointer<Float>,
                                          shift: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverse: UnsafePointer<Float>,
                                          into y: UnsafeMutablePointer<Float>, level: Level = .chosen) {
        lk_batch_norm_normalise_f32(level.rawValue, x, stride, rows, m, scale, shift, mean, inverse, y)
    }

    /// Batch normalisation's backward pass over `m` columns: the column sums of `g` and of `g (x - mean) inverse` into
    /// `sums` and `scaledSums` (zeroed by the caller), then the input gradient into `dx` (which may be `g`).
    @inline(__always)
    public static func batchNormBackward(_ x: UnsafePointer<Float>, gradient g: UnsafePointer<Float>, stride: Int, rows: Int, columns m: Int,
                                         scale: UnsafePointer<Float>, mean: UnsafePointer<Float>, inverse: UnsafePointer<Float>,
                                         sums: UnsafeMutablePointer<Float>, scaledSums: UnsafeMutablePointer<Float>,
                                         into dx: UnsafeMutablePointer<Float>, level: Level = .chosen) {
        lk_batch_norm_backward_f32(level.rawValue, x, g, stride, rows, m, scale, mean, inverse, sums, scaledSums, dx)
    }

    /// `out[j] = u[j] < p[j] ? 1 : 0` over `count` elements: a row of dynamic binarisation.
    @inline(__always)
    public static func binarise(uniforms u: UnsafePointer<Float>, probabilities p: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                count: Int, level: Level = .chosen) {
        lk_binarise_f32(level.rawValue, u, p, out, count)
    }

    /// Asks the cache for `count` floats at `p`, a row read soon, without waiting for them.
    @inline(__always)
    public static func prefetch(_ p: UnsafePointer<Float>, count: Int) { lk_prefetch_f32(p, count) }

    /// `y[i] = f(x[i])` for `count` elements, 16 at a time; the tail is padded, so every element takes the same path.
    @inline(__always)
    public static func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ range: Range<Int>, _ f: (V) -> V) {
        var i = range.lowerBound
        while i + 16 <= range.upperBound {
            UnsafeMutableRawPointer(y + i).storeBytes(of: f(UnsafeRawPointer(x + i).loadUnaligned(as: V.self)), as: V.self)
            i += 16
        }
        if i < range.upperBound {
            var v = V(repeating: 0)
            for l in 0..<(range.upperBound - i) { v[l] = x[i + l] }
            let r = f(v)
            for l in 0..<(range.upperBound - i) { y[i + l] = r[l] }
        }
    }
}
