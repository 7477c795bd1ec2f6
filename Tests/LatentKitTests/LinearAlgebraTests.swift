// GEMM (all transposes) against float64, row gathers, copies, fills and the fused Adam step.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct LinearAlgebraTests {
    /// OpenBLAS falls back to its SSE3 Prescott kernels on CPUs whose model it does not know (virtual machines such as
    /// this project's CI): 3 to 4.5 times slower GEMMs. The backend must pick the kernels the CPU's features allow.
    @Test func gemmUsesTheKernelsTheCPUAllows() throws {
        #expect(CPUBackend.gemmKernels(forCPUFlags: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"]) == "SkylakeX")
        #expect(CPUBackend.gemmKernels(forCPUFlags: ["avx512f", "avx2", "fma"]) == "Haswell")
        #expect(CPUBackend.gemmKernels(forCPUFlags: ["avx2"]) == nil)
        #expect(CPUBackend.gemmKernels(forCPUFlags: ["sse3", "avx"]) == nil)
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        let core = CPUBackend.gemmKernels
        #expect(CPUBackend.gemmKernelsLackAVX2("Prescott") && CPUBackend.gemmKernelsLackAVX2("NEHALEM") && !CPUBackend.gemmKernelsLackAVX2("SkylakeX"))
        if !CPUBackend.gemmKernelsNamedByUser, let best = CPUBackend.gemmKernels(forCPUFlags: flags) {
            // OpenBLAS's own choice may be better still (a newer core it knows); it must never be one without AVX2
            #expect(!CPUBackend.gemmKernelsLackAVX2(core), "this CPU allows \(best)'s kernels but GEMM runs \(core)'s")
        }
        #expect(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil || CPUBackend.gemmKernelsNamedByUser,
                "choosing the kernels left OPENBLAS_CORETYPE in the environment")
        #expect(CPUBackend.shared.deviceDescription.contains(core))
        // a core named in the environment (some machines set OPENBLAS_CORETYPE for every program) is said so in the
        // header, and so is an AVX-512 CPU held to kernels without it
        #expect(CPUBackend.gemmKernelsHaveAVX512("Cooperlake") && CPUBackend.gemmKernelsHaveAVX512("SKYLAKEX")
                && !CPUBackend.gemmKernelsHaveAVX512("Haswell") && !CPUBackend.gemmKernelsHaveAVX512("Zen"))
        #expect(CPUBackend.shared.deviceDescription.contains("named by OPENBLAS_CORETYPE") == CPUBackend.gemmKernelsNamedByUser)
        let heldBack = CPUBackend.gemmKernels(forCPUFlags: flags) == "SkylakeX" && !CPUBackend.gemmKernelsHaveAVX512(core)
        #expect(CPUBackend.shared.deviceDescription.contains("AVX-512 kernels (SkylakeX) are unused")
                == (CPUBackend.gemmKernelsNamedByUser && heldBack))
        print("GEMM kernels: \(CPUBackend.shared.deviceDescription)")
    }

    /// (m, k, n): the VAE's shapes (batch x in x out) and the degenerate ones.
    static let shapes = [(1, 1, 1), (3, 5, 7), (100, 784, 200), (100, 200, 784), (17, 1, 33)]

    @Test(arguments: TestBackends.all, [(false, false), (false, true), (true, false), (true, true)])
    func gemmAgainstFloat64(kind: BackendKind, transposes: (Bool, Bool)) throws {
        let backend = try TestBackends.backend(kind)
        for (m, k, n) in Self.shapes {
            try checkGemmAgainstFloat64(on: backend, transposes: transposes, m: m, k: k, n: n, beta: -0.5, seed: UInt64(m * k + n))
        }
    }

    /// A weight gradient's shape (Aᵀ B with a deep batch, beta 0), which the CPU backend splits by the batch's halves:
    /// an odd depth (halves of unequal size) and a row count no core count divides; C starts as noise, which beta 0
    /// must ignore.
    @Test(arguments: TestBackends.all, [false, true])
    func weightGradientGemmAgainstFloat64(kind: BackendKind, transposeB: Bool) throws {
        try checkGemmAgainstFloat64(on: try TestBackends.backend(kind), transposes: (true, transposeB), m: 37, k: 1001, n: 300, beta: 0, seed: 77)
    }

    /// C = 0.75 op(A) op(B) + beta C on `backend`, from uniform operands and C, against float64, each element's error
    /// relative to the sum of its products' magnitudes.
    func checkGemmAgainstFloat64(on backend: any Backend, transposes: (Bool, Bool), m: Int, k: Int, n: Int, beta: Float, seed: UInt64) throws {
        let (ta, tb) = transposes
        var rng = TestRandom(seed: seed)
        let a = rng.floats(m * k, in: -1...1), b = rng.floats(k * n, in: -1...1), c0 = rng.floats(m * n, in: -1...1)
        let alpha: Float = 0.75
        let cb = try backend.buffer(c0)
        try backend.gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: alpha, try backend.buffer(a), try backend.buffer(b), beta: beta, cb)
        let got = try backend.download(cb)
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let av = Double(ta ? a[p * m + i] : a[i * k + p]), bv = Double(tb ? b[j * k + p] : b[p * n + j])
                    sum += av * bv
                    magnitude += Swift.abs(av * bv)
                }
                let want = Double(alpha) * sum + Double(beta) * Double(c0[i * n + j])
                worst = Swift.max(worst, Swift.abs(Double(got[i * n + j]) - want) / (magnitude + 1))
            }
        }
        #expect(worst < 1e-6, "gemm \(ta ? "T" : "N")\(tb ? "T" : "N") \(m)x\(k)x\(n), beta \(beta): error \(worst)")
    }

    @Test(arguments: TestBackends.all)
    func gemmWithEmptyInnerDimensionScalesC(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let a = try backend.allocate(count: 0, dtype: .float32), c = try backend.buffer([1, 2, 3, 4] as [Float])
        try backend.gemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 0, alpha: 1, a, a, beta: 3, c)
        #expect(try backend.download(c) == [3, 6, 9, 12])
        #expect(throws: BackendError.self) {
            try backend.gemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 2, alpha: 1, a, a, beta: 0, c)
        }
    }

    /// `bench`'s gemm_share times the GEMMs a training step makes: the recorder must see every one, with its shape,
    /// on both backends, and nothing outside a recording.
    @Test(arguments: TestBackends.all)
    func aTrainingStepsGemmsAreRecordedWithTheirShapes(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        var config = RunConfig()
        config.batchSize = 50
        let trainer = try Trainer(config: config, backend: backend, train: try Recipe.syntheticImages(count: 200))
        _ = try trainer.steps(1, firstBatch: 0)
        let calls = try GemmRecorder.record { _ = try trainer.steps(1, firstBatch: 1) }
        // 784-200-200-(2×20) encoder and 20-200-200-784 decoder: 6 layers, each a forward product, a weight gradient
        // (xᵀ dy) and, but for the encoder's first layer, an input gradient (dy Wᵀ)
        #expect(calls.count == 17, "\(calls)")
        // the forward product: on the CPU added to C started as the bias rows (CPUBackend.dense), elsewhere into zeros
        #expect(calls.contains(GemmCall(transposeA: false, transposeB: false, m: 50, n: 200, k: 784, accumulates: kind == .cpu)), "\(calls)")
        #expect(calls.contains { $0.transposeA && $0.m == 784 && $0.n == 200 && $0.k == 50 }, "\(calls)")
        #expect(calls.contains { $0.transposeB && $0.m == 50 && $0.n == 200 && $0.k == 784 }, "\(calls)")
        #expect(try GemmRecorder.record {}.isEmpty)
    }

    @Test(arguments: TestBackends.all)
    func gatherRows(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let rows = 5, cols = 3
        let x = try backend.buffer((0..<(rows * cols)).map(Float.init))
        let indices = try backend.buffer([4, 0, 0, -1, 5, 2] as [Int32])
        let y = try backend.allocate(count: 6 * cols, dtype: .float32)
        try backend.gatherRows(x, rows: rows, cols: cols, indices: indices, count: 6, into: y)
        let got = try backend.download(y)
        let want: [Float] = [12, 13, 14, 0, 1, 2, 0, 1, 2, .nan, .nan, .nan, .nan, .nan, .nan, 6, 7, 8]
        #expect(firstMismatch(got, want, rtol: 0) == nil, "\(got)")
    }

    @Test(arguments: TestBackends.all)
    func copiesAndFills(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let src = try backend.buffer((0..<12).map(Float.init)), dst = try backend.allocate(count: 12, dtype: .float32)
        try backend.fill(dst, with: -1, offset: 0, count: 12)
        try backend.copy(from: src, offset: 2, to: dst, offset: 5, count: 3)
        #expect(try backend.download(dst) == [-1, -1, -1, -1, -1, 2, 3, 4, -1, -1, -1, -1])
        // columns 1...2 of a 3x4 matrix into a 3x2 block
        try backend.copyBlock(from: src, offset: 1, rowStride: 4, to: dst, offset: 0, rowStride: 2, rows: 3, cols: 2)
        #expect(try backend.download(dst, offset: 0, count: 6) == [1, 2, 5, 6, 9, 10])
        #expect(throws: BackendError.self) {
            try backend.copyBlock(from: src, offset: 1, rowStride: 4, to: dst, offset: 0, rowStride: 2, rows: 4, cols: 2)
        }
        #expect(throws: BackendError.self) { try backend.fill(dst, with: 0, offset: 10, count: 3) }
    }

    /// An upload started ahead (streaming's next chunk) lands after the ops issued before it have read the old values,
    /// and before the ops issued after `finishUpload`; the values are taken at the call.
    @Test(arguments: TestBackends.all)
    func uploadStartedAheadIsOrderedWithTheOps(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let n = 256
        var rng = TestRandom(seed: 91)
        let x = rng.floats(n * n, in: -1...1)
        var y = rng.floats(n * n, in: -1...1)
        let wanted = y
        let a = try backend.buffer(x), before = try backend.allocate(count: n * n, dtype: .float32)
        let after = try backend.allocate(count: n * n, dtype: .float32), busy = try backend.allocate(count: n * n, dtype: .float32)
        // a GEMM that reads `a` (long enough on a device to be running when the upload could start), then a copy of it
        try backend.gemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1, a, a, beta: 0, busy)
        try backend.copy(from: a, offset: 0, to: before, offset: 0, count: n * n)
        let upload = try backend.startUpload(y, to: a, offset: 0)
        y[0] = 1e9  // taken at the call: later changes do not reach the device
        try backend.gemm(transposeA: false, transposeB: false, m: n, n: n, k: n, alpha: 1, busy, busy, beta: 0, busy)
        try backend.finishUpload(upload)
        try backend.copy(from: a, offset: 0, to: after, offset: 0, count: n * n)
        #expect(try backend.download(before) == x)
        #expect(try backend.download(after) == wanted)
        let empty = try backend.startUpload([], to: a, offset: n * n)
        try backend.finishUpload(empty)
        #expect(throws: BackendError.self) { _ = try backend.startUpload([1, 2], to: a, offset: n * n - 1) }
    }

    /// Three Adam steps against PyTorch's formula in float64.
    @Test(arguments: TestBackends.all)
    func adamMatchesReference(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let n = 1031
        var rng = TestRandom(seed: 77)
        var p = rng.floats(n, in: -1...1).map(Double.init)
        var m = [Double](repeating: 0, count: n), v = m
        let h = AdamHyperparameters(learningRate: 1e-2, beta1: 0.9, beta2: 0.99, epsilon: 1e-8)
        let pb = try backend.buffer(p.map(Float.init)), mb = try backend.buffer(m.map(Float.init)), vb = try backend.buffer(v.map(Float.init))
        for step in 1...3 {
            let g = rng.floats(n, in: -2...2)
            try backend.adamStep(parameters: pb, gradients: try backend.buffer(g), firstMoment: mb, secondMoment: vb,
                                 count: n, hyperparameters: h, step: step)
            let b1 = Double(h.beta1), b2 = Double(h.beta2)
            for i in 0..<n {
                m[i] = b1 * m[i] + (1 - b1) * Double(g[i])
                v[i] = b2 * v[i] + (1 - b2) * Double(g[i]) * Double(g[i])
                let mHat = m[i] / (1 - Foundation.pow(b1, Double(step))), vHat = v[i] / (1 - Foundation.pow(b2, Double(step)))
                p[i] -= Double(h.learningRate) * mHat / (vHat.squareRoot() + Double(h.epsilon))
            }
        }
        let mismatch = firstMismatch(try backend.download(pb), p.map(Float.init), rtol: 1e-5, atol: 1e-6)
        #expect(mismatch == nil, "\(String(describing: mismatch))")
        #expect(throws: BackendError.self) {
            try backend.adamStep(parameters: pb, gradients: pb, firstMoment: mb, secondMoment: vb, count: n, hyperparameters: h, step: 0)
        }
    }
}
