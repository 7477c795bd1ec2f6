// The fused ops of a training step: dense epilogues and their backward, the ELBO loss chain, the gather with
// binarisation, the joined-heads Gaussian posterior and the multi-tensor Adam step. Each is checked against the unfused ops it
// replaces (bit for bit on the CPU, where it is those ops), across backends, and against float64 references.

import Foundation
import LatentKit
import Testing
import TestSupport

/// Each row of `a` followed by the same row of `b` (both `rows × n`): the joined-heads layout.
func joinRows(_ a: [Float], _ b: [Float], rows: Int, n: Int) -> [Float] {
    var out: [Float] = []
    for r in 0..<rows {
        out += a[(r * n)..<((r + 1) * n)]
        out += b[(r * n)..<((r + 1) * n)]
    }
    return out
}

@Suite struct TrainingStepKernelTests {
    static let shapes = [(1, 1), (3, 17), (7, 33), (100, 200)]

    /// Runs the dense epilogue and its backward on `backend`; returns (a, y, da, dbias).
    func dense(_ activation: UnaryOp?, rows: Int, cols: Int, on backend: any Backend) throws -> [[Float]] {
        let a = try backend.buffer(randomFloats(rows * cols, in: -4...4, seed: UInt64(rows * 31 + cols)))
        let bias = try backend.buffer(randomFloats(cols, in: -1...1, seed: 5))
        let dy = try backend.buffer(randomFloats(rows * cols, in: -2...2, seed: 6))
        let y = try backend.allocate(count: rows * cols, dtype: .float32), da = try backend.allocate(count: rows * cols, dtype: .float32)
        let db = try backend.allocate(count: cols, dtype: .float32)
        try backend.biasActivation(activation, preActivation: a, bias: bias, rows: rows, cols: cols, into: y)
        try backend.biasActivationBackward(activation, preActivation: a, gradient: dy, rows: rows, cols: cols,
                                           intoInput: activation == nil ? nil : da, intoBias: db)
        return [try backend.download(a), activation == nil ? [] : try backend.download(y), activation == nil ? [] : try backend.download(da),
                try backend.download(db)]
    }

    @Test(arguments: TestBackends.others)
    func denseEpilogueAgreesAcrossBackends(kind: BackendKind) throws {
        let other = try TestBackends.backend(kind)
        for activation in [nil] + UnaryOp.denseActivations {
            for (rows, cols) in Self.shapes {
                let want = try dense(activation, rows: rows, cols: cols, on: CPUBackend.shared)
                let got = try dense(activation, rows: rows, cols: cols, on: other)
                for (part, name) in zip(0..<4, ["pre-activation", "activation", "input gradient", "bias gradient"]) {
                    let m = firstMismatch(got[part], want[part], rtol: 1e-5, atol: 1e-5)
                    #expect(m == nil, "\(activation?.cName ?? "identity") \(rows)x\(cols) \(name): \(String(describing: m))")
                }
            }
        }
    }

