// The fused latent-family ops and batch normalisation on the OpenCL backend: kernels `families_*` in
// Kernels/LatentFamilies.swift and `normalisation_*` in Kernels/Normalisation.swift. The argument checks are the CPU
// backend's; a kernel only ever sees buffers that hold its shape.

import LatentCore

extension OpenCLBackend {
    /// One work-item per segment or row: `buffers`, then the integer and float scalars.
    private func families(_ name: String, items: Int, local: Int? = nil, _ buffers: [(Buffer, String)], ints: [Int], floats: [Float] = []) throws {
        try launch(.families, "families_\(name)_f32", global: items, local: local,
                   try buffers.map { .buffer(try mem($0.0, $0.1)) } + ints.map { try int($0, name) } + floats.map { .float($0) })
    }

    /// `name` over `rows` rows of `length`: its work-group-per-row form (`<name>_rows`) when ``usesRowGroups(rows:length:)``
    /// says so, else one work-item per row.
    /// `approximation` names the Dirichlet approximation whose work-group kernel (`<name>_rows_<approximation>`) to take.
    private func familiesPerRow(_ name: String, rows: Int, length: Int, approximation: LogisticNormal? = nil, _ buffers: [(Buffer, String)],
                                ints: [Int], floats: [Float] = []) throws {
        guard usesRowGroups(rows: rows, length: length) else { return try families(name, items: rows, buffers, ints: ints, floats: floats) }
        _ = try int(rows * workGroupSize, "rows * work-group size")
        let suffix = approximation.map { $0 == .laplace ? "_laplace" : "_aitchison_shen" } ?? ""
        try families("\(name)_rows\(suffix)", items: rows * workGroupSize, local: workGroupSize, buffers, ints: ints, floats: floats)
    }

    private func requireComponents(_ k: Int) throws { try require(k >= 2, "a Dirichlet needs at least 2 components, got \(k)") }

    // MARK: Concrete

    public func concreteSample(logits: Buffer, gumbel: Buffer, temperature: Float, segments: Int, categories k: Int, into y: Buffer) throws {
        let buffers = [(logits, "logits"), (gumbel, "gumbel noise"), (y, "sample")]
        try checkRows(rows: segments, cols: k, matrices: buffers, perRow: [])
        try families("concrete_sample", items: segments, buffers, ints: [segments, k], floats: [temperature])
    }

    public func concreteSampleBackward(sample y: Buffer, gradient dy: Buffer, temperature: Float, segments: Int, categories k: Int,
                                       into dLogits: Buffer) throws {
        let buffers = [(y, "sample"), (dy, "gradient"), (dLogits, "logits gradient")]
        try checkRows(rows: segments, cols: k, matrices: buffers, perRow: [])
        try families("concrete_sample_backward", items: segments, buffers, ints: [segments, k], floats: [temperature])
    }

    public func concreteLogDensity(sample y: Buffer, logits: Buffer?, temperature lambda: Float, rows: Int, groups: Int, categories k: Int,
                                   into lp: Buffer) throws {
        try checkRows(rows: rows, cols: groups * k, matrices: [(y, "sample")] + (logits.map { [($0, "logits")] } ?? []), perRow: [(lp, "log-density output")])
        let constant = FamilyConstants.expConcrete(categories: k, temperature: lambda)
        // without logits the sample buffer stands in for them; the kernel does not read it as such
        try launch(.families, "families_concrete_log_density_f32", global: rows, [
            .buffer(try mem(y, "sample")), .buffer(try mem(logits ?? y, "logits")), .buffer(try mem(lp, "log-density output")),
            try int(rows, "rows"), try int(groups, "groups"), try int(k, "categories"), .float(lambda), .int(logits == nil ? 0 : 1), .float(constant),
        ])
    }

