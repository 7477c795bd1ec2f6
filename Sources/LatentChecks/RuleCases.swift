// The rule cases: every gradient rule of the tape (ruleCases), every fused latent-family and batch-norm kernel
// (familyCases), and the chain and grid Gaussian kernels (structuredRuleCases), each against float64 formulas.

import Foundation
import LatentKit
import RealModule

public let ruleCases: [RuleCase] = {
    var cases: [RuleCase] = []
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let (ar, ac) = ta ? (4, 3) : (3, 4), (br, bc) = tb ? (5, 4) : (4, 5)
        cases.append(RuleCase(
            description: "matmul \(ta ? "T" : "N")\(tb ? "T" : "N")",
            inputs: [(ar, ac, -1...1, false), (br, bc, -1...1, false)],
            tape: { t, x in try t.matmul(x[0], x[1], transposeA: ta, transposeB: tb) },
            reference: { x in referenceMatmul(x[0], ar, ac, ta, x[1], br, bc, tb) }))
    }
    cases.append(RuleCase(
        description: "linear", inputs: [(3, 4, -1...1, false), (4, 5, -1...1, false), (1, 5, -1...1, false)],
        tape: { t, x in try t.linear(x[0], weight: x[1], bias: x[2]) },
        reference: { x in referenceBroadcast(.add, referenceMatmul(x[0], 3, 4, false, x[1], 4, 5, false), x[2], 3, 5, .row) }))
    for op in [UnaryOp.softplus, .tanh, .exp, .lgamma, .sigmoid] {
        let range: ClosedRange<Double> = op == .lgamma ? 0.2...5 : -2...2
        cases.append(RuleCase(
            description: "unary \(op.cName)", inputs: [(3, 4, range, false)],
            tape: { t, x in try t.unary(op, x[0]) },
            reference: { x in x[0].map { referenceForward(op, $0) } }))
    }
    for op in [BinaryOp.add, .sub, .mul, .div] {
        for broadcast in Broadcast.allCases {
            let bShape = switch broadcast {
            case .none: (3, 4)
            case .row: (1, 4)
            case .column: (3, 1)
            case .scalar: (1, 1)
            }
            cases.append(RuleCase(
                description: "binary \(op.rawValue) \(broadcast)",
                inputs: [(3, 4, -2...2, false), (bShape.0, bShape.1, 0.5...2, false)],
                tape: { t, x in try t.binary(op, x[0], x[1], broadcast: broadcast) },
                reference: { x in referenceBroadcast(op, x[0], x[1], 3, 4, broadcast) }))
        }
    }
    cases.append(RuleCase(
        description: "affine", inputs: [(3, 4, -2...2, false)],
        tape: { t, x in try t.affine(x[0], alpha: -1.5, beta: 0.25) },
        reference: { x in x[0].map { -1.5 * $0 + 0.25 } }))
    for axis in ReductionAxis.allCases {
        cases.append(RuleCase(
            description: "sum \(axis)", inputs: [(3, 4, -2...2, false)],
            tape: { t, x in try t.sum(x[0], axis: axis) },
            reference: { x in referenceRowReduce(x[0], 3, 4, axis) { $0.reduce(0, +) } }))
        cases.append(RuleCase(
            description: "logsumexp \(axis)", inputs: [(3, 4, -3...3, false)],
            tape: { t, x in try t.logSumExp(x[0], axis: axis) },
            reference: { x in referenceRowReduce(x[0], 3, 4, axis) { l in Foundation.log(l.reduce(0) { $0 + Foundation.exp($1) }) } }))
    }
    cases.append(RuleCase(
        description: "sumAll", inputs: [(3, 4, -2...2, false)],
        tape: { t, x in try t.sumAll(x[0]) }, reference: { x in [x[0].reduce(0, +)] }))
    cases.append(RuleCase(
        description: "gaussianSample", inputs: [(3, 4, -2...2, false), (3, 4, -2...1, false), (3, 4, -2...2, true)],
        tape: { t, x in try t.gaussianSample(mean: x[0], logVariance: x[1], noise: x[2]) },
        reference: { x in (0..<12).map { x[0][$0] + Foundation.exp(0.5 * x[1][$0]) * x[2][$0] } }))
    cases.append(RuleCase(
        description: "gaussianKL", inputs: [(3, 4, -2...2, false), (3, 4, -2...1, false)],
        tape: { t, x in try t.gaussianKL(mean: x[0], logVariance: x[1]) },
        reference: { x in (0..<3).map { r in Reference.gaussianKL(Array(x[0][(r * 4)..<(r * 4 + 4)]), Array(x[1][(r * 4)..<(r * 4 + 4)])) } }))
    cases.append(RuleCase(
        description: "gaussianKL prior variance 1.78", inputs: [(3, 4, -2...2, false), (3, 4, -2...1, false)],
        tape: { t, x in try t.gaussianKL(mean: x[0], logVariance: x[1], priorLogVariance: Float(Foundation.log(1.78))) },
        reference: { x in
            (0..<3).map { r in
                Reference.gaussianKL(Array(x[0][(r * 4)..<(r * 4 + 4)]), Array(x[1][(r * 4)..<(r * 4 + 4)]),
                                           priorLogVariance: Double(Float(Foundation.log(1.78))))
            }
        }))
    cases.append(RuleCase(
        description: "concatColumns", inputs: [(3, 2, -2...2, false), (3, 3, -2...2, false)],
        tape: { t, x in try t.concatColumns([x[0], x[1]]) },
        reference: { x in (0..<15).map { i in concatReference(x, element: i) } }))
    cases.append(RuleCase(
        description: "gaussianConditionalPosterior (sample + KL)", inputs: [(3, 8, -2...1, false), (3, 8, -2...1, false), (3, 4, -2...2, true)],
        tape: { t, x in
            let (z, kl) = try t.gaussianConditionalPosterior(posteriorHeads: x[0], priorHeads: x[1], noise: x[2])
            return try t.binary(.add, z, kl, broadcast: .column)
        },
        reference: { x in (0..<12).map { i in conditionalPosteriorReference(x, element: i) } }))
    cases.append(RuleCase(
        description: "logSoftmax", inputs: [(3, 4, -3...3, false)],
        tape: { t, x in try t.logSoftmax(x[0]) },
        reference: { x in
            (0..<12).map { i in
                let row = Array(x[0][(i / 4 * 4)..<(i / 4 * 4 + 4)])
                return x[0][i] - Foundation.log(row.reduce(0) { $0 + Foundation.exp($1) })
            }
        }))
    cases.append(RuleCase(
        description: "topic diversity penalty", inputs: [(4, 6, -2...2, false)],
        tape: { t, x in try TopicDiversity.penalty(x[0], on: t) },
        reference: { x in [Reference.topicDiversity(x[0], topics: 4, words: 6)] }))
    cases.append(RuleCase(
        description: "word exclusivity penalty", inputs: [(4, 6, -2...2, false)],
        tape: { t, x in try WordExclusivity.penalty(x[0], on: t) },
        reference: { x in [Reference.wordExclusivity(x[0], topics: 4, words: 6)] }))
    cases.append(RuleCase(
        description: "word exclusivity penalty, words weighed by frequency", inputs: [(4, 6, -2...2, false), (1, 6, 0.01...0.4, true)],
        tape: { t, x in try WordExclusivity.penalty(x[0], wordWeights: x[1], on: t) },
        reference: { x in [Reference.wordExclusivity(x[0], topics: 4, words: 6, wordWeights: x[1])] }))
    cases.append(RuleCase(
        description: "batchNorm (training)", inputs: [(5, 4, -2...2, false)],
        tape: { t, x in try BatchNorm(name: "bn", features: 4, on: t.backend)(x[0], training: true, on: t) },
        reference: { x in batchNormReference(x[0], rows: 5, cols: 4, scale: [1, 1, 1, 1], shift: [0, 0, 0, 0], epsilon: Double(BatchNorm.epsilon)) }))
    cases.append(RuleCase(
        description: "reshape", inputs: [(3, 4, -2...2, false)],
        tape: { t, x in try t.unary(.tanh, t.reshape(x[0], rows: 6, cols: 2)) },
        reference: { x in x[0].map { Foundation.tanh($0) } }))
    cases.append(RuleCase(
        description: "bernoulliLogLikelihood", inputs: [(3, 4, -4...4, false), (3, 4, 0...1, true)],
        tape: { t, x in try t.bernoulliLogLikelihood(logits: x[0], targets: x[1]) },
        reference: { x in (0..<3).map { r in Reference.bernoulliLogLikelihood(Array(x[0][(r * 4)..<(r * 4 + 4)]), Array(x[1][(r * 4)..<(r * 4 + 4)])) } }))
    cases.append(RuleCase(
        description: "multinomialLogLikelihood", inputs: [(3, 5, -3...3, false), (3, 5, 0...6, true)],
        tape: { t, x in try t.multinomialLogLikelihood(logits: x[0], counts: x[1]) },
        reference: { x in (0..<3).map { r in Reference.multinomialLogLikelihood(Array(x[0][(r * 5)..<(r * 5 + 5)]), Array(x[1][(r * 5)..<(r * 5 + 5)])) } }))
    // The distribution types' compositions (LatentKit/Distributions): KLs between two members, and the logit-normal
    // density of a value given on (0, 1).
    cases.append(RuleCase(
        description: "DiagonalNormal.kl", inputs: [(3, 4, -1...1, false), (3, 4, -1...1, false), (3, 4, -1...1, false), (3, 4, -1...1, false)],
        tape: { t, x in
            try DiagonalNormal(mean: x[0], logVariance: x[1], on: t).kl(to: DiagonalNormal(mean: x[2], logVariance: x[3], on: t))
        },
        reference: { x in
            (0..<3).map { r in
                (0..<4).reduce(0.0) { s, j in
                    let i = r * 4 + j, d = x[0][i] - x[2][i]
                    return s + 0.5 * (x[3][i] - x[1][i] + (Foundation.exp(x[1][i]) + d * d) * Foundation.exp(-x[3][i]) - 1)
                }
            }
        }))
    cases.append(RuleCase(
        description: "Dirichlet.kl", inputs: [(3, 4, 0.3...6, false), (3, 4, 0.3...6, false)],
        tape: { t, x in try Dirichlet(concentration: x[0], on: t).kl(to: Dirichlet(concentration: x[1], on: t)) },
        reference: { x in
            (0..<3).map { r in
                let a = Array(x[0][(r * 4)..<(r * 4 + 4)]), b = Array(x[1][(r * 4)..<(r * 4 + 4)])
                let a0 = a.reduce(0, +), b0 = b.reduce(0, +)
                return Foundation.lgamma(a0) - Foundation.lgamma(b0)
                    + (0..<4).reduce(0.0) { s, k in
                        s + Foundation.lgamma(b[k]) - Foundation.lgamma(a[k]) + (a[k] - b[k]) * (Reference.digamma(a[k]) - Reference.digamma(a0))
                    }
            }
        }))
    cases.append(RuleCase(
        description: "LogitNormal.logProbability of a value", inputs: [(3, 4, 0.05...0.95, false), (3, 4, -1...1, false), (3, 4, -1...1, false)],
        tape: { t, x in try LogitNormal(mean: x[1], logVariance: x[2], on: t).logProbability(x[0]) },
        reference: { x in
            (0..<3).map { r in
                (0..<4).reduce(0.0) { s, j in
                    let i = r * 4 + j, z = x[0][i], y = Foundation.log(z / (1 - z)), d = y - x[1][i]
                    return s - 0.5 * (Foundation.log(2 * Double.pi) + x[2][i] + d * d * Foundation.exp(-x[2][i])) - Foundation.log(z * (1 - z))
                }
            }
        }))
    cases.append(RuleCase(
        description: "gaussianLogDensity", inputs: [(3, 4, -2...2, false), (3, 4, -1...1, false), (3, 4, -1...1, false)],
        tape: { t, x in try t.gaussianLogDensity(x[0], mean: x[1], logVariance: x[2]) },
        reference: { x in
            (0..<3).map { r in
                let s = (r * 4)..<(r * 4 + 4)
                return Reference.gaussianLogDensity(Array(x[0][s]), Array(x[1][s]), Array(x[2][s]))
            }
        }))
    // One input reaching the output along two paths: the gradients must add up.
    cases.append(RuleCase(
        description: "shared input", inputs: [(3, 4, -2...2, false)],
        tape: { t, x in try t.binary(.mul, t.unary(.tanh, x[0]), t.affine(x[0], alpha: 2, beta: 1)) },
        reference: { x in x[0].map { Foundation.tanh($0) * (2 * $0 + 1) } }))
    return cases
}()

