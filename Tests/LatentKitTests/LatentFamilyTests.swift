// The logit-normal family, the IWAE bound and KL warm-up: sampler moments against numerical integration, the
// Monte Carlo KL against the closed form, IWAE with k = 1 against the ELBO, short training runs on MNIST.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct LatentFamilyTests {
    func model(_ latent: LatentFamily, on backend: any Backend) throws -> VAE { try smallVAE(latent, latentSize: 3, on: backend) }

    /// E[σ(y)] and E[σ(y)²] for y ~ N(μ, σ²) by the trapezoid rule over ±12σ (float64).
    func logitNormalMoments(_ mu: Double, _ sigma: Double) -> (Double, Double) {
        let n = 20_000, a = mu - 12 * sigma, h = 24 * sigma / Double(n)
        var m1 = 0.0, m2 = 0.0
        for i in 0...n {
            let y = a + Double(i) * h, w = (i == 0 || i == n ? 0.5 : 1) * h
            let density = Foundation.exp(-0.5 * (y - mu) * (y - mu) / (sigma * sigma)) / (sigma * (2 * Double.pi).squareRoot())
            let s = 1 / (1 + Foundation.exp(-y))
            m1 += w * density * s
            m2 += w * density * s * s
        }
        return (m1, m2 - m1 * m1)
    }

    @Test(arguments: TestBackends.all)
    func logitNormalSampleMomentsMatchIntegration(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let vae = try model(.logitNormal, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        let n = 200_000
        let params: [(Double, Double)] = [(0, 1), (1.5, 0.5), (-2, 2)]
        let means = (0..<(n * 3)).map { Float(params[$0 % 3].0) }, logVariances = (0..<(n * 3)).map { Float(2 * Foundation.log(params[$0 % 3].1)) }
        let noise = try Tensor([Float](repeating: 0, count: n * 3), rows: n, cols: 3, on: backend)
        try backend.fillRandom(.normal, into: noise.buffer, count: n * 3, key: PhiloxKey(seed: 9), counter: PhiloxCounter(), probabilities: nil)
        let q = Posterior(location: try Tensor(means, rows: n, cols: 3, on: backend), logVariance: try Tensor(logVariances, rows: n, cols: 3, on: backend))
        let (_, z) = try vae.sample(q, noise: noise, on: tape)
        let values = try backend.download(z.buffer, offset: 0, count: n * 3)
        for (c, (mu, sigma)) in params.enumerated() {
            let column = stride(from: c, to: n * 3, by: 3).map { Double(values[$0]) }
            let mean = column.reduce(0, +) / Double(n)
            let (m, v) = logitNormalMoments(mu, sigma)
            #expect(column.allSatisfy { $0 > 0 && $0 < 1 })
            #expect(abs(mean - m) < 5 * (v / Double(n)).squareRoot(), "E[z] for mu \(mu) sigma \(sigma): \(mean) vs \(m)")
        }
    }

    /// The one-sample Monte Carlo KL, averaged over many samples, converges to the closed form.
    @Test(arguments: TestBackends.all, [LatentFamily.gaussian, .logitNormal])
    func monteCarloKLAveragesToTheClosedForm(kind: BackendKind, latent: LatentFamily) throws {
        let backend = try TestBackends.backend(kind)
        let vae = try model(latent, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        let n = 100_000
        let base: [Float] = [0.5, -1, 2], baseLV: [Float] = [-1, 0.5, 0]
        let mean = try Tensor((0..<(n * 3)).map { base[$0 % 3] }, rows: n, cols: 3, on: backend)
        let logVariance = try Tensor((0..<(n * 3)).map { baseLV[$0 % 3] }, rows: n, cols: 3, on: backend)
        let noise = try Tensor([Float](repeating: 0, count: n * 3), rows: n, cols: 3, on: backend)
        try backend.fillRandom(.normal, into: noise.buffer, count: n * 3, key: PhiloxKey(seed: 3), counter: PhiloxCounter(), probabilities: nil)
        let q = Posterior(location: mean, logVariance: logVariance)
        let (y, _) = try vae.sample(q, noise: noise, on: tape)
        let mc = try backend.download(vae.kl(q, latent: y, estimator: .monteCarlo, on: tape).buffer, offset: 0, count: n)
        let exact = try backend.download(vae.kl(q, latent: y, estimator: .analytic, on: tape).buffer, offset: 0, count: 1)[0]
        let average = mc.reduce(0.0) { $0 + Double($1) } / Double(n)
        let sd = (mc.reduce(0.0) { $0 + (Double($1) - average) * (Double($1) - average) } / Double(n - 1)).squareRoot()
        #expect(abs(average - Double(exact)) < 5 * sd / Double(n).squareRoot(), "\(latent): MC \(average) vs closed form \(exact)")
    }

    /// IWAE with k = 1 is the one-sample ELBO with the Monte Carlo KL, to rounding; more samples tighten it. (The discrete
    /// VAE trains on the ELBO only; its importance weights are tested through `eval` in DiscreteVAEModelTests.)
    @Test(arguments: TestBackends.all, LatentFamily.allCases.filter { $0 != .dvae })
    func iwaeWithOneSampleIsTheELBO(kind: BackendKind, latent: LatentFamily) throws {
        let backend = try TestBackends.backend(kind)
        var c = ModelConfig()
        c.latent = latent
        c.klEstimator = .monteCarlo
        let vae = try VAE(c, on: backend, seed: 2)
        let data = try mnist(trainLimit: 1, testLimit: 64)
        let x = try Evaluator(model: vae, backend: backend).testImages(data.test, limit: 64)
        try checkIWAEWithOneSampleIsTheELBO(vae, x: x, on: backend)
    }

    @Test func warmUpRisesLinearly() throws {
        var c = RunConfig()
        c.warmupEpochs = 2
        c.trainLimit = 1000
        c.epochs = 3
        let trainer = try Trainer(config: c, backend: CPUBackend.shared, train: try mnist(trainLimit: 1000).train)
        #expect(trainer.klWeight == 0)
        let weights = (0..<30).map { trainer.klWeight(epoch: $0 / 10, stepInEpoch: $0 % 10) }
        #expect(abs(weights[5] - 0.25) < 1e-6 && abs(weights[10] - 0.5) < 1e-6 && abs(weights[15] - 0.75) < 1e-6)
        #expect(weights[20...].allSatisfy { $0 == 1 } && weights[19] < 1, "\(weights)")
        var reported: [Float] = []  // progress comes at each read-back: here the end of each 10-step epoch
        _ = try trainer.train(run: nil, progress: { _ in reported.append(trainer.klWeight) })
        #expect(reported.count == 3 && abs(reported[0] - 0.5) < 1e-6 && reported[2] == 1, "\(reported)")
    }

    /// A short run per setting on an MNIST slice: the loss falls and nothing is NaN.
    @Test(arguments: TestBackends.all, ["logit-normal", "iwae-5", "warm-up"])
    func shortTrainingRunLearns(kind: BackendKind, setting: String) throws {
        var c = RunConfig()
        c.trainLimit = 2000
        c.epochs = 3
        switch setting {
        case "logit-normal": c.model.latent = .logitNormal
        case "iwae-5": c.iwSamples = 5
        default: c.warmupEpochs = 2
        }
        let trainer = try Trainer(config: c, backend: try TestBackends.backend(kind), train: try mnist(trainLimit: 2000).train)
        var losses: [Double] = []
        _ = try trainer.train(run: nil, epochDone: { losses.append($0.loss) })
        print("\(setting) on \(kind): \(losses)")
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses[2] < losses[0] - 20 && losses[2] < 260, "\(setting): \(losses)")
    }
}

