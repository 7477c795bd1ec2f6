// CPU backend: plain Swift loops over contiguous memory plus OpenBLAS for GEMM. It is the executable
// specification of every op: edge cases (NaN, infinities, poles) are defined here and the OpenCL kernels match.

import Dispatch
import Foundation
import Synchronization
import LatentCore

/// Host memory for the CPU backend.
// @unchecked: `raw` is set once and freed in deinit. The memory it points to is read and written only by CPU backend
// ops, which run one at a time on the calling thread (the worker pool splits one op into disjoint ranges and returns
// when all are done); sharing a buffer between threads that issue ops at once is the caller's race, as with any array.
public final class CPUBuffer: Buffer, @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    private let bytes: Int
    /// Bytes held by every live CPU buffer, so that ``CPUBackend/allocate(count:dtype:)`` refuses what would take them
    /// past the machine's memory (each buffer alone fitting is not enough: a model of many large layers is many buffers).
    static let liveBytes = Atomic<Int>(0)

    /// Takes `raw` (from `posix_memalign`, `bytes` long), counted in ``liveBytes`` until the buffer is freed.
    init(count: Int, dtype: DType, raw: UnsafeMutableRawPointer, bytes: Int) {
        self.raw = raw
        self.bytes = bytes
        CPUBuffer.liveBytes.add(bytes, ordering: .relaxed)
        super.init(count: count, dtype: dtype)
    }

    deinit {
        free(raw)
        CPUBuffer.liveBytes.subtract(bytes, ordering: .relaxed)
    }

    var floats: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
    var ints: UnsafeMutablePointer<Int32> { raw.assumingMemoryBound(to: Int32.self) }
}

/// The CPU backend. Stateless apart from its buffers, so one instance can serve every thread.
public final class CPUBackend: Backend {
    public let kind = BackendKind.cpu
    public var deviceDescription: String {
        "CPU (\(cores) threads, OpenBLAS \(Self.gemmKernels) GEMM\(Self.gemmKernelsNote))"
    }

    /// Where the kernels came from when the user named them: an environment that sets `OPENBLAS_CORETYPE` (some machines
    /// do, for all programs) can hold the CPU backend below what the CPU allows, which its header should say.
    static var gemmKernelsNote: String {
        guard OpenBLASKernels.namedByUser else { return "" }
        if let allows = OpenBLASKernels.bestCore(for: OpenBLASKernels.cpuFlags()), OpenBLASKernels.hasAVX512(allows),
           !OpenBLASKernels.hasAVX512(Self.gemmKernels) {
            return ", named by OPENBLAS_CORETYPE: this CPU's AVX-512 kernels (\(allows)) are unused"
        }
        return ", named by OPENBLAS_CORETYPE"
    }

    /// The OpenBLAS core whose GEMM kernels run (for example "SkylakeX", "Haswell"); see ``OpenBLASKernels``.
    public static var gemmKernels: String { _ = configuredBLAS; return OpenBLASKernels.selected }

    /// The OpenBLAS core for a CPU with these /proc/cpuinfo flags, or nil when OpenBLAS's own choice should stand.
    public static func gemmKernels(forCPUFlags flags: Set<String>) -> String? { OpenBLASKernels.bestCore(for: flags) }
    /// Whether OpenBLAS's core `name` has neither AVX2 nor AVX-512 GEMM kernels (Prescott, Nehalem, Sandybridge, …).
    public static func gemmKernelsLackAVX2(_ name: String) -> Bool { OpenBLASKernels.lacksAVX2(name) }
    /// Whether OpenBLAS's core `name` has AVX-512 GEMM kernels (SkylakeX, Cooperlake, SapphireRapids).
    public static func gemmKernelsHaveAVX512(_ name: String) -> Bool { OpenBLASKernels.hasAVX512(name) }
    /// Whether the user chose OpenBLAS's kernels with `OPENBLAS_CORETYPE` (then they are never replaced).
    public static var gemmKernelsNamedByUser: Bool { OpenBLASKernels.namedByUser }

    /// One instance for the whole process; the backend holds no state, this only saves allocations.
    public static let shared = CPUBackend()

    public init() { _ = configuredBLAS }

