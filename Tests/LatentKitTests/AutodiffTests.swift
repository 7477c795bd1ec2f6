// Every gradient rule of the tape against central differences of a float64 reference of the same function,
// on every backend. Each case computes L = Σ w ⊙ f(inputs) for fixed random weights w.

import Foundation
import LatentKit
import Testing
import TestSupport

/// A differentiable function of a few matrices, on the tape and in float64.
struct RuleCase: CustomStringConvertible, Sendable {
    let description: String
    /// Shapes and value ranges of the inputs; constants (no gradient checked) are marked.
    let inputs: [(rows: Int, cols: Int, range: ClosedRange<Double>, constant: Bool)]
    let tape: @Sendable (Tape, [Tensor]) throws -> Tensor
    /// Inputs as row-major float64 arrays to the row-major output.
    let reference: @Sendable ([[Double]]) -> [Double]
}

func ref(_ x: [Double], _ rows: Int, _ cols: Int, _ i: Int, _ j: Int, transposed: Bool) -> Double {
    transposed ? x[j * rows + i] : x[i * cols + j]
}

/// op(a) · op(b) in float64, with the stored shapes.
func referenceMatmul(_ a: [Double], _ ar: Int, _ ac: Int, _ ta: Bool, _ b: [Double], _ br: Int, _ bc: Int, _ tb: Bool) -> [Double] {
    let m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            for p in 0..<k {
                c[i * n + j] += (ta ? a[p * ac + i] : a[i * ac + p]) * (tb ? b[j * bc + p] : b[p * bc + j])
            }
        }
    }
    return c
}

func referenceBroadcast(_ op: BinaryOp, _ a: [Double], _ b: [Double], _ rows: Int, _ cols: Int, _ broadcast: Broadcast) -> [Double] {
    (0..<(rows * cols)).map { i in
        let y = switch broadcast {
        case .none: b[i]
        case .row: b[i % cols]
        case .column: b[i / cols]
        case .scalar: b[0]
        }
        return switch op {
        case .add: a[i] + y
        case .sub: a[i] - y
        case .mul: a[i] * y
        case .div: a[i] / y
        case .max: Swift.max(a[i], y)
        case .min: Swift.min(a[i], y)
        }
    }
}

func referenceRowReduce(_ x: [Double], _ rows: Int, _ cols: Int, _ axis: ReductionAxis, _ f: ([Double]) -> Double) -> [Double] {
    axis == .eachRow
        ? (0..<rows).map { r in f(Array(x[(r * cols)..<(r * cols + cols)])) }
        : (0..<cols).map { c in f((0..<rows).map { x[$0 * cols + c] }) }
}

