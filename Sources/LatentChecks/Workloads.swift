// What the benchmarks time, defined once: `Benchmarks/` registers these workloads with package-benchmark, and
// `latentkit bench` times them itself (on a GPU node without a toolchain). Each iteration ends by waiting for the
// device, so its time is the device's and not the enqueue's.

import Foundation
import LatentKit

/// A named piece of work and how much of it one iteration does.
public struct Workload: Sendable, CustomStringConvertible {
    public enum Unit: String, Sendable { case elements, flops = "FLOP", images }

    public let name: String
    public let unit: Unit
    /// Units of work in one iteration (elements, floating-point operations or images).
    public let workPerIteration: Double
    /// Builds what the iterations need on a backend (buffers, a trainer, the kernels) and returns one iteration.
    public let prepare: @Sendable (any Backend) throws -> () throws -> Void

    public var description: String { name }

    /// Throughput in the workload's unit per second, for `seconds` per iteration, in words (`12.3 G FLOP/s`).
    public func throughput(secondsPerIteration seconds: Double) -> String {
        let rate = workPerIteration / seconds
        let (value, prefix) = rate >= 1e9 ? (rate / 1e9, "G ") : rate >= 1e6 ? (rate / 1e6, "M ") : rate >= 1e3 ? (rate / 1e3, "k ") : (rate, "")
        return String(format: "%.3g %@%@/s", value, prefix, unit.rawValue)
    }
}

public enum Workloads {
    public static let elementCount = 1 << 20

    /// Every unary op, the softplus backward form and every random fill at 2^20 elements; GEMM at the VAE's layer
    /// shapes (784→200, 200→200, 200→784) for each batch; the fused family kernels at nz 20 and 200 for each batch.
    public static func kernels(batches: [Int] = [100, 1000]) -> [Workload] {
        let n = elementCount
        func elementwise(_ name: String, _ body: @escaping @Sendable (any Backend, Buffer, Buffer, Buffer) throws -> Void) -> Workload {
            Workload(name: name, unit: .elements, workPerIteration: Double(n)) { backend in
                let x = try backend.buffer((0..<n).map { (i: Int) -> Float in Float(i % 1000) * 0.01 + 0.005 })
                let dy = try backend.buffer([Float](repeating: 0.5, count: n))
                let y = try backend.allocate(count: n, dtype: .float32)
                return {
                    try body(backend, x, dy, y)
                    try backend.synchronize()
                }
            }
        }
        var workloads = UnaryOp.allCases.map { op in elementwise("unary \(op.cName) 1M") { b, x, _, y in try b.unary(op, x, into: y, count: n) } }
        workloads.append(elementwise("unary-backward softplus 1M") { b, x, dy, y in try b.unaryBackward(.softplus, x: x, gradient: dy, into: y, count: n) })
        for distribution in RandomDistribution.allCases {
            workloads.append(elementwise("random \(distribution.rawValue) 1M") { b, x, _, y in
                try b.fillRandom(distribution, into: y, count: n, key: PhiloxKey(seed: 1), counter: PhiloxCounter(), probabilities: x)
            })
        }
        for batch in batches {
            for (k, m) in [(784, 200), (200, 200), (200, 784)] {
                workloads.append(gemm(GemmCall(transposeA: false, transposeB: false, m: batch, n: m, k: k, accumulates: false),
                                      name: "gemm \(batch)x\(k)x\(m)"))
            }
        }
        for batch in batches {
            for latent in [20, 200] {
                workloads += familyKernels(batch: batch, latent: latent)
            }
        }
        return workloads
    }

    /// The forward and backward kernels of each family's latent layer on a `batch × latent` matrix, as one tape pass
    /// (a sample, its KL or density, and the gradients back to the encoder's outputs).
    static func familyKernels(batch: Int, latent: Int) -> [Workload] {
        let families: [(String, @Sendable (Tape, Tensor, Tensor) throws -> Tensor)] = [
            ("gaussian posterior", { t, h, e in
                let (z, kl) = try t.gaussianPosterior(heads: t.binary(.add, h, h), noise: e)
                return try t.binary(.add, z, kl, broadcast: .column)
            }),
            ("dirichlet laplace sample+KL", { t, h, e in
                let a = try t.affine(t.unary(.softplus, t.splitColumns(h, widths: [latent, latent])[0]), alpha: 1, beta: 0.1)
                return try t.binary(.add, t.dirichletSample(.laplace, alpha: a, noise: e), t.dirichletKL(a, priorConcentration: 1), broadcast: .column)
            }),
            ("concrete 10-way sample+KL", { t, h, e in
                let logits = try t.splitColumns(h, widths: [latent, latent])[0]
                return try t.binary(.add, t.concreteSample(logits: logits, gumbel: e, temperature: 0.5, categories: 10),
                                    t.categoricalKL(logits, categories: 10), broadcast: .column)
            }),
        ]
        return families.map { name, body in
            Workload(name: "family \(name) \(batch)x\(latent)", unit: .elements, workPerIteration: Double(batch * latent)) { backend in
                let tape = Tape(pool: BufferPool(backend: backend))
                let heads = try Tensor(randomFloats(batch * 2 * latent, in: -1...1, seed: 1), rows: batch, cols: 2 * latent, on: backend)
                let noise = try Tensor(randomFloats(batch * latent, in: -1...1, seed: 2), rows: batch, cols: latent, on: backend)
                return {
                    tape.reset()
                    tape.watch(heads)
                    try tape.backward(from: tape.sumAll(body(tape, heads, noise)))
                    try backend.synchronize()
                }
            }
        }
    }

