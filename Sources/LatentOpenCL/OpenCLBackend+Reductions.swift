// Reductions and row softmax on the OpenCL backend: kernels in Kernels/Reductions.swift.

import LatentCore

extension OpenCLBackend {
    public func reduce(_ op: ReduceOp, _ x: Buffer, rows: Int, cols: Int, axis: ReductionAxis, into y: Buffer) throws {
        try require(rows >= 0 && cols >= 0, "negative shape \(rows)x\(cols)")
        try x.check(holds: rows * cols, "reduce input")
        try y.check(holds: axis.outputCount(rows: rows, cols: cols), "reduce output")
        let args: [Argument] = [
            .buffer(try mem(x, "reduce input")), .buffer(try mem(y, "reduce output")), try int(rows, "rows"), try int(cols, "cols"),
        ]
        _ = try int(rows * cols, "rows * cols")
        switch axis {
        case .eachRow:
            try launch(.reductions, "reductions_\(op.rawValue)_rows_f32", global: rows * workGroupSize, local: workGroupSize, args)
        case .eachColumn where usesColumnTiles(columns: cols):
            try launch(.reductions, "reductions_\(op.rawValue)_columns_tiled_f32", global: columnTileWorkItems(columns: cols), args)
        case .eachColumn:
            try launch(.reductions, "reductions_\(op.rawValue)_columns_f32", global: cols, args)
        }
    }

    public func softmax(_ op: SoftmaxOp, _ x: Buffer, rows: Int, cols: Int, into y: Buffer) throws {
        try require(rows >= 0 && cols >= 0, "negative shape \(rows)x\(cols)")
        try x.check(holds: rows * cols, "softmax input")
        try y.check(holds: rows * cols, "softmax output")
        _ = try int(rows * cols, "rows * cols")
        try launch(.reductions, "reductions_\(op.rawValue)_f32", global: rows * workGroupSize, local: workGroupSize, [
            .buffer(try mem(x, "softmax input")), .buffer(try mem(y, "softmax output")), try int(rows, "rows"), try int(cols, "cols"),
        ])
    }
}