@Suite struct BatchNormTests {
    @Test(arguments: TestBackends.all)
    func runningStatisticsFollowPyTorch(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let bn = try BatchNorm(name: "bn", features: 2, on: backend)
        let x = try Tensor([1, 10, 2, 20, 3, 30, 6, 40], rows: 4, cols: 2, on: backend)
        _ = try bn(x, training: true, on: tape)
        // mean (3, 25); unbiased variance (14/3, 500/3); running = 0.9 * (0, 1) + 0.1 * batch
        let mean = try backend.download(bn.runningMean.buffer), variance = try backend.download(bn.runningVariance.buffer)
        #expect(firstMismatch(mean, [0.3, 2.5], rtol: 1e-6) == nil, "\(mean)")
        #expect(firstMismatch(variance, [0.9 + 1.4 / 3, 0.9 + 50.0 / 3], rtol: 1e-6) == nil, "\(variance)")
        // evaluation uses the running statistics
        let y = try backend.download(bn(x, training: false, on: tape).buffer, offset: 0, count: 8)
        let want = (0..<8).map { i -> Float in
            let v: [Float] = [1, 10, 2, 20, 3, 30, 6, 40]
            return (v[i] - mean[i % 2]) / (variance[i % 2] + BatchNorm.epsilon).squareRoot()
        }
        #expect(firstMismatch(y, want, rtol: 1e-5) == nil)
    }

