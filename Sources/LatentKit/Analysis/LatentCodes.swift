// The latent code of an image: what `encode` writes and `analyze` studies. One vector per image, E_q[u|x] of the
// family's natural coordinates, from the grey-level image (the intensities the binarised training images are
// drawn from: the deterministic input, so a code does not depend on a random binarisation).

import Foundation

/// What a code's coordinates are.
public enum CodeKind: String, Sendable {
    /// Gaussian: the posterior mean.
    case mean
    /// Logit-normal: the mean of the Gaussian logit y (z = σ(y)).
    case logitMean = "logit-mean"
    /// Concrete: the class probabilities softmax(log α) of each categorical.
    case probabilities
    /// Dirichlet: α / α₀, the posterior mean on the simplex.
    case normalisedAlpha = "normalised-alpha"
    /// Softmax-Gaussian: softmax of the Gaussian's mean, the topic proportions ProdLDA reads.
    case softmaxMean = "softmax-mean"
    /// Discrete VAE: q(z_u = 1 | x) of each binary unit, along the median path ρ = 1/2 of the hierarchical posterior.
    case unitProbabilities = "unit-probabilities"
}

extension LatentFamily {
    public var codeKind: CodeKind {
        switch self {
        case .gaussian: return .mean
        case .logitNormal: return .logitMean
        case .concrete: return .probabilities
        case .dirichlet: return .normalisedAlpha
        case .dvae: return .unitProbabilities
        case .softmaxGaussian: return .softmaxMean
        }
    }

    /// Codes on a simplex (probabilities), compared by the Hellinger distance rather than the Euclidean (paper 000).
    public var hasSimplexCodes: Bool { self == .concrete || self == .dirichlet || self == .softmaxGaussian }
}

/// `count` codes of `size` values, row-major, with the label of each image.
public struct LatentCodes: Sendable {
    public let count: Int
    public let size: Int
    public let values: [Float]
    public let labels: [Int32]

    public init(count: Int, size: Int, values: [Float], labels: [Int32]) throws {
        try require(count >= 0 && size >= 1 && values.count == count * size && labels.count == count,
                    "\(values.count) code values and \(labels.count) labels for \(count) codes of size \(size)")
        self.count = count
        self.size = size
        self.values = values
        self.labels = labels
    }

    /// The first `n` codes.
    public func prefix(_ n: Int) throws -> LatentCodes {
        let n = min(n, count)
        return try LatentCodes(count: n, size: size, values: Array(values.prefix(n * size)), labels: Array(labels.prefix(n)))
    }

    /// Encodes the first `limit` images of `images` with `model` (batch norm by its running statistics), in chunks
    /// so that only one chunk of images is on the device at a time.
    public static func encode(_ images: LabelledImages, limit: Int? = nil, model: VAE, backend: any Backend,
                              chunk: Int = 10_000) throws -> LatentCodes {
        try model.config.requireInput(images)
        let n = min(limit ?? images.count, images.count), p = images.pixelsPerImage
        let evaluator = Evaluator(model: model, backend: backend)
        var values: [Float] = []
        values.reserveCapacity(n * model.config.latentSize)
        for start in stride(from: 0, to: n, by: chunk) {
            let b = min(chunk, n - start)
            let x = try Tensor(Array(images.pixels[(start * p)..<((start + b) * p)]), rows: b, cols: p, on: backend)
            values += try evaluator.posteriorMeans(x, includingLayers: true)
        }
        return try LatentCodes(count: n, size: model.config.decoderInputSize, values: values,
                               labels: images.labels.prefix(n).map { Int32($0) })
    }

    /// CSV: a header `label,z0,...`, then the label and the code of each image (shortest round-trip decimals).
    /// One row per item: its label (unless `labelled` is false: data without labels have none to write), then its code.
    public func csv(labelled: Bool = true) -> String {
        var out = (labelled ? "label," : "") + (0..<size).map { "z\($0)" }.joined(separator: ",") + "\n"
        out.reserveCapacity(count * size * 12)
        for i in 0..<count {
            out += labelled ? String(labels[i]) + "," : ""
            out += (0..<size).map { "\(values[i * size + $0])" }.joined(separator: ",")
            out += "\n"
        }
        return out
    }
}