    /// Training: one iteration is ``Trainer/readbackInterval`` steps enqueued as `train` enqueues them and read back
    /// once (gather and binarise, forward, backward, Adam), on synthetic images. The default Gaussian model at each
    /// batch in `gaussianBatches`, and every other recipe at each batch in `recipeBatches`.
    public static func training(gaussianBatches: [Int] = [100, 1000], recipeBatches: [Int] = [100]) -> [Workload] {
        let recipes: [(String, @Sendable (inout RunConfig) -> Void)] = [
            ("logit-normal", { $0.model.latent = .logitNormal }),
            ("concrete 20x10", { $0.model.latent = .concrete; $0.model.categoricalGroups = 20; $0.model.latentSize = 200 }),
            ("concrete 20x10 mc-kl", { c in
                c.model.latent = .concrete
                c.model.categoricalGroups = 20
                c.model.latentSize = 200
                c.model.klEstimator = .monteCarlo
            }),
            ("dirichlet laplace", { $0.model.latent = .dirichlet }),
            ("dirichlet kl", { $0.model.latent = .dirichlet; $0.model.dirichletApproximation = .kl }),
            ("dirichlet exact", { $0.model.latent = .dirichlet; $0.model.dirichletApproximation = .exact }),
            ("gaussian batch-norm", { $0.model.batchNorm = true }),
            ("gaussian iwae-5", { $0.iwSamples = 5 }),
            ("dvae 128", { $0.model.latent = .dvae; $0.model.latentSize = 128 }),
            // paper 002's full model beside it, and the hierarchical Gaussian of the same depth
            ("dvae 128, 2 layers x 64", { c in
                c.model.latent = .dvae
                c.model.latentSize = 128
                c.model.continuousLayers = 2
                c.model.continuousSize = 64
                c.model.rbmWeightDecay = ContinuousLayerDefaults.rbmWeightDecay  // as `train --continuous-layers` sets it
            }),
            ("gaussian, 2 layers x 64", { $0.model.continuousLayers = 2; $0.model.continuousSize = 64 }),
        ]
        let steps = Trainer.readbackInterval
        func workload(_ name: String, batch: Int, _ configure: @escaping @Sendable (inout RunConfig) -> Void) -> Workload {
            Workload(name: "train \(steps) steps \(name) batch \(batch)", unit: .images, workPerIteration: Double(steps * batch)) { backend in
                var config = RunConfig()
                config.batchSize = batch
                configure(&config)
                let trainer = try Trainer(config: config, backend: backend, train: try Recipe.syntheticImages(count: Swift.max(6000, 2 * batch)))
                var next = 0
                return {
                    _ = try trainer.steps(steps, firstBatch: next)
                    next += steps
                }
            }
        }
        return gaussianBatches.map { workload("gaussian", batch: $0) { _ in } }
            + recipeBatches.flatMap { batch in recipes.map { workload($0.0, batch: batch, $0.1) } }
    }

    /// One GEMM of `call`'s shape on constant operands (C starts at zero, for a call that accumulates into it).
    public static func gemm(_ call: GemmCall, name: String) -> Workload {
        Workload(name: name, unit: .flops, workPerIteration: call.flops) { backend in
            let a = try backend.buffer([Float](repeating: 0.01, count: call.m * call.k))
            let b = try backend.buffer([Float](repeating: 0.02, count: call.k * call.n))
            let c = try backend.buffer([Float](repeating: 0, count: call.m * call.n))
            return {
                try backend.gemm(transposeA: call.transposeA, transposeB: call.transposeB, m: call.m, n: call.n, k: call.k,
                                 alpha: 1, a, b, beta: call.accumulates ? 1 : 0, c)
                try backend.synchronize()
            }
        }
    }

    /// The share of an iteration of `workload` that its own GEMMs account for: the iteration's GEMM calls are recorded
    /// (after a warm-up), each distinct shape is timed alone as ``gemm(_:name:)`` for about `seconds / 10` (its median),
    /// and the medians of all calls are summed and divided by `iterationSeconds`, the iteration's own median. Near 1,
    /// the step is its GEMMs; the rest is elementwise passes, random numbers, the optimiser and hand-offs between threads.
    public static func gemmShare(_ workload: Workload, on backend: any Backend, iterationSeconds: Double, seconds: Double) throws -> Double {
        let iteration = try workload.prepare(backend)
        try iteration()
        var counts: [GemmCall: Int] = [:]
        for call in try GemmRecorder.record({ try iteration() }) { counts[call, default: 0] += 1 }
        var total = 0.0
        for (call, count) in counts {
            let times = try time(gemm(call, name: call.description), on: backend, seconds: seconds / 10, minimum: 5).sorted()
            total += times[times.count / 2] * Double(count)
        }
        return total / iterationSeconds
    }

    /// Times `workload` on `backend`: one warm-up iteration (kernel builds, first allocations), then iterations until
    /// `seconds` have passed (at least `minimum`, at most 1,000). Returns the seconds of each timed iteration.
    public static func time(_ workload: Workload, on backend: any Backend, seconds: Double, minimum: Int = 3) throws -> [Double] {
        let iteration = try workload.prepare(backend)
        try iteration()
        var times: [Double] = []
        let start = Date()
        while times.count < minimum || (Date().timeIntervalSince(start) < seconds && times.count < 1000) {
            let t0 = Date()
            try iteration()
            times.append(Date().timeIntervalSince(t0))
        }
        return times
    }
}