    @Test(arguments: TestBackends.all)
    func trainingWithBatchNormLearnsAndResumesExactly(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let data = try mnist(trainLimit: 1000, testLimit: 100)
        var c = RunConfig()
        c.trainLimit = 1000
        c.epochs = 2
        c.model.batchNorm = true
        let straight = try Trainer(config: c, backend: backend, train: data.train)
        var losses: [Double] = []
        _ = try straight.train(run: nil, epochDone: { losses.append($0.loss) })
        #expect(losses[1] < losses[0] && losses.allSatisfy { $0.isFinite })
        #expect(straight.model.statistics.count == 8)
        c.epochs = 1
        let first = try Trainer(config: c, backend: backend, train: data.train)
        _ = try first.train(run: nil)
        c.epochs = 2
        let resumed = try Trainer(config: c, backend: backend, train: data.train)
        try resumed.restore(from: first.checkpoint())
        _ = try resumed.train(run: nil)
        for ((name, a), (_, b)) in zip(straight.model.parameters + straight.model.statistics, resumed.model.parameters + resumed.model.statistics) {
            #expect(try backend.download(a.buffer) == backend.download(b.buffer), "\(name)")
        }
        let result = try Evaluator(model: straight.model, backend: backend).evaluate(data.test, k: 10, limit: 100)
        #expect(result.negativeELBO.isFinite && straight.model.training, "evaluation restores the training flag")
    }
}

@Suite struct FamilySampleAgreementTests {
    /// The same encoder output and Philox key give the same latent sample on every backend, for every family.
    @Test(arguments: TestBackends.others, LatentFamily.allCases)
    func samplesAgreeAcrossBackends(kind: BackendKind, latent: LatentFamily) throws {
        func draw(_ backend: any Backend) throws -> [Float] {
            let vae = try smallVAE(latent, latentSize: 10, on: backend) { $0.categoricalGroups = latent == .concrete ? 2 : 1 }
            let tape = Tape(pool: BufferPool(backend: backend))
            let n = 257
            let location = randomFloats(n * 10, in: latent == .dirichlet ? 0.05...20 : -3...3, seed: 8)
            let q = Posterior(location: try Tensor(location, rows: n, cols: 10, on: backend),
                              logVariance: latent == .gaussian || latent == .logitNormal || latent == .softmaxGaussian
                                  ? try Tensor(randomFloats(n * 10, in: -3...1, seed: 9), rows: n, cols: 10, on: backend) : nil)
            let noise = try Tensor([Float](repeating: 0, count: n * 10), rows: n, cols: 10, on: backend)
            try backend.fillRandom(vae.noiseDistribution, into: noise.buffer, count: noise.count, key: PhiloxKey(seed: 12, stream: 3),
                                   counter: PhiloxCounter(), probabilities: nil)
            let (_, z) = try vae.sample(q, noise: noise, on: tape)
            return try backend.download(z.buffer, offset: 0, count: z.count)
        }
        let cpu = try draw(CPUBackend.shared), other = try draw(try TestBackends.backend(kind))
        let mismatch = firstMismatch(other, cpu, rtol: 1e-4, atol: 1e-6)
        #expect(mismatch == nil, "\(latent): \(String(describing: mismatch))")
    }
}

@Suite struct LogitNormalDensityTests {
    func vae(_ backend: any Backend) throws -> VAE { try smallVAE(.logitNormal, latentSize: 1, on: backend) }

