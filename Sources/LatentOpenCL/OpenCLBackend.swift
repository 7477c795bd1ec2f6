// The OpenCL backend: one context and one in-order queue per process, programs built lazily per kernel
// family and cached, every kernel launch serialised (clSetKernelArg on a shared cl_kernel is not thread-safe).

import COpenCL
import Foundation
import Kernels
import LatentCore

// @unchecked: the mutable state (`programs`, `kernels`, `scratch`, `transferQueue`, `isShutDown`) is read and written
// only while holding `lock`, and so is every set-arguments-then-enqueue sequence (clSetKernelArg is OpenCL's one call
// that is not thread-safe); the context, queue and device handles are set in init and are thread-safe (OpenCL 1.2,
// appendix A.2).
public final class OpenCLBackend: Backend, @unchecked Sendable {
    public let kind = BackendKind.opencl
    public let device: CLDeviceInfo
    public var deviceDescription: String { device.description }

    let context: CLContext
    let queue: CLQueue
    /// Work-group size of the kernels (`LK_WG`): 256 or the device's limit if lower.
    public let workGroupSize: Int
    /// Guards `programs`, `kernels` and every set-arguments-then-enqueue sequence.
    let lock = NSLock()
    private var programs: [KernelFamily: CLProgram] = [:]
    private var kernels: [String: CLKernel] = [:]
    /// Scratch memory for kernels that need per-row workspace, grown on demand and reused: the queue is in order, so
    /// a later kernel that reuses it starts only after the earlier one has finished with it.
    private var scratch: Buffer?
    /// A second in-order queue for uploads that overlap compute (``startUpload(_:to:offset:)``), made on first use.
    private var transferQueue: CLQueue?
    /// How the kernels that reduce along a row or a column run (batch normalisation and column sums down columns, the
    /// Dirichlet KL along rows): `nil` picks per call (``usesColumnTiles(columns:)``, ``usesRowGroups(rows:length:)``);
    /// tests fix it to check both forms.
    public let reductionForm: ReductionForm?

    /// The two forms of a kernel that reduces along the lines (rows or columns) of a matrix.
    public enum ReductionForm: Sendable {
        /// One work-item per line, looping along it: as many work-items as lines.
        case workItemPerLine
        /// Work-groups that split lines across their work-items and reduce in local memory: a work-group per row, or per
        /// 16 columns (column tiles).
        case workGroupPerLines
    }

    /// A work-group per row on a GPU, for long rows (1,024 or more) or small batches (fewer than 64 rows); one work-item per
    /// row otherwise (a CPU device's few cores do best with long independent loops), and for rows shorter than 16, where
    /// all but a few of a group's items would idle (a Discrete VAE's AIS over a 2+2 RBM launched 256 items per chain for 4
    /// units: Oclgrind, which counts as a GPU, then took over 5 minutes for a 2-step run).
    func usesRowGroups(rows: Int, length: Int) -> Bool { usesWorkGroups(length >= 1024 || rows < 64, worthIt: length >= 16) }

    /// Column tiles on a GPU, whatever the shape (a batch of 100 × 200 features is 200 work-items the other way, where a
    /// GPU wants tens of thousands), and on any device when there are fewer than 64 columns; one work-item per column
    /// otherwise (a CPU device's few cores do best with long independent loops).
    func usesColumnTiles(columns: Int) -> Bool { usesWorkGroups(columns < 64) }

    /// The work-group form when ``reductionForm`` says so, or, when it is nil and the lines are `worthIt`, on a GPU or
    /// where `shapeCallsForIt`.
    private func usesWorkGroups(_ shapeCallsForIt: Bool, worthIt: Bool = true) -> Bool {
        switch reductionForm {
        case .workItemPerLine: return false
        case .workGroupPerLines: return true
        case nil: return worthIt && (device.isGPU || shapeCallsForIt)
        }
    }

