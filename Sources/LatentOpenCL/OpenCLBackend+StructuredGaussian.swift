// The structured Gaussian posterior ops on the OpenCL backend: kernels `structured_gaussian_*` in
// Kernels/StructuredGaussian.swift. The argument checks are the CPU backend's. Kernels that need per-row scratch get a
// workspace from the backend's one scratch buffer (`workspace(count:)`), so a training step allocates nothing.

import LatentCore

extension OpenCLBackend {
    /// The work-group-per-row form of a structured kernel: its `<name>_rows` kernel, its work-items sharing the row's
    /// `length` (latents, or blocks for the prefix-scan kernels), and its workspace per row.
    private struct RowGroups {
        let length: Int
        let workspace: Int
    }

    /// One work-item per batch row (or, with `rowGroups` and where ``usesRowGroups(rows:length:)`` says so, a work-group per
    /// row: the `<name>_rows` kernel): `buffers`, an optional workspace of `workspace` floats per row, then rows, blocks and
    /// the block size.
    private func structured(_ name: String, _ s: PrecisionStructure, rows: Int, _ buffers: [(Buffer, String)], workspace: Int = 0,
                            rowGroups: RowGroups? = nil) throws {
        let grouped = rowGroups.map { usesRowGroups(rows: rows, length: $0.length) } ?? false
        let perRow = grouped ? rowGroups!.workspace : workspace
        let scratch = perRow > 0 && rows > 0 ? try self.workspace(count: rows * perRow) : nil
        let memories = try buffers.map { Argument.buffer(try mem($0.0, $0.1)) } + (try scratch.map { [Argument.buffer(try mem($0, "workspace"))] } ?? [])
        let arguments = memories + [try int(rows, "rows"), try int(s.blocks, "blocks"), try int(s.blockSize, "block size")]
        if grouped {
            _ = try int(rows * workGroupSize, "rows * work-group size")
            try launch(.structuredGaussian, "structured_gaussian_\(name)_rows_f32", global: rows * workGroupSize, local: workGroupSize, arguments)
        } else {
            try launch(.structuredGaussian, "structured_gaussian_\(name)_f32", global: rows, arguments)
        }
    }

    public func structuredGaussianSample(_ s: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer, noise: Buffer,
                                         rows: Int, into z: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(mean, "mean"), (logVariance, "log-variance"), (noise, "noise"), (z, "sample")],
                            offDiagonal: [(offDiagonal, "off-diagonals")])
        try structured("sample", s, rows: rows, [(mean, "mean"), (logVariance, "log-variance"), (offDiagonal, "off-diagonals"), (noise, "noise"),
                                                 (z, "sample")], rowGroups: RowGroups(length: s.blocks, workspace: s.scanWorkspace))
    }

    public func structuredGaussianSampleBackward(_ s: PrecisionStructure, logVariance: Buffer, offDiagonal: Buffer, noise: Buffer,
                                                 gradient dz: Buffer, rows: Int, intoLogVariance dLogVariance: Buffer,
                                                 intoOffDiagonal dOffDiagonal: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(logVariance, "log-variance"), (noise, "noise"), (dz, "gradient"), (dLogVariance, "log-variance gradient")],
                            offDiagonal: [(offDiagonal, "off-diagonals"), (dOffDiagonal, "off-diagonal gradient")])
        try structured("sample_backward", s, rows: rows, [(logVariance, "log-variance"), (offDiagonal, "off-diagonals"), (noise, "noise"),
                                                          (dz, "gradient"), (dLogVariance, "log-variance gradient"),
                                                          (dOffDiagonal, "off-diagonal gradient")], workspace: s.vectorWorkspace,
                                 rowGroups: RowGroups(length: s.blocks, workspace: s.scanWorkspace))
    }

    public func structuredGaussianKL(_ s: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer, rows: Int,
                                     into kl: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(mean, "mean"), (logVariance, "log-variance")], offDiagonal: [(offDiagonal, "off-diagonals")],
                            perRow: [(kl, "KL output")])
        try structured("kl", s, rows: rows, [(mean, "mean"), (logVariance, "log-variance"), (offDiagonal, "off-diagonals"), (kl, "KL output")],
                       workspace: s.klWorkspace, rowGroups: RowGroups(length: s.blocks, workspace: s.scanWorkspace))
    }

    public func structuredGaussianKLBackward(_ s: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer,
                                             gradient g: Buffer, rows: Int, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer,
                                             intoOffDiagonal dOffDiagonal: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(mean, "mean"), (logVariance, "log-variance"), (dMean, "mean gradient"),
                                                    (dLogVariance, "log-variance gradient")],
                            offDiagonal: [(offDiagonal, "off-diagonals"), (dOffDiagonal, "off-diagonal gradient")], perRow: [(g, "KL gradient")])
        try structured("kl_backward", s, rows: rows, [(mean, "mean"), (logVariance, "log-variance"), (offDiagonal, "off-diagonals"),
                                                      (g, "KL gradient"), (dMean, "mean gradient"), (dLogVariance, "log-variance gradient"),
                                                      (dOffDiagonal, "off-diagonal gradient")], workspace: s.klWorkspace,
                                 rowGroups: RowGroups(length: s.blocks, workspace: s.scanWorkspace))
    }

    public func structuredGaussianLogDensity(_ s: PrecisionStructure, _ z: Buffer, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer,
                                             rows: Int, into lp: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(z, "sample"), (mean, "mean"), (logVariance, "log-variance")],
                            offDiagonal: [(offDiagonal, "off-diagonals")], perRow: [(lp, "log-density output")])
        try structured("log_density", s, rows: rows, [(z, "sample"), (mean, "mean"), (logVariance, "log-variance"), (offDiagonal, "off-diagonals"),
                                                      (lp, "log-density output")],
                       rowGroups: RowGroups(length: s.latentSize, workspace: 0))
    }

    public func structuredGaussianLogDensityBackward(_ s: PrecisionStructure, _ z: Buffer, mean: Buffer, logVariance: Buffer,
                                                     offDiagonal: Buffer, gradient g: Buffer, rows: Int, intoSample dz: Buffer,
                                                     intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer,
                                                     intoOffDiagonal dOffDiagonal: Buffer) throws {
        try checkStructured(s, rows: rows, latent: [(z, "sample"), (mean, "mean"), (logVariance, "log-variance"), (dz, "sample gradient"),
                                                    (dMean, "mean gradient"), (dLogVariance, "log-variance gradient")],
                            offDiagonal: [(offDiagonal, "off-diagonals"), (dOffDiagonal, "off-diagonal gradient")], perRow: [(g, "log-density gradient")])
        try structured("log_density_backward", s, rows: rows, [(z, "sample"), (mean, "mean"), (logVariance, "log-variance"),
                                                               (offDiagonal, "off-diagonals"), (g, "log-density gradient"), (dz, "sample gradient"),
                                                               (dMean, "mean gradient"), (dLogVariance, "log-variance gradient"),
                                                               (dOffDiagonal, "off-diagonal gradient")], workspace: s.vectorWorkspace,
                                   rowGroups: RowGroups(length: s.latentSize, workspace: s.vectorWorkspace))
    }
}