    @Test(arguments: TestBackends.all)
    func densityMatchesMpmath(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let table = try readTable(testDataPath("logit_normal_density.tsv"))
        let tape = Tape(pool: BufferPool(backend: backend))
        // the logit of each z, in float64, as the model's sampler would hold it
        let y = table.map { Float(Foundation.log($0[2] / (1 - $0[2]))) }
        let lq = try vae(backend).logitNormalLogDensity(
            logits: try Tensor(y, rows: table.count, cols: 1, on: backend), mean: try Tensor(table.map { Float($0[0]) }, rows: table.count, cols: 1, on: backend),
            logVariance: try Tensor(table.map { Float($0[1]) }, rows: table.count, cols: 1, on: backend), on: tape)
        let got = try backend.download(lq.buffer, offset: 0, count: table.count)
        for (i, row) in table.enumerated() {
            #expect(abs(Double(got[i]) - row[3]) <= 1e-4 * max(1, abs(row[3])), "z=\(row[2]) mu=\(row[0]): \(got[i]) vs \(row[3])")
        }
    }

    /// ∫_0^1 q(z) dz = 1, with z = σ(s) and dz = σ(s)σ(-s) ds: the trapezoid rule over s in [-40, 40].
    @Test(arguments: TestBackends.all)
    func densityNormalises(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let n = 100_001, h = 80.0 / Double(n - 1)
        let s = (0..<n).map { -40 + Double($0) * h }
        let lq = try vae(backend).logitNormalLogDensity(
            logits: try Tensor(s.map { Float($0) }, rows: n, cols: 1, on: backend), mean: try Tensor([Float](repeating: 0.7, count: n), rows: n, cols: 1, on: backend),
            logVariance: try Tensor([Float](repeating: Float(Foundation.log(1.78)), count: n), rows: n, cols: 1, on: backend), on: tape)
        let q = try backend.download(lq.buffer, offset: 0, count: n)
        let values = zip(q, s).map { Foundation.exp(Double($0.0)) / (2 + Foundation.exp($0.1) + Foundation.exp(-$0.1)) }  // × σ(s)σ(-s)
        let integral = h * (values.reduce(0, +) - 0.5 * (values[0] + values[n - 1]))
        #expect(abs(integral - 1) < 1e-4, "∫ q = \(integral)")
    }
}

/// IWAE with k = 1 on the ELBO's own noise equals the ELBO (with the Monte Carlo KL); k = 20 bounds it from above.
func checkIWAEWithOneSampleIsTheELBO(_ vae: VAE, x: Tensor, on backend: any Backend) throws {
    let tape = Tape(pool: BufferPool(backend: backend))
    let q = try vae.encode(x, on: tape), batch = x.rows, nz = vae.config.latentSize
    func noise(_ rows: Int) throws -> Tensor {
        let t = try Tensor([Float](repeating: 0, count: rows * nz), rows: rows, cols: nz, on: backend)
        try backend.fillRandom(vae.noiseDistribution, into: t.buffer, count: t.count, key: PhiloxKey(seed: 4), counter: PhiloxCounter(), probabilities: nil)
        return t
    }
    let one = try noise(batch)
    let elbo = try Objective.elbo(model: vae, x: x, posterior: q, noise: one, on: tape)
    let iwae1 = try Objective.iwae(model: vae, x: x, posterior: q, noise: one, samples: 1,
                                   repeater: Objective.Repeater(batch: batch, samples: 1, on: backend), on: tape)
    let iwae20 = try Objective.iwae(model: vae, x: x, posterior: q, noise: try noise(batch * 20), samples: 20,
                                    repeater: Objective.Repeater(batch: batch, samples: 20, on: backend), on: tape)
    let e = Float(try elbo.values(on: backend).bound), i1 = Float(try iwae1.values(on: backend).bound)
    let i20 = Float(try iwae20.values(on: backend).bound)
    #expect(abs(e - i1) <= 1e-5 * abs(e), "ELBO \(e) vs IWAE(k=1) \(i1)")
    #expect(i20 > e, "IWAE(k=20) \(i20) should exceed the ELBO \(e)")
}
