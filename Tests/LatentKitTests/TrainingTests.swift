// Training on a slice of real MNIST, on every backend: the loss falls, runs are deterministic, the two backends
// agree, resuming continues exactly, checkpoints round-trip.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite(.serialized) struct TrainingTests {
    static let slice = try! mnist(trainLimit: 2000, testLimit: 500)

    func config(epochs: Int = 1) -> RunConfig {
        var c = RunConfig()
        c.epochs = epochs
        c.trainLimit = 2000
        return c
    }

    func losses(_ trainer: Trainer, steps: Int) throws -> [Double] {
        let order = trainer.permutation(epoch: 0)
        return try (0..<steps).map { s in
            let i = (s * trainer.config.batchSize) % (order.count - trainer.config.batchSize + 1)
            let (r, k) = try trainer.step(batch: Array(order[i..<(i + trainer.config.batchSize)]))
            return (r + k) / Double(trainer.config.batchSize)
        }
    }

    @Test(arguments: TestBackends.all)
    func lossFallsOnAFewHundredSteps(kind: BackendKind) throws {
        let trainer = try Trainer(config: config(), backend: try TestBackends.backend(kind), train: Self.slice.train)
        let l = try losses(trainer, steps: 300)
        let first = l.prefix(10).reduce(0, +) / 10, last = l.suffix(20).reduce(0, +) / 20
        print("\(kind): loss \(first) -> \(last) over 300 steps")
        #expect(l.allSatisfy { $0.isFinite })
        #expect(first > 300 && last < 180 && last < 0.5 * first, "loss \(first) -> \(last)")
    }

    /// The Gaussian likelihood for continuous data: intensities are not binarised, the decoder learns a mean and a
    /// log-variance per pixel, and the negative log-likelihood (a density, so it can go below zero) falls.
    @Test(arguments: TestBackends.all)
    func gaussianLikelihoodLearns(kind: BackendKind) throws {
        var c = config(epochs: 4)
        c.model.likelihood = .gaussian
        let trainer = try Trainer(config: c, backend: try TestBackends.backend(kind), train: Self.slice.train)
        #expect(trainer.model.parameters.map(\.0).contains("decoder.log_variance.weight"))
        var losses: [Double] = []
        _ = try trainer.train(run: nil, epochDone: { losses.append($0.loss) })
        print("gaussian likelihood on \(kind): \(losses)")
        #expect(losses.allSatisfy { $0.isFinite } && losses[3] < losses[0] - 100, "\(losses)")
    }

    @Test(arguments: TestBackends.others)
    func backendsAgreeAfterTwentySteps(kind: BackendKind) throws {
        let cpu = try losses(try Trainer(config: config(), backend: CPUBackend.shared, train: Self.slice.train), steps: 20)
        let other = try losses(try Trainer(config: config(), backend: try TestBackends.backend(kind), train: Self.slice.train), steps: 20)
        let worst = zip(cpu, other).map { abs($0 - $1) / abs($0) }.max()!
        #expect(worst <= 1e-6, "cpu \(cpu) vs \(kind) \(other)")  // measured: ~1e-8
        print("after 20 steps: cpu \(cpu.last!), \(kind) \(other.last!), worst relative difference \(worst)")
    }

    /// The fused step (dense epilogues, loss chain, gather+binarise, joined heads, one Adam launch, the multinomial
    /// likelihood) gives the losses of
    /// the unfused ops it replaces, step for step, for the recipes it changes most.
    @Test(arguments: TestBackends.all, ["gaussian", "logit-normal", "batch-norm", "iwae-2", "multinomial"])
    func fusedStepGivesTheUnfusedLosses(kind: BackendKind, recipe: String) throws {
        var c = config()
        c.model.hidden = [64, 32]
        switch recipe {
        case "logit-normal": c.model.latent = .logitNormal
        case "batch-norm": c.model.batchNorm = true
        case "iwae-2": c.iwSamples = 2
        case "multinomial": c.model.likelihood = .multinomial  // the pixels as fractional counts: the fused likelihood
        default: break
        }
        let backend = try TestBackends.backend(kind)
        let fused = try losses(try Trainer(config: c, backend: backend, train: Self.slice.train), steps: 20)
        let unfused = try losses(try Trainer(config: c, backend: backend, train: Self.slice.train, fusesOps: false), steps: 20)
        let worst = zip(fused, unfused).map { abs($0 - $1) / abs($1) }.max()!
        #expect(worst <= 1e-6, "\(recipe) on \(kind): fused \(fused) vs unfused \(unfused)")
        print("\(recipe) on \(kind): fused vs unfused over 20 steps, worst relative difference \(worst)")
    }

    @Test(arguments: TestBackends.all)
    func sameSeedSameLosses(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let a = try losses(try Trainer(config: config(), backend: backend, train: Self.slice.train), steps: 15)
        let b = try losses(try Trainer(config: config(), backend: backend, train: Self.slice.train), steps: 15)
        #expect(a == b)
        var other = config()
        other.seed = 2
        #expect(try losses(try Trainer(config: other, backend: backend, train: Self.slice.train), steps: 15) != a)
    }

    func parameters(_ t: Trainer) throws -> [[Float]] {
        try t.model.parameters.map { try t.backend.download($0.1.buffer, offset: 0, count: $0.1.count) }
    }

    /// Two epochs straight versus one epoch, a checkpoint written and read back into a new trainer, one more.
    @Test(arguments: TestBackends.all)
    func resumeContinuesExactly(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let dir = try temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = RunDirectory(dir)
        let straight = try Trainer(config: config(epochs: 2), backend: backend, train: Self.slice.train)
        #expect(try straight.train(run: nil) == .finished)

        let first = try Trainer(config: config(epochs: 1), backend: backend, train: Self.slice.train)
        _ = try first.train(run: run)
        let resumed = try Trainer(config: config(epochs: 2), backend: backend, train: Self.slice.train)
        try resumed.restore(from: Checkpoint.read(run.checkpoint))
        #expect(resumed.epoch == 1 && resumed.globalStep == 20)
        _ = try resumed.train(run: run)
        #expect(try parameters(resumed) == parameters(straight))
        #expect(try run.readMetrics().count == 2)
    }

    /// The training set streamed to the device in chunks of 3 batches (the 20 steps of an epoch in 7 chunks, the last of
    /// 2 batches): the same images reach each step, so two epochs end bit for bit where the resident run ends, also when
    /// resumed mid-chunk from a mid-epoch checkpoint.
    @Test(arguments: TestBackends.all)
    func streamedDataTrainsExactlyAsResidentData(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let dir = try temporaryDirectory("stream")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let resident = try Trainer(config: config(epochs: 2), backend: backend, train: Self.slice.train)
        #expect(resident.streamChunk == nil)
        _ = try resident.train(run: nil)
        var streamedConfig = config(epochs: 2)
        streamedConfig.streamChunk = 350  // 3 batches of 100
        let streamed = try Trainer(config: streamedConfig, backend: backend, train: Self.slice.train)
        #expect(streamed.streamChunk == 300)
        _ = try streamed.train(run: nil)
        #expect(try parameters(streamed) == parameters(resident))

        // interrupted at step 8 of epoch 2 (inside the third chunk), resumed by a new streamed trainer
        let run = RunDirectory(dir)
        let first = try Trainer(config: streamedConfig, backend: backend, train: Self.slice.train)
        var steps = 0
        #expect(try first.train(run: run, shouldStop: { steps += 1; return steps > 28 }) == .interrupted(epoch: 1, step: 8))
        let resumed = try Trainer(config: streamedConfig, backend: backend, train: Self.slice.train)
        try resumed.restore(from: Checkpoint.read(run.checkpoint))
        _ = try resumed.train(run: run)
        #expect(try parameters(resumed) == parameters(resident))
    }

    /// `--binarize`: on data that is already binary every mode trains bit for bit alike (a Bernoulli draw of 0 or 1 is
    /// itself); on grey levels `fixed` is deterministic and differs from `dynamic`, and `none` from both. An old
    /// configuration's `dynamicBinarization: false` reads as `none`.
    @Test(arguments: TestBackends.all)
    func binarizationModes(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let grey = try mnist(trainLimit: 400, testLimit: 1).train
        let binary = try LabelledImages(count: grey.count, rows: 28, cols: 28, pixels: grey.pixels.map { $0 > 0.5 ? 1 : 0 }, labels: grey.labels)
        func run(_ mode: Binarization, _ images: LabelledImages) throws -> [[Float]] {
            var c = config(epochs: 1)
            c.trainLimit = nil
            c.binarization = mode
            let trainer = try Trainer(config: c, backend: backend, train: images)
            _ = try trainer.train(run: nil)
            return try parameters(trainer)
        }
        let onBinary = try [Binarization.dynamic, .fixed, .none].map { try run($0, binary) }
        #expect(onBinary[0] == onBinary[1] && onBinary[0] == onBinary[2])
        let dynamic = try run(.dynamic, grey), fixed = try run(.fixed, grey), none = try run(.none, grey)
        #expect(fixed == (try run(.fixed, grey)))
        #expect(fixed != dynamic && none != dynamic && none != fixed)

        let legacy = try JSONDecoder().decode(RunConfig.self, from: Data(#"{"dynamicBinarization": false}"#.utf8))
        #expect(legacy.binarization == .none)
        var gaussian = RunConfig()
        gaussian.model.likelihood = .gaussian
        gaussian.binarization = .fixed
        #expect(throws: (any Error).self) { try gaussian.validate() }
    }

    /// `checkpointEvery` saves mid-epoch checkpoints (here at steps 7 and 14 of 20) without stopping; a run killed after
    /// step 14 resumes from that checkpoint and ends where an uninterrupted run ends, bit for bit.
    @Test(arguments: TestBackends.all)
    func checkpointEveryKeepsMidEpochCheckpoints(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let dir = try temporaryDirectory("checkpoint-every")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = RunDirectory(dir), saved = dir + "/step-14.safetensors"
        let straight = try Trainer(config: config(epochs: 1), backend: backend, train: Self.slice.train)
        _ = try straight.train(run: nil)
        let checkpointed = try Trainer(config: config(epochs: 1), backend: backend, train: Self.slice.train)
        // the last progress report of the epoch comes before its end-of-epoch checkpoint: the file is then step 14's
        _ = try checkpointed.train(run: run, checkpointEvery: 7, progress: { p in
            if p.step == p.steps { try? FileManager.default.copyItem(atPath: run.checkpoint, toPath: saved) }
        })
        let midEpoch = try Checkpoint.read(saved)
        #expect(midEpoch.metadata["step_in_epoch"] == "14" && midEpoch.metadata["global_step"] == "14", "\(midEpoch.metadata)")
        let resumed = try Trainer(config: config(epochs: 1), backend: backend, train: Self.slice.train)
        try resumed.restore(from: midEpoch)
        _ = try resumed.train(run: nil)
        #expect(try parameters(resumed) == parameters(straight))
        #expect(try parameters(checkpointed) == parameters(straight), "saving checkpoints must not change the run")
    }

    /// Interrupting mid-epoch saves the position; resuming from it ends where an uninterrupted run ends.
    @Test(arguments: TestBackends.all)
    func interruptMidEpochAndResume(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let dir = try temporaryDirectory("interrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = RunDirectory(dir)
        let straight = try Trainer(config: config(epochs: 1), backend: backend, train: Self.slice.train)
        _ = try straight.train(run: nil)
        let stopped = try Trainer(config: config(epochs: 1), backend: backend, train: Self.slice.train)
        var polls = 0
        let outcome = try stopped.train(run: run, shouldStop: { polls += 1; return polls > 7 })
        #expect(outcome == .interrupted(epoch: 0, step: 7))
        let resumed = try Trainer(config: config(epochs: 1), backend: backend, train: Self.slice.train)
        try resumed.restore(from: Checkpoint.read(run.checkpoint))
        _ = try resumed.train(run: run)
        #expect(try parameters(resumed) == parameters(straight))
    }

    /// A full disk: training into a 600 KiB tmpfs (mounted here when the suite runs as root, as CI does) ends with a clear
    /// error that names the cause, and the previous checkpoint and the metrics stay readable.
    @Test(arguments: TestBackends.all)
    func fullDiskIsAClearErrorAndKeepsThePreviousCheckpoint(kind: BackendKind) throws {
        let dir = try temporaryDirectory("full-disk")
        defer {
            _ = try? runCommand("/usr/bin/umount", [dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
        guard getuid() == 0, (try? runCommand("/usr/bin/mount", ["-t", "tmpfs", "-o", "size=600k", "tmpfs", dir])) == 0 else {
            print("NOTE: fullDiskIsAClearErrorAndKeepsThePreviousCheckpoint did not run: mounting a tmpfs needs root (CI runs as root);"
                  + " checkpointIsSafetensorsAndSurvivesAFailedWrite covers a failed write")
            return
        }
        let run = dir + "/run"
        // a 784-16-16-4 model: a checkpoint of ~320 KiB fits once, not twice (the new one beside the old)
        let result = try runTool(["train", "--backend", kind.rawValue, "--epochs", "3", "--limit", "200", "--hidden", "16,16",
                                  "--latent-size", "4", "--out", run])
        #expect(result.status == 1 && result.stderr.contains("No space left on device") && result.stderr.contains("previous checkpoint is kept"),
                "\(result.status): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
        let kept = try Checkpoint.read(run + "/checkpoint.safetensors")
        #expect(kept.metadata["epoch"] == "1", "\(kept.metadata)")
        // epoch 2's line was appended just before its checkpoint failed; resuming keeps the lines the checkpoint holds
        let metrics = try RunDirectory(run).readMetrics()
        #expect(metrics.count == 2 && metrics.allSatisfy { $0["loss"] is Double }, "\(metrics)")
        try RunDirectory(run).keepMetrics(ofEpochs: 1)
        #expect(try RunDirectory(run).readMetrics().map { $0["epoch"] as? Int } == [1])
        #expect(!FileManager.default.fileExists(atPath: run + "/checkpoint.safetensors.tmp"))
    }

    /// The CPU backend's worker pool with more helper threads than cores: its helpers go to sleep and are woken around
    /// every op, and a wake-up lost there hangs `train` (the pool before 2026-12-06 hung here on every run, at the
    /// model's first op, with 3 or 4 threads on 2 cores). Each run is bounded in time, and at batch 1,000 takes the
    /// weight-gradient and column-sum splits with one row or column block per core (2 threads) and with several (4, 8):
    /// their weights and Adam moments agree with the 2-thread run's to 1e-4 (OpenBLAS rounds other row blocks
    /// differently: 2e-6 apart here; a block left out or summed twice would move the weights by what its 6 Adam steps
    /// move them, about 1e-3 each).
    @Test func cpuTrainingWithMoreThreadsThanCoresEndsAndAgrees() throws {
        let dir = try temporaryDirectory("threads")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var weights: [Int: [String: [Float]]] = [:]
        for threads in [2, 3, 4, 8] {
            let run = "\(dir)/run\(threads)"
            let result = try runProgram(toolPath, ["train", "--backend", "cpu", "--epochs", "2", "--limit", "3000", "--batch-size", "1000",
                                                   "--out", run],
                                        environment: ["LATENTKIT_THREADS": "\(threads)"], timeout: 120)
            #expect(result.status == 0, "\(threads) threads: \(result.stderr)")
            weights[threads] = try Checkpoint.read(run + "/checkpoint.safetensors").tensors.mapValues(\.values)
        }
        let reference = try #require(weights[2])
        for threads in [3, 4, 8] {
            let got = try #require(weights[threads])
            #expect(Set(got.keys) == Set(reference.keys), "\(threads) threads: tensors")
            for (name, want) in reference {
                let worst = zip(got[name] ?? [], want).map { Swift.abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= 1e-4, "\(threads) threads, \(name): differs by \(worst) from 2 threads")
            }
        }
    }

    @Test func checkpointIsSafetensorsAndSurvivesAFailedWrite() throws {
        let dir = try temporaryDirectory("checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var c = Checkpoint()
        c.add("w", shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5])
        c.add("b", shape: [1, 1], values: [.pi])
        c.metadata = ["epoch": "3"]
        let path = "\(dir)/checkpoint.safetensors"
        try c.write(to: path)
        let back = try Checkpoint.read(path)
        #expect(back.tensors == c.tensors && back.metadata == c.metadata)
        // An independent reader: Python with only the standard library.
        let script = """
            import json, struct, sys
            b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n])
            s, e = h['w']['data_offsets']; print(h['w']['shape'], list(struct.unpack('<6f', b[8 + n + s:8 + n + e])), h['__metadata__']['epoch'])
            """
        let out = try runProgram("/usr/bin/env", ["python3", "-c", script, path]).stdout
        #expect(out.contains("[2, 3] [1.0, 2.0, 3.0, 4.0, 5.0, -6.5] 3"), "python read: \(out)")
        // A write that cannot complete (its temporary path is taken by a directory) leaves the old file intact.
        try FileManager.default.createDirectory(atPath: path + ".tmp", withIntermediateDirectories: false)
        var newer = c
        newer.add("w", shape: [2, 3], values: [0, 0, 0, 0, 0, 0])
        #expect(throws: CheckpointWriteError.self) { try newer.write(to: path) }
        #expect(try Checkpoint.read(path).tensors == c.tensors)
    }

    /// A posterior whose variance underflows (log-variance −300: the sample is its mean, and log q of it is 0 × ∞, as a
    /// 2,801-token 20 Newsgroups document gave) makes the importance-sampled NLL a clear error naming the item, never a
    /// NaN in a reported mean.
    @Test(arguments: TestBackends.all)
    func aNonFiniteImportanceSampledNLLIsAnError(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let model = try VAE(RunConfig().model, on: backend, seed: 1)
        let (_, bias) = try #require(model.parameters.first { $0.0.hasSuffix("heads.bias") || $0.0.hasSuffix("log_variance.bias") })
        try backend.upload([Float](repeating: -300, count: bias.count), to: bias.buffer, offset: 0)
        #expect {
            _ = try Evaluator(model: model, backend: backend).evaluate(Self.slice.test, k: 5, limit: 3)
        } throws: { error in
            "\(error)".contains("the importance-sampled NLL of test item 0 is nan") && "\(error)".contains("--k 0")
        }
    }

    @Test(arguments: TestBackends.all)
    func evaluationOfATrainedModel(kind: BackendKind) throws {
        let backend = try TestBackends.backend(kind)
        let trainer = try Trainer(config: config(epochs: 3), backend: backend, train: Self.slice.train)
        _ = try trainer.train(run: nil)
        let evaluator = Evaluator(model: trainer.model, backend: backend)
        let result = try evaluator.evaluate(Self.slice.test, k: 200, limit: 50)
        print("3 epochs on 2000 images: test -ELBO \(result.negativeELBO), NLL(k=200) \(result.negativeLogLikelihood!)")
        #expect(result.images == 50 && result.k == 200)
        #expect(abs(result.negativeELBO - (result.reconstruction + result.kl)) < 1e-9)
        #expect(result.unitActivity.count == 20 && result.activeUnits >= 1 && result.activeUnits <= 20)
        // activity is the variance of the posterior means: recompute it from them
        let means = try evaluator.posteriorMeans(try evaluator.testImages(Self.slice.test, limit: 50))
        let unit0 = stride(from: 0, to: means.count, by: 20).map { Double(means[$0]) }
        let m0 = unit0.reduce(0, +) / 50
        #expect(abs(result.unitActivity[0] - unit0.reduce(0) { $0 + ($1 - m0) * ($1 - m0) } / 49) < 1e-9)
        // The importance-sampled bound is tighter than the ELBO and the ELBO is far from the untrained ~540 nats.
        #expect(result.negativeLogLikelihood! < result.negativeELBO && result.negativeELBO < 250)
        // k = 1 importance sampling is a one-sample ELBO: close to the ELBO on average.
        let x = try evaluator.testImages(Self.slice.test, limit: 50)
        let one = try evaluator.importanceSampledNLL(x, k: 1).reduce(0, +) / 50
        #expect(abs(one - result.negativeELBO) < 5, "k=1 bound \(one) vs ELBO \(result.negativeELBO)")
    }
}
