// lgamma, digamma, trigamma, softplus and log-sigmoid on a backend against the committed mpmath values
// (SpecialFunctionValues.swift, from scripts/make_special_values.py), and their edge semantics.

import Foundation
import LatentKit

public enum SpecialFunctionChecks {
    static let gammaTable = readTable(text: SpecialFunctionValues.gamma)
    static let softplusTable = readTable(text: SpecialFunctionValues.softplus)

    static func apply(_ op: UnaryOp, _ xs: [Float], on backend: any Backend) throws -> [Float] {
        let x = try backend.buffer(xs), y = try backend.allocate(count: xs.count, dtype: .float32)
        try backend.unary(op, x, into: y, count: xs.count)
        return try backend.download(y)
    }

    /// lgamma, digamma or trigamma at the table's 11,209 float32 arguments in [1e-6, 1e6]: relative error at most
    /// 2e-6 where |f(x)| ≥ 1, absolute error at most 2e-6 where |f(x)| < 1.
    public static func accuracy(_ op: UnaryOp, on backend: any Backend) throws -> CheckResult {
        let column = [UnaryOp.lgamma: 1, .digamma: 2, .trigamma: 3][op]!
        let xs = gammaTable.map { Float($0[0]) }
        let ys = try apply(op, xs, on: backend)
        var result = CheckResult(tolerance: "2e-6 relative where |f| ≥ 1, else 2e-6 absolute")
        for (i, row) in gammaTable.enumerated() {
            let want = row[column]
            let large = Swift.abs(want) >= 1
            result.compare(Double(ys[i]), want, rtol: large ? 2e-6 : 0, atol: large ? 0 : 2e-6, "\(op.cName)(\(xs[i]))")
        }
        return result
    }

    /// softplus or log-sigmoid at 10,005 float32 arguments in [-1000, 1000]: within 1.5 units in the last place of the
    /// float32 result (subnormal results within the smallest normal: devices may flush them to zero), never
    /// overflowing where the result is finite.
    public static func softplusAccuracy(_ op: UnaryOp, on backend: any Backend) throws -> CheckResult {
        let column = op == .softplus ? 1 : 2
        let xs = softplusTable.map { Float($0[0]) }
        let ys = try apply(op, xs, on: backend)
        var result = CheckResult(tolerance: "1.5 ulp")
        for (i, row) in softplusTable.enumerated() {
            let want = row[column], rounded = Float(want)
            if !ys[i].isFinite && want.magnitude <= Double(Float.greatestFiniteMagnitude) {
                result.fail("\(op.cName)(\(xs[i])) = \(ys[i]), want \(want)")
                continue
            }
            let bound = rounded.magnitude < Float.leastNormalMagnitude ? Double(Float.leastNormalMagnitude) : 1.5 * Double(rounded.ulp)
            result.compare(Double(ys[i]), want, rtol: 0, atol: bound, "\(op.cName)(\(xs[i]))")
        }
        return result
    }

    /// The edge semantics the CPU backend fixes: poles, NaN, infinities, negative arguments of the gamma family.
    public static func edges(on backend: any Backend) throws -> CheckResult {
        let inputs: [Float] = [0, .nan, .infinity, -1, -0.5, -.infinity]
        let expected: [(UnaryOp, [Float])] = [
            (.lgamma, [.infinity, .nan, .infinity, .nan, .nan, .nan]),
            (.digamma, [-.infinity, .nan, .infinity, .nan, .nan, .nan]),
            (.trigamma, [.infinity, .nan, 0, .nan, .nan, .nan]),
            (.softplus, [Float.log(2), .nan, .infinity, 0.31326169, 0.47407699, 0]),
            (.logSigmoid, [-Float.log(2), .nan, 0, -1.3132616, -0.97407699, -.infinity]),
        ]
        var result = CheckResult(tolerance: "1e-6 relative")
        for (op, want) in expected {
            let got = try apply(op, inputs, on: backend)
            for i in inputs.indices { result.compare(Double(got[i]), Double(want[i]), rtol: 1e-6, atol: 0, "\(op.cName)(\(inputs[i]))") }
        }
        for op in UnaryOp.allCases {
            let got = try apply(op, [.nan], on: backend)
            if !got[0].isNaN { result.fail("\(op.cName)(nan) = \(got[0])") }
        }
        return result
    }

    public static let all: [Check] = [UnaryOp.lgamma, .digamma, .trigamma].map { op in
        Check("special functions", "\(op.cName) against mpmath") { try accuracy(op, on: $0) }
    } + [UnaryOp.softplus, .logSigmoid].map { op in
        Check("special functions", "\(op.cName) against mpmath") { try softplusAccuracy(op, on: $0) }
    } + [Check("special functions", "edge values") { try edges(on: $0) }]
}
