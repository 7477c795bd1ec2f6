// Users' own data: NumPy .npy files of N items × D features (or N × H × W pictures, the picture size kept), optional
// labels, and a test set of its own or a held-out fraction chosen by the run's seed. What the values are decides the
// likelihood when none is asked for (`DataKind`).

import Foundation

/// The data files of a run, recorded in `config.json` so that every command of the run reads the same data and split.
public struct DataFiles: Codable, Equatable, Sendable {
    public var train: String
    public var trainLabels: String?
    public var test: String?
    public var testLabels: String?
    /// Without `test`: the fraction of `train` held out as the test set (which items, the run's seed decides).
    public var testFraction: Double

    public static let defaultTestFraction = 0.1

    /// The data's name: the training file's name, as runs, reports and the loaded ``Dataset`` show it.
    public var name: String { URL(fileURLWithPath: train).lastPathComponent }

    public init(train: String, trainLabels: String? = nil, test: String? = nil, testLabels: String? = nil,
                testFraction: Double = DataFiles.defaultTestFraction) {
        self.train = train
        self.trainLabels = trainLabels
        self.test = test
        self.testLabels = testLabels
        self.testFraction = testFraction
    }

    public func validate() throws {
        try require(test != nil || (testFraction > 0 && testFraction < 1), "--test-fraction must lie strictly between 0 and 1, got \(testFraction)")
        try require(testLabels == nil || test != nil, "--test-labels needs --test-data")
    }
}

/// What a data set's values are.
public enum DataKind: String, Sendable {
    /// Every value in [0, 1]: binary data or intensities (the Bernoulli likelihood, binarised dynamically).
    case unitInterval = "values in [0, 1]"
    /// Non-negative integers, some above 1: counts, such as a bag of words.
    case counts = "non-negative integer counts"
    /// Anything else (the Gaussian likelihood).
    case real = "real values"

    public static func of(_ values: [Float]) -> DataKind {
        if values.allSatisfy(\.isInUnitInterval) { return .unitInterval }
        if values.allSatisfy(\.isCount) { return .counts }
        return .real
    }
}

extension Float {
    /// A value the Bernoulli likelihood takes.
    fileprivate var isInUnitInterval: Bool { self >= 0 && self <= 1 }
    /// A value the multinomial likelihood takes: a non-negative integer float32 holds exactly (at most 2^24).
    fileprivate var isCount: Bool { self >= 0 && self == rounded() && self <= Float(LabelledImages.largestCount) }
}

extension LabelledImages {
    /// Reads the items of the .npy file `path` (N × D, or N × H × W) and, when given, their labels (N integers in 0...255)
    /// from `labelPath`. Non-finite values are refused with the item and feature named.
    public init(npy path: String, labels labelPath: String?) throws {
        let array = try NPY.read(path)
        let shape = array.shape
        guard shape.count == 2 || shape.count == 3, shape.allSatisfy({ $0 >= 1 }) else {
            throw DataError("\(path): an array of shape \(shape); the data must be N items × D features (or N × H × W pictures), none empty")
        }
        let n = shape[0], d = array.values.count / n
        if let bad = array.values.firstIndex(where: { !$0.isFinite }) {
            throw DataError("\(path): item \(bad / d), feature \(bad % d) is \(array.values[bad]) (as float32); the data must be finite")
        }
        var labels = [UInt8](repeating: 0, count: n)
        if let labelPath {
            let l = try NPY.read(labelPath)
            guard l.shape == [l.values.count] || l.shape == [l.values.count, 1] else {
                throw DataError("\(labelPath): labels of shape \(l.shape); they must be one integer per item (N or N × 1)")
            }
            guard l.values.count == n else { throw DataError("\(labelPath) has \(l.values.count) labels but \(path) has \(n) items") }
            if let bad = l.values.firstIndex(where: { !($0.isCount && $0 <= 255) }) {
                throw DataError("\(labelPath): label \(bad) is \(l.values[bad]); labels must be integers from 0 to 255")
            }
            labels = l.values.map { UInt8($0) }
        }
        try self.init(count: n, rows: shape.count == 3 ? shape[1] : 1, cols: shape.count == 3 ? shape[2] : shape[1], pixels: array.values,
                      labels: labels, isLabelled: labelPath != nil)
    }

    /// What the values are.
    public var kind: DataKind { DataKind.of(pixels) }

    /// The first item and feature with a value outside [0, 1], if any.
    public func firstOutsideUnitInterval() -> (item: Int, feature: Int, value: Float)? {
        firstValue { !$0.isInUnitInterval }
    }

    /// The first value that is not a non-negative integer count, if any (for the multinomial likelihood).
    public func firstNonCount() -> (item: Int, feature: Int, value: Float)? {
        firstValue { !$0.isCount }
    }

    /// The largest count the multinomial likelihood takes: 2^24, float32's last exact integer before the gaps.
    public static let largestCount = 1 << 24

