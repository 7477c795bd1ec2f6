// The Concrete (Gumbel-softmax) family: the Gumbel-max property of its samples, the ExpConcrete log-density
// against mpmath, its normalisation, and short training runs.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct ConcreteTests {
    func model(groups: Int, classes: Int, temperature: Float, on backend: any Backend) throws -> VAE {
        try smallVAE(.concrete, latentSize: groups * classes, on: backend) {
            $0.categoricalGroups = groups
            $0.temperature = temperature
        }
    }

    /// As the temperature goes to 0 the sample's argmax frequencies are softmax(log α) (Gumbel-max).
    @Test(arguments: TestBackends.all)
    func argmaxFrequenciesAreTheSoftmax(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let vae = try model(groups: 1, classes: 4, temperature: 0.05, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        let logits: [Float] = [1, 0, -1, 0.5], n = 100_000
        let q = Posterior(location: try Tensor((0..<(4 * n)).map { logits[$0 % 4] }, rows: n, cols: 4, on: backend), logVariance: nil)
        let noise = try Tensor([Float](repeating: 0, count: 4 * n), rows: n, cols: 4, on: backend)
        try backend.fillRandom(.gumbel, into: noise.buffer, count: noise.count, key: PhiloxKey(seed: 11), counter: PhiloxCounter(), probabilities: nil)
        let (y, z) = try vae.sample(q, noise: noise, on: tape)
        let ys = try backend.download(y.buffer, offset: 0, count: 4 * n), zs = try backend.download(z.buffer, offset: 0, count: 4 * n)
        var counts = [0, 0, 0, 0]
        for r in 0..<n {
            let row = ys[(4 * r)..<(4 * r + 4)]
            counts[row.indices.max { row[$0] < row[$1] }! - 4 * r] += 1
            let total = zs[(4 * r)..<(4 * r + 4)].reduce(0, +)
            if abs(total - 1) > 1e-5 { Issue.record("row \(r): sample sums to \(total)"); break }
        }
        let normaliser = logits.map { Foundation.exp(Double($0)) }.reduce(0, +)
        for k in 0..<4 {
            let p = Foundation.exp(Double(logits[k])) / normaliser, f = Double(counts[k]) / Double(n)
            #expect(abs(f - p) < 5 * (p * (1 - p) / Double(n)).squareRoot(), "class \(k): frequency \(f), softmax \(p)")
        }
    }

    @Test(arguments: TestBackends.all)
    func densityMatchesMpmath(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        for row in try readTable(testDataPath("concrete_density.tsv")) {
            let k = Int(row[0]), lambda = Float(row[1])
            let logAlpha = row[2..<(2 + k)].map { Float($0) }, y = row[(2 + k)..<(2 + 2 * k)].map { Float($0) }
            let vae = try model(groups: 1, classes: k, temperature: lambda, on: backend)
            let tape = Tape(pool: BufferPool(backend: backend))
            let lp = try vae.expConcreteLogDensity(try Tensor(y, rows: 1, cols: k, on: backend), logits: try Tensor(logAlpha, rows: 1, cols: k, on: backend),
                                                   temperature: lambda, on: tape)
            let got = try backend.download(lp.buffer, offset: 0, count: 1)[0]
            #expect(abs(Double(got) - row[2 + 2 * k]) <= 2e-5 * max(1, abs(row[2 + 2 * k])), "K=\(k) λ=\(lambda): \(got) vs \(row[2 + 2 * k])")
        }
    }

    /// K = 2: the ExpConcrete density integrates to one. Maddison et al.'s formula is a density for the base
    /// measure dy_1 / x_2 (x = e^y; it is p(y_1) · x_2 in Lebesgue terms), so with y_1 = log σ(s), y_2 = log σ(-s)
    /// and dy_1 = σ(-s) ds, the integral becomes ∫ p(y(s)) ds over the real line: the trapezoid rule in float64 over
    /// the backend's log-densities on [-60, 60].
    @Test(arguments: TestBackends.all, [Float(0.5), 1])
    func densityNormalisesForTwoClasses(kind: BackendKind, lambda: Float) throws {
        let backend = try TestBackends.backend(kind)
        let vae = try model(groups: 1, classes: 2, temperature: lambda, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        let n = 200_001, h = 120.0 / Double(n - 1)
        let ss = (0..<n).map { -60 + Double($0) * h }
        func logSigmoid(_ s: Double) -> Double { -(Swift.max(-s, 0) + Foundation.log1p(Foundation.exp(-abs(s)))) }
        let y = ss.flatMap { [Float(logSigmoid($0)), Float(logSigmoid(-$0))] }
        let logAlpha = (0..<n).flatMap { _ in [Float(0.7), Float(-0.3)] }
        let lp = try vae.expConcreteLogDensity(try Tensor(y, rows: n, cols: 2, on: backend), logits: try Tensor(logAlpha, rows: n, cols: 2, on: backend),
                                               temperature: lambda, on: tape)
        let values = try backend.download(lp.buffer, offset: 0, count: n).map { Foundation.exp(Double($0)) }
        let integral = h * (values.reduce(0, +) - 0.5 * (values[0] + values[n - 1]))
        #expect(abs(integral - 1) < 1e-4, "∫ p = \(integral) at λ = \(lambda)")
    }

    @Test(arguments: TestBackends.all, ["1x20", "20x10"])
    func shortTrainingRunLearns(kind: BackendKind, shape: String) throws {
        var c = RunConfig()
        c.trainLimit = 2000
        c.epochs = 3
        c.model.latent = .concrete
        let parts = shape.split(separator: "x").map { Int($0)! }
        c.model.categoricalGroups = parts[0]
        c.model.latentSize = parts[0] * parts[1]
        c.model.annealRate = 1e-3
        let trainer = try Trainer(config: c, backend: try TestBackends.backend(kind), train: try mnist(trainLimit: 2000).train)
        var losses: [Double] = []
        _ = try trainer.train(run: nil, epochDone: { losses.append($0.loss) })
        print("concrete \(shape) on \(kind): \(losses), temperature \(trainer.model.temperature)")
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses[2] < losses[0] - 20, "\(shape): \(losses)")
        #expect(abs(trainer.model.temperature - Float.exp(-1e-3 * 59)) < 1e-6, "annealed from 1 over 59 steps")
        // the discrete model's bounds: the importance-sampled NLL never above the −ELBO of the same model
        let result = try Evaluator(model: trainer.model, backend: trainer.backend).evaluate(Self.test, k: 100, limit: 500)
        let nll = try #require(result.negativeLogLikelihood)
        print("concrete \(shape) on \(kind), discrete model: -ELBO \(result.negativeELBO), NLL \(nll); relaxed objective \(result.relaxedObjective ?? .nan)")
        #expect(nll <= result.negativeELBO, "\(shape): NLL \(nll) > -ELBO \(result.negativeELBO)")
        #expect(result.relaxedObjective != nil && result.json["test_relaxed_objective"] != nil)
    }

    static let test = try! mnist(trainLimit: 1, testLimit: 500).test
}
