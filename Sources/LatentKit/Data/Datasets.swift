// Named datasets and where their files live.

import Foundation

public enum DatasetName: String, CaseIterable, Codable, Sendable {
    case mnist
    case fashionMNIST = "fashion-mnist"

    /// Where `scripts/setup.sh` puts the files: `data/mnist` (fetched) and Debian's dataset-fashion-mnist package.
    public var defaultDirectory: String {
        switch self {
        case .mnist: return "data/mnist"
        case .fashionMNIST: return "/usr/share/datasets/fashion-mnist"
        }
    }
}

/// The training and test splits of a dataset.
public struct Dataset: Sendable {
    /// The dataset's name, or its training file's.
    public let name: String
    public let train: LabelledImages
    public let test: LabelledImages

    public init(name: String, train: LabelledImages, test: LabelledImages) {
        self.name = name
        self.train = train
        self.test = test
    }

    /// Loads `name` from `directory` (standard file names, `.gz` or not). `trainLimit` keeps the first images only.
    public init(_ name: DatasetName, directory: String? = nil, trainLimit: Int? = nil, testLimit: Int? = nil) throws {
        let dir = directory ?? name.defaultDirectory
        func file(_ stem: String) throws -> String {
            for candidate in ["\(dir)/\(stem).gz", "\(dir)/\(stem)"] where FileManager.default.fileExists(atPath: candidate) {
                return candidate
            }
            throw DataError("\(dir)/\(stem)[.gz] not found; run scripts/setup.sh to fetch \(name.rawValue), or pass --data-dir")
        }
        self.name = name.rawValue
        train = try LabelledImages(images: file("train-images-idx3-ubyte"), labels: file("train-labels-idx1-ubyte"), limit: trainLimit)
        test = try LabelledImages(images: file("t10k-images-idx3-ubyte"), labels: file("t10k-labels-idx1-ubyte"), limit: testLimit)
        guard train.pixelsPerImage == test.pixelsPerImage else {
            throw DataError("\(dir): training images are \(train.rows)x\(train.cols) but test images \(test.rows)x\(test.cols)")
        }
    }
}
