// Data-parallel training over MPI, run as users run it: `mpirun -np 2 latentkit train ...` against one process.
// At equal global batch and seed the two give the same loss curve (the ranks split each global batch, draw each image's
// noise where one process draws it, and average their gradients); batch normalisation is per rank; disagreeing ranks,
// a bad rank and a killed rank end the job with a clear error instead of a hang; Ctrl-C saves one checkpoint; `--resume`
// works with any number of ranks; `eval` splits its importance sampling over the ranks and reports what one process
// reports. Open MPI comes from scripts/setup.sh: a machine without `mpirun` fails these tests rather than skipping them.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite(.serialized) struct DataParallelTests {
    /// Debian's launchers of each implementation (setup.sh installs both; /usr/bin/mpirun is whichever the alternatives
    /// system picked).
    enum Launcher: String {
        case openMPI = "/usr/bin/mpirun.openmpi"
        case mpich = "/usr/bin/mpirun.mpich"

        /// The command line before the program (`--oversubscribe`: Open MPI allows more ranks than cores only when told).
        func command(ranks: Int) throws -> [String] {
            guard FileManager.default.isExecutableFile(atPath: rawValue) else {
                Issue.record("\(rawValue) not found: scripts/setup.sh installs Open MPI (openmpi-bin, libopenmpi-dev) and MPICH (mpich)")
                throw DistributedError("no \(rawValue)")
            }
            return [rawValue] + (self == .openMPI ? ["--oversubscribe"] : []) + ["-np", "\(ranks)"]
        }
    }

    /// This machine's host name, which every rank's error line names.
    static let host = Communicator.hostName()

    /// Open MPI refuses to run as root unless told (CI runs as root).
    static let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]

    /// `mpirun -np ranks latentkit arguments...`.
    static func mpi(_ ranks: Int, _ arguments: [String], launcher: Launcher = .openMPI,
                    whileRunning: (Process) -> Void = { _ in }) throws -> ToolResult {
        try runProgram("/usr/bin/python3", unblockingSignals + launcher.command(ranks: ranks) + [toolPath] + arguments,
                       environment: environment, whileRunning: whileRunning)
    }

    /// Runs the program that follows with no signal blocked: a process the test runner starts inherits its threads'
    /// mask, in which SIGINT is blocked, and mpirun (unlike latentkit) keeps the mask it was started with, so that Ctrl-C
    /// would never reach it.
    static let unblockingSignals = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"]

    /// `mpirun -np ranks sh -c SCRIPT`: for ranks given different arguments ($OMPI_COMM_WORLD_RANK, $LK the tool).
    static func mpiScript(_ ranks: Int, _ script: String) throws -> ToolResult {
        try runProgram("/usr/bin/python3", unblockingSignals + Launcher.openMPI.command(ranks: ranks) + ["sh", "-c", script],
                              environment: environment.merging(["LK": toolPath]) { $1 })
    }

    /// Each epoch's (loss, reconstruction, KL) from a run's metrics.jsonl.
    static func curve(_ run: String) throws -> [[Double]] {
        let text = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return ["loss", "reconstruction", "kl"].map { (object[$0] as! NSNumber).doubleValue }
        }
    }

    /// The largest difference of two curves' terms, each relative to its epoch's loss (a KL near 0, as a collapsed
    /// posterior's, has no relative precision of its own).
    static func largestRelativeDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).flatMap { x, y in zip(x, y).map { abs($0 - $1) / abs(y[0]) } }.max() ?? .infinity
    }

    /// 2,000 images in global batches of 100 for 10 epochs: 200 steps.
    static func trainArguments(_ run: String, backend: String = "cpu", epochs: Int = 10) -> [String] {
        ["train", "--backend", backend, "--limit", "2000", "--batch-size", "100", "--epochs", "\(epochs)", "--out", run]
    }

    static let recipes: [(String, [String], Launcher)] = [
        ("gaussian, cpu", [], .openMPI),
        ("gaussian, opencl", ["--backend", "opencl"], .openMPI),
        ("dirichlet exact (Gamma draws), cpu", ["--latent", "dirichlet", "--dirichlet-approx", "exact"], .openMPI),
        ("concrete 20x10, cpu", ["--latent", "concrete", "--categorical", "20x10"], .openMPI),
        ("gaussian, cpu, MPICH", [], .mpich),
    ]

    @Test(arguments: recipes.indices)
    func twoRanksTrainAsOneProcessAtEqualGlobalBatch(recipe: Int) throws {
        let (name, flags, launcher) = Self.recipes[recipe]
        if flags.contains("opencl") && !TestBackends.others.contains(.opencl) {
            Issue.record("no OpenCL platform: the OpenCL recipe did not run")  // as every OpenCL test fails without one
            return
        }
        let dir = try temporaryDirectory("mpi-curve")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let one = try runTool(Self.trainArguments(dir + "/one") + flags)
        #expect(one.status == 0, "\(one.stderr.suffix(600))")
        let two = try Self.mpi(2, Self.trainArguments(dir + "/two") + flags, launcher: launcher)
        #expect(two.status == 0, "\(two.stdout.suffix(600)) \(two.stderr.suffix(600))")
        #expect(two.stdout.contains("data-parallel over 2 ranks (\(launcher == .mpich ? "MPICH" : "Open MPI")), 50 images each"))
        let a = try Self.curve(dir + "/one"), b = try Self.curve(dir + "/two")
        #expect(a.count == 10 && b.count == 10)
        let difference = Self.largestRelativeDifference(b, a)
        print("data-parallel \(name): largest relative difference of the 2-rank loss curve from one process over 200 steps: \(difference)")
        #expect(difference <= 1e-5, "\(name): \(a.last!) vs \(b.last!)")
        // rank 0 alone wrote the run, and its checkpoint is the global step's
        #expect(try Checkpoint.read(dir + "/two/checkpoint.safetensors").metadata["global_step"] == "200")
    }

    /// Batch normalisation uses each rank's own batch statistics (as PyTorch's DistributedDataParallel without
    /// SyncBatchNorm): the first step's global loss is the sum of what each rank's slice gives alone, which a
    /// synchronised normalisation (or one process) would not give.
    @Test func batchNormalisationStatisticsArePerRank() throws {
        let dir = try temporaryDirectory("mpi-batch-norm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let arguments = ["train", "--backend", "cpu", "--batch-norm", "--limit", "100", "--batch-size", "100", "--epochs", "1"]
        let two = try Self.mpi(2, arguments + ["--out", dir + "/two"])
        #expect(two.status == 0, "\(two.stderr.suffix(600))")
        let one = try runTool(arguments + ["--out", dir + "/one"])
        #expect(one.status == 0, "\(one.stderr.suffix(600))")
        let distributed = try Self.curve(dir + "/two")[0][0], single = try Self.curve(dir + "/one")[0][0]

        let config = try RunConfig.load(from: dir + "/two/config.json")
        let data = try config.loadData(trainLimit: 100, testLimit: 1)
        var sum = 0.0
        for rank in 0..<2 {
            let alone = try Trainer(config: config, backend: CPUBackend.shared, train: data.train, rankSlice: (rank, 2))
            let (reconstruction, kl) = try alone.steps(1, firstBatch: 0)[0]
            sum += reconstruction + kl
        }
        #expect(abs(distributed - sum / 100) <= 1e-5 * abs(distributed), "2 ranks \(distributed), the two slices alone \(sum / 100)")
        #expect(abs(distributed - single) > 1e-5 * abs(single), "per-rank statistics should differ from the whole batch's: \(distributed) vs \(single)")
    }

    /// 5 epochs on 2 ranks, resumed on 1 process to 10: the curve of 10 epochs on one process.
    @Test func resumeWorksWithAnotherNumberOfRanks() throws {
        let dir = try temporaryDirectory("mpi-resume")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Self.mpi(2, Self.trainArguments(dir + "/run", epochs: 5))
        #expect(first.status == 0, "\(first.stderr.suffix(600))")
        let resumed = try runTool(["train", "--resume", dir + "/run", "--backend", "cpu", "--epochs", "10"])
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(600))")
        let whole = try runTool(Self.trainArguments(dir + "/whole"))
        #expect(whole.status == 0)
        let difference = Self.largestRelativeDifference(try Self.curve(dir + "/run"), try Self.curve(dir + "/whole"))
        #expect(difference <= 1e-5, "\(difference)")
    }

    @Test func ranksStartedWithDifferentFlagsStopWithAnErrorOnEveryRank() throws {
        let dir = try temporaryDirectory("mpi-disagree")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let started = Date()
        let result = try Self.mpiScript(2, "exec \"$LK\" train --backend cpu --limit 200 --epochs 1 --seed $((1 + OMPI_COMM_WORLD_RANK)) --out \(dir)/run")
        #expect(result.status != 0)
        for rank in 0..<2 {
            #expect(result.stderr.contains("rank \(rank) of 2 (\(Self.host)): the 2 ranks disagree on the run's configuration (flags) (rank \(rank) on \(Self.host) differs"),
                    "\(result.stderr)")
        }
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(!FileManager.default.fileExists(atPath: dir + "/run/checkpoint.safetensors"))
    }

    @Test func aGlobalBatchThatDoesNotSplitEvenlyIsAnError() throws {
        let dir = try temporaryDirectory("mpi-uneven")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try Self.mpi(2, ["train", "--backend", "cpu", "--limit", "200", "--batch-size", "99", "--out", dir + "/run"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--batch-size 99 does not split evenly over 2 ranks: use a multiple of 2"), "\(result.stderr)")
    }

    /// Rank 1 alone is given a file that is not .npy: it reports why and ends the job, and rank 0, waiting for it in a
    /// collective, does not hang.
    @Test func aRankWithBadDataEndsTheJobWithItsError() throws {
        let dir = try temporaryDirectory("mpi-bad-rank")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = dir + "/good.npy", bad = dir + "/bad.npy"
        try NPY.encode(randomFloats(400 * 16, in: 0...1, seed: 1), shape: [400, 16]).write(to: URL(fileURLWithPath: good))
        try Data("not a numpy file at all".utf8).write(to: URL(fileURLWithPath: bad))
        // the same --data path on both ranks (so the flags agree); rank 1's copy is bad, as a node's stale file would be
        let script = "d=\(dir)/rank$OMPI_COMM_WORLD_RANK; mkdir -p $d; "
            + "if [ $OMPI_COMM_WORLD_RANK = 1 ]; then cp \(bad) $d/x.npy; else cp \(good) $d/x.npy; fi; "
            + "cd $d && exec \"$LK\" train --backend cpu --data x.npy --test-data x.npy --epochs 1 --out \(dir)/run"
        let started = Date()
        let result = try Self.mpiScript(2, script)
        #expect(result.status != 0)
        #expect(result.stderr.contains("rank 1 of 2 (\(Self.host)):") && result.stderr.contains("x.npy"), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 60)
    }

    /// Rank 1 alone finds no OpenCL platform (an empty ICD folder) under `--backend opencl`: it says so and ends the job.
    @Test func aRankWithoutAnOpenCLDeviceEndsTheJobWithItsError() throws {
        let dir = try temporaryDirectory("mpi-no-device")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/no-icd", withIntermediateDirectories: true)
        let script = "if [ $OMPI_COMM_WORLD_RANK = 1 ]; then export OCL_ICD_VENDORS=\(dir)/no-icd; fi; "
            + "exec \"$LK\" train --backend opencl --limit 200 --epochs 1 --out \(dir)/run"
        let started = Date()
        let result = try Self.mpiScript(2, script)
        #expect(result.status != 0)
        #expect(result.stderr.contains("rank 1 of 2 (\(Self.host)):") && result.stderr.lowercased().contains("opencl"), "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 60)
    }

    /// The pid of rank `rank` of the job training into `run` (found by its command line and environment).
    static func pid(ofRank rank: Int, training run: String) throws -> Int32? {
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
            guard let pid = Int32(entry),
                  let commandLine = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: commandLine, as: UTF8.self).contains(run),
                  let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            if environment.split(separator: 0).contains(where: { String(decoding: $0, as: UTF8.self) == "OMPI_COMM_WORLD_RANK=\(rank)" }) {
                return pid
            }
        }
        return nil
    }

    /// Waits (up to `seconds`) until `path` exists.
    static func waitFor(_ path: String, seconds: Double = 120) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: path) { return true }
            usleep(50_000)
        }
        return false
    }

    /// SIGKILL of rank 1 mid-epoch: the job ends within 60 s, the last checkpoint (an epoch's) is whole, and one process
    /// resumes it.
    @Test func aKilledRankEndsTheJobAndTheLastCheckpointResumes() throws {
        let dir = try temporaryDirectory("mpi-kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        var killedAt: Date?
        let result = try Self.mpi(2, ["train", "--backend", "cpu", "--limit", "2000", "--epochs", "1000", "--out", run]) { _ in
            guard Self.waitFor(run + "/checkpoint.safetensors") else { return }
            usleep(100_000)  // into the next epoch
            if let pid = try? Self.pid(ofRank: 1, training: run) {
                kill(pid, SIGKILL)
                killedAt = Date()
            }
        }
        let killed = try #require(killedAt, "rank 1 was not found")
        #expect(result.status != 0)
        #expect(Date().timeIntervalSince(killed) < 60)
        #expect(result.stdout.contains("rank 1") || result.stderr.contains("rank 1"), "\(result.stderr.suffix(800))")
        let kept = try Checkpoint.read(run + "/checkpoint.safetensors")
        let epoch = try #require(kept.metadata["epoch"].flatMap(Int.init))
        #expect(epoch >= 1 && kept.metadata["step_in_epoch"] == "0")
        let resumed = try runTool(["train", "--resume", run, "--backend", "cpu", "--epochs", "\(epoch + 1)"])
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(600))")
        #expect(try Self.curve(run).count == epoch + 1)
    }

    /// The gradients sent in buckets while the backward pass runs give the single exchange after it bit for bit: the
    /// final parameters and Adam moments of 2 ranks are equal with one bucket (LATENTKIT_MPI_BUCKET=0), the default
    /// buckets and a bucket per hand-over, on both backends and under MPICH.
    @Test(arguments: [("cpu", Launcher.openMPI), ("opencl", .openMPI), ("cpu", .mpich)])
    func bucketedExchangeEqualsTheSingleExchangeBitForBit(backend: String, launcher: Launcher) throws {
        if backend == "opencl" && !TestBackends.others.contains(.opencl) {
            Issue.record("no OpenCL platform: the OpenCL case did not run")
            return
        }
        let dir = try temporaryDirectory("mpi-buckets")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var tensors: [[String: Checkpoint.Entry]] = []
        var buckets: [String] = []
        for setting in ["0", "16384", "1"] {
            let run = "\(dir)/bucket-\(setting)"
            let result = try runProgram("/usr/bin/python3", Self.unblockingSignals + launcher.command(ranks: 2)
                                            + [toolPath] + Self.trainArguments(run, backend: backend, epochs: 2),
                                        environment: Self.environment.merging(["LATENTKIT_MPI_BUCKET": setting]) { $1 })
            try #require(result.status == 0, "\(result.stderr.suffix(600))")
            tensors.append(try Checkpoint.read(run + "/checkpoint.safetensors").tensors)
            let tail = result.stdout.components(separatedBy: "floats in ").last ?? ""
            buckets.append(String(tail.prefix(while: { $0 != ")" })))
        }
        #expect(buckets[0] == "1 bucket" && buckets[1] != "1 bucket" && buckets[2] != "1 bucket", "\(buckets)")
        #expect(tensors[0] == tensors[1] && tensors[0] == tensors[2], "buckets \(buckets): the parameters differ")
    }

    /// A rank that stops answering (SIGSTOP: a hung node; a cut link looks the same to the others) ends the job within
    /// LATENTKIT_MPI_TIMEOUT: the rank left waiting in the collective says so in one line naming itself.
    @Test func aRankThatStopsAnsweringEndsTheJobWithinTheTimeout() throws {
        let dir = try temporaryDirectory("mpi-stop")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        var stoppedAt: Date?
        let result = try runProgram("/usr/bin/python3", Self.unblockingSignals + Launcher.openMPI.command(ranks: 2)
                                        + [toolPath, "train", "--backend", "cpu", "--limit", "2000", "--epochs", "1000", "--out", run],
                                    environment: Self.environment.merging(["LATENTKIT_MPI_TIMEOUT": "3"]) { $1 }) { _ in
            guard Self.waitFor(run + "/checkpoint.safetensors") else { return }
            if let pid = try? Self.pid(ofRank: 1, training: run) {
                kill(pid, SIGSTOP)
                stoppedAt = Date()
            }
        }
        let stopped = try #require(stoppedAt, "rank 1 was not found")
        let seconds = Date().timeIntervalSince(stopped)
        #expect(result.status != 0)
        #expect(seconds >= 3 && seconds < 60, "ended \(seconds) s after rank 1 stopped")
        #expect(result.stderr.contains("Error: rank 0 (") && result.stderr.contains("more than LATENTKIT_MPI_TIMEOUT=3 s"),
                "\(result.stderr.suffix(800))")
        #expect(try Checkpoint.read(run + "/checkpoint.safetensors").verified)
    }

    /// Ctrl-C on mpirun (which sends every rank SIGTERM): the ranks agree on a step, rank 0 saves one checkpoint there,
    /// and `--resume` continues from it.
    @Test func ctrlCOnMpirunSavesOneCheckpointAtAnAgreedStep() throws {
        let dir = try temporaryDirectory("mpi-interrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let result = try Self.mpi(2, ["train", "--backend", "cpu", "--limit", "2000", "--epochs", "30", "--out", run]) { process in
            guard Self.waitFor(run + "/checkpoint.safetensors") else { return }
            usleep(100_000)
            kill(process.processIdentifier, SIGINT)
        }
        #expect(result.status != 0)
        let lines = result.stdout.components(separatedBy: "interrupted at epoch")
        #expect(lines.count == 2, "one interruption line, from rank 0: \(result.stdout.suffix(800))")
        let kept = try Checkpoint.read(run + "/checkpoint.safetensors")
        let epoch = try #require(kept.metadata["epoch"].flatMap(Int.init))
        let resumed = try runTool(["train", "--resume", run, "--backend", "cpu", "--epochs", "\(epoch + 1)"])
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(600))")
        #expect(resumed.stdout.contains("resuming \(run) at epoch \(epoch + 1), step \(kept.metadata["step_in_epoch"]!)"))
    }

    /// One `latentkit` serves both uses: it loads MPI at run time and has no link-time dependency on it, so it starts on
    /// a GPU node without MPI.
    @Test func theExecutableDoesNotLinkMPI() throws {
        let result = try runProgram("/usr/bin/readelf", ["-d", toolPath])
        #expect(result.status == 0)
        let needed = result.stdout.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(!needed.isEmpty && !needed.contains { $0.lowercased().contains("mpi") }, "\(needed)")
    }

    /// `eval` on 2 ranks: each importance-samples half of the images (51 and 50), and the report is one process's,
    /// number for number.
    @Test func evalOnTwoRanksReportsWhatOneProcessReports() throws {
        let dir = try temporaryDirectory("mpi-eval")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trained = try runTool(["train", "--backend", "cpu", "--limit", "1000", "--epochs", "1", "--out", dir + "/run"])
        #expect(trained.status == 0)
        let arguments = ["eval", dir + "/run", "--backend", "cpu", "--k", "200", "--limit", "101", "--json"]
        // one thread, as each of the two ranks on two cores has: the CPU backend's unit activity sums in per-thread
        // chunks, so its last digits depend on the thread count (not on the ranks)
        let one = try runTool(arguments, environment: ["LATENTKIT_THREADS": "1"]), two = try Self.mpi(2, arguments)
        #expect(one.status == 0 && two.status == 0, "\(two.stderr.suffix(600))")
        #expect(!one.stdout.isEmpty && two.stdout == one.stdout, "\(two.stdout) vs \(one.stdout)")
    }
}
