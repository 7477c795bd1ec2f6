// The backend boundary: buffers and a closed set of ops. No tensors, no gradients, no models.

/// Which implementation a backend is.
public enum BackendKind: String, CaseIterable, Sendable {
    case cpu, opencl
}

/// A compute backend: allocates buffers and runs the closed op set on them.
///
/// All matrices are row-major and dense. Shapes are arguments of each call; every call checks that its
/// buffers are large enough and of the right element type and throws ``BackendError`` otherwise, so a
/// wrong shape never reaches a kernel. Calls are ordered: an op sees the results of every op issued
/// before it on the same backend. ``download(_:offset:count:)`` waits for them.
public protocol Backend: AnyObject, Sendable {
    var kind: BackendKind { get }
    /// A human-readable description of the device (platform, device name, driver).
    var deviceDescription: String { get }

    // MARK: memory
    func allocate(count: Int, dtype: DType) throws -> Buffer
    func upload(_ values: [Float], to buffer: Buffer, offset: Int) throws
    func upload(_ values: [Int32], to buffer: Buffer, offset: Int) throws
    func download(_ buffer: Buffer, offset: Int, count: Int) throws -> [Float]
    func downloadInt32(_ buffer: Buffer, offset: Int, count: Int) throws -> [Int32]
    /// Starts copying `values` into `buffer` at `offset` and returns without waiting: the copy begins once the ops issued
    /// so far have finished, and may run while ops issued later compute (which therefore must not use that range of
    /// `buffer`). Ops issued after ``finishUpload(_:)`` of the returned upload see the values. `values` is copied at the
    /// call. For streaming data: the next chunk's upload overlaps the current chunk's steps.
    func startUpload(_ values: [Float], to buffer: Buffer, offset: Int) throws -> PendingUpload
    /// Makes every op issued from now on wait for `upload`, without waiting on the host.
    func finishUpload(_ upload: PendingUpload) throws
    /// Copies `count` elements.
    func copy(from source: Buffer, offset sourceOffset: Int, to destination: Buffer, offset destinationOffset: Int, count: Int) throws
    /// Copies a `rows × cols` block between matrices with the given row strides (in elements).
    func copyBlock(
        from source: Buffer, offset sourceOffset: Int, rowStride sourceStride: Int,
        to destination: Buffer, offset destinationOffset: Int, rowStride destinationStride: Int,
        rows: Int, cols: Int) throws
    func fill(_ buffer: Buffer, with value: Float, offset: Int, count: Int) throws

    // MARK: elementwise
    func unary(_ op: UnaryOp, _ x: Buffer, into y: Buffer, count: Int) throws
    /// `dx = dy * f'(x)` for the unary op `f`.
    func unaryBackward(_ op: UnaryOp, x: Buffer, gradient dy: Buffer, into dx: Buffer, count: Int) throws
    /// `c = a ∘ b` for a `rows × cols` matrix `a` and `b` laid out as `broadcast` says.
    func binary(_ op: BinaryOp, _ a: Buffer, _ b: Buffer, broadcast: Broadcast, rows: Int, cols: Int, into c: Buffer) throws
    /// `y = alpha * x + beta`.
    func affine(_ x: Buffer, alpha: Float, beta: Float, into y: Buffer, count: Int) throws

    // MARK: reductions
    func reduce(_ op: ReduceOp, _ x: Buffer, rows: Int, cols: Int, axis: ReductionAxis, into y: Buffer) throws
    func softmax(_ op: SoftmaxOp, _ x: Buffer, rows: Int, cols: Int, into y: Buffer) throws

