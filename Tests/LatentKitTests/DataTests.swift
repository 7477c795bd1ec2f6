// IDX reading and validation, on real MNIST and on broken files.

import Foundation
import LatentKit
import Testing
import TestSupport

@Suite struct DataTests {
    @Test func realMNISTLoads() throws {
        let data = try mnist()
        #expect(data.train.count == 60_000 && data.test.count == 10_000)
        #expect(data.train.rows == 28 && data.train.cols == 28)
        #expect(data.train.labels.allSatisfy { $0 < 10 } && data.test.labels.allSatisfy { $0 < 10 })
        #expect(Array(data.train.labels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        #expect(data.train.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
        let mean = data.test.pixels.reduce(0, +) / Float(data.test.pixels.count)
        #expect(abs(mean - 0.1325) < 0.005, "mean test intensity \(mean)")
    }

    func idx(magic: UInt32, dims: [UInt32], payload: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for v in [magic] + dims { bytes += [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
        return bytes + [UInt8](repeating: 7, count: payload)
    }

    func write(_ bytes: [UInt8], _ dir: String, _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
    }

    /// (images, labels, expected error text)
    static let broken: [(String, [UInt8]?, [UInt8]?, String)] = [
        ("wrong magic", nil, nil, "wrong magic number"),
        ("truncated images", nil, nil, "truncated or corrupt"),
        ("label count", nil, nil, "labels but"),
        ("corrupt gzip", nil, nil, "corrupt"),
        ("missing", nil, nil, "not found"),
    ]

    @Test(arguments: 0..<5)
    func brokenFilesAreClearErrors(index: Int) throws {
        let dir = try temporaryDirectory("idx")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = idx(magic: 0x803, dims: [3, 2, 2], payload: 12), labels = idx(magic: 0x801, dims: [3], payload: 3)
        for split in ["train", "t10k"] {
            try write(good, dir, "\(split)-images-idx3-ubyte")
            try write(labels, dir, "\(split)-labels-idx1-ubyte")
        }
        switch index {
        case 0: try write(idx(magic: 0x801, dims: [3, 2, 2], payload: 12), dir, "train-images-idx3-ubyte")
        case 1: try write(idx(magic: 0x803, dims: [3, 2, 2], payload: 11), dir, "train-images-idx3-ubyte")
        case 2: try write(idx(magic: 0x801, dims: [4], payload: 4), dir, "t10k-labels-idx1-ubyte")
        case 3:
            try FileManager.default.removeItem(atPath: "\(dir)/train-images-idx3-ubyte")
            try write([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0xAB, count: 40), dir, "train-images-idx3-ubyte.gz")
        default: try FileManager.default.removeItem(atPath: "\(dir)/t10k-images-idx3-ubyte")
        }
        do {
            _ = try Dataset(.mnist, directory: dir)
            Issue.record("case \(Self.broken[index].0) loaded")
        } catch let error as DataError {
            #expect(error.description.contains(Self.broken[index].3), "\(Self.broken[index].0): \(error)")
        }
        if index == 0 {  // the same files minus the breakage load
            try write(good, dir, "train-images-idx3-ubyte")
            let d = try Dataset(.mnist, directory: dir)
            #expect(d.train.count == 3 && d.train.pixels[0] == 7 / 255)
        }
    }

    /// A header whose dimensions multiply past Int (three of 0xFFFFFFFF: the SIGILL of issue 12) or past the 16 GiB bound
    /// is a one-line error naming the file, before anything is allocated; so is a file with bytes beyond the declared data.
    @Test(arguments: [([UInt32.max, UInt32.max, UInt32.max], "declare more than"), ([1 << 16, 1 << 16, 1 << 8], "declare more than"),
                      ([3, 2, 2], "more than 12 data bytes")])
    func impossibleHeadersAreRefused(dims: [UInt32], message: String) throws {
        let dir = try temporaryDirectory("idx-huge")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let labels = idx(magic: 0x801, dims: [3], payload: 3)
        for split in ["train", "t10k"] {
            try write(idx(magic: 0x803, dims: dims, payload: 13), dir, "\(split)-images-idx3-ubyte")
            try write(labels, dir, "\(split)-labels-idx1-ubyte")
        }
        #expect {
            _ = try Dataset(.mnist, directory: dir)
        } throws: { error in
            (error as? DataError)?.description.contains(message) == true && "\(error)".contains("train-images-idx3-ubyte")
        }
        let result = try runTool(["train", "--backend", "cpu", "--data-dir", dir, "--out", dir + "/run"])
        #expect(result.status == 1 && result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
    }

    /// Images of another size than the model takes, for a new run and for a resumed one, and a label file of another count
    /// than its images: one line, exit 1, before training starts (no run directory is made for the new run). Pixels of
    /// IDX files are bytes, scaled to [0, 1], so NaN, infinities and values outside [0, 1] cannot come from them.
    @Test func dataThatDoesNotFitTheModelIsRefusedBeforeTraining() throws {
        let dir = try temporaryDirectory("idx-size")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for split in ["train", "t10k"] {
            try write(idx(magic: 0x803, dims: [3, 2, 2], payload: 12), dir, "\(split)-images-idx3-ubyte")
            try write(idx(magic: 0x801, dims: [3], payload: 3), dir, "\(split)-labels-idx1-ubyte")
        }
        let fresh = try runTool(["train", "--backend", "cpu", "--data-dir", dir, "--out", dir + "/fresh"])
        #expect(fresh.status == 1 && fresh.stderr.contains("the dataset has 4 pixels per image, the model expects 784"), "\(fresh.stderr)")
        #expect(fresh.stderr.split(separator: "\n").count == 1 && !FileManager.default.fileExists(atPath: dir + "/fresh"))

        let run = dir + "/mnist-run"
        #expect(try runTool(["train", "--backend", "cpu", "--limit", "100", "--epochs", "1", "--out", run]).status == 0)
        let resumed = try runTool(["train", "--resume", run, "--epochs", "2", "--backend", "cpu", "--data-dir", dir])
        #expect(resumed.status == 1 && resumed.stderr.contains("the dataset has 4 pixels per image, the model expects 784"), "\(resumed.stderr)")
        #expect(try RunDirectory(run).readMetrics().count == 1)

        try write(idx(magic: 0x801, dims: [2], payload: 2), dir, "train-labels-idx1-ubyte")
        let labels = try runTool(["train", "--backend", "cpu", "--data-dir", dir, "--out", dir + "/labels"])
        #expect(labels.status == 1 && labels.stderr.contains("has 2 labels but") && labels.stderr.contains("has 3 images"), "\(labels.stderr)")
    }
}