    /// The global size of a column-tile launch over `columns` columns.
    func columnTileWorkItems(columns: Int) -> Int { (columns + min(16, workGroupSize) - 1) / min(16, workGroupSize) * workGroupSize }

    /// `LATENTKIT_TRACE_LAUNCHES=1`: every kernel launch prints `launch NAME WORK-ITEMS GLOBAL LOCAL` (the work-items asked
    /// for, the global size rounded up to whole work-groups, the work-group size)
    /// to standard error, for counting a step's parallelism (Benchmarks/work_items.sh).
    static let tracesLaunches = ProcessInfo.processInfo.environment["LATENTKIT_TRACE_LAUNCHES"] == "1"

    /// Set by ``shutDown()``; every later launch or buffer command throws.
    private(set) var isShutDown = false

    /// A backend on `device` whose kernels use work-groups of the largest power of two up to 256, the device's
    /// `CL_DEVICE_MAX_WORK_GROUP_SIZE`, `workGroupLimit` and `LATENTKIT_OPENCL_WORK_GROUP` (when set). The reduction kernels'
    /// local arrays are sized by it, and every kernel's own `CL_KERNEL_WORK_GROUP_SIZE` is checked against it.
    /// `reductionForm` (or `LATENTKIT_OPENCL_REDUCTIONS=work-items|work-groups`) fixes the form of every reduction kernel
    /// instead of choosing by device and shape: to see on any device what a GPU gets, or to compare the two.
    public init(device: CLDeviceInfo, workGroupLimit: Int? = nil, reductionForm: ReductionForm? = nil) throws {
        self.device = device
        switch ProcessInfo.processInfo.environment["LATENTKIT_OPENCL_REDUCTIONS"] {
        case nil, "": self.reductionForm = reductionForm
        case "work-items": self.reductionForm = reductionForm ?? .workItemPerLine
        case "work-groups": self.reductionForm = reductionForm ?? .workGroupPerLines
        case let text?:
            throw BackendError.invalidArgument("LATENTKIT_OPENCL_REDUCTIONS=\(text) is neither work-items nor work-groups")
        }
        var limit = min(256, device.maxWorkGroupSize, workGroupLimit ?? Int.max)
        if let text = ProcessInfo.processInfo.environment["LATENTKIT_OPENCL_WORK_GROUP"], !text.isEmpty {
            guard let n = Int(text), n >= 1 else {
                throw BackendError.invalidArgument("LATENTKIT_OPENCL_WORK_GROUP=\(text) is not a positive work-group size")
            }
            limit = min(limit, n)
        }
        var wg = 1
        while wg * 2 <= limit { wg *= 2 }
        workGroupSize = wg
        context = try CLContext(device: device.id)
        queue = try CLQueue(context: context, device: device.id)
    }

    /// Every OpenCL device on the machine.
    public static func devices() throws -> [CLDeviceInfo] { try CLQuery.allDevices() }

    /// The device `--backend opencl` uses: `LATENTKIT_OPENCL_DEVICE=P:D` (platform and device index) if set,
    /// else (for one of several ranks of an `mpirun` job on a machine with several GPUs) the GPU of its local rank, else
    /// the first GPU, else the first device of any kind.
    public static func defaultDevice() throws -> CLDeviceInfo {
        let all = try devices()
        if let pick = ProcessInfo.processInfo.environment["LATENTKIT_OPENCL_DEVICE"], !pick.isEmpty {
            let parts = pick.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2, let d = all.first(where: { $0.platformIndex == parts[0] && $0.deviceIndex == parts[1] })
            else {
                throw BackendError.unavailable(
                    "LATENTKIT_OPENCL_DEVICE=\(pick) names no device; expected PLATFORM:DEVICE among "
                        + all.map { "\($0.platformIndex):\($0.deviceIndex)" }.joined(separator: ", "))
            }
            return d
        }
        // one rank of several on a machine (mpirun): the GPU of its local rank
        let gpus = all.filter(\.isGPU)
        if gpus.count > 1, let local = LaunchEnvironment.localRank {
            return gpus[local % gpus.count]
        }
        guard let d = gpus.first ?? all.first else {
            throw BackendError.unavailable("OpenCL platforms found, but no devices")
        }
        return d
    }

