// `latentkit encode` and `latentkit analyze` as a user runs them, and their errors for bad input.

import Foundation
import LatentKit
import Testing
import TestSupport

/// Writes IDX files of `count` `side × side` images (pixel (i + j) % 256) and labels i % 10 into `directory`.
func writeIDX(to directory: String, side: Int, count: Int) throws {
    func header(_ magic: UInt32, _ dims: [Int]) -> [UInt8] {
        ([magic] + dims.map(UInt32.init)).flatMap { v in [24, 16, 8, 0].map { UInt8((v >> $0) & 0xFF) } }
    }
    let pixels = (0..<(count * side * side)).map { UInt8($0 % 256) }
    for split in ["train", "t10k"] {
        try Data(header(0x0803, [count, side, side]) + pixels).write(to: URL(fileURLWithPath: "\(directory)/\(split)-images-idx3-ubyte"))
        try Data(header(0x0801, [count]) + (0..<count).map { UInt8($0 % 10) })
            .write(to: URL(fileURLWithPath: "\(directory)/\(split)-labels-idx1-ubyte"))
    }
}

@Suite struct AnalysisCommandTests {
    /// One tiny trained run (1 epoch on 1,000 images, ~3 s) serves all three parts.
    @Test(arguments: TestBackends.all)
    func trainEncodeAnalyzeAndBadInput(kind: BackendKind) throws {
        let dir = try temporaryDirectory("cli-analysis")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let train = try runTool(["train", "--backend", kind.rawValue, "--epochs", "1", "--limit", "1000", "--out", run])
        try #require(train.status == 0, "\(train.stderr)")
        try encodeWritesCodesThatNumpyReads(run: run, out: dir + "/codes", kind: kind)
        try analyzeWritesTheJSONTheReportReads(run: run, kind: kind)
        try badInputIsAClearErrorAndANonZeroExit(run: run, dir: dir, kind: kind)
    }

