// Elementwise ops on the CPU: the scalar definitions (`CPUScalar`) and the loops that apply them.

import LatentCore
import RealModule

/// Scalar forms of the elementwise ops: the specification the OpenCL kernels (Kernels/Elementwise.swift) match.
public enum CPUScalar {
    @inlinable
    public static func forward(_ op: UnaryOp, _ x: Float) -> Float {
        switch op {
        case .neg: return -x
        case .exp: return VectorMath.exp(x)
        case .log: return Float.log(x)
        case .log1p: return Float.log(onePlus: x)
        case .expm1: return Float.expMinusOne(x)
        case .sqrt: return x.squareRoot()
        case .square: return x * x
        case .reciprocal: return 1 / x
        case .abs: return Swift.abs(x)
        case .tanh: return Float.tanh(x)
        case .sigmoid: return VectorMath.sigmoid(x)
        case .softplus: return VectorMath.softplus(x)
        case .logSigmoid: return -VectorMath.softplus(-x)
        case .relu: return x < 0 ? 0 : x  // NaN passes through
        case .elu: return x > 0 ? x : Float.expMinusOne(x)
        case .lgamma: return SpecialFunctions.logGamma(x)
        case .digamma: return SpecialFunctions.digamma(x)
        case .trigamma: return SpecialFunctions.trigamma(x)
        }
    }

    /// `dy * f'(x)`.
    @inlinable
    public static func backward(_ op: UnaryOp, _ x: Float, _ dy: Float) -> Float {
        switch op {
        case .neg: return -dy
        case .exp, .expm1: return dy * VectorMath.exp(x)
        case .log: return dy / x
        case .log1p: return dy / (1 + x)
        case .sqrt: return dy * 0.5 / x.squareRoot()
        case .square: return dy * 2 * x
        case .reciprocal: return -dy / (x * x)
        case .abs: return dy * (x > 0 ? 1 : (x < 0 ? -1 : (x == 0 ? 0 : x)))
        case .tanh:
            let t = Float.tanh(x)
            return dy * (1 - t * t)
        case .sigmoid:
            let s = VectorMath.sigmoid(x)
            return dy * s * (1 - s)
        case .softplus: return dy * VectorMath.sigmoid(x)
        case .logSigmoid: return dy * VectorMath.sigmoid(-x)
        case .relu: return dy * (x > 0 ? 1 : (x == x ? 0 : x))
        case .elu: return x > 0 ? dy : dy * Float.exp(x)
        case .lgamma: return dy * SpecialFunctions.digamma(x)
        case .digamma: return dy * SpecialFunctions.trigamma(x)
        case .trigamma: return dy * SpecialFunctions.tetragamma(x)
        }
    }

    @inlinable
    public static func binary(_ op: BinaryOp, _ a: Float, _ b: Float) -> Float {
        switch op {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        case .max: return (a > b || a.isNaN) ? a : b  // NaN in either operand gives NaN
        case .min: return (a < b || a.isNaN) ? a : b
        }
    }
}

extension CPUBackend {
    public func unary(_ op: UnaryOp, _ x: Buffer, into y: Buffer, count: Int) throws {
        let xs = try host(x, "unary input"), ys = try host(y, "unary output")
        try xs.check(holds: count, "unary input")
        try ys.check(holds: count, "unary output")
        let src = xs.floats, dst = ys.floats
        // One specialised loop per op: the switch stays outside the element loop.
        switch op {
        case .neg: map(count, src, dst) { CPUScalar.forward(.neg, $0) }
        case .exp: parallelChunks(count) { VectorMath.exp(src + $0.lowerBound, dst + $0.lowerBound, count: $0.count) }
        case .log: map(count, src, dst) { CPUScalar.forward(.log, $0) }
        case .log1p: map(count, src, dst) { CPUScalar.forward(.log1p, $0) }
        case .expm1: map(count, src, dst) { CPUScalar.forward(.expm1, $0) }
        case .sqrt: map(count, src, dst) { CPUScalar.forward(.sqrt, $0) }
        case .square: map(count, src, dst) { CPUScalar.forward(.square, $0) }
        case .reciprocal: map(count, src, dst) { CPUScalar.forward(.reciprocal, $0) }
        case .abs: map(count, src, dst) { CPUScalar.forward(.abs, $0) }
        case .tanh: map(count, src, dst) { CPUScalar.forward(.tanh, $0) }
        case .sigmoid: parallelChunks(count) { VectorMath.sigmoid(src + $0.lowerBound, dst + $0.lowerBound, count: $0.count) }
        case .softplus: parallelChunks(count) { VectorMath.softplus(src + $0.lowerBound, dst + $0.lowerBound, count: $0.count) }
        case .logSigmoid: vectorMap(count, src, dst) { -VectorMath.softplus(-$0) }
        case .relu: map(count, src, dst) { CPUScalar.forward(.relu, $0) }
        case .elu: map(count, src, dst) { CPUScalar.forward(.elu, $0) }
        case .lgamma: map(count, src, dst) { CPUScalar.forward(.lgamma, $0) }
        case .digamma: map(count, src, dst) { CPUScalar.forward(.digamma, $0) }
        case .trigamma: map(count, src, dst) { CPUScalar.forward(.trigamma, $0) }
        }
    }

