// The discrete VAE's device ops on every backend: the spike-and-exponential sample and its backward against the
// float64 inverse CDF and central differences (q near 0, 1/2 and near 1; β from 1 to 50), its samples against the
// CDF F (Kolmogorov-Smirnov), Rolfe's indicator gradient, the Gibbs half-step's probabilities and draws, the RBM
// energy and its gradients, and AIS against exact enumeration.

import Foundation
import LatentKit
import Testing
import TestSupport

enum SpikeReference {
    /// ζ = F⁻¹(ρ; σ(l)) in float64.
    static func sample(_ l: Double, _ rho: Double, _ beta: Double) -> Double {
        let q = 1 / (1 + Foundation.exp(-l)), s = 1 - rho
        guard s < q else { return 0 }
        return Foundation.log1p(Foundation.expm1(beta) * (q - s) / q) / beta
    }

    /// F(ζ) = (1 - q) + q (e^(βζ) - 1)/(e^β - 1) for ζ in [0, 1].
    static func cdf(_ zeta: Double, _ q: Double, _ beta: Double) -> Double {
        (1 - q) + q * Foundation.expm1(beta * zeta) / Foundation.expm1(beta)
    }
}

/// log Σ_z exp(z_Aᵀ W z_B + bᵀ z) over all 2^(a+b) states, in float64: the reference for AIS and the KL gradient.
func exactRBMExpectations(_ w: [Double], _ b: [Double], a: Int, bSide: Int) -> (logZ: Double, pair: [Double], unit: [Double]) {
    let n = a + bSide
    var energies: [Double] = [], states: [[Double]] = []
    for bits in 0..<(1 << n) {
        let z = (0..<n).map { Double((bits >> $0) & 1) }
        var e = zip(b, z).reduce(0) { $0 + $1.0 * $1.1 }
        for i in 0..<a { for j in 0..<bSide { e += z[i] * w[i * bSide + j] * z[a + j] } }
        energies.append(e)
        states.append(z)
    }
    let logZ = Reference.logSumExp(energies)
    var pair = [Double](repeating: 0, count: a * bSide), unit = [Double](repeating: 0, count: n)
    for (e, z) in zip(energies, states) {
        let p = Foundation.exp(e - logZ)
        for i in 0..<a { for j in 0..<bSide { pair[i * bSide + j] += p * z[i] * z[a + j] } }
        for u in 0..<n { unit[u] += p * z[u] }
    }
    return (logZ, pair, unit)
}