    func host(_ buffer: Buffer, _ role: String) throws -> CPUBuffer {
        guard let b = buffer as? CPUBuffer else {
            throw BackendError.foreignBuffer("\(role) was not allocated by the CPU backend")
        }
        return b
    }

    public func allocate(count: Int, dtype: DType) throws -> Buffer {
        try require(count >= 0, "cannot allocate \(count) elements")
        // A failed host allocation would abort the process (or a page touched later would wake the kernel's OOM killer);
        // refuse what the machine, or the process's control group, cannot hold instead, counting what the live buffers
        // already hold
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: dtype.byteWidth)
        let limit = MemoryLimit.current, memory = limit.bytes, held = UInt64(max(0, CPUBuffer.liveBytes.load(ordering: .relaxed)))
        if overflow || UInt64(bytes) > memory - min(held, memory) {
            throw BackendError.outOfMemory("\(overflow ? "more than \(Int.max) bytes" : MemoryLimit.amount(UInt64(bytes))) asked for, with \(MemoryLimit.amount(held)) "
                                           + "already held; \(MemoryLimit.describe(limit))")
        }
        var raw: UnsafeMutableRawPointer?
        // a process memory limit (ulimit -v, a container's) fails here rather than at the machine's size
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            throw BackendError.outOfMemory("\(MemoryLimit.amount(UInt64(bytes))) could not be allocated (a process memory limit?), with \(MemoryLimit.amount(held)) already held")
        }
        return CPUBuffer(count: count, dtype: dtype, raw: raw, bytes: bytes)
    }

    public func upload(_ values: [Float], to buffer: Buffer, offset: Int) throws {
        let b = try host(buffer, "upload destination")
        try require(offset >= 0, "negative offset")
        try b.check(holds: offset + values.count, "upload destination")
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { (b.floats + offset).update(from: base, count: values.count) }
        }
    }

    public func upload(_ values: [Int32], to buffer: Buffer, offset: Int) throws {
        let b = try host(buffer, "upload destination")
        try require(offset >= 0, "negative offset")
        try b.check(holds: offset + values.count, of: .int32, "upload destination")
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { (b.ints + offset).update(from: base, count: values.count) }
        }
    }

    /// Ops run in issue order on the calling thread, so the ops issued before have finished and the copy is made now.
    public func startUpload(_ values: [Float], to buffer: Buffer, offset: Int) throws -> PendingUpload {
        try upload(values, to: buffer, offset: offset)
        return PendingUpload()
    }

    public func finishUpload(_ upload: PendingUpload) throws {}

    public func download(_ buffer: Buffer, offset: Int, count: Int) throws -> [Float] {
        let b = try host(buffer, "download source")
        try require(offset >= 0, "negative offset")
        try b.check(holds: offset + count, "download source")
        return Array(UnsafeBufferPointer(start: b.floats + offset, count: count))
    }

    public func downloadInt32(_ buffer: Buffer, offset: Int, count: Int) throws -> [Int32] {
        let b = try host(buffer, "download source")
        try require(offset >= 0, "negative offset")
        try b.check(holds: offset + count, of: .int32, "download source")
        return Array(UnsafeBufferPointer(start: b.ints + offset, count: count))
    }

    public func copy(from source: Buffer, offset sourceOffset: Int, to destination: Buffer, offset destinationOffset: Int, count: Int) throws {
        let s = try host(source, "copy source"), d = try host(destination, "copy destination")
        try require(sourceOffset >= 0 && destinationOffset >= 0, "negative offset")
        try require(s.dtype == d.dtype, "copy between \(s.dtype.rawValue) and \(d.dtype.rawValue)")
        try s.check(holds: sourceOffset + count, of: s.dtype, "copy source")
        try d.check(holds: destinationOffset + count, of: d.dtype, "copy destination")
        let width = s.dtype.byteWidth
        (d.raw + destinationOffset * width).copyMemory(from: s.raw + sourceOffset * width, byteCount: count * width)
    }

    public func copyBlock(
        from source: Buffer, offset sourceOffset: Int, rowStride sourceStride: Int,
        to destination: Buffer, offset destinationOffset: Int, rowStride destinationStride: Int,
        rows: Int, cols: Int
    ) throws {
        let s = try host(source, "copy source"), d = try host(destination, "copy destination")
        try checkBlock(s, offset: sourceOffset, stride: sourceStride, rows: rows, cols: cols, "copy source")
        try checkBlock(d, offset: destinationOffset, stride: destinationStride, rows: rows, cols: cols, "copy destination")
        for r in 0..<rows {
            (d.floats + destinationOffset + r * destinationStride)
                .update(from: s.floats + sourceOffset + r * sourceStride, count: cols)
        }
    }

    public func fill(_ buffer: Buffer, with value: Float, offset: Int, count: Int) throws {
        let b = try host(buffer, "fill destination")
        try require(offset >= 0, "negative offset")
        try b.check(holds: offset + count, "fill destination")
        (b.floats + offset).update(repeating: value, count: count)
    }

    public func synchronize() throws {}
}

