// The vector-Jacobian rules: one case per Rule, the only place gradients are defined.

extension Tape {
    func applyRule(_ rule: Rule, output y: Tensor, gradient g: Tensor) throws {
        switch rule {
        case .matmul(let a, let b, let ta, let tb):
            if needsGradient(a) {
                let da: Tensor = switch (ta, tb) {
                case (false, false): try product(g, false, b, true)
                case (false, true): try product(g, false, b, false)
                case (true, false): try product(b, false, g, true)
                case (true, true): try product(b, true, g, true)
                }
                try accumulate(a, da)
            }
            if needsGradient(b) {
                let db: Tensor = switch (ta, tb) {
                case (false, false): try product(a, true, g, false)
                case (false, true): try product(g, true, a, false)
                case (true, false): try product(a, false, g, false)
                case (true, true): try product(g, true, a, true)
                }
                try accumulate(b, db)
            }

        case .dense(let x, let weight, let bias, let activation, let a):
            let da = activation == nil ? g : try output(a.rows, a.cols)
            let dBias = try output(1, a.cols)
            try backend.biasActivationBackward(activation, preActivation: a.buffer, gradient: g.buffer, rows: a.rows, cols: a.cols,
                                               intoInput: activation == nil ? nil : da.buffer, intoBias: dBias.buffer)
            try accumulate(bias, dBias)
            if needsGradient(weight) { try accumulate(weight, try product(x, true, da, false)) }
            if needsGradient(x) { try accumulate(x, try product(da, false, weight, true)) }

        case .elboLoss(let ll, let kl, let klScale, let likelihoodScale):
            try elboLossBackward(ll, kl, klScale: klScale, likelihoodScale: likelihoodScale, gradient: g, seed: 0)

        case .unary(let op, let x):
            let dx = try output(x.rows, x.cols)
            try backend.unaryBackward(op, x: x.buffer, gradient: g.buffer, into: dx.buffer, count: x.count)
            try accumulate(x, dx)

        case .binary(let op, let a, let b, let broadcast):
            switch op {
            case .add:
                try accumulate(a, g)
                if needsGradient(b) { try accumulate(b, try reduce(g, to: broadcast)) }
            case .sub:
                try accumulate(a, g)
                if needsGradient(b) { try accumulate(b, try reduce(elementwise(g, alpha: -1), to: broadcast)) }
            case .mul:
                if needsGradient(a) { try accumulate(a, try combine(.mul, g, b, broadcast)) }
                if needsGradient(b) { try accumulate(b, try reduce(combine(.mul, g, a, .none), to: broadcast)) }
            case .div:
                if needsGradient(a) { try accumulate(a, try combine(.div, g, b, broadcast)) }
                if needsGradient(b) {  // d(a/b)/db = -(a/b)/b = -y/b
                    let t = try combine(.div, combine(.mul, g, y, .none), b, broadcast)
                    try accumulate(b, try reduce(elementwise(t, alpha: -1), to: broadcast))
                }
            case .max, .min:
                throw BackendError.invalidArgument("\(op.rawValue) has no gradient rule")
            }

        case .affine(let x, let alpha):
            try accumulate(x, try elementwise(g, alpha: alpha))

        case .sum(let x, let axis):
            try accumulate(x, try expand(g, rows: x.rows, cols: x.cols, axis: axis))

        case .sumAll(let x):
            let dx = try output(x.rows, x.cols)
            try backend.fill(dx.buffer, with: 0, offset: 0, count: dx.count)
            try backend.binary(.add, dx.buffer, g.buffer, broadcast: .scalar, rows: 1, cols: dx.count, into: dx.buffer)
            try accumulate(x, dx)

        case .logSumExp(let x, let axis):
            // d lse / dx = exp(x - lse), broadcast along the reduced axis
            let broadcast: Broadcast = axis == .eachRow ? .column : .row
            let weights = try output(x.rows, x.cols)
            try backend.binary(.sub, x.buffer, y.buffer, broadcast: broadcast, rows: x.rows, cols: x.cols, into: weights.buffer)
            try backend.unary(.exp, weights.buffer, into: weights.buffer, count: weights.count)
            try accumulate(x, try combine(.mul, weights, g, broadcast))

        case .gaussianSample(let mean, let logVariance, let noise):
            try accumulate(mean, g)
            if needsGradient(logVariance) {
                let dlv = try output(logVariance.rows, logVariance.cols)
                try backend.gaussianSampleBackward(logVariance: logVariance.buffer, noise: noise.buffer, gradient: g.buffer,
                                                   into: dlv.buffer, count: dlv.count)
                try accumulate(logVariance, dlv)
            }

        case .logSoftmax(let x):
            // dx = g - softmax(x) Σ_row g, with softmax(x) = exp(y)
            let probabilities = try output(x.rows, x.cols)
            try backend.unary(.exp, y.buffer, into: probabilities.buffer, count: y.count)
            try accumulate(x, try combine(.sub, g, combine(.mul, probabilities, reduce(g, to: .column), .column), .none))

        case .gammaSample(let alpha):
            let dAlpha = try output(alpha.rows, alpha.cols)
            try backend.gammaBackward(concentration: alpha.buffer, sample: y.buffer, gradient: g.buffer, into: dAlpha.buffer, count: alpha.count)
            try accumulate(alpha, dAlpha)

        case .reshape(let x):
            try accumulate(x, try g.reshaped(rows: x.rows, cols: x.cols))

        case .gaussianKL(let mean, let logVariance, let plv):
            let dmu = try output(mean.rows, mean.cols), dlv = try output(mean.rows, mean.cols)
            try backend.gaussianKLBackward(mean: mean.buffer, logVariance: logVariance.buffer, priorLogVariance: plv, gradient: g.buffer,
                                           rows: mean.rows, cols: mean.cols, intoMean: dmu.buffer, intoLogVariance: dlv.buffer)
            try accumulate(mean, dmu)
            try accumulate(logVariance, dlv)

        case .bernoulliLogLikelihood(let logits, let targets):
            let dl = try output(logits.rows, logits.cols)
            try backend.bernoulliLogLikelihoodBackward(logits: logits.buffer, targets: targets.buffer, gradient: g.buffer,
                                                       rows: logits.rows, cols: logits.cols, into: dl.buffer)
            try accumulate(logits, dl)

        case .multinomialLogLikelihood(let logits, let counts, let z):
            let dl = try output(logits.rows, logits.cols)
            try backend.multinomialLogLikelihoodBackward(logits: logits.buffer, counts: counts.buffer, logNormaliser: z.buffer, gradient: g.buffer,
                                                         rows: logits.rows, cols: logits.cols, into: dl.buffer)
            try accumulate(logits, dl)

        case .gaussianLogDensity(let x, let mean, let logVariance):
            let dx = try output(x.rows, x.cols), dmu = try output(x.rows, x.cols), dlv = try output(x.rows, x.cols)
            try backend.gaussianLogDensityBackward(x.buffer, mean: mean.buffer, logVariance: logVariance.buffer, gradient: g.buffer,
                                                   rows: x.rows, cols: x.cols, intoX: dx.buffer, intoMean: dmu.buffer,
                                                   intoLogVariance: dlv.buffer)
            try accumulate(x, dx)
            try accumulate(mean, dmu)
            try accumulate(logVariance, dlv)

        case .splitColumns, .gaussianPosterior, .gaussianConditionalPosterior:
            try applyMultiOutputRule(rule, outputs: [y], gradients: [g])

        case .concatColumns(let parts):
            try concatColumnsBackward(parts, gradient: g)

        case .family(let rule):
            try applyFamilyRule(rule, output: y, gradient: g)

        case .structuredGaussian(let rule):
            try applyStructuredGaussianRule(rule, gradient: g)
        case .discrete(let rule):
            try applyDiscreteRule(rule, output: y, gradient: g)
        }
    }

