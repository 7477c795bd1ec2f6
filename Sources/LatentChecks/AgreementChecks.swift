// Every op of a backend against its CPU twin at several shapes: the forward value and, through the tape, the
// gradient of every input, with the same inputs on both. The shapes reach the forms a GPU takes (work-group per row
// for long rows and small batches, column tiles for few columns) as well as odd sizes.

import Foundation
import LatentKit

/// A tape function compared between a backend and the CPU backend.
public struct AgreementCase: Sendable, CustomStringConvertible {
    public let description: String
    public let inputs: [InputSpec]
    public let tape: @Sendable (Tape, [Tensor]) throws -> Tensor
    /// Relative bound, and the absolute bound as a fraction of the largest CPU value of the same tensor (sums of
    /// thousands of terms round differently in another order).
    public let rtol: Double

    public init(_ description: String, _ inputs: [InputSpec], rtol: Double = 1e-5, tape: @escaping @Sendable (Tape, [Tensor]) throws -> Tensor) {
        self.description = description
        self.inputs = inputs
        self.tape = tape
        self.rtol = rtol
    }

    public func check(on backend: any Backend) throws -> CheckResult {
        let got = try TapeRun(inputs, on: backend, tape), want = try TapeRun(inputs, on: CPUBackend.shared, tape)
        var result = CheckResult(agreementWithin: rtol)
        result.compare(got.output, cpu: want.output, rtol: rtol, "output")
        for (i, (g, w)) in zip(got.gradients, want.gradients).enumerated() {
            switch (g, w) {
            case let (g?, w?): result.compare(g, cpu: w, rtol: rtol, "gradient of input \(i)")
            case (nil, nil): break
            default: result.fail("the gradient of input \(i) reached one backend only")
            }
        }
        return result
    }
}

extension CheckResult {
    /// A result for comparisons with the CPU backend within `rtol` relative plus `rtol` of the largest CPU value.
    init(agreementWithin rtol: Double) { self.init(tolerance: "\(rtol) relative + \(rtol) of the largest value") }

    /// `got` against the CPU backend's `cpu`, element by element, within `rtol·|cpu| + rtol·max|cpu|` (sums of many
    /// terms round differently in another order, so the absolute part scales with the tensor's largest finite value).
    mutating func compare(_ got: [Float], cpu: [Float], rtol: Double, _ what: String) {
        let scale = Double(cpu.lazy.filter(\.isFinite).map(\.magnitude).max() ?? 0)
        if got.count != cpu.count { fail("\(what): \(got.count) values, the CPU backend \(cpu.count)") }
        for (i, (x, y)) in zip(got, cpu).enumerated() { compare(Double(x), Double(y), rtol: rtol, atol: rtol * scale, "\(what)[\(i)]") }
    }
}

public enum AgreementChecks {
    static func spec(_ rows: Int, _ cols: Int, _ range: ClosedRange<Double>, constant: Bool = false) -> InputSpec {
        (rows, cols, range, constant)
    }

    /// Batch rows × columns: odd, a typical batch, few columns, long rows.
    static let shapes = [(7, 3), (100, 200), (1000, 20), (3, 2000)]

