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

/// Averages a step's gradients over the ranks, sending them while the backward pass still runs, in buckets, as PyTorch's
/// DistributedDataParallel does: the tape hands over each parameter's gradient once it is complete
/// (``Tape/backward(from:seed:whenFinal:)``); the exchange copies it into the next free part of one flat device buffer,
/// and once a bucket of at least ``bucketFloats`` floats has gathered it reads that part back and starts a non-blocking
/// sum over the ranks (MPI_Iallreduce), which MPI moves along (MPI_Test) between the backward pass's later ops. After the
/// backward pass the last bucket goes out; the exchange waits for every bucket, divides by the number of ranks and writes
/// the averages back before the Adam step. A sum is element by element, so the buckets give the single exchange's result
/// bit for bit (`LATENTKIT_MPI_BUCKET=0` is that single exchange). One float more rides in the last bucket: each rank's
/// wish to stop (Ctrl-C), so that all ranks agree on the step at which they stop.
final class GradientExchange {
    let communicator: Communicator
    let backend: any Backend
    let parameters: [Tensor]
    /// The floats a bucket gathers before it is sent; 0: one exchange after the whole backward pass.
    let bucketFloats: Int
    private let flat: Buffer
    /// The host side of `flat` (and the stop flag after it), where MPI sums in place; it stays put while sums are in flight.
    private let host: UnsafeMutableBufferPointer<Float>
    /// This step's gradients in the order they were placed in `flat`, with their offsets.
    private var placed: [(parameter: Tensor, gradient: Tensor, offset: Int)] = []
    private var filled = 0, bucketStart = 0
    private var inFlight: [PendingSum] = []
    /// Seconds the step spent in the exchange (placing, reading back, waiting, writing back), and waiting for sums alone,
    /// since the last reset; the buckets sent.
    private(set) var seconds = (exchange: 0.0, allreduce: 0.0)
    private(set) var exchanges = 0, buckets = 0

    /// 64 KB. PyTorch DDP's buckets are 25 MB (the first 1 MB); a LatentKit model's gradients are a few MB in all, and a
    /// bucket is sent only once it holds this many floats, so a large bucket would wait for the encoder's first layer,
    /// the last gradient ready. Measured on 2 ranks (docs/RESULTS.md): a bucket per layer beats 512 KB buckets and the
    /// single exchange.
    static let defaultBucketFloats = 16_384

    init(parameters: [Tensor], communicator: Communicator, on backend: any Backend) throws {
        self.parameters = parameters
        self.communicator = communicator
        self.backend = backend
        let total = parameters.reduce(0) { $0 + $1.count }
        flat = try backend.allocate(count: total, dtype: .float32)
        host = .allocate(capacity: total + 1)
        host.initialize(repeating: 0)
        bucketFloats = try Self.bucketSetting()
    }

    deinit { host.deallocate() }

    /// `LATENTKIT_MPI_BUCKET` (floats per bucket; 0: one exchange after the backward pass), else the default.
    static func bucketSetting() throws -> Int {
        guard let text = ProcessInfo.processInfo.environment["LATENTKIT_MPI_BUCKET"] else { return defaultBucketFloats }
        guard let floats = Int(text), floats >= 0 else {
            throw DistributedError("LATENTKIT_MPI_BUCKET must be a number of floats >= 0 (0: one exchange after the backward pass), got '\(text)'")
        }
        return floats
    }

    /// Floats one exchange sends each way: every parameter's gradient.
    var floatsPerStep: Int { flat.count }

    /// Starts a step's exchange, before its backward pass.
    func begin() {
        placed.removeAll(keepingCapacity: true)
        filled = 0
        bucketStart = 0
        inFlight.removeAll(keepingCapacity: true)
    }

    /// The tape's hand-over: `gradient`, `parameter`'s, is complete.
    func gradientIsFinal(parameter: Tensor, gradient: Tensor) throws {
        let start = Date()
        defer { seconds.exchange += Date().timeIntervalSince(start) }
        try place(parameter, gradient)
        if bucketFloats > 0 && filled - bucketStart >= bucketFloats { try send(bucketStart..<filled) }
        for sum in inFlight { _ = try communicator.progress(sum) }
    }

    private func place(_ parameter: Tensor, _ gradient: Tensor) throws {
        try backend.copy(from: gradient.buffer, offset: 0, to: flat, offset: filled, count: parameter.count)
        placed.append((parameter, gradient, filled))
        filled += parameter.count
    }

    /// Reads `range` of `flat` back (with the stop flag after it when it ends the step) and starts its sum.
    private func send(_ range: Range<Int>, stopFlag: Float? = nil) throws {
        let values = try backend.download(flat, offset: range.lowerBound, count: range.count)
        _ = UnsafeMutableBufferPointer(rebasing: host[range]).update(fromContentsOf: values)
        var floats = range
        if let stopFlag {
            host[range.upperBound] = stopFlag
            floats = range.lowerBound..<(range.upperBound + 1)
        }
        inFlight.append(try communicator.startSum(UnsafeMutableBufferPointer(rebasing: host[floats])))
        bucketStart = range.upperBound
        buckets += 1
    }

    /// Ends the step's exchange after its backward pass: places the gradients the tape did not hand over, sends the
    /// last bucket, waits for every sum, and replaces the gradients `tape` holds by their average over the ranks.
    /// Returns whether any rank asked to stop.
    func finish(on tape: Tape, stopRequested: Bool) throws -> Bool {
        let start = Date()
        let handed = Set(placed.map { ObjectIdentifier($0.parameter) })
        // every rank runs the same graph, so a parameter without a gradient lacks it on every rank
        for p in parameters where !handed.contains(ObjectIdentifier(p)) {
            if let g = tape.gradient(of: p) { try place(p, g) }
        }
        try send(bucketStart..<filled, stopFlag: stopRequested ? 1 : 0)
        let waitStart = Date()
        for sum in inFlight { try communicator.finish(sum) }
        seconds.allreduce += Date().timeIntervalSince(waitStart)
        let stop = host[filled] > 0
        let scale = 1 / Float(communicator.size)
        for i in 0..<filled { host[i] *= scale }
        try backend.upload(Array(host[0..<filled]), to: flat, offset: 0)
        for (p, g, offset) in placed { try backend.copy(from: flat, offset: offset, to: g.buffer, offset: 0, count: p.count) }
        seconds.exchange += Date().timeIntervalSince(start)
        exchanges += 1
        return stop
    }

    func resetTimes() {
        seconds = (0, 0)
        exchanges = 0
        buckets = 0
    }
}
