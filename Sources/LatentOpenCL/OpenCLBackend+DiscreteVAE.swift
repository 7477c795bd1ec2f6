// The discrete VAE's ops on the OpenCL backend: kernels `dvae_*` in Kernels/DiscreteVAE.swift. The argument checks are
// the CPU backend's; a kernel only ever sees buffers that hold its shape.

import LatentCore

extension OpenCLBackend {
    /// One work-item per `items`: `buffers`, then the integer and float scalars.
    private func dvae(_ name: String, items: Int, local: Int? = nil, _ buffers: [(Buffer, String)], ints: [Int], floats: [Float] = []) throws {
        _ = try int(items, "\(name) work-items")
        try launch(.discreteVAE, "dvae_\(name)_f32", global: items, local: local,
                   try buffers.map { .buffer(try mem($0.0, $0.1)) } + ints.map { try int($0, name) } + floats.map { .float($0) })
    }

    /// `name` over `rows` rows of an RBM of `shape`: a work-group per row (`<name>_rows`, its items taking the units in turn)
    /// where ``usesRowGroups(rows:length:)`` says so for rows of `a + b` units, else one work-item per row.
    private func dvaePerRow(_ name: String, rows: Int, shape: RBMShape, _ buffers: [(Buffer, String)], ints: [Int], floats: [Float] = []) throws {
        guard usesRowGroups(rows: rows, length: shape.units) else { return try dvae(name, items: rows, buffers, ints: ints, floats: floats) }
        try dvae("\(name)_rows", items: rows * workGroupSize, local: workGroupSize, buffers, ints: ints, floats: floats)
    }

    public func spikeAndExponentialSample(logits: Buffer, uniforms rho: Buffer, beta: Float, count: Int, intoSample zeta: Buffer,
                                          intoIndicator z: Buffer) throws {
        let buffers = [(logits, "logits"), (rho, "uniforms"), (zeta, "sample"), (z, "indicator")]
        try checkSpikeAndExponential(beta: beta, count: count, buffers)
        try dvae("spike_exp_sample", items: count, buffers, ints: [count], floats: [beta, SpikeAndExponential.expm1(beta: beta)])
    }

    public func spikeAndExponentialSampleBackward(logits: Buffer, uniforms rho: Buffer, beta: Float, gradient dZeta: Buffer, count: Int,
                                                  into dLogits: Buffer) throws {
        let buffers = [(logits, "logits"), (rho, "uniforms"), (dZeta, "gradient"), (dLogits, "logits gradient")]
        try checkSpikeAndExponential(beta: beta, count: count, buffers)
        try dvae("spike_exp_sample_backward", items: count, buffers, ints: [count], floats: [beta, SpikeAndExponential.expm1(beta: beta)])
    }

    public func indicatorBackward(logits: Buffer, indicator z: Buffer, gradient dz: Buffer, count: Int, into dLogits: Buffer) throws {
        let buffers = [(logits, "logits"), (z, "indicator"), (dz, "gradient"), (dLogits, "logits gradient")]
        try checkRows(rows: count, cols: 1, matrices: buffers, perRow: [])
        try dvae("indicator_backward", items: count, buffers, ints: [count])
    }

    public func rbmGibbsHalfStep(state: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, chains: Int, side: RBMSide,
                                 inverseTemperature t: Float, key: PhiloxKey, counter: PhiloxCounter,
                                 intoProbabilities probabilities: Buffer) throws {
        try checkRBM(shape, rows: chains, state: state, weights: weights, bias: bias)
        let units = chains * (side == .a ? shape.a : shape.b)
        try probabilities.check(holds: units, "Gibbs probabilities")
        _ = try int(units, "Gibbs units")
        let c = counter.words
        try launch(.discreteVAE, "dvae_gibbs_half_step_f32", global: units, [
            .buffer(try mem(state, "RBM state")), .buffer(try mem(weights, "RBM weights")), .buffer(try mem(bias, "RBM bias")),
            .buffer(try mem(probabilities, "Gibbs probabilities")), try int(chains, "chains"), try int(shape.a, "A units"),
            try int(shape.b, "B units"), .int(side.rawValue), .float(t), .uint(key.seed), .uint(key.stream),
            .uint(c[0]), .uint(c[1]), .uint(c[2]), .uint(c[3]),
        ])
    }

    public func rbmEnergy(_ z: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, rows: Int, into e: Buffer) throws {
        try checkRBM(shape, rows: rows, state: z, weights: weights, bias: bias)
        try e.check(holds: rows, "RBM energy output")
        try dvaePerRow("rbm_energy", rows: rows, shape: shape, [(z, "RBM state"), (weights, "RBM weights"), (bias, "RBM bias"), (e, "RBM energy output")],
                 ints: [rows, shape.a, shape.b])
    }

    public func rbmEnergyBackward(_ z: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, rows: Int, gradient g: Buffer,
                                  intoState dz: Buffer?, intoWeights dW: Buffer?, intoBias db: Buffer?) throws {
        try checkRBM(shape, rows: rows, state: z, weights: weights, bias: bias)
        try g.check(holds: rows, "RBM energy gradient")
        try require((dW == nil) == (db == nil), "RBM energy backward: the weight and bias gradients go together")
        if let dz {
            try dz.check(holds: rows * shape.units, "RBM state gradient")
            try dvae("rbm_energy_backward_state", items: rows * shape.units,
                     [(z, "RBM state"), (weights, "RBM weights"), (bias, "RBM bias"), (g, "RBM energy gradient"), (dz, "RBM state gradient")],
                     ints: [rows, shape.a, shape.b])
        }
        if let dW, let db {
            try dW.check(holds: shape.a * shape.b, "RBM weight gradient")
            try db.check(holds: shape.units, "RBM bias gradient")
            try dvae("rbm_energy_backward_parameters", items: shape.a * shape.b + shape.units,
                     [(z, "RBM state"), (g, "RBM energy gradient"), (dW, "RBM weight gradient"), (db, "RBM bias gradient")],
                     ints: [rows, shape.a, shape.b])
        }
    }

    public func rbmFreeEnergyIncrement(state: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, chains: Int, from: Float, to: Float,
                                       accumulatingInto logWeights: Buffer) throws {
        try checkRBM(shape, rows: chains, state: state, weights: weights, bias: bias)
        try logWeights.check(holds: chains, "AIS log-weights")
        try dvaePerRow("rbm_free_energy_increment", rows: chains, shape: shape,
                 [(state, "RBM state"), (weights, "RBM weights"), (bias, "RBM bias"), (logWeights, "AIS log-weights")],
                 ints: [chains, shape.a, shape.b], floats: [from, to])
    }
}