    /// The CPU backend's softplus epilogue runs in one pass each way (bias, activation and, backward, the bias
    /// gradient's column sums over each half of the rows, as `reduce` sums them): the same bits as the separate ops it
    /// fuses.
    @Test(arguments: [(3, 17), (100, 200), (1000, 200), (1000, 784)])
    func cpuSoftplusEpilogueEqualsTheOpsItFuses(shape: (Int, Int)) throws {
        let backend = CPUBackend.shared, (rows, cols) = shape
        let fused = try dense(.softplus, rows: rows, cols: cols, on: backend)
        let a = try backend.buffer(randomFloats(rows * cols, in: -4...4, seed: UInt64(rows * 31 + cols)))
        let bias = try backend.buffer(randomFloats(cols, in: -1...1, seed: 5))
        let dy = try backend.buffer(randomFloats(rows * cols, in: -2...2, seed: 6))
        let y = try backend.allocate(count: rows * cols, dtype: .float32), da = try backend.allocate(count: rows * cols, dtype: .float32)
        let db = try backend.allocate(count: cols, dtype: .float32)
        try backend.binary(.add, a, bias, broadcast: .row, rows: rows, cols: cols, into: a)
        try backend.unary(.softplus, a, into: y, count: rows * cols)
        try backend.unaryBackward(.softplus, x: a, gradient: dy, into: da, count: rows * cols)
        try backend.reduce(.sum, da, rows: rows, cols: cols, axis: .eachColumn, into: db)
        let separate = [try backend.download(a), try backend.download(y), try backend.download(da), try backend.download(db)]
        for part in 0..<4 { #expect(fused[part] == separate[part], "part \(part) of \(rows)x\(cols)") }
    }

    /// The backward form against float64: `da = dy f'(a + bias)` by central differences of the float64 activation, and
    /// `dbias` the column sums of `da`.
    @Test(arguments: TestBackends.all)
    func denseBackwardMatchesFiniteDifferences(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let rows = 9, cols = 13
        let a0 = randomFloats(rows * cols, in: -3...3, seed: 11), bias = randomFloats(cols, in: -0.5...0.5, seed: 12)
        let dy = randomFloats(rows * cols, in: -1...1, seed: 13)
        for activation in UnaryOp.denseActivations {
            var inputs = a0
            if activation == .relu || activation == .elu { inputs = inputs.map { abs($0) < 0.05 ? $0 + 0.2 : $0 } }  // away from the kink
            let a = try backend.buffer(inputs), y = try backend.allocate(count: rows * cols, dtype: .float32)
            let da = try backend.allocate(count: rows * cols, dtype: .float32), db = try backend.allocate(count: cols, dtype: .float32)
            try backend.biasActivation(activation, preActivation: a, bias: try backend.buffer(bias), rows: rows, cols: cols, into: y)
            try backend.biasActivationBackward(activation, preActivation: a, gradient: try backend.buffer(dy), rows: rows, cols: cols,
                                               intoInput: da, intoBias: db)
            let gotDa = try backend.download(da), gotDb = try backend.download(db)
            var wantDb = [Double](repeating: 0, count: cols)
            for i in 0..<(rows * cols) {
                let x = Double(inputs[i]) + Double(bias[i % cols]), h = 1e-5
                let derivative = (referenceForward(activation, x + h) - referenceForward(activation, x - h)) / (2 * h)
                let want = Double(dy[i]) * derivative
                wantDb[i % cols] += want
                #expect(abs(Double(gotDa[i]) - want) <= 1e-4 * abs(want) + 1e-5, "\(activation.cName) da[\(i)] \(gotDa[i]) vs \(want)")
            }
            for c in 0..<cols {
                #expect(abs(Double(gotDb[c]) - wantDb[c]) <= 1e-4 * abs(wantDb[c]) + 1e-4, "\(activation.cName) dbias[\(c)] \(gotDb[c]) vs \(wantDb[c])")
            }
        }
    }

    @Test(arguments: TestBackends.all, [1, 100, 1000])
    func elboLossMatchesFloat64Sums(kind: BackendKind, rows: Int) throws {
        let backend = try TestBackends.backend(kind)
        let ll = randomFloats(rows, in: -400 ... -50, seed: 21), kl = randomFloats(rows + 3, in: 0...30, seed: 22)
        let loss = try backend.allocate(count: 1, dtype: .float32), summary = try backend.allocate(count: 2, dtype: .float32)
        let klScale = Float(0.3) / Float(rows), likelihoodScale = 1 / Float(rows)
        try backend.elboLoss(logLikelihood: try backend.buffer(ll), count: rows, kl: try backend.buffer(kl), count: rows + 3, klScale: klScale,
                             likelihoodScale: likelihoodScale, intoLoss: loss, intoSummary: summary)
        let l = ll.reduce(0.0) { $0 + Double($1) }, k = kl.reduce(0.0) { $0 + Double($1) }
        let s = try backend.download(summary), got = try backend.download(loss)[0]
        #expect(abs(Double(s[0]) - (l - k)) <= 1e-6 * abs(l - k) && abs(Double(s[1]) - k) <= 1e-6 * k, "\(s) vs \(l - k), \(k)")
        let want = Double(klScale) * k - Double(likelihoodScale) * l
        #expect(abs(Double(got) - want) <= 1e-6 * abs(want), "loss \(got) vs \(want)")
        let dll = try backend.allocate(count: rows, dtype: .float32), dkl = try backend.allocate(count: rows + 3, dtype: .float32)
        for seeded in [false, true] {  // the gradient on the device, or the seed of a backward pass that starts at the loss
            try backend.elboLossBackward(gradient: seeded ? nil : try backend.buffer([Float(2)]), seed: 2, llCount: rows, klCount: rows + 3,
                                         klScale: klScale, likelihoodScale: likelihoodScale, intoLogLikelihood: dll, intoKL: dkl)
            #expect(try backend.download(dll).allSatisfy { $0 == likelihoodScale * -2 })
            #expect(try backend.download(dkl).allSatisfy { $0 == klScale * 2 })
        }
    }

    /// The gather with an index offset and binarisation equals a gather of the offset indices followed by the Bernoulli
    /// fill in place, bit for bit, on every backend; an index out of range gives a row of NaN (of zeros once binarised).
    @Test(arguments: TestBackends.all)
    func gatherWithBinarisationIsTheTwoOpsItReplaces(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let rows = 11, cols = 7, count = 5, offset = 3
        let x = try backend.buffer(randomFloats(rows * cols, in: 0...1, seed: 31))
        let order: [Int32] = [4, 9, 0, 2, 10, 1, 3, 12, 5]  // 12 is out of range
        let indices = try backend.buffer(order)
        let key = PhiloxKey(seed: 7, stream: 3), counter = PhiloxCounter(5, 1, 0, 0)
        for (binarise, streamOffset) in [(false, 0), (true, 0), (true, 5)] {  // 5: rows that start inside a Philox block
            let fused = try backend.allocate(count: count * cols, dtype: .float32)
            try backend.gatherRows(x, rows: rows, cols: cols, indices: indices, indexOffset: offset, count: count,
                                   binarizing: binarise ? (key, counter, streamOffset) : nil, into: fused)
            let twoOps = try backend.allocate(count: count * cols, dtype: .float32)
            try backend.gatherRows(x, rows: rows, cols: cols, indices: try backend.buffer(Array(order[offset...])), count: count, into: twoOps)
            if binarise {
                try backend.fillRandom(.bernoulli, into: twoOps, count: count * cols, key: key, counter: counter, streamOffset: streamOffset,
                                       probabilities: twoOps)
            }
            let got = try backend.download(fused), want = try backend.download(twoOps)
            #expect(firstMismatch(got, want, rtol: 0) == nil, "binarise \(binarise): \(got) vs \(want)")
            let outOfRange = got[(4 * cols)..<(5 * cols)]
            #expect(binarise ? outOfRange.allSatisfy { $0 == 0 } : outOfRange.allSatisfy(\.isNaN))
        }
    }

    /// The joined-heads posterior equals the separate sample and KL kernels on the split heads (bit for bit on the CPU),
    /// forward and backward, with either gradient absent.
    @Test(arguments: TestBackends.all)
    func gaussianPosteriorIsTheSeparateKernels(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let rows = 9, n = 21, plv: Float = 0.3
        let mean = randomFloats(rows * n, in: -2...2, seed: 41), lv = randomFloats(rows * n, in: -3...1, seed: 42)
        let heads = joinRows(mean, lv, rows: rows, n: n)
        let noise = try backend.buffer(randomFloats(rows * n, in: -2...2, seed: 43))
        let dzValues = randomFloats(rows * n, in: -1...1, seed: 44), gValues = randomFloats(rows, in: -1...1, seed: 45)
        let z = try backend.allocate(count: rows * n, dtype: .float32), kl = try backend.allocate(count: rows, dtype: .float32)
        try backend.gaussianPosterior(heads: try backend.buffer(heads), noise: noise, priorLogVariance: plv, rows: rows, latent: n,
                                      intoSample: z, intoKL: kl)
        let mu = try backend.buffer(mean), logVariance = try backend.buffer(lv)
        let z2 = try backend.allocate(count: rows * n, dtype: .float32), kl2 = try backend.allocate(count: rows, dtype: .float32)
        try backend.gaussianSample(mean: mu, logVariance: logVariance, noise: noise, into: z2, count: rows * n)
        try backend.gaussianKL(mean: mu, logVariance: logVariance, priorLogVariance: plv, rows: rows, cols: n, into: kl2)
        #expect(firstMismatch(try backend.download(z), try backend.download(z2), rtol: 0) == nil)
        #expect(firstMismatch(try backend.download(kl), try backend.download(kl2), rtol: 0) == nil)

        for (useDz, useG) in [(true, true), (true, false), (false, true)] {
            let dz = useDz ? try backend.buffer(dzValues) : nil, g = useG ? try backend.buffer(gValues) : nil
            let dHeads = try backend.allocate(count: 2 * rows * n, dtype: .float32)
            try backend.gaussianPosteriorBackward(heads: try backend.buffer(heads), noise: noise, priorLogVariance: plv, sampleGradient: dz,
                                                  klGradient: g, rows: rows, latent: n, intoHeads: dHeads)
            // the separate kernels, added as the tape adds them (the KL's gradient first)
            var dmu = [Float](repeating: 0, count: rows * n), dlv = dmu
            if let g {
                let a = try backend.allocate(count: rows * n, dtype: .float32), b = try backend.allocate(count: rows * n, dtype: .float32)
                try backend.gaussianKLBackward(mean: mu, logVariance: logVariance, priorLogVariance: plv, gradient: g, rows: rows, cols: n,
                                               intoMean: a, intoLogVariance: b)
                dmu = try backend.download(a)
                dlv = try backend.download(b)
            }
            if let dz {
                let b = try backend.allocate(count: rows * n, dtype: .float32)
                try backend.gaussianSampleBackward(logVariance: logVariance, noise: noise, gradient: dz, into: b, count: rows * n)
                let s = try backend.download(b)
                dmu = useG ? zip(dmu, dzValues).map { $0 + $1 } : dzValues
                dlv = useG ? zip(dlv, s).map { $0 + $1 } : s
            }
            let want = joinRows(dmu, dlv, rows: rows, n: n)
            let m = firstMismatch(try backend.download(dHeads), want, rtol: kind == .cpu ? 0 : 1e-6, atol: kind == .cpu ? 0 : 1e-7)
            #expect(m == nil, "dz \(useDz), g \(useG): \(String(describing: m))")
        }
    }

    /// One multi-tensor step over 20 tensors of odd sizes (two launches of up to 16) equals a step of each tensor alone, bit
    /// for bit, and the backends agree.
    @Test(arguments: TestBackends.all)
    func multiTensorAdamIsOneStepPerTensor(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let sizes = (0..<20).map { [1, 3, 17, 200, 1023][$0 % 5] + $0 }
        func state(_ seed: UInt64) throws -> [AdamTensors] {
            try sizes.enumerated().map { i, n in
                AdamTensors(parameters: try backend.buffer(randomFloats(n, in: -1...1, seed: seed + UInt64(i))),
                            gradients: try backend.buffer(randomFloats(n, in: -1...1, seed: 100 + UInt64(i))),
                            firstMoment: try backend.buffer(randomFloats(n, in: -0.1...0.1, seed: 200 + UInt64(i))),
                            secondMoment: try backend.buffer(randomFloats(n, in: 0...0.1, seed: 300 + UInt64(i))), count: n)
            }
        }
        let h = AdamHyperparameters(learningRate: 3e-3)
        let together = try state(1), alone = try state(1)
        try backend.adamStep(together, hyperparameters: h, step: 7)
        for t in alone { try backend.adamStep([t], hyperparameters: h, step: 7) }
        for (a, b) in zip(together, alone) {
            for (x, y) in [(a.parameters, b.parameters), (a.firstMoment, b.firstMoment), (a.secondMoment, b.secondMoment)] {
                #expect(try backend.download(x) == backend.download(y))
            }
        }
        if kind != .cpu {
            let cpu = try sizes.enumerated().map { i, n in try CPUBackend.shared.buffer(randomFloats(n, in: -1...1, seed: 1 + UInt64(i))) }
            let reference = try state(1).enumerated().map { i, t in
                AdamTensors(parameters: cpu[i], gradients: try CPUBackend.shared.buffer(try backend.download(t.gradients)),
                            firstMoment: try CPUBackend.shared.buffer(try backend.download(t.firstMoment)),
                            secondMoment: try CPUBackend.shared.buffer(try backend.download(t.secondMoment)), count: t.count)
            }
            try CPUBackend.shared.adamStep(reference, hyperparameters: h, step: 7)
            for (a, b) in zip(together, reference) {
                let m = firstMismatch(try backend.download(a.parameters), try CPUBackend.shared.download(b.parameters), rtol: 1e-6, atol: 1e-7)
                #expect(m == nil, "\(String(describing: m))")
            }
        }
    }
}