    public func concreteLogDensityBackward(sample y: Buffer, logits: Buffer?, temperature lambda: Float, gradient g: Buffer, rows: Int,
                                           groups: Int, categories k: Int, intoSample dy: Buffer, intoLogits dLogits: Buffer?) throws {
        try checkConcreteLogDensityBackward(sample: y, logits: logits, gradient: g, rows: rows, groups: groups, categories: k,
                                            intoSample: dy, intoLogits: dLogits)
        try launch(.families, "families_concrete_log_density_backward_f32", global: rows, [
            .buffer(try mem(y, "sample")), .buffer(try mem(logits ?? y, "logits")), .buffer(try mem(g, "log-density gradient")),
            .buffer(try mem(dy, "sample gradient")), .buffer(try mem(dLogits ?? dy, "logits gradient")),
            try int(rows, "rows"), try int(groups, "groups"), try int(k, "categories"), .float(lambda), .int(logits == nil ? 0 : 1),
        ])
    }

    public func categoricalKL(logits: Buffer, rows: Int, groups: Int, categories k: Int, into kl: Buffer) throws {
        try checkRows(rows: rows, cols: groups * k, matrices: [(logits, "logits")], perRow: [(kl, "KL output")])
        try familiesPerRow("categorical_kl", rows: rows, length: groups * k, [(logits, "logits"), (kl, "KL output")], ints: [rows, groups, k])
    }

    public func categoricalKLBackward(logits: Buffer, gradient g: Buffer, rows: Int, groups: Int, categories k: Int, into dLogits: Buffer) throws {
        try checkRows(rows: rows, cols: groups * k, matrices: [(logits, "logits"), (dLogits, "logits gradient")], perRow: [(g, "KL gradient")])
        try familiesPerRow("categorical_kl_backward", rows: rows, length: groups * k,
                           [(logits, "logits"), (g, "KL gradient"), (dLogits, "logits gradient")], ints: [rows, groups, k])
    }

    // MARK: logit-normal

    public func logitNormalSample(mean: Buffer, logVariance: Buffer, noise: Buffer, intoLogit y: Buffer, intoSample z: Buffer, count: Int) throws {
        let buffers = [(mean, "mean"), (logVariance, "log-variance"), (noise, "noise"), (y, "logit"), (z, "sample")]
        try checkRows(rows: count, cols: 1, matrices: buffers, perRow: [])
        try families("logit_normal_sample", items: count, buffers, ints: [count])
    }

    public func logitNormalSampleBackward(logVariance: Buffer, noise: Buffer, logit y: Buffer, gradient dz: Buffer, count: Int,
                                          intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer) throws {
        let buffers = [(logVariance, "log-variance"), (noise, "noise"), (y, "logit"), (dz, "gradient"), (dMean, "mean gradient"),
                       (dLogVariance, "log-variance gradient")]
        try checkRows(rows: count, cols: 1, matrices: buffers, perRow: [])
        try families("logit_normal_sample_backward", items: count, buffers, ints: [count])
    }

