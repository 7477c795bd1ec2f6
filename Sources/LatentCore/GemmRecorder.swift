// The GEMM calls a piece of work makes, recorded so that a benchmark can time the same GEMMs alone at their shapes
// (`latentkit bench`'s gemm_share: how much of a training step its matrix products account for). Both backends
// report every call through ``Backend/checkGemm(transposeA:transposeB:m:n:k:beta:_:_:_:)``; recording costs one
// uncontended lock per GEMM and nothing is kept unless a recording is under way.

import Synchronization

/// One GEMM call's shape: `C (m × n) = op(A) (m × k) · op(B) (k × n) [+ C]`.
public struct GemmCall: Hashable, Sendable, CustomStringConvertible {
    public var transposeA: Bool
    public var transposeB: Bool
    public var m: Int
    public var n: Int
    public var k: Int
    /// beta ≠ 0: the product is added to C (gradient accumulation).
    public var accumulates: Bool

    public init(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, accumulates: Bool) {
        (self.transposeA, self.transposeB, self.m, self.n, self.k, self.accumulates) = (transposeA, transposeB, m, n, k, accumulates)
    }

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

    public var description: String {
        "\(m)x\(n)x\(k)" + (transposeA ? " Aᵀ" : "") + (transposeB ? " Bᵀ" : "") + (accumulates ? " +C" : "")
    }
}

public enum GemmRecorder {
    private static let calls = Mutex<[GemmCall]?>(nil)

    /// Runs `body` and returns the GEMM calls made during it, on any backend and thread, in order.
    public static func record(_ body: () throws -> Void) throws -> [GemmCall] {
        calls.withLock { $0 = [] }
        defer { calls.withLock { $0 = nil } }
        try body()
        return calls.withLock { $0 ?? [] }
    }

    static func note(_ call: GemmCall) {
        calls.withLock { if $0 != nil { $0!.append(call) } }
    }
}
