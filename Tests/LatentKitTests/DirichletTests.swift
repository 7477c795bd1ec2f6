// The Dirichlet family: the analytic KL against mpmath over α in [1e-3, 1e3], the logistic-normal samplers'
// moments, the four bugs of the seed report's code, the Sherman-Morrison density against a dense float64 one.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct DirichletTests {
    /// A small Dirichlet VAE whose decoder is given z itself (`input`), so that `sample(...).1` is the point on the simplex.
    func model(k: Int, approximation: DirichletApproximation = .laplace, beta: Float? = nil,
               input: DirichletDecoderInput = .simplex, on backend: any Backend) throws -> VAE {
        try smallVAE(.dirichlet, latentSize: k, on: backend) {
            $0.dirichletApproximation = approximation
            $0.priorConcentration = beta
            $0.dirichletDecoderInput = input
        }
    }

    /// The decoder's input by default is the centred log-ratio of the sample: rows that sum to 0 and whose softmax is
    /// the sample z on the simplex (from the same noise), for every sampler.
    @Test(arguments: TestBackends.all, DirichletApproximation.allCases)
    func theDecoderIsGivenTheCentredLogRatioOfTheSample(kind: BackendKind, approximation: DirichletApproximation) throws {
        let backend = try TestBackends.backend(kind), alpha: [Float] = [0.3, 2, 7.5, 1]
        let simplex = try model(k: 4, approximation: approximation, on: backend)
        let clr = try model(k: 4, approximation: approximation, input: .centredLogRatio, on: backend)
        let (_, z) = try sampleLogits(simplex, alpha: alpha, n: 200, on: backend)
        let (_, v) = try sampleLogits(clr, alpha: alpha, n: 200, on: backend)
        for r in 0..<200 {
            let row = v[(4 * r)..<(4 * r + 4)].map(Double.init), top = row.max()!
            #expect(abs(row.reduce(0, +)) < 1e-4 * (1 + row.map(abs).max()!), "row \(r) sums to \(row.reduce(0, +))")
            let e = row.map { Foundation.exp($0 - top) }, total = e.reduce(0, +)
            for j in 0..<4 { #expect(abs(e[j] / total - Double(z[4 * r + j])) < 1e-5, "row \(r): softmax(clr) vs z") }
        }
    }

    /// Relative error 1e-5 where the KL is not small against its terms; near α = β the KL is a difference of terms
    /// of size Σ|lgamma|, so float32 can only promise an absolute error of a few ulps of that size.
    @Test(arguments: TestBackends.all)
    func klMatchesMpmath(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        var worst = 0.0
        for row in try readTable(testDataPath("dirichlet_kl.tsv")) {
            let k = Int(row[0]), beta = Float(row[1]), alpha = row[2..<(2 + k)].map { Float($0) }, want = row[2 + k]
            let vae = try model(k: k, beta: beta, on: backend)
            let tape = Tape(pool: BufferPool(backend: backend))
            let q = Posterior(location: try Tensor(alpha, rows: 1, cols: k, on: backend), logVariance: nil)
            let kl = try backend.download(vae.kl(q, latent: q.location, on: tape).buffer, offset: 0, count: 1)[0]
            let scale = alpha.reduce(0.0) { $0 + abs(Foundation.lgamma(Double($1))) + Double($1) } + abs(Foundation.lgamma(alpha.reduce(0.0) { $0 + Double($1) }))
            let error = abs(Double(kl) - want)
            worst = max(worst, error / max(abs(want), 1e-300))
            #expect(kl.isFinite, "K=\(k) β=\(beta) α=\(alpha)")
            #expect(error <= 1e-5 * abs(want) + 1e-6 * scale, "K=\(k) β=\(beta): KL \(kl) vs \(want) (α \(alpha))")
        }
        print("Dirichlet KL on \(kind): worst relative error \(worst)")
    }

    func sampleLogits(_ vae: VAE, alpha: [Float], n: Int, on backend: any Backend) throws -> (y: [Float], z: [Float]) {
        let k = alpha.count, tape = Tape(pool: BufferPool(backend: backend))
        let q = Posterior(location: try Tensor((0..<(n * k)).map { alpha[$0 % k] }, rows: n, cols: k, on: backend), logVariance: nil)
        let noise = try Tensor([Float](repeating: 0, count: n * k), rows: n, cols: k, on: backend)
        try backend.fillRandom(.normal, into: noise.buffer, count: n * k, key: PhiloxKey(seed: 21), counter: PhiloxCounter(), probabilities: nil)
        let (y, z) = try vae.sample(q, noise: noise, on: tape)
        return (try backend.download(y.buffer, offset: 0, count: n * k), try backend.download(z.buffer, offset: 0, count: n * k))
    }

    func column(_ v: [Float], _ j: Int, _ k: Int) -> [Double] { stride(from: j, to: v.count, by: k).map { Double(v[$0]) } }
    func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
    func covariance(_ a: [Double], _ b: [Double]) -> Double {
        let ma = mean(a), mb = mean(b)
        return zip(a, b).reduce(0) { $0 + ($1.0 - ma) * ($1.1 - mb) } / Double(a.count - 1)
    }

    /// For large concentrations both approximations put the sample mean at the Dirichlet mean α/α₀.
    @Test(arguments: TestBackends.all, DirichletApproximation.allCases)
    func sampleMeanIsTheDirichletMean(kind: BackendKind, approximation: DirichletApproximation) throws {
        let backend = try TestBackends.backend(kind)
        let alpha: [Float] = [20, 30, 50], n = 100_000
        let (_, z) = try sampleLogits(try model(k: 3, approximation: approximation, on: backend), alpha: alpha, n: n, on: backend)
        for j in 0..<3 {
            let m = mean(column(z, j, 3))
            #expect(abs(m - Double(alpha[j]) / 100) < 0.005, "\(approximation) E[z_\(j)] = \(m), Dirichlet mean \(Double(alpha[j]) / 100)")
        }
        for r in 0..<100 { #expect(abs(z[(3 * r)..<(3 * r + 3)].reduce(0, +) - 1) < 1e-5) }
    }

    /// Laplace: Var(y_k) = σ²_k, the noise scaled by the standard deviation (bug 2 scaled it by the variance).
    @Test(arguments: TestBackends.all)
    func laplaceNoiseIsScaledByTheStandardDeviation(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let alpha: [Double] = [0.5, 2, 8], k = 3.0, n = 200_000
        let (y, _) = try sampleLogits(try model(k: 3, on: backend), alpha: alpha.map { Float($0) }, n: n, on: backend)
        let sumInverse = alpha.reduce(0) { $0 + 1 / $1 }
        for j in 0..<3 {
            let want = (1 / alpha[j]) * (1 - 2 / k) + sumInverse / (k * k)
            let got = covariance(column(y, j, 3), column(y, j, 3))
            #expect(abs(got - want) < 0.02 * want, "Var(y_\(j)) = \(got), σ² = \(want)")
        }
    }

    /// KL approximation: y_K = 0 exactly (bug 3 appended 1); Var(y_k) = ψ₁(α_k) + ψ₁(α_K) and
    /// Cov(y_1, y_2) = ψ₁(α_K) (bug 4 dropped the off-diagonal).
    @Test(arguments: TestBackends.all)
    func klApproximationHasTheFullCovarianceAndAZeroLastLogit(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let alpha: [Float] = [0.7, 1.5, 3], n = 200_000
        let (y, _) = try sampleLogits(try model(k: 3, approximation: .kl, on: backend), alpha: alpha, n: n, on: backend)
        #expect(column(y, 2, 3).allSatisfy { $0 == 0 })
        let trigamma = alpha.map { Double(SpecialFunctions.trigamma($0)) }
        let y0 = column(y, 0, 3), y1 = column(y, 1, 3)
        #expect(abs(mean(y0) - Double(SpecialFunctions.digamma(alpha[0]) - SpecialFunctions.digamma(alpha[2]))) < 0.02)
        #expect(abs(covariance(y0, y0) - (trigamma[0] + trigamma[2])) < 0.02 * (trigamma[0] + trigamma[2]))
        #expect(abs(covariance(y0, y1) - trigamma[2]) < 0.03 * trigamma[2], "Cov(y0, y1) = \(covariance(y0, y1)), ψ₁(α_K) = \(trigamma[2])")
    }

    /// The KL approximation's log-density (determinant lemma and Sherman-Morrison) against a dense float64
    /// Cholesky of diag(d) + c 11ᵀ.
    @Test(arguments: TestBackends.all)
    func logisticNormalDensityMatchesDenseAlgebra(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let alpha: [Float] = [0.4, 1.3, 2.2, 5], k = 4
        let vae = try model(k: k, approximation: .kl, on: backend)
        let (y, _) = try sampleLogits(vae, alpha: alpha, n: 5, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        let q = Posterior(location: try Tensor((0..<(5 * k)).map { alpha[$0 % k] }, rows: 5, cols: k, on: backend), logVariance: nil)
        let (logQ, _) = try vae.logDensities(latent: try Tensor(y, rows: 5, cols: k, on: backend), posterior: q, on: tape)
        let got = try backend.download(logQ.buffer, offset: 0, count: 5)
        let d = alpha.prefix(3).map { Double(SpecialFunctions.trigamma($0)) }, c = Double(SpecialFunctions.trigamma(alpha[3]))
        let mu = alpha.prefix(3).map { Double(SpecialFunctions.digamma($0) - SpecialFunctions.digamma(alpha[3])) }
        // dense covariance and its Cholesky factor
        var sigma = [[Double]](repeating: [Double](repeating: c, count: 3), count: 3)
        for i in 0..<3 { sigma[i][i] += d[i] }
        var l = [[Double]](repeating: [0, 0, 0], count: 3)
        for i in 0..<3 {
            for j in 0...i {
                let s = sigma[i][j] - (0..<j).reduce(0) { $0 + l[i][$1] * l[j][$1] }
                l[i][j] = i == j ? s.squareRoot() : s / l[j][j]
            }
        }
        for r in 0..<5 {
            var v = [0.0, 0, 0]  // L v = y - mu
            for i in 0..<3 { v[i] = (Double(y[r * k + i]) - mu[i] - (0..<i).reduce(0) { $0 + l[i][$1] * v[$1] }) / l[i][i] }
            let want = -0.5 * (3 * Foundation.log(2 * Double.pi) + 2 * (0..<3).reduce(0) { $0 + Foundation.log(l[$1][$1]) } + v.reduce(0) { $0 + $1 * $1 })
            #expect(abs(Double(got[r]) - want) < 1e-4 * max(1, abs(want)), "row \(r): \(got[r]) vs \(want)")
        }
    }

    /// A short run of the default recipe (prior concentration 1, softplus α, KL warm-up): the KL stays clear of zero
    /// and the reconstruction leaves the no-information level. Warm-up is what prevents the collapse, and it must
    /// span a few thousand steps: the default 5 epochs on full MNIST; on this 3,000-image slice (30 steps an
    /// epoch) 5 epochs collapse (measured: KL 0.01), so the test stretches the warm-up to the same length in steps.
    @Test(arguments: TestBackends.all, DirichletApproximation.allCases)
    func shortTrainingRunDoesNotCollapse(kind: BackendKind, approximation: DirichletApproximation) throws {
        var c = RunConfig()
        c.trainLimit = 3000
        c.epochs = 3
        c.model.latent = .dirichlet
        c.model.dirichletApproximation = approximation
        c.warmupEpochs = RunConfig.defaultWarmupEpochs(for: .dirichlet) * 20
        let trainer = try Trainer(config: c, backend: try TestBackends.backend(kind), train: try mnist(trainLimit: 3000).train)
        var metrics: [EpochMetrics] = []
        _ = try trainer.train(run: nil, epochDone: { metrics.append($0) })
        print("dirichlet \(approximation) on \(kind): \(metrics.map { ($0.reconstruction, $0.kl) })")
        #expect(metrics.allSatisfy { $0.loss.isFinite })
        #expect(metrics[2].kl > 1 && metrics[2].reconstruction < metrics[0].reconstruction - 5, "\(metrics.map { ($0.reconstruction, $0.kl) })")
        // Active units on the simplex are counted on the centred log-ratios of α/α₀ (issue 23): a working run has
        // some; the same model with its encoder's weights zeroed (a posterior that ignores x: a collapse) has none.
        let backend = try TestBackends.backend(kind), test = try mnist(trainLimit: 1, testLimit: 200).test
        let evaluator = Evaluator(model: trainer.model, backend: backend)
        let working = try evaluator.evaluate(test, k: 1, limit: 200, importanceSampling: false)
        #expect(working.activityMeasure == .centredLogRatio && working.activeUnits >= 1, "\(working.unitActivity)")
        #expect(working.json["active_units_measure"] as? String == "clr-posterior-mean")
        for (name, weight) in trainer.model.parameters where name.hasPrefix("encoder.") && name.hasSuffix(".weight") {
            try backend.fill(weight.buffer, with: 0, offset: 0, count: weight.count)
        }
        let collapsed = try evaluator.evaluate(test, k: 1, limit: 200, importanceSampling: false)
        #expect(collapsed.activeUnits == 0 && collapsed.unitActivity.allSatisfy { $0 < 1e-10 }, "\(collapsed.unitActivity)")
    }
}

/// Gamma variates and their implicit reparameterisation gradient (the exact Dirichlet sampler).
@Suite struct GammaTests {
    func gamma(_ alpha: [Float], on backend: any Backend, seed: UInt32 = 5) throws -> [Float] {
        let a = try backend.buffer(alpha), y = try backend.allocate(count: alpha.count, dtype: .float32)
        try backend.fillGamma(concentration: a, into: y, count: alpha.count, key: PhiloxKey(seed: seed, stream: 1), counter: PhiloxCounter(0, 9, 0, 0))
        return try backend.download(y)
    }

    /// Mean and variance of Gamma(α, 1) are both α: within 5 standard errors on 100,000 draws.
    @Test(arguments: TestBackends.all, [Float(0.3), 1, 5, 50])
    func momentsMatch(kind: BackendKind, alpha: Float) throws {
        let n = 100_000
        let xs = try gamma([Float](repeating: alpha, count: n), on: try TestBackends.backend(kind)).map(Double.init)
        let m = xs.reduce(0, +) / Double(n), v = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)
        let a = Double(alpha)
        #expect(abs(m - a) < 5 * (a / Double(n)).squareRoot(), "mean \(m) for α \(alpha)")
        // Var of the sample variance: (μ4 - σ⁴)/n with μ4 = 3α² + 6α for Gamma(α, 1)
        #expect(abs(v - a) < 5 * ((3 * a * a + 6 * a - a * a) / Double(n)).squareRoot(), "variance \(v) for α \(alpha)")
        #expect(xs.allSatisfy { $0 >= Double(Float.leastNormalMagnitude) && $0.isFinite })
    }

    /// Accept/reject decisions hinge on log/cos, whose last bits may differ between libms: all but a handful of
    /// samples agree to float rounding.
    @Test(arguments: TestBackends.others)
    func backendsAgree(kind: BackendKind) throws {
        let alpha = randomFloats(20_000, in: 0.01...20, seed: 4)
        let a = try gamma(alpha, on: CPUBackend.shared), b = try gamma(alpha, on: try TestBackends.backend(kind))
        var disagreeing = 0
        for (x, y) in zip(a, b) where abs(x - y) > 1e-4 * abs(x) { disagreeing += 1 }
        #expect(disagreeing <= 20, "\(disagreeing) of 20000 differ")
    }

    /// The implicit gradient against a float64 finite difference of the Gamma CDF (scipy), PyTorch's tolerance.
    @Test(arguments: TestBackends.all)
    func implicitGradientMatchesTheCDF(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let table = try readTable(testDataPath("gamma_implicit_gradient.tsv"))
        let dAlpha = try backend.allocate(count: table.count, dtype: .float32)
        try backend.gammaBackward(concentration: try backend.buffer(table.map { Float($0[0]) }), sample: try backend.buffer(table.map { Float($0[1]) }),
                                  gradient: try backend.buffer([Float](repeating: 1, count: table.count)), into: dAlpha, count: table.count)
        let got = try backend.download(dAlpha)
        var worst = 0.0
        for (i, row) in table.enumerated() {
            let error = abs(Double(got[i]) - row[2]) / abs(row[2])
            worst = max(worst, error)
            #expect(error < 1e-3, "α=\(row[0]) x=\(row[1]): \(got[i]) vs \(row[2])")
        }
        print("implicit Gamma gradient on \(kind): worst relative error \(worst)")
    }

    /// Small concentrations: components underflow, the clamp keeps every coordinate positive, nothing is NaN, and
    /// the gradient through the sampler and the normalisation is finite.
    @Test(arguments: TestBackends.all)
    func exactDirichletIsRobustAtSmallAlpha(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let vae = try smallVAE(.dirichlet, latentSize: 5, on: backend) { $0.dirichletApproximation = .exact }
        let tape = Tape(pool: BufferPool(backend: backend))
        let alpha = try Tensor([Float](repeating: 1e-3, count: 200 * 5), rows: 200, cols: 5, on: backend)
        tape.watch(alpha)
        let (z, _) = try vae.sample(Posterior(location: alpha, logVariance: nil), noise: alpha, on: tape)
        let zs = try backend.download(z.buffer, offset: 0, count: 1000)
        #expect(zs.allSatisfy { $0.isFinite && $0 > 0 })
        let weights = try Tensor(randomFloats(1000, in: -1...1, seed: 3), rows: 200, cols: 5, on: backend)
        try tape.backward(from: tape.sumAll(tape.binary(.mul, z, weights)))
        let g = try backend.download(tape.gradient(of: alpha)!.buffer, offset: 0, count: 1000)
        #expect(g.allSatisfy { $0.isFinite }, "gradient has non-finite entries")
    }

    /// K = 2: the Dirichlet density (a Beta) integrates to one: ∫_0^1 Dir((t, 1-t); α) dt by the midpoint rule.
    @Test(arguments: TestBackends.all)
    func dirichletDensityNormalises(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let vae = try smallVAE(.dirichlet, latentSize: 2, on: backend) { $0.dirichletApproximation = .exact }
        let tape = Tape(pool: BufferPool(backend: backend))
        let n = 200_000
        let t = (0..<n).map { (Double($0) + 0.5) / Double(n) }
        let z = try Tensor(t.flatMap { [Float($0), Float(1 - $0)] }, rows: n, cols: 2, on: backend)
        let alpha = try Tensor((0..<n).flatMap { _ in [Float(2.5), Float(4)] }, rows: n, cols: 2, on: backend)
        let (logQ, logPrior) = try vae.logDensities(latent: z, posterior: Posterior(location: alpha, logVariance: nil), on: tape)
        for lp in [logQ, logPrior] {
            let integral = try backend.download(lp.buffer, offset: 0, count: n).reduce(0.0) { $0 + Foundation.exp(Double($1)) } / Double(n)
            #expect(abs(integral - 1) < 1e-3, "∫ Dir = \(integral)")
        }
    }
}

@Suite struct DirichletDensityTests {
    func exactModel(k: Int, beta: Float? = nil, on backend: any Backend) throws -> VAE {
        try smallVAE(.dirichlet, latentSize: k, on: backend) {
            $0.dirichletApproximation = .exact
            $0.priorConcentration = beta
        }
    }

    @Test(arguments: TestBackends.all)
    func densityMatchesMpmath(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        for row in try readTable(testDataPath("dirichlet_density.tsv")) {
            let k = Int(row[0]), alpha = row[1..<(1 + k)].map { Float($0) }, z = row[(1 + k)..<(1 + 2 * k)].map { Float($0) }
            let vae = try exactModel(k: k, on: backend)
            let tape = Tape(pool: BufferPool(backend: backend))
            let (lq, _) = try vae.logDensities(latent: try Tensor(z, rows: 1, cols: k, on: backend),
                                               posterior: Posterior(location: try Tensor(alpha, rows: 1, cols: k, on: backend), logVariance: nil), on: tape)
            let got = try backend.download(lq.buffer, offset: 0, count: 1)[0], want = row[1 + 2 * k]
            #expect(abs(Double(got) - want) <= 1e-4 * max(1, abs(want)), "K=\(k) α=\(alpha): \(got) vs \(want)")
        }
    }

    /// The analytic Dirichlet KL against the Monte Carlo mean of log Dir(z; α) - log Dir(z; β) over exact samples.
    @Test(arguments: TestBackends.all)
    func analyticKLMatchesMonteCarlo(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let vae = try exactModel(k: 4, beta: 0.7, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        let n = 100_000, base: [Float] = [0.6, 2, 5, 1.3]
        let q = Posterior(location: try Tensor((0..<(4 * n)).map { base[$0 % 4] }, rows: n, cols: 4, on: backend), logVariance: nil)
        let (z, _) = try vae.sample(q, noise: q.location, on: tape)
        let mc = try backend.download(vae.kl(q, latent: z, estimator: .monteCarlo, on: tape).buffer, offset: 0, count: n).map(Double.init)
        let exact = Double(try backend.download(vae.kl(q, latent: z, estimator: .analytic, on: tape).buffer, offset: 0, count: 1)[0])
        let mean = mc.reduce(0, +) / Double(n), sd = (mc.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
        #expect(abs(mean - exact) < 5 * sd / Double(n).squareRoot(), "MC \(mean) ± \(sd / Double(n).squareRoot()) vs closed form \(exact)")
    }
}
