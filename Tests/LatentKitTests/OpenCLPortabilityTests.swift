// What a GPU is stricter about than PoCL: work-group limits. A second backend capped at work-groups of 64 (a GPU may
// allow a kernel no more) must give the results of the shared one (256 on PoCL) for every recipe's training steps.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite(.serialized) struct OpenCLPortabilityTests {
    static let images = try! mnist(trainLimit: 60, testLimit: 1).train

    func losses(_ recipe: Recipe, on backend: any Backend) throws -> [Double] {
        try Recipe.stepLosses(recipe.config(), images: Self.images, steps: 3, on: backend)
    }

    @Test(arguments: TestBackends.others)
    func smallWorkGroupsGiveTheSameResults(kind: BackendKind) throws {
        let shared = try OpenCLBackend.shared()
        let small = try OpenCLBackend(device: shared.device, workGroupLimit: 64)
        #expect(small.workGroupSize == 64 && shared.workGroupSize > 64, "work-groups \(small.workGroupSize) vs \(shared.workGroupSize)")
        for recipe in Recipe.all {
            let want = try losses(recipe, on: shared), got = try losses(recipe, on: small)
            let worst = zip(got, want).map { abs($0 - $1) / max(abs($1), 1) }.max()!
            // batch norm of 784 Bernoulli logits, most of them near-constant columns, then Adam's first steps (whose
            // update is ±lr for a gradient of any size) turn the reduction order's last bits into 8e-8, 8e-6, 1.6e-5
            // over three steps (measured); every other recipe stays within 1e-5
            let tolerance = recipe.name == "topic-model parts" ? 5e-5 : 1e-5
            #expect(worst <= tolerance, "\(recipe): work-groups of 64 \(got) vs \(shared.workGroupSize) \(want)")
        }
        // the per-row selection of the analysis kernels
        let rows = 37, cols = 300, k = 7
        let x = randomFloats(rows * cols, in: -1...1, seed: 3)
        func smallest(_ backend: OpenCLBackend) throws -> ([Float], [Int32]) {
            let v = try backend.allocate(count: rows * k, dtype: .float32), i = try backend.allocate(count: rows * k, dtype: .int32)
            try backend.smallestPerRow(try backend.buffer(x), rows: rows, cols: cols, k: k, intoValues: v, intoIndices: i)
            return (try backend.download(v), try backend.downloadInt32(i, offset: 0, count: rows * k))
        }
        let (a, ai) = try smallest(shared), (b, bi) = try smallest(small)
        #expect(a == b && ai == bi)
    }

    /// Both forms of the reduction kernels (one work-item per line; column tiles or a work-group per row) against the CPU
    /// backend: batch normalisation and the column sum down columns, the Dirichlet KL along rows.
    @Test(arguments: TestBackends.others)
    func bothReductionFormsAgreeWithTheCPU(kind: BackendKind) throws {
        let device = try OpenCLBackend.shared().device
        for form in [OpenCLBackend.ReductionForm.workItemPerLine, .workGroupPerLines] {
            let backend = try OpenCLBackend(device: device, reductionForm: form)
            for (rows, cols) in [(100, 200), (7, 3), (1000, 20), (2, 33), (3, 2000)] {
                let got = try columnOps(rows: rows, cols: cols, on: backend), want = try columnOps(rows: rows, cols: cols, on: CPUBackend.shared)
                for (name, g) in got where name != "dirichlet KL" {
                    let m = firstMismatch(g, want[name]!, rtol: 1e-5, atol: 1e-5)
                    #expect(m == nil, "\(form) \(rows)x\(cols) \(name): \(String(describing: m))")
                }
                // the KL is a difference of sums of up to thousands of lgamma terms: float rounding of those sums, in
                // whatever order, is the bound (1e-5 of the sum of the terms' magnitudes)
                if let kl = got["dirichlet KL"], let reference = want["dirichlet KL"], let scale = want["dirichlet KL scale"] {
                    for r in 0..<rows {
                        #expect(abs(kl[r] - reference[r]) <= 1e-5 * scale[r], "\(form) \(rows)x\(cols) dirichlet KL[\(r)]: \(kl[r]) vs \(reference[r])")
                    }
                }
            }
        }
    }

    /// Every op of the self-test's agreement checks (each family kernel at shapes from 7×3 to 3×2,000, forward and
    /// gradients) against the CPU backend on a backend forced to each reduction form, so that both forms of every
    /// row and column kernel are checked whatever shape picks which.
    @Test(arguments: TestBackends.others, [OpenCLBackend.ReductionForm.workItemPerLine, .workGroupPerLines])
    func bothReductionFormsPassTheAgreementChecks(kind: BackendKind, form: OpenCLBackend.ReductionForm) throws {
        let backend = try OpenCLBackend(device: try OpenCLBackend.shared().device, reductionForm: form)
        for check in AgreementChecks.all {
            let result = try check.run(backend)
            #expect(result.passed, "\(form) \(check): \(result.summary)")
        }
    }

    /// Batch normalisation forward and backward, the column sum and the Dirichlet KL with its gradient on `backend`, every
    /// output by name.
    func columnOps(rows: Int, cols: Int, on backend: any Backend) throws -> [String: [Float]] {
        let x = try backend.buffer(randomFloats(rows * cols, in: -2...3, seed: UInt64(rows + cols)))
        let dy = try backend.buffer(randomFloats(rows * cols, in: -1...1, seed: 9))
        let scale = try backend.buffer(randomFloats(cols, in: 0.5...2, seed: 10)), shift = try backend.buffer(randomFloats(cols, in: -1...1, seed: 11))
        let runningMean = try backend.buffer(randomFloats(cols, in: -1...1, seed: 12)), runningVariance = try backend.buffer(randomFloats(cols, in: 0.5...2, seed: 13))
        func matrix() throws -> Buffer { try backend.allocate(count: rows * cols, dtype: .float32) }
        func column() throws -> Buffer { try backend.allocate(count: cols, dtype: .float32) }
        let y = try matrix(), mean = try column(), inv = try column(), dx = try matrix(), dScale = try column(), dShift = try column(), sums = try column()
        try backend.batchNormTraining(x, scale: scale, shift: shift, rows: rows, cols: cols, epsilon: 1e-5, momentum: 0.1, runningMean: runningMean,
                                      runningVariance: runningVariance, into: y, batchMean: mean, inverseDeviation: inv)
        try backend.batchNormBackward(x, scale: scale, batchMean: mean, inverseDeviation: inv, gradient: dy, rows: rows, cols: cols,
                                      intoInput: dx, intoScale: dScale, intoShift: dShift)
        try backend.reduce(.sum, x, rows: rows, cols: cols, axis: .eachColumn, into: sums)
        // the Dirichlet KL and its gradient along rows of `cols` components (cols >= 2)
        let alpha = try backend.buffer(randomFloats(rows * cols, in: 0.05...20, seed: 14)), g = try backend.buffer(randomFloats(rows, in: -1...1, seed: 15))
        let kl = try backend.allocate(count: rows, dtype: .float32), dAlpha = try matrix()
        if cols >= 2 {
            try backend.dirichletKL(alpha: alpha, priorConcentration: 0.7, rows: rows, components: cols, into: kl)
            try backend.dirichletKLBackward(alpha: alpha, priorConcentration: 0.7, gradient: g, rows: rows, components: cols, into: dAlpha)
        }
        var klScale: [Float] = []
        if cols >= 2 {
            let a = try backend.download(alpha).map(Double.init)
            klScale = (0..<rows).map { r in
                let row = a[(r * cols)..<((r + 1) * cols)], a0 = row.reduce(0, +)
                return Float(abs(Foundation.lgamma(a0)) + row.map { abs(Foundation.lgamma($0)) + abs(($0 - 0.7) * (SpecialFunctions.digamma($0) - SpecialFunctions.digamma(a0))) }
                    .reduce(0, +))
            }
        }
        // the categorical KL and its gradient: rows of cols / k categoricals of k classes
        let k = cols % 10 == 0 ? 10 : cols
        let categoricalKL = try backend.allocate(count: rows, dtype: .float32), dLogits = try matrix()
        if k >= 2 {
            try backend.categoricalKL(logits: x, rows: rows, groups: cols / k, categories: k, into: categoricalKL)
            try backend.categoricalKLBackward(logits: x, gradient: g, rows: rows, groups: cols / k, categories: k, into: dLogits)
        }
        let outputs = [("y", y), ("batch mean", mean), ("inverse deviation", inv), ("running mean", runningMean),
                       ("running variance", runningVariance), ("dx", dx), ("dscale", dScale), ("dshift", dShift), ("column sums", sums)]
            + (cols >= 2 ? [("dirichlet KL", kl), ("dirichlet KL gradient", dAlpha), ("categorical KL", categoricalKL),
                            ("categorical KL gradient", dLogits)] : [])
        return try Dictionary(uniqueKeysWithValues: outputs.map { ($0.0, try backend.download($0.1)) }).merging(["dirichlet KL scale": klScale]) { a, _ in a }
    }
}
