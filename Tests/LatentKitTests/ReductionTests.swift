// Reductions over rows and columns and row softmax against float64 references, with special values.

import Foundation
import LatentKit
import Testing
import TestSupport

func referenceReduce(_ op: ReduceOp, _ line: [Double]) -> Double {
    switch op {
    case .sum: return line.reduce(0, +)
    case .max: return line.contains(where: \.isNaN) ? .nan : line.max() ?? -.infinity
    case .logSumExp:
        let m = referenceReduce(.max, line)
        if !m.isFinite { return m }
        return m + Foundation.log(line.reduce(0) { $0 + Foundation.exp($1 - m) })
    }
}

@Suite struct ReductionTests {
    static let shapes = [(1, 1), (3, 7), (100, 784), (7, 4097), (1000, 1000)]

    @Test(arguments: TestBackends.all, ReduceOp.allCases)
    func reduceAgainstFloat64(kind: BackendKind, op: ReduceOp) throws {
        let backend = try TestBackends.backend(kind)
        for (rows, cols) in Self.shapes {
            let xs = randomFloats(rows * cols, in: -3...3, seed: UInt64(rows + cols))
            let x = try backend.buffer(xs)
            for axis in ReductionAxis.allCases {
                let n = axis.outputCount(rows: rows, cols: cols)
                let y = try backend.allocate(count: n, dtype: .float32)
                try backend.reduce(op, x, rows: rows, cols: cols, axis: axis, into: y)
                let got = try backend.download(y)
                for o in 0..<n {
                    let line = axis == .eachRow ? (0..<cols).map { Double(xs[o * cols + $0]) } : (0..<rows).map { Double(xs[$0 * cols + o]) }
                    let want = referenceReduce(op, line)
                    let scale = op == .sum ? line.reduce(0) { $0 + Swift.abs($1) } : Swift.abs(want)
                    #expect(Swift.abs(Double(got[o]) - want) <= 2e-6 * scale + 1e-6,
                            "\(op) \(axis) \(rows)x\(cols) [\(o)]: \(got[o]) vs \(want)")
                }
            }
        }
    }

    @Test(arguments: TestBackends.all)
    func specialValues(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let inf = Float.infinity
        // rows: all -inf, contains NaN, contains +inf, ordinary
        let xs: [Float] = [-inf, -inf, -inf, 1, .nan, 2, 1, inf, 2, 0, 0, 0]
        let x = try backend.buffer(xs), y = try backend.allocate(count: 4, dtype: .float32)
        try backend.reduce(.logSumExp, x, rows: 4, cols: 3, axis: .eachRow, into: y)
        #expect(firstMismatch(try backend.download(y), [-inf, .nan, inf, Float.log(3)], rtol: 1e-6) == nil)
        try backend.reduce(.max, x, rows: 4, cols: 3, axis: .eachRow, into: y)
        #expect(firstMismatch(try backend.download(y), [-inf, .nan, inf, 0], rtol: 0) == nil)
        try backend.reduce(.sum, x, rows: 4, cols: 3, axis: .eachRow, into: y)
        #expect(firstMismatch(try backend.download(y), [-inf, .nan, inf, 0], rtol: 0) == nil)
    }

    @Test(arguments: TestBackends.all, SoftmaxOp.allCases)
    func softmaxAgainstFloat64(kind: BackendKind, op: SoftmaxOp) throws {
        let backend = try TestBackends.backend(kind)
        for (rows, cols) in Self.shapes {
            let xs = randomFloats(rows * cols, in: -20...20, seed: UInt64(rows * 3 + cols))
            let y = try backend.allocate(count: rows * cols, dtype: .float32)
            try backend.softmax(op, try backend.buffer(xs), rows: rows, cols: cols, into: y)
            let got = try backend.download(y)
            var worst = 0.0
            for r in 0..<rows {
                let line = (0..<cols).map { Double(xs[r * cols + $0]) }
                let lse = referenceReduce(.logSumExp, line)
                for j in 0..<cols {
                    let want = op == .softmax ? Foundation.exp(line[j] - lse) : line[j] - lse
                    // log-softmax is a difference of two numbers of size |x|: its error scales with them, not with the result
                    let scale = op == .softmax ? Swift.abs(want) + 1e-7 : Swift.abs(line[j]) + Swift.abs(lse)
                    worst = Swift.max(worst, Swift.abs(Double(got[r * cols + j]) - want) / scale)
                }
            }
            #expect(worst < 1e-5, "\(op) \(rows)x\(cols): worst relative error \(worst)")
        }
    }
}
