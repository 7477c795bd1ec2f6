// The variational Rényi bound (Li & Turner 2016; paper 003's proposal) against its formula evaluated in float64 on the
// same log-weights: L_α = 1/(1−α) Σ_images log (1/k) Σ_j w_j^(1−α); α = 0 is the IWAE bound, α → 1 tends to the mean
// log-weight (the ELBO with the Monte Carlo KL), which α = 1 is, and L_α falls as α rises.

import Foundation
import LatentKit
import Testing
import TestSupport

struct RenyiBoundTests {
    /// IWAE's repeat of the posterior's rows (a product with the tile [I I … I]): each row exactly k times in a row,
    /// and in the backward pass the sum of each image's k gradients.
    @Test(arguments: TestBackends.all)
    func theRepeatCopiesEachRowKTimesAndSumsTheirGradients(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let batch = 7, k = 5, c = 6
        let xs = randomFloats(batch * c, in: -3...3, seed: 11), weights = randomFloats(batch * k * c, in: -1...1, seed: 12)
        let x = try Tensor(xs, rows: batch, cols: c, on: backend)
        let w = try Tensor(weights, rows: batch * k, cols: c, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        tape.watch(x)
        let repeater = try Objective.Repeater(batch: batch, samples: k, on: backend)
        let y = try repeater.repeated(x, on: tape)
        #expect(y.rows == batch * k && y.cols == c)
        let got = try backend.download(y.buffer, offset: 0, count: y.count)
        var want: [Float] = []
        for r in 0..<(batch * k) { want += xs[(r / k * c)..<(r / k * c + c)] }
        #expect(got == want)
        try tape.backward(from: tape.sumAll(tape.binary(.mul, y, w)))
        let gradient = try backend.download(try #require(tape.gradient(of: x)).buffer, offset: 0, count: x.count)
        for i in 0..<batch {
            for j in 0..<c {
                let want = (0..<k).reduce(0.0) { $0 + Double(weights[(i * k + $1) * c + j]) }
                #expect(abs(Double(gradient[i * c + j]) - want) < 1e-5, "row \(i) column \(j)")
            }
        }
    }

    @Test(arguments: TestBackends.all)
    func theBoundFollowsItsFormulaAndMeetsIWAEAndTheELBOAtItsEnds(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let vae = try smallVAE(.gaussian, latentSize: 3, on: backend)
        let batch = 6, k = 5, nz = 3
        let x = try Tensor(randomFloats(batch * 4, in: 0...1, seed: 7).map { $0 < 0.5 ? 0 : 1 }, rows: batch, cols: 4, on: backend)
        let tape = Tape(pool: BufferPool(backend: backend))
        let q = try vae.encode(x, on: tape)
        let noise = try Tensor([Float](repeating: 0, count: batch * k * nz), rows: batch * k, cols: nz, on: backend)
        try backend.fillRandom(.normal, into: noise.buffer, count: noise.count, key: PhiloxKey(seed: 5), counter: PhiloxCounter(), probabilities: nil)
        let repeater = try Objective.Repeater(batch: batch, samples: k, on: backend)

        // the log-weights, as the objective forms them
        let qK = try repeater.repeated(q, on: tape)
        let xK = try tape.pool.tensor(rows: batch * k, cols: 4)
        try backend.gatherRows(x.buffer, rows: batch, cols: 4, indices: repeater.indices, count: batch * k, into: xK.buffer)
        let (y, input) = try vae.sample(qK, noise: noise, on: tape)
        let ll = try vae.logLikelihood(xK, vae.decode(input, on: tape), on: tape)
        let (logQ, logPrior) = try vae.logDensities(latent: y, posterior: qK, on: tape)
        let w = try backend.download(try tape.binary(.add, ll, tape.binary(.sub, logPrior, logQ)).buffer, offset: 0, count: batch * k).map(Double.init)
        func reference(_ alpha: Double) -> Double {
            (0..<batch).reduce(0) { total, i in
                let row = w[(i * k)..<((i + 1) * k)]
                if alpha == 1 { return total + row.reduce(0, +) / Double(k) }
                let s = row.map { (1 - alpha) * $0 }, m = s.max()!
                return total + (m + Foundation.log(s.reduce(0) { $0 + Foundation.exp($1 - m) } / Double(k))) / (1 - alpha)
            }
        }
        var bounds: [Double] = []
        for alpha in [0, 0.5, 0.999, 1] as [Float] {
            let terms = try Objective.renyi(alpha: alpha, model: vae, x: x, posterior: q, noise: noise, samples: k, repeater: repeater, on: tape)
            let bound = try terms.values(on: backend).bound, want = reference(Double(alpha))
            #expect(abs(bound - want) <= 1e-4 * abs(want), "α \(alpha): \(bound) vs \(want)")
            bounds.append(bound)
        }
        let iwae = try Objective.iwae(model: vae, x: x, posterior: q, noise: noise, samples: k, repeater: repeater, on: tape)
        #expect(abs(try iwae.values(on: backend).bound - bounds[0]) <= 1e-5 * abs(bounds[0]), "α = 0 is the IWAE bound")
        #expect(abs(bounds[2] - bounds[3]) < 0.01 * (bounds[0] - bounds[3]), "α → 1 tends to the mean log-weight: \(bounds)")
        #expect(bounds[0] > bounds[1] && bounds[1] > bounds[3], "L_α falls as α rises: \(bounds)")
    }

    @Test func theCommandTakesTheObjective() throws {
        let dir = try temporaryDirectory("renyi")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["train", "--backend", "cpu", "--limit", "200", "--epochs", "1"]
        let run = try runTool(base + ["--objective", "renyi", "--renyi-alpha", "0.5", "--out", dir + "/run"])
        #expect(run.status == 0 && run.stdout.contains("Rényi bound α=0.5 k=5"), "\(run.stdout) \(run.stderr)")
        let config = try RunConfig.load(from: dir + "/run/config.json")
        #expect(config.renyiAlpha == 0.5 && config.iwSamples == 5)
        for (flags, message) in [(["--objective", "renyi"], "--objective renyi needs --renyi-alpha"),
                                 (["--renyi-alpha", "0.5"], "--renyi-alpha applies to --objective renyi only"),
                                 (["--objective", "renyi", "--renyi-alpha", "2"], "--renyi-alpha must lie in [0, 1]")] {
            let result = try runTool(base + flags + ["--out", dir + "/bad"])
            #expect(result.status != 0 && result.stderr.contains(message), "\(flags): \(result.stderr)")
        }
    }
}
