// lgamma, digamma, trigamma, softplus and log-sigmoid against mpmath references (LatentChecks/SpecialFunctionValues.swift,
// from scripts/make_special_values.py), on every backend, through the checks `latentkit selftest` runs.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct SpecialFunctionTests {
    /// Relative error at most 2e-6 where |f(x)| >= 1, absolute error at most 2e-6 where |f(x)| < 1, x in [1e-6, 1e6].
    @Test(arguments: TestBackends.all, [UnaryOp.lgamma, .digamma, .trigamma])
    func accuracyAgainstMpmath(kind: BackendKind, op: UnaryOp) throws {
        let result = try SpecialFunctionChecks.accuracy(op, on: TestBackends.backend(kind))
        print("\(op.cName) on \(kind): \(result.summary)")
        #expect(result.passed, "\(result.summary)")
    }

    /// softplus and log-sigmoid within one float32 rounding step (plus the builtins' last-bit slack) for |x| <= 100,
    /// never overflowing beyond.
    @Test(arguments: TestBackends.all, [UnaryOp.softplus, .logSigmoid])
    func softplusExactToRounding(kind: BackendKind, op: UnaryOp) throws {
        let result = try SpecialFunctionChecks.softplusAccuracy(op, on: TestBackends.backend(kind))
        print("\(op.cName) on \(kind): \(result.summary)")
        #expect(result.passed, "\(result.summary)")
    }

    /// The edge semantics are fixed by the CPU backend; every backend matches them exactly.
    @Test(arguments: TestBackends.all)
    func edgeSemantics(kind: BackendKind) throws {
        let result = try SpecialFunctionChecks.edges(on: TestBackends.backend(kind))
        #expect(result.passed, "\(result.summary)")
    }
}
