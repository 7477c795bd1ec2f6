// One named check of a backend and what it found. The test suite and `latentkit selftest` run the same checks: the
// suite with Swift Testing on every backend it has, `selftest` from the command line on a node that has no toolchain.

import Foundation
import LatentKit

/// What a check found: every comparison's error against its bound, the worst of them, and the failures.
public struct CheckResult: Sendable {
    /// The bound the comparisons used, in words (for the report line).
    public let tolerance: String
    /// The first few failures in words, and how many there were in all.
    public private(set) var failures: [String] = []
    public private(set) var failureCount = 0
    /// The largest error as a fraction of its bound (≤ 1 passes), and where it was.
    public private(set) var worstRatio = 0.0
    public private(set) var worstAt = ""
    public private(set) var comparisons = 0

    public init(tolerance: String) { self.tolerance = tolerance }

    public var passed: Bool { failureCount == 0 }

    public mutating func fail(_ message: String) {
        failureCount += 1
        if failures.count < 5 { failures.append(message) }
    }

    /// `got` against `want` within `rtol·|want| + atol`; NaN must meet NaN and an infinity the same infinity.
    public mutating func compare(_ got: Double, _ want: Double, rtol: Double, atol: Double, _ what: @autoclosure () -> String) {
        comparisons += 1
        if got.isNaN || want.isNaN || got.isInfinite || want.isInfinite {
            if !(got.isNaN && want.isNaN) && got != want { fail("\(what()): got \(got), want \(want)") }
            return
        }
        let bound = rtol * Swift.abs(want) + atol, ratio = Swift.abs(got - want) / bound
        if ratio > worstRatio {
            worstRatio = ratio
            worstAt = "\(what()): got \(got), want \(want)"
        }
        if ratio > 1 { fail("\(what()): got \(got), want \(want)") }
    }

    /// Folds another result's comparisons into this one, prefixing its messages with `label`.
    public mutating func merge(_ other: CheckResult, _ label: String) {
        comparisons += other.comparisons
        for message in other.failures { fail("\(label) \(message)") }
        failureCount += other.failureCount - other.failures.count
        if other.worstRatio > worstRatio {
            worstRatio = other.worstRatio
            worstAt = "\(label) \(other.worstAt)"
        }
    }

    /// One line: the worst error against the bound, or the failures.
    public var summary: String {
        if passed {
            return comparisons == 0 ? "nothing compared" : String(format: "%d values, worst error %.2g of the bound (%@)", comparisons, worstRatio, tolerance)
        }
        let more = failureCount > failures.count ? " (and \(failureCount - failures.count) more)" : ""
        return "\(failureCount) of \(comparisons) values beyond \(tolerance), worst at \(worstAt); first: \(failures.joined(separator: "; "))\(more)"
    }
}

/// A named check of one backend. `group` says what it checks (special functions, Philox, gradients, agreement with
/// the CPU backend, training); `needsReference` marks the checks that compare with the CPU backend.
public struct Check: Sendable, CustomStringConvertible {
    public let group: String
    public let name: String
    public let needsReference: Bool
    public let run: @Sendable (any Backend) throws -> CheckResult

    public init(_ group: String, _ name: String, needsReference: Bool = false, run: @escaping @Sendable (any Backend) throws -> CheckResult) {
        self.group = group
        self.name = name
        self.needsReference = needsReference
        self.run = run
    }

    public var description: String { "\(group): \(name)" }
}

/// The self-test: every check, in the order `latentkit selftest` prints them.
public enum SelfTest {
    public static let checks: [Check] = SpecialFunctionChecks.all + PhiloxChecks.all + GradientChecks.all + AgreementChecks.all
        + TrainingAgreementChecks.all

    /// The checks to run on `backend`: those against the CPU backend only when `backend` is not the CPU backend
    /// itself; and, when `filters` are given, those whose description contains one of them.
    public static func checks(for backend: any Backend, filters: [String] = []) -> [Check] {
        checks.filter { check in
            (!check.needsReference || backend.kind != .cpu) && (filters.isEmpty || filters.contains { check.description.contains($0) })
        }
    }
}
