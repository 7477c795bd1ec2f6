// Every kernel string builds on the OpenCL device; a kernel exists for every op of the enums; a broken
// program fails with the device's build log. In CI (LATENTKIT_REQUIRE_OPENCL=1) a missing platform fails.

import Kernels
import LatentKit
import Testing
import TestSupport

@Suite struct OpenCLBuildTests {
    @Test func openCLIsPresentWhenRequired() throws {
        guard TestBackends.requireOpenCL else { return }
        let backend = try OpenCLBackend.shared()
        print("OpenCL device under test: \(backend.deviceDescription)")
        #expect(TestBackends.all.contains(.opencl))
    }

    @Test(arguments: TestBackends.others)
    func everyKernelBuildsAndEveryOpHasOne(kind: BackendKind) throws {
        let backend = try OpenCLBackend.shared()
        let built = try backend.buildAll()
        var expected: [KernelFamily: [String]] = [:]
        expected[.elementwise] = UnaryOp.allCases.flatMap { ["elementwise_\($0.cName)_f32", "elementwise_\($0.cName)_backward_f32"] }
            + BinaryOp.allCases.map { "elementwise_\($0.rawValue)_f32" } + ["elementwise_affine_f32"]
        expected[.reductions] = ReduceOp.allCases.flatMap { ["reductions_\($0.rawValue)_rows_f32", "reductions_\($0.rawValue)_columns_f32"] }
            + ["reductions_sum_columns_tiled_f32"]
            + SoftmaxOp.allCases.map { "reductions_\($0.rawValue)_f32" }
        expected[.random] = RandomDistribution.allCases.map { "random_\($0.rawValue)_f32" } + ["random_bits_u32", "random_gather_bernoulli_f32", "random_dropout_mask_f32"]
        expected[.memory] = ["memory_gather_rows_f32", "memory_fill_f32", "memory_copy_block_f32"]
        expected[.optimisers] = ["optimisers_adam_f32"]
        expected[.distributions] = ["gaussian_sample", "gaussian_kl", "bernoulli_log_likelihood", "multinomial_log_likelihood", "gaussian_log_density",
                                    "gaussian_posterior"]
            .flatMap { ["distributions_\($0)_f32", "distributions_\($0)_backward_f32"] }
        expected[.families] = ["concrete_sample", "concrete_log_density", "categorical_kl", "logit_normal_sample", "logit_normal_log_density",
                               "dirichlet_sample", "dirichlet_approximation_log_density", "dirichlet_kl", "dirichlet_log_density"]
            .flatMap { ["families_\($0)_f32", "families_\($0)_backward_f32"] } + ["families_dirichlet_kl_rows_f32", "families_dirichlet_kl_backward_rows_f32", "families_categorical_kl_rows_f32",
               "families_categorical_kl_backward_rows_f32"]
        expected[.normalisation] = ["training", "inference", "backward", "training_tiled", "backward_tiled"].map { "normalisation_batch_norm_\($0)_f32" }
        expected[.analysis] = ["analysis_smallest_per_row_f32"]
        expected[.structuredGaussian] = ["sample", "kl", "log_density"].flatMap { ["structured_gaussian_\($0)_f32", "structured_gaussian_\($0)_backward_f32"] }
        expected[.discreteVAE] = ["spike_exp_sample", "spike_exp_sample_backward", "indicator_backward", "gibbs_half_step", "rbm_energy",
                                  "rbm_energy_backward_state", "rbm_energy_backward_parameters", "rbm_free_energy_increment"]
            .map { "dvae_\($0)_f32" }
        expected[.training] = ["training_bias_f32", "training_bias_identity_backward_f32", "training_elbo_loss_f32", "training_elbo_loss_backward_f32"]
            + UnaryOp.denseActivations.flatMap { ["training_bias_\($0.cName)_f32", "training_bias_\($0.cName)_backward_f32"] }
        for family in KernelFamily.allCases {
            let names = Set(built[family] ?? [])
            #expect(expected[family] != nil, "no expectations for kernel family \(family)")
            for name in expected[family, default: []] { #expect(names.contains(name), "kernel \(name) missing from \(family)") }
        }
    }

    @Test(arguments: TestBackends.others)
    func brokenProgramReportsTheBuildLog(kind: BackendKind) throws {
        let backend = try OpenCLBackend.shared()
        do {
            _ = try backend.build(source: "__kernel void broken(__global float* x) { x[0] = undeclared_name; }", name: "broken")
            Issue.record("a broken program built")
        } catch let BackendError.buildFailed(program, _, log) {
            #expect(program == "broken")
            #expect(log.contains("undeclared_name"), "build log: \(log)")
        }
    }
}