    /// Throws, naming the first offending item and feature of `path`, unless every value is one `likelihood` models:
    /// [0, 1] for the Bernoulli, non-negative integer counts (at most 2^24) for the multinomial, anything finite
    /// (checked on reading) for the Gaussian. Every split of a run's data is checked, not only the training one.
    public func requireValues(for likelihood: Likelihood, path: String) throws {
        switch likelihood {
        case .bernoulli:
            if let bad = firstOutsideUnitInterval() {
                throw DataError("\(path): item \(bad.item), feature \(bad.feature) is \(bad.value), outside [0, 1]; the Bernoulli likelihood "
                                + "needs values in [0, 1] (use --likelihood gaussian for real values)")
            }
        case .multinomial:
            if let bad = firstNonCount() {
                throw DataError("\(path): item \(bad.item), feature \(bad.feature) is \(bad.value); the multinomial likelihood needs "
                                + "non-negative integer counts of at most \(Self.largestCount)")
            }
            try requireTokens(naming: "\(path): document")
        case .gaussian:
            break
        }
    }

    /// Throws, naming the first one as `naming` and its row, unless every document (row of counts) has a token: one of
    /// none has no per-token perplexity (0/0), and trains nothing.
    public func requireTokens(naming document: String) throws {
        if let empty = firstEmptyRow() {
            throw DataError("\(document) \(empty) (row \(empty) of the counts, from 0) has no tokens; a bag of words needs at least one (drop the row)")
        }
    }

    /// The first item whose values are all 0, if any (a document with no tokens, for the multinomial likelihood).
    public func firstEmptyRow() -> Int? {
        let d = pixelsPerImage
        return (0..<count).first { r in !pixels[(r * d)..<((r + 1) * d)].contains { $0 != 0 } }
    }

    private func firstValue(where test: (Float) -> Bool) -> (item: Int, feature: Int, value: Float)? {
        guard let i = pixels.firstIndex(where: test) else { return nil }
        return (i / pixelsPerImage, i % pixelsPerImage, pixels[i])
    }
}

extension Dataset {
    /// Loads a run's own files: the training set, and its test set or a held-out `testFraction` of the training items
    /// (a permutation of the items by `seed`: its first ⌈fraction · N⌉ are the test set, the rest train; each part keeps
    /// the file's order). `trainLimit` and `testLimit` then keep the first items of each part.
    public init(files: DataFiles, seed: UInt32, trainLimit: Int? = nil, testLimit: Int? = nil) throws {
        try files.validate()
        var train = try LabelledImages(npy: files.train, labels: files.trainLabels)
        var test: LabelledImages
        if let testPath = files.test {
            test = try LabelledImages(npy: testPath, labels: files.testLabels)
            guard test.pixelsPerImage == train.pixelsPerImage else {
                throw DataError("\(testPath) has \(test.pixelsPerImage) features per item but \(files.train) has \(train.pixelsPerImage)")
            }
        } else {
            let held = Int((files.testFraction * Double(train.count)).rounded(.up))
            guard held >= 1 && held < train.count else {
                throw DataError("\(files.train): \(train.count) items are too few to hold out a fraction of \(files.testFraction) for testing; "
                                + "pass --test-data")
            }
            let order = Self.permutation(train.count, seed: seed)
            test = try train.subset(order.prefix(held).sorted())
            train = try train.subset(order.dropFirst(held).sorted())
        }
        if let n = trainLimit, n < train.count { train = try train.subset(Array(0..<n)) }
        if let n = testLimit, n < test.count { test = try test.subset(Array(0..<n)) }
        self.init(name: files.name, train: train, test: test)
    }

    /// A Fisher–Yates shuffle of 0..<n driven by SplitMix64 from `seed`: the same split on every machine and version.
    static func permutation(_ n: Int, seed: UInt32) -> [Int] {
        var state = UInt64(seed) &+ 0x5EED_DA7A
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var order = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(next() % UInt64(i + 1))) }
        return order
    }
}

extension ModelConfig {
    /// Fits a new model to its own data (`train`, read from `path`): the input size is the data's, and the likelihood is
    /// `likelihood` when given, else the data's kind's (values in [0, 1]: Bernoulli; counts: multinomial; other real
    /// values: Gaussian). Values the likelihood cannot take are refused with the item and feature named. A Dirichlet's
    /// decoder is given `decoderInput` when given, else, for bags of words (the multinomial likelihood), the topic
    /// proportions themselves (ProdLDA's decoder, whose first layer's columns are the topics); otherwise the setting stays.
    /// The whole configuration is checked after (``CountRecipe`` may still fill it in): by ``RunConfig/validate()``, which
    /// the ``Trainer`` calls.
    public mutating func fit(to train: LabelledImages, from path: String, likelihood: Likelihood? = nil,
                             decoderInput: DirichletDecoderInput? = nil) throws {
        inputSize = train.pixelsPerImage
        switch likelihood {
        case nil:
            switch train.kind {
            case .unitInterval: self.likelihood = .bernoulli
            case .counts: self.likelihood = .multinomial
            case .real: self.likelihood = .gaussian
            }
        case let given? where given != .gaussian:
            try train.requireValues(for: given, path: path)
            self.likelihood = given
        case let other?:
            self.likelihood = other
        }
        if let decoderInput {
            dirichletDecoderInput = decoderInput
        } else if self.likelihood == .multinomial {
            dirichletDecoderInput = .simplex
        }
    }
}
