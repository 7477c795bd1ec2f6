// Philox random fills on the OpenCL backend: kernels `random_<distribution>_f32` in Kernels/Random.swift.

import LatentCore

extension OpenCLBackend {
    /// The `LK_RANDOM_ARGS` of a fill of `count` elements from element `streamOffset` of the stream: the counter advanced
    /// by the offset's whole blocks, and the rest as the kernels' `shift`.
    func philoxArguments(count: Int, key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int = 0) throws -> [Argument] {
        try require(streamOffset >= 0, "random fill: negative stream offset \(streamOffset)")
        let c = counter.advanced(by: UInt64(streamOffset / 4)).words
        return [try int(count, "count"), .uint(key.seed), .uint(key.stream), .uint(c[0]), .uint(c[1]), .uint(c[2]), .uint(c[3]),
                .int(Int32(streamOffset % 4))]
    }

    /// Work-items of a fill of `count` elements from element `streamOffset`: one per Philox block it touches.
    func philoxBlocks(count: Int, streamOffset: Int) -> Int { (count + streamOffset % 4 + 3) / 4 }

    public func fillRandom(
        _ distribution: RandomDistribution, into y: Buffer, count: Int,
        key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int, probabilities: Buffer?
    ) throws {
        try checkRandomFill(distribution, y, count, probabilities, streamOffset: streamOffset)
        var args: [Argument] = [.buffer(try mem(y, "random output"))]
        if distribution == .bernoulli, let p = probabilities { args.append(.buffer(try mem(p, "bernoulli probabilities"))) }
        args += try philoxArguments(count: count, key: key, counter: counter, streamOffset: streamOffset)
        try launch(.random, "random_\(distribution.rawValue)_f32", global: philoxBlocks(count: count, streamOffset: streamOffset), args)
    }

    public func fillDropoutMask(into y: Buffer, count: Int, keep: Float, key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int) throws {
        try checkDropoutMask(y, count, keep: keep, streamOffset: streamOffset)
        try launch(.random, "random_dropout_mask_f32", global: philoxBlocks(count: count, streamOffset: streamOffset),
                   [.buffer(try mem(y, "dropout mask")), .float(keep)]
                   + philoxArguments(count: count, key: key, counter: counter, streamOffset: streamOffset))
    }

    public func fillGamma(concentration alpha: Buffer, into y: Buffer, count: Int, key: PhiloxKey, counter: PhiloxCounter,
                          streamOffset: Int) throws {
        try require(streamOffset >= 0, "gamma fill: negative stream offset \(streamOffset)")
        try alpha.check(holds: count, "gamma concentration")
        try y.check(holds: count, "gamma output")
        try launch(.random, "random_gamma_f32", global: count, [
            .buffer(try mem(alpha, "gamma concentration")), .buffer(try mem(y, "gamma output")), try int(count, "count"),
            .uint(key.seed), .uint(key.stream), .uint(counter.words[0]), .uint(counter.words[1]),
            .uint(UInt32(truncatingIfNeeded: streamOffset)),
        ])
    }

    public func gammaBackward(concentration alpha: Buffer, sample x: Buffer, gradient g: Buffer, into dAlpha: Buffer, count: Int) throws {
        let buffers = [(alpha, "gamma concentration"), (x, "gamma sample"), (g, "gradient"), (dAlpha, "concentration gradient")]
        try checkRows(rows: count, cols: 1, matrices: buffers, perRow: [])
        try launch(.random, "random_gamma_backward_f32", global: count, try buffers.map { .buffer(try mem($0.0, $0.1)) } + [try int(count, "count")])
    }

    public func fillRandomBits(into y: Buffer, count: Int, key: PhiloxKey, counter: PhiloxCounter) throws {
        try y.check(holds: count, of: .int32, "random bits output")
        try launch(.random, "random_bits_u32", global: (count + 3) / 4,
                   [.buffer(try mem(y, "random bits output"))] + (try philoxArguments(count: count, key: key, counter: counter)))
    }
}