    // MARK: linear algebra and indexing
    /// `C = alpha * op(A) op(B) + beta * C` with `op(A)` of shape `m × k`, `op(B)` of shape `k × n`, `C` of shape `m × n`,
    /// all row-major and dense (`A` is stored `k × m` when transposed, `B` is stored `n × k` when transposed).
    func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, _ a: Buffer, _ b: Buffer, beta: Float, _ c: Buffer) throws
    /// `y[i, :] = x[indices[indexOffset + i], :]` for `i < count`; an index outside `0..<rows` gives a row of NaN. With
    /// `binarizing`, each gathered value `p` then becomes 1 with probability `p`, else 0, drawn exactly as
    /// ``fillRandom(_:into:count:key:counter:streamOffset:probabilities:)`` draws ``RandomDistribution/bernoulli`` over `y` (one
    /// launch for a training step's minibatch instead of two), element `i` of `y` being element `streamOffset + i` of
    /// the stream.
    func gatherRows(_ x: Buffer, rows: Int, cols: Int, indices: Buffer, indexOffset: Int, count: Int,
                    binarizing: (key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int)?, into y: Buffer) throws
    /// The `k` smallest elements of each row of the `rows × cols` matrix `x`, in ascending order, into `values` and
    /// their column indices into `indices` (`int32`), both `rows × k`. The order is total: ties go to the lower
    /// column and NaN comes after every number, so both backends pick the same elements. Needs `1 <= k <= cols`.
    func smallestPerRow(_ x: Buffer, rows: Int, cols: Int, k: Int, intoValues values: Buffer, intoIndices indices: Buffer) throws

    // MARK: random
    /// Fills `count` elements from `distribution`: elements `streamOffset ..< streamOffset + count` of the stream in
    /// which element `j` comes from word `j % 4` of the Philox block at counter `counter + j / 4` (so a fill of a slice
    /// of rows draws what a fill of all of them draws there: how each rank of a data-parallel run draws its part of the
    /// global batch). `probabilities` (indexed like `y`) is required for ``RandomDistribution/bernoulli``.
    func fillRandom(
        _ distribution: RandomDistribution, into y: Buffer, count: Int,
        key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int, probabilities: Buffer?) throws
    /// Dropout's mask with keep probability `keep` in (0, 1]: element `i` is `1 / keep` when the uniform that
    /// ``fillRandom(_:into:count:key:counter:streamOffset:probabilities:)`` draws there for ``RandomDistribution/uniform``
    /// is below `keep`, else 0 (inverted dropout: the kept values are scaled so that the mean is unchanged).
    func fillDropoutMask(into y: Buffer, count: Int, keep: Float, key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int) throws
    /// Gamma(α_i, 1) variates by Marsaglia-Tsang (α < 1 boosted from α + 1 by u^(1/α)), clamped below at the smallest
    /// normal float. Element `i`'s attempt `a` uses the Philox block with counter `(streamOffset + i, a, counter.c0,
    /// counter.c1)`.
    func fillGamma(concentration alpha: Buffer, into y: Buffer, count: Int, key: PhiloxKey, counter: PhiloxCounter, streamOffset: Int) throws
    /// The implicit reparameterisation gradient (Figurnov et al. 2018): `dα = g · dx/dα` with
    /// `dx/dα = -(∂P(α, x)/∂α) / p(x; α)` for the regularised incomplete gamma P, by its power series.
    func gammaBackward(concentration alpha: Buffer, sample x: Buffer, gradient g: Buffer, into dAlpha: Buffer, count: Int) throws

    /// The raw Philox words, element `i` from word `i % 4` of block `counter + i / 4`, into an `int32` buffer.
    func fillRandomBits(into y: Buffer, count: Int, key: PhiloxKey, counter: PhiloxCounter) throws

    // MARK: distributions (fused, each with its backward form)
    /// `z = mean + exp(logVariance / 2) * noise`, elementwise.
    func gaussianSample(mean: Buffer, logVariance: Buffer, noise: Buffer, into z: Buffer, count: Int) throws
    /// `dLogVariance = dz * noise * exp(logVariance / 2) / 2` (the mean's gradient is `dz` itself).
    func gaussianSampleBackward(logVariance: Buffer, noise: Buffer, gradient dz: Buffer, into dLogVariance: Buffer, count: Int) throws
    /// Per row of `rows × cols`: `KL(N(mean, e^lv) ‖ N(0, e^plv)) = -1/2 Σ_j (1 + lv - plv - (mean² + e^lv) e^-plv)`, into
    /// `rows` values; `plv` is the prior's log-variance (0 for the standard normal).
    func gaussianKL(mean: Buffer, logVariance: Buffer, priorLogVariance: Float, rows: Int, cols: Int, into kl: Buffer) throws
    /// `dMean = g[r] mean e^-plv`, `dLogVariance = g[r] (e^(lv - plv) - 1) / 2` for the per-row gradient `g`.
    func gaussianKLBackward(
        mean: Buffer, logVariance: Buffer, priorLogVariance: Float, gradient g: Buffer, rows: Int, cols: Int,
        intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer) throws
    /// The diagonal Gaussian posterior from its joined heads `heads` (`rows × 2n`: each row the mean, then the
    /// log-variance), in one pass: the sample `z = mean + e^(lv/2) noise` (`rows × n`) and, per row, the KL of
    /// ``gaussianKL(mean:logVariance:priorLogVariance:rows:cols:into:)``. A training step's encoder ends in one GEMM.
    func gaussianPosterior(heads: Buffer, noise: Buffer, priorLogVariance: Float, rows: Int, latent n: Int, intoSample z: Buffer,
                           intoKL kl: Buffer) throws
    /// Its backward form: the heads' gradient (`rows × 2n`) from the sample's gradient `dz` and the KL's per-row gradient `g`,
    /// either of which may be nil (zero): `dMean = g mean e^-plv + dz`, `dLogVariance = g (e^(lv - plv) - 1)/2 + dz noise e^(lv/2)/2`.
    func gaussianPosteriorBackward(heads: Buffer, noise: Buffer, priorLogVariance: Float, sampleGradient dz: Buffer?, klGradient g: Buffer?,
                                   rows: Int, latent n: Int, intoHeads dHeads: Buffer) throws
    /// A continuous latent layer's conditional Gaussians, each given by joined heads (`rows × 2n`: the mean, then the
    /// log-variance): the sample `z = μq + e^(lvq/2) noise` of the posterior `q` (`rows × n`) and, per row, the closed-form
    /// `KL(N(μq, e^lvq) ‖ N(μp, e^lvp)) = 1/2 Σ_j (lvp − lvq + (e^lvq + (μq − μp)²) e^-lvp − 1)` to the prior `p`, in one pass.
    func gaussianConditionalPosterior(posteriorHeads: Buffer, priorHeads: Buffer, noise: Buffer, rows: Int, latent n: Int,
                                      intoSample z: Buffer, intoKL kl: Buffer) throws
    /// Its backward form: both heads' gradients from the sample's gradient `dz` and the KL's per-row gradient `g` (either
    /// may be nil: zero). With d = μq − μp and v = e^(lvq − lvp): `dμq = g d e^-lvp + dz`, `dμp = −g d e^-lvp`,
    /// `dlvq = g (v − 1)/2 + dz noise e^(lvq/2)/2`, `dlvp = g (1 − v − d² e^-lvp)/2`.
    func gaussianConditionalPosteriorBackward(posteriorHeads: Buffer, priorHeads: Buffer, noise: Buffer, sampleGradient dz: Buffer?,
                                              klGradient g: Buffer?, rows: Int, latent n: Int, intoPosteriorHeads dq: Buffer,
                                              intoPriorHeads dp: Buffer) throws
    /// Per row: `Σ_j x l - softplus(l)`, the log-likelihood of binary (or [0,1]) targets `x` under logits `l`.
    func bernoulliLogLikelihood(logits: Buffer, targets: Buffer, rows: Int, cols: Int, into ll: Buffer) throws
    /// `dLogits = g[r] (x - σ(l))`.
    func bernoulliLogLikelihoodBackward(logits: Buffer, targets: Buffer, gradient g: Buffer, rows: Int, cols: Int, into dLogits: Buffer) throws
    /// Per row: `Σ_j c_j (l_j − z)` with `z = log Σ_j e^(l_j)`, the log-probability of the bag of words `counts` under
    /// softmax(`logits`) without the multinomial coefficient; `z` goes to `logNormaliser` (`rows`) for the backward form.
    func multinomialLogLikelihood(logits: Buffer, counts: Buffer, rows: Int, cols: Int, into ll: Buffer, logNormaliser: Buffer) throws
    /// `dLogits = g[r] (c − N_r e^(l − z_r))`, `N_r = Σ_j c_rj`, from the forward form's `logNormaliser`.
    func multinomialLogLikelihoodBackward(logits: Buffer, counts: Buffer, logNormaliser: Buffer, gradient g: Buffer, rows: Int, cols: Int,
                                          into dLogits: Buffer) throws
    /// Per row: `Σ_j log N(x; mean, e^logVariance) = -1/2 Σ_j (log 2π + lv + (x - mean)² e^-lv)`.
    func gaussianLogDensity(_ x: Buffer, mean: Buffer, logVariance: Buffer, rows: Int, cols: Int, into lp: Buffer) throws
    /// The gradients of ``gaussianLogDensity(_:mean:logVariance:rows:cols:into:)`` with respect to all three arguments.
    func gaussianLogDensityBackward(
        _ x: Buffer, mean: Buffer, logVariance: Buffer, gradient g: Buffer, rows: Int, cols: Int,
        intoX dx: Buffer, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer) throws

    // MARK: latent families (fused, each with its backward form; Kernels/LatentFamilies.swift)
    // Simplex-valued latents are rows of contiguous segments: `groups` categoricals of `categories` classes each
    // (Concrete), or one segment of `components` (Dirichlet). Per-row outputs sum over a row's segments.

    /// ExpConcrete sample of each of `segments` categoricals: `y = log-softmax((logits + gumbel) / temperature)`.
    func concreteSample(logits: Buffer, gumbel: Buffer, temperature: Float, segments: Int, categories: Int, into y: Buffer) throws
    /// `dLogits = (dy - e^y Σ dy) / temperature` per categorical, from the sample `y`.
    func concreteSampleBackward(sample y: Buffer, gradient dy: Buffer, temperature: Float, segments: Int, categories: Int,
                                into dLogits: Buffer) throws
    /// Per row: `Σ_groups log Γ(K) + (K-1) log λ + Σ_k t_k - K logsumexp_k t_k` with `t = logits - λ y` (nil logits:
    /// uniform locations, `t = -λ y`), the ExpConcrete log-density of Maddison et al.
    func concreteLogDensity(sample y: Buffer, logits: Buffer?, temperature: Float, rows: Int, groups: Int, categories: Int,
                            into lp: Buffer) throws
    /// With `w = softmax(t)`: `dLogits = g (1 - K w)`, `dy = -λ g (1 - K w)`.
    func concreteLogDensityBackward(sample y: Buffer, logits: Buffer?, temperature: Float, gradient g: Buffer, rows: Int,
                                    groups: Int, categories: Int, intoSample dy: Buffer, intoLogits dLogits: Buffer?) throws
    /// Per row: `Σ_groups Σ_k π_k log(K π_k)` with `π = softmax(logits)`, the KL of the categoricals to uniform ones.
    func categoricalKL(logits: Buffer, rows: Int, groups: Int, categories: Int, into kl: Buffer) throws
    /// `dLogits = g π (log(K π) - KL_group)`.
    func categoricalKLBackward(logits: Buffer, gradient g: Buffer, rows: Int, groups: Int, categories: Int, into dLogits: Buffer) throws
    /// `y = mean + e^(lv/2) noise` and `z = σ(y)`, elementwise, in one pass.
    func logitNormalSample(mean: Buffer, logVariance: Buffer, noise: Buffer, intoLogit y: Buffer, intoSample z: Buffer, count: Int) throws
    /// The gradient through `z = σ(y)`: `dMean = dz σ(y) σ(-y)`, `dLogVariance = dMean noise e^(lv/2) / 2`.
    func logitNormalSampleBackward(logVariance: Buffer, noise: Buffer, logit y: Buffer, gradient dz: Buffer, count: Int,
                                   intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer) throws
    /// Per row: the logit-normal log-density of `z = σ(y)`, `Σ_j log N(y; mean, e^lv) + softplus(y) + softplus(-y)`
    /// (the Jacobian `-log z(1-z)` in logit space, finite however close z is to 0 or 1).
    func logitNormalLogDensity(logit y: Buffer, mean: Buffer, logVariance: Buffer, rows: Int, cols: Int, into lp: Buffer) throws
    /// Its gradients with respect to all three arguments.
    func logitNormalLogDensityBackward(logit y: Buffer, mean: Buffer, logVariance: Buffer, gradient g: Buffer, rows: Int, cols: Int,
                                       intoLogit dy: Buffer, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer) throws
    /// Logits `y` of a logistic-normal approximation of Dir(α) per row (see ``LogisticNormal``) from standard normal noise.
    func dirichletSample(_ approximation: LogisticNormal, alpha: Buffer, noise: Buffer, rows: Int, components: Int, into y: Buffer) throws
    /// `dAlpha` from the gradient `dy` of the sampled logits.
    func dirichletSampleBackward(_ approximation: LogisticNormal, alpha: Buffer, noise: Buffer, gradient dy: Buffer, rows: Int,
                                 components: Int, into dAlpha: Buffer) throws
    /// Per row: the log-density of logits `y` under the approximation's Gaussian for concentrations α.
    func dirichletApproximationLogDensity(_ approximation: LogisticNormal, logits y: Buffer, alpha: Buffer, rows: Int, components: Int,
                                          into lp: Buffer) throws
    /// Its gradients with respect to the logits and to α.
    func dirichletApproximationLogDensityBackward(_ approximation: LogisticNormal, logits y: Buffer, alpha: Buffer, gradient g: Buffer,
                                                  rows: Int, components: Int, intoLogits dy: Buffer, intoAlpha dAlpha: Buffer) throws
    /// Per row: `KL(Dir(α) ‖ Dir(β·1)) = lgamma(α₀) - lgamma(Kβ) - Σ lgamma(α_k) + K lgamma(β) + Σ (α_k - β)(ψ(α_k) - ψ(α₀))`.
    func dirichletKL(alpha: Buffer, priorConcentration beta: Float, rows: Int, components: Int, into kl: Buffer) throws
    /// `dα_k = g ((α_k - β) ψ₁(α_k) - (α₀ - Kβ) ψ₁(α₀))`.
    func dirichletKLBackward(alpha: Buffer, priorConcentration beta: Float, gradient g: Buffer, rows: Int, components: Int,
                             into dAlpha: Buffer) throws
    /// Per row: `log Dir(z; α) = lgamma(α₀) - Σ lgamma(α_k) + Σ (α_k - 1) log z_k`.
    func dirichletLogDensity(_ z: Buffer, alpha: Buffer, rows: Int, components: Int, into lp: Buffer) throws
    /// `dz = g (α - 1) / z`, `dα = g (ψ(α₀) - ψ(α) + log z)`.
    func dirichletLogDensityBackward(_ z: Buffer, alpha: Buffer, gradient g: Buffer, rows: Int, components: Int,
                                     intoSample dz: Buffer, intoAlpha dAlpha: Buffer) throws

    // MARK: structured Gaussian posteriors (fused; Kernels/StructuredGaussian.swift)
    // q(z|x) = N(mean, P⁻¹) with P = L Lᵀ, L lower block-bidiagonal as `structure` says (``PrecisionStructure``). Per row of
    // a batch: `mean` and `logVariance` hold n = structure.latentSize values, `offDiagonal` the structure.offDiagonalCount
    // strictly-lower non-zeros of L row by row (each row's columns in order). L's diagonal is `exp(-logVariance / 2)`: with
    // zero off-diagonals `logVariance` is the diagonal Gaussian's. One work-item per row.

    /// `z = mean + v` with `Lᵀ v = noise` (back substitution, O(n C)), so that Cov(v) = P⁻¹.
    func structuredGaussianSample(_ structure: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer, noise: Buffer,
                                  rows: Int, into z: Buffer) throws
    /// With `w = L⁻¹ dz`: `dL_aj = -v_a w_j` on L's pattern, through the diagonal's exponential into `dLogVariance` (the mean's
    /// gradient is `dz` itself).
    func structuredGaussianSampleBackward(_ structure: PrecisionStructure, logVariance: Buffer, offDiagonal: Buffer, noise: Buffer,
                                          gradient dz: Buffer, rows: Int, intoLogVariance dLogVariance: Buffer,
                                          intoOffDiagonal dOffDiagonal: Buffer) throws
    /// Per row: `KL(N(mean, P⁻¹) ‖ N(0, I)) = ½ (tr P⁻¹ + meanᵀmean - n - Σ logVariance)`, tr P⁻¹ = ‖L⁻¹‖²_F by the Gram
    /// recurrence of L⁻¹'s block rows, O(n C²).
    func structuredGaussianKL(_ structure: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer, rows: Int,
                              into kl: Buffer) throws
    /// Its gradients for the per-row gradient `g`, by reverse-mode through the recurrence.
    func structuredGaussianKLBackward(_ structure: PrecisionStructure, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer,
                                      gradient g: Buffer, rows: Int, intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer,
                                      intoOffDiagonal dOffDiagonal: Buffer) throws
    /// Per row: `log N(z; mean, P⁻¹) = -½ (n log 2π + Σ logVariance + ‖Lᵀ(z - mean)‖²)`.
    func structuredGaussianLogDensity(_ structure: PrecisionStructure, _ z: Buffer, mean: Buffer, logVariance: Buffer, offDiagonal: Buffer,
                                      rows: Int, into lp: Buffer) throws
    /// Its gradients with respect to all four arguments.
    func structuredGaussianLogDensityBackward(_ structure: PrecisionStructure, _ z: Buffer, mean: Buffer, logVariance: Buffer,
                                              offDiagonal: Buffer, gradient g: Buffer, rows: Int, intoSample dz: Buffer,
                                              intoMean dMean: Buffer, intoLogVariance dLogVariance: Buffer,
                                              intoOffDiagonal dOffDiagonal: Buffer) throws

    // MARK: batch normalisation (fused; Kernels/Normalisation.swift)
    /// Per column of `rows × cols`: normalise by the batch mean and biased variance, then `y = scale x̂ + shift`; saves the
    /// mean and `1/√(var + ε)` for the backward pass and updates the running statistics as PyTorch does
    /// (`running ← (1 - momentum) running + momentum batch`, the variance unbiased).
    func batchNormTraining(_ x: Buffer, scale: Buffer, shift: Buffer, rows: Int, cols: Int, epsilon: Float, momentum: Float,
                           runningMean: Buffer, runningVariance: Buffer, into y: Buffer, batchMean: Buffer, inverseDeviation: Buffer) throws
    /// `y = scale (x - running mean) / √(running variance + ε) + shift`.
    func batchNormInference(_ x: Buffer, scale: Buffer, shift: Buffer, runningMean: Buffer, runningVariance: Buffer, rows: Int, cols: Int,
                            epsilon: Float, into y: Buffer) throws
    /// `dShift = Σ dy`, `dScale = Σ dy x̂`, `dx = scale/σ (dy - mean(dy) - x̂ mean(dy x̂))` per column.
    func batchNormBackward(_ x: Buffer, scale: Buffer, batchMean: Buffer, inverseDeviation: Buffer, gradient dy: Buffer, rows: Int, cols: Int,
                           intoInput dx: Buffer, intoScale dScale: Buffer, intoShift dShift: Buffer) throws

    // MARK: discrete VAE (fused; Kernels/DiscreteVAE.swift)
    // Spike-and-exponential smoothing r(ζ|z) of binary latents and the bipartite RBM prior of Rolfe's discrete VAE. RBM
    // states are rows of `shape.units` values, the A side first; `W` is `shape.a × shape.b`, `b` holds `shape.units`.

    /// `ζ = F⁻¹(ρ; q)`, `q = σ(logits)`, elementwise: `ζ = 0` (and `z = 0`) when `ρ ≤ 1 - q`, else
    /// `ζ = log(1 + (e^β - 1)(ρ - (1 - q))/q)/β` and `z = 1`. Needs `0 < β ≤` ``SpikeAndExponential/maximumBeta``.
    func spikeAndExponentialSample(logits: Buffer, uniforms rho: Buffer, beta: Float, count: Int, intoSample zeta: Buffer,
                                   intoIndicator z: Buffer) throws
    /// `dLogits = dζ · ∂ζ/∂logit` (zero on the spike).
    func spikeAndExponentialSampleBackward(logits: Buffer, uniforms rho: Buffer, beta: Float, gradient dZeta: Buffer, count: Int,
                                           into dLogits: Buffer) throws
    /// Rolfe's gradient of the binary `z` through `q`: `∂z/∂q := (1 - z)/(1 - q)`, so `dLogits = dz (1 - z) σ(logits)`.
    func indicatorBackward(logits: Buffer, indicator z: Buffer, gradient dz: Buffer, count: Int, into dLogits: Buffer) throws
    /// One block-Gibbs half-step in place on `chains` states: the units of `side` are redrawn as Bernoulli(σ(t (z_other·W + b)))
    /// at inverse temperature `t`, unit `i` (chain-major over that side) from word `i % 4` of the Philox block at `counter + i/4`.
    /// The conditional probabilities go to `probabilities` (`chains × units of side`).
    func rbmGibbsHalfStep(state: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, chains: Int, side: RBMSide,
                          inverseTemperature t: Float, key: PhiloxKey, counter: PhiloxCounter, intoProbabilities probabilities: Buffer) throws
    /// Per row: `z_Aᵀ W z_B + bᵀ z`, the negative energy (`z` may hold probabilities).
    func rbmEnergy(_ z: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, rows: Int, into e: Buffer) throws
    /// The gradients of ``rbmEnergy(_:weights:bias:shape:rows:into:)`` for the per-row gradient `g`: `dz` (`rows × units`),
    /// and `dW = Σ_r g_r z_A z_Bᵀ`, `db = Σ_r g_r z_r` when those buffers are given.
    func rbmEnergyBackward(_ z: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, rows: Int, gradient g: Buffer,
                           intoState dz: Buffer?, intoWeights dW: Buffer?, intoBias db: Buffer?) throws
    /// Annealed importance sampling with the B side summed out: `logw[r] += log p*_to(z_A) - log p*_from(z_A)` where
    /// `log p*_t(z_A) = t b_Aᵀ z_A + Σ_j softplus(t (z_Aᵀ W + b_B)_j)`, for the A units of each chain's state.
    func rbmFreeEnergyIncrement(state: Buffer, weights: Buffer, bias: Buffer, shape: RBMShape, chains: Int, from: Float, to: Float,
                                accumulatingInto logWeights: Buffer) throws

    // MARK: fused training step (Kernels/Training.swift)
    /// The epilogue of a dense layer's GEMM: `a += bias` (a `1 × cols` row) in place, then `y = f(a)` for `activation`, one of
    /// ``UnaryOp/denseActivations`` (nil: no activation and `y` is not written; the layer's output is `a`).
    func biasActivation(_ activation: UnaryOp?, preActivation a: Buffer, bias: Buffer, rows: Int, cols: Int, into y: Buffer) throws
    /// Its backward form: `da = dy f'(a)` and `dBias = Σ_rows da`. With a nil activation `da` is `dy` itself and not written.
    func biasActivationBackward(_ activation: UnaryOp?, preActivation a: Buffer, gradient dy: Buffer, rows: Int, cols: Int,
                                intoInput da: Buffer?, intoBias dBias: Buffer) throws
    /// A dense layer's forward pass: `a = x · weight + bias` (`x` is `rows × inputs`, `weight` `inputs × outputs`), then
    /// `y = f(a)` as ``biasActivation(_:preActivation:bias:rows:cols:into:)`` does. The default is that GEMM (beta 0)
    /// and that epilogue; a backend may order the work otherwise (the CPU starts C as the bias rows and adds the
    /// product, beta 1), so `a` may differ from the default's in the last bit where the GEMM splits its inner sum.
    func dense(_ x: Buffer, weight: Buffer, bias: Buffer, activation: UnaryOp?, rows: Int, inputs: Int, outputs: Int,
               preActivation a: Buffer, into y: Buffer) throws
    /// The ELBO's loss chain in one pass: with `L = Σ logLikelihood` and `K = Σ kl` (all elements of each),
    /// `loss = klScale K - likelihoodScale L` and `summary = (L - K, K)` (the bound and the KL, both batch sums).
    func elboLoss(logLikelihood ll: Buffer, count llCount: Int, kl: Buffer, count klCount: Int, klScale: Float, likelihoodScale: Float,
                  intoLoss loss: Buffer, intoSummary summary: Buffer) throws
    /// Its backward form for the loss gradient `g` (one element, on the device; nil: `seed`, the gradient of a backward pass
    /// that starts at this loss, so no launch fills it): `dll = likelihoodScale · (-g)`, `dkl = klScale · g`.
    func elboLossBackward(gradient g: Buffer?, seed: Float, llCount: Int, klCount: Int, klScale: Float, likelihoodScale: Float,
                          intoLogLikelihood dll: Buffer, intoKL dkl: Buffer) throws

    // MARK: optimisers
    /// One fused Adam step at step number `step >= 1` (bias correction as in PyTorch) of every tensor in `tensors`: a
    /// training step's whole update in one launch for up to ``AdamTensors/perLaunch`` tensors (PyTorch's multi-tensor
    /// apply), each tensor in its own buffers.
    func adamStep(_ tensors: [AdamTensors], hyperparameters: AdamHyperparameters, step: Int) throws

    /// Waits until every issued op has finished.
    func synchronize() throws
}