@Suite struct DiscreteVAEKernelTests {
    /// ζ and dζ/dl at hand-picked points: q ∈ {1e-6, 1/2, 1 - 1e-6}, s = 1 - ρ at fractions of q on both sides of the
    /// spike's edge, β ∈ {1, 10, 50}; against the float64 inverse CDF and its central difference. Nothing NaN or infinite.
    @Test(arguments: TestBackends.all)
    func spikeAndExponentialMatchesTheInverseCDF(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        var logits: [Float] = [], rho: [Float] = []
        for q in [1e-6, 0.5, 1 - 1e-6] {
            let l = Float(Foundation.log(q / (1 - q)))
            let qf = 1 / (1 + Foundation.exp(-Double(l)))
            for fraction in [0.05, 0.3, 0.7, 0.97, 1.5, 3.0] {
                logits.append(l)
                rho.append(Float(1 - fraction * qf))
            }
        }
        let n = logits.count
        for beta in [1.0, 10.0, 50.0] {
            let tape = Tape(pool: BufferPool(backend: backend))
            let l = try Tensor(logits, rows: n, cols: 1, on: backend), u = try Tensor(rho, rows: n, cols: 1, on: backend)
            tape.watch(l)
            let (zeta, z) = try tape.spikeAndExponentialSample(logits: l, uniforms: u, beta: Float(beta))
            try tape.backward(from: tape.sumAll(zeta))
            let got = try backend.download(zeta.buffer), indicator = try backend.download(z.buffer)
            let slope = try backend.download(tape.gradient(of: l)!.buffer)
            for i in 0..<n {
                let (li, ri) = (Double(logits[i]), Double(rho[i]))
                let want = SpikeReference.sample(li, ri, beta)
                let h = 1e-6 * max(1, abs(li))
                let wantSlope = (SpikeReference.sample(li + h, ri, beta) - SpikeReference.sample(li - h, ri, beta)) / (2 * h)
                #expect(got[i].isFinite && slope[i].isFinite, "β=\(beta) l=\(li) ρ=\(ri): ζ \(got[i]), slope \(slope[i])")
                #expect(abs(Double(got[i]) - want) <= 2e-5 * abs(want) + 1e-6, "β=\(beta) l=\(li) ρ=\(ri): ζ \(got[i]) want \(want)")
                #expect(abs(Double(slope[i]) - wantSlope) <= 1e-3 * abs(wantSlope) + 1e-6,
                        "β=\(beta) l=\(li) ρ=\(ri): dζ/dl \(slope[i]) want \(wantSlope)")
                #expect(indicator[i] == (want > 0 ? 1 : 0))
            }
        }
    }

    /// Extreme logits and uniforms: finite ζ in [0, 1] and finite gradients everywhere.
    @Test(arguments: TestBackends.all)
    func spikeAndExponentialIsFiniteAtTheExtremes(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let values: [Float] = [-200, -90, -20, -1e-3, 0, 1e-3, 20, 90, 200]
        let uniforms: [Float] = [0x1p-24, 0.25, 0.5, 1 - 0x1p-24]
        let logits = values.flatMap { v in uniforms.map { _ in v } }, rho = values.flatMap { _ in uniforms }
        for beta: Float in [1e-3, 1, 50, 80] {
            let tape = Tape(pool: BufferPool(backend: backend))
            let l = try Tensor(logits, rows: logits.count, cols: 1, on: backend), u = try Tensor(rho, rows: rho.count, cols: 1, on: backend)
            tape.watch(l)
            let (zeta, z) = try tape.spikeAndExponentialSample(logits: l, uniforms: u, beta: beta)
            try tape.backward(from: tape.sumAll(tape.binary(.add, zeta, z)))
            let got = try backend.download(zeta.buffer), slope = try backend.download(tape.gradient(of: l)!.buffer)
            #expect(got.allSatisfy { $0 >= 0 && $0 <= 1.000001 }, "β=\(beta): \(got)")
            #expect(slope.allSatisfy { $0.isFinite }, "β=\(beta): \(slope)")
        }
        let tape = Tape(pool: BufferPool(backend: backend))
        let one = try Tensor([0], rows: 1, cols: 1, on: backend)
        #expect(throws: BackendError.self) { try tape.spikeAndExponentialSample(logits: one, uniforms: one, beta: 0) }
        #expect(throws: BackendError.self) { try tape.spikeAndExponentialSample(logits: one, uniforms: one, beta: 81) }
    }

    /// 40,000 samples at q = 0.3 against F: the Kolmogorov-Smirnov distance stays under 1.95/√N (the 0.1% level).
    @Test(arguments: TestBackends.all, [1.0, 10.0])
    func samplesFollowTheMixedCDF(kind: BackendKind, beta: Double) throws {
        let backend = try TestBackends.backend(kind)
        let n = 40_000, q = 0.3
        let tape = Tape(pool: BufferPool(backend: backend))
        let l = try Tensor([Float](repeating: Float(Foundation.log(q / (1 - q))), count: n), rows: n, cols: 1, on: backend)
        let u = try Tensor([Float](repeating: 0, count: n), rows: n, cols: 1, on: backend)
        try backend.fillRandom(.uniform, into: u.buffer, count: n, key: PhiloxKey(seed: 5, stream: 9), counter: PhiloxCounter(), probabilities: nil)
        let samples = try backend.download(tape.spikeAndExponentialSample(logits: l, uniforms: u, beta: Float(beta)).sample.buffer).map(Double.init).sorted()
        var distance = 0.0
        for (i, x) in samples.enumerated() where i + 1 == n || samples[i + 1] != x {
            let f = SpikeReference.cdf(x, q, beta)
            distance = max(distance, abs(Double(i + 1) / Double(n) - f))
            if i > 0 && x > 0 { distance = max(distance, abs(Double(i) / Double(n) - f)) }
        }
        #expect(distance < 1.95 / Double(n).squareRoot(), "KS distance \(distance) for β=\(beta)")
    }

    /// Rolfe's estimator: dl = dz (1 - z) σ(l), so E[dz/dq] = E[(1 - z)/(1 - q)] = 1.
    @Test(arguments: TestBackends.all)
    func indicatorGradientIsRolfesEstimator(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let n = 20_000, q = 0.35
        let tape = Tape(pool: BufferPool(backend: backend))
        let l = try Tensor([Float](repeating: Float(Foundation.log(q / (1 - q))), count: n), rows: n, cols: 1, on: backend)
        let u = try Tensor([Float](repeating: 0, count: n), rows: n, cols: 1, on: backend)
        try backend.fillRandom(.uniform, into: u.buffer, count: n, key: PhiloxKey(seed: 6, stream: 9), counter: PhiloxCounter(), probabilities: nil)
        tape.watch(l)
        let z = try tape.spikeAndExponentialSample(logits: l, uniforms: u, beta: 5).indicator
        try tape.backward(from: tape.sumAll(z))
        let zs = try backend.download(z.buffer), dl = try backend.download(tape.gradient(of: l)!.buffer)
        for i in 0..<n { #expect(abs(Double(dl[i]) - (1 - Double(zs[i])) * q) < 1e-6) }
        // dq/dl = q(1 - q): the mean of dz/dq = dl / (q(1 - q)) is 1 within four standard errors
        let ratios = dl.map { Double($0) / (q * (1 - q)) }, mean = ratios.reduce(0, +) / Double(n)
        let sd = (ratios.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
        #expect(abs(mean - 1) < 4 * sd / Double(n).squareRoot(), "mean dz/dq \(mean)")
        #expect(abs(Double(zs.reduce(0, +)) / Double(n) - q) < 4 * (q * (1 - q) / Double(n)).squareRoot())
    }
}