    /// The ELBO loss's rule, for the loss gradient `g` or, when nil, the constant `seed`.
    func elboLossBackward(_ ll: Tensor, _ kl: Tensor, klScale: Float, likelihoodScale: Float, gradient g: Tensor?, seed: Float) throws {
        let dll = try output(ll.rows, ll.cols), dkl = try output(kl.rows, kl.cols)
        try backend.elboLossBackward(gradient: g?.buffer, seed: seed, llCount: ll.count, klCount: kl.count, klScale: klScale,
                                     likelihoodScale: likelihoodScale, intoLogLikelihood: dll.buffer, intoKL: dkl.buffer)
        try accumulate(ll, dll)
        try accumulate(kl, dkl)
    }

    /// The rules of ops with several outputs; `gradients` has one entry per output, nil where none reached it.
    func applyMultiOutputRule(_ rule: Rule, outputs: [Tensor], gradients: [Tensor?]) throws {
        switch rule {
        case .splitColumns(let x):
            let dx = try output(x.rows, x.cols)
            if gradients.contains(where: { $0 == nil }) { try backend.fill(dx.buffer, with: 0, offset: 0, count: dx.count) }
            var column = 0
            for (part, g) in zip(outputs, gradients) {
                if let g {
                    try backend.copyBlock(from: g.buffer, offset: 0, rowStride: part.cols, to: dx.buffer, offset: column, rowStride: x.cols,
                                          rows: x.rows, cols: part.cols)
                }
                column += part.cols
            }
            try accumulate(x, dx)

        case .gaussianPosterior(let heads, let noise, let plv):
            let dHeads = try output(heads.rows, heads.cols)
            try backend.gaussianPosteriorBackward(heads: heads.buffer, noise: noise.buffer, priorLogVariance: plv, sampleGradient: gradients[0]?.buffer,
                                                  klGradient: gradients[1]?.buffer, rows: heads.rows, latent: heads.cols / 2, intoHeads: dHeads.buffer)
            try accumulate(heads, dHeads)

        case .gaussianConditionalPosterior(let q, let p, let noise):
            try gaussianConditionalPosteriorBackward(q, p, noise, gradients: gradients)

        default:
            throw BackendError.invalidArgument("\(rule) is not an op with several outputs")
        }
    }

