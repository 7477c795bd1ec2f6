// Elementwise ops on the OpenCL backend: kernels `elementwise_<op>_f32[_backward]` in Kernels/Elementwise.swift.

import LatentCore

extension OpenCLBackend {
    public func unary(_ op: UnaryOp, _ x: Buffer, into y: Buffer, count: Int) throws {
        try x.check(holds: count, "unary input")
        try y.check(holds: count, "unary output")
        try launch(.elementwise, "elementwise_\(op.cName)_f32", global: count,
                   [.buffer(try mem(x, "unary input")), .buffer(try mem(y, "unary output")), try int(count, "count")])
    }

    public func unaryBackward(_ op: UnaryOp, x: Buffer, gradient dy: Buffer, into dx: Buffer, count: Int) throws {
        try x.check(holds: count, "backward input")
        try dy.check(holds: count, "backward gradient")
        try dx.check(holds: count, "backward output")
        try launch(.elementwise, "elementwise_\(op.cName)_backward_f32", global: count, [
            .buffer(try mem(x, "backward input")), .buffer(try mem(dy, "backward gradient")),
            .buffer(try mem(dx, "backward output")), try int(count, "count"),
        ])
    }

    public func binary(_ op: BinaryOp, _ a: Buffer, _ b: Buffer, broadcast: Broadcast, rows: Int, cols: Int, into c: Buffer) throws {
        try require(rows >= 0 && cols >= 0, "negative shape \(rows)x\(cols)")
        try a.check(holds: rows * cols, "binary lhs")
        try b.check(holds: broadcast.count(rows: rows, cols: cols), "binary rhs")
        try c.check(holds: rows * cols, "binary output")
        _ = try int(rows * cols, "rows * cols")
        try launch(.elementwise, "elementwise_\(op.rawValue)_f32", global: rows * cols, [
            .buffer(try mem(a, "binary lhs")), .buffer(try mem(b, "binary rhs")), .buffer(try mem(c, "binary output")),
            try int(rows, "rows"), try int(cols, "cols"), .int(broadcast.rawValue),
        ])
    }

    public func affine(_ x: Buffer, alpha: Float, beta: Float, into y: Buffer, count: Int) throws {
        try x.check(holds: count, "affine input")
        try y.check(holds: count, "affine output")
        try launch(.elementwise, "elementwise_affine_f32", global: count, [
            .buffer(try mem(x, "affine input")), .buffer(try mem(y, "affine output")), try int(count, "count"),
            .float(alpha), .float(beta),
        ])
    }
}
