// Types and host-side constants of the discrete VAE's device ops (Backend.swift, "discrete VAE").

import RealModule

/// The two sides of a bipartite RBM state `(z_A, z_B)`, stored as one row with the A units first.
public enum RBMSide: Int32, CaseIterable, Sendable {
    /// The first `nA` units of a row (the "visible" side).
    case a = 0
    /// The last `nB` units of a row (the "hidden" side).
    case b = 1
}

/// The shape of a bipartite RBM: `E(z) = -(z_Aᵀ W z_B + bᵀ z)` with `W` of shape `nA × nB` and `b` of `nA + nB`.
public struct RBMShape: Sendable, Equatable {
    public var a: Int
    public var b: Int
    public init(a: Int, b: Int) {
        self.a = a
        self.b = b
    }
    public var units: Int { a + b }
}

public enum SpikeAndExponential {
    /// The largest β the kernels take: e^β must stay a finite float (e^88.7 overflows), with headroom for the
    /// products the backward form takes.
    public static let maximumBeta: Float = 80

    /// `expm1(β)` in double precision, rounded once, so both backends use the same float.
    public static func expm1(beta: Float) -> Float { Float(Double.expMinusOne(Double(beta))) }
}

extension Backend {
    /// Checks the shared argument rules of the RBM ops: a state of `rows × units`, `W` of `a × b`, `b` of `units`.
    public func checkRBM(_ shape: RBMShape, rows: Int, state: Buffer, weights: Buffer, bias: Buffer) throws {
        try require(shape.a >= 1 && shape.b >= 1 && rows >= 0, "RBM: bad shape \(shape.a)x\(shape.b) with \(rows) rows")
        try state.check(holds: rows * shape.units, "RBM state")
        try weights.check(holds: shape.a * shape.b, "RBM weights")
        try bias.check(holds: shape.units, "RBM bias")
    }

    /// Checks the shared argument rules of the spike-and-exponential ops.
    public func checkSpikeAndExponential(beta: Float, count: Int, _ buffers: [(Buffer, String)]) throws {
        try require(beta > 0 && beta <= SpikeAndExponential.maximumBeta, "spike-and-exponential: β = \(beta) must lie in (0, \(SpikeAndExponential.maximumBeta)]")
        try checkRows(rows: count, cols: 1, matrices: buffers, perRow: [])
    }
}
