// Elementwise ops: cross-backend agreement at odd sizes, backward forms against float64 finite differences,
// binary ops with every broadcast against a float reference.

import Foundation
import LatentKit
import RealModule
import Testing
import TestSupport

@Suite struct ElementwiseTests {
    /// Inputs for agreement: the op's domain plus special values, so NaN positions and infinity signs are compared.
    func agreementInputs(_ op: UnaryOp, count: Int) -> [Float] {
        var xs = smoothInputs(op, count: count, seed: UInt64(count) &+ 17)
        let specials: [Float] = [0, -0.0, .nan, .infinity, -.infinity, -1, 1, 1e-6, 100, -100]
        for (i, s) in specials.enumerated() where i * 7 < count { xs[i * 7] = s }
        return xs
    }

    func run(_ kind: BackendKind, _ body: (any Backend) throws -> Buffer, count: Int) throws -> [Float] {
        let backend = try TestBackends.backend(kind)
        return try backend.download(try body(backend), offset: 0, count: count)
    }

    @Test(arguments: TestBackends.others, [1, 3, 1023, 4097])
    func unaryAgreesAcrossBackends(kind: BackendKind, count: Int) throws {
        for op in UnaryOp.allCases {
            let xs = agreementInputs(op, count: count)
            let forward = { (b: any Backend) throws -> Buffer in
                let y = try b.allocate(count: count, dtype: .float32)
                try b.unary(op, try b.buffer(xs), into: y, count: count)
                return y
            }
            let got = try run(kind, forward, count: count), want = try run(.cpu, forward, count: count)
            let mismatch = firstMismatch(got, want, rtol: 4e-6, atol: 2e-6)
            #expect(mismatch == nil, "\(op.cName) at \(mismatch.map { "x=\(xs[$0.index]): \($0.a) vs \($0.b)" } ?? "")")

            let dys = randomFloats(count, in: -1...1, seed: 5)
            let backward = { (b: any Backend) throws -> Buffer in
                let dx = try b.allocate(count: count, dtype: .float32)
                try b.unaryBackward(op, x: try b.buffer(xs), gradient: try b.buffer(dys), into: dx, count: count)
                return dx
            }
            let gotB = try run(kind, backward, count: count), wantB = try run(.cpu, backward, count: count)
            let mismatchB = firstMismatch(gotB, wantB, rtol: 4e-6, atol: 2e-6)
            #expect(mismatchB == nil, "\(op.cName)' at \(mismatchB.map { "x=\(xs[$0.index]): \($0.a) vs \($0.b)" } ?? "")")
        }
    }

    /// The 1-million-element case, every op, forward and backward in one batch per backend.
    @Test(arguments: TestBackends.others)
    func unaryAgreesOnAMillionElements(kind: BackendKind) throws {
        let count = 1 << 20
        for op in UnaryOp.allCases {
            let xs = smoothInputs(op, count: count, seed: 3)
            let forward = { (b: any Backend) throws -> Buffer in
                let y = try b.allocate(count: count, dtype: .float32)
                try b.unary(op, try b.buffer(xs), into: y, count: count)
                return y
            }
            let got = try run(kind, forward, count: count), want = try run(.cpu, forward, count: count)
            let mismatch = firstMismatch(got, want, rtol: 4e-6, atol: 2e-6)
            #expect(mismatch == nil, "\(op.cName): \(String(describing: mismatch))")
        }
    }

    /// dx = dy f'(x) against central differences of the float64 reference.
    @Test(arguments: TestBackends.all, UnaryOp.allCases)
    func backwardMatchesFiniteDifferences(kind: BackendKind, op: UnaryOp) throws {
        let backend = try TestBackends.backend(kind)
        let count = 257
        let xs = smoothInputs(op, count: count, seed: 11), dys = randomFloats(count, in: -1...1, seed: 12)
        let dx = try backend.allocate(count: count, dtype: .float32)
        try backend.unaryBackward(op, x: try backend.buffer(xs), gradient: try backend.buffer(dys), into: dx, count: count)
        let got = try backend.download(dx)
        for i in 0..<count {
            let x = Double(xs[i]), h = 1e-6 * Swift.max(1, Swift.abs(x))
            let derivative = (referenceForward(op, x + h) - referenceForward(op, x - h)) / (2 * h)
            let want = Double(dys[i]) * derivative
            let error = Swift.abs(Double(got[i]) - want)
            #expect(error <= 1e-4 * Swift.abs(want) + 1e-6, "backward \(op.cName) at x=\(x), dy=\(dys[i]): got \(got[i]), want \(want)")
        }
    }

    @Test(arguments: TestBackends.all, Broadcast.allCases)
    func binaryOpsWithBroadcast(kind: BackendKind, broadcast: Broadcast) throws {
        let backend = try TestBackends.backend(kind)
        for (rows, cols) in [(1, 1), (3, 5), (37, 1023)] {
            var rng = TestRandom(seed: UInt64(rows * cols))
            var a = rng.floats(rows * cols, in: -4...4)
            var b = rng.floats(broadcast.count(rows: rows, cols: cols), in: 0.5...3)
            a[0] = .nan
            if b.count > 1 { b[1] = .nan }
            let ab = try backend.buffer(a), bb = try backend.buffer(b), c = try backend.allocate(count: rows * cols, dtype: .float32)
            for op in BinaryOp.allCases {
                try backend.binary(op, ab, bb, broadcast: broadcast, rows: rows, cols: cols, into: c)
                let got = try backend.download(c)
                let want = (0..<(rows * cols)).map { i -> Float in
                    let j = switch broadcast {
                    case .none: i
                    case .row: i % cols
                    case .column: i / cols
                    case .scalar: 0
                    }
                    return CPUScalar.binary(op, a[i], b[j])
                }
                #expect(firstMismatch(got, want, rtol: 3e-7) == nil, "\(op) \(broadcast) \(rows)x\(cols)")
                #expect(got[0].isNaN, "\(op) must propagate NaN")
            }
        }
    }

    @Test(arguments: TestBackends.all)
    func affineAndShapeErrors(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let x = try backend.buffer([1, 2, 3] as [Float]), y = try backend.allocate(count: 3, dtype: .float32)
        try backend.affine(x, alpha: 2, beta: -1, into: y, count: 3)
        #expect(try backend.download(y) == [1, 3, 5])
        #expect(throws: BackendError.self) { try backend.unary(.exp, x, into: y, count: 4) }
        #expect(throws: BackendError.self) {
            try backend.binary(.add, x, x, broadcast: .none, rows: 2, cols: 2, into: y)
        }
        let ints = try backend.allocate(count: 3, dtype: .int32)
        #expect(throws: BackendError.self) { try backend.unary(.exp, ints, into: y, count: 3) }
        let foreign: any Backend = kind == .cpu ? (try TestBackends.backend(TestBackends.others.first ?? .cpu)) : CPUBackend.shared
        if foreign.kind != kind {
            let other = try foreign.buffer([1, 2, 3] as [Float])
            #expect(throws: BackendError.self) { try backend.unary(.exp, other, into: y, count: 3) }
        }
    }
}
