// GEMM through OpenBLAS and row gathers on the CPU.

import CBLAS
import Foundation
import LatentCore

/// OpenBLAS runs single-threaded and the backend splits a large GEMM into row blocks, one per core. OpenBLAS's
/// own thread pool spins and yields between the small GEMMs of a VAE step: on 2 cores a third of the time went
/// to the scheduler (measured with perf), which this avoids. Its kernels are chosen first (``OpenBLASKernels``).
let configuredBLAS: Void = {
    _ = OpenBLASKernels.selected
    openblas_set_num_threads(1)
}()

/// When a weight gradient's GEMM is split by the batch's halves (``CPUBackend/gemmInBatchHalves``): a batch of at least
/// `minimumDepth` rows and a product of at least `minimumWork` multiply-adds, below which the extra pass costs more
/// than the reads it saves. A rule of the shape alone, as the halves are.
enum GemmSplit {
    static let minimumDepth = 256
    static let minimumWork = 1 << 22
}

extension CPUBackend {
    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, _ a: Buffer, _ b: Buffer, beta: Float, _ c: Buffer
    ) throws {
        try gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a, b, beta: beta, c, startingFrom: nil)
    }

    /// The dense layer's forward pass with C started as the bias rows and the product added (beta 1), each thread
    /// filling its own block of rows just before its GEMM: OpenBLAS zeroes C for beta 0 (a pass over C), and the bias
    /// added afterwards is another; this way one pass does both.
    public func dense(_ x: Buffer, weight: Buffer, bias: Buffer, activation: UnaryOp?, rows: Int, inputs: Int, outputs: Int,
                      preActivation a: Buffer, into y: Buffer) throws {
        try checkBiasActivation(activation, rows: rows, cols: outputs, matrices: [(a, "pre-activation"), (activation == nil ? nil : y, "activation")],
                                bias: bias)
        try gemm(transposeA: false, transposeB: false, m: rows, n: outputs, k: inputs, alpha: 1, x, weight, beta: 1, a,
                 startingFrom: try host(bias, "bias").floats)
        if let activation { try unary(activation, a, into: y, count: rows * outputs) }
    }

    /// C = alpha op(A) op(B) + beta C, where with `startingFrom` each row of C is first set to that row of `n` values.
    func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, _ a: Buffer, _ b: Buffer, beta: Float, _ c: Buffer, startingFrom initialRow: UnsafeMutablePointer<Float>?
    ) throws {
        try checkGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, beta: beta, a, b, c)
        let av = try host(a, "gemm A"), bv = try host(b, "gemm B"), cv = try host(c, "gemm C")
        if m == 0 || n == 0 { return }
        if k == 0 {  // BLAS leaves C alone for k = 0 only when beta = 1; define it as C = beta C
            if let initialRow { for r in 0..<m { (cv.floats + r * n).update(from: initialRow, count: n) } }
            for i in 0..<(m * n) { cv.floats[i] = beta == 0 ? 0 : beta * cv.floats[i] }
            return
        }
        _ = configuredBLAS
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        let a = av.floats, b = bv.floats, c = cv.floats
        if transposeA && beta == 0 && initialRow == nil && k >= GemmSplit.minimumDepth && m * n * k >= GemmSplit.minimumWork,
           let scratch = malloc(m * n * MemoryLayout<Float>.stride) {  // no room for the scratch: the row split below
            defer { free(scratch) }
            return gemmInBatchHalves(transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb, c,
                                     scratch: scratch.assumingMemoryBound(to: Float.self))
        }
        // Rows of C are independent: block i of op(A)'s rows starts at row i of A, or at column i when transposed.
        let work = m * n * k
        parallelChunks(m, grain: max(8, m * (1 << 19) / max(work, 1))) { rows in
            if let initialRow { for r in rows { (c + r * n).update(from: initialRow, count: n) } }
            let aStart = transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda
            cblas_sgemm(
                CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                Int32(rows.count), Int32(n), Int32(k), alpha, aStart, Int32(lda), b, Int32(ldb), beta,
                c + rows.lowerBound * n, Int32(n))
        }
    }

    /// C = alpha Aᵀ op(B) for a weight gradient: A's rows (and op(B)'s) are the batch's, and the earlier ops of the step
    /// left each core the rows of its own share of the batch. Split by rows of C, as other GEMMs are, each core would read
    /// every row of the batch, half of them from the other core's cache; on a CPU whose cores share no cache (a virtual
    /// machine's two cores on different AMD core complexes: a cache line's round trip 330–420 ns against 75–95 ns on one
    /// complex) the Gaussian step at batch 1,000 ran 10–25% slower, mostly for those reads. Each half of the batch gives
    /// its own product, C over the first half and `scratch` (`m × n`) over the second, both split by rows of C among the
    /// cores that half gets, and C += scratch, by elements. The halves are fixed by the shape alone (the first k / 2 rows),
    /// not by the thread count.
    func gemmInBatchHalves(transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, _ a: UnsafeMutablePointer<Float>, lda: Int,
                           _ b: UnsafeMutablePointer<Float>, ldb: Int, _ c: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let half = k / 2, count = m * n
        let perHalf = max(1, cores / 2), size = (m + perHalf - 1) / perHalf
        onBatchHalves(blocks: perHalf) { h, block in  // block: of C's rows
            let lo = block * size, hi = min(m, lo + size)
            guard lo < hi else { return }
            let kStart = h == 0 ? 0 : half, kCount = h == 0 ? half : k - half
            let aStart = a + kStart * lda + lo, bStart = transposeB ? b + kStart : b + kStart * ldb
            cblas_sgemm(CblasRowMajor, CblasTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(hi - lo), Int32(n), Int32(kCount),
                        alpha, aStart, Int32(lda), bStart, Int32(ldb), 0, (h == 0 ? c : scratch) + lo * n, Int32(n))
        }
        parallelChunks(count, grain: 1 << 14) { range in
            for i in range { c[i] += scratch[i] }
        }
    }

    public func gatherRows(_ x: Buffer, rows: Int, cols: Int, indices: Buffer, indexOffset: Int, count: Int,
                           binarizing: (key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int)?, into y: Buffer) throws {
        try checkGather(x, rows: rows, cols: cols, indices: indices, indexOffset: indexOffset, count: count, y)
        let xs = try host(x, "gather source"), ix = try host(indices, "gather indices"), ys = try host(y, "gather output")
        let src = xs.floats, idx = ix.ints + indexOffset, dst = ys.floats
        if let (key, counter, streamOffset) = binarizing {
            // One pass, no copy: each row's uniforms drawn from the Philox blocks that cover its stream elements
            // (y[i, j] is element streamOffset + i cols + j: word e % 4 of block e / 4, as fillRandom draws it) and
            // compared with the source row; an index outside the source gives p = NaN, so 0, as a NaN row would.
            try require(streamOffset >= 0, "gather: negative stream offset \(streamOffset)")
            parallelChunks(count, grain: max(1, (1 << 15) / max(cols, 1))) { range in
                var uniforms = [Float](repeating: 0, count: cols + 8)
                uniforms.withUnsafeMutableBufferPointer { u in
                    for i in range {
                        // the next row's source is a random row of the data set, far in memory: its loads start now and
                        // arrive while this row's uniforms are drawn
                        if i + 1 < range.upperBound, case let next = Int(idx[i + 1]), next >= 0 && next < rows {
                            VectorMath.prefetch(src + next * cols, count: cols)
                        }
                        let first = streamOffset + i * cols, block = first / 4, out = dst + i * cols
                        VectorMath.philoxUniforms(counter: counter, first: UInt64(block), key: key, blocks: (first + cols + 3) / 4 - block,
                                                  into: u.baseAddress!)
                        let ur = u.baseAddress! + (first - 4 * block), r = Int(idx[i])
                        if r >= 0 && r < rows {
                            let p = src + r * cols
                            VectorMath.binarise(uniforms: ur, probabilities: p, into: out, count: cols)
                        } else {
                            out.update(repeating: 0, count: cols)
                        }
                    }
                }
            }
            return
        }
        parallelChunks(count, grain: max(1, (1 << 15) / max(cols, 1))) { range in
            for i in range {
                let r = Int(idx[i])
                if r >= 0 && r < rows {
                    (dst + i * cols).update(from: src + r * cols, count: cols)
                } else {
                    (dst + i * cols).update(repeating: .nan, count: cols)
                }
            }
        }
    }
}
