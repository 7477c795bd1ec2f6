// The fused latent-family and batch-norm kernels through the tape: outputs against float64 formulas written out
// here from the papers, gradients against central differences of those formulas, on every backend (so the two
// backends also agree with each other). The model-level tests (mpmath densities, sample moments, the seed report's
// bugs) exercise the same kernels through the VAE.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct FamilyKernelTests {
    @Test(arguments: TestBackends.all, familyCases)
    func fusedKernelMatchesItsFormulaAndFiniteDifferences(kind: BackendKind, rule: RuleCase) throws {
        let result = try checkRule(rule, on: TestBackends.backend(kind))
        #expect(result.passed, "\(rule): \(result.summary)")
    }

    /// The running statistics: PyTorch's update with the unbiased batch variance; inference normalises by them.
    @Test(arguments: TestBackends.all)
    func batchNormRunningStatistics(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let bn = try BatchNorm(name: "bn", features: 2, on: backend)
        let x: [Float] = [1, 10, 2, 20, 4, 30, 5, 60]  // 4 rows × 2 features
        _ = try bn(try Tensor(x, rows: 4, cols: 2, on: backend), training: true, on: tape)
        let mean = try backend.download(bn.runningMean.buffer), variance = try backend.download(bn.runningVariance.buffer)
        #expect(abs(mean[0] - 0.9 * 0 - 0.1 * 3) < 1e-6 && abs(mean[1] - 0.1 * 30) < 1e-5)
        #expect(abs(variance[0] - (0.9 + 0.1 * 10.0 / 3)) < 1e-5 && abs(variance[1] - (0.9 + 0.1 * 1400.0 / 3)) < 1e-3, "\(variance)")
        let y = try backend.download(bn(try Tensor([3, 30], rows: 1, cols: 2, on: backend), training: false, on: tape).buffer)
        let want = [(3 - mean[0]) / (variance[0] + BatchNorm.epsilon).squareRoot(), (30 - mean[1]) / (variance[1] + BatchNorm.epsilon).squareRoot()]
        #expect(firstMismatch(y, want, rtol: 1e-5, atol: 1e-6) == nil, "\(y) vs \(want)")
    }

    /// Shapes that do not fit are a thrown error, never a kernel reading out of bounds.
    @Test(arguments: TestBackends.all)
    func badShapesAreErrors(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let tape = Tape(pool: BufferPool(backend: backend))
        let a = try Tensor([Float](repeating: 1, count: 6), rows: 2, cols: 3, on: backend)
        let one = try Tensor([Float](repeating: 1, count: 2), rows: 2, cols: 1, on: backend)
        #expect(throws: BackendError.self) { try tape.categoricalKL(a, categories: 2) }  // 3 columns are not 2-way categoricals
        #expect(throws: BackendError.self) { try tape.dirichletSample(.laplace, alpha: one, noise: one) }  // K = 1
        #expect(throws: BackendError.self) { try tape.dirichletLogDensity(a, alpha: one) }
        let small = try backend.allocate(count: 2, dtype: .float32)
        #expect(throws: BackendError.self) { try backend.dirichletKL(alpha: a.buffer, priorConcentration: 1, rows: 3, components: 2, into: small) }
    }
}