public let familyCases: [RuleCase] = {
    var cases: [RuleCase] = []
    let rows = 3
    // Concrete: 2 categoricals of 3 classes per row
    for lambda in [0.5, 1.3] {
        cases.append(RuleCase(
            description: "concreteSample λ=\(lambda)", inputs: [(rows, 6, -2...2, false), (rows, 6, -1...3, true)],
            tape: { t, x in try t.concreteSample(logits: x[0], gumbel: x[1], temperature: Float(lambda), categories: 3) },
            reference: { x in
                let t = (0..<(rows * 6)).map { (x[0][$0] + x[1][$0]) / lambda }
                return Reference.rows(t, 3).flatMap { seg in seg.map { $0 - Reference.logSumExp(seg) } }
            }))
        cases.append(RuleCase(
            description: "concreteLogDensity λ=\(lambda)", inputs: [(rows, 6, -4...0, false), (rows, 6, -2...2, false)],
            tape: { t, x in try t.concreteLogDensity(x[0], logits: x[1], temperature: Float(lambda), categories: 3) },
            reference: { x in
                zip(Reference.rows(x[0], 6), Reference.rows(x[1], 6)).map { y, l in
                    Reference.expConcreteLogDensity(Array(y[0..<3]), Array(l[0..<3]), lambda)
                        + Reference.expConcreteLogDensity(Array(y[3..<6]), Array(l[3..<6]), lambda)
                }
            }))
    }
    cases.append(RuleCase(
        description: "concreteLogDensity uniform prior", inputs: [(rows, 6, -4...0, false)],
        tape: { t, x in try t.concreteLogDensity(x[0], logits: nil, temperature: 1, categories: 3) },
        reference: { x in
            Reference.rows(x[0], 6).map { y in Reference.expConcreteLogDensity(Array(y[0..<3]), nil, 1) + Reference.expConcreteLogDensity(Array(y[3..<6]), nil, 1) }
        }))
    cases.append(RuleCase(
        description: "categoricalKL", inputs: [(rows, 6, -3...3, false)],
        tape: { t, x in try t.categoricalKL(x[0], categories: 3) },
        reference: { x in Reference.rows(x[0], 6).map { Reference.categoricalKL(Array($0[0..<3])) + Reference.categoricalKL(Array($0[3..<6])) } }))
    // logit-normal
    cases.append(RuleCase(
        description: "logitNormalSample (z)", inputs: [(rows, 4, -2...2, false), (rows, 4, -2...1, false), (rows, 4, -2...2, true)],
        tape: { t, x in try t.logitNormalSample(mean: x[0], logVariance: x[1], noise: x[2]).sample },
        reference: { x in
            (0..<(rows * 4)).map { i -> Double in
                let y: Double = x[0][i] + Foundation.exp(0.5 * x[1][i]) * x[2][i]
                return 1 / (1 + Foundation.exp(-y))
            }
        }))
    cases.append(RuleCase(
        description: "logitNormalSample (y and z together)", inputs: [(rows, 4, -2...2, false), (rows, 4, -2...1, false), (rows, 4, -2...2, true)],
        tape: { t, x in
            let (y, z) = try t.logitNormalSample(mean: x[0], logVariance: x[1], noise: x[2])
            return try t.binary(.add, t.affine(y, alpha: 0.5), z)
        },
        reference: { x in
            (0..<(rows * 4)).map { i in
                let y = x[0][i] + Foundation.exp(0.5 * x[1][i]) * x[2][i]
                return 0.5 * y + 1 / (1 + Foundation.exp(-y))
            }
        }))
    cases.append(RuleCase(
        description: "logitNormalLogDensity", inputs: [(rows, 4, -3...3, false), (rows, 4, -1...1, false), (rows, 4, -1...1, false)],
        tape: { t, x in try t.logitNormalLogDensity(logit: x[0], mean: x[1], logVariance: x[2]) },
        reference: { x in
            (0..<rows).map { r -> Double in
                var s = 0.0
                for i in (r * 4)..<(r * 4 + 4) {
                    let d = x[0][i] - x[1][i]
                    let gaussian: Double = -0.5 * (Foundation.log(2 * Double.pi) + x[2][i] + d * d * Foundation.exp(-x[2][i]))
                    s += gaussian + Reference.softplus(x[0][i]) + Reference.softplus(-x[0][i])
                }
                return s
            }
        }))
    // Dirichlet, K = 4, α over small and large concentrations
    for (name, range) in [("small α", 0.2...1.5), ("large α", 2.0...40.0)] {
        cases.append(RuleCase(
            description: "dirichletSample laplace \(name)", inputs: [(rows, 4, range, false), (rows, 4, -2...2, true)],
            tape: { t, x in try t.dirichletSample(.laplace, alpha: x[0], noise: x[1]) },
            reference: { x in
                zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).flatMap { a, e in
                    let (m, v) = Reference.laplace(a)
                    return (0..<4).map { m[$0] + v[$0].squareRoot() * e[$0] }
                }
            }))
        cases.append(RuleCase(
            description: "dirichletSample aitchison-shen \(name)", inputs: [(rows, 4, range, false), (rows, 4, -2...2, true)],
            tape: { t, x in try t.dirichletSample(.aitchisonShen, alpha: x[0], noise: x[1]) },
            reference: { x in zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).flatMap { Reference.aitchisonShenSample($0, $1) } }))
        cases.append(RuleCase(
            description: "dirichletApproximationLogDensity laplace \(name)", inputs: [(rows, 4, -2...2, false), (rows, 4, range, false)],
            tape: { t, x in try t.dirichletApproximationLogDensity(.laplace, logits: x[0], alpha: x[1]) },
            reference: { x in
                zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).map { y, a in
                    let (m, v) = Reference.laplace(a)
                    return (0..<4).reduce(0) { $0 - 0.5 * (Foundation.log(2 * Double.pi * v[$1]) + (y[$1] - m[$1]) * (y[$1] - m[$1]) / v[$1]) }
                }
            }))
        cases.append(RuleCase(
            description: "dirichletApproximationLogDensity aitchison-shen \(name)", inputs: [(rows, 4, -2...2, false), (rows, 4, range, false)],
            tape: { t, x in try t.dirichletApproximationLogDensity(.aitchisonShen, logits: x[0], alpha: x[1]) },
            // the K-th logit is fixed at 0 by the sampler and carries no density: its gradient is 0
            reference: { x in zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).map { Reference.aitchisonShenLogDensity($0, $1) } }))
        for beta in [0.25, 1.0] {
            cases.append(RuleCase(
                description: "dirichletKL β=\(beta) \(name)", inputs: [(rows, 4, range, false)],
                tape: { t, x in try t.dirichletKL(x[0], priorConcentration: Float(beta)) },
                reference: { x in Reference.rows(x[0], 4).map { Reference.dirichletKL($0, beta) } }))
        }
        cases.append(RuleCase(
            description: "dirichletLogDensity \(name)", inputs: [(rows, 4, 0.05...0.6, false), (rows, 4, range, false)],
            tape: { t, x in try t.dirichletLogDensity(x[0], alpha: x[1]) },
            reference: { x in zip(Reference.rows(x[0], 4), Reference.rows(x[1], 4)).map { Reference.dirichletLogDensity($0, $1) } }))
    }
    // The Discrete VAE: the spike-and-exponential sample ζ = F⁻¹(ρ; σ(l)) (on its smooth branch, ρ > 1 - σ(l)) and the
    // RBM energy z_Aᵀ W z_B + bᵀ z, differentiable in the state, W and b.
    cases.append(RuleCase(
        description: "spikeAndExponentialSample β=10", inputs: [(rows, 4, 0...3, false), (rows, 4, 0.6...0.99, true)],
        tape: { t, x in try t.spikeAndExponentialSample(logits: x[0], uniforms: x[1], beta: 10).sample },
        reference: { x in
            zip(x[0], x[1]).map { l, rho in
                let q = 1 / (1 + Foundation.exp(-l))
                return Foundation.log1p(Foundation.expm1(10) * (q - (1 - rho)) / q) / 10
            }
        }))
    cases.append(RuleCase(
        description: "rbmEnergy 2x3", inputs: [(4, 5, 0...1, false), (2, 3, -1...1, false), (1, 5, -1...1, false)],
        tape: { t, x in try t.rbmEnergy(x[0], weights: x[1], bias: x[2], shape: RBMShape(a: 2, b: 3)) },
        reference: { x in
            (0..<4).map { r in
                let z = Array(x[0][(r * 5)..<(r * 5 + 5)])
                var e = zip(z, x[2]).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<2 { for j in 0..<3 { e += z[i] * x[1][i * 3 + j] * z[2 + j] } }
                return e
            }
        }))
    // batch normalisation with a learned scale and shift
    cases.append(RuleCase(
        description: "batchNorm scale and shift", inputs: [(5, 3, -2...2, false), (1, 3, 0.5...2, false), (1, 3, -1...1, false)],
        tape: { t, x in
            let statistics = try BatchNorm(name: "bn", features: 3, on: t.backend)
            return try t.batchNorm(x[0], scale: x[1], shift: x[2], runningMean: statistics.runningMean, runningVariance: statistics.runningVariance,
                                   epsilon: BatchNorm.epsilon, momentum: BatchNorm.momentum)
        },
        reference: { x in batchNormReference(x[0], rows: 5, cols: 3, scale: x[1], shift: x[2], epsilon: Double(BatchNorm.epsilon)) }))
    // ProdLDA's decoder batch norm: the scale a constant 1 (as BatchNorm keeps it when it does not learn it), the
    // shift learned, ε = 1e-3
    cases.append(RuleCase(
        description: "batchNorm fixed scale, learned shift, eps 1e-3", inputs: [(6, 3, -2...2, false), (1, 3, 1...1, true), (1, 3, -1...1, false)],
        tape: { t, x in
            let statistics = try BatchNorm(name: "bn", features: 3, epsilon: 1e-3, momentum: 1e-3, learnsScale: false, on: t.backend)
            return try t.batchNorm(x[0], scale: x[1], shift: x[2], runningMean: statistics.runningMean, runningVariance: statistics.runningVariance,
                                   epsilon: statistics.epsilon, momentum: statistics.momentum)
        },
        reference: { x in batchNormReference(x[0], rows: 6, cols: 3, scale: [1, 1, 1], shift: x[2], epsilon: Double(Float(1e-3))) }))
    // inverted dropout: the mask is a constant of the step, so y = x ⊙ mask and dx = dy ⊙ mask
    cases.append(RuleCase(
        description: "dropout keep 0.7", inputs: [(5, 8, -2...2, false)],
        tape: { t, x in try t.dropout(x[0], keep: 0.7, key: PhiloxKey(seed: 3, stream: 0x1004), counter: PhiloxCounter(0, 9, 0, 0), streamOffset: 2) },
        reference: { x in
            // the CPU backend's uniforms: the reference of Philox's, held to Random123's known answers by the Philox checks
            let u = try! PhiloxChecks.draw(CPUBackend.shared, .uniform, count: 40, key: PhiloxKey(seed: 3, stream: 0x1004),
                                           counter: PhiloxCounter(0, 9, 0, 0), streamOffset: 2)
            return (0..<40).map { u[$0] < 0.7 ? x[0][$0] * Double(Float(1) / Float(0.7)) : 0 }
        }))
    return cases
}()