    public static let cases: [AgreementCase] = {
        var cases: [AgreementCase] = []
        for op in UnaryOp.allCases {
            let range: ClosedRange<Double> = [.abs, .relu, .elu].contains(op) ? -5...5 : smoothDomain(op)
            for (r, c) in [(7, 3), (100, 200)] {
                cases.append(AgreementCase("unary \(op.cName) \(r)x\(c)", [spec(r, c, range)]) { t, x in try t.unary(op, x[0]) })
            }
        }
        for op in [BinaryOp.add, .sub, .mul, .div] {
            for broadcast in Broadcast.allCases {
                let b = switch broadcast { case .none: (100, 200); case .row: (1, 200); case .column: (100, 1); case .scalar: (1, 1) }
                cases.append(AgreementCase("binary \(op.rawValue) \(broadcast) 100x200", [spec(100, 200, -2...2), spec(b.0, b.1, 0.5...2)]) { t, x in
                    try t.binary(op, x[0], x[1], broadcast: broadcast)
                })
            }
        }
        for (r, c) in shapes {
            for axis in ReductionAxis.allCases {
                cases.append(AgreementCase("sum \(axis) \(r)x\(c)", [spec(r, c, -2...2)]) { t, x in try t.sum(x[0], axis: axis) })
                cases.append(AgreementCase("logsumexp \(axis) \(r)x\(c)", [spec(r, c, -3...3)]) { t, x in try t.logSumExp(x[0], axis: axis) })
            }
            cases.append(AgreementCase("logSoftmax \(r)x\(c)", [spec(r, c, -3...3)]) { t, x in try t.logSoftmax(x[0]) })
            cases.append(AgreementCase("batchNorm \(r)x\(c)", [spec(r, c, -2...2), spec(1, c, 0.5...2), spec(1, c, -1...1)]) { t, x in
                let statistics = try BatchNorm(name: "bn", features: c, on: t.backend)
                return try t.batchNorm(x[0], scale: x[1], shift: x[2], runningMean: statistics.runningMean,
                                       runningVariance: statistics.runningVariance, epsilon: BatchNorm.epsilon, momentum: BatchNorm.momentum)
            })
            cases.append(AgreementCase("batchNorm fixed scale, eps 1e-3 \(r)x\(c)", [spec(r, c, -2...2), spec(1, c, -1...1)]) { t, x in
                let bn = try BatchNorm(name: "bn", features: c, epsilon: 1e-3, momentum: 1e-3, learnsScale: false, on: t.backend)
                return try t.batchNorm(x[0], scale: bn.scale, shift: x[1], runningMean: bn.runningMean,
                                       runningVariance: bn.runningVariance, epsilon: bn.epsilon, momentum: bn.momentum)
            })
            cases.append(AgreementCase("dropout keep 0.8 \(r)x\(c)", [spec(r, c, -2...2)]) { t, x in
                try t.dropout(x[0], keep: 0.8, key: PhiloxKey(seed: 5, stream: 0x1004), counter: PhiloxCounter(0, 3, 0, 0), streamOffset: 1)
            })
            cases.append(AgreementCase("gaussian posterior (joined heads) \(r)x\(c)", [spec(r, 2 * c, -2...1), spec(r, c, -2...2, constant: true)]) { t, x in
                let (z, kl) = try t.gaussianPosterior(heads: x[0], noise: x[1])
                return try t.binary(.add, z, kl, broadcast: .column)
            })
            cases.append(AgreementCase("gaussian conditional posterior (continuous layer) \(r)x\(c)",
                                       [spec(r, 2 * c, -2...1), spec(r, 2 * c, -2...1), spec(r, c, -2...2, constant: true)]) { t, x in
                let (z, kl) = try t.gaussianConditionalPosterior(posteriorHeads: x[0], priorHeads: x[1], noise: x[2])
                return try t.binary(.add, t.concatColumns([z, t.affine(z, alpha: 0.5)]), kl, broadcast: .column)
            })
            cases.append(AgreementCase("gaussian sample and KL \(r)x\(c)", [spec(r, c, -2...2), spec(r, c, -2...1), spec(r, c, -2...2, constant: true)]) { t, x in
                try t.binary(.add, t.gaussianSample(mean: x[0], logVariance: x[1], noise: x[2]),
                             t.gaussianKL(mean: x[0], logVariance: x[1]), broadcast: .column)
            })
            cases.append(AgreementCase("bernoulli log-likelihood \(r)x\(c)", [spec(r, c, -4...4), spec(r, c, 0...1, constant: true)]) { t, x in
                try t.bernoulliLogLikelihood(logits: x[0], targets: x[1])
            })
            cases.append(AgreementCase("multinomial log-likelihood \(r)x\(c)", [spec(r, c, -4...4), spec(r, c, 0...5, constant: true)]) { t, x in
                try t.multinomialLogLikelihood(logits: x[0], counts: x[1])
            })
            cases.append(AgreementCase("gaussian log-density \(r)x\(c)", [spec(r, c, -2...2), spec(r, c, -1...1), spec(r, c, -1...1)]) { t, x in
                try t.gaussianLogDensity(x[0], mean: x[1], logVariance: x[2])
            })
            cases.append(AgreementCase("logit-normal sample and density \(r)x\(c)",
                                       [spec(r, c, -2...2), spec(r, c, -2...1), spec(r, c, -2...2, constant: true)]) { t, x in
                let (y, z) = try t.logitNormalSample(mean: x[0], logVariance: x[1], noise: x[2])
                return try t.binary(.add, z, t.logitNormalLogDensity(logit: y, mean: x[0], logVariance: x[1]), broadcast: .column)
            })
        }
        // Concrete: categoricals of 10 classes, 2, 20 and 200 per row.
        for (r, c) in [(100, 20), (100, 200), (3, 2000), (7, 30)] {
            for lambda: Float in [0.5, 1] {
                cases.append(AgreementCase("concrete sample and densities λ=\(lambda) \(r)x\(c / 10)x10",
                                           [spec(r, c, -2...2), spec(r, c, -1...3, constant: true)], rtol: 2e-5) { t, x in
                    let y = try t.concreteSample(logits: x[0], gumbel: x[1], temperature: lambda, categories: 10)
                    let q = try t.concreteLogDensity(y, logits: x[0], temperature: lambda, categories: 10)
                    let p = try t.concreteLogDensity(y, logits: nil, temperature: lambda, categories: 10)
                    return try t.binary(.add, y, t.binary(.sub, q, p), broadcast: .column)
                })
            }
            cases.append(AgreementCase("categorical KL \(r)x\(c / 10)x10", [spec(r, c, -3...3)]) { t, x in try t.categoricalKL(x[0], categories: 10) })
        }
        // Dirichlet: K = 4, 20, 200 and 2,000 components, small and large concentrations. For K ≥ 200 the bounds widen where
        // the float32 sums in another order (a work-group's) round differently: the KL is a difference of sums of K lgamma
        // terms of up to ~1e5 each (1e-3 of a KL of ~3,000 at K = 2,000), and the Aitchison-Shen density's gradients hold
        // Σ_j q_j over the other K - 1 components, which cancels (Σ|q_j| is ~10³ times |Σ q_j| at these α, in float64).
        for (r, k) in [(7, 4), (100, 20), (100, 200), (3, 2000)] {
            let wide = k >= 200
            for (name, range) in [("small α", 0.2...1.5), ("large α", 2.0...40.0)] {
                for approximation in LogisticNormal.allCases {
                    cases.append(AgreementCase("dirichlet \(approximation) sample and density \(name) \(r)x\(k)",
                                               [spec(r, k, range), spec(r, k, -2...2, constant: true)],
                                               rtol: approximation == .laplace ? (k >= 1000 ? 1e-4 : 2e-5) : (wide ? 5e-3 : 2e-5)) { t, x in
                        let y = try t.dirichletSample(approximation, alpha: x[0], noise: x[1])
                        return try t.binary(.add, y, t.dirichletApproximationLogDensity(approximation, logits: y, alpha: x[0]), broadcast: .column)
                    })
                }
                cases.append(AgreementCase("dirichlet KL \(name) \(r)x\(k)", [spec(r, k, range)], rtol: wide ? 1e-3 : 2e-5) { t, x in
                    try t.dirichletKL(x[0], priorConcentration: 0.5)
                })
                cases.append(AgreementCase("dirichlet log-density \(name) \(r)x\(k)", [spec(r, k, 0.05...0.6), spec(r, k, range)], rtol: 2e-5) { t, x in
                    try t.dirichletLogDensity(x[0], alpha: x[1])
                })
            }
        }
        // Chain and grid Gaussians at 20 and 200 latents.
        for (r, s) in [(100, PrecisionStructure.chain(20)), (100, PrecisionStructure(blocks: 4, blockSize: 5)), (3, PrecisionStructure.chain(200)),
                       (7, PrecisionStructure(blocks: 10, blockSize: 20))] {
            let n = s.latentSize, m = s.offDiagonalCount
            cases.append(AgreementCase("structured gaussian \(s) \(r) rows",
                                       [spec(r, n, -1...1), spec(r, n, -1...1), spec(r, m, -0.3...0.3), spec(r, n, -2...2, constant: true)],
                                       rtol: 2e-5) { t, x in
                let z = try t.structuredGaussianSample(s, mean: x[0], logVariance: x[1], offDiagonal: x[2], noise: x[3])
                let q = try t.structuredGaussianLogDensity(s, z, mean: x[0], logVariance: x[1], offDiagonal: x[2])
                let kl = try t.structuredGaussianKL(s, mean: x[0], logVariance: x[1], offDiagonal: x[2])
                return try t.binary(.add, z, t.binary(.add, q, kl), broadcast: .column)
            })
        }
        // GEMM in every transpose, the dense layer's fused epilogue, the ELBO's loss chain.
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let (m, k, n) = (100, 200, 50)
            cases.append(AgreementCase("matmul \(ta ? "T" : "N")\(tb ? "T" : "N") \(m)x\(k)x\(n)",
                                       [spec(ta ? k : m, ta ? m : k, -1...1), spec(tb ? n : k, tb ? k : n, -1...1)]) { t, x in
                try t.matmul(x[0], x[1], transposeA: ta, transposeB: tb)
            })
        }
        for activation in [UnaryOp.softplus, .tanh, .relu, nil] {
            cases.append(AgreementCase("dense 100x784→200 \(activation?.cName ?? "linear")",
                                       [spec(100, 784, 0...1), spec(784, 200, -0.1...0.1), spec(1, 200, -1...1)]) { t, x in
                try t.dense(x[0], weight: x[1], bias: x[2], activation: activation)
            })
        }
        for rows in [1, 100, 1000] {
            cases.append(AgreementCase("ELBO loss chain \(rows) rows", [spec(rows, 1, -500...0), spec(rows, 1, 0...30)]) { t, x in
                try t.elboLoss(logLikelihood: x[0], kl: x[1], klWeight: 0.7, batch: rows).loss
            })
        }
        // The Discrete VAE's spike-and-exponential sample and RBM energy.
        for (r, c) in [(7, 3), (100, 200)] {
            cases.append(AgreementCase("spike-and-exponential \(r)x\(c)", [spec(r, c, -3...3), spec(r, c, 0.01...0.99, constant: true)]) { t, x in
                let (zeta, z) = try t.spikeAndExponentialSample(logits: x[0], uniforms: x[1], beta: 10)
                return try t.binary(.add, zeta, z)
            })
        }
        for (rows, shape) in [(7, RBMShape(a: 2, b: 3)), (100, RBMShape(a: 64, b: 64))] {
            cases.append(AgreementCase("rbm energy \(shape.a)+\(shape.b) \(rows) rows",
                                       [spec(rows, shape.units, 0...1), spec(shape.a, shape.b, -1...1), spec(1, shape.units, -1...1)]) { t, x in
                try t.rbmEnergy(x[0], weights: x[1], bias: x[2], shape: shape)
            })
        }
        // The implicit Gamma gradient is a power series accurate to 1e-3 (PyTorch's tolerance, and the suite's against
        // SciPy); samples that differ in their last bits move it by as much.
        for (r, c) in [(7, 3), (100, 200)] {
            cases.append(AgreementCase("gamma sample and implicit gradient \(r)x\(c)", [spec(r, c, 0.1...20)], rtol: 2e-3) { t, x in
                try t.gammaSample(x[0], key: PhiloxKey(seed: 5, stream: 2), counter: PhiloxCounter())
            })
        }
        return cases
    }()

    /// The ops outside the tape: k-NN selection, the minibatch gather with binarisation, multi-tensor Adam.
    static func direct(_ name: String, rtol: Double = 1e-6, _ body: @escaping @Sendable (any Backend) throws -> [(String, [Float])]) -> Check {
        Check("agreement", name, needsReference: true) { backend in
            var result = CheckResult(agreementWithin: rtol)
            for ((what, got), (_, want)) in zip(try body(backend), try body(CPUBackend.shared)) { result.compare(got, cpu: want, rtol: rtol, what) }
            return result
        }
    }

    static let directChecks: [Check] = [(100, 2000, 10), (7, 3, 3), (1000, 20, 5)].map { rows, cols, k in
        direct("smallest \(k) per row \(rows)x\(cols)") { b in
            var x = randomFloats(rows * cols, in: -1...1, seed: 3)
            for i in stride(from: 0, to: x.count, by: 13) { x[i] = x[i / 2] }  // ties
            let values = try b.allocate(count: rows * k, dtype: .float32), indices = try b.allocate(count: rows * k, dtype: .int32)
            try b.smallestPerRow(try b.buffer(x), rows: rows, cols: cols, k: k, intoValues: values, intoIndices: indices)
            return [("values", try b.download(values)), ("indices", try b.downloadInt32(indices, offset: 0, count: rows * k).map(Float.init))]
        }
    } + [(7, 3), (100, 200), (1000, 20), (3, 2000)].map { rows, cols in
        direct("every reduction, rows and columns, \(rows)x\(cols) with infinite lines", rtol: 1e-5) { b in
            var x = randomFloats(rows * cols, in: -3...3, seed: 6)
            for r in 0..<rows { x[r * cols] = -.infinity }  // column 0: all -inf
            for c in 0..<cols where c % 3 == 2 { x[c] = .infinity }  // row 0: some +inf
            let input = try b.buffer(x)
            return try ReduceOp.allCases.flatMap { op in
                try ReductionAxis.allCases.map { axis in
                    let y = try b.allocate(count: axis.outputCount(rows: rows, cols: cols), dtype: .float32)
                    try b.reduce(op, input, rows: rows, cols: cols, axis: axis, into: y)
                    return ("\(op) \(axis)", try b.download(y))
                }
            }
        }
    } + [(100, 784), (7, 3)].map { batch, cols in
        direct("gather and binarise \(batch)x\(cols)") { b in
            let rows = 3 * batch
            let x = try b.buffer(randomFloats(rows * cols, in: 0...1, seed: 4))
            let order = try b.buffer((0..<Int32(rows)).reversed().map { $0 })
            let y = try b.allocate(count: batch * cols, dtype: .float32), plain = try b.allocate(count: batch * cols, dtype: .float32)
            try b.gatherRows(x, rows: rows, cols: cols, indices: order, indexOffset: batch, count: batch,
                             binarizing: (PhiloxKey(seed: 8, stream: 1), PhiloxCounter(9, 0, 0, 0), batch == 7 ? 7 * cols : 0), into: y)
            try b.gatherRows(x, rows: rows, cols: cols, indices: order, indexOffset: 2 * batch, count: batch, binarizing: nil, into: plain)
            return [("binarised", try b.download(y)), ("gathered", try b.download(plain))]
        }
    } + [(7, RBMShape(a: 2, b: 3)), (100, RBMShape(a: 64, b: 64)), (1000, RBMShape(a: 8, b: 8))].map { chains, shape in
        direct("AIS weight increment, \(chains) chains of a \(shape.a)+\(shape.b) RBM", rtol: 1e-5) { b in
            let bits: [Float] = randomFloats(chains * shape.units, in: 0...1, seed: 21).map { $0 < 0.5 ? Float(0) : Float(1) }
            let state = try b.buffer(bits)
            let w = try b.buffer(randomFloats(shape.a * shape.b, in: -0.5...0.5, seed: 22))
            let bias = try b.buffer(randomFloats(shape.units, in: -1...1, seed: 23))
            let logWeights = try b.buffer(randomFloats(chains, in: -1...1, seed: 24))
            try b.rbmFreeEnergyIncrement(state: state, weights: w, bias: bias, shape: shape, chains: chains, from: 0.25, to: 0.5,
                                         accumulatingInto: logWeights)
            return [("log-weights", try b.download(logWeights))]
        }
    } + [direct("multi-tensor Adam, 20 tensors of 1 to 100,000") { b in
        let counts = [1, 3, 1000, 100_000] + Array(repeating: 17, count: 16)
        let tensors = try counts.enumerated().map { i, n in
            try AdamTensors(parameters: b.buffer(randomFloats(n, in: -1...1, seed: UInt64(4 * i))),
                            gradients: b.buffer(randomFloats(n, in: -1...1, seed: UInt64(4 * i + 1))),
                            firstMoment: b.buffer(randomFloats(n, in: -0.1...0.1, seed: UInt64(4 * i + 2))),
                            secondMoment: b.buffer(randomFloats(n, in: 0...0.01, seed: UInt64(4 * i + 3))), count: n)
        }
        try b.adamStep(tensors, hyperparameters: AdamHyperparameters(), step: 3)
        return try tensors.enumerated().flatMap { i, t in
            [("parameters \(i)", try b.download(t.parameters)), ("first moment \(i)", try b.download(t.firstMoment)),
             ("second moment \(i)", try b.download(t.secondMoment))]
        }
    }]

    public static let all: [Check] = cases.map { c in Check("agreement", c.description, needsReference: true) { try c.check(on: $0) } }
        + directChecks
}
