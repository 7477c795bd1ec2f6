// Short training runs on a backend against the same runs on the CPU backend: every recipe at a tiny size, and the
// default Gaussian model at its real size. The step losses must agree, step for step.

import Foundation
import LatentKit

public enum TrainingAgreementChecks {
    static let images = Result { try Recipe.syntheticImages(count: 200) }

    static func agreement(_ config: RunConfig, steps: Int, rtol: Double, on backend: any Backend) throws -> CheckResult {
        let images = try images.get()
        let got = try Recipe.stepLosses(config, images: images, steps: steps, on: backend)
        let want = try Recipe.stepLosses(config, images: images, steps: steps, on: CPUBackend.shared)
        var result = CheckResult(tolerance: "\(rtol) relative")
        for (i, (g, w)) in zip(got, want).enumerated() { result.compare(g, w, rtol: rtol, atol: 0, "step \(i + 1) loss") }
        return result
    }

    public static let all: [Check] = Recipe.all.map { recipe in
        Check("training", "10 steps of \(recipe) (784-16-16-4, batch 20) against the CPU backend", needsReference: true) { backend in
            try agreement(recipe.config(), steps: 10, rtol: 1e-5, on: backend)
        }
    } + [Check("training", "20 steps of the default gaussian (784-200-200-20, batch 100) against the CPU backend", needsReference: true) { backend in
        try agreement(RunConfig(), steps: 20, rtol: 1e-6, on: backend)
    }]
}
