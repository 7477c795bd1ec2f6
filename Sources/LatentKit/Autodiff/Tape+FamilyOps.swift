// The fused latent-family ops and batch normalisation on the tape: one backend kernel forward, one backward, where
// a composition of generic ops would launch five to twenty-five (Kernels/LatentFamilies.swift, Normalisation.swift).

import Foundation

/// How a fused family op's output was made: the inputs its backward kernel needs.
enum FamilyRule {
    case concreteSample(logits: Tensor, temperature: Float, categories: Int)
    case concreteLogDensity(sample: Tensor, logits: Tensor?, temperature: Float, groups: Int)
    case categoricalKL(logits: Tensor, groups: Int)
    /// The output is `z = σ(logit)`; the logit itself is recorded as a Gaussian sample.
    case logitNormalSample(mean: Tensor, logVariance: Tensor, noise: Tensor, logit: Tensor)
    case logitNormalLogDensity(logit: Tensor, mean: Tensor, logVariance: Tensor)
    case dirichletSample(LogisticNormal, alpha: Tensor, noise: Tensor)
    case dirichletApproximationLogDensity(LogisticNormal, logits: Tensor, alpha: Tensor)
    case dirichletKL(alpha: Tensor, priorConcentration: Float)
    case dirichletLogDensity(sample: Tensor, alpha: Tensor)
    case batchNorm(x: Tensor, scale: Tensor, shift: Tensor, batchMean: Tensor, inverseDeviation: Tensor)
}

extension Tape {
    private func recordFamily(_ rule: FamilyRule, _ output: Tensor, inputs: [Tensor]) -> Tensor { record(.family(rule), output, inputs: inputs) }

    private func groups(of x: Tensor, categories k: Int) throws -> Int {
        try require(k >= 1 && x.cols % k == 0, "\(x.cols) latent columns do not split into categoricals of \(k) classes")
        return x.cols / k
    }

    /// ExpConcrete samples `y = log-softmax((logits + gumbel) / temperature)` of each K-way categorical of each row.
    public func concreteSample(logits: Tensor, gumbel: Tensor, temperature: Float, categories k: Int) throws -> Tensor {
        try requireSameShape([logits, gumbel], "concreteSample")
        let segments = logits.rows * (try groups(of: logits, categories: k))
        let y = try output(logits.rows, logits.cols)
        try backend.concreteSample(logits: logits.buffer, gumbel: gumbel.buffer, temperature: temperature, segments: segments, categories: k, into: y.buffer)
        return recordFamily(.concreteSample(logits: logits, temperature: temperature, categories: k), y, inputs: [logits])
    }

    /// The ExpConcrete log-density of each row of `sample` (summed over its categoricals), `rows × 1`; nil logits: the
    /// prior with uniform locations.
    public func concreteLogDensity(_ sample: Tensor, logits: Tensor?, temperature: Float, categories k: Int) throws -> Tensor {
        if let logits { try requireSameShape([sample, logits], "concreteLogDensity") }
        let g = try groups(of: sample, categories: k)
        let lp = try output(sample.rows, 1)
        try backend.concreteLogDensity(sample: sample.buffer, logits: logits?.buffer, temperature: temperature, rows: sample.rows, groups: g,
                                       categories: k, into: lp.buffer)
        return recordFamily(.concreteLogDensity(sample: sample, logits: logits, temperature: temperature, groups: g), lp,
                            inputs: [sample] + (logits.map { [$0] } ?? []))
    }

    /// Σ over each row's categoricals of KL(Cat(softmax(logits)) ‖ uniform), `rows × 1` (Jang et al.'s KL).
    public func categoricalKL(_ logits: Tensor, categories k: Int) throws -> Tensor {
        let g = try groups(of: logits, categories: k)
        let kl = try output(logits.rows, 1)
        try backend.categoricalKL(logits: logits.buffer, rows: logits.rows, groups: g, categories: k, into: kl.buffer)
        return recordFamily(.categoricalKL(logits: logits, groups: g), kl, inputs: [logits])
    }

    /// The logit `y = mean + e^(lv/2) noise` and the sample `z = σ(y)` in one kernel; both are differentiable.
    public func logitNormalSample(mean: Tensor, logVariance: Tensor, noise: Tensor) throws -> (logit: Tensor, sample: Tensor) {
        try requireSameShape([mean, logVariance, noise], "logitNormalSample")
        let y = try output(mean.rows, mean.cols), z = try output(mean.rows, mean.cols)
        try backend.logitNormalSample(mean: mean.buffer, logVariance: logVariance.buffer, noise: noise.buffer, intoLogit: y.buffer,
                                      intoSample: z.buffer, count: y.count)
        let logit = record(.gaussianSample(mean: mean, logVariance: logVariance, noise: noise), y, inputs: [mean, logVariance])
        return (logit, recordFamily(.logitNormalSample(mean: mean, logVariance: logVariance, noise: noise, logit: y), z, inputs: [mean, logVariance]))
    }