    public func unaryBackward(_ op: UnaryOp, x: Buffer, gradient dy: Buffer, into dx: Buffer, count: Int) throws {
        let xs = try host(x, "backward input"), gs = try host(dy, "backward gradient"), out = try host(dx, "backward output")
        try xs.check(holds: count, "backward input")
        try gs.check(holds: count, "backward gradient")
        try out.check(holds: count, "backward output")
        let xp = xs.floats, gp = gs.floats, op_ = out.floats
        if op == .softplus || op == .exp || op == .expm1 {  // the hidden layers' and the Concrete's backward: vectorised
            parallelChunks(count) { range in
                if op == .softplus {
                    VectorMath.sigmoid(xp + range.lowerBound, op_ + range.lowerBound, count: range.count)
                } else {
                    VectorMath.exp(xp + range.lowerBound, op_ + range.lowerBound, count: range.count)
                }
                for i in range { op_[i] *= gp[i] }
            }
            return
        }
        parallelChunks(count) { range in
            for i in range { op_[i] = CPUScalar.backward(op, xp[i], gp[i]) }
        }
    }

    public func binary(_ op: BinaryOp, _ a: Buffer, _ b: Buffer, broadcast: Broadcast, rows: Int, cols: Int, into c: Buffer) throws {
        try require(rows >= 0 && cols >= 0, "negative shape \(rows)x\(cols)")
        let av = try host(a, "binary lhs"), bv = try host(b, "binary rhs"), cv = try host(c, "binary output")
        try av.check(holds: rows * cols, "binary lhs")
        try bv.check(holds: broadcast.count(rows: rows, cols: cols), "binary rhs")
        try cv.check(holds: rows * cols, "binary output")
        let (x, y, z) = (av.floats, bv.floats, cv.floats)
        switch op {
        case .add: zip(broadcast, rows, cols, x, y, z, Add.self)
        case .sub: zip(broadcast, rows, cols, x, y, z, Subtract.self)
        case .mul: zip(broadcast, rows, cols, x, y, z, Multiply.self)
        case .div: zip(broadcast, rows, cols, x, y, z, Divide.self)
        case .max: zip(broadcast, rows, cols, x, y, z, Maximum.self)
        case .min: zip(broadcast, rows, cols, x, y, z, Minimum.self)
        }
    }

    public func affine(_ x: Buffer, alpha: Float, beta: Float, into y: Buffer, count: Int) throws {
        let xs = try host(x, "affine input"), ys = try host(y, "affine output")
        try xs.check(holds: count, "affine input")
        try ys.check(holds: count, "affine output")
        // the loop written out, not through `map`: its closure stayed an indirect call per element here, and the decoder
        // batch norm's fade mixes two batch × vocabulary tensors by affine maps every step (12% of a topic-model step)
        let x = xs.floats, y = ys.floats
        parallelChunks(count) { range in
            for i in range { y[i] = alpha * x[i] + beta }
        }
    }
}

@inline(__always)
func map(_ count: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ f: (Float) -> Float) {
    parallelChunks(count) { range in
        for i in range { y[i] = f(x[i]) }
    }
}

@inline(__always)
func vectorMap(_ count: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ f: (VectorMath.V) -> VectorMath.V) {
    parallelChunks(count) { range in VectorMath.map(x, y, range, f) }
}

/// A binary op as a type, so that `zip` is specialised for it and the op inlined into its loops: a closure reached
/// through the worker pool's body stayed an indirect call per element in some of them (measured: the logit-normal's
/// broadcast adds, 1.7% of a batch-1,000 step).
protocol BinaryKernel { static func apply(_ a: Float, _ b: Float) -> Float }
enum Add: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
enum Subtract: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
enum Multiply: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
enum Divide: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }
enum Maximum: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { CPUScalar.binary(.max, a, b) } }
enum Minimum: BinaryKernel { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { CPUScalar.binary(.min, a, b) } }

@inline(__always)
func zip<K: BinaryKernel>(
    _ broadcast: Broadcast, _ rows: Int, _ cols: Int,
    _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ kernel: K.Type
) {
    switch broadcast {
    case .none:
        parallelChunks(rows * cols) { range in
            for i in range { c[i] = K.apply(a[i], b[i]) }
        }
    case .scalar:
        let s = b[0]
        parallelChunks(rows * cols) { range in
            for i in range { c[i] = K.apply(a[i], s) }
        }
    case .row:
        parallelChunks(rows, grain: max(1, (1 << 15) / max(cols, 1))) { range in
            for r in range {
                let base = r * cols
                for j in 0..<cols { c[base + j] = K.apply(a[base + j], b[j]) }
            }
        }
    case .column:
        parallelChunks(rows, grain: max(1, (1 << 15) / max(cols, 1))) { range in
            for r in range {
                let base = r * cols, s = b[r]
                for j in 0..<cols { c[base + j] = K.apply(a[base + j], s) }
            }
        }
    }
}
