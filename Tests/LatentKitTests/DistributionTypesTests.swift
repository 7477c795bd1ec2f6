// The distribution types (Sources/LatentKit/Distributions) as a user holds them: samples land where they must and
// have the right moments, and each KL agrees with the fused kernel or with a Monte Carlo estimate from its own samples
// and densities. Their densities and composed KLs are checked against float64 and central differences in
// LatentChecks/RuleCases.swift (the gradient-rule checks).

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct DistributionTypesTests {
    func tensor(_ rows: Int, _ row: [Float], on backend: any Backend) throws -> Tensor {
        try Tensor(Array((0..<rows).map { _ in row }.joined()), rows: rows, cols: row.count, on: backend)
    }

    func columnMeans(_ t: Tensor, on backend: any Backend) throws -> [Double] {
        let v = try backend.download(t.buffer)
        return (0..<t.cols).map { c in stride(from: c, to: v.count, by: t.cols).reduce(0.0) { $0 + Double(v[$1]) } / Double(t.rows) }
    }

    @Test(arguments: TestBackends.all)
    func dirichletSamplesLieOnTheSimplexWithTheRightMean(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let n = 20_000, alpha: [Float] = [2, 3, 5]
        let dirichlet = Dirichlet(concentration: try tensor(n, alpha, on: backend), on: tape)
        let exact = try dirichlet.rsample(RandomSource(seed: 3))
        let laplace = try dirichlet.rsample(RandomSource(seed: 3, stream: 1), method: .logisticNormal(.laplace))
        for sample in [exact, laplace] {
            let v = try backend.download(sample.buffer)
            #expect(v.allSatisfy { $0 > 0 && $0 < 1 })
            #expect((0..<n).allSatisfy { r in abs(v[(3 * r)..<(3 * r + 3)].reduce(0, +) - 1) < 1e-5 })
        }
        // exact: E z = α / α₀; the Laplace approximation is only near it
        let mean = try columnMeans(exact, on: backend)
        for (m, a) in zip(mean, alpha) { #expect(abs(m - Double(a) / 10) < 0.01, "\(mean)") }
        #expect(zip(try columnMeans(laplace, on: backend), alpha).allSatisfy { abs($0 - Double($1) / 10) < 0.1 })
    }

    @Test(arguments: TestBackends.all)
    func theComposedDirichletKLEqualsTheFusedKernel(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let alpha = try Tensor(randomFloats(40, in: 0.1...8, seed: 5), rows: 8, cols: 5, on: backend)
        let q = Dirichlet(concentration: alpha, on: tape)
        let prior = Dirichlet(concentration: try Tensor([Float](repeating: 0.7, count: 40), rows: 8, cols: 5, on: backend), on: tape)
        let composed = try backend.download(q.kl(to: prior).buffer), fused = try backend.download(q.klToSymmetric(concentration: 0.7).buffer)
        for (c, f) in zip(composed, fused) { #expect(abs(c - f) <= 2e-4 * max(1, abs(f)), "\(composed) vs \(fused)") }
    }

    /// KL(q ‖ p) = E_q[log q(z) − log p(z)]: the analytic KL against the mean over 40,000 of q's own samples, within four
    /// standard errors.
    @Test(arguments: TestBackends.all)
    func normalKLMatchesItsMonteCarloEstimate(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let n = 40_000
        let q = try DiagonalNormal(mean: tensor(n, [0.5, -1, 0], on: backend), logVariance: tensor(n, [0, -1, 0.5], on: backend), on: tape)
        let p = try DiagonalNormal(mean: tensor(n, [0, 0, 1], on: backend), logVariance: tensor(n, [0.3, 0, -0.2], on: backend), on: tape)
        let z = try q.rsample(RandomSource(seed: 11))
        let gaps = try backend.download(tape.binary(.sub, q.logProbability(z), p.logProbability(z)).buffer).map(Double.init)
        let mean = gaps.reduce(0, +) / Double(n)
        let sd = (gaps.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
        let analytic = Double(try backend.download(q.kl(to: p).buffer)[0])
        #expect(abs(mean - analytic) < 4 * sd / Double(n).squareRoot(), "Monte Carlo \(mean) ± \(sd / Double(n).squareRoot()), analytic \(analytic)")
        // the same for the logit-normals over these Gaussians, whose KL is theirs
        let lq = try LogitNormal(mean: q.mean, logVariance: q.logVariance, on: tape), lp = try LogitNormal(mean: p.mean, logVariance: p.logVariance, on: tape)
        let (value, logit) = try lq.rsample(RandomSource(seed: 12))
        let logitGaps = try backend.download(tape.binary(.sub, lq.logProbability(logit: logit), lp.logProbability(logit: logit)).buffer)
        let logitMean = logitGaps.reduce(0.0) { $0 + Double($1) } / Double(n)
        #expect(abs(logitMean - Double(try backend.download(lq.kl(to: lp).buffer)[0])) < 0.05)
        // a value's density equals its logit's
        let fromValue = try backend.download(lq.logProbability(value).buffer), fromLogit = try backend.download(lq.logProbability(logit: logit).buffer)
        #expect(zip(fromValue.prefix(1000), fromLogit.prefix(1000)).allSatisfy { abs($0 - $1) < 2e-3 * max(1, abs($1)) })
    }

    @Test(arguments: TestBackends.all)
    func relaxedCategoricalSamplesAreLogProbabilityVectors(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let logits = try Tensor(randomFloats(6 * 8, in: -2...2, seed: 9), rows: 6, cols: 8, on: backend)
        let concrete = try RelaxedCategorical(logits: logits, temperature: 0.5, categories: 4, on: tape)
        let y = try backend.download(concrete.rsample(RandomSource(seed: 2)).buffer)
        for g in 0..<12 { #expect(abs(y[(4 * g)..<(4 * g + 4)].reduce(0) { $0 + exp($1) } - 1) < 1e-5) }
        #expect(try backend.download(concrete.logProbability(Tensor(y, rows: 6, cols: 8, on: backend)).buffer).allSatisfy(\.isFinite))
        let uniform = try RelaxedCategorical(logits: Tensor([Float](repeating: 0.3, count: 8), rows: 1, cols: 8, on: backend), temperature: 1,
                                             categories: 4, on: tape)
        #expect(abs(try backend.download(uniform.categoricalKLToUniform().buffer)[0]) < 1e-6)
        #expect(throws: (any Error).self) { try RelaxedCategorical(logits: logits, temperature: 0.5, categories: 3, on: tape) }
    }
}
