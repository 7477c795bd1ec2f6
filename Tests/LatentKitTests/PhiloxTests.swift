// Philox4x32-10: Random123 known-answer vectors, identical bits across backends, and sample moments.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct PhiloxTests {
    /// (counter, key, expected output) from Random123's kat_vectors for philox4x32_10.
    static let knownAnswers: [(PhiloxCounter, PhiloxKey, [UInt32])] = [
        (PhiloxCounter(0, 0, 0, 0), PhiloxKey(seed: 0, stream: 0), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
        (PhiloxCounter(.max, .max, .max, .max), PhiloxKey(seed: .max, stream: .max),
         [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
        (PhiloxCounter(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), PhiloxKey(seed: 0xa409_3822, stream: 0x299f_31d0),
         [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]),
    ]

    @Test func referenceMatchesKnownAnswers() {
        for (counter, key, expected) in Self.knownAnswers {
            let w = Philox.block(counter: counter.words, key: key)
            #expect([w[0], w[1], w[2], w[3]] == expected)
        }
    }

    @Test(arguments: TestBackends.all)
    func backendMatchesKnownAnswers(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let out = try backend.allocate(count: 4, dtype: .int32)
        for (counter, key, expected) in Self.knownAnswers {
            try backend.fillRandomBits(into: out, count: 4, key: key, counter: counter)
            let got = try backend.downloadInt32(out, offset: 0, count: 4).map { UInt32(bitPattern: $0) }
            #expect(got == expected)
        }
    }

    func bits(_ kind: BackendKind, count: Int, key: PhiloxKey, counter: PhiloxCounter) throws -> [Int32] {
        let backend = try TestBackends.backend(kind)
        let out = try backend.allocate(count: count, dtype: .int32)
        try backend.fillRandomBits(into: out, count: count, key: key, counter: counter)
        return try backend.downloadInt32(out, offset: 0, count: count)
    }

    func draw(_ kind: BackendKind, _ distribution: RandomDistribution, count: Int, key: PhiloxKey,
              counter: PhiloxCounter = PhiloxCounter(), p: Float = 0.3) throws -> [Float] {
        let backend = try TestBackends.backend(kind)
        let out = try backend.allocate(count: count, dtype: .float32)
        let probabilities = try backend.allocate(count: count, dtype: .float32)
        try backend.fill(probabilities, with: p, offset: 0, count: count)
        try backend.fillRandom(distribution, into: out, count: count, key: key, counter: counter, probabilities: probabilities)
        return try backend.download(out)
    }

    /// A counter whose low word carries into the next within the fill.
    static let carryCounter = PhiloxCounter(0xFFFF_FFF0, 7, 1, 2)

    @Test(arguments: TestBackends.others)
    func identicalBitsAcrossBackends(kind: BackendKind) throws {
        for count in [1, 3, 1023, 4097] {
            let key = PhiloxKey(seed: 1234, stream: UInt32(count))
            let got = try bits(kind, count: count, key: key, counter: Self.carryCounter)
            let want = try bits(.cpu, count: count, key: key, counter: Self.carryCounter)
            #expect(got == want)
        }
        let key = PhiloxKey(seed: 99, stream: 5)
        // Uniforms and Bernoulli draws are exact functions of the bits: identical. Normal and Gumbel go through
        // log/sin/cos, whose last bits may differ between libms.
        for distribution in [RandomDistribution.uniform, .bernoulli] {
            let got = try draw(kind, distribution, count: 4097, key: key), want = try draw(.cpu, distribution, count: 4097, key: key)
            #expect(got == want)
        }
        for distribution in [RandomDistribution.normal, .gumbel] {
            let a = try draw(kind, distribution, count: 4097, key: key), b = try draw(.cpu, distribution, count: 4097, key: key)
            #expect(firstMismatch(a, b, rtol: 1e-5, atol: 1e-5) == nil)
        }
    }

    @Test(arguments: TestBackends.all)
    func countersPartitionTheStream(kind: BackendKind) throws {
        let key = PhiloxKey(seed: 7, stream: 3)
        let whole = try bits(kind, count: 16, key: key, counter: Self.carryCounter)
        let first = try bits(kind, count: 8, key: key, counter: Self.carryCounter)
        let second = try bits(kind, count: 8, key: key, counter: Self.carryCounter.advanced(by: PhiloxCounter.blocks(for: 8)))
        #expect(whole == first + second)
        let otherStream = try bits(kind, count: 16, key: PhiloxKey(seed: 7, stream: 4), counter: Self.carryCounter)
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
