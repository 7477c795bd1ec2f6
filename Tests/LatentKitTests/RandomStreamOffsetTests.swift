// A random fill from element `streamOffset` of its stream draws what a fill from element 0 draws there, bit for bit, on
// every backend: what lets each rank of a data-parallel step draw its slice of the global batch (Trainer, BatchSlice).

import LatentKit
import Testing
import TestSupport

struct RandomStreamOffsetTests {
    static let offsets = [0, 1, 2, 3, 5, 6, 7, 64, 101, 4099]

    @Test(arguments: TestBackends.all)
    func aFillFromAnOffsetIsThatSliceOfTheWholeFill(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let key = PhiloxKey(seed: 11, stream: 5), counter = PhiloxCounter(3, 7, 0, 0)
        for distribution in RandomDistribution.allCases {
            for offset in Self.offsets {
                for count in [1, 2, 3, 4, 5, 63, 64, 65, 300] {
                    let total = offset + count
                    let probabilities = try backend.buffer(randomFloats(total, in: 0...1, seed: 9))
                    let whole = try backend.allocate(count: total, dtype: .float32), part = try backend.allocate(count: count, dtype: .float32)
                    let bernoulli = distribution == .bernoulli
                    try backend.fillRandom(distribution, into: whole, count: total, key: key, counter: counter,
                                           probabilities: bernoulli ? probabilities : nil)
                    let partProbabilities = try backend.buffer(Array(try backend.download(probabilities)[offset...]))
                    try backend.fillRandom(distribution, into: part, count: count, key: key, counter: counter, streamOffset: offset,
                                           probabilities: bernoulli ? partProbabilities : nil)
                    let want = Array(try backend.download(whole)[offset...]), got = try backend.download(part)
                    #expect(firstMismatch(got, want, rtol: 0) == nil, "\(distribution) offset \(offset) count \(count): \(got.prefix(6)) vs \(want.prefix(6))")
                }
            }
        }
    }

    @Test(arguments: TestBackends.all)
    func gammaVariatesFromAnOffsetAreThatSliceOfTheWholeFill(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let alpha = randomFloats(500, in: 0.05...20, seed: 3)
        let key = PhiloxKey(seed: 2, stream: 9), counter = PhiloxCounter(0, 41, 0, 0)
        let whole = try backend.allocate(count: alpha.count, dtype: .float32)
        try backend.fillGamma(concentration: try backend.buffer(alpha), into: whole, count: alpha.count, key: key, counter: counter)
        let all = try backend.download(whole)
        for offset in Self.offsets where offset < alpha.count {
            let count = alpha.count - offset, part = try backend.allocate(count: count, dtype: .float32)
            try backend.fillGamma(concentration: try backend.buffer(Array(alpha[offset...])), into: part, count: count, key: key,
                                  counter: counter, streamOffset: offset)
            #expect(firstMismatch(try backend.download(part), Array(all[offset...]), rtol: 0) == nil, "offset \(offset)")
        }
    }

    /// Two ranks' slices of a binarised minibatch gather are the whole gather's rows.
    @Test(arguments: TestBackends.all)
    func binarisedGathersOfBatchSlicesAreTheWholeBatchsRows(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        for cols in [784, 7, 5] {
            let rows = 40, batch = 10
            let x = try backend.buffer(randomFloats(rows * cols, in: 0...1, seed: 12))
            let order = try backend.buffer((0..<Int32(rows)).map { ($0 * 7) % Int32(rows) })
            let key = PhiloxKey(seed: 1, stream: 0x1000), counter = PhiloxCounter(0, 17, 0, 0)
            let whole = try backend.allocate(count: batch * cols, dtype: .float32)
            try backend.gatherRows(x, rows: rows, cols: cols, indices: order, indexOffset: 20, count: batch,
                                   binarizing: (key, counter, 0), into: whole)
            let want = try backend.download(whole)
            for ranks in [2, 5] {
                var got: [Float] = []
                for rank in 0..<ranks {
                    let slice = try BatchSlice(rank: rank, of: ranks, batch: batch)
                    let part = try backend.allocate(count: slice.count * cols, dtype: .float32)
                    try backend.gatherRows(x, rows: rows, cols: cols, indices: order, indexOffset: 20 + slice.first, count: slice.count,
                                           binarizing: (key, counter, slice.streamOffset(elements: slice.count * cols)), into: part)
                    got += try backend.download(part)
                }
                #expect(firstMismatch(got, want, rtol: 0) == nil, "\(cols) columns, \(ranks) ranks")
            }
        }
    }
}
