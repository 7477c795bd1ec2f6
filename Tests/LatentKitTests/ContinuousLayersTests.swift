// Continuous latent layers (Models/ContinuousLayers.swift): the importance-sampled NLL of the full discrete VAE against
// the exact log-likelihood of a model small enough to integrate, the bounds' order on trained models of both bottoms,
// every objective and the tools on such runs, and the configurations refused.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite(.serialized) struct ContinuousLayersTests {
    static let slice = try! mnist(trainLimit: 1000, testLimit: 100)

    /// The `n` Gauss–Legendre nodes and weights on [0, 1] (Newton's method on P_n from the usual first guesses).
    static func gaussLegendre(_ n: Int) -> [(x: Double, w: Double)] {
        (0..<n).map { i in
            var x = cos(Double.pi * (Double(i) + 0.75) / (Double(n) + 0.5)), derivative = 0.0
            for _ in 0..<100 {
                var p0 = 1.0, p1 = x
                for k in 2...n { (p0, p1) = (p1, ((2 * Double(k) - 1) * x * p1 - Double(k - 1) * p0) / Double(k)) }
                derivative = Double(n) * (x * p1 - p0) / (x * x - 1)
                let step = p1 / derivative
                x -= step
                if abs(step) < 1e-15 { break }
            }
            return ((1 - x) / 2, 1 / ((1 - x * x) * derivative * derivative))  // mapped from [-1, 1]: weight 2/… halved
        }
    }

    /// The full model's log p(x) by exhaustive summation and quadrature: two binary units (an RBM of one unit a side),
    /// each smoothed by r(ζ|z) (ζ = 0 for z = 0; β e^(βζ)/(e^β − 1) on [0, 1] for z = 1, by Gauss–Legendre), and one
    /// continuous layer of one unit (the trapezoid rule over ±10 prior standard deviations, exponentially accurate for
    /// a smooth integrand under a Gaussian):
    ///   p(x) = Σ_z p(z) ∫ r(ζ|z) ∫ N(ℨ; μp(ζ), σp(ζ)²) p(x | ζ, ℨ) dℨ dζ,  p(z) = e^(z_A W z_B + bᵀz) / Z.
    /// The importance-sampled NLL (k = 100,000, proposals from the whole hierarchical q) must agree within 0.01 nats (measured:
    /// 0.0002; 0.019 at k = 20,000, where the untrained posterior's heavy-tailed weights still bias it), AIS's log Z with
    /// the exact one, and the NLL lie below the −ELBO.
    @Test(arguments: TestBackends.all)
    func importanceSampledNLLMatchesExactIntegration(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        var c = ModelConfig()
        c.latent = .dvae
        c.latentSize = 2
        c.hidden = [8]
        c.inputSize = 4
        c.spikeBeta = 3
        c.gibbsChains = 10
        c.continuousLayers = 1
        c.continuousSize = 1
        c.continuousHidden = 4
        let model = try VAE(c, on: backend, seed: 7)
        // sizeable RBM parameters, so that p(z) is far from uniform
        try backend.upload([1.5], to: model.discrete!.rbm.weights.buffer)
        try backend.upload([-0.5, 0.8], to: model.discrete!.rbm.bias.buffer)
        let items: [[Float]] = [[1, 0, 1, 1], [0, 0, 1, 0], [1, 1, 1, 1]]

        let w = 1.5, b = [-0.5, 0.8]
        let states = [(0, 0), (0, 1), (1, 0), (1, 1)]
        let energies = states.map { w * Double($0.0 * $0.1) + b[0] * Double($0.0) + b[1] * Double($0.1) }
        let exactLogZ = log(energies.reduce(0) { $0 + exp($1) })
        let beta = Double(c.spikeBeta)
        let legendre = Self.gaussLegendre(24)
        // the ζ points of each state with their weights r(ζ|z) dζ
        func zetaNodes(_ z: Int) -> [(Double, Double)] {
            z == 0 ? [(0, 1)] : legendre.map { ($0.x, $0.w * beta * exp(beta * $0.x) / (exp(beta) - 1)) }
        }
        let steps = 201
        var exactNLL = 0.0
        for item in items {
            var px = 0.0
            for (s, (za, zb)) in states.enumerated() {
                let pz = exp(energies[s] - exactLogZ)
                var zetas: [Float] = [], zetaWeights: [Double] = []
                for (a, wa) in zetaNodes(za) { for (bb, wb) in zetaNodes(zb) { zetas += [Float(a), Float(bb)]; zetaWeights.append(wa * wb) } }
                let n = zetaWeights.count
                let tape = Tape(pool: BufferPool(backend: backend))
                let zeta = try Tensor(zetas, rows: n, cols: 2, on: backend)
                let heads = try backend.download(model.continuousLayerPrior(0, below: [zeta], on: tape).buffer)
                // every (ζ, ℨ) point of the trapezoid grid, decoded at once
                var points: [Float] = [], pointWeights: [Double] = []
                for i in 0..<n {
                    let mean = Double(heads[2 * i]), sd = exp(0.5 * Double(heads[2 * i + 1])), h = 20 * sd / Double(steps - 1)
                    for t in 0..<steps {
                        let u = -10 + 20 * Double(t) / Double(steps - 1), end = t == 0 || t == steps - 1 ? 0.5 : 1
                        points += [zetas[2 * i], zetas[2 * i + 1], Float(mean + u * sd)]
                        pointWeights.append(zetaWeights[i] * end * h * exp(-0.5 * u * u) / (sd * (2 * Double.pi).squareRoot()))
                    }
                }
                let input = try Tensor(points, rows: pointWeights.count, cols: 3, on: backend)
                let x = try Tensor((0..<pointWeights.count).flatMap { _ in item }, rows: pointWeights.count, cols: 4, on: backend)
                let ll = try backend.download(model.logLikelihood(x, model.decode(input, on: tape), on: tape).buffer)
                px += pz * zip(ll, pointWeights).reduce(0) { $0 + exp(Double($1.0)) * $1.1 }
            }
            exactNLL -= log(px) / Double(items.count)
        }

        let evaluator = Evaluator(model: model, backend: backend)
        evaluator.aisChains = 1000
        evaluator.aisTemperatures = 2000
        let test = try LabelledImages(count: items.count, rows: 2, cols: 2, pixels: items.flatMap { $0 }, labels: [0, 0, 0])
        let result = try evaluator.evaluate(test, k: 100_000, limit: nil)
        let nll = try #require(result.negativeLogLikelihood)
        #expect(abs(result.logZ! - exactLogZ) < 0.01, "AIS log Z \(result.logZ!) against exact \(exactLogZ)")
        #expect(abs(nll - exactNLL) < 0.01, "importance-sampled NLL \(nll) against the exact \(exactNLL)")
        #expect(nll <= result.negativeELBO + 1e-3, "NLL \(nll) above the -ELBO \(result.negativeELBO)")
        #expect(result.kl > 0)
    }

    /// Both bottoms with two layers train on an MNIST slice on each backend: the loss falls, the layers' KL is part of
    /// the bound, and the importance-sampled NLL lies below the −ELBO; `encode`'s codes hold every layer's means.
    @Test(arguments: TestBackends.all, [LatentFamily.dvae, .gaussian])
    func trainedModelsHaveOrderedBounds(kind: BackendKind, family: LatentFamily) throws {
        let backend = try TestBackends.backend(kind)
        var c = RunConfig()
        c.model.latent = family
        c.model.latentSize = family == .dvae ? 16 : 8
        c.model.hidden = [64]
        c.model.gibbsChains = 50
        c.model.continuousLayers = 2
        c.model.continuousSize = 4
        c.epochs = 3
        c.trainLimit = 1000
        let trainer = try Trainer(config: c, backend: backend, train: Self.slice.train)
        var losses: [Double] = []
        _ = try trainer.train(run: nil, epochDone: { losses.append($0.loss) })
        #expect(losses.last! < losses.first! - 5, "\(family) losses \(losses)")
        let evaluator = Evaluator(model: trainer.model, backend: backend)
        evaluator.aisChains = 200
        evaluator.aisTemperatures = 2000
        let result = try evaluator.evaluate(Self.slice.test, k: 200, limit: 30)
        let nll = try #require(result.negativeLogLikelihood)
        #expect(nll.isFinite && nll <= result.negativeELBO, "\(family) on \(kind): NLL \(nll), -ELBO \(result.negativeELBO)")
        let codes = try LatentCodes.encode(Self.slice.test, limit: 10, model: trainer.model, backend: backend)
        #expect(codes.size == c.model.latentSize + 2 * 4 && codes.values.allSatisfy { $0.isFinite })
    }

    /// The hierarchical Gaussian under the IWAE and Rényi bounds: finite, and the IWAE bound at k = 5 above the ELBO of
    /// the same model (the bound is tighter in expectation; checked over 200 images).
    @Test func hierarchicalGaussianTakesTheImportanceWeightedObjectives() throws {
        let backend = CPUBackend.shared
        for (objective, alpha) in [("iwae", Float?.none), ("renyi", Float?.some(0.5))] {
            var c = RunConfig()
            c.model.latentSize = 8
            c.model.hidden = [64]
            c.model.continuousLayers = 1
            c.model.continuousSize = 4
            c.iwSamples = 5
            c.renyiAlpha = alpha
            c.epochs = 1
            c.trainLimit = 1000
            let trainer = try Trainer(config: c, backend: backend, train: Self.slice.train)
            var losses: [Double] = []
            _ = try trainer.train(run: nil, epochDone: { losses.append($0.loss) })
            #expect(losses.allSatisfy { $0.isFinite }, "\(objective): \(losses)")
        }
    }

    /// The command line: `--continuous-layers L` alone is the screened recipe, recorded in config.json: 64 units a layer,
    /// 10 epochs of KL warm-up, and for the Discrete VAE the RBM's weight decay; flags still override them; out-of-range
    /// flags and a resume that would change the layers are refused with one line, nothing written.
    @Test func commandLineRecipeAndRefusals() throws {
        let dir = try temporaryDirectory("layers-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let train = try runTool(["train", "--backend", "cpu", "--epochs", "1", "--limit", "200", "--latent", "dvae", "--latent-size", "8",
                                 "--continuous-layers", "1", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        let config = try RunConfig.load(from: run + "/config.json")
        #expect(config.model.continuousLayers == 1 && config.model.continuousSize == ContinuousLayerDefaults.size)
        #expect(config.warmupEpochs == 10 && config.warmupEpochs == ContinuousLayerDefaults.warmupEpochs)
        #expect(config.model.rbmWeightDecay == 1e-3 && config.model.rbmWeightDecay == ContinuousLayerDefaults.rbmWeightDecay)
        #expect(train.stdout.contains("KL warm-up 20 steps"), "\(train.stdout)")  // 10 epochs of the slice's 2 steps
        let chosen = dir + "/chosen"
        let overridden = try runTool(["train", "--backend", "cpu", "--epochs", "1", "--limit", "200", "--latent", "dvae", "--latent-size", "8",
                                      "--continuous-layers", "1", "--warmup-epochs", "0", "--rbm-weight-decay", "0", "--out", chosen])
        #expect(overridden.status == 0, "\(overridden.stderr)")
        let chosenConfig = try RunConfig.load(from: chosen + "/config.json")
        #expect(chosenConfig.warmupEpochs == 0 && chosenConfig.model.rbmWeightDecay == 0)
        let gaussian = dir + "/gaussian"
        let hierarchical = try runTool(["train", "--backend", "cpu", "--epochs", "1", "--limit", "200", "--continuous-layers", "1", "--out", gaussian])
        #expect(hierarchical.status == 0, "\(hierarchical.stderr)")
        let gaussianConfig = try RunConfig.load(from: gaussian + "/config.json")
        #expect(gaussianConfig.warmupEpochs == 10 && gaussianConfig.model.rbmWeightDecay == 0)
        let plain = dir + "/plain"  // the Discrete VAE without layers keeps its defaults: neither warm-up nor decay
        #expect(try runTool(["train", "--backend", "cpu", "--epochs", "1", "--limit", "200", "--latent", "dvae", "--latent-size", "8", "--out", plain]).status == 0)
        let plainConfig = try RunConfig.load(from: plain + "/config.json")
        #expect(plainConfig.warmupEpochs == 0 && plainConfig.model.rbmWeightDecay == 0)
        // a config.json written before the key existed reads as no decay
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/config.json"))) as! [String: Any]
        var model = json["model"] as! [String: Any]
        model.removeValue(forKey: "rbmWeightDecay")
        json["model"] = model
        let older = try JSONDecoder().decode(RunConfig.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(older.model.rbmWeightDecay == 0 && older.model.continuousLayers == 1)
        for flags in [["--resume", run, "--rbm-weight-decay", "0.5"],
                      ["--backend", "cpu", "--epochs", "1", "--limit", "100", "--latent", "dvae", "--latent-size", "8", "--rbm-weight-decay", "nan", "--out", dir + "/bad"]] {
            let refused = try runTool(["train"] + flags)
            #expect(refused.status == 64 && refused.stderr.split(separator: "\n").count == 1 && refused.stderr.contains("--rbm-weight-decay"), "\(refused.stderr)")
        }
        for (flags, expected) in [(["--continuous-layers", "65"], "--continuous-layers must be in 0...64"),
                                  (["--continuous-layers", "1", "--continuous-size", "0"], "--continuous-size must be in 1...4096"),
                                  (["--continuous-size", "8"], "--continuous-size needs --continuous-layers"),
                                  (["--latent", "logit-normal", "--continuous-layers", "1"], "not logit-normal"),
                                  (["--continuous-layers", "1", "--rbm-weight-decay", "0.1"], "--rbm-weight-decay apply to --latent dvae only")] {
            let bad = dir + "/bad"
            let result = try runTool(["train", "--backend", "cpu", "--epochs", "1", "--limit", "100", "--out", bad] + flags)
            #expect(result.status != 0 && result.stderr.contains(expected), "\(flags): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: bad), "\(flags) wrote \(bad)")
        }
        let resumed = try runTool(["train", "--resume", run, "--continuous-layers", "2"])
        #expect(resumed.status != 0 && resumed.stderr.contains("--continuous-layers cannot change when resuming"), "\(resumed.stderr)")
    }

    /// Out-of-range and unsupported settings are refused with the flag named.
    @Test func refusesBadSettings() throws {
        func message(_ change: (inout ModelConfig) -> Void) -> String {
            var c = ModelConfig()
            change(&c)
            do { try c.validate() } catch { return "\(error)" }
            return ""
        }
        #expect(message { $0.continuousLayers = 65; $0.continuousSize = 4 }.contains("--continuous-layers must be in 0...64"))
        #expect(message { $0.continuousLayers = 1 }.contains("--continuous-size must be in 1...4096"))
        #expect(message { $0.continuousLayers = 1; $0.continuousSize = 4097 }.contains("--continuous-size must be in 1...4096"))
        #expect(message { $0.continuousSize = 4 }.contains("--continuous-size needs --continuous-layers"))
        #expect(message { $0.latent = .concrete; $0.continuousLayers = 1; $0.continuousSize = 4 }.contains("not concrete"))
        #expect(message { $0.posterior = .chain; $0.continuousLayers = 1; $0.continuousSize = 4 }.contains("--posterior chain"))
        #expect(message { $0.continuousLayers = 1; $0.continuousSize = 4 }.isEmpty)
        // a configuration written before the layers existed reads as the one-latent model
        let old = try JSONDecoder().decode(ModelConfig.self, from: Data(#"{"latent": "dvae", "latentSize": 8}"#.utf8))
        #expect(old.continuousLayers == 0 && old.decoderInputSize == 8)
    }
}
