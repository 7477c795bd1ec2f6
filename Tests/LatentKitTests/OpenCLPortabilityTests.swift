// What a GPU is stricter about than PoCL: work-group limits. A second backend capped at work-groups of 64 (a GPU may
// allow a kernel no more) must give the results of the shared one (256 on PoCL) for every recipe's training steps.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite(.serialized) struct OpenCLPortabilityTests {
    static let images = try! mnist(trainLimit: 60, testLimit: 1).train

    func losses(_ recipe: Recipe, on backend: any Backend) throws -> [Double] {
        let trainer = try Trainer(config: recipe.config(), backend: backend, train: Self.images)
        return try (0..<3).map { s in
            let batch = (0..<20).map { Int32((s * 20 + $0) % 60) }
            let (r, k) = try trainer.step(batch: batch)
            return r + k
        }
    }

    @Test(arguments: TestBackends.others)
    func smallWorkGroupsGiveTheSameResults(kind: BackendKind) throws {
        let shared = try OpenCLBackend.shared()
        let small = try OpenCLBackend(device: shared.device, workGroupLimit: 64)
        #expect(small.workGroupSize == 64 && shared.workGroupSize > 64, "work-groups \(small.workGroupSize) vs \(shared.workGroupSize)")
        for recipe in Recipe.all {
            let want = try losses(recipe, on: shared), got = try losses(recipe, on: small)
            let worst = zip(got, want).map { abs($0 - $1) / max(abs($1), 1) }.max()!
            #expect(worst <= 1e-5, "\(recipe): work-groups of 64 \(got) vs \(shared.workGroupSize) \(want)")
        }
        // the per-row selection of the analysis kernels
        let rows = 37, cols = 300, k = 7
        let x = randomFloats(rows * cols, in: -1...1, seed: 3)
        func smallest(_ backend: OpenCLBackend) throws -> ([Float], [Int32]) {
            let v = try backend.allocate(count: rows * k, dtype: .float32), i = try backend.allocate(count: rows * k, dtype: .int32)
            try backend.smallestPerRow(try backend.buffer(x), rows: rows, cols: cols, k: k, intoValues: v, intoIndices: i)
            return (try backend.download(v), try backend.downloadInt32(i, offset: 0, count: rows * k))
        }
        let (a, ai) = try smallest(shared), (b, bi) = try smallest(small)
        #expect(a == b && ai == bi)
    }
}
