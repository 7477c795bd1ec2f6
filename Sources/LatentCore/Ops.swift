// The closed op set. Each backend switches over these enums exhaustively, so a new case that one
// backend forgets is a compile error, not a runtime surprise.

import RealModule

/// Elementwise functions of one argument, `y = f(x)`.
///
/// Every case also has a backward form, `dx = dy * f'(x)` (see ``Backend/unaryBackward(_:x:gradient:into:count:)``).
/// Domain conventions, fixed by the CPU backend and matched by OpenCL: any op on NaN gives NaN;
/// `log(0) = -inf`; `lgamma(0) = +inf`, `digamma(0) = -inf`, `trigamma(0) = +inf`; lgamma, digamma and
/// trigamma of a negative argument are NaN (the toolkit only needs them on the positive reals).
public enum UnaryOp: String, CaseIterable, Sendable {
    case neg, exp, log, log1p, expm1, sqrt, square, reciprocal, abs, tanh, sigmoid, softplus
    case logSigmoid = "log_sigmoid"
    case relu, elu, lgamma, digamma, trigamma

    /// The C-style name used in kernel names and on the command line (`log_sigmoid`).
    public var cName: String { rawValue }

    /// The smallest argument at which the op is a real number (its value there may be infinite), or nil where every
    /// argument is; below it the backends give NaN, which `latentkit op` refuses to print as a result.
    public var smallestArgument: Float? {
        switch self {
        case .log, .sqrt, .lgamma, .digamma, .trigamma: return 0
        case .log1p: return -1
        default: return nil
        }
    }

    /// The activations a dense layer's fused epilogue applies (``Backend/biasActivation(_:preActivation:bias:rows:cols:into:)``).
    public static let denseActivations: [UnaryOp] = [.softplus, .tanh, .relu, .elu, .sigmoid]
}

/// Elementwise functions of two arguments, `c = a ∘ b`, with `b` optionally broadcast.
public enum BinaryOp: String, CaseIterable, Sendable {
    case add, sub, mul, div, max, min
}

/// How the second operand of a binary op is laid out against a `rows × cols` first operand.
public enum Broadcast: Int32, CaseIterable, Sendable {
    /// `b` has the same `rows × cols` shape as `a`.
    case none = 0
    /// `b` is one row of `cols` values, reused for every row of `a`.
    case row = 1
    /// `b` is one column of `rows` values, reused for every column of `a`.
    case column = 2
    /// `b` is a single value.
    case scalar = 3

    /// Elements the second operand must hold.
    public func count(rows: Int, cols: Int) -> Int {
        switch self {
        case .none: return rows * cols
        case .row: return cols
        case .column: return rows
        case .scalar: return 1
        }
    }
}

/// Reductions over one axis of a row-major `rows × cols` matrix.
public enum ReduceOp: String, CaseIterable, Sendable {
    case sum, max
    case logSumExp = "logsumexp"
}

/// Which axis a reduction removes.
public enum ReductionAxis: String, CaseIterable, Sendable {
    /// One result per row (reduce across the columns of each row): `rows` outputs.
    case eachRow
    /// One result per column (reduce down each column): `cols` outputs.
    case eachColumn

    public func outputCount(rows: Int, cols: Int) -> Int { self == .eachRow ? rows : cols }
}

/// Normalisations of each row of a matrix.
public enum SoftmaxOp: String, CaseIterable, Sendable {
    case softmax
    case logSoftmax = "log_softmax"
}

/// Distributions the random fills draw from, all driven by Philox4x32-10.
public enum RandomDistribution: String, CaseIterable, Sendable {
    /// Uniform on the open interval (0, 1): `(k + 1/2) 2^-23` for the top 23 bits `k` of a Philox word.
    case uniform
    /// Standard normal by Box-Muller on pairs of uniforms (both the cosine and the sine branch are used).
    case normal
    /// Standard Gumbel, `-log(-log u)`.
    case gumbel
    /// `1` with probability `p[i]`, else `0` (dynamic binarisation); needs a probabilities buffer.
    case bernoulli
}

/// The logistic-normal approximations of a Dirichlet(α) that give it a reparameterised sample (paper 000).
public enum LogisticNormal: Int32, CaseIterable, Sendable {
    /// Laplace in the softmax basis: `y_k = μ_k + σ_k ε_k` with `μ_k = log α_k - (1/K) Σ_j log α_j`,
    /// `σ²_k = (1/α_k)(1 - 2/K) + (1/K²) Σ_j 1/α_j`; its density is the diagonal Gaussian over all K logits.
    case laplace = 0
    /// Aitchison-Shen, KL-optimal: for `k < K`, `y_k = ψ(α_k) - ψ(α_K) + √ψ₁(α_k) ε_k - √ψ₁(α_K) ε_K` (one shared
    /// `ε_K`), `y_K = 0`; the density is `N(mean, diag(ψ₁(α_k)) + ψ₁(α_K) 11ᵀ)` over the first K-1 logits.
    case aitchisonShen = 1
}

/// Hyper-parameters of the Adam optimiser (Kingma & Ba), PyTorch's defaults.
public struct AdamHyperparameters: Sendable, Equatable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// The bias corrections `1 - beta1^t` and `1 - beta2^t` for step `t >= 1`, computed in double precision
    /// on the host so both backends use identical scalars.
    public func biasCorrections(step: Int) -> (Float, Float) {
        (Float(1 - Double.pow(Double(beta1), step)), Float(1 - Double.pow(Double(beta2), step)))
    }
}

/// One tensor of an Adam step: its parameters, gradient and both moments (each `count` floats).
public struct AdamTensors {
    public var parameters: Buffer
    public var gradients: Buffer
    public var firstMoment: Buffer
    public var secondMoment: Buffer
    public var count: Int

    /// Tensors one OpenCL launch updates: 16 × 4 buffer arguments and 17 offsets fit the 1,024 bytes of kernel arguments
    /// that OpenCL 1.2 guarantees.
    public static let perLaunch = 16

    public init(parameters: Buffer, gradients: Buffer, firstMoment: Buffer, secondMoment: Buffer, count: Int) {
        self.parameters = parameters
        self.gradients = gradients
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.count = count
    }
}

/// Host-side constants of the fused family kernels, computed in double precision once so both backends use the
/// same float.
public enum FamilyConstants {
    /// `log Γ(K) + (K - 1) log λ`, the normaliser of the ExpConcrete density.
    public static func expConcrete(categories k: Int, temperature lambda: Float) -> Float {
        Float(Double.logGamma(Double(k)) + Double(k - 1) * Double.log(Double(lambda)))
    }

    /// `K lgamma(β) - lgamma(Kβ)`, the prior's part of the Dirichlet KL.
    public static func dirichletPrior(components k: Int, concentration beta: Float) -> Float {
        Float(Double(k) * Double.logGamma(Double(beta)) - Double.logGamma(Double(k) * Double(beta)))
    }
}
