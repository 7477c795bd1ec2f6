// Tensors: row-major matrices whose storage lives on a backend, and the pool that recycles their buffers so a
// training step allocates nothing once the first step has run.

import Foundation
import Synchronization

/// A `rows × cols` row-major matrix of floats stored on a backend.
///
/// Vectors are `n × 1` or `1 × n` matrices and scalars `1 × 1`: every op of the VAE is a matrix op, and one
/// shape type keeps the gradient rules short. A tensor made by a ``Tape`` returns its buffer to the tape's pool
/// when it is released.
public final class Tensor: Sendable {
    public let rows: Int
    public let cols: Int
    public let buffer: Buffer
    let pool: BufferPool?
    /// The tensor whose buffer this one views (kept alive so the buffer is not recycled under the view).
    let base: Tensor?

    public var count: Int { rows * cols }
    public var shape: [Int] { [rows, cols] }

    init(rows: Int, cols: Int, buffer: Buffer, pool: BufferPool?, base: Tensor? = nil) {
        self.rows = rows
        self.cols = cols
        self.buffer = buffer
        self.pool = pool
        self.base = base
    }

    /// The same elements seen as a `rows × cols` matrix (no copy).
    public func reshaped(rows: Int, cols: Int) throws -> Tensor {
        try require(rows * cols == count, "cannot view \(self.rows)x\(self.cols) as \(rows)x\(cols)")
        return Tensor(rows: rows, cols: cols, buffer: buffer, pool: nil, base: self)
    }

    /// A tensor that owns `buffer` outright (parameters, datasets).
    public convenience init(rows: Int, cols: Int, buffer: Buffer) {
        self.init(rows: rows, cols: cols, buffer: buffer, pool: nil)
    }

    /// A tensor holding `values` on `backend`.
    public convenience init(_ values: [Float], rows: Int, cols: Int, on backend: any Backend) throws {
        try require(values.count == rows * cols, "\(values.count) values for a \(rows)x\(cols) tensor")
        self.init(rows: rows, cols: cols, buffer: try backend.buffer(values), pool: nil)
    }

    /// A `rows × cols` tensor on `backend` uploaded a slice of at most ``uploadSlice`` values at a time, each slice's values
    /// `values(range)` for its range of elements: a large parameter never sits whole in a host array (a failed Swift
    /// allocation aborts, where the backend's raises its out-of-memory error).
    public convenience init(rows: Int, cols: Int, on backend: any Backend, slices values: (Range<Int>) throws -> [Float]) throws {
        let count = rows * cols, buffer = try backend.allocate(count: count, dtype: .float32)
        for start in stride(from: 0, to: count, by: Self.uploadSlice) {
            try backend.upload(try values(start..<min(start + Self.uploadSlice, count)), to: buffer, offset: start)
        }
        self.init(rows: rows, cols: cols, buffer: buffer, pool: nil)
    }

    /// The most values ``init(rows:cols:on:slices:)`` holds on the host at once: 2^20 (4 MiB).
    public static let uploadSlice = 1 << 20

    deinit { pool?.recycle(buffer) }
}

/// Buffers of released tensors, kept by size for reuse. Allocation on a device is slow (and on OpenCL may
/// synchronise); a VAE step asks for the same sizes every time, so after the first step every request is a hit.
public final class BufferPool: Sendable {
    public let backend: any Backend
    /// Released buffers by element count.
    private let free = Mutex<[Int: [Buffer]]>([:])

    public init(backend: any Backend) { self.backend = backend }

    /// A debug switch (`LATENTKIT_POISON_BUFFERS=1`): every buffer the pool hands out is first filled with NaN, so an op
    /// that reads a recycled or fresh buffer before writing it (a GEMM with beta = 0 on hardware that computes beta·C,
    /// a kernel that skips elements) turns the losses into NaN instead of passing by chance. The suite runs with it on.
    public static let poisonsBuffers = ProcessInfo.processInfo.environment["LATENTKIT_POISON_BUFFERS"] == "1"

    func take(count: Int) throws -> Buffer {
        let recycled = free.withLock { $0[count]?.popLast() }
        let b = try recycled ?? backend.allocate(count: count, dtype: .float32)
        if Self.poisonsBuffers { try backend.fill(b, with: .nan, offset: 0, count: count) }
        return b
    }

    func recycle(_ buffer: Buffer) {
        guard buffer.dtype == .float32 else { return }
        free.withLock { $0[buffer.count, default: []].append(buffer) }
    }

    /// A tensor with uninitialised contents from the pool.
    public func tensor(rows: Int, cols: Int) throws -> Tensor {
        Tensor(rows: rows, cols: cols, buffer: try take(count: rows * cols), pool: self)
    }
}