    func encodeWritesCodesThatNumpyReads(run: String, out: String, kind: BackendKind) throws {
        let result = try runTool(["encode", run, "--backend", kind.rawValue, "--limit", "700", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("700 train and 700 test codes (mean, 20 values each)"), "\(result.stdout)")
        let check = """
            import numpy as np, sys, csv
            d = sys.argv[1]
            for split in ('train', 'test'):
                codes = np.load(f'{d}/{split}_codes.npy'); labels = np.load(f'{d}/{split}_labels.npy')
                assert codes.dtype == np.dtype('<f4') and codes.shape == (700, 20), (codes.dtype, codes.shape)
                assert labels.dtype == np.dtype('<i4') and labels.shape == (700,), (labels.dtype, labels.shape)
                assert np.isfinite(codes).all() and codes.std(0).max() > 0.05
                rows = list(csv.reader(open(f'{d}/{split}.csv')))
                assert rows[0] == ['label'] + [f'z{j}' for j in range(20)], rows[0]
                table = np.array(rows[1:], dtype=np.float64)
                assert table.shape == (700, 21) and (table[:, 0] == labels).all()
                assert (table[:, 1:].astype(np.float32) == codes).all()
            assert np.load(f'{d}/test_labels.npy')[:5].tolist() == [7, 2, 1, 0, 4]  # the first MNIST test labels
            print('ok')
            """
        let read = try python(check, out)
        #expect(read.status == 0 && read.output == "ok", "\(read.output)")
    }

    func analyzeWritesTheJSONTheReportReads(run: String, kind: BackendKind) throws {
        let result = try runTool(["analyze", run, "--backend", kind.rawValue, "--limit-train", "2000", "--limit-test", "500"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("k=2") && result.stdout.contains("LDA") && result.stdout.contains("active units:"), "\(result.stdout)")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/analysis.json"))) as? [String: Any] ?? [:]
        for key in ["run", "family", "latent_size", "code", "train_images", "test_images", "active_units", "pca", "classification"] {
            #expect(json[key] != nil, "analysis.json lacks \(key)")
        }
        #expect(json["family"] as? String == "gaussian" && json["code"] as? String == "mean" && json["latent_size"] as? Int == 20)
        #expect(json["train_images"] as? Int == 2000 && json["test_images"] as? Int == 500)
        let active = json["active_units"] as? [String: Any] ?? [:]
        #expect((active["activity"] as? [Double])?.count == 20 && active["threshold"] as? Double == 0.01 && active["count"] is Int)
        let pca = json["pca"] as? [String: Any] ?? [:]
        let ratios = pca["explained_variance_ratio"] as? [Double] ?? []
        #expect((pca["explained_variance"] as? [Double])?.count == 20 && ratios.count == 20 && abs(ratios.reduce(0, +) - 1) < 1e-9)
        #expect((1...20).contains(pca["components_for_95"] as? Int ?? 0))
        let classification = json["classification"] as? [String: Any] ?? [:]
        #expect(classification["distance"] as? String == "euclidean")
        let knn = classification["knn"] as? [String: Double] ?? [:]
        #expect(Set(knn.keys) == ["2", "5", "10"])
        // one epoch on 1,000 images already separates digits far better than chance (90% error)
        for error in Array(knn.values) + [classification["logistic_regression"], classification["lda"]].compactMap({ $0 as? Double }) {
            #expect(error > 0 && error < 0.6, "\(classification)")
        }
        #expect((classification["logistic_regression"] as? Double) != nil && (classification["lda"] as? Double) != nil)
    }

    func badInputIsAClearErrorAndANonZeroExit(run: String, dir: String, kind: BackendKind) throws {
        // a run directory with its configuration but no checkpoint
        try FileManager.default.createDirectory(atPath: dir + "/no-checkpoint", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: run + "/config.json", toPath: dir + "/no-checkpoint/config.json")
        // a dataset of 10x10 images, not the model's 28x28
        try FileManager.default.createDirectory(atPath: dir + "/small", withIntermediateDirectories: true)
        try writeIDX(to: dir + "/small", side: 10, count: 30)
        let cases: [([String], String)] = [
            (["encode", dir + "/no-checkpoint"], "checkpoint.safetensors is missing"),
            (["analyze", dir + "/no-checkpoint"], "checkpoint.safetensors is missing"),
            (["analyze", run, "--data-dir", dir + "/small"], "dataset mismatch: the images have 10x10 = 100 pixels, the model takes 784"),
            (["encode", run, "--data-dir", dir + "/small"], "dataset mismatch"),
            (["analyze", run, "--limit-train", "5", "--limit-test", "20"], "k = 10 nearest neighbours need at least 10 training images, got 5"),
            (["analyze", run, "--limit-train", "50", "--neighbours", "2,60"], "k = 60 nearest neighbours need at least 60 training images, got 50"),
            (["analyze", run, "--neighbours", "2,x"], "--neighbours takes positive counts"),
            (["analyze", run, "--neighbours", "0"], "--neighbours takes positive counts"),
            (["analyze", run, "--neighbours", "2,,5"], "--neighbours takes positive counts"),
            (["analyze", run, "--limit-train", "0"], "--limit-train must be >= 1"),
            (["analyze", run, "--limit-test=-3"], "--limit-test must be >= 1"),
            (["encode", run, "--limit", "0"], "--limit must be >= 1"),
            (["encode", run, "--limit", "10", "--out", "/etc/passwd/codes"], "cannot write the codes to /etc/passwd/codes"),
            (["analyze", "/tmp"], "is not a LatentKit run directory"),
        ]
        for (arguments, message) in cases {
            let result = try runTool(arguments + ["--backend", kind.rawValue])
            #expect(result.status != 0 && result.status < 128, "\(arguments): status \(result.status)")
            #expect(result.stderr.contains(message), "\(arguments): stderr \(result.stderr)")
            #expect(result.stderr.hasPrefix("Error: ") && result.stderr.split(separator: "\n").count <= 3, "\(arguments): \(result.stderr)")
        }
    }
}