extension Backend {
    public var name: String { kind.rawValue }

    public func upload(_ values: [Float], to buffer: Buffer) throws { try upload(values, to: buffer, offset: 0) }
    public func download(_ buffer: Buffer) throws -> [Float] { try download(buffer, offset: 0, count: buffer.count) }

    /// Allocates a float buffer holding `values`.
    public func buffer(_ values: [Float]) throws -> Buffer {
        let b = try allocate(count: values.count, dtype: .float32)
        try upload(values, to: b, offset: 0)
        return b
    }

    /// Allocates an int32 buffer holding `values`.
    public func buffer(_ values: [Int32]) throws -> Buffer {
        let b = try allocate(count: values.count, dtype: .int32)
        try upload(values, to: b, offset: 0)
        return b
    }

    /// `y[i, :] = x[indices[i], :]` for `i < count`; an index outside `0..<rows` gives a row of NaN.
    public func gatherRows(_ x: Buffer, rows: Int, cols: Int, indices: Buffer, count: Int, into y: Buffer) throws {
        try gatherRows(x, rows: rows, cols: cols, indices: indices, indexOffset: 0, count: count, binarizing: nil, into: y)
    }

    /// Checks the shared argument rules of ``gatherRows(_:rows:cols:indices:indexOffset:count:binarizing:into:)``.
    public func checkGather(_ x: Buffer, rows: Int, cols: Int, indices: Buffer, indexOffset: Int, count: Int, _ y: Buffer) throws {
        try require(rows >= 0 && cols >= 0 && count >= 0 && indexOffset >= 0, "gather: negative shape or offset")
        try x.check(holds: rows * cols, "gather source")
        try indices.check(holds: indexOffset + count, of: .int32, "gather indices")
        try y.check(holds: count * cols, "gather output")
    }

