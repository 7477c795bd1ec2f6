// The GEMM calls a piece of work makes, recorded so that a benchmark can time the same GEMMs alone at their shapes
// (`latentkit bench`'s gemm_share: how much of a training step its matrix products account for). Both backends
// report every call through ``Backend/checkGemm(transposeA:transposeB:m:n:k:beta:_:_:_:)``; recording costs one
// uncontended lock per GEMM and nothing is kept unless a recording is under way, and then only the recording thread's.

import Foundation
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
    /// What each recording thread has recorded. Only a recording thread's own calls count: both backends issue a GEMM
    /// on the thread that asks for it (the CPU backend splits it over its pool inside the call), and other work in the
    /// process (tests running beside each other) must not land in a recording.
    private static let recordings = Mutex<[ObjectIdentifier: [GemmCall]]>([:])

    /// Runs `body` and returns the GEMM calls it made on this thread, on any backend, in order (not nested).
    public static func record(_ body: () throws -> Void) throws -> [GemmCall] {
        let thread = ObjectIdentifier(Thread.current)
        recordings.withLock { $0[thread] = [] }
        defer { recordings.withLock { $0[thread] = nil } }
        try body()
        return recordings.withLock { $0[thread] ?? [] }
    }

    static func note(_ call: GemmCall) {
        recordings.withLock { current in
            guard !current.isEmpty else { return }
            current[ObjectIdentifier(Thread.current)]?.append(call)
        }
    }
}
