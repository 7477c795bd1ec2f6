// lgamma, digamma, trigamma, softplus and log-sigmoid against mpmath references (Data/*.tsv), on every backend.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct SpecialFunctionTests {
    static let table = try! readTable(testDataPath("special_functions.tsv"))
    static let softplusTable = try! readTable(testDataPath("softplus.tsv"))

    func apply(_ op: UnaryOp, _ xs: [Float], on kind: BackendKind) throws -> [Float] {
        let backend = try TestBackends.backend(kind)
        let x = try backend.buffer(xs), y = try backend.allocate(count: xs.count, dtype: .float32)
        try backend.unary(op, x, into: y, count: xs.count)
        return try backend.download(y)
    }

    /// Relative error at most 2e-6 where |f(x)| >= 1, absolute error at most 2e-6 where |f(x)| < 1, x in [1e-6, 1e6].
    @Test(arguments: TestBackends.all, [UnaryOp.lgamma, .digamma, .trigamma])
    func accuracyAgainstMpmath(kind: BackendKind, op: UnaryOp) throws {
        let column = [UnaryOp.lgamma: 1, .digamma: 2, .trigamma: 3][op]!
        let xs = Self.table.map { Float($0[0]) }
        let ys = try apply(op, xs, on: kind)
        var worstRelative = 0.0, worstAbsolute = 0.0, failures: [String] = []
        for (i, row) in Self.table.enumerated() {
            let reference = row[column], error = Swift.abs(Double(ys[i]) - reference)
            if Swift.abs(reference) >= 1 {
                worstRelative = Swift.max(worstRelative, error / Swift.abs(reference))
                if error > 2e-6 * Swift.abs(reference) { failures.append("x=\(xs[i]) got \(ys[i]) want \(reference)") }
            } else {
                worstAbsolute = Swift.max(worstAbsolute, error)
                if error > 2e-6 { failures.append("x=\(xs[i]) got \(ys[i]) want \(reference)") }
            }
        }
        print("\(op.cName) on \(kind): worst relative \(worstRelative), worst absolute \(worstAbsolute) over \(xs.count) points")
        #expect(failures.isEmpty, "\(failures.count) points out of bounds, first: \(failures.prefix(5))")
    }

    /// softplus and log-sigmoid within one float32 rounding step (plus the builtins' last-bit slack) for |x| <= 100,
    /// never overflowing beyond.
    @Test(arguments: TestBackends.all, [UnaryOp.softplus, .logSigmoid])
    func softplusExactToRounding(kind: BackendKind, op: UnaryOp) throws {
        let column = op == .softplus ? 1 : 2
        let xs = Self.softplusTable.map { Float($0[0]) }
        let ys = try apply(op, xs, on: kind)
        var worstULP = 0.0, failures: [String] = []
        for (i, row) in Self.softplusTable.enumerated() {
            let reference = row[column]
            #expect(ys[i].isFinite || reference.magnitude > Double(Float.greatestFiniteMagnitude), "overflow at x=\(xs[i])")
            let rounded = Float(reference)
            if rounded.magnitude < Float.leastNormalMagnitude {
                // Subnormal results: devices may flush them to zero, so allow an absolute slack of the smallest normal.
                if Swift.abs(Double(ys[i]) - reference) > Double(Float.leastNormalMagnitude) { failures.append("x=\(xs[i])") }
                continue
            }
            let ulps = Swift.abs(Double(ys[i]) - reference) / Double(rounded.ulp)
            worstULP = Swift.max(worstULP, ulps)
            if ulps > 1.5 { failures.append("x=\(xs[i]) got \(ys[i]) want \(reference) (\(ulps) ulp)") }
        }
        print("\(op.cName) on \(kind): worst error \(worstULP) ulp over \(xs.count) points")
        #expect(failures.isEmpty, "\(failures.count) points off, first: \(failures.prefix(5))")
    }

    /// The edge semantics are fixed by the CPU backend; every backend matches them exactly.
    @Test(arguments: TestBackends.all)
    func edgeSemantics(kind: BackendKind) throws {
        let inputs: [Float] = [0, .nan, .infinity, -1, -0.5, -.infinity]
        let expected: [UnaryOp: [Float]] = [
            .lgamma: [.infinity, .nan, .infinity, .nan, .nan, .nan],
            .digamma: [-.infinity, .nan, .infinity, .nan, .nan, .nan],
            .trigamma: [.infinity, .nan, 0, .nan, .nan, .nan],
            .softplus: [Float.log(2), .nan, .infinity, 0.31326169, 0.47407699, 0],
            .logSigmoid: [-Float.log(2), .nan, 0, -1.3132616, -0.97407699, -.infinity],
        ]
        for (op, want) in expected {
            let got = try apply(op, inputs, on: kind)
            #expect(firstMismatch(got, want, rtol: 1e-6) == nil, "\(op.cName)(\(inputs)) = \(got), want \(want)")
        }
        for op in UnaryOp.allCases {
            let got = try apply(op, [.nan], on: kind)
            #expect(got[0].isNaN, "\(op.cName)(NaN) = \(got[0])")
        }
    }
}
