// The sparsity of the Cholesky factor L of a structured Gaussian posterior's precision P = L Lᵀ (paper 003): lower
// block-bidiagonal with `blocks` blocks of `blockSize` latents. The chain is blocks of one latent (L lower bidiagonal,
// P tridiagonal); the R×C grid is R blocks of C (each diagonal block lower triangular, each sub-diagonal block dense,
// P block-tridiagonal: the "extended grid"). Row a of L is non-zero in the contiguous columns lo(a)...a.

/// The block structure of a structured Gaussian posterior's precision factor.
public struct PrecisionStructure: Equatable, Sendable, CustomStringConvertible {
    public let blocks: Int
    public let blockSize: Int

    public init(blocks: Int, blockSize: Int) {
        self.blocks = blocks
        self.blockSize = blockSize
    }

    /// Lower bidiagonal L over `latentSize` latents.
    public static func chain(_ latentSize: Int) -> PrecisionStructure { PrecisionStructure(blocks: latentSize, blockSize: 1) }

    public var latentSize: Int { blocks * blockSize }

    /// The strictly-lower non-zeros of L per row of a batch: C(C-1)/2 in each diagonal block, C² in each sub-diagonal block.
    public var offDiagonalCount: Int { blocks * blockSize * (blockSize - 1) / 2 + max(blocks - 1, 0) * blockSize * blockSize }

    /// The first non-zero column of row `a` of L.
    public func firstColumn(_ a: Int) -> Int { a < blockSize ? 0 : (a / blockSize - 1) * blockSize }

    /// Where row `a`'s strictly-lower entries (columns firstColumn(a)..<a, in order) start among the off-diagonals.
    public func rowStart(_ a: Int) -> Int {
        let r = a / blockSize, i = a % blockSize, triangle = blockSize * (blockSize - 1) / 2
        return r == 0 ? i * (i - 1) / 2 : triangle + (r - 1) * (blockSize * blockSize + triangle) + i * blockSize + i * (i - 1) / 2
    }

    /// Floats of per-row workspace the KL kernels need: the Gram block of every block row of L⁻¹, then four C×C temporaries.
    public var klWorkspace: Int { (blocks + 4) * blockSize * blockSize }

    /// Floats of per-row workspace the sample and log-density backward kernels need: two vectors of the latent size.
    public var vectorWorkspace: Int { 2 * latentSize }

    /// Floats of per-row workspace the work-group forms of the sample, the KL and their gradients need: two ping-pong
    /// pairs of one affine map (at most 2 C² floats) per block.
    public var scanWorkspace: Int { 8 * blocks * blockSize * blockSize }

    public var description: String { blockSize == 1 ? "chain of \(blocks)" : "grid \(blocks)x\(blockSize)" }

    /// Checks the structure and that `latentSize` matches it.
    public func check(latentSize n: Int) throws {
        try require(blocks >= 1 && blockSize >= 1, "structured Gaussian: needs at least one block of at least one latent, got \(self)")
        try require(latentSize == n, "structured Gaussian: \(self) holds \(latentSize) latents, not \(n)")
    }
}
