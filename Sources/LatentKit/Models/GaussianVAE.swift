// The Gaussian VAE of Kingma & Welling: an MLP encoder to (mean, log-variance) of a diagonal Gaussian posterior,
// the reparameterised sample, an MLP decoder to Bernoulli logits (or a Gaussian mean and log-variance), and
// the analytic KL to N(0, I).

import Foundation

/// What the decoder's output distribution is.
public enum Likelihood: String, CaseIterable, Codable, Sendable {
    /// Independent Bernoullis from logits: binary (or binarised) data.
    case bernoulli
    /// Independent Gaussians with a learned mean and log-variance per pixel: continuous data.
    case gaussian
}

/// The architecture: `inputs-H-...-H-latent` encoder, mirrored decoder.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var latent: String = "gaussian"
    public var latentSize: Int = 20
    public var hidden: [Int] = [200, 200]
    public var activation: Activation = .softplus
    public var likelihood: Likelihood = .bernoulli
    public var inputSize: Int = 784

    public init() {}

    public func validate() throws {
        try require(latent == "gaussian", "latent family '\(latent)' is not available (this version has: gaussian)")
        try require(latentSize >= 1, "latent size must be at least 1, got \(latentSize)")
        try require(!hidden.isEmpty && hidden.allSatisfy { $0 >= 1 }, "hidden layer sizes must be positive, got \(hidden)")
        try require(inputSize >= 1, "input size must be positive")
    }
}

/// The decoder's output for a batch.
public enum Decoded {
    case logits(Tensor)
    case gaussian(mean: Tensor, logVariance: Tensor)
}

public final class GaussianVAE {
    public let config: ModelConfig
    let encoder: [Dense]
    let meanHead: Dense
    let logVarianceHead: Dense
    let decoder: [Dense]
    let outputHead: Dense
    let outputLogVarianceHead: Dense?

    public init(_ config: ModelConfig, on backend: any Backend, seed: UInt32) throws {
        try config.validate()
        self.config = config
        var stream: UInt32 = 0
        func layer(_ name: String, _ inputs: Int, _ outputs: Int) throws -> Dense {
            stream += 1
            return try Dense(name: name, inputs: inputs, outputs: outputs, on: backend, seed: seed, stream: stream)
        }
        let widths = [config.inputSize] + config.hidden
        encoder = try (0..<config.hidden.count).map { try layer("encoder.\($0)", widths[$0], widths[$0 + 1]) }
        meanHead = try layer("encoder.mean", config.hidden.last!, config.latentSize)
        logVarianceHead = try layer("encoder.log_variance", config.hidden.last!, config.latentSize)
        let back = [config.latentSize] + config.hidden.reversed()
        decoder = try (0..<config.hidden.count).map { try layer("decoder.\($0)", back[$0], back[$0 + 1]) }
        outputHead = try layer(config.likelihood == .bernoulli ? "decoder.logits" : "decoder.mean", back.last!, config.inputSize)
        outputLogVarianceHead = config.likelihood == .gaussian
            ? try layer("decoder.log_variance", back.last!, config.inputSize) : nil
    }

    /// Every parameter under its checkpoint name, in a fixed order.
    public var parameters: [(String, Tensor)] {
        (encoder + [meanHead, logVarianceHead] + decoder + [outputHead] + (outputLogVarianceHead.map { [$0] } ?? []))
            .flatMap(\.parameters)
    }

    func hidden(_ x: Tensor, _ layers: [Dense], _ tape: Tape) throws -> Tensor {
        var h = x
        for layer in layers { h = try tape.unary(config.activation.op, layer(h, on: tape)) }
        return h
    }

    /// The posterior's mean and log-variance, each `batch × latentSize`.
    public func encode(_ x: Tensor, on tape: Tape) throws -> (mean: Tensor, logVariance: Tensor) {
        let h = try hidden(x, encoder, tape)
        return (try meanHead(h, on: tape), try logVarianceHead(h, on: tape))
    }

    public func decode(_ z: Tensor, on tape: Tape) throws -> Decoded {
        let h = try hidden(z, decoder, tape)
        if let lv = outputLogVarianceHead { return .gaussian(mean: try outputHead(h, on: tape), logVariance: try lv(h, on: tape)) }
        return .logits(try outputHead(h, on: tape))
    }

    /// `log p(x | z)` of each row, `batch × 1`.
    public func logLikelihood(_ x: Tensor, _ decoded: Decoded, on tape: Tape) throws -> Tensor {
        switch decoded {
        case .logits(let logits): return try tape.bernoulliLogLikelihood(logits: logits, targets: x)
        case .gaussian(let mean, let logVariance): return try tape.gaussianLogDensity(x, mean: mean, logVariance: logVariance)
        }
    }

    /// The decoder's expected image: `σ(logits)` or the Gaussian mean.
    public func expectation(_ decoded: Decoded, on tape: Tape) throws -> Tensor {
        switch decoded {
        case .logits(let logits): return try tape.unary(.sigmoid, logits)
        case .gaussian(let mean, _): return mean
        }
    }
}
