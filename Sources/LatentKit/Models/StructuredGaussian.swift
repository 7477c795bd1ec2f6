// Gaussian graphical-model posteriors (paper 003): q(z|x) = N(μ, P⁻¹) with the precision P = L Lᵀ and L a fixed sparse
// lower-triangular factor the encoder outputs beside μ.
//   diagonal  L diagonal: the usual Gaussian (`logVariance` = log σ²)
//   chain     L lower bidiagonal: P tridiagonal, the latents a Markov chain
//   grid      the latent an R×C grid, rows as blocks of C; L lower block-bidiagonal with lower-triangular diagonal
//             blocks and dense sub-diagonal blocks: P block-tridiagonal (the slides' "extended grid": each latent
//             interacts with all of its row and of the adjacent rows, as L's blocks are otherwise unconstrained)
// L's diagonal is exp(-s/2) for the log-variance head's output s: positive for any s, log det P = -Σ s is linear in the
// head's output (no log of a softplus near 0), and with zero off-diagonals the model is exactly the diagonal one. The
// off-diagonal head starts at zero, so a structured model starts as the diagonal model of the same seed (Xavier-
// initialised like the other heads it measured 5-16 nats worse after 10 epochs: random correlations cost reconstruction).
// Sampling solves Lᵀ v = ε, z = μ + v; the KL to N(0, I) is ½ (tr P⁻¹ + μᵀμ - n - log det P⁻¹) with tr P⁻¹ = ‖L⁻¹‖²_F by a
// recurrence over L⁻¹'s block rows (Backend.swift, "structured Gaussian posteriors"); all in fused kernels.

import Foundation

/// The structure of a Gaussian posterior's precision.
public enum PosteriorStructure: String, CaseIterable, Codable, Sendable {
    case diagonal, chain, grid
}

/// An R×C latent grid (`--grid RxC`).
public struct GridShape: Codable, Equatable, Sendable, CustomStringConvertible {
    public var rows: Int
    public var columns: Int

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
    }

    /// Parses `RxC` with positive integers; nil otherwise.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let r = parts[0], let c = parts[1], r >= 1, c >= 1 else { return nil }
        self.init(rows: r, columns: c)
    }

    /// The squarest grid of `n` latents, R <= C (20: 4x5).
    public static func squarest(_ n: Int) -> GridShape {
        let r = (1...max(n, 1)).last { $0 * $0 <= n && n % $0 == 0 } ?? 1
        return GridShape(rows: r, columns: max(n, 1) / r)
    }

    public var description: String { "\(rows)x\(columns)" }
}

extension ModelConfig {
    /// The grid in use for `--posterior grid`: the given one, else the squarest.
    public var effectiveGrid: GridShape { grid ?? GridShape.squarest(latentSize) }

    /// The sparsity of L, nil for the diagonal posterior.
    public var precisionStructure: PrecisionStructure? {
        switch posterior {
        case .diagonal: return nil
        case .chain: return .chain(latentSize)
        case .grid: return PrecisionStructure(blocks: effectiveGrid.rows, blockSize: effectiveGrid.columns)
        }
    }

    func validatePosterior() throws {
        if posterior != .diagonal {
            try require(latent == .gaussian, "--posterior \(posterior.rawValue) applies to --latent gaussian only, not \(latent.rawValue)")
            try require(latentSize >= 2, "--posterior \(posterior.rawValue) needs a latent size of at least 2, got \(latentSize)")
        }
        if let grid {
            try require(posterior == .grid, "--grid applies to --posterior grid only")
            try require(grid.rows >= 1 && grid.columns >= 1, "--grid takes positive sizes, got \(grid)")
            try require(grid.rows * grid.columns == latentSize,
                        "--grid \(grid) holds \(grid.rows * grid.columns) latents, but the latent size is \(latentSize)")
        }
    }
}

extension VAE {
    /// The encoder head of L's strictly-lower non-zeros, zero-initialised (see the top of this file); nil for diagonal posteriors.
    static func makePrecisionHead(_ config: ModelConfig, _ layer: (String, Int, Int) throws -> Dense, on backend: any Backend) throws -> Dense? {
        guard let s = config.precisionStructure else { return nil }
        let head = try layer("encoder.precision_factor", config.hidden.last!, s.offDiagonalCount)
        try backend.fill(head.weight.buffer, with: 0, offset: 0, count: head.weight.count)
        try backend.fill(head.bias.buffer, with: 0, offset: 0, count: head.bias.count)
        return head
    }

    /// The structure and L's off-diagonals of `q` when it is a structured Gaussian, else nil.
    func structuredParts(_ q: Posterior) -> (PrecisionStructure, Tensor)? {
        guard let s = config.precisionStructure, let off = q.offDiagonal else { return nil }
        return (s, off)
    }
}