    public func dense(_ x: Buffer, weight: Buffer, bias: Buffer, activation: UnaryOp?, rows: Int, inputs: Int, outputs: Int,
                      preActivation a: Buffer, into y: Buffer) throws {
        try gemm(transposeA: false, transposeB: false, m: rows, n: outputs, k: inputs, alpha: 1, x, weight, beta: 0, a)
        try biasActivation(activation, preActivation: a, bias: bias, rows: rows, cols: outputs, into: y)
    }

    /// Checks the shared argument rules of ``biasActivation(_:preActivation:bias:rows:cols:into:)`` and its backward form.
    public func checkBiasActivation(_ activation: UnaryOp?, rows: Int, cols: Int, matrices: [(Buffer?, String)], bias: Buffer) throws {
        if let activation {
            try require(UnaryOp.denseActivations.contains(activation), "\(activation.rawValue) is not a dense-layer activation")
        }
        try checkRows(rows: rows, cols: cols, matrices: matrices.compactMap { b, role in b.map { ($0, role) } }, perRow: [])
        try bias.check(holds: cols, "bias")
    }

    /// Checks the shared argument rules of ``biasActivationBackward(_:preActivation:gradient:rows:cols:intoInput:intoBias:)``.
    public func checkBiasActivationBackward(_ activation: UnaryOp?, rows: Int, cols: Int, preActivation a: Buffer, gradient dy: Buffer,
                                            intoInput da: Buffer?, intoBias dBias: Buffer) throws {
        try require(activation == nil || da != nil, "bias-activation backward: an activation needs an input-gradient buffer")
        try checkBiasActivation(activation, rows: rows, cols: cols,
                                matrices: [(a, "pre-activation"), (dy, "gradient"), (activation == nil ? nil : da, "input gradient")], bias: dBias)
    }