let ruleCases: [RuleCase] = {
    var cases: [RuleCase] = []
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let (ar, ac) = ta ? (4, 3) : (3, 4), (br, bc) = tb ? (5, 4) : (4, 5)
        cases.append(RuleCase(
            description: "matmul \(ta ? "T" : "N")\(tb ? "T" : "N")",
            inputs: [(ar, ac, -1...1, false), (br, bc, -1...1, false)],
            tape: { t, x in try t.matmul(x[0], x[1], transposeA: ta, transposeB: tb) },
            reference: { x in referenceMatmul(x[0], ar, ac, ta, x[1], br, bc, tb) }))
    }
    cases.append(RuleCase(
        description: "linear", inputs: [(3, 4, -1...1, false), (4, 5, -1...1, false), (1, 5, -1...1, false)],
        tape: { t, x in try t.linear(x[0], weight: x[1], bias: x[2]) },
        reference: { x in referenceBroadcast(.add, referenceMatmul(x[0], 3, 4, false, x[1], 4, 5, false), x[2], 3, 5, .row) }))
    for op in [UnaryOp.softplus, .tanh, .exp, .lgamma, .sigmoid] {
        let range: ClosedRange<Double> = op == .lgamma ? 0.2...5 : -2...2
        cases.append(RuleCase(
            description: "unary \(op.cName)", inputs: [(3, 4, range, false)],
            tape: { t, x in try t.unary(op, x[0]) },
            reference: { x in x[0].map { referenceForward(op, $0) } }))
    }
    for op in [BinaryOp.add, .sub, .mul, .div] {
        for broadcast in Broadcast.allCases {
            let bShape = switch broadcast {
            case .none: (3, 4)
            case .row: (1, 4)
            case .column: (3, 1)
            case .scalar: (1, 1)
            }
            cases.append(RuleCase(
                description: "binary \(op.rawValue) \(broadcast)",
                inputs: [(3, 4, -2...2, false), (bShape.0, bShape.1, 0.5...2, false)],
                tape: { t, x in try t.binary(op, x[0], x[1], broadcast: broadcast) },
                reference: { x in referenceBroadcast(op, x[0], x[1], 3, 4, broadcast) }))
        }
    }
    cases.append(RuleCase(
        description: "affine", inputs: [(3, 4, -2...2, false)],
        tape: { t, x in try t.affine(x[0], alpha: -1.5, beta: 0.25) },
        reference: { x in x[0].map { -1.5 * $0 + 0.25 } }))
    for axis in ReductionAxis.allCases {
        cases.append(RuleCase(
            description: "sum \(axis)", inputs: [(3, 4, -2...2, false)],
            tape: { t, x in try t.sum(x[0], axis: axis) },
            reference: { x in referenceRowReduce(x[0], 3, 4, axis) { $0.reduce(0, +) } }))
        cases.append(RuleCase(
            description: "logsumexp \(axis)", inputs: [(3, 4, -3...3, false)],
            tape: { t, x in try t.logSumExp(x[0], axis: axis) },
            reference: { x in referenceRowReduce(x[0], 3, 4, axis) { l in Foundation.log(l.reduce(0) { $0 + Foundation.exp($1) }) } }))
    }
    cases.append(RuleCase(
        description: "sumAll", inputs: [(3, 4, -2...2, false)],
        tape: { t, x in try t.sumAll(x[0]) }, reference: { x in [x[0].reduce(0, +)] }))
    cases.append(RuleCase(
        description: "gaussianSample", inputs: [(3, 4, -2...2, false), (3, 4, -2...1, false), (3, 4, -2...2, true)],
        tape: { t, x in try t.gaussianSample(mean: x[0], logVariance: x[1], noise: x[2]) },
        reference: { x in (0..<12).map { x[0][$0] + Foundation.exp(0.5 * x[1][$0]) * x[2][$0] } }))
    cases.append(RuleCase(
        description: "gaussianKL", inputs: [(3, 4, -2...2, false), (3, 4, -2...1, false)],
        tape: { t, x in try t.gaussianKL(mean: x[0], logVariance: x[1]) },
        reference: { x in (0..<3).map { r in DistributionKernelTests.kl(Array(x[0][(r * 4)..<(r * 4 + 4)]), Array(x[1][(r * 4)..<(r * 4 + 4)])) } }))
    cases.append(RuleCase(
        description: "gaussianKL prior variance 1.78", inputs: [(3, 4, -2...2, false), (3, 4, -2...1, false)],
        tape: { t, x in try t.gaussianKL(mean: x[0], logVariance: x[1], priorLogVariance: Float(Foundation.log(1.78))) },
        reference: { x in
            (0..<3).map { r in
                DistributionKernelTests.kl(Array(x[0][(r * 4)..<(r * 4 + 4)]), Array(x[1][(r * 4)..<(r * 4 + 4)]),
                                           priorLogVariance: Double(Float(Foundation.log(1.78))))
            }
        }))
    cases.append(RuleCase(
        description: "logSoftmax", inputs: [(3, 4, -3...3, false)],
        tape: { t, x in try t.logSoftmax(x[0]) },
        reference: { x in
            (0..<12).map { i in
                let row = Array(x[0][(i / 4 * 4)..<(i / 4 * 4 + 4)])
                return x[0][i] - Foundation.log(row.reduce(0) { $0 + Foundation.exp($1) })
            }
        }))
    cases.append(RuleCase(
        description: "batchNorm (training)", inputs: [(5, 4, -2...2, false)],
        tape: { t, x in try BatchNorm(name: "bn", features: 4, on: t.backend)(x[0], training: true, on: t) },
        reference: { x in
            var y = [Double](repeating: 0, count: 20)
            for c in 0..<4 {
                let col = (0..<5).map { x[0][$0 * 4 + c] }
                let m = col.reduce(0, +) / 5, v = col.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 5
                for r in 0..<5 { y[r * 4 + c] = (col[r] - m) / (v + Double(BatchNorm.epsilon)).squareRoot() }
            }
            return y
        }))
    cases.append(RuleCase(
        description: "reshape", inputs: [(3, 4, -2...2, false)],
        tape: { t, x in try t.unary(.tanh, t.reshape(x[0], rows: 6, cols: 2)) },
        reference: { x in x[0].map { Foundation.tanh($0) } }))
    cases.append(RuleCase(
        description: "bernoulliLogLikelihood", inputs: [(3, 4, -4...4, false), (3, 4, 0...1, true)],
        tape: { t, x in try t.bernoulliLogLikelihood(logits: x[0], targets: x[1]) },
        reference: { x in (0..<3).map { r in DistributionKernelTests.bernoulli(Array(x[0][(r * 4)..<(r * 4 + 4)]), Array(x[1][(r * 4)..<(r * 4 + 4)])) } }))
    cases.append(RuleCase(
        description: "gaussianLogDensity", inputs: [(3, 4, -2...2, false), (3, 4, -1...1, false), (3, 4, -1...1, false)],
        tape: { t, x in try t.gaussianLogDensity(x[0], mean: x[1], logVariance: x[2]) },
        reference: { x in
            (0..<3).map { r in
                let s = (r * 4)..<(r * 4 + 4)
                return DistributionKernelTests.logDensity(Array(x[0][s]), Array(x[1][s]), Array(x[2][s]))
            }
        }))
    // One input reaching the output along two paths: the gradients must add up.
    cases.append(RuleCase(
        description: "shared input", inputs: [(3, 4, -2...2, false)],
        tape: { t, x in try t.binary(.mul, t.unary(.tanh, x[0]), t.affine(x[0], alpha: 2, beta: 1)) },
        reference: { x in x[0].map { Foundation.tanh($0) * (2 * $0 + 1) } }))
    return cases
}()