    private static let sharedResult: Result<OpenCLBackend, Error> = Result {
        let backend = try OpenCLBackend(device: defaultDevice())
        sharedWasMade.set()
        return backend
    }
    private static let sharedWasMade = SetOnceFlag()

    /// Shuts the process-wide backend down if it was made (see ``shutDown()``): a program calls this before it exits.
    public static func shutDownShared() {
        guard sharedWasMade.isSet, case .success(let backend) = sharedResult else { return }
        backend.shutDown()
    }

    /// Releases, in order and while the OpenCL runtime is alive, CLBlast's cached programs and then every kernel,
    /// program, the scratch buffer, the queue and the context; later launches throw. For the end of a process, before
    /// `exit`: left to static destructors (which glibc runs after it has destroyed thread-local storage), CLBlast's cache
    /// releases its programs into a runtime whose per-thread state is gone, a use-after-free that glibc reports as heap
    /// corruption.
    public func shutDown() {
        lock.lock()
        defer { lock.unlock() }
        guard !isShutDown else { return }
        isShutDown = true
        _ = clFinish(queue.handle)
        _ = CLBlastClearCache()
        kernels.removeAll()
        programs.removeAll()
        scratch = nil
        if let transferQueue {
            _ = clFinish(transferQueue.handle)
            transferQueue.release()
        }
        queue.release()
        context.release()
    }

    /// The process-wide backend on ``defaultDevice()``. One context per process: PoCL and CLBlast cache compiled
    /// programs per context, so a second context would compile everything again.
    public static func shared() throws -> OpenCLBackend { try sharedResult.get() }

    // MARK: programs and launches

    /// The built program of `family`, compiled on first use.
    func program(_ family: KernelFamily) throws -> CLProgram {
        if let p = programs[family] { return p }
        let p = try CLProgram(
            context: context, device: device, source: family.source,
            options: KernelFamily.buildOptions(workGroupSize: workGroupSize), name: family.rawValue)
        programs[family] = p
        return p
    }

    /// Builds every kernel family and returns the kernel names of each (used by the build test and `devices`).
    public func buildAll() throws -> [KernelFamily: [String]] {
        lock.lock()
        defer { lock.unlock() }
        var names: [KernelFamily: [String]] = [:]
        for family in KernelFamily.allCases { names[family] = try program(family).kernelNames() }
        return names
    }

    /// Builds arbitrary OpenCL C `source` on this device (throws with the build log on failure).
    public func build(source: String, name: String) throws -> [String] {
        try CLProgram(context: context, device: device, source: source, options: "-cl-std=CL1.2", name: name).kernelNames()
    }

    enum Argument {
        case buffer(cl_mem)
        case int(Int32)
        case uint(UInt32)
        case float(Float)
    }

    func mem(_ buffer: Buffer, _ role: String) throws -> cl_mem {
        guard let b = buffer as? OpenCLBuffer else {
            throw BackendError.foreignBuffer("\(role) was not allocated by the OpenCL backend")
        }
        return b.mem
    }

    func int(_ value: Int, _ role: String) throws -> Argument {
        try require(value >= 0 && value <= Int(Int32.max), "\(role) = \(value) is outside the kernels' 32-bit range")
        return .int(Int32(value))
    }

