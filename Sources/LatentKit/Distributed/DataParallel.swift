// Data-parallel training over MPI: each rank holds a full replica of the model, takes a disjoint slice of every global
// batch, and the ranks average their gradients before each Adam step (one MPI_Allreduce of all gradients, flattened).

import Foundation

/// The images of each global batch one rank computes: positions `first ..< first + count` of the batch, in the epoch's
/// shared order. Per-image random draws (binarisation, noise, Gamma variates) are keyed by an image's position in the
/// global batch, so a rank draws for its images what one process draws for them: ``streamOffset(elements:)``.
public struct BatchSlice: Sendable, Equatable {
    public var first: Int
    public var count: Int

    /// The whole batch of `batch` images (one process).
    public init(wholeBatchOf batch: Int) {
        first = 0
        count = batch
    }

    /// Rank `rank`'s slice of a global batch of `batch` images split evenly over `ranks` ranks.
    public init(rank: Int, of ranks: Int, batch: Int) throws {
        guard ranks >= 1, rank >= 0, rank < ranks else { throw DistributedError("rank \(rank) of \(ranks) ranks does not exist") }
        guard batch % ranks == 0 else {
            throw DistributedError("--batch-size \(batch) does not split evenly over \(ranks) ranks: use a multiple of \(ranks) "
                                   + "(it stays the global batch; each rank takes batch-size / \(ranks))", isCollective: true)
        }
        count = batch / ranks
        first = rank * count
    }

    /// The first element, in the stream of a per-image random fill of `elements` values for this slice's images (laid
    /// out image by image), that the global batch's fill gives this slice's first image.
    public func streamOffset(elements: Int) -> Int { first * (elements / max(count, 1)) }
}

extension JSONEncoder {
    /// Sorted keys: the same value always gives the same bytes (configuration fingerprints).
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

/// Averages a step's gradients over the ranks: copies every parameter's gradient into one flat device buffer, reads it
/// back (the one blocking host exchange of a distributed step), sums it over the ranks with one MPI_Allreduce, divides
/// by the number of ranks and writes it back before the Adam step. One float more rides along: each rank's wish to
/// stop (Ctrl-C), so that all ranks agree on the step at which they stop.
final class GradientExchange {
    let communicator: Communicator
    let backend: any Backend
    let parameters: [Tensor]
    private let flat: Buffer
    /// Seconds spent in the exchange (read, allreduce, write), and in the allreduce alone, since the last reset.
    private(set) var seconds = (exchange: 0.0, allreduce: 0.0)
    private(set) var exchanges = 0

    init(parameters: [Tensor], communicator: Communicator, on backend: any Backend) throws {
        self.parameters = parameters
        self.communicator = communicator
        self.backend = backend
        flat = try backend.allocate(count: parameters.reduce(0) { $0 + $1.count }, dtype: .float32)
    }

    /// Floats one exchange sends each way: every parameter's gradient.
    var floatsPerStep: Int { flat.count }

    /// Replaces the gradients `tape` holds by their average over the ranks. Returns whether any rank asked to stop.
    func average(gradientsOn tape: Tape, stopRequested: Bool) throws -> Bool {
        let start = Date()
        let gradients = parameters.map { tape.gradient(of: $0) }
        var offset = 0
        for (p, g) in zip(parameters, gradients) {
            // every rank runs the same graph, so a parameter without a gradient lacks it on every rank
            if let g { try backend.copy(from: g.buffer, offset: 0, to: flat, offset: offset, count: p.count) }
            offset += p.count
        }
        var values = try backend.download(flat, offset: 0, count: flat.count)
        values.append(stopRequested ? 1 : 0)
        let reduceStart = Date()
        try communicator.sum(&values)
        seconds.allreduce += Date().timeIntervalSince(reduceStart)
        let stop = values.removeLast() > 0
        let scale = 1 / Float(communicator.size)
        for i in values.indices { values[i] *= scale }
        try backend.upload(values, to: flat, offset: 0)
        offset = 0
        for (p, g) in zip(parameters, gradients) {
            if let g { try backend.copy(from: flat, offset: offset, to: g.buffer, offset: 0, count: p.count) }
            offset += p.count
        }
        seconds.exchange += Date().timeIntervalSince(start)
        exchanges += 1
        return stop
    }

    func resetTimes() {
        seconds = (0, 0)
        exchanges = 0
    }
}
