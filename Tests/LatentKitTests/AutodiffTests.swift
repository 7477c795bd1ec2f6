// Every gradient rule of the tape against central differences of a float64 reference of the same function,
// on every backend. Each case computes L = Σ w ⊙ f(inputs) for fixed random weights w.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct AutodiffTests {
    @Test(arguments: TestBackends.all, ruleCases)
    func ruleMatchesFiniteDifferences(kind: BackendKind, rule: RuleCase) throws {
        let result = try checkRule(rule, on: TestBackends.backend(kind))
        #expect(result.passed, "\(rule): \(result.summary)")
    }

    @Test(arguments: TestBackends.all)
    func maxHasNoGradientAndShapesAreChecked(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let a = try Tensor([1, 2, 3, 4], rows: 2, cols: 2, on: backend), b = try Tensor([1, 2, 3], rows: 1, cols: 3, on: backend)
        tape.watch(a)
        #expect(throws: BackendError.self) { try tape.binary(.max, a, a) }
        #expect(throws: BackendError.self) { try tape.binary(.add, a, b, broadcast: .row) }
        #expect(throws: BackendError.self) { try tape.matmul(a, b) }
    }

    /// The hand-over that data-parallel training sends gradients by while the backward pass runs: every parameter the
    /// pass reaches is handed over once, and its gradient at that moment is already the final one (nothing the later
    /// rules do changes it), for each latent family's graph and the importance-weighted one.
    @Test(arguments: TestBackends.all, [LatentFamily.gaussian, .logitNormal, .concrete, .dirichlet, .dvae])
    func gradientsHandedOverDuringTheBackwardPassAreFinal(kind: BackendKind, latent: LatentFamily) throws {
        let backend = try TestBackends.backend(kind)
        let latentSize = latent == .concrete ? 6 : 4
        let vae = try smallVAE(latent, latentSize: latentSize, on: backend) { c in
            c.hidden = [8, 8]
            if latent == .concrete { c.categoricalGroups = 2 }
        }
        let tape = Tape(pool: BufferPool(backend: backend))
        for (_, p) in vae.parameters { tape.watch(p) }
        let x = try Tensor((0..<24).map { Float(($0 * 7) % 10) / 10 }, rows: 6, cols: 4, on: backend)
        let q = try vae.encode(x, on: tape)
        let noise = try Tensor([Float](repeating: 0, count: 6 * latentSize), rows: 6, cols: latentSize, on: backend)
        try backend.fillRandom(vae.noiseDistribution, into: noise.buffer, count: noise.count, key: PhiloxKey(seed: 9), counter: PhiloxCounter(), probabilities: nil)
        let terms = latent == .dvae
            ? try vae.dvaeTrainingTerms(x: x, posterior: q, uniforms: noise, klWeight: 1, step: 0, seed: 1, on: tape)
            : try Objective.elbo(model: vae, x: x, posterior: q, noise: noise, on: tape)
        var handed: [(Tensor, [Float])] = []
        try tape.backward(from: terms.loss) { parameter, gradient in
            #expect(!handed.contains { $0.0 === parameter }, "a parameter handed over twice")
            handed.append((parameter, try backend.download(gradient.buffer, offset: 0, count: gradient.count)))
        }
        let reached = vae.parameters.filter { tape.gradient(of: $0.1) != nil }
        #expect(handed.count == reached.count, "\(handed.count) handed over of \(reached.count) reached")
        for (parameter, early) in handed {
            let final = try backend.download(tape.gradient(of: parameter)!.buffer, offset: 0, count: parameter.count)
            #expect(early == final, "\(vae.parameters.first { $0.1 === parameter }!.0) changed after it was handed over")
        }
    }
}