    /// Sets `arguments` on kernel `name` of `family` and enqueues it over `global` work-items (rounded up to a
    /// multiple of the work-group size; kernels bound-check their index).
    func launch(_ family: KernelFamily, _ name: String, global: Int, local: Int? = nil, _ arguments: [Argument]) throws {
        if global == 0 { return }
        lock.lock()
        defer { lock.unlock() }
        try requireAlive()
        let kernel: CLKernel
        if let k = kernels[name] {
            kernel = k
        } else {
            kernel = try CLKernel(program: try program(family), name: name)
            try checkLimits(of: kernel)
            kernels[name] = kernel
        }
        for (i, argument) in arguments.enumerated() {
            let status: cl_int
            switch argument {
            case .buffer(var m): status = clSetKernelArg(kernel.handle, cl_uint(i), MemoryLayout<cl_mem>.size, &m)
            case .int(var v): status = clSetKernelArg(kernel.handle, cl_uint(i), 4, &v)
            case .uint(var v): status = clSetKernelArg(kernel.handle, cl_uint(i), 4, &v)
            case .float(var v): status = clSetKernelArg(kernel.handle, cl_uint(i), 4, &v)
            }
            try check(status, "clSetKernelArg(\(name), \(i))")
        }
        var localSize = local ?? workGroupSize
        var globalSize = (global + localSize - 1) / localSize * localSize
        if Self.tracesLaunches { FileHandle.standardError.write(Data("launch \(name) \(global) \(globalSize) \(localSize)\n".utf8)) }
        try check(
            clEnqueueNDRangeKernel(queue.handle, kernel.handle, 1, nil, &globalSize, &localSize, 0, nil, nil),
            "clEnqueueNDRangeKernel(\(name))")
    }

    /// A GPU may allow a kernel fewer work-items per group than the device maximum (registers) or less local memory than
    /// it uses: refuse such a kernel by name, with the setting that avoids it, instead of failing at enqueue.
    private func checkLimits(of kernel: CLKernel) throws {
        var allowed = 0, local: cl_ulong = 0
        try check(clGetKernelWorkGroupInfo(kernel.handle, device.id, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                           MemoryLayout<Int>.size, &allowed, nil), "clGetKernelWorkGroupInfo(\(kernel.name))")
        try check(clGetKernelWorkGroupInfo(kernel.handle, device.id, cl_kernel_work_group_info(CL_KERNEL_LOCAL_MEM_SIZE),
                                           MemoryLayout<cl_ulong>.size, &local, nil), "clGetKernelWorkGroupInfo(\(kernel.name))")
        if allowed < workGroupSize {
            throw BackendError.unavailable("kernel \(kernel.name) allows work-groups of \(allowed) on \(device.name), LatentKit uses "
                                           + "\(workGroupSize); set LATENTKIT_OPENCL_WORK_GROUP=\(allowed) to use smaller ones")
        }
        if local > device.localMemory {
            throw BackendError.unavailable("kernel \(kernel.name) needs \(local) bytes of local memory, \(device.name) has \(device.localMemory); "
                                           + "set LATENTKIT_OPENCL_WORK_GROUP to a smaller work-group size")
        }
    }

    /// A device buffer of at least `count` floats for a kernel's workspace, the same one every call (no allocation
    /// per step once it has reached its largest size).
    func workspace(count: Int) throws -> Buffer {
        lock.lock()
        defer { lock.unlock() }
        if let b = scratch, b.count >= count { return b }
        let b = try allocate(count: count, dtype: .float32)
        scratch = b
        return b
    }

    /// Runs `body` with the queue while holding the launch lock (for CLBlast and buffer commands).
    func withQueue<T>(_ body: (cl_command_queue) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try requireAlive()
        return try body(queue.handle)
    }

    /// `withQueue` with the transfer queue too (made on first use).
    func withTransferQueues<T>(_ body: (_ compute: cl_command_queue, _ transfer: cl_command_queue) throws -> T) throws -> T {
        try withQueue { q in
            if transferQueue == nil { transferQueue = try CLQueue(context: context, device: device.id) }
            return try body(q, transferQueue!.handle)
        }
    }

    private func requireAlive() throws {
        if isShutDown { throw BackendError.unavailable("the OpenCL backend was shut down (the process is exiting)") }
    }

    public func synchronize() throws {
        try withQueue { q in try check(clFinish(q), "clFinish") }
    }
}
