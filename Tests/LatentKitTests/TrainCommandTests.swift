// `latentkit train`, `eval` and `sample` as a user runs them, and their errors for bad input.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite(.serialized) struct TrainCommandTests {
    @Test(arguments: TestBackends.all)
    func trainEvalSampleOnASlice(kind: BackendKind) throws {
        let dir = try temporaryDirectory("cli-run")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let train = try runTool(["train", "--backend", kind.rawValue, "--epochs", "2", "--limit", "1000", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("epoch 2/2"), "\(train.stdout)")
        let config = try RunConfig.load(from: run + "/config.json")
        #expect(config.epochs == 2 && config.trainLimit == 1000 && config.model.latentSize == 20 && config.batchSize == 100)
        let metrics = try RunDirectory(run).readMetrics()
        #expect(metrics.count == 2)
        for key in ["epoch", "loss", "kl", "seconds", "images_per_second"] { #expect(metrics[0][key] != nil, "metrics lack \(key)") }

        let perImage = dir + "/nll.npy"
        let eval = try runTool(["eval", run, "--backend", kind.rawValue, "--k", "50", "--limit", "20", "--json", "--per-image", perImage])
        #expect(eval.status == 0, "\(eval.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any] ?? [:]
        for key in ["test_neg_elbo", "test_recon", "test_kl", "test_nll", "nll_standard_error", "k", "images", "active_units", "unit_activity"] {
            #expect(json[key] != nil, "eval JSON lacks \(key)")
        }
        #expect(json["k"] as? Int == 50 && json["images"] as? Int == 20)
        // each image's NLL: their mean is the reported NLL, their spread its standard error
        let images = try NPY.read(perImage)
        #expect(images.shape == [20])
        let values = images.values.map(Double.init), mean = values.reduce(0, +) / 20
        let error = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 19).squareRoot() / Double(20).squareRoot()
        let reported = try #require(json["test_nll"] as? Double), reportedError = try #require(json["nll_standard_error"] as? Double)
        #expect(abs(mean - reported) < 1e-4 * reported && abs(error - reportedError) < 1e-3 * reportedError + 1e-6,
                "per-image mean \(mean) ± \(error) against \(reported) ± \(reportedError)")
        #expect(Set(images.values).count > 1, "the images' NLLs differ")

        let png = dir + "/samples.png"
        let sample = try runTool(["sample", run, "--backend", kind.rawValue, "--count", "9", "--out", png])
        #expect(sample.status == 0, "\(sample.stderr)")
        // Decode the PNG with Python's zlib (PlotTests' decoder): 3x3 tiles of 28 pixels with 1-pixel gaps, 8-bit grayscale.
        let image = try decodePNG(png)
        #expect(image.width == 88 && image.height == 88 && image.channels == 1 && image.samples.max() ?? 0 > 100, "png \(image.width)x\(image.height)")
    }

    /// `--learning-rate-decay γ`: epoch e trains at lr·γ^e, so the first epoch is the constant rate's to the bit and
    /// the second is not; the rate is the epoch's alone, so a run resumed after epoch 1 ends where an uninterrupted one does.
    @Test func learningRateDecaysByEpochAndResumesExactly() throws {
        var config = RunConfig()
        config.learningRate = 2e-3
        config.learningRateDecay = 0.5
        #expect(config.learningRate(epoch: 0) == 2e-3 && config.learningRate(epoch: 3) == 2.5e-4)
        let dir = try temporaryDirectory("cli-lr-decay")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func losses(_ run: String) throws -> [Double] { try RunDirectory(run).readMetrics().map { $0["loss"] as? Double ?? .nan } }
        let base = ["train", "--backend", "cpu", "--limit", "500", "--seed", "3"]
        for (name, extra) in [("constant", ["--epochs", "3"]), ("decay", ["--epochs", "3", "--learning-rate-decay", "0.5"]),
                              ("resumed", ["--epochs", "1", "--learning-rate-decay", "0.5"])] {
            let r = try runTool(base + extra + ["--out", dir + "/" + name])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let resumed = try runTool(["train", "--resume", dir + "/resumed", "--epochs", "3"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let constant = try losses(dir + "/constant"), decay = try losses(dir + "/decay")
        #expect(constant.count == 3 && decay.count == 3)
        #expect(constant[0] == decay[0] && constant[1] != decay[1] && constant[2] != decay[2], "\(constant) vs \(decay)")
        #expect(try losses(dir + "/resumed") == decay)
        #expect(try RunConfig.load(from: dir + "/decay/config.json").learningRateDecay == 0.5)
        let changed = try runTool(["train", "--resume", dir + "/decay", "--epochs", "4", "--learning-rate-decay", "0.9"])
        #expect(changed.status != 0 && changed.stderr.contains("--learning-rate-decay cannot change when resuming"), "\(changed.stderr)")
    }

    @Test(arguments: TestBackends.all)
    func controlCSavesACheckpointAndResumeFinishes(kind: BackendKind) throws {
        let dir = try temporaryDirectory("cli-interrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let interrupted = try runTool(["train", "--backend", kind.rawValue, "--epochs", "50", "--limit", "2000", "--out", run]) { process in
            // Wait for the first epoch's checkpoint, then interrupt mid-run.
            let deadline = Date().addingTimeInterval(120)
            while !FileManager.default.fileExists(atPath: run + "/checkpoint.safetensors") && Date() < deadline { usleep(50_000) }
            kill(process.processIdentifier, SIGINT)
        }
        #expect(interrupted.status == 130, "\(interrupted.stdout) \(interrupted.stderr)")
        #expect(interrupted.stdout.contains("checkpoint saved"))
        let checkpoint = try Checkpoint.read(run + "/checkpoint.safetensors")
        let epoch = Int(checkpoint.metadata["epoch"] ?? "") ?? -1
        #expect(epoch >= 1 && epoch < 50)
        let resumed = try runTool(["train", "--resume", run, "--epochs", "\(epoch + 1)", "--backend", kind.rawValue])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming"))
    }

    /// (arguments, text the error must contain)
    static let badInputs: [([String], String)] = [
        (["train", "--batch-size", "0", "--out", "/tmp/latentkit-never"], "batch size must be >= 1"),
        (["train", "--epochs=-1", "--out", "/tmp/latentkit-never"], "--epochs must be in 1...1000000000, got -1"),
        (["train", "--epochs", "0", "--out", "/tmp/latentkit-never"], "--epochs must be in 1...1000000000, got 0"),
        // sizes whose arithmetic would overflow (a crash) before any memory check could refuse them
        (["train", "--latent-size", "4000000000000000000", "--out", "/tmp/latentkit-never"], "the latent size must be at most 16777216"),
        (["train", "--hidden", "4611686018427387904", "--out", "/tmp/latentkit-never"], "hidden layer sizes must be at most 16777216"),
        (["train", "--iw-samples", "4611686018427387904", "--out", "/tmp/latentkit-never"], "a step's largest tensor (batch 100 × 4611686018427387904 samples"),
        (["train", "--warmup-epochs", "3000000000000000000", "--out", "/tmp/latentkit-never"], "--warmup-epochs must be in 0...1000000000"),
        (["train", "--latent", "concrete", "--categorical", "4611686018427387904x2", "--out", "/tmp/latentkit-never"], "has more than 9223372036854775807 latents"),
        (["train", "--dataset", "cifar"], "'mnist'"),
        (["train", "--hidden", "200,x", "--out", "/tmp/latentkit-never"], "--hidden takes positive sizes"),
        (["train", "--data-dir", "/nonexistent", "--out", "/tmp/latentkit-bad-data-\(getpid())"], "not found"),
        (["train", "--out", "/etc/passwd/run"], "cannot create run directory"),
        (["train", "--resume", "/tmp"], "is not a LatentKit run directory"),
        (["eval", "/tmp"], "is not a LatentKit run directory"),
        (["eval", "/tmp", "--k=-3"], "--k must be >= 0"),
        (["train", "--learning-rate-decay", "0", "--out", "/tmp/latentkit-never"], "--learning-rate-decay must lie in (0, 1]"),
        (["train", "--learning-rate-decay", "1.5", "--out", "/tmp/latentkit-never"], "--learning-rate-decay must lie in (0, 1]"),
        (["eval", "/tmp/latentkit-never", "--k", "0", "--per-image", "/tmp/latentkit-never.npy"], "--per-image needs importance sampling"),
        (["eval", "/tmp/latentkit-never", "--per-image", "/nonexistent/nll.npy"], "the folder /nonexistent does not exist or is not writable"),
        (["eval", "/tmp/latentkit-never", "--per-image", "/tmp"], "--per-image /tmp is a folder; name a file"),
        (["sample", "/tmp", "--out", "/tmp/x.png", "--count", "0"], "--count must be between"),
        (["train", "--latent", "logit-normal", "--prior-variance=-1", "--out", "/tmp/latentkit-never"], "--prior-variance must be positive"),
        (["train", "--latent", "logit-normal", "--prior-variance", "nan", "--out", "/tmp/latentkit-never"], "--prior-variance must be positive"),
        (["train", "--prior-variance", "2", "--out", "/tmp/latentkit-never"], "applies to --latent logit-normal only"),
        (["train", "--iw-samples", "0", "--out", "/tmp/latentkit-never"], "--iw-samples must be >= 1"),
        (["train", "--checkpoint-every", "0", "--out", "/tmp/latentkit-never"], "--checkpoint-every must be >= 1"),
        (["train", "--warmup-epochs=-2", "--out", "/tmp/latentkit-never"], "--warmup-epochs must be in 0...1000000000, got -2"),
        (["train", "--latent", "gamma"], "- gaussian"),
        (["train", "--latent", "dirichlet", "--prior-concentration=0", "--out", "/tmp/latentkit-never"], "--prior-concentration must be positive"),
        (["train", "--latent", "dirichlet", "--latent-size", "1", "--out", "/tmp/latentkit-never"], "K >= 2"),
        (["train", "--latent", "dirichlet", "--dirichlet-approx", "beta", "--out", "/tmp/latentkit-never"], "'laplace'"),
        (["train", "--prior-concentration", "1", "--out", "/tmp/latentkit-never"], "applies to --latent dirichlet and softmax-gaussian only"),
        (["train", "--latent", "dvae", "--beta=0", "--out", "/tmp/latentkit-never"], "--beta must be positive"),
        (["train", "--latent", "dvae", "--beta=-1", "--out", "/tmp/latentkit-never"], "--beta must be positive"),
        (["train", "--latent", "dvae", "--latent-size", "15", "--out", "/tmp/latentkit-never"], "must be even"),
        (["train", "--latent", "dvae", "--latent-size", "20", "--groups", "3", "--out", "/tmp/latentkit-never"], "does not divide"),
        (["train", "--latent", "dvae", "--gibbs-chains", "0", "--out", "/tmp/latentkit-never"], "--gibbs-chains must be in 1...1000000"),
        (["train", "--latent", "dvae", "--gibbs-chains", "1000000000", "--out", "/tmp/latentkit-never"], "--gibbs-chains must be in 1...1000000"),
        (["train", "--latent", "dvae", "--gibbs-steps", "0", "--out", "/tmp/latentkit-never"], "--gibbs-steps must be in 1...100000"),
        (["train", "--groups", "2", "--out", "/tmp/latentkit-never"], "apply to --latent dvae only"),
        (["eval", "/tmp/latentkit-never", "--ais-chains", "1"], "--ais-chains must be in 2...1000000"),
        (["eval", "/tmp/latentkit-never", "--ais-chains", "3000000000"], "--ais-chains must be in 2...1000000"),
        (["train", "--latent", "concrete", "--categorical", "20y10", "--out", "/tmp/latentkit-never"], "--categorical takes GxK"),
        (["train", "--latent", "concrete", "--categorical", "20x1", "--out", "/tmp/latentkit-never"], "K >= 2"),
        (["train", "--latent", "concrete", "--temperature=0", "--out", "/tmp/latentkit-never"], "--temperature must be positive"),
        (["train", "--temperature", "0.5", "--out", "/tmp/latentkit-never"], "apply to --latent concrete only"),
        (["train", "--posterior", "grid", "--grid", "4x4", "--out", "/tmp/latentkit-never"], "--grid 4x4 holds 16 latents, but the latent size is 20"),
        (["train", "--grid", "4x5", "--out", "/tmp/latentkit-never"], "--grid applies to --posterior grid only"),
        (["train", "--posterior", "grid", "--grid", "4by5", "--out", "/tmp/latentkit-never"], "--grid takes RxC"),
        (["train", "--latent", "dirichlet", "--posterior", "chain", "--out", "/tmp/latentkit-never"], "--posterior chain applies to --latent gaussian only"),
        (["train", "--latent", "logit-normal", "--posterior", "grid", "--out", "/tmp/latentkit-never"], "--posterior grid applies to --latent gaussian only"),
        (["train", "--posterior", "tree", "--out", "/tmp/latentkit-never"], "'diagonal'"),
    ]

    @Test(arguments: 0..<badInputs.count)
    func badInputIsAClearErrorAndANonZeroExit(index: Int) throws {
        let (arguments, message) = Self.badInputs[index]
        let result = try runTool(arguments + (arguments.contains("--backend") ? [] : ["--backend", "cpu"]))
        #expect(result.status != 0 && result.status < 128, "status \(result.status)")
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        // one line: the message alone, without ArgumentParser's usage and help lines or a list of values one a line
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("Error: "), "stderr: \(result.stderr)")
    }

    @Test(arguments: TestBackends.all)
    func checkpointThatDoesNotFitTheModelIsAnError(kind: BackendKind) throws {
        let dir = try temporaryDirectory("cli-mismatch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        #expect(try runTool(["train", "--backend", kind.rawValue, "--epochs", "1", "--limit", "200", "--out", run]).status == 0)
        var config = try RunConfig.load(from: run + "/config.json")
        config.model.latentSize = 10
        try config.save(to: run + "/config.json")
        // the checkpoint records config.json's checksum, so the edit itself is found first
        let edited = try runTool(["eval", run, "--backend", kind.rawValue, "--k", "0"])
        #expect(edited.status == 1 && edited.stderr.contains("config.json has changed since"), "\(edited.stderr)")
        // and a checkpoint without that record (an older LatentKit's) is checked tensor by tensor
        let checkpoint = run + "/checkpoint.safetensors"
        try Data(CheckpointIntegrityTests.legacyFile(try Checkpoint.read(checkpoint))).write(to: URL(fileURLWithPath: checkpoint))
        let result = try runTool(["eval", run, "--backend", kind.rawValue, "--k", "0"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("has shape [200, 20], the model expects [200, 10]"), "\(result.stderr)")
    }

    @Test(arguments: TestBackends.all)
    func nonFiniteLossStopsWithTheStepAndTheTerm(kind: BackendKind) throws {
        let dir = try temporaryDirectory("cli-nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try runTool(["train", "--backend", kind.rawValue, "--epochs", "3", "--limit", "500", "--learning-rate", "1e30", "--out", dir + "/run"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("non-finite loss at epoch"), "\(result.stderr)")
        #expect(result.stderr.contains("term"))
        // it failed in its first epoch, before any checkpoint: nothing to resume, so no half-made run folder is left
        #expect(result.stderr.contains("no checkpoint was written") && !result.stderr.contains("checkpoint is kept"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/run"))
    }

    /// A checkpoint from outside whose checksums are gone (as an older LatentKit wrote them) is still checked: a
    /// non-finite tensor or a count no run reaches is refused with one line, not evaluated into NaN or an overflow trap;
    /// and a resume with nothing left to train says so.
    @Test func damagedCheckpointValuesAreRefused() throws {
        let dir = try temporaryDirectory("cli-damaged-values")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run", path = run + "/checkpoint.safetensors"
        #expect(try runTool(["train", "--backend", "cpu", "--epochs", "1", "--limit", "200", "--hidden", "8", "--out", run]).status == 0)
        let good = try Checkpoint.read(path)
        let done = try runTool(["train", "--resume", run, "--backend", "cpu"])
        #expect(done.status == 0 && done.stdout.contains("has trained 1 of 1 epochs: nothing to do"), "\(done.stdout) \(done.stderr)")
        let fewer = try runTool(["train", "--resume", run, "--backend", "cpu", "--epochs", "1"])
        #expect(fewer.status == 0)

        var nan = good
        nan.tensors["encoder.0.weight"]!.values[3] = .nan
        try Data(CheckpointIntegrityTests.legacyFile(nan)).write(to: URL(fileURLWithPath: path))
        let eval = try runTool(["eval", run, "--backend", "cpu", "--k", "0"])
        #expect(eval.status == 1 && eval.stderr.contains("checkpoint tensor 'encoder.0.weight' holds nan at element 3"), "\(eval.stderr)")

        for (key, value, message) in [("epoch", "\(Int.max)", "'epoch' is \(Int.max), not a count"),
                                      ("step_in_epoch", "-1", "'step_in_epoch' is -1, not a count"),
                                      ("epoch_kl", "nan", "'epoch_kl' is nan, not a finite number")] {
            var bad = good
            bad.metadata[key] = value
            try Data(CheckpointIntegrityTests.legacyFile(bad)).write(to: URL(fileURLWithPath: path))
            let resumed = try runTool(["train", "--resume", run, "--backend", "cpu", "--epochs", "3"])
            #expect(resumed.status == 1 && resumed.stderr.contains(message), "\(key): \(resumed.stderr)")
        }

        // finite weights whose bound is not: a log-variance of 100 overflows float32's exp, so the KL is infinite. eval
        // says so in one line (no "inf" figures with exit 0, no JSON writer's error); report shows the run with a note
        var diverged = good
        diverged.tensors["encoder.log_variance.bias"]!.values = diverged.tensors["encoder.log_variance.bias"]!.values.map { _ in 100 }
        try Data(CheckpointIntegrityTests.legacyFile(diverged)).write(to: URL(fileURLWithPath: path))
        for (arguments, message) in [(["--k", "0"], "the test -ELBO is inf"), (["--k", "0", "--json"], "the test -ELBO is inf"),
                                     (["--k", "5", "--limit", "5"], "log-weights log p(x, z) - log q(z|x) are not finite")] {
            let infinite = try runTool(["eval", run, "--backend", "cpu"] + arguments)
            #expect(infinite.status == 1 && infinite.stdout.isEmpty && infinite.stderr.contains(message), "\(arguments): \(infinite.stdout) \(infinite.stderr)")
        }
        let page = dir + "/report.html"
        let report = try runTool(["report", run, "--backend", "cpu", "--out", page])
        #expect(report.status == 0 && report.stderr.contains("diverges"), "\(report.stderr)")
        #expect(try String(contentsOfFile: page, encoding: .utf8).contains("no evaluation: the test -ELBO is inf"))
    }
}