    /// Checks the shared argument rules of ``elboLossBackward(gradient:seed:llCount:klCount:klScale:likelihoodScale:intoLogLikelihood:intoKL:)``.
    public func checkElboLossBackward(_ g: Buffer?, llCount: Int, klCount: Int, _ dll: Buffer, _ dkl: Buffer) throws {
        try g?.check(holds: 1, "loss gradient")
        try dll.check(holds: llCount, "log-likelihood gradient")
        try dkl.check(holds: klCount, "KL gradient")
    }

    /// Checks the shared argument rules of ``elboLoss(logLikelihood:count:kl:count:klScale:likelihoodScale:intoLoss:intoSummary:)``.
    public func checkElboLoss(_ ll: Buffer, _ llCount: Int, _ kl: Buffer, _ klCount: Int, loss: Buffer, summary: Buffer) throws {
        try require(llCount >= 0 && klCount >= 0, "ELBO loss: negative count")
        try ll.check(holds: llCount, "log-likelihood")
        try kl.check(holds: klCount, "KL")
        try loss.check(holds: 1, "loss")
        try summary.check(holds: 2, "loss summary")
    }

    /// Checks the shared argument rules of ``gaussianPosterior(heads:noise:priorLogVariance:rows:latent:intoSample:intoKL:)`` and its
    /// backward form.
    public func checkGaussianPosterior(heads: [(Buffer, String)], latent: [(Buffer?, String)], perRow: [(Buffer?, String)], rows: Int, n: Int) throws {
        try checkRows(rows: rows, cols: 2 * n, matrices: heads, perRow: [])
        try checkRows(rows: rows, cols: n, matrices: latent.compactMap { b, r in b.map { ($0, r) } },
                      perRow: perRow.compactMap { b, r in b.map { ($0, r) } })
    }

