// The chain and grid Gaussian posteriors (paper 003): each fused kernel against dense float64 algebra written out here
// (L built entry by entry, P = L Lᵀ, its Cholesky factor and inverse, the KL and density from them), gradients against
// central differences, the samples' covariance against P⁻¹, the reduction to the diagonal family, IWAE with k = 1,
// short training runs and the command line, on every backend.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct StructuredGaussianKernelTests {
    @Test(arguments: TestBackends.all, structuredRuleCases)
    func kernelMatchesDenseAlgebraAndFiniteDifferences(kind: BackendKind, rule: RuleCase) throws {
        let result = try checkRule(rule, on: TestBackends.backend(kind))
        #expect(result.passed, "\(rule): \(result.summary)")
    }

    /// The layout the kernels index (PrecisionStructure) is the one the dense reference builds.
    @Test func layoutCountsEveryBandEntryOnce() {
        for s in testedStructures + [PrecisionStructure(blocks: 4, blockSize: 5)] {
            var next = 0
            for a in 0..<s.latentSize {
                #expect(s.rowStart(a) == next, "\(s) row \(a)")
                #expect(s.firstColumn(a) == (a / s.blockSize == 0 ? 0 : (a / s.blockSize - 1) * s.blockSize))
                next += a - s.firstColumn(a)
            }
            #expect(next == s.offDiagonalCount, "\(s)")
        }
    }

    /// 100,000 samples of one posterior: their covariance is P⁻¹ (within 5 standard errors) and their mean the mean.
    @Test(arguments: TestBackends.all, [PrecisionStructure.chain(5), PrecisionStructure(blocks: 2, blockSize: 3)])
    func sampleCovarianceIsTheInversePrecision(kind: BackendKind, s: PrecisionStructure) throws {
        let backend = try TestBackends.backend(kind)
        let count = 100_000, n = s.latentSize, m = s.offDiagonalCount
        let lv = randomFloats(n, in: -1...1, seed: 5), off = randomFloats(m, in: -0.8...0.8, seed: 6), mean = randomFloats(n, in: -1...1, seed: 7)
        func repeated(_ row: [Float]) throws -> Tensor {
            try Tensor((0..<count).flatMap { _ in row }, rows: count, cols: row.count, on: backend)
        }
        let noise = try Tensor([Float](repeating: 0, count: count * n), rows: count, cols: n, on: backend)
        try backend.fillRandom(.normal, into: noise.buffer, count: noise.count, key: PhiloxKey(seed: 11), counter: PhiloxCounter(), probabilities: nil)
        let tape = Tape(pool: BufferPool(backend: backend))
        let z = try backend.download(tape.structuredGaussianSample(s, mean: repeated(mean), logVariance: repeated(lv), offDiagonal: repeated(off),
                                                                   noise: noise).buffer, offset: 0, count: count * n)
        let sigma = DenseGaussian.inverse(DenseGaussian.precision(lv.map(Double.init), off.map(Double.init), s.blockSize))
        var average = [Double](repeating: 0, count: n)
        for r in 0..<count { for i in 0..<n { average[i] += Double(z[r * n + i]) / Double(count) } }
        for i in 0..<n {
            #expect(abs(average[i] - Double(mean[i])) < 5 * (sigma[i][i] / Double(count)).squareRoot(), "\(s) mean[\(i)]")
            for j in 0...i {
                var cov = 0.0
                for r in 0..<count { cov += (Double(z[r * n + i]) - average[i]) * (Double(z[r * n + j]) - average[j]) }
                cov /= Double(count - 1)
                let standardError = ((sigma[i][i] * sigma[j][j] + sigma[i][j] * sigma[i][j]) / Double(count)).squareRoot()
                #expect(abs(cov - sigma[i][j]) < 5 * standardError, "\(s) cov[\(i)][\(j)]: \(cov) vs \(sigma[i][j])")
            }
        }
    }

    /// With zero off-diagonals the chain and the grid are the diagonal family: the same samples for the same noise, bit
    /// for bit, and the same KL and log-density to rounding.
    @Test(arguments: TestBackends.all, [PrecisionStructure.chain(6), PrecisionStructure(blocks: 2, blockSize: 3)])
    func zeroOffDiagonalsAreTheDiagonalFamily(kind: BackendKind, s: PrecisionStructure) throws {
        let backend = try TestBackends.backend(kind)
        let rows = 4, n = s.latentSize
        func tensor(_ values: [Float], _ cols: Int) throws -> Tensor { try Tensor(values, rows: rows, cols: cols, on: backend) }
        let mean = try tensor(randomFloats(rows * n, in: -1...1, seed: 1), n), lv = try tensor(randomFloats(rows * n, in: -2...2, seed: 2), n)
        let noise = try tensor(randomFloats(rows * n, in: -2...2, seed: 3), n), z = try tensor(randomFloats(rows * n, in: -2...2, seed: 4), n)
        let off = try tensor([Float](repeating: 0, count: rows * s.offDiagonalCount), s.offDiagonalCount)
        let tape = Tape(pool: BufferPool(backend: backend))
        func values(_ t: Tensor) throws -> [Float] { try backend.download(t.buffer, offset: 0, count: t.count) }
        #expect(try values(tape.structuredGaussianSample(s, mean: mean, logVariance: lv, offDiagonal: off, noise: noise))
                == values(tape.gaussianSample(mean: mean, logVariance: lv, noise: noise)))
        let kl = try values(tape.structuredGaussianKL(s, mean: mean, logVariance: lv, offDiagonal: off))
        let diagonalKL = try values(tape.gaussianKL(mean: mean, logVariance: lv, priorLogVariance: 0))
        let lp = try values(tape.structuredGaussianLogDensity(s, z, mean: mean, logVariance: lv, offDiagonal: off))
        let diagonalLp = try values(tape.gaussianLogDensity(z, mean: mean, logVariance: lv))
        for r in 0..<rows {
            #expect(abs(kl[r] - diagonalKL[r]) <= 2e-6 * abs(diagonalKL[r]) + 2e-6, "KL row \(r): \(kl[r]) vs \(diagonalKL[r])")
            #expect(abs(lp[r] - diagonalLp[r]) <= 2e-6 * abs(diagonalLp[r]) + 2e-6, "log-density row \(r): \(lp[r]) vs \(diagonalLp[r])")
        }
    }
}

