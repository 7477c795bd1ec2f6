// Reverse-mode gradients: the tape records each op whose inputs need a gradient; `backward` walks it in reverse
// and applies the op's vector-Jacobian rule (VJP.swift). Gradients are never updated in place, so a gradient
// tensor shared by two inputs (as `add` produces) cannot be corrupted by a later accumulation.

import Foundation

/// How an op's output was made: the inputs its gradient rule needs. One case per differentiable op.
enum Rule {
    case matmul(Tensor, Tensor, transposeA: Bool, transposeB: Bool)
    /// A dense layer `f(x W + b)`, fused: `preActivation` is `x W + b` (the output itself when `activation` is nil).
    case dense(x: Tensor, weight: Tensor, bias: Tensor, activation: UnaryOp?, preActivation: Tensor)
    /// The ELBO's loss `klScale Σ kl - likelihoodScale Σ ll`.
    case elboLoss(logLikelihood: Tensor, kl: Tensor, klScale: Float, likelihoodScale: Float)
    /// Several outputs: column blocks of `x` of the given widths, left to right.
    case splitColumns(Tensor)
    /// Two outputs, the sample and the per-row KL of a diagonal Gaussian posterior given by its joined heads.
    case gaussianPosterior(heads: Tensor, noise: Tensor, priorLogVariance: Float)
    /// Column blocks side by side (Tape+ContinuousLayers.swift).
    case concatColumns([Tensor])
    /// Two outputs, the sample and the per-row KL of a continuous layer's conditional Gaussians (Tape+ContinuousLayers.swift).
    case gaussianConditionalPosterior(posteriorHeads: Tensor, priorHeads: Tensor, noise: Tensor)
    case unary(UnaryOp, Tensor)
    case binary(BinaryOp, Tensor, Tensor, Broadcast)
    case affine(Tensor, alpha: Float)
    case sum(Tensor, ReductionAxis)
    case sumAll(Tensor)
    case logSumExp(Tensor, ReductionAxis)
    case gaussianSample(mean: Tensor, logVariance: Tensor, noise: Tensor)
    case gaussianKL(mean: Tensor, logVariance: Tensor, priorLogVariance: Float)
    case reshape(Tensor)
    case logSoftmax(Tensor)
    case gammaSample(Tensor)
    case bernoulliLogLikelihood(logits: Tensor, targets: Tensor)
    case multinomialLogLikelihood(logits: Tensor, counts: Tensor, logNormaliser: Tensor)
    case gaussianLogDensity(x: Tensor, mean: Tensor, logVariance: Tensor)
    /// The fused latent-family and batch-norm ops (Tape+FamilyOps.swift).
    case family(FamilyRule)
    /// The chain and grid Gaussian posteriors (Tape+StructuredGaussian.swift).
    case structuredGaussian(StructuredGaussianRule)
    /// The discrete VAE's ops (Tape+DiscreteVAE.swift).
    case discrete(DiscreteRule)
}

/// A recording of differentiable ops on one backend.
///
/// ```swift
/// let tape = Tape(pool: pool)
/// tape.watch(weight)
/// let loss = try tape.sumAll(tape.unary(.softplus, tape.matmul(x, weight)))
/// try tape.backward(from: loss)
/// let dW = tape.gradient(of: weight)
/// ```
/// `reset()` drops the recording and every intermediate tensor (their buffers go back to the pool).
public final class Tape {
    public let pool: BufferPool
    public var backend: any Backend { pool.backend }

    struct Entry {
        let rule: Rule
        /// One tensor for most rules; the rules of multi-output ops list each output.
        let outputs: [Tensor]
        /// The watched tensors (parameters) among the op's inputs: its rule is the last to add to their gradients when
        /// it is the first op that uses them.
        let parameters: [Tensor]
    }

    private var entries: [Entry] = []
    private var watched: Set<ObjectIdentifier> = []
    private var tracked: Set<ObjectIdentifier> = []
    private var gradients: [ObjectIdentifier: Tensor] = [:]
    /// false: the training step's fused ops (dense epilogues, the ELBO's loss chain, the joined-heads Gaussian posterior)
    /// run as the primitive ops they replace. The reference the fused step is tested against; nothing else sets it.
    public var fusesOps = true

    public init(pool: BufferPool) { self.pool = pool }

    /// Asks for the gradient of `tensor` (a parameter) in every later ``backward(from:seed:whenFinal:)``.
    public func watch(_ tensor: Tensor) {
        watched.insert(ObjectIdentifier(tensor))
        tracked.insert(ObjectIdentifier(tensor))
    }

    func needsGradient(_ t: Tensor) -> Bool { tracked.contains(ObjectIdentifier(t)) }

    /// Records `rule` for `output` if any of `inputs` needs a gradient.
    func record(_ rule: Rule, _ output: Tensor, inputs: [Tensor]) -> Tensor {
        record(rule, outputs: [output], inputs: inputs)[0]
    }

