// Kernel microbenchmarks on every available backend: each unary op and random fill at 1<<20 elements
// (throughput is ops/s: multiply by 1,048,576 for elements/s) and GEMM at the VAE's shapes (multiply ops/s by
// 2mnk for FLOP/s). Programs are built and one warm-up iteration runs before measuring, so compile time
// is excluded; OpenCL iterations end with clFinish so the time is the device's, not the enqueue's.

import Benchmark
import Foundation
import LatentKit

func availableBackends() -> [any Backend] {
    var backends: [any Backend] = [CPUBackend.shared]
    if let cl = try? OpenCLBackend.shared() {
        _ = try? cl.buildAll()
        backends.append(cl)
    }
    return backends
}

let elementCount = 1 << 20

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput], warmupIterations: 2, maxDuration: .seconds(1), maxIterations: 200)

    for backend in availableBackends() {
        let tag = backend.name
        let x = try! backend.buffer((0..<elementCount).map { Float($0 % 1000) * 0.01 + 0.005 })
        let dy = try! backend.buffer([Float](repeating: 0.5, count: elementCount))
        let y = try! backend.allocate(count: elementCount, dtype: .float32)

        for op in UnaryOp.allCases {
            Benchmark("\(tag) unary \(op.cName) 1M") { benchmark in
                for _ in benchmark.scaledIterations {
                    try backend.unary(op, x, into: y, count: elementCount)
                    try backend.synchronize()
                }
            }
        }
        Benchmark("\(tag) unary-backward softplus 1M") { benchmark in
            for _ in benchmark.scaledIterations {
                try backend.unaryBackward(.softplus, x: x, gradient: dy, into: y, count: elementCount)
                try backend.synchronize()
            }
        }
        for distribution in RandomDistribution.allCases {
            Benchmark("\(tag) random \(distribution.rawValue) 1M") { benchmark in
                var offset: UInt64 = 0
                for _ in benchmark.scaledIterations {
                    try backend.fillRandom(distribution, into: y, count: elementCount, key: PhiloxKey(seed: 1),
                                           counter: PhiloxCounter(offset: offset), probabilities: x)
                    try backend.synchronize()
                    offset += PhiloxCounter.blocks(for: elementCount)
                }
            }
        }
        // (batch, in, out): the encoder's first layer, a hidden layer, the decoder's last layer.
        for batch in [100, 1000] {
            for (k, n) in [(784, 200), (200, 200), (200, 784)] {
                let a = try! backend.buffer([Float](repeating: 0.01, count: batch * k))
                let b = try! backend.buffer([Float](repeating: 0.02, count: k * n))
                let c = try! backend.allocate(count: batch * n, dtype: .float32)
                Benchmark("\(tag) gemm \(batch)x\(k)x\(n)") { benchmark in
                    for _ in benchmark.scaledIterations {
                        try backend.gemm(transposeA: false, transposeB: false, m: batch, n: n, k: k, alpha: 1, a, b, beta: 0, c)
                        try backend.synchronize()
                    }
                }
            }
        }
    }
}