    /// `op(x) · op(y)` into a fresh tensor, without recording.
    func product(_ x: Tensor, _ tx: Bool, _ y: Tensor, _ ty: Bool) throws -> Tensor {
        let m = tx ? x.cols : x.rows, k = tx ? x.rows : x.cols, n = ty ? y.rows : y.cols
        let c = try output(m, n)
        try backend.gemm(transposeA: tx, transposeB: ty, m: m, n: n, k: k, alpha: 1, x.buffer, y.buffer, beta: 0, c.buffer)
        return c
    }

    /// `alpha x`, without recording.
    func elementwise(_ x: Tensor, alpha: Float) throws -> Tensor {
        let y = try output(x.rows, x.cols)
        try backend.affine(x.buffer, alpha: alpha, beta: 0, into: y.buffer, count: x.count)
        return y
    }

    /// `a ∘ b` with broadcast, without recording.
    func combine(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, _ broadcast: Broadcast) throws -> Tensor {
        let c = try output(a.rows, a.cols)
        try backend.binary(op, a.buffer, b.buffer, broadcast: broadcast, rows: a.rows, cols: a.cols, into: c.buffer)
        return c
    }

    /// The gradient of a broadcast operand: `g` summed over the axes the operand was repeated along.
    func reduce(_ g: Tensor, to broadcast: Broadcast) throws -> Tensor {
        switch broadcast {
        case .none: return g
        case .row:
            let r = try output(1, g.cols)
            try backend.reduce(.sum, g.buffer, rows: g.rows, cols: g.cols, axis: .eachColumn, into: r.buffer)
            return r
        case .column:
            let r = try output(g.rows, 1)
            try backend.reduce(.sum, g.buffer, rows: g.rows, cols: g.cols, axis: .eachRow, into: r.buffer)
            return r
        case .scalar:
            let r = try output(1, 1)
            try backend.reduce(.sum, g.buffer, rows: 1, cols: g.count, axis: .eachRow, into: r.buffer)
            return r
        }
    }

    /// A reduced gradient repeated back over the `rows × cols` input it came from.
    func expand(_ g: Tensor, rows: Int, cols: Int, axis: ReductionAxis) throws -> Tensor {
        let dx = try output(rows, cols)
        try backend.fill(dx.buffer, with: 0, offset: 0, count: dx.count)
        try backend.binary(.add, dx.buffer, g.buffer, broadcast: axis == .eachRow ? .column : .row, rows: rows, cols: cols, into: dx.buffer)
        return dx
    }
}
