// Deterministic inputs and float comparisons shared by the checks and the suite.

import Foundation

/// Deterministic test inputs (a small LCG, independent of the code under test).
public struct TestRandom {
    var state: UInt64
    public init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    public mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    public mutating func floats(_ count: Int, in range: ClosedRange<Double>) -> [Float] {
        (0..<count).map { _ in Float(range.lowerBound + (range.upperBound - range.lowerBound) * next()) }
    }
}

/// `count` deterministic floats uniform in `range`.
public func randomFloats(_ count: Int, in range: ClosedRange<Double>, seed: UInt64) -> [Float] {
    var rng = TestRandom(seed: seed)
    return rng.floats(count, in: range)
}

/// The first index where `a` and `b` disagree beyond `rtol * |b| + atol`, or where one is NaN or infinite and
/// the other is not the same special value; nil when they agree everywhere.
public func firstMismatch(_ a: [Float], _ b: [Float], rtol: Float, atol: Float = 0) -> (index: Int, a: Float, b: Float)? {
    guard a.count == b.count else { return (-1, Float(a.count), Float(b.count)) }
    for i in 0..<a.count {
        let x = a[i], y = b[i]
        if x.isNaN || y.isNaN {
            if x.isNaN != y.isNaN { return (i, x, y) }
            continue
        }
        if x.isInfinite || y.isInfinite {
            if x != y { return (i, x, y) }
            continue
        }
        if Swift.abs(x - y) > rtol * Swift.abs(y) + atol { return (i, x, y) }
    }
    return nil
}

/// Reads a tab-separated table of numbers, skipping `#` comment lines.
public func readTable(text: String) -> [[Double]] {
    text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
        line.split(separator: "\t").map { Double($0)! }
    }
}

