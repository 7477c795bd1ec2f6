// The discrete VAE as a model: the gradient of its objective, the RBM prior's KL gradient against enumeration,
// AIS against exact log Z, training on an MNIST slice, exact resume with the chains' state, bad configurations.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite(.serialized) struct DiscreteVAEModelTests {
    static let slice = try! mnist(trainLimit: 1000, testLimit: 200)

    func config(latentSize: Int = 16, groups: Int = 1, epochs: Int = 1) -> RunConfig {
        var c = RunConfig()
        c.model.latent = .dvae
        c.model.latentSize = latentSize
        c.model.posteriorGroups = groups
        c.model.hidden = [64]
        c.model.gibbsChains = 50
        c.epochs = epochs
        c.trainLimit = 1000
        return c
    }

    /// The objective's gradient with respect to the encoder's logit bias against central differences of the loss (the
    /// same uniforms each time; ζ is continuous in q, so the differences are well defined). G = 1 only: with G > 1 the
    /// pair term's gradient is Rolfe's estimator, right in expectation but not the derivative of one sample's loss.
    @Test(arguments: TestBackends.all)
    func objectiveGradientMatchesFiniteDifferences(kind: BackendKind) throws {
        let groups = 1
        let backend = try TestBackends.backend(kind)
        let c = config(latentSize: 8, groups: groups)
        let model = try VAE(c.model, on: backend, seed: 3)
        let pool = BufferPool(backend: backend)
        let x = try Tensor(Array(Self.slice.train.pixels.prefix(20 * 784)).map { $0 > 0.5 ? 1 : 0 }, rows: 20, cols: 784, on: backend)
        let uniforms = try Tensor(randomFloats(20 * 8, in: 0.01...0.99, seed: 4), rows: 20, cols: 8, on: backend)
        let headBias = model.parameters.first { $0.0 == "encoder.logits.bias" }!.1
        func loss(_ tape: Tape) throws -> Tensor {
            let q = try model.encode(x, on: tape)
            return try model.dvaeTrainingTerms(x: x, posterior: q, uniforms: uniforms, klWeight: 1, step: 0, seed: 1, on: tape).loss
        }
        let tape = Tape(pool: pool)
        tape.watch(headBias)
        try tape.backward(from: loss(tape))
        let gradient = try backend.download(tape.gradient(of: headBias)!.buffer)
        let base = try backend.download(headBias.buffer)
        for u in 0..<8 {
            var values: [Double] = []
            for h: Float in [0.01, -0.01] {
                var b = base
                b[u] += h
                try backend.upload(b, to: headBias.buffer)
                values.append(Double(try backend.download(loss(Tape(pool: pool)).buffer)[0]))
            }
            try backend.upload(base, to: headBias.buffer)
            let want = (values[0] - values[1]) / 0.02
            #expect(abs(Double(gradient[u]) - want) <= 0.05 * abs(want) + 0.05, "G=\(groups) unit \(u): \(gradient[u]) vs \(want)")
        }
    }

    /// The gradient of the loss with respect to W and b with the KL weight 1: the positive phase -Σ_r q_A q_Bᵀ / batch
    /// (exact for G = 1) plus the negative phase, the chains' mean of z_A z_Bᵀ, which after burn-in must match E_p by
    /// enumeration of the 2^6 states within four standard errors.
    @Test(arguments: TestBackends.all)
    func klGradientOfThePriorMatchesEnumeration(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        var c = config(latentSize: 6)
        c.model.gibbsChains = 4000
        let model = try VAE(c.model, on: backend, seed: 3)
        let rbm = model.discrete!.rbm
        let w = randomFloats(9, in: -1.5...1.5, seed: 11), b = randomFloats(6, in: -1...1, seed: 12)
        try backend.upload(w, to: rbm.weights.buffer)
        try backend.upload(b, to: rbm.bias.buffer)
        try rbm.advanceChains(sweeps: 60, step: 1000, seed: 1, on: backend)  // burn-in under this W, b
        let x = try Tensor(Array(Self.slice.train.pixels.prefix(10 * 784)).map { $0 > 0.5 ? 1 : 0 }, rows: 10, cols: 784, on: backend)
        let uniforms = try Tensor(randomFloats(60, in: 0.01...0.99, seed: 4), rows: 10, cols: 6, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        tape.watch(rbm.weights)
        tape.watch(rbm.bias)
        let q = try model.encode(x, on: tape)
        try tape.backward(from: model.dvaeTrainingTerms(x: x, posterior: q, uniforms: uniforms, klWeight: 1, step: 2000, seed: 1, on: tape).loss)
        let dW = try backend.download(tape.gradient(of: rbm.weights)!.buffer), db = try backend.download(tape.gradient(of: rbm.bias)!.buffer)
        let probabilities = try backend.download(tape.unary(.sigmoid, q.location).buffer).map(Double.init)
        let exact = exactRBMExpectations(w.map(Double.init), b.map(Double.init), a: 3, bSide: 3)
        let standardError = 0.5 / Double(c.model.gibbsChains).squareRoot()
        for i in 0..<3 {
            for j in 0..<3 {
                let positive = (0..<10).reduce(0.0) { $0 + probabilities[$1 * 6 + i] * probabilities[$1 * 6 + 3 + j] } / 10
                let want = -positive + exact.pair[i * 3 + j]
                #expect(abs(Double(dW[i * 3 + j]) - want) < 4 * standardError + 1e-4, "dW[\(i),\(j)] = \(dW[i * 3 + j]), want \(want)")
            }
        }
        for u in 0..<6 {
            let want = -(0..<10).reduce(0.0) { $0 + probabilities[$1 * 6 + u] } / 10 + exact.unit[u]
            #expect(abs(Double(db[u]) - want) < 4 * standardError + 1e-4, "db[\(u)] = \(db[u]), want \(want)")
        }
    }

    /// AIS on a 6 × 6 RBM with sizeable weights against log Z by enumeration of its 4,096 states, within 0.05 nats
    /// (and within four of its own standard errors plus 0.01); the host enumeration over the A side agrees to 1e-9.
    @Test(arguments: TestBackends.all)
    func annealedImportanceSamplingMatchesEnumeration(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let rbm = try RBMPrior(shape: RBMShape(a: 6, b: 6), chains: 1, on: backend, seed: 1)
        let w = randomFloats(36, in: -2...2, seed: 21), b = randomFloats(12, in: -1...1, seed: 22)
        try backend.upload(w, to: rbm.weights.buffer)
        try backend.upload(b, to: rbm.bias.buffer)
        let exact = exactRBMExpectations(w.map(Double.init), b.map(Double.init), a: 6, bSide: 6).logZ
        #expect(abs(try rbm.exactLogPartition(on: backend) - exact) < 1e-9)
        let (logZ, error) = try rbm.annealedLogPartition(chains: 500, temperatures: 2000, seed: 1, stream: 7, on: backend)
        print("\(kind): AIS log Z \(logZ) ± \(error), exact \(exact)")
        #expect(abs(logZ - exact) < 0.05 && abs(logZ - exact) < 4 * error + 0.01, "AIS \(logZ) ± \(error) vs exact \(exact)")
    }

    /// The Gibbs half-step's probabilities against float64 σ(t (z_other W + b)) for both sides, its draws' frequencies
    /// against those probabilities, and the same draws on every backend (the same Philox words).
    @Test(arguments: TestBackends.all)
    func gibbsHalfStepMatchesItsConditionals(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let shape = RBMShape(a: 3, b: 4), chains = 5000, t: Float = 0.7
        let w = randomFloats(12, in: -2...2, seed: 31), b = randomFloats(7, in: -1...1, seed: 32)
        let start = randomFloats(chains * 7, in: 0...1, seed: 33).map { $0 < 0.5 ? Float(0) : 1 }
        let state = try backend.buffer(start), weights = try backend.buffer(w), bias = try backend.buffer(b)
        for side in RBMSide.allCases {
            let before = try backend.download(state)
            let units = side == .a ? shape.a : shape.b
            let p = try backend.allocate(count: chains * units, dtype: .float32)
            try backend.rbmGibbsHalfStep(state: state, weights: weights, bias: bias, shape: shape, chains: chains, side: side,
                                         inverseTemperature: t, key: PhiloxKey(seed: 2, stream: 3), counter: PhiloxCounter(0, 0, 5, UInt32(side.rawValue)),
                                         intoProbabilities: p)
            let got = try backend.download(p), after = try backend.download(state)
            var frequency = [Double](repeating: 0, count: units), expected = [Double](repeating: 0, count: units)
            for c in 0..<chains {
                let z = before[(c * 7)..<(c * 7 + 7)].map(Double.init)
                for j in 0..<units {
                    var a = Double(b[(side == .a ? 0 : 3) + j])
                    if side == .a { for k in 0..<4 { a += Double(w[j * 4 + k]) * z[3 + k] } } else { for k in 0..<3 { a += z[k] * Double(w[k * 4 + j]) } }
                    let want = 1 / (1 + Foundation.exp(-Double(t) * a))
                    #expect(abs(Double(got[c * units + j]) - want) < 1e-6)
                    frequency[j] += Double(after[c * 7 + (side == .a ? 0 : 3) + j])
                    expected[j] += want
                }
                // the other side is left alone
                for k in (side == .a ? 3..<7 : 0..<3) { #expect(after[c * 7 + k] == before[c * 7 + k]) }
            }
            for j in 0..<units {
                #expect(abs(frequency[j] - expected[j]) < 4 * (Double(chains) * 0.25).squareRoot(), "side \(side) unit \(j): \(frequency[j]) vs \(expected[j])")
            }
        }
        if kind != .cpu {
            let cpu = CPUBackend.shared, reference = try cpu.buffer(start), probabilities = try cpu.allocate(count: chains * 4, dtype: .float32)
            for side in RBMSide.allCases {
                try cpu.rbmGibbsHalfStep(state: reference, weights: cpu.buffer(w), bias: cpu.buffer(b), shape: shape, chains: chains, side: side,
                                         inverseTemperature: t, key: PhiloxKey(seed: 2, stream: 3), counter: PhiloxCounter(0, 0, 5, UInt32(side.rawValue)),
                                         intoProbabilities: probabilities)
            }
            let mismatches = zip(try cpu.download(reference), try backend.download(state)).filter { $0 != $1 }.count
            #expect(mismatches <= 2, "\(mismatches) draws differ from the CPU backend's")
        }
    }

    /// A short run on an MNIST slice: the loss falls and nothing is NaN; then eval gives finite figures with log Z.
    @Test(arguments: TestBackends.all)
    func trainingOnAnMNISTSliceLearns(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let trainer = try Trainer(config: config(epochs: 4), backend: backend, train: Self.slice.train)
        var losses: [Double] = []
        _ = try trainer.train(run: nil, epochDone: { losses.append($0.loss) })
        print("dvae losses by epoch: \(losses)")
        #expect(losses.allSatisfy(\.isFinite) && losses.last! < losses.first! - 10, "\(losses)")
        let evaluator = Evaluator(model: trainer.model, backend: backend)
        evaluator.aisChains = 100
        evaluator.aisTemperatures = 500
        let result = try evaluator.evaluate(Self.slice.test, k: 20, limit: 50)
        print("dvae eval: \(result.json)")
        #expect(result.negativeELBO.isFinite && result.logZ!.isFinite && result.nllStandardError!.isFinite)
        #expect(result.negativeLogLikelihood! <= result.negativeELBO + 1, "the k = 20 bound should not be much looser than the ELBO")
    }

    func state(_ t: Trainer) throws -> [[Float]] {
        try (t.model.parameters + t.model.statistics).map { try t.backend.download($0.1.buffer, offset: 0, count: $0.1.count) }
    }

    /// Interrupted mid-epoch and resumed from the checkpoint: parameters and the chains' state end bit for bit where an
    /// uninterrupted run ends (G = 2, so the couplings are covered too).
    @Test(arguments: TestBackends.all)
    func resumeContinuesExactlyWithTheChains(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let dir = try temporaryDirectory("dvae-resume")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = RunDirectory(dir)
        let c = config(groups: 2, epochs: 2)
        let straight = try Trainer(config: c, backend: backend, train: Self.slice.train)
        _ = try straight.train(run: nil)
        let stopped = try Trainer(config: c, backend: backend, train: Self.slice.train)
        var polls = 0
        #expect(try stopped.train(run: run, shouldStop: { polls += 1; return polls > 13 }) == .interrupted(epoch: 1, step: 3))
        let resumed = try Trainer(config: c, backend: backend, train: Self.slice.train)
        try resumed.restore(from: Checkpoint.read(run.checkpoint))
        _ = try resumed.train(run: run)
        #expect(try state(resumed) == state(straight))
        #expect(resumed.model.discrete!.rbm.logZ == straight.model.discrete!.rbm.logZ)
    }

    /// `--rbm-weight-decay λ` adds λ Σ W² to the minimised loss, not to the reported bound, and its gradient 2λW to W's
    /// (the RBM's couplings set to known values; the difference of two models alike but for λ).
    @Test(arguments: TestBackends.all)
    func rbmWeightDecayAddsItsPenaltyToTheLossOnly(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind), lambda: Float = 0.25
        let x = try Tensor(Array(Self.slice.train.pixels.prefix(10 * 784)).map { $0 > 0.5 ? 1 : 0 }, rows: 10, cols: 784, on: backend)
        let uniforms = try Tensor(randomFloats(10 * 8, in: 0.01...0.99, seed: 4), rows: 10, cols: 8, on: backend)
        let w = randomFloats(16, in: -1...1, seed: 5)
        func run(_ decay: Float) throws -> (loss: Float, bound: Double, gradient: [Float]) {
            var c = config(latentSize: 8)
            c.model.rbmWeightDecay = decay
            let model = try VAE(c.model, on: backend, seed: 3)
            let weights = model.discrete!.rbm.weights
            try backend.upload(w, to: weights.buffer)
            let tape = Tape(pool: BufferPool(backend: backend))
            tape.watch(weights)
            let terms = try model.dvaeTrainingTerms(x: x, posterior: model.encode(x, on: tape), uniforms: uniforms, klWeight: 1, step: 0, seed: 1, on: tape)
            try tape.backward(from: terms.loss)
            return (try backend.download(terms.loss.buffer)[0], try terms.values(on: backend).bound, try backend.download(tape.gradient(of: weights)!.buffer))
        }
        let plain = try run(0), decayed = try run(lambda)
        let squares = w.reduce(Float(0)) { $0 + $1 * $1 }
        #expect(abs((decayed.loss - plain.loss) - lambda * squares) <= 1e-4 * abs(plain.loss), "\(decayed.loss) - \(plain.loss) vs \(lambda * squares)")
        #expect(decayed.bound == plain.bound)
        for i in 0..<16 {
            #expect(abs((decayed.gradient[i] - plain.gradient[i]) - 2 * lambda * w[i]) <= 1e-5, "W[\(i)]")
        }
    }

    /// Bad configurations fail before anything trains, with a message naming the flag.
    @Test func badConfigurationsAreClearErrors() throws {
        func message(_ change: (inout RunConfig) -> Void) -> String {
            var c = config()
            change(&c)
            do { try c.validate() } catch { return "\(error)" }
            return ""
        }
        #expect(message { $0.model.spikeBeta = 0 }.contains("--beta"))
        #expect(message { $0.model.spikeBeta = -1 }.contains("--beta"))
        #expect(message { $0.model.spikeBeta = 100 }.contains("--beta"))
        #expect(message { $0.model.posteriorGroups = 3 }.contains("--groups"))
        #expect(message { $0.model.latentSize = 15; $0.model.posteriorGroups = 1 }.contains("even"))
        #expect(message { $0.model.gibbsChains = 0 }.contains("--gibbs-chains"))
        #expect(message { $0.model.gibbsSteps = 0 }.contains("--gibbs-steps"))
        #expect(message { $0.iwSamples = 5 }.contains("--iw-samples"))
        #expect(message { $0.model.latent = .gaussian; $0.model.posteriorGroups = 2 }.contains("--groups"))
        #expect(message { $0.model.rbmWeightDecay = -1 }.contains("--rbm-weight-decay must be >= 0"))
        #expect(message { $0.model.rbmWeightDecay = .nan }.contains("--rbm-weight-decay"))
        #expect(message { $0.model.latent = .gaussian; $0.model.rbmWeightDecay = 0.01 }.contains("--rbm-weight-decay applies to --latent dvae only"))
        #expect(message { _ in }.isEmpty)
    }
}
