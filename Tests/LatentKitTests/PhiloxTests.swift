// Philox4x32-10: Random123 known-answer vectors, identical bits across backends (PhiloxChecks, shared with
// `latentkit selftest`), the counter partition, and sample moments.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct PhiloxTests {
    @Test func referenceMatchesKnownAnswers() {
        for (counter, key, expected) in PhiloxChecks.knownAnswers {
            let w = Philox.block(counter: counter.words, key: key)
            #expect([w[0], w[1], w[2], w[3]] == expected)
        }
    }

    /// Random123's known answers on every backend, and (for a backend other than the CPU one) its bits and draws
    /// against the CPU backend's: the checks `latentkit selftest` runs.
    @Test(arguments: TestBackends.all)
    func selfTestChecks(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        for check in PhiloxChecks.all where !check.needsReference || kind != .cpu {
            let result = try check.run(backend)
            #expect(result.passed, "\(check): \(result.summary)")
        }
    }

    func bits(_ kind: BackendKind, count: Int, key: PhiloxKey, counter: PhiloxCounter) throws -> [UInt32] {
        try PhiloxChecks.bits(TestBackends.backend(kind), count: count, key: key, counter: counter)
    }

    func draw(_ kind: BackendKind, _ distribution: RandomDistribution, count: Int, key: PhiloxKey, p: Float = 0.3) throws -> [Float] {
        try PhiloxChecks.draw(TestBackends.backend(kind), distribution, count: count, key: key, p: p)
    }

    @Test(arguments: TestBackends.all)
    func countersPartitionTheStream(kind: BackendKind) throws {
        let key = PhiloxKey(seed: 7, stream: 3)
        let whole = try bits(kind, count: 16, key: key, counter: PhiloxChecks.carryCounter)
        let first = try bits(kind, count: 8, key: key, counter: PhiloxChecks.carryCounter)
        let second = try bits(kind, count: 8, key: key, counter: PhiloxChecks.carryCounter.advanced(by: PhiloxCounter.blocks(for: 8)))
        #expect(whole == first + second)
        let otherStream = try bits(kind, count: 16, key: PhiloxKey(seed: 7, stream: 4), counter: PhiloxChecks.carryCounter)
        #expect(otherStream != whole)
    }

    /// Sample mean and variance of 1e6 draws within 5 standard errors of the analytic values.
    @Test(arguments: TestBackends.all, RandomDistribution.allCases)
    func momentsOfAMillionDraws(kind: BackendKind, distribution: RandomDistribution) throws {
        let n = 1_000_000, p = 0.3
        let xs = try draw(kind, distribution, count: n, key: PhiloxKey(seed: 2024, stream: 1), p: Float(p))
        let eulerGamma = 0.577_215_664_901_532_9
        // (mean, variance, fourth central moment)
        let (mean, variance, mu4): (Double, Double, Double) = switch distribution {
        case .uniform: (0.5, 1.0 / 12, 1.0 / 80)
        case .normal: (0, 1, 3)
        case .gumbel: (eulerGamma, Double.pi * Double.pi / 6, 5.4 * Foundation.pow(Double.pi * Double.pi / 6, 2))
        case .bernoulli: (p, p * (1 - p), p * (1 - p) * (1 - 3 * p * (1 - p)))
        }
        let m = xs.reduce(0.0) { $0 + Double($1) } / Double(n)
        let v = xs.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(n - 1)
        let seMean = (variance / Double(n)).squareRoot(), seVariance = ((mu4 - variance * variance) / Double(n)).squareRoot()
        #expect(Swift.abs(m - mean) < 5 * seMean, "\(distribution) mean \(m), want \(mean) ± \(5 * seMean)")
        #expect(Swift.abs(v - variance) < 5 * seVariance, "\(distribution) variance \(v), want \(variance) ± \(5 * seVariance)")
        if distribution == .uniform { #expect(xs.min()! > 0 && xs.max()! < 1) }
        if distribution == .bernoulli { #expect(xs.allSatisfy { $0 == 0 || $0 == 1 }) }
        #expect(xs.allSatisfy { $0.isFinite })
    }

    @Test(arguments: TestBackends.all)
    func bernoulliWithoutProbabilitiesIsAnError(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let out = try backend.allocate(count: 4, dtype: .float32)
        #expect(throws: BackendError.self) {
            try backend.fillRandom(.bernoulli, into: out, count: 4, key: PhiloxKey(seed: 1), counter: PhiloxCounter(), probabilities: nil)
        }
    }
}