    /// Checks the shared argument rules of ``gaussianConditionalPosterior(posteriorHeads:priorHeads:noise:rows:latent:intoSample:intoKL:)``
    /// and its backward form: `heads` (and head gradients) `rows × 2n`, `latent` buffers `rows × n`, `perRow` ones `rows`.
    public func checkGaussianConditionalPosterior(posteriorHeads: Buffer, priorHeads: Buffer, headGradients: [(Buffer, String)] = [],
                                                  latent: [(Buffer?, String)], perRow: [(Buffer?, String)], rows: Int, n: Int) throws {
        try checkGaussianPosterior(heads: [(posteriorHeads, "posterior heads"), (priorHeads, "prior heads")] + headGradients, latent: latent,
                                   perRow: perRow, rows: rows, n: n)
    }

    /// One fused Adam step of one tensor.
    public func adamStep(parameters: Buffer, gradients: Buffer, firstMoment: Buffer, secondMoment: Buffer, count: Int,
                         hyperparameters: AdamHyperparameters, step: Int) throws {
        try adamStep([AdamTensors(parameters: parameters, gradients: gradients, firstMoment: firstMoment, secondMoment: secondMoment, count: count)],
                     hyperparameters: hyperparameters, step: step)
    }

    /// Checks the shared argument rules of ``adamStep(_:hyperparameters:step:)``.
    public func checkAdam(_ tensors: [AdamTensors], step: Int) throws {
        try require(step >= 1, "Adam step number must be >= 1, got \(step)")
        for t in tensors {
            for (b, role) in [(t.parameters, "Adam parameters"), (t.gradients, "Adam gradients"), (t.firstMoment, "Adam first moment"),
                              (t.secondMoment, "Adam second moment")] {
                try b.check(holds: t.count, role)
            }
        }
    }