@Suite struct StructuredGaussianModelTests {
    func config(_ posterior: PosteriorStructure) -> ModelConfig {
        var c = ModelConfig()
        c.posterior = posterior
        if posterior == .grid { c.grid = GridShape(rows: 4, columns: 5) }
        return c
    }

    /// Gives the precision head random biases, so that L's off-diagonals are not the zeros it starts from.
    func perturbPrecisionHead(_ vae: VAE, on backend: any Backend) throws {
        let bias = try #require(vae.parameters.first { $0.0 == "encoder.precision_factor.bias" }?.1)
        try backend.upload(randomFloats(bias.count, in: -0.5...0.5, seed: 17), to: bias.buffer)
    }

    /// The heads under their checkpoint names; the diagonal model's parameters are those it always had.
    @Test func parametersNameThePrecisionHead() throws {
        let backend = CPUBackend.shared
        let diagonal = try VAE(config(.diagonal), on: backend, seed: 1), grid = try VAE(config(.grid), on: backend, seed: 1)
        #expect(!diagonal.parameters.contains { $0.0.hasPrefix("encoder.precision_factor") })
        let head = try #require(grid.parameters.first { $0.0 == "encoder.precision_factor.weight" }?.1)
        #expect(head.rows == 200 && head.cols == 4 * 10 + 3 * 25)
        // as checkpoints store them (the diagonal model's joined heads as encoder.mean and encoder.log_variance)
        func stored(_ vae: VAE) throws -> Checkpoint {
            var c = Checkpoint()
            for (name, p) in vae.parameters { try c.add(name, p, from: backend, joined: vae.joinedColumns) }
            return c
        }
        let d = try stored(diagonal), g = try stored(grid)
        #expect(Set(g.names.prefix(d.names.count)) == Set(d.names))
        for name in d.names { #expect(d.tensors[name] == g.tensors[name], "\(name)") }  // the same initial values, seed for seed
    }

    /// `--posterior grid` without `--grid` takes the squarest grid; configurations written before posteriors existed are diagonal.
    @Test func gridDefaultsAndOldConfigurations() throws {
        #expect(GridShape.squarest(20) == GridShape(rows: 4, columns: 5) && GridShape.squarest(16) == GridShape(rows: 4, columns: 4))
        #expect(GridShape.squarest(7) == GridShape(rows: 1, columns: 7))
        var c = ModelConfig()
        c.posterior = .grid
        #expect(c.precisionStructure == PrecisionStructure(blocks: 4, blockSize: 5))
        #expect(GridShape(parsing: "3x0") == nil && GridShape(parsing: "3x") == nil && GridShape(parsing: "2X10") == GridShape(rows: 2, columns: 10))
        let old = try JSONDecoder().decode(ModelConfig.self, from: Data(#"{"latent": "gaussian", "latentSize": 20}"#.utf8))
        #expect(old.posterior == .diagonal && old.grid == nil && old.precisionStructure == nil)
        c.grid = GridShape(rows: 4, columns: 5)
        let roundTrip = try JSONDecoder().decode(ModelConfig.self, from: JSONEncoder().encode(c))
        #expect(roundTrip == c)
    }

    /// IWAE with k = 1 is the one-sample ELBO with the Monte Carlo KL (through the structured log-density); 20 samples tighten it.
    @Test(arguments: TestBackends.all, [PosteriorStructure.chain, .grid])
    func iwaeWithOneSampleIsTheELBO(kind: BackendKind, posterior: PosteriorStructure) throws {
        let backend = try TestBackends.backend(kind)
        var c = config(posterior)
        c.klEstimator = .monteCarlo
        let vae = try VAE(c, on: backend, seed: 2)
        try perturbPrecisionHead(vae, on: backend)
        let x = try Evaluator(model: vae, backend: backend).testImages(try mnist(trainLimit: 1, testLimit: 64).test, limit: 64)
        try checkIWAEWithOneSampleIsTheELBO(vae, x: x, on: backend)
    }

    /// A short run per structure on an MNIST slice: the loss falls, nothing is NaN, and the off-diagonal head has learned.
    @Test(arguments: TestBackends.all, [PosteriorStructure.chain, .grid])
    func shortTrainingRunLearns(kind: BackendKind, posterior: PosteriorStructure) throws {
        let backend = try TestBackends.backend(kind)
        var c = RunConfig()
        c.model = config(posterior)
        c.trainLimit = 1500
        c.epochs = 3
        let trainer = try Trainer(config: c, backend: backend, train: try mnist(trainLimit: 1500).train)
        var losses: [Double] = []
        _ = try trainer.train(run: nil, epochDone: { losses.append($0.loss) })
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses[2] < losses[0] - 20 && losses[2] < 260, "\(posterior): \(losses)")
        let head = try #require(trainer.model.parameters.first { $0.0 == "encoder.precision_factor.weight" }?.1)
        let weights = try backend.download(head.buffer)
        #expect(weights.allSatisfy { $0.isFinite } && weights.contains { abs($0) > 1e-4 }, "the off-diagonal head stayed at zero")
    }

    /// A grid run interrupted after one epoch and resumed from its checkpoint ends with the parameters of the straight run,
    /// bit for bit: the precision head and its Adam moments are saved and restored.
    @Test(arguments: TestBackends.all)
    func gridRunResumesExactly(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let data = try mnist(trainLimit: 500)
        var c = RunConfig()
        c.model = config(.grid)
        c.trainLimit = 500
        c.epochs = 2
        let straight = try Trainer(config: c, backend: backend, train: data.train)
        _ = try straight.train(run: nil)
        c.epochs = 1
        let first = try Trainer(config: c, backend: backend, train: data.train)
        _ = try first.train(run: nil)
        let checkpoint = try first.checkpoint()
        #expect(checkpoint.tensors.keys.contains { $0.hasPrefix("encoder.precision_factor") })
        c.epochs = 2
        let resumed = try Trainer(config: c, backend: backend, train: data.train)
        try resumed.restore(from: checkpoint)
        _ = try resumed.train(run: nil)
        for ((name, a), (_, b)) in zip(straight.model.parameters, resumed.model.parameters) {
            #expect(try backend.download(a.buffer) == backend.download(b.buffer), "\(name)")
        }
    }

    /// train, eval, sample, encode, analyze and plots on a grid-posterior run, as a user runs them.
    @Test(arguments: TestBackends.all)
    func commandsWorkOnAGridRun(kind: BackendKind) throws {
        let dir = try temporaryDirectory("ggm-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let train = try runTool(["train", "--backend", kind.rawValue, "--epochs", "1", "--limit", "300", "--posterior", "grid", "--grid", "4x5", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("grid posterior (grid 4x5)"), "\(train.stdout)")
        let commands: [[String]] = [
            ["eval", run, "--k", "5", "--limit", "50"], ["sample", run, "--out", dir + "/s.png", "--count", "4"],
            ["encode", run, "--limit", "50"], ["analyze", run, "--limit-train", "200", "--limit-test", "50"],
            ["plots", run, "--tsne-points", "50"],
        ]
        for command in commands {
            let result = try runTool(command + ["--backend", kind.rawValue])
            #expect(result.status == 0, "\(command): \(result.stderr)")
        }
        let config = try RunConfig.load(from: run + "/config.json")
        #expect(config.model.posterior == .grid && config.model.grid == GridShape(rows: 4, columns: 5))
    }
}