    /// Records `rule` for an op with several outputs; its gradient rule runs once, with every output's gradient.
    func record(_ rule: Rule, outputs: [Tensor], inputs: [Tensor]) -> [Tensor] {
        if inputs.contains(where: needsGradient) {
            for o in outputs { tracked.insert(ObjectIdentifier(o)) }
            entries.append(Entry(rule: rule, outputs: outputs, parameters: inputs.filter { watched.contains(ObjectIdentifier($0)) }))
        }
        return outputs
    }

    /// The gradient of the last ``backward(from:seed:whenFinal:)``'s output with respect to `tensor`, if it reached it.
    public func gradient(of tensor: Tensor) -> Tensor? { gradients[ObjectIdentifier(tensor)] }

    /// Forgets the recorded ops, their outputs and the gradients; watched tensors stay watched.
    public func reset() {
        entries.removeAll(keepingCapacity: true)
        gradients.removeAll(keepingCapacity: true)
        tracked = watched
    }

    /// Adds `g` to the gradient of `t` (into a fresh tensor if one is already there).
    func accumulate(_ t: Tensor, _ g: Tensor) throws {
        guard needsGradient(t) else { return }
        let key = ObjectIdentifier(t)
        if handedOver.contains(key) {
            // a rule that reaches a parameter it was not recorded with: the gradient already handed over would be short
            throw BackendError.invalidArgument("internal error: a gradient reached a parameter after backward(from:seed:whenFinal:) had handed it over as final")
        }
        guard let existing = gradients[key] else {
            gradients[key] = g
            return
        }
        let sum = try pool.tensor(rows: t.rows, cols: t.cols)
        try backend.binary(.add, existing.buffer, g.buffer, broadcast: .none, rows: 1, cols: t.count, into: sum.buffer)
        gradients[key] = sum
    }

    /// Parameters whose gradients `backward`'s `whenFinal` has been given.
    private var handedOver: Set<ObjectIdentifier> = []

    /// Back-propagates from `output` with seed gradient `seed` (ones for a scalar loss). `whenFinal` is called with each
    /// watched tensor whose gradient is complete, as soon as it is: after the rule of the first recorded op that used
    /// it (no earlier rule can add to it), so that data-parallel training can send gradients while the rest of the
    /// backward pass runs. Watched tensors the pass did not reach are not reported.
    public func backward(from output: Tensor, seed: Float = 1, whenFinal: ((_ parameter: Tensor, _ gradient: Tensor) throws -> Void)? = nil) throws {
        gradients.removeAll(keepingCapacity: true)
        handedOver.removeAll(keepingCapacity: true)
        // for each entry, the parameters it is the first user of
        var firstUse: [Int: [Tensor]] = [:]
        if whenFinal != nil {
            var seen: Set<ObjectIdentifier> = []
            for (i, entry) in entries.enumerated() {
                for p in entry.parameters where seen.insert(ObjectIdentifier(p)).inserted { firstUse[i, default: []].append(p) }
            }
        }
        func handOver(after index: Int) throws {
            guard let whenFinal, let finished = firstUse[index] else { return }
            for p in finished {
                guard let g = gradients[ObjectIdentifier(p)] else { continue }
                handedOver.insert(ObjectIdentifier(p))
                try whenFinal(p, g)
            }
        }
        var pending = entries[...]
        if let last = entries.last, last.outputs.count == 1, last.outputs[0] === output,
           case .elboLoss(let ll, let kl, let klScale, let likelihoodScale) = last.rule {
            // the ELBO's loss takes the seed as a number: no launch to fill a 1 × 1 gradient
            try elboLossBackward(ll, kl, klScale: klScale, likelihoodScale: likelihoodScale, gradient: nil, seed: seed)
            pending = pending.dropLast()
            try handOver(after: entries.count - 1)
        } else {
            let start = try pool.tensor(rows: output.rows, cols: output.cols)
            try backend.fill(start.buffer, with: seed, offset: 0, count: start.count)
            gradients[ObjectIdentifier(output)] = start
        }
        for (index, entry) in zip(pending.indices, pending).reversed() {
            let g = entry.outputs.map { gradients[ObjectIdentifier($0)] }
            if entry.outputs.count == 1 {
                guard let g = g[0] else { continue }
                try applyRule(entry.rule, output: entry.outputs[0], gradient: g)
            } else {
                guard g.contains(where: { $0 != nil }) else { continue }
                try applyMultiOutputRule(entry.rule, outputs: entry.outputs, gradients: g)
            }
            for o in entry.outputs where !watched.contains(ObjectIdentifier(o)) { gradients[ObjectIdentifier(o)] = nil }
            try handOver(after: index)
        }
    }
}
