// Fully connected layers, their activations and Xavier-Glorot initialisation.

import Foundation

/// The hidden-layer nonlinearities a model can use.
public enum Activation: String, CaseIterable, Codable, Sendable {
    case softplus, tanh, relu, elu, sigmoid

    public var op: UnaryOp {
        switch self {
        case .softplus: return .softplus
        case .tanh: return .tanh
        case .relu: return .relu
        case .elu: return .elu
        case .sigmoid: return .sigmoid
        }
    }
}

/// `y = x W + b` with `W` of shape `inputs × outputs` and `b` of shape `1 × outputs`.
public final class Dense {
    public let name: String
    public let weight: Tensor
    public let bias: Tensor

    /// Xavier-Glorot normal initialisation (Glorot & Bengio 2010, as in the VAE report `004`):
    /// `W ~ N(0, 2 / (inputs + outputs))`, `b = 0`. The draws come from Philox on the CPU backend and are uploaded,
    /// so every backend starts from bit-identical parameters for the same seed.
    public init(name: String, inputs: Int, outputs: Int, on backend: any Backend, seed: UInt32, stream: UInt32) throws {
        self.name = name
        let cpu = CPUBackend.shared, count = inputs * outputs  // widths are at most 2^24 (ModelConfig.validate): no overflow
        let w = try cpu.allocate(count: count, dtype: .float32)
        try cpu.fillRandom(.normal, into: w, count: count, key: PhiloxKey(seed: seed, stream: stream),
                           counter: PhiloxCounter(), probabilities: nil)
        let std = (2 / Float(inputs + outputs)).squareRoot()
        // scaled a slice at a time on the way up, so that a large layer's weights never sit whole in a host array
        weight = try Tensor(rows: inputs, cols: outputs, on: backend) { try cpu.download(w, offset: $0.lowerBound, count: $0.count).map { $0 * std } }
        bias = try Tensor([Float](repeating: 0, count: outputs), rows: 1, cols: outputs, on: backend)
    }

    /// One layer whose outputs are those of `parts` side by side (weights and biases joined by columns), so that the
    /// parts' GEMMs become one; each part keeps its own initial values.
    public init(name: String, joining parts: [Dense], on backend: any Backend) throws {
        self.name = name
        let rows = parts[0].weight.rows, cols = parts.map(\.weight.cols).reduce(0, +)
        try require(parts.allSatisfy { $0.weight.rows == rows }, "joined layers must share their input size")
        let weights = try parts.map { try backend.download($0.weight.buffer) }, biases = try parts.map { try backend.download($0.bias.buffer) }
        var joined: [Float] = []
        joined.reserveCapacity(rows * cols)
        for r in 0..<rows {
            for (part, w) in zip(parts, weights) { joined += w[(r * part.weight.cols)..<((r + 1) * part.weight.cols)] }
        }
        weight = try Tensor(joined, rows: rows, cols: cols, on: backend)
        bias = try Tensor(biases.flatMap { $0 }, rows: 1, cols: cols, on: backend)
    }

    public func callAsFunction(_ x: Tensor, on tape: Tape) throws -> Tensor {
        try tape.linear(x, weight: weight, bias: bias)
    }

    /// The layer's parameters under their checkpoint names.
    public var parameters: [(String, Tensor)] { [("\(name).weight", weight), ("\(name).bias", bias)] }
}
