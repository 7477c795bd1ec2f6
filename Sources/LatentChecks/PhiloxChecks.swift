// Philox4x32-10 on a backend: Random123's known answers, and the CPU backend's bits and draws.

import Foundation
import LatentKit

public enum PhiloxChecks {
    /// (counter, key, expected output) from Random123's kat_vectors for philox4x32_10.
    public static let knownAnswers: [(PhiloxCounter, PhiloxKey, [UInt32])] = [
        (PhiloxCounter(0, 0, 0, 0), PhiloxKey(seed: 0, stream: 0), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
        (PhiloxCounter(.max, .max, .max, .max), PhiloxKey(seed: .max, stream: .max),
         [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
        (PhiloxCounter(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), PhiloxKey(seed: 0xa409_3822, stream: 0x299f_31d0),
         [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]),
    ]

    /// A counter whose low word carries into the next within a fill.
    public static let carryCounter = PhiloxCounter(0xFFFF_FFF0, 7, 1, 2)

    public static func bits(_ backend: any Backend, count: Int, key: PhiloxKey, counter: PhiloxCounter) throws -> [UInt32] {
        let out = try backend.allocate(count: count, dtype: .int32)
        try backend.fillRandomBits(into: out, count: count, key: key, counter: counter)
        return try backend.downloadInt32(out, offset: 0, count: count).map { UInt32(bitPattern: $0) }
    }

    public static func draw(_ backend: any Backend, _ distribution: RandomDistribution, count: Int, key: PhiloxKey,
                            counter: PhiloxCounter = PhiloxCounter(), streamOffset: Int = 0, p: Float = 0.3) throws -> [Float] {
        let out = try backend.allocate(count: count, dtype: .float32)
        let probabilities = try backend.allocate(count: count, dtype: .float32)
        try backend.fill(probabilities, with: p, offset: 0, count: count)
        try backend.fillRandom(distribution, into: out, count: count, key: key, counter: counter, streamOffset: streamOffset,
                               probabilities: probabilities)
        return try backend.download(out)
    }

    static func knownAnswerCheck(_ backend: any Backend) throws -> CheckResult {
        var result = CheckResult(tolerance: "bit for bit")
        for (counter, key, expected) in knownAnswers {
            let got = try bits(backend, count: 4, key: key, counter: counter)
            for i in 0..<4 { result.compare(Double(got[i]), Double(expected[i]), rtol: 0, atol: 0.5, "word \(i) of counter \(counter.words)") }
        }
        return result
    }

    /// The bits at odd counts across a counter carry, and the uniform and Bernoulli draws, identical to the CPU
    /// backend's; normal and Gumbel draws (through log, sin and cos, whose last bits differ between libms) to 1e-5.
    static func agreementCheck(_ backend: any Backend) throws -> CheckResult {
        var result = CheckResult(tolerance: "bits and uniforms exact, normal and Gumbel 1e-5")
        for count in [1, 3, 1023, 4097] {
            let key = PhiloxKey(seed: 1234, stream: UInt32(count))
            let got = try bits(backend, count: count, key: key, counter: carryCounter)
            let want = try bits(CPUBackend.shared, count: count, key: key, counter: carryCounter)
            for i in 0..<count { result.compare(Double(got[i]), Double(want[i]), rtol: 0, atol: 0.5, "bits[\(i)] of \(count)") }
        }
        let key = PhiloxKey(seed: 99, stream: 5)
        for distribution in RandomDistribution.allCases {
            let exact = distribution == .uniform || distribution == .bernoulli
            let got = try draw(backend, distribution, count: 4097, key: key), want = try draw(CPUBackend.shared, distribution, count: 4097, key: key)
            for i in got.indices {
                result.compare(Double(got[i]), Double(want[i]), rtol: exact ? 0 : 1e-5, atol: exact ? 0 : 1e-5, "\(distribution)[\(i)]")
            }
        }
        for (count, offset) in [(4097, 0), (1001, 3)] {
            let mask = { (b: any Backend) throws -> [Float] in
                let out = try b.allocate(count: count, dtype: .float32)
                try b.fillDropoutMask(into: out, count: count, keep: 0.8, key: key, counter: carryCounter, streamOffset: offset)
                return try b.download(out)
            }
            let got = try mask(backend), want = try mask(CPUBackend.shared)
            for i in got.indices { result.compare(Double(got[i]), Double(want[i]), rtol: 0, atol: 0, "dropout mask[\(i)] of \(count) from \(offset)") }
        }
        return result
    }

    /// Dropout's mask is the uniform stream thresholded: element i is 1/keep exactly where the uniform fill's element i
    /// is below keep, and about a fraction keep of the elements survive.
    static func dropoutMaskCheck(_ backend: any Backend) throws -> CheckResult {
        var result = CheckResult(tolerance: "exact against the uniform stream; kept share within 4 standard errors")
        let count = 40_000, key = PhiloxKey(seed: 7, stream: 0x1004)
        for keep: Float in [0.5, 0.8, 1] {
            let out = try backend.allocate(count: count, dtype: .float32)
            try backend.fillDropoutMask(into: out, count: count, keep: keep, key: key, counter: carryCounter, streamOffset: 5)
            let mask = try backend.download(out)
            let u = try draw(backend, .uniform, count: count, key: key, counter: carryCounter, streamOffset: 5)
            for i in 0..<count { result.compare(Double(mask[i]), u[i] < keep ? Double(1 / keep) : 0, rtol: 0, atol: 0, "keep \(keep) [\(i)]") }
            let kept = Double(mask.filter { $0 > 0 }.count) / Double(count), se = (Double(keep) * (1 - Double(keep)) / Double(count)).squareRoot()
            result.compare(kept, Double(keep), rtol: 0, atol: 4 * se + 1e-12, "share kept at keep \(keep)")
        }
        return result
    }

    public static let all: [Check] = [
        Check("philox", "Random123 known answers") { try knownAnswerCheck($0) },
        Check("philox", "bits and draws against the CPU backend", needsReference: true) { try agreementCheck($0) },
        Check("philox", "dropout masks: the uniform stream thresholded") { try dropoutMaskCheck($0) },
    ]
}
