// Every gradient rule of the tape, every fused latent-family and batch-norm kernel and the chain and grid Gaussian
// kernels (RuleCases.swift) on a backend: outputs against float64 formulas, gradients against central differences.

import LatentKit

public enum GradientChecks {
    public static let all: [Check] = (ruleCases + familyCases + structuredRuleCases).map { rule in
        Check("gradients", rule.description) { try checkRule(rule, on: $0) }
    }
}
