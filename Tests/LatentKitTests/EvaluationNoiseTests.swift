// The importance sampler's noise: every chunk of samples of every image draws fresh noise. (Its first counter scheme
// put the sample index in the words a fill advances, so consecutive chunks of 1000 samples shared most rows.)

import LatentKit
import Testing
import TestSupport

@Suite struct EvaluationNoiseTests {
    @Test(arguments: TestBackends.all)
    func chunksAndImagesDrawDisjointNoise(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let chunk = 1000, nz = 20, key = PhiloxKey(seed: 1, stream: 0x2001)
        func rows(sample: Int, image: Int) throws -> Set<[Float]> {
            let b = try backend.allocate(count: chunk * nz, dtype: .float32)
            try backend.fillRandom(.normal, into: b, count: chunk * nz, key: key,
                                   counter: Evaluator.importanceCounter(sample: sample, image: image), probabilities: nil)
            let v = try backend.download(b)
            return Set((0..<chunk).map { Array(v[($0 * nz)..<($0 * nz + nz)]) })
        }
        let first = try rows(sample: 0, image: 0)
        #expect(first.count == chunk)
        #expect(first.isDisjoint(with: try rows(sample: chunk, image: 0)), "the second chunk of an image repeats the first's noise")
        #expect(first.isDisjoint(with: try rows(sample: 0, image: 1)), "the next image repeats the first's noise")
    }
}
