// How the Trainer feeds its steps: the training set on the device whole or streamed in two chunk slots (the next
// chunk's upload overlapping the current chunk's steps), each epoch's Philox permutation, and the one-off binarisation
// of `--binarize fixed`.

import Foundation

extension Trainer {
    /// `train` with every value replaced by one Bernoulli(value) draw (Philox, stream ``RandomStream/binarization`` at the
    /// highest counter word, apart from every step's draws; on the CPU backend, which draws what every backend draws).
    static func binarizedOnce(_ train: LabelledImages, seed: UInt32) throws -> LabelledImages {
        let cpu = CPUBackend.shared, values = try cpu.buffer(train.pixels)
        try cpu.fillRandom(.bernoulli, into: values, count: train.pixels.count, key: PhiloxKey(seed: seed, stream: RandomStream.binarization),
                           counter: PhiloxCounter(0, 0, 0, 0xF1ED), probabilities: values)
        return try LabelledImages(count: train.count, rows: train.rows, cols: train.cols, pixels: cpu.download(values), labels: train.labels,
                                  isLabelled: train.isLabelled)
    }

    /// The training set on the device, whole (one slot), or (when `chunk` asks for fewer images than the set holds, or
    /// when the set does not fit) as two slots of one chunk each: the largest number of whole batches, halving from a
    /// quarter of the set, of which the device allocates two.
    static func deviceImages(_ train: LabelledImages, batch: Int, chunk requested: Int?, on backend: any Backend) throws -> ([Tensor], Int?) {
        let d = train.pixelsPerImage
        func slots(_ chunk: Int) throws -> [Tensor] {
            try (0..<2).map { _ in Tensor(rows: chunk, cols: d, buffer: try backend.allocate(count: chunk * d, dtype: .float32)) }
        }
        if let requested, requested < train.count {
            let chunk = max(batch, requested / batch * batch)
            return (try slots(chunk), chunk)
        }
        do {
            return ([try Tensor(train.pixels, rows: train.count, cols: d, on: backend)], nil)
        } catch BackendError.outOfMemory(_) {
            var chunk = train.count / 4 / batch * batch
            while chunk >= batch {
                if let both = try? slots(chunk) { return (both, chunk) }
                chunk = chunk / 2 / batch * batch
            }
            throw BackendError.outOfMemory("not even one batch of \(batch) images of \(d) values fits on \(backend.deviceDescription)")
        }
    }

    /// Makes the images of step `s` of the current epoch available on the device; returns the offset in `order` of the
    /// step's batch. Resident: the epoch's permutation (uploaded once per epoch). Streamed: the slot holding the chunk of
    /// step `s` becomes the active one (its upload was started a chunk earlier, or starts now when it was not: the first
    /// chunk, a resume, steps out of order), and once the chunk's first step is issued the next chunk's upload starts
    /// into the other slot.
    func batchOffset(step s: Int) throws -> Int {
        let b = config.batchSize
        guard let chunk = streamChunk else {
            try uploadOrderIfNeeded()
            return s * b
        }
        let perChunk = chunk / b, current = ChunkKey(epoch: epoch, chunk: s / perChunk)
        if slotChunks[activeSlot] != current {
            let other = 1 - activeSlot
            if slotChunks[other] != current { try startUpload(current, into: other) }
            if let upload = slotUploads[other] { try backend.finishUpload(upload) }  // the steps issued from here on read it
            activeSlot = other
        }
        // after the chunk's first step, so that the host's gather does not hold back the device's queue
        if s % perChunk == min(1, perChunk - 1), let next = nextChunk(after: current, perChunk: perChunk),
           slotChunks[1 - activeSlot] != next {
            try startUpload(next, into: 1 - activeSlot)
        }
        return (s % perChunk) * b
    }

    /// Starts the upload of chunk `key`'s images, gathered on the host in its epoch's order, into slot `slot`: it begins
    /// once the steps issued so far (which may read the slot's previous chunk) have finished.
    func startUpload(_ key: ChunkKey, into slot: Int) throws {
        if hostOrder?.epoch != key.epoch { hostOrder = (key.epoch, permutation(epoch: key.epoch)) }
        let order = hostOrder!.order, d = imageSlots[slot].cols, chunk = imageSlots[slot].rows
        let first = key.chunk * chunk, last = min(first + chunk, stepsPerEpoch * config.batchSize)
        var rows: [Float] = []
        rows.reserveCapacity((last - first) * d)
        for i in first..<last { rows += hostImages[(Int(order[i]) * d)..<((Int(order[i]) + 1) * d)] }
        slotUploads[slot] = try backend.startUpload(rows, to: imageSlots[slot].buffer, offset: 0)
        slotChunks[slot] = key
    }

    /// The chunk after `key` in training order, or nil after the last epoch's last chunk.
    func nextChunk(after key: ChunkKey, perChunk: Int) -> ChunkKey? {
        let chunks = (stepsPerEpoch + perChunk - 1) / perChunk
        if key.chunk + 1 < chunks { return ChunkKey(epoch: key.epoch, chunk: key.chunk + 1) }
        return key.epoch + 1 < config.epochs ? ChunkKey(epoch: key.epoch + 1, chunk: 0) : nil
    }

    /// A chunk of an epoch's order of the training images.
    struct ChunkKey: Equatable {
        let epoch: Int
        let chunk: Int
    }

    /// The order of the training images in epoch `epoch`: a Fisher-Yates shuffle driven by Philox.
    public func permutation(epoch: Int) -> [Int32] {
        var order = (0..<imageCount).map(Int32.init)
        let key = PhiloxKey(seed: config.seed, stream: RandomStream.shuffle)
        for i in stride(from: imageCount - 1, to: 0, by: -1) {
            let word = Philox.block(counter: SIMD4(UInt32(i), UInt32(epoch), 0, 0), key: key)[0]
            order.swapAt(i, Int((UInt64(word) * UInt64(i + 1)) >> 32))
        }
        return order
    }

    /// Uploads the current epoch's permutation unless it is already on the device: one upload per epoch.
    func uploadOrderIfNeeded() throws {
        if orderEpoch != epoch {
            try backend.upload(permutation(epoch: epoch), to: order, offset: 0)
            orderEpoch = epoch
        }
    }
}
