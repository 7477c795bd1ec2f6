// k-nearest-neighbour classification of codes on the device. Squared Euclidean distances come from one GEMM per
// block of query rows, ||q||² + ||t||² - 2 q·t, as the product of the augmented rows [q, 1, ||q||²] and
// [-2t, ||t||², 1]; the k smallest per row are picked on the device (Backend.smallestPerRow), so only k indices
// per query come back. The Hellinger distance of probability vectors, (1/√2)||√p - √q||, orders neighbours as
// the Euclidean distance of their square roots does, so simplex codes are square-rooted first.

import Foundation
import Synchronization

public enum Distance: String, Sendable {
    case euclidean, hellinger

    /// The coordinates whose Euclidean distance ranks neighbours as this distance does.
    func embedding(_ values: [Float]) -> [Float] {
        switch self {
        case .euclidean: return values
        case .hellinger: return values.map { Float.sqrt(max($0, 0)) }  // clamps rounding below 0
        }
    }

    /// The distance between two codes in double precision; Hellinger: sqrt(Σ (√p - √q)² / 2).
    public func value(_ a: [Float], _ b: [Float]) -> Double {
        let squared = zip(embedding(a), embedding(b)).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
        return self == .euclidean ? squared.squareRoot() : (squared / 2).squareRoot()
    }
}

public struct NearestNeighbours {
    public let backend: any Backend
    /// Floats of the distance matrix per block of query rows (default 2^25: 128 MiB).
    public var blockElements = 1 << 25
    /// Seconds spent in the distance GEMMs and in the selections of the last search (the device is synchronised
    /// after each, once per block of query rows).
    public final class Timing: Sendable {
        private let seconds = Mutex((distances: 0.0, selection: 0.0))
        public var distances: Double { seconds.withLock { $0.distances } }
        public var selection: Double { seconds.withLock { $0.selection } }
        func reset() { seconds.withLock { $0 = (0, 0) } }
        func add(distances: Double = 0, selection: Double = 0) {
            seconds.withLock { $0.distances += distances; $0.selection += selection }
        }
    }
    public let timing = Timing()

    public init(backend: any Backend) { self.backend = backend }

    /// The indices into `reference` of the `k` nearest reference codes of each query code, nearest first
    /// (`query.count × k`, row-major; equal distances: the lower index first).
    public func search(query: LatentCodes, reference: LatentCodes, k: Int, distance: Distance) throws -> [Int32] {
        try run(query: query, reference: reference, k: k, distance: distance, keepDistances: false).indices
    }

    /// ``search(query:reference:k:distance:)`` with the squared Euclidean distances of the embedded codes (for the
    /// Hellinger distance: 2 H²) of the neighbours found, computed on the device in float32.
    public func searchWithDistances(query: LatentCodes, reference: LatentCodes, k: Int,
                                    distance: Distance) throws -> (indices: [Int32], squaredDistances: [Float]) {
        try run(query: query, reference: reference, k: k, distance: distance, keepDistances: true)
    }

    func run(query: LatentCodes, reference: LatentCodes, k: Int, distance: Distance,
             keepDistances: Bool) throws -> (indices: [Int32], squaredDistances: [Float]) {
        guard query.size == reference.size else {
            throw DataError("codes of size \(query.size) cannot be compared with codes of size \(reference.size)")
        }
        guard k >= 1 && k <= reference.count else {
            throw DataError("k = \(k) nearest neighbours need at least \(k) training codes, got \(reference.count)")
        }
        let d = query.size, width = d + 2, n = reference.count
        timing.reset()
        let trainRows = augment(distance.embedding(reference.values), count: n, size: d, queries: false)
        let queryRows = augment(distance.embedding(query.values), count: query.count, size: d, queries: true)
        let trainBuffer = try backend.buffer(trainRows), queryBuffer = try backend.buffer(queryRows)
        let block = max(1, min(query.count, blockElements / max(n, 1)))
        let queryBlock = try backend.allocate(count: block * width, dtype: .float32)
        let distances = try backend.allocate(count: block * n, dtype: .float32)
        let values = try backend.allocate(count: block * k, dtype: .float32)
        let indices = try backend.allocate(count: block * k, dtype: .int32)
        var result: [Int32] = [], squared: [Float] = []
        result.reserveCapacity(query.count * k)
        for start in stride(from: 0, to: query.count, by: block) {
            let b = min(block, query.count - start)
            try backend.copy(from: queryBuffer, offset: start * width, to: queryBlock, offset: 0, count: b * width)
            var clock = Date()
            try backend.gemm(transposeA: false, transposeB: true, m: b, n: n, k: width, alpha: 1, queryBlock, trainBuffer,
                             beta: 0, distances)
            try backend.synchronize()
            timing.add(distances: Date().timeIntervalSince(clock))
            clock = Date()
            try backend.smallestPerRow(distances, rows: b, cols: n, k: k, intoValues: values, intoIndices: indices)
            try backend.synchronize()
            timing.add(selection: Date().timeIntervalSince(clock))
            result += try backend.downloadInt32(indices, offset: 0, count: b * k)
            if keepDistances { squared += try backend.download(values, offset: 0, count: b * k) }
        }
        return (result, squared)
    }

    /// Rows [x, 1, ||x||²] (queries) or [-2x, ||x||², 1] (reference): their dot product is the squared distance.
    func augment(_ values: [Float], count: Int, size d: Int, queries: Bool) -> [Float] {
        var out = [Float](repeating: 0, count: count * (d + 2))
        for i in 0..<count {
            var norm = 0.0
            for j in 0..<d {
                let v = values[i * d + j]
                norm += Double(v) * Double(v)
                out[i * (d + 2) + j] = queries ? v : -2 * v
            }
            out[i * (d + 2) + d] = queries ? 1 : Float(norm)
            out[i * (d + 2) + d + 1] = queries ? Float(norm) : 1
        }
        return out
    }

    /// The majority label among the first `k` of each row of `neighbours` (`rows × width` indices into `labels`);
    /// a tie goes to the tied label whose member is nearest.
    public static func vote(_ neighbours: [Int32], width: Int, k: Int, labels: [Int32]) -> [Int32] {
        let rows = neighbours.count / width
        return (0..<rows).map { r in
            var counts: [Int32: Int] = [:]
            for e in 0..<k { counts[labels[Int(neighbours[r * width + e])], default: 0] += 1 }
            let top = counts.values.max() ?? 0
            // walking the neighbours nearest first, the first label with the top count is the nearest tied one
            for e in 0..<k {
                let label = labels[Int(neighbours[r * width + e])]
                if counts[label] == top { return label }
            }
            return -1
        }
    }
}

/// The fraction of `predicted` that differs from `truth`.
public func classificationError(_ predicted: [Int32], _ truth: [Int32]) -> Double {
    guard !truth.isEmpty else { return 0 }
    return Double(zip(predicted, truth).filter { $0 != $1 }.count) / Double(truth.count)
}
