// The k smallest elements per row on the OpenCL backend: kernel in Kernels/Analysis.swift.

import LatentCore

extension OpenCLBackend {
    public func smallestPerRow(_ x: Buffer, rows: Int, cols: Int, k: Int, intoValues values: Buffer, intoIndices indices: Buffer) throws {
        try checkSmallestPerRow(x, rows: rows, cols: cols, k: k, values, indices)
        _ = try int(rows * workGroupSize, "rows * work-group size")
        _ = try int(rows * k, "rows * k")
        try launch(.analysis, "analysis_smallest_per_row_f32", global: rows * workGroupSize, local: workGroupSize, [
            .buffer(try mem(x, "smallestPerRow input")), .buffer(try mem(values, "smallestPerRow values")),
            .buffer(try mem(indices, "smallestPerRow indices")), try int(rows, "rows"), try int(cols, "cols"), try int(k, "k"),
        ])
    }
}
