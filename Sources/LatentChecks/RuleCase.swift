// A differentiable function of a few matrices, checked on a backend against its float64 reference: the output, and
// every input's gradient against central differences. The suite and `latentkit selftest` run the same cases.

import Foundation
import LatentKit

/// A differentiable function of a few matrices, on the tape and in float64.
public struct RuleCase: CustomStringConvertible, Sendable {
    public let description: String
    /// Shapes and value ranges of the inputs; constants (no gradient checked) are marked.
    public let inputs: [InputSpec]
    public let tape: @Sendable (Tape, [Tensor]) throws -> Tensor
    /// Inputs as row-major float64 arrays to the row-major output.
    public let reference: @Sendable ([[Double]]) -> [Double]

    public init(description: String, inputs: [InputSpec],
                tape: @escaping @Sendable (Tape, [Tensor]) throws -> Tensor, reference: @escaping @Sendable ([[Double]]) -> [Double]) {
        self.description = description
        self.inputs = inputs
        self.tape = tape
        self.reference = reference
    }
}

/// The shapes and value ranges of a tape function's inputs; constants get no gradient.
public typealias InputSpec = (rows: Int, cols: Int, range: ClosedRange<Double>, constant: Bool)

/// One run of a tape function on a backend: deterministic inputs, the output, and the gradient of every non-constant
/// input of L = Σ w ⊙ f(inputs) for fixed random weights w.
struct TapeRun {
    let values: [[Float]]
    let output: [Float]
    let weights: [Float]
    /// nil for constants and for inputs no gradient reached.
    let gradients: [[Float]?]

    init(_ specs: [InputSpec], on backend: any Backend, _ body: (Tape, [Tensor]) throws -> Tensor) throws {
        let tape = Tape(pool: BufferPool(backend: backend))
        values = specs.enumerated().map { i, s in randomFloats(s.rows * s.cols, in: s.range, seed: UInt64(31 * i + 7)) }
        let inputs = try zip(values, specs).map { v, s in try Tensor(v, rows: s.rows, cols: s.cols, on: backend) }
        for (t, s) in zip(inputs, specs) where !s.constant { tape.watch(t) }
        let y = try body(tape, inputs)
        weights = randomFloats(y.count, in: -1...1, seed: 99)
        let w = try Tensor(weights, rows: y.rows, cols: y.cols, on: backend)
        try tape.backward(from: tape.sumAll(tape.binary(.mul, y, w)))
        output = try backend.download(y.buffer, offset: 0, count: y.count)
        gradients = try zip(inputs, specs).map { t, s in
            guard !s.constant, let g = tape.gradient(of: t) else { return nil }
            return try backend.download(g.buffer, offset: 0, count: t.count)
        }
    }
}

/// Checks `rule` on `backend`: its output against the float64 reference, and the gradient of every non-constant
/// input against central differences of that reference (L = Σ w ⊙ f(inputs) for fixed random weights w), each to
/// 1e-4 relative plus 1e-4 absolute.
public func checkRule(_ rule: RuleCase, on backend: any Backend) throws -> CheckResult {
    let run = try TapeRun(rule.inputs, on: backend, rule.tape)
    var result = CheckResult(tolerance: "1e-4 relative + 1e-4")
    let doubles = run.values.map { $0.map(Double.init) }
    let forward = rule.reference(doubles)
    if forward.count != run.output.count { result.fail("output has \(run.output.count) values, the reference \(forward.count)") }
    for (j, (g, want)) in zip(run.output, forward).enumerated() {
        result.compare(Double(g), want, rtol: 1e-4, atol: 1e-4, "output[\(j)]")
    }
    func loss(_ x: [[Double]]) -> Double { zip(rule.reference(x), run.weights).reduce(0) { $0 + $1.0 * Double($1.1) } }
    for (index, shape) in rule.inputs.enumerated() where !shape.constant {
        guard let got = run.gradients[index] else {
            result.fail("no gradient reached input \(index)")
            continue
        }
        for j in got.indices {
            var plus = doubles, minus = doubles
            let h = 1e-6 * Swift.max(1, Swift.abs(doubles[index][j]))
            plus[index][j] += h
            minus[index][j] -= h
            let want = (loss(plus) - loss(minus)) / (2 * h)
            result.compare(Double(got[j]), want, rtol: 1e-4, atol: 1e-4, "gradient of input \(index)[\(j)]")
        }
    }
    return result
}
