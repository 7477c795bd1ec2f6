// GEMM through CLBlast and row gathers on the OpenCL backend.

import COpenCL
import LatentCore

extension OpenCLBackend {
    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, _ a: Buffer, _ b: Buffer, beta: Float, _ c: Buffer
    ) throws {
        try checkGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, beta: beta, a, b, c)
        let am = try mem(a, "gemm A"), bm = try mem(b, "gemm B"), cm = try mem(c, "gemm C")
        if m == 0 || n == 0 { return }
        if k == 0 {  // C = beta C, as on the CPU backend
            if beta == 0 { return try fill(c, with: 0, offset: 0, count: m * n) }
            return try affine(c, alpha: beta, beta: 0, into: c, count: m * n)
        }
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        try withQueue { q in
            var queue: cl_command_queue? = q
            let status = CLBlastSgemm(
                CLBlastLayoutRowMajor, transposeA ? CLBlastTransposeYes : CLBlastTransposeNo,
                transposeB ? CLBlastTransposeYes : CLBlastTransposeNo,
                m, n, k, alpha, am, 0, lda, bm, 0, ldb, beta, cm, 0, n, &queue, nil)
            if status.rawValue != 0 {
                if status.rawValue > -1000 { throw openCLError(status.rawValue, "CLBlastSgemm") }
                throw BackendError.clBlast(call: "CLBlastSgemm(m=\(m), n=\(n), k=\(k))", code: status.rawValue)
            }
        }
    }

    public func gatherRows(_ x: Buffer, rows: Int, cols: Int, indices: Buffer, indexOffset: Int, count: Int,
                           binarizing: (key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int)?, into y: Buffer) throws {
        try checkGather(x, rows: rows, cols: cols, indices: indices, indexOffset: indexOffset, count: count, y)
        _ = try int(count * cols, "count * cols")
        let source: [Argument] = [
            .buffer(try mem(x, "gather source")), try int(rows, "rows"), try int(cols, "cols"),
            .buffer(try mem(indices, "gather indices")), try int(indexOffset, "index offset"),
        ]
        if let (key, counter, streamOffset) = binarizing {
            try launch(.random, "random_gather_bernoulli_f32", global: philoxBlocks(count: count * cols, streamOffset: streamOffset),
                       [.buffer(try mem(y, "gather output"))] + source
                           + (try philoxArguments(count: count * cols, key: key, counter: counter, streamOffset: streamOffset)))
        } else {
            try launch(.memory, "memory_gather_rows_f32", global: count * cols, source + [try int(count, "count"), .buffer(try mem(y, "gather output"))])
        }
    }
}
