// Users' own data: the .npy reader on files NumPy wrote (Data/npy, from Data/make_npy_files.py), broken files, the
// held-out split, and `latentkit train --data` end to end with the run's other commands and its bad inputs.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct ArrayDataTests {
    static func fixture(_ name: String) -> String { testDataPath("npy/\(name)") }
    /// The values every floating-point fixture holds: (arange(12) - 5.5) / 4 as a 3 × 4 array.
    static let values: [Float] = (0..<12).map { (Float($0) - 5.5) / 4 }

    @Test(arguments: ["v1_f4.npy", "v1_f8.npy", "v2_f8.npy", "v3_f4.npy"])
    func readsFloatingPointFilesOfEveryVersion(name: String) throws {
        let array = try NPY.read(Self.fixture(name))
        #expect(array.shape == [3, 4] && array.values == Self.values && !array.isInteger)
    }

    @Test func readsBytesAndIntegers() throws {
        let bytes = try NPY.read(Self.fixture("v1_u1_3d.npy"))
        #expect(bytes.shape == [2, 3, 3] && bytes.values == (0..<18).map(Float.init) && bytes.isInteger)
        let ints = try NPY.read(Self.fixture("v1_i4.npy"))
        #expect(ints.shape == [3, 4] && ints.values == (0..<12).map(Float.init))
        let labels = try NPY.read(Self.fixture("labels_i8.npy"))
        #expect(labels.shape == [3] && labels.values == [3, 0, 7])
    }

    /// (file, text the one-line error must contain)
    static let refused: [(String, String)] = [
        ("fortran_f4.npy", "Fortran order"), ("big_endian_f4.npy", "big-endian element type '>f4' is not supported"),
        ("complex.npy", "element type '<c8' is not supported"),
    ]

    @Test(arguments: 0..<refused.count)
    func unsupportedLayoutsAreRefusedClearly(index: Int) throws {
        let (name, message) = Self.refused[index]
        #expect {
            _ = try NPY.read(Self.fixture(name))
        } throws: { error in
            "\(error)".contains(message) && "\(error)".contains(name) && !"\(error)".contains("\n")
        }
    }

    /// Broken copies of a valid file: each refused with a one-line error, before any allocation the file's size cannot pay for.
    @Test func brokenFilesAreClearErrors() throws {
        let dir = try temporaryDirectory("npy-broken")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture("v1_f4.npy"))))
        let header = String(decoding: good[10..<(good.count - 48)], as: UTF8.self)
        func variant(_ newHeader: String) -> [UInt8] {
            var padded = Array(newHeader.utf8)
            while (10 + padded.count + 1) % 64 != 0 { padded.append(0x20) }
            padded.append(0x0A)
            return Array(good[0..<8]) + [UInt8(padded.count & 255), UInt8(padded.count >> 8)] + padded + good.suffix(48)
        }
        let cases: [(String, [UInt8], String)] = [
            ("truncated data", Array(good.dropLast(4)), "needs 48 data bytes, the file has 44"),
            ("extra data", good + [0, 0, 0, 0], "needs 48 data bytes, the file has 52"),
            ("no magic", Array("hello world, not numpy".utf8), "not a NumPy .npy file"),
            ("huge shape", variant(header.replacingOccurrences(of: "(3, 4)", with: "(4294967295, 4294967295, 4294967295)")), "declares more than"),
            ("negative shape", variant(header.replacingOccurrences(of: "(3, 4)", with: "(3, -4)")), "malformed .npy header"),
            ("unknown key", variant(header.replacingOccurrences(of: "'shape'", with: "'shoe'")), "unknown key 'shoe'"),
            ("header longer than the file", Array(good[0..<8]) + [0xFF, 0x7F] + Array(good[10..<40]), "truncated .npy header"),
            ("version 9", Array(good[0..<6]) + [9, 0] + Array(good[8...]), "format version 9.0 is not supported"),
        ]
        for (name, bytes, message) in cases {
            let path = "\(dir)/\(name.replacingOccurrences(of: " ", with: "_")).npy"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect {
                _ = try NPY.read(path)
            } throws: { error in
                "\(error)".contains(message) && "\(error)".contains(path) && !"\(error)".contains("\n")
            }
        }
        #expect(try NPY.read(Self.fixture("v1_f4.npy")).values == Self.values)  // the variants' source is good
    }

    /// The held-out split: the fraction asked for, disjoint and complete, the same for a seed and different across seeds,
    /// each part in the file's order.
    @Test func theTestSplitIsDeterministicForASeed() throws {
        let dir = try temporaryDirectory("npy-split")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = 50, path = dir + "/x.npy"
        try NPY.encode((0..<n).flatMap { [Float($0), -Float($0)] }, shape: [n, 2]).write(to: URL(fileURLWithPath: path))
        func split(_ seed: UInt32) throws -> (train: [Float], test: [Float]) {
            let d = try Dataset(files: DataFiles(train: path, testFraction: 0.2), seed: seed)
            return (stride(from: 0, to: d.train.pixels.count, by: 2).map { d.train.pixels[$0] },
                    stride(from: 0, to: d.test.pixels.count, by: 2).map { d.test.pixels[$0] })
        }
        let a = try split(1), b = try split(1), c = try split(2)
        #expect(a.test.count == 10 && a.train.count == 40)
        #expect(Set(a.train + a.test) == Set((0..<n).map(Float.init)))
        #expect(a.train == a.train.sorted() && a.test == a.test.sorted())
        #expect(a == b && a.test != c.test)
    }

    /// `train --data` on MNIST pictures saved as .npy (with labels), then the run's eval, analyze and plots without being
    /// told the data again; and a real-valued N × D file, which gets the Gaussian likelihood.
    @Test(arguments: TestBackends.all)
    func trainOnOwnDataAndUseTheRun(kind: BackendKind) throws {
        let dir = try temporaryDirectory("npy-train")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mnist = try mnist(trainLimit: 300, testLimit: 1).train
        try NPY.encode(mnist.pixels, shape: [300, 28, 28]).write(to: URL(fileURLWithPath: dir + "/pictures.npy"))
        try NPY.encode(mnist.labels.map(Int32.init), shape: [300]).write(to: URL(fileURLWithPath: dir + "/labels.npy"))
        let run = dir + "/run"
        let train = try runTool(["train", "--backend", kind.rawValue, "--data", dir + "/pictures.npy", "--labels", dir + "/labels.npy",
                                 "--epochs", "1", "--out", run])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("pictures.npy, 270 images"), "\(train.stdout)")
        let config = try RunConfig.load(from: run + "/config.json")
        #expect(config.data == DataFiles(train: dir + "/pictures.npy", trainLabels: dir + "/labels.npy", testFraction: 0.1))
        #expect(config.model.likelihood == .bernoulli && config.model.inputSize == 784)
        let eval = try runTool(["eval", run, "--backend", kind.rawValue, "--k", "5", "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(eval.status == 0 && json["images"] as? Int == 30, "\(eval.stderr)")
        // eval on other files: the first 30 training pictures as a test set, and a file of the wrong width
        try NPY.encode(Array(mnist.pixels.prefix(30 * 784)), shape: [30, 784]).write(to: URL(fileURLWithPath: dir + "/other.npy"))
        let other = try runTool(["eval", run, "--backend", kind.rawValue, "--k", "0", "--data", dir + "/other.npy", "--limit", "20", "--json"])
        let otherJSON = try JSONSerialization.jsonObject(with: Data(other.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(other.status == 0 && otherJSON["images"] as? Int == 20, "\(other.stderr)")
        try NPY.encode([Float](repeating: 0.5, count: 30), shape: [10, 3]).write(to: URL(fileURLWithPath: dir + "/narrow.npy"))
        let narrow = try runTool(["eval", run, "--backend", kind.rawValue, "--k", "0", "--data", dir + "/narrow.npy"])
        #expect(narrow.status == 1 && narrow.stderr.contains("the model takes 784"), "\(narrow.stderr)")
        let analyze = try runTool(["analyze", run, "--backend", kind.rawValue, "--neighbours", "2"])
        #expect(analyze.status == 0, "\(analyze.stderr)")
        let plots = try runTool(["plots", run, "--backend", kind.rawValue, "--tsne-points", "30"])
        #expect(plots.status == 0 && plots.stdout.contains("reconstructions.png"), "\(plots.stderr)")

        var state: UInt64 = 7
        let real = (0..<(200 * 6)).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2000) / 500 - 2
        }
        try NPY.encode(real, shape: [200, 6]).write(to: URL(fileURLWithPath: dir + "/real.npy"))
        let realRun = dir + "/real-run"
        let realTrain = try runTool(["train", "--backend", kind.rawValue, "--data", dir + "/real.npy", "--test-fraction", "0.25", "--epochs", "2",
                                     "--latent-size", "2", "--hidden", "16", "--out", realRun])
        #expect(realTrain.status == 0, "\(realTrain.stderr)")
        let realConfig = try RunConfig.load(from: realRun + "/config.json")
        #expect(realConfig.model.likelihood == .gaussian && realConfig.model.inputSize == 6)
        let metrics = try RunDirectory(realRun).readMetrics()
        #expect(metrics.count == 2 && metrics.allSatisfy { ($0["loss"] as? Double)?.isFinite == true })
        let realPlots = try runTool(["plots", realRun, "--backend", kind.rawValue, "--tsne-points", "30"])
        #expect(realPlots.status == 0 && realPlots.stdout.contains("not square pictures"), "\(realPlots.stderr)")
        let noLabels = try runTool(["analyze", realRun, "--backend", kind.rawValue])
        #expect(noLabels.status == 1 && noLabels.stderr.contains("has no labels"), "\(noLabels.stderr)")
        // real values trained as Gaussian say so; codes of unlabelled data come without made-up labels
        #expect(realTrain.stdout.contains("neither in [0, 1] nor a count: training with the Gaussian likelihood"), "\(realTrain.stdout)")
        let encoded = try runTool(["encode", realRun, "--backend", kind.rawValue, "--out", dir + "/codes"])
        #expect(encoded.status == 0 && encoded.stdout.contains("no labels in the train and test data"), "\(encoded.stdout) \(encoded.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/codes/train_labels.npy")
                && FileManager.default.fileExists(atPath: dir + "/codes/train_codes.npy"))
        #expect(try String(contentsOfFile: dir + "/codes/test.csv", encoding: .utf8).hasPrefix("z0,z1\n"))
    }

    /// Bad data is a one-line error before training starts (and no run directory is made).
    /// Fitting to data picks the likelihood from the values and, for bags of words, gives a Dirichlet's decoder the topic
    /// proportions (ProdLDA) unless told otherwise; the same from Swift as from the command line.
    @Test func fittingPicksTheLikelihoodAndTheDecoderInput() throws {
        func images(_ pixels: [Float]) throws -> LabelledImages {
            try LabelledImages(count: 2, rows: 1, cols: 3, pixels: pixels, labels: [0, 0], isLabelled: false)
        }
        var config = ModelConfig()
        config.latent = .dirichlet
        try config.fit(to: images([0, 0.5, 1, 1, 0, 0.25]), from: "grey.npy")
        #expect(config.likelihood == .bernoulli && config.inputSize == 3)
        #expect(config.dirichletDecoderInput == .centredLogRatio)
        try config.fit(to: images([0, 3, 1, 7, 0, 2]), from: "counts.npy")
        #expect(config.likelihood == .multinomial && config.dirichletDecoderInput == .simplex)
        try config.fit(to: images([0, 3, 1, 7, 0, 2]), from: "counts.npy", decoderInput: .centredLogRatio)
        #expect(config.dirichletDecoderInput == .centredLogRatio)
        try config.fit(to: images([-1.5, 3, 1, 7, 0, 2]), from: "real.npy")
        #expect(config.likelihood == .gaussian && config.dirichletDecoderInput == .centredLogRatio)
    }

    @Test func badDataIsRefusedBeforeTraining() throws {
        let dir = try temporaryDirectory("npy-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func write(_ name: String, _ values: [Float], _ shape: [Int]) throws -> String {
            let path = "\(dir)/\(name).npy"
            try NPY.encode(values, shape: shape).write(to: URL(fileURLWithPath: path))
            return path
        }
        var withNaN = [Float](repeating: 0.5, count: 40)
        withNaN[13] = .nan
        let nan = try write("nan", withNaN, [10, 4])
        var withInfinity = [Float](repeating: 0.5, count: 40)
        withInfinity[38] = -.infinity
        let infinite = try write("infinite", withInfinity, [10, 4])
        let real = try write("real", (0..<40).map { Float($0) / 10 - 2 }, [10, 4])
        let counts = try write("counts", (0..<40).map { Float($0 % 5) }, [10, 4])
        let vector = try write("vector", [0.5, 0.5], [2])
        let sixLabels = try write("labels", [0, 1, 2, 3, 4, 5], [6])
        let otherWidth = try write("other", [Float](repeating: 0.5, count: 15), [5, 3])
        // every split of count data is checked, not only the training file, and a count must be one float32 holds exactly
        let negativeCount = try write("negative-count", (0..<40).map { $0 == 22 ? -1 : Float($0 % 5) }, [10, 4])
        let hugeCount = try write("huge-count", (0..<40).map { $0 == 6 ? 1e30 : Float($0 % 5) }, [10, 4])
        let repeatedWord = "\(dir)/vocabulary.txt"
        try "a\nb\nc\nb\n".write(toFile: repeatedWord, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--data", nan], "item 3, feature 1 is nan"),
            (["--data", infinite], "item 9, feature 2 is -inf"),
            (["--data", real, "--likelihood", "bernoulli"], "item 0, feature 0 is -2.0, outside [0, 1]"),
            (["--data", real, "--likelihood", "multinomial"], "item 0, feature 0 is -2.0; the multinomial likelihood needs non-negative integer counts"),
            (["--likelihood", "multinomial"], "pass them with --data COUNTS.npy"),
            (["--data", counts, "--decoder-hidden", "0"], "--decoder-hidden takes positive sizes"),
            (["--data", vector], "must be N items × D features"),
            (["--data", real, "--labels", sixLabels], "has 6 labels but"),
            (["--data", real, "--test-data", otherWidth], "has 3 features per item but"),
            (["--data", real, "--test-fraction", "0.99"], "too few to hold out"),
            (["--data", dir + "/missing.npy"], "no such file"),
            (["--data", real, "--dataset", "mnist"], "--data replaces --dataset"),
            (["--labels", sixLabels], "apply to --data only"),
            (["--data", counts, "--test-data", negativeCount], "negative-count.npy: item 5, feature 2 is -1.0; the multinomial likelihood needs"),
            (["--data", hugeCount, "--likelihood", "multinomial"], "item 1, feature 2 is 1e+30; the multinomial likelihood needs non-negative integer counts of at most 16777216"),
            (["--data", counts, "--vocabulary", repeatedWord], "line 4 repeats the word 'b' of line 2"),
        ]
        for (arguments, message) in cases {
            let result = try runTool(["train", "--backend", "cpu", "--out", dir + "/run"] + arguments)
            #expect(result.status != 0 && result.status < 128 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/run"), "\(arguments) made a run directory")
        }
    }
}