/// Checks `rule` on `backend`: its output against the float64 reference, and the gradient of every non-constant
/// input against central differences of that reference (L = Σ w ⊙ f(inputs) for fixed random weights w).
func checkRule(_ rule: RuleCase, on backend: any Backend) throws {
    let tape = Tape(pool: BufferPool(backend: backend))
    let values = rule.inputs.enumerated().map { i, s in randomFloats(s.rows * s.cols, in: s.range, seed: UInt64(31 * i + 7)) }
    let inputs = try zip(values, rule.inputs).map { v, s in try Tensor(v, rows: s.rows, cols: s.cols, on: backend) }
    for (t, s) in zip(inputs, rule.inputs) where !s.constant { tape.watch(t) }
    let output = try rule.tape(tape, inputs)
    let weights = randomFloats(output.count, in: -1...1, seed: 99)
    let w = try Tensor(weights, rows: output.rows, cols: output.cols, on: backend)
    try tape.backward(from: tape.sumAll(tape.binary(.mul, output, w)))

    let doubles = values.map { $0.map(Double.init) }
    let forward = rule.reference(doubles), got = try backend.download(output.buffer, offset: 0, count: output.count)
    #expect(forward.count == output.count, "\(rule): reference output size")
    for (j, (g, want)) in zip(got, forward).enumerated() {
        #expect(Swift.abs(Double(g) - want) <= 1e-4 * Swift.abs(want) + 1e-4, "\(rule) output[\(j)]: got \(g), want \(want)")
    }
    func loss(_ x: [[Double]]) -> Double { zip(rule.reference(x), weights).reduce(0) { $0 + $1.0 * Double($1.1) } }
    for (index, (tensor, shape)) in zip(inputs, rule.inputs).enumerated() where !shape.constant {
        guard let gradient = tape.gradient(of: tensor) else {
            Issue.record("\(rule): no gradient reached input \(index)")
            continue
        }
        let got = try backend.download(gradient.buffer, offset: 0, count: tensor.count)
        for j in 0..<tensor.count {
            var plus = doubles, minus = doubles
            let h = 1e-6 * Swift.max(1, Swift.abs(doubles[index][j]))
            plus[index][j] += h
            minus[index][j] -= h
            let want = (loss(plus) - loss(minus)) / (2 * h)
            #expect(Swift.abs(Double(got[j]) - want) <= 1e-4 * Swift.abs(want) + 1e-4,
                    "\(rule) input \(index)[\(j)]: got \(got[j]), want \(want)")
        }
    }
}

@Suite struct AutodiffTests {
    @Test(arguments: TestBackends.all, ruleCases)
    func ruleMatchesFiniteDifferences(kind: BackendKind, rule: RuleCase) throws {
        try checkRule(rule, on: TestBackends.backend(kind))
    }

    @Test(arguments: TestBackends.all)
    func maxHasNoGradientAndShapesAreChecked(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let a = try Tensor([1, 2, 3, 4], rows: 2, cols: 2, on: backend), b = try Tensor([1, 2, 3], rows: 1, cols: 3, on: backend)
        tape.watch(a)
        #expect(throws: BackendError.self) { try tape.binary(.max, a, a) }
        #expect(throws: BackendError.self) { try tape.binary(.add, a, b, broadcast: .row) }
        #expect(throws: BackendError.self) { try tape.matmul(a, b) }
    }
}