    /// The logit-normal log-density of `z = σ(logit)` of each row, with the Jacobian `-Σ log z(1-z)`, `rows × 1`.
    public func logitNormalLogDensity(logit: Tensor, mean: Tensor, logVariance: Tensor) throws -> Tensor {
        try requireSameShape([logit, mean, logVariance], "logitNormalLogDensity")
        let lp = try output(logit.rows, 1)
        try backend.logitNormalLogDensity(logit: logit.buffer, mean: mean.buffer, logVariance: logVariance.buffer, rows: logit.rows,
                                          cols: logit.cols, into: lp.buffer)
        return recordFamily(.logitNormalLogDensity(logit: logit, mean: mean, logVariance: logVariance), lp, inputs: [logit, mean, logVariance])
    }

    /// Logits of a logistic-normal sample approximating Dir(α) in each row.
    public func dirichletSample(_ approximation: LogisticNormal, alpha: Tensor, noise: Tensor) throws -> Tensor {
        try requireSameShape([alpha, noise], "dirichletSample")
        let y = try output(alpha.rows, alpha.cols)
        try backend.dirichletSample(approximation, alpha: alpha.buffer, noise: noise.buffer, rows: alpha.rows, components: alpha.cols, into: y.buffer)
        return recordFamily(.dirichletSample(approximation, alpha: alpha, noise: noise), y, inputs: [alpha])
    }

    /// The log-density of each row of logits under the approximation of Dir(α), `rows × 1`.
    public func dirichletApproximationLogDensity(_ approximation: LogisticNormal, logits: Tensor, alpha: Tensor) throws -> Tensor {
        try requireSameShape([logits, alpha], "dirichletApproximationLogDensity")
        let lp = try output(logits.rows, 1)
        try backend.dirichletApproximationLogDensity(approximation, logits: logits.buffer, alpha: alpha.buffer, rows: logits.rows,
                                                     components: logits.cols, into: lp.buffer)
        return recordFamily(.dirichletApproximationLogDensity(approximation, logits: logits, alpha: alpha), lp, inputs: [logits, alpha])
    }

    /// KL(Dir(α) ‖ Dir(β·1)) of each row, summed over the components, `rows × 1`.
    public func dirichletKL(_ alpha: Tensor, priorConcentration beta: Float) throws -> Tensor {
        let kl = try output(alpha.rows, 1)
        try backend.dirichletKL(alpha: alpha.buffer, priorConcentration: beta, rows: alpha.rows, components: alpha.cols, into: kl.buffer)
        return recordFamily(.dirichletKL(alpha: alpha, priorConcentration: beta), kl, inputs: [alpha])
    }

    /// log Dir(z; α) of each row, `rows × 1`.
    public func dirichletLogDensity(_ z: Tensor, alpha: Tensor) throws -> Tensor {
        try requireSameShape([z, alpha], "dirichletLogDensity")
        let lp = try output(z.rows, 1)
        try backend.dirichletLogDensity(z.buffer, alpha: alpha.buffer, rows: z.rows, components: z.cols, into: lp.buffer)
        return recordFamily(.dirichletLogDensity(sample: z, alpha: alpha), lp, inputs: [z, alpha])
    }

    /// Inverted dropout: each element of `x` kept with probability `keep` and scaled by 1/keep, else 0, the mask drawn
    /// from Philox (`Backend.fillDropoutMask`), so that every backend drops
    /// the same elements. The product's rule is the gradient: `dx = dy · mask`.
    public func dropout(_ x: Tensor, keep: Float, key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int = 0) throws -> Tensor {
        let mask = try pool.tensor(rows: x.rows, cols: x.cols)
        try backend.fillDropoutMask(into: mask.buffer, count: mask.count, keep: keep, key: key, counter: counter, streamOffset: streamOffset)
        return try binary(.mul, x, mask)
    }

    /// Batch normalisation of each column of `x` by the batch's statistics, which also updates the running ones.
    public func batchNorm(_ x: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor,
                          epsilon: Float, momentum: Float) throws -> Tensor {
        try requireSameShape([scale, shift, runningMean, runningVariance], "batchNorm")
        try require(scale.count == x.cols, "batchNorm: \(scale.count) scales for \(x.cols) features")
        let y = try output(x.rows, x.cols), mean = try output(1, x.cols), inverse = try output(1, x.cols)
        try backend.batchNormTraining(x.buffer, scale: scale.buffer, shift: shift.buffer, rows: x.rows, cols: x.cols, epsilon: epsilon,
                                      momentum: momentum, runningMean: runningMean.buffer, runningVariance: runningVariance.buffer,
                                      into: y.buffer, batchMean: mean.buffer, inverseDeviation: inverse.buffer)
        return recordFamily(.batchNorm(x: x, scale: scale, shift: shift, batchMean: mean, inverseDeviation: inverse), y, inputs: [x, scale, shift])
    }