    public func logitNormalLogDensity(logit y: Buffer, mean: Buffer, logVariance: Buffer, rows: Int, cols: Int, into lp: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(y, "logit"), (mean, "mean"), (logVariance, "log-variance")], perRow: [(lp, "log-density output")])
        try families("logit_normal_log_density", items: rows, [(y, "logit"), (mean, "mean"), (logVariance, "log-variance"), (lp, "log-density output")],
                     ints: [rows, cols])
    }

    public func logitNormalLogDensityBackward(logit y: Buffer, mean: Buffer, logVariance: Buffer, gradient g: Buffer, rows: Int, cols: Int,
                                              intoLogit dy: Buffer, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer) throws {
        let matrices = [(y, "logit"), (mean, "mean"), (logVariance, "log-variance")]
        let outputs = [(dy, "logit gradient"), (dMean, "mean gradient"), (dLogVariance, "log-variance gradient")]
        try checkRows(rows: rows, cols: cols, matrices: matrices + outputs, perRow: [(g, "log-density gradient")])
        _ = try int(rows * cols, "rows * cols")
        try families("logit_normal_log_density_backward", items: rows * cols, matrices + [(g, "log-density gradient")] + outputs, ints: [rows, cols])
    }

    // MARK: Dirichlet

    public func dirichletSample(_ approximation: LogisticNormal, alpha: Buffer, noise: Buffer, rows: Int, components k: Int, into y: Buffer) throws {
        let buffers = [(alpha, "alpha"), (noise, "noise"), (y, "logits")]
        try checkRows(rows: rows, cols: k, matrices: buffers, perRow: [])
        try requireComponents(k)
        try familiesPerRow("dirichlet_sample", rows: rows, length: k, approximation: approximation, buffers, ints: [rows, k, Int(approximation.rawValue)])
    }

    public func dirichletSampleBackward(_ approximation: LogisticNormal, alpha: Buffer, noise: Buffer, gradient dy: Buffer, rows: Int,
                                        components k: Int, into dAlpha: Buffer) throws {
        let buffers = [(alpha, "alpha"), (noise, "noise"), (dy, "logits gradient"), (dAlpha, "alpha gradient")]
        try checkRows(rows: rows, cols: k, matrices: buffers, perRow: [])
        try requireComponents(k)
        try familiesPerRow("dirichlet_sample_backward", rows: rows, length: k, approximation: approximation, buffers, ints: [rows, k, Int(approximation.rawValue)])
    }

    public func dirichletApproximationLogDensity(_ approximation: LogisticNormal, logits y: Buffer, alpha: Buffer, rows: Int, components k: Int,
                                                 into lp: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(y, "logits"), (alpha, "alpha")], perRow: [(lp, "log-density output")])
        try requireComponents(k)
        try familiesPerRow("dirichlet_approximation_log_density", rows: rows, length: k, approximation: approximation, [(y, "logits"), (alpha, "alpha"), (lp, "log-density output")],
                     ints: [rows, k, Int(approximation.rawValue)])
    }

    public func dirichletApproximationLogDensityBackward(_ approximation: LogisticNormal, logits y: Buffer, alpha: Buffer, gradient g: Buffer,
                                                         rows: Int, components k: Int, intoLogits dy: Buffer, intoAlpha dAlpha: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(y, "logits"), (alpha, "alpha"), (dy, "logits gradient"), (dAlpha, "alpha gradient")],
                      perRow: [(g, "log-density gradient")])
        try requireComponents(k)
        try familiesPerRow("dirichlet_approximation_log_density_backward", rows: rows, length: k, approximation: approximation,
                     [(y, "logits"), (alpha, "alpha"), (g, "log-density gradient"), (dy, "logits gradient"), (dAlpha, "alpha gradient")],
                     ints: [rows, k, Int(approximation.rawValue)])
    }

    public func dirichletKL(alpha: Buffer, priorConcentration beta: Float, rows: Int, components k: Int, into kl: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(alpha, "alpha")], perRow: [(kl, "KL output")])
        let constant = FamilyConstants.dirichletPrior(components: k, concentration: beta)
        try familiesPerRow("dirichlet_kl", rows: rows, length: k, [(alpha, "alpha"), (kl, "KL output")], ints: [rows, k], floats: [beta, constant])
    }

    public func dirichletKLBackward(alpha: Buffer, priorConcentration beta: Float, gradient g: Buffer, rows: Int, components k: Int,
                                    into dAlpha: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(alpha, "alpha"), (dAlpha, "alpha gradient")], perRow: [(g, "KL gradient")])
        try familiesPerRow("dirichlet_kl_backward", rows: rows, length: k, [(alpha, "alpha"), (g, "KL gradient"), (dAlpha, "alpha gradient")],
                           ints: [rows, k], floats: [beta])
    }

    public func dirichletLogDensity(_ z: Buffer, alpha: Buffer, rows: Int, components k: Int, into lp: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(z, "sample"), (alpha, "alpha")], perRow: [(lp, "log-density output")])
        try familiesPerRow("dirichlet_log_density", rows: rows, length: k, [(z, "sample"), (alpha, "alpha"), (lp, "log-density output")], ints: [rows, k])
    }

    public func dirichletLogDensityBackward(_ z: Buffer, alpha: Buffer, gradient g: Buffer, rows: Int, components k: Int,
                                            intoSample dz: Buffer, intoAlpha dAlpha: Buffer) throws {
        try checkRows(rows: rows, cols: k, matrices: [(z, "sample"), (alpha, "alpha"), (dz, "sample gradient"), (dAlpha, "alpha gradient")],
                      perRow: [(g, "log-density gradient")])
        try familiesPerRow("dirichlet_log_density_backward", rows: rows, length: k,
                     [(z, "sample"), (alpha, "alpha"), (g, "log-density gradient"), (dz, "sample gradient"), (dAlpha, "alpha gradient")],
                     ints: [rows, k])
    }

    // MARK: batch normalisation

    public func batchNormTraining(_ x: Buffer, scale: Buffer, shift: Buffer, rows: Int, cols: Int, epsilon: Float, momentum: Float,
                                  runningMean: Buffer, runningVariance: Buffer, into y: Buffer, batchMean: Buffer,
                                  inverseDeviation: Buffer) throws {
        try require(rows > 1, "batch normalisation needs more than one row in training, got \(rows)")
        try checkRows(rows: rows, cols: cols, matrices: [(x, "input"), (y, "output")], perRow: [])
        let perColumn = [(scale, "scale"), (shift, "shift"), (runningMean, "running mean"), (runningVariance, "running variance"),
                         (batchMean, "batch mean"), (inverseDeviation, "inverse deviation")]
        try checkRows(rows: cols, cols: 1, matrices: perColumn, perRow: [])
        _ = try int(rows * cols, "rows * cols")
        let tiles = usesColumnTiles(columns: cols)
        try launch(.normalisation, "normalisation_batch_norm_training\(tiles ? "_tiled" : "")_f32",
                   global: tiles ? columnTileWorkItems(columns: cols) : cols, try [
            (x, "input"), (scale, "scale"), (shift, "shift"), (y, "output"), (batchMean, "batch mean"), (inverseDeviation, "inverse deviation"),
            (runningMean, "running mean"), (runningVariance, "running variance"),
        ].map { .buffer(try mem($0.0, $0.1)) } + [try int(rows, "rows"), try int(cols, "cols"), .float(epsilon), .float(momentum)])
    }

    public func batchNormInference(_ x: Buffer, scale: Buffer, shift: Buffer, runningMean: Buffer, runningVariance: Buffer, rows: Int, cols: Int,
                                   epsilon: Float, into y: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(x, "input"), (y, "output")], perRow: [])
        try checkRows(rows: cols, cols: 1, matrices: [(scale, "scale"), (shift, "shift"), (runningMean, "running mean"),
                                                      (runningVariance, "running variance")], perRow: [])
        _ = try int(rows * cols, "rows * cols")
        try launch(.normalisation, "normalisation_batch_norm_inference_f32", global: rows * cols, try [
            (x, "input"), (scale, "scale"), (shift, "shift"), (runningMean, "running mean"), (runningVariance, "running variance"), (y, "output"),
        ].map { .buffer(try mem($0.0, $0.1)) } + [try int(rows, "rows"), try int(cols, "cols"), .float(epsilon)])
    }

    public func batchNormBackward(_ x: Buffer, scale: Buffer, batchMean: Buffer, inverseDeviation: Buffer, gradient dy: Buffer, rows: Int, cols: Int,
                                  intoInput dx: Buffer, intoScale dScale: Buffer, intoShift dShift: Buffer) throws {
        try checkRows(rows: rows, cols: cols, matrices: [(x, "input"), (dy, "gradient"), (dx, "input gradient")], perRow: [])
        try checkRows(rows: cols, cols: 1, matrices: [(scale, "scale"), (batchMean, "batch mean"), (inverseDeviation, "inverse deviation"),
                                                      (dScale, "scale gradient"), (dShift, "shift gradient")], perRow: [])
        _ = try int(rows * cols, "rows * cols")
        let tiles = usesColumnTiles(columns: cols)
        try launch(.normalisation, "normalisation_batch_norm_backward\(tiles ? "_tiled" : "")_f32",
                   global: tiles ? columnTileWorkItems(columns: cols) : cols, try [
            (x, "input"), (scale, "scale"), (batchMean, "batch mean"), (inverseDeviation, "inverse deviation"), (dy, "gradient"),
            (dx, "input gradient"), (dScale, "scale gradient"), (dShift, "shift gradient"),
        ].map { .buffer(try mem($0.0, $0.1)) } + [try int(rows, "rows"), try int(cols, "cols")])
    }
}