    /// A fill from the start of the stream (`streamOffset` 0).
    public func fillRandom(
        _ distribution: RandomDistribution, into y: Buffer, count: Int, key: PhiloxKey, counter: PhiloxCounter, probabilities: Buffer?
    ) throws {
        try fillRandom(distribution, into: y, count: count, key: key, counter: counter, streamOffset: 0, probabilities: probabilities)
    }

    /// Gamma variates from element 0 of the stream (`streamOffset` 0).
    public func fillGamma(concentration alpha: Buffer, into y: Buffer, count: Int, key: PhiloxKey, counter: PhiloxCounter) throws {
        try fillGamma(concentration: alpha, into: y, count: count, key: key, counter: counter, streamOffset: 0)
    }

    /// Checks the shared argument rules of ``fillDropoutMask(into:count:keep:key:counter:streamOffset:)``.
    public func checkDropoutMask(_ y: Buffer, _ count: Int, keep: Float, streamOffset: Int) throws {
        try require(keep > 0 && keep <= 1, "dropout: the keep probability must lie in (0, 1], got \(keep)")
        try require(streamOffset >= 0, "random fill: negative stream offset \(streamOffset)")
        try y.check(holds: count, "dropout mask")
    }

    /// Checks the shared argument rules of ``fillRandom(_:into:count:key:counter:streamOffset:probabilities:)``.
    public func checkRandomFill(_ distribution: RandomDistribution, _ y: Buffer, _ count: Int, _ probabilities: Buffer?,
                                streamOffset: Int = 0) throws {
        try require(streamOffset >= 0, "random fill: negative stream offset \(streamOffset)")
        try y.check(holds: count, "random output")
        if distribution == .bernoulli {
            guard let p = probabilities else {
                throw BackendError.invalidArgument("bernoulli fill needs a probabilities buffer")
            }
            try p.check(holds: count, "bernoulli probabilities")
        }
    }

