// The Concrete family's discrete model as `eval` reports it (CategoricalEvaluation.swift), against exact values: with
// 2 categoricals of 3 classes there are 9 latent states, so log p(x) = logsumexp_z [log p(x|z) + log p(z)] and the
// ELBO E_q[log p(x|z)] − KL(q ‖ p) are sums over them. The Gumbel-max samples follow π and are exactly one-hot.

import Foundation
import LatentKit
import Testing
import TestSupport

struct CategoricalEvaluationTests {
    static let pixels: [Float] = [1, 0, 1, 1, 0, 0]

    func model(on backend: any Backend) throws -> VAE {
        try smallVAE(.concrete, latentSize: 6, on: backend) {
            $0.categoricalGroups = 2
            $0.inputSize = 6
        }
    }

    /// The 9 one-hot states of two 3-way categoricals, their log p(x|z) for the image, and q(z|x).
    func enumeration(_ vae: VAE, on backend: any Backend) throws -> (logLikelihood: [Double], posterior: [Double], kl: Double) {
        let tape = Tape(pool: BufferPool(backend: backend))
        let x = try Tensor(Self.pixels, rows: 1, cols: 6, on: backend)
        let logits = try backend.download(try vae.encode(x, on: tape).location.buffer, offset: 0, count: 6).map(Double.init)
        func softmax(_ v: ArraySlice<Double>) -> [Double] {
            let m = v.max()!, e = v.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        let pi = [softmax(logits[0..<3]), softmax(logits[3..<6])]
        var states: [Float] = [], posterior: [Double] = []
        for a in 0..<3 {
            for b in 0..<3 {
                states += (0..<3).map { $0 == a ? 1 : 0 } + (0..<3).map { $0 == b ? 1 : 0 }
                posterior.append(pi[0][a] * pi[1][b])
            }
        }
        let z = try Tensor(states, rows: 9, cols: 6, on: backend)
        let xs = try Tensor(Array((0..<9).map { _ in Self.pixels }.joined()), rows: 9, cols: 6, on: backend)
        let ll = try backend.download(try vae.logLikelihood(xs, vae.decode(z, on: tape), on: tape).buffer, offset: 0, count: 9).map(Double.init)
        let kl = pi.reduce(0) { $0 + $1.reduce(0) { $0 + ($1 > 0 ? $1 * Foundation.log(3 * $1) : 0) } }
        return (ll, posterior, kl)
    }

    /// Within five standard errors of the estimate, which the enumeration also gives: the weights w = p(x, z) / q(z|x)
    /// have variance Σ_z q (w − p(x))², and −log of their k-sample mean has a standard error of about √(Var w / k) / p(x).
    @Test(arguments: TestBackends.all)
    func importanceSampledNLLConvergesToTheExactLogLikelihood(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind), vae = try model(on: backend)
        let (ll, q, _) = try enumeration(vae, on: backend)
        let joint = ll.map { Foundation.exp($0 - 2 * Foundation.log(3.0)) }, p = joint.reduce(0, +), exact = -Foundation.log(p)
        let k = 50000
        let variance = zip(joint, q).reduce(0) { $0 + $1.1 * ($1.0 / $1.1 - p) * ($1.0 / $1.1 - p) }
        let standardError = (variance / Double(k)).squareRoot() / p
        let x = try Tensor(Self.pixels, rows: 1, cols: 6, on: backend)
        let nll = try Evaluator(model: vae, backend: backend).importanceSampledNLL(x, k: k)[0]
        #expect(abs(nll - exact) < 5 * standardError + 1e-4, "importance-sampled \(nll), exact \(exact) ± \(standardError)")
        #expect(standardError < 0.01)
    }

    @Test(arguments: TestBackends.all)
    func negativeELBOIsTheExactExpectationOverTheStates(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind), vae = try model(on: backend)
        let (ll, q, kl) = try enumeration(vae, on: backend)
        let mean = zip(q, ll).reduce(0) { $0 + $1.0 * $1.1 }
        let variance = zip(q, ll).reduce(0) { $0 + $1.0 * ($1.1 - mean) * ($1.1 - mean) }
        let n = 4000, exact = -mean + kl
        let x = try Tensor(Array((0..<n).map { _ in Self.pixels }.joined()), rows: n, cols: 6, on: backend)
        let (reconstruction, klEstimate) = try Evaluator(model: vae, backend: backend).elbo(x)
        #expect(abs(klEstimate - kl) < 1e-5, "KL \(klEstimate) vs \(kl)")
        let standardError = (variance / Double(n)).squareRoot()
        #expect(abs(reconstruction + klEstimate - exact) < 5 * standardError + 1e-4, "-ELBO \(reconstruction + klEstimate), exact \(exact) ± \(standardError)")
        let joint = ll.map { $0 - 2 * Foundation.log(3.0) }, m = joint.max()!
        #expect(exact >= -(m + Foundation.log(joint.reduce(0) { $0 + Foundation.exp($1 - m) })))
    }

    /// Gumbel-max draws: one-hot rows whose classes follow softmax(logits), and log q(z|x) the chosen classes' log π.
    @Test(arguments: TestBackends.all)
    func gumbelMaxSamplesAreOneHotAndFollowTheProbabilities(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind), vae = try model(on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        let rowLogits: [Float] = [0.5, -1, 2, 0, 0, -3], n = 20000
        let logits = try Tensor(Array((0..<n).map { _ in rowLogits }.joined()), rows: n, cols: 6, on: backend)
        let gumbel = try tape.pool.tensor(rows: n, cols: 6)
        try backend.fillRandom(.gumbel, into: gumbel.buffer, count: gumbel.count, key: PhiloxKey(seed: 3, stream: 1), counter: PhiloxCounter(),
                               probabilities: nil)
        let s = try vae.categoricalSample(logits: logits, gumbel: gumbel, on: tape)
        let z = try backend.download(s.oneHot.buffer, offset: 0, count: n * 6), logQ = try backend.download(s.logProbability.buffer, offset: 0, count: n)
        #expect(z.allSatisfy { $0 == 0 || $0 == 1 })
        for group in 0..<2 {
            let l = rowLogits[(3 * group)..<(3 * group + 3)].map(Double.init), top = l.max()!
            let pi = l.map { Foundation.exp($0 - top) / l.reduce(0) { $0 + Foundation.exp($1 - top) } }
            let counts = (0..<3).map { c in (0..<n).filter { z[$0 * 6 + 3 * group + c] == 1 }.count }
            #expect(counts.reduce(0, +) == n, "one class per categorical")
            for c in 0..<3 {
                let sd = (pi[c] * (1 - pi[c]) / Double(n)).squareRoot()
                #expect(abs(Double(counts[c]) / Double(n) - pi[c]) < 4 * sd + 1e-4, "group \(group) class \(c): \(counts[c]) of \(n), π \(pi[c])")
            }
        }
        let first = (0..<2).map { g in (0..<3).first { z[3 * g + $0] == 1 }! }
        let expected = (0..<2).map { g -> Double in
            let l = rowLogits[(3 * g)..<(3 * g + 3)].map(Double.init), top = l.max()!
            return l[first[g]] - top - Foundation.log(l.reduce(0) { $0 + Foundation.exp($1 - top) })
        }.reduce(0, +)
        #expect(abs(Double(logQ[0]) - expected) < 1e-5)
    }
}
