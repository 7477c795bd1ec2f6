// The OpenCL C sources of LatentKit, one program per op family, each prefixed by the shared preamble.
// This target has no dependencies: the OpenCL backend builds these strings, tests compile every one.

/// A family of kernels compiled together as one OpenCL program.
///
/// Kernel names are systematic, `<family>_<op>_f32[_variant]`, so the backend derives them from the op enums.
public enum KernelFamily: String, CaseIterable, Sendable {
    case elementwise, reductions, random, memory, optimisers, distributions, families, normalisation, analysis
    /// The chain and grid Gaussian posteriors (Kernels/StructuredGaussian.swift).
    case structuredGaussian
    case discreteVAE = "dvae"
    /// The fused kernels of a training step: dense-layer epilogues, the ELBO's loss chain (Kernels/Training.swift).
    case training

    /// The program source: the preamble (helpers, Philox, special functions) followed by the family's kernels.
    public var source: String {
        KernelSources.preamble + "\n" + KernelSources.specialFunctions + "\n" + body
    }

    var body: String {
        switch self {
        case .elementwise: return KernelSources.elementwise
        case .reductions: return KernelSources.reductions
        case .random: return KernelSources.random
        case .memory: return KernelSources.memory
        case .optimisers: return KernelSources.optimisers
        case .distributions: return KernelSources.distributions
        case .families: return KernelSources.latentFamilies
        case .normalisation: return KernelSources.normalisation
        case .analysis: return KernelSources.analysis
        case .structuredGaussian: return KernelSources.structuredGaussian
        case .discreteVAE: return KernelSources.discreteVAE
        case .training: return KernelSources.training
        }
    }

    /// Build options. `LK_WG` is the work-group size the reduction kernels use for their local scratch; the
    /// backend passes the device's limit. Contraction into FMA is off in the preamble so results match the CPU
    /// backend's separately rounded operations.
    public static func buildOptions(workGroupSize: Int) -> String {
        "-cl-std=CL1.2 -DLK_WG=\(workGroupSize)"
    }
}

/// Namespace for the source strings, one file per family.
public enum KernelSources {}
