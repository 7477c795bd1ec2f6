// Every gradient rule of the tape against central differences of a float64 reference of the same function,
// on every backend. Each case computes L = Σ w ⊙ f(inputs) for fixed random weights w.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct AutodiffTests {
    @Test(arguments: TestBackends.all, ruleCases)
    func ruleMatchesFiniteDifferences(kind: BackendKind, rule: RuleCase) throws {
        let result = try checkRule(rule, on: TestBackends.backend(kind))
        #expect(result.passed, "\(rule): \(result.summary)")
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