    /// Checks the shared argument rules of ``gemm(transposeA:transposeB:m:n:k:alpha:_:_:beta:_:)``, and reports the
    /// call to a ``GemmRecorder`` recording.
    public func checkGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, beta: Float,
                          _ a: Buffer, _ b: Buffer, _ c: Buffer) throws {
        try require(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension m=\(m) n=\(n) k=\(k)")
        try a.check(holds: m * k, "gemm A")
        try b.check(holds: k * n, "gemm B")
        try c.check(holds: m * n, "gemm C")
        GemmRecorder.note(GemmCall(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, accumulates: beta != 0))
    }

    /// Checks the shared argument rules of ``smallestPerRow(_:rows:cols:k:intoValues:intoIndices:)``.
    public func checkSmallestPerRow(_ x: Buffer, rows: Int, cols: Int, k: Int, _ values: Buffer, _ indices: Buffer) throws {
        try require(rows >= 0 && cols >= 0, "smallestPerRow: negative shape \(rows)x\(cols)")
        try require(k >= 1 && k <= cols, "smallestPerRow: k = \(k) must lie in 1...\(cols) (the row length)")
        try x.check(holds: rows * cols, "smallestPerRow input")
        try values.check(holds: rows * k, "smallestPerRow values")
        try indices.check(holds: rows * k, of: .int32, "smallestPerRow indices")
    }

    /// Checks a structured Gaussian op's buffers: `latent` hold `rows × n`, `offDiagonal` hold `rows × offDiagonalCount`,
    /// `perRow` hold `rows`.
    public func checkStructured(_ structure: PrecisionStructure, rows: Int, latent: [(Buffer, String)], offDiagonal: [(Buffer, String)],
                                perRow: [(Buffer, String)] = []) throws {
        try structure.check(latentSize: structure.latentSize)  // at least one block of at least one latent
        try checkRows(rows: rows, cols: structure.latentSize, matrices: latent, perRow: perRow)
        for (b, role) in offDiagonal { try b.check(holds: rows * structure.offDiagonalCount, role) }
    }

    /// Checks that each of `matrices` holds `rows × cols` floats and each of `perRow` holds `rows` floats.
    public func checkRows(rows: Int, cols: Int, matrices: [(Buffer, String)], perRow: [(Buffer, String)]) throws {
        try require(rows >= 0 && cols >= 0, "negative shape \(rows)x\(cols)")
        for (b, role) in matrices { try b.check(holds: rows * cols, role) }
        for (b, role) in perRow { try b.check(holds: rows, role) }
    }

    /// Checks the shared argument rules of ``concreteLogDensityBackward(sample:logits:temperature:gradient:rows:groups:categories:intoSample:intoLogits:)``.
    public func checkConcreteLogDensityBackward(sample y: Buffer, logits: Buffer?, gradient g: Buffer, rows: Int, groups: Int, categories k: Int,
                                                intoSample dy: Buffer, intoLogits dLogits: Buffer?) throws {
        try require((logits == nil) == (dLogits == nil), "concrete log-density backward: logits and their gradient go together")
        var matrices = [(y, "sample"), (dy, "sample gradient")]
        if let logits, let dLogits { matrices += [(logits, "logits"), (dLogits, "logits gradient")] }
        try checkRows(rows: rows, cols: groups * k, matrices: matrices, perRow: [(g, "log-density gradient")])
    }

    /// Checks the shared argument rules of ``copyBlock(from:offset:rowStride:to:offset:rowStride:rows:cols:)``.
    public func checkBlock(_ buffer: Buffer, offset: Int, stride: Int, rows: Int, cols: Int, _ role: String) throws {
        try require(rows >= 0 && cols >= 0 && offset >= 0, "\(role): negative block geometry")
        try require(cols <= stride || rows <= 1, "\(role): \(cols) columns do not fit a row stride of \(stride)")
        if rows > 0 && cols > 0 { try buffer.check(holds: offset + (rows - 1) * stride + cols, role) }
    }
}