/// Batch normalisation by the batch's statistics (the biased variance) in float64: scale · (x − mean) / √(var + ε) + shift.
func batchNormReference(_ x: [Double], rows: Int, cols: Int, scale: [Double], shift: [Double], epsilon: Double) -> [Double] {
    var y = [Double](repeating: 0, count: rows * cols)
    for c in 0..<cols {
        let col = (0..<rows).map { x[$0 * cols + c] }
        let m = col.reduce(0, +) / Double(rows), v = col.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(rows)
        for r in 0..<rows { y[r * cols + c] = scale[c] * (col[r] - m) / (v + epsilon).squareRoot() + shift[c] }
    }
    return y
}

/// The structures the kernel tests cover: the chain, grids with several block rows, a single dense block.
public let testedStructures: [PrecisionStructure] = [.chain(5), PrecisionStructure(blocks: 2, blockSize: 3), PrecisionStructure(blocks: 3, blockSize: 2),
                                              PrecisionStructure(blocks: 1, blockSize: 4)]

public let structuredRuleCases: [RuleCase] = testedStructures.flatMap { s -> [RuleCase] in
    let n = s.latentSize, m = s.offDiagonalCount, c = s.blockSize, rows = 3
    let latent = (rows: rows, cols: n, range: -1.0...1.0, constant: false)
    let logVariance = (rows: rows, cols: n, range: -1.0...1.0, constant: false)
    let offDiagonal = (rows: rows, cols: m, range: -0.7...0.7, constant: false)
    return [
        RuleCase(description: "structured sample, \(s)",
                 inputs: [latent, logVariance, offDiagonal, (rows: rows, cols: n, range: -2.0...2.0, constant: true)],
                 tape: { tape, x in try tape.structuredGaussianSample(s, mean: x[0], logVariance: x[1], offDiagonal: x[2], noise: x[3]) },
                 reference: { x in
                     (0..<rows).flatMap { r in
                         DenseGaussian.sample(Reference.rows(x[0], n)[r], Reference.rows(x[1], n)[r], Reference.rows(x[2], m)[r], Reference.rows(x[3], n)[r], c)
                     }
                 }),
        RuleCase(description: "structured KL, \(s)", inputs: [latent, logVariance, offDiagonal],
                 tape: { tape, x in try tape.structuredGaussianKL(s, mean: x[0], logVariance: x[1], offDiagonal: x[2]) },
                 reference: { x in (0..<rows).map { r in DenseGaussian.kl(Reference.rows(x[0], n)[r], Reference.rows(x[1], n)[r], Reference.rows(x[2], m)[r], c) } }),
        RuleCase(description: "structured log-density, \(s)",
                 inputs: [(rows: rows, cols: n, range: -2.0...2.0, constant: false), latent, logVariance, offDiagonal],
                 tape: { tape, x in try tape.structuredGaussianLogDensity(s, x[0], mean: x[1], logVariance: x[2], offDiagonal: x[3]) },
                 reference: { x in
                     (0..<rows).map { r in
                         DenseGaussian.logDensity(Reference.rows(x[0], n)[r], Reference.rows(x[1], n)[r], Reference.rows(x[2], n)[r], Reference.rows(x[3], m)[r], c)
                     }
                 }),
    ]
}

/// Element `i` of the sample plus the row's KL of the gaussianConditionalPosterior rule case (3 rows, 4 latents).
private func conditionalPosteriorReference(_ x: [[Double]], element i: Int) -> Double {
    let r: Int = i / 4, j: Int = i % 4
    let q: [Double] = Array(x[0][(r * 8)..<(r * 8 + 8)]), p: [Double] = Array(x[1][(r * 8)..<(r * 8 + 8)])
    let kl: Double = Reference.gaussianConditionalKL(Array(q[0..<4]), Array(q[4..<8]), Array(p[0..<4]), Array(p[4..<8]))
    let z: Double = q[j] + Foundation.exp(0.5 * q[4 + j]) * x[2][i]
    return z + kl
}

/// Element `i` of the concatColumns rule case: rows of 2 then 3 columns side by side.
private func concatReference(_ x: [[Double]], element i: Int) -> Double {
    let r: Int = i / 5, c: Int = i % 5
    return c < 2 ? x[0][r * 2 + c] : x[1][r * 3 + c - 2]
}