    func applyFamilyRule(_ rule: FamilyRule, output y: Tensor, gradient g: Tensor) throws {
        switch rule {
        case .concreteSample(let logits, let temperature, let k):
            let dl = try output(logits.rows, logits.cols)
            try backend.concreteSampleBackward(sample: y.buffer, gradient: g.buffer, temperature: temperature, segments: logits.count / k,
                                               categories: k, into: dl.buffer)
            try accumulate(logits, dl)

        case .concreteLogDensity(let sample, let logits, let temperature, let groups):
            let dy = try output(sample.rows, sample.cols), da = try logits.map { try output($0.rows, $0.cols) }
            try backend.concreteLogDensityBackward(sample: sample.buffer, logits: logits?.buffer, temperature: temperature, gradient: g.buffer,
                                                   rows: sample.rows, groups: groups, categories: sample.cols / groups,
                                                   intoSample: dy.buffer, intoLogits: da?.buffer)
            try accumulate(sample, dy)
            if let logits, let da { try accumulate(logits, da) }

        case .categoricalKL(let logits, let groups):
            let dl = try output(logits.rows, logits.cols)
            try backend.categoricalKLBackward(logits: logits.buffer, gradient: g.buffer, rows: logits.rows, groups: groups,
                                              categories: logits.cols / groups, into: dl.buffer)
            try accumulate(logits, dl)

        case .logitNormalSample(let mean, let logVariance, let noise, let logit):
            let dmu = try output(mean.rows, mean.cols), dlv = try output(mean.rows, mean.cols)
            try backend.logitNormalSampleBackward(logVariance: logVariance.buffer, noise: noise.buffer, logit: logit.buffer, gradient: g.buffer,
                                                  count: mean.count, intoMean: dmu.buffer, intoLogVariance: dlv.buffer)
            try accumulate(mean, dmu)
            try accumulate(logVariance, dlv)

        case .logitNormalLogDensity(let logit, let mean, let logVariance):
            let dy = try output(logit.rows, logit.cols), dmu = try output(logit.rows, logit.cols), dlv = try output(logit.rows, logit.cols)
            try backend.logitNormalLogDensityBackward(logit: logit.buffer, mean: mean.buffer, logVariance: logVariance.buffer, gradient: g.buffer,
                                                      rows: logit.rows, cols: logit.cols, intoLogit: dy.buffer, intoMean: dmu.buffer,
                                                      intoLogVariance: dlv.buffer)
            try accumulate(logit, dy)
            try accumulate(mean, dmu)
            try accumulate(logVariance, dlv)

        case .dirichletSample(let approximation, let alpha, let noise):
            let da = try output(alpha.rows, alpha.cols)
            try backend.dirichletSampleBackward(approximation, alpha: alpha.buffer, noise: noise.buffer, gradient: g.buffer, rows: alpha.rows,
                                                components: alpha.cols, into: da.buffer)
            try accumulate(alpha, da)

        case .dirichletApproximationLogDensity(let approximation, let logits, let alpha):
            let dy = try output(logits.rows, logits.cols), da = try output(alpha.rows, alpha.cols)
            try backend.dirichletApproximationLogDensityBackward(approximation, logits: logits.buffer, alpha: alpha.buffer, gradient: g.buffer,
                                                                 rows: logits.rows, components: logits.cols, intoLogits: dy.buffer, intoAlpha: da.buffer)
            try accumulate(logits, dy)
            try accumulate(alpha, da)

        case .dirichletKL(let alpha, let beta):
            let da = try output(alpha.rows, alpha.cols)
            try backend.dirichletKLBackward(alpha: alpha.buffer, priorConcentration: beta, gradient: g.buffer, rows: alpha.rows,
                                            components: alpha.cols, into: da.buffer)
            try accumulate(alpha, da)

        case .dirichletLogDensity(let z, let alpha):
            let dz = try output(z.rows, z.cols), da = try output(alpha.rows, alpha.cols)
            try backend.dirichletLogDensityBackward(z.buffer, alpha: alpha.buffer, gradient: g.buffer, rows: z.rows, components: z.cols,
                                                    intoSample: dz.buffer, intoAlpha: da.buffer)
            try accumulate(z, dz)
            try accumulate(alpha, da)

        case .batchNorm(let x, let scale, let shift, let mean, let inverse):
            let dx = try output(x.rows, x.cols), dScale = try output(1, x.cols), dShift = try output(1, x.cols)
            try backend.batchNormBackward(x.buffer, scale: scale.buffer, batchMean: mean.buffer, inverseDeviation: inverse.buffer, gradient: g.buffer,
                                          rows: x.rows, cols: x.cols, intoInput: dx.buffer, intoScale: dScale.buffer, intoShift: dShift.buffer)
            try accumulate(x, dx)
            try accumulate(scale, dScale)
            try accumulate(shift, dShift)
        }
    }
}