/// Threads of the CPU backend: `LATENTKIT_THREADS` if set, else the cores shared evenly among the ranks of an `mpirun`
/// job on this machine (so that two ranks on two cores run one thread each), else every core.
let cores: Int = {
    let environment = ProcessInfo.processInfo.environment
    if let n = environment["LATENTKIT_THREADS"].flatMap(Int.init), n >= 1 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount / max(1, LaunchEnvironment.localSize ?? 1))
}()

/// Runs `body` over `0..<count` split into contiguous chunks, on all cores when the work is large enough to pay
/// for the hand-off (below `grain` elements per core it stays on the calling thread; a dispatch costs a few
/// microseconds, an element of a transcendental op a few nanoseconds).
@inline(__always)
func parallelChunks(_ count: Int, grain: Int = 1 << 13, _ body: (Range<Int>) -> Void) {
    let chunks = min(cores, count / grain)
    if chunks <= 1 {
        body(0..<count)
        return
    }
    let size = (count + chunks - 1) / chunks
    WorkerPool.shared.run(chunks: chunks) { c in
        let lo = c * size, hi = min(count, lo + size)
        if lo < hi { body(lo..<hi) }
    }
}

/// Column sums of a `rows × cols` block into `out`: each column summed in double over the first half of the rows
/// (`rows / 2`) and over the rest, each half in row order, the two sums added, then rounded to float. `body(rows,
/// columns, acc)` adds its rows' terms of those columns to `acc[j - columns.lowerBound]`, and may write elementwise
/// results of its rows as it goes. The halves are the batch's as the ops before split it across two cores, so with two
/// each core sums rows it holds in its own cache (split by columns, each read every row, half from the other core); more
/// cores split each half by columns. The halves are fixed by the shape, not by the thread count, so one thread's sums are
/// two threads' sums to the bit.
func parallelColumnSums(rows: Int, cols: Int, grain: Int = 1 << 13, into out: UnsafeMutablePointer<Float>,
                        _ body: (_ rows: Range<Int>, _ columns: Range<Int>, _ acc: UnsafeMutablePointer<Double>) -> Void) {
    let half = rows / 2
    let partials = UnsafeMutablePointer<Double>.allocate(capacity: 2 * cols)
    partials.initialize(repeating: 0, count: 2 * cols)
    defer { partials.deallocate() }
    let parallel = cores > 1 && rows * cols >= 2 * grain
    let blocks = parallel ? max(1, cores / 2) : 1, size = (cols + blocks - 1) / blocks
    onBatchHalves(blocks: blocks, parallel: parallel) { h, block in
        let lo = block * size, hi = min(cols, lo + size)
        if lo < hi { body(h == 0 ? 0..<half : half..<rows, lo..<hi, partials + h * cols + lo) }
    }
    for j in 0..<cols { out[j] = Float(partials[j] + partials[cols + j]) }
}

/// Runs `body(h, b)` for each half h (0, 1) of a batch and each of its `blocks` blocks, as task h + 2 b of the worker
/// pool: with two cores the calling thread (task 0) takes the first half of the batch and the helper the second, the
/// halves parallelChunks gave them in the ops before; more cores split each half into blocks. Not `parallel`: every
/// task in turn on the calling thread.
func onBatchHalves(blocks: Int, parallel: Bool = true, _ body: (_ half: Int, _ block: Int) -> Void) {
    if parallel {
        WorkerPool.shared.run(chunks: 2 * blocks) { body($0 % 2, $0 / 2) }
    } else {
        for t in 0..<(2 * blocks) { body(t % 2, t / 2) }
    }
}
