// A thin RAII layer over the OpenCL C API: each object owns one handle and releases it in deinit.
// Platforms and root devices are not reference counted in OpenCL, so they are plain values.

import COpenCL
import Foundation
import LatentCore

/// An OpenCL platform and one of its devices, with the facts the toolkit needs about it.
// @unchecked: `id` is an opaque cl_device_id, valid for the whole process; OpenCL's API calls are thread-safe for every
// object but a kernel's arguments (OpenCL 1.2, appendix A.2), so the handle may be used from any thread.
public struct CLDeviceInfo: @unchecked Sendable, CustomStringConvertible {
    public let platformIndex: Int
    public let deviceIndex: Int
    public let platformName: String
    public let name: String
    public let isGPU: Bool
    public let version: String
    public let driverVersion: String
    public let globalMemory: UInt64
    public let maxAllocation: UInt64
    public let maxWorkGroupSize: Int
    /// `CL_DEVICE_LOCAL_MEM_SIZE` in bytes.
    public let localMemory: UInt64
    let id: cl_device_id

    public var description: String {
        "[\(platformIndex):\(deviceIndex)] \(platformName) / \(name) (\(isGPU ? "GPU" : "non-GPU"), \(version), "
            + "driver \(driverVersion), \(globalMemory >> 20) MiB)"
    }
}

enum CLQuery {
    static func platforms() throws -> [cl_platform_id] {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        if status == -1001 || count == 0 {
            throw BackendError.unavailable(
                "no OpenCL platform found; install an OpenCL driver (ICD), e.g. Debian's pocl-opencl-icd for CPUs")
        }
        try check(status, "clGetPlatformIDs")
        var ids = [cl_platform_id?](repeating: nil, count: Int(count))
        try check(clGetPlatformIDs(count, &ids, nil), "clGetPlatformIDs")
        return ids.compactMap { $0 }
    }

    /// A string from one of the `clGet*Info` calls: `get(size, buffer, sizeOut)` is asked for the size, then the bytes.
    static func string(_ call: String, _ get: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int) throws -> String {
        var size = 0
        try check(get(0, nil, &size), call)
        var bytes = [CChar](repeating: 0, count: size + 1)
        try check(bytes.withUnsafeMutableBytes { get(size, $0.baseAddress, nil) }, call)
        return String(nulTerminated: bytes).trimmingCharacters(in: .whitespaces)
    }

    static func platformString(_ p: cl_platform_id, _ param: Int32) throws -> String {
        try string("clGetPlatformInfo") { clGetPlatformInfo(p, cl_platform_info(param), $0, $1, $2) }
    }

    static func devices(_ p: cl_platform_id) throws -> [cl_device_id] {
        var count: cl_uint = 0
        let status = clGetDeviceIDs(p, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &count)
        if status == CL_DEVICE_NOT_FOUND || count == 0 { return [] }
        try check(status, "clGetDeviceIDs")
        var ids = [cl_device_id?](repeating: nil, count: Int(count))
        try check(clGetDeviceIDs(p, cl_device_type(CL_DEVICE_TYPE_ALL), count, &ids, nil), "clGetDeviceIDs")
        return ids.compactMap { $0 }
    }

    static func deviceString(_ d: cl_device_id, _ param: Int32) throws -> String {
        try string("clGetDeviceInfo") { clGetDeviceInfo(d, cl_device_info(param), $0, $1, $2) }
    }

    static func deviceValue<T: FixedWidthInteger>(_ d: cl_device_id, _ param: Int32, as: T.Type) throws -> T {
        var value: T = 0
        try check(clGetDeviceInfo(d, cl_device_info(param), MemoryLayout<T>.size, &value, nil), "clGetDeviceInfo")
        return value
    }

    /// Every device of every platform, in platform order.
    static func allDevices() throws -> [CLDeviceInfo] {
        var result: [CLDeviceInfo] = []
        for (pi, p) in try platforms().enumerated() {
            let platformName = try platformString(p, CL_PLATFORM_NAME)
            for (di, d) in try devices(p).enumerated() {
                let type = try deviceValue(d, CL_DEVICE_TYPE, as: cl_device_type.self)
                result.append(
                    CLDeviceInfo(
                        platformIndex: pi, deviceIndex: di, platformName: platformName,
                        name: try deviceString(d, CL_DEVICE_NAME),
                        isGPU: type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0,
                        version: try deviceString(d, CL_DEVICE_VERSION),
                        driverVersion: try deviceString(d, CL_DRIVER_VERSION),
                        globalMemory: try deviceValue(d, CL_DEVICE_GLOBAL_MEM_SIZE, as: cl_ulong.self),
                        maxAllocation: try deviceValue(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, as: cl_ulong.self),
                        maxWorkGroupSize: Int(try deviceValue(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, as: Int.self)),
                        localMemory: try deviceValue(d, CL_DEVICE_LOCAL_MEM_SIZE, as: cl_ulong.self),
                        id: d))
            }
        }
        return result
    }
}

final class CLContext {
    let handle: cl_context
    private var released = false
    init(device: cl_device_id) throws {
        var status: cl_int = 0
        var d: cl_device_id? = device
        guard let c = clCreateContext(nil, 1, &d, nil, nil, &status), status == CL_SUCCESS else {
            throw openCLError(status, "clCreateContext")
        }
        handle = c
    }
    /// Releases the context now (idempotent); deinit then does nothing.
    func release() {
        if !released { clReleaseContext(handle) }
        released = true
    }
    deinit { release() }
}

final class CLQueue {
    let handle: cl_command_queue
    private var released = false
    init(context: CLContext, device: cl_device_id) throws {
        var status: cl_int = 0
        guard let q = clCreateCommandQueue(context.handle, device, 0, &status), status == CL_SUCCESS else {
            throw openCLError(status, "clCreateCommandQueue")
        }
        handle = q
    }
    /// Releases the queue now (idempotent); deinit then does nothing.
    func release() {
        if !released { clReleaseCommandQueue(handle) }
        released = true
    }
    deinit { release() }
}

final class CLProgram {
    let handle: cl_program
    let name: String

    /// Builds `source` for `device`; a failed build throws ``BackendError/buildFailed(program:device:log:)`` with
    /// the compiler's log.
    init(context: CLContext, device: CLDeviceInfo, source: String, options: String, name: String) throws {
        self.name = name
        var status: cl_int = 0
        let program: cl_program? = source.withCString { s in
            var p: UnsafePointer<CChar>? = s
            var length = strlen(s)
            return clCreateProgramWithSource(context.handle, 1, &p, &length, &status)
        }
        guard let program, status == CL_SUCCESS else { throw openCLError(status, "clCreateProgramWithSource(\(name))") }
        handle = program
        var d: cl_device_id? = device.id
        let built = clBuildProgram(program, 1, &d, options, nil, nil)
        if built != CL_SUCCESS {
            let text = (try? CLQuery.string("clGetProgramBuildInfo") {
                clGetProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2)
            }) ?? ""
            throw BackendError.buildFailed(
                program: name, device: device.name,
                log: text.isEmpty ? "(empty build log; status \(openCLErrorNames[built] ?? "\(built)"))" : text)
        }
    }
    deinit { clReleaseProgram(handle) }

    /// Names of every kernel in the program.
    func kernelNames() throws -> [String] {
        try CLQuery.string("clGetProgramInfo") { clGetProgramInfo(handle, cl_program_info(CL_PROGRAM_KERNEL_NAMES), $0, $1, $2) }
            .split(separator: ";").map(String.init)
    }
}

final class CLKernel {
    let handle: cl_kernel
    let name: String
    init(program: CLProgram, name: String) throws {
        self.name = name
        var status: cl_int = 0
        guard let k = clCreateKernel(program.handle, name, &status), status == CL_SUCCESS else {
            throw openCLError(status, "clCreateKernel(\(name))")
        }
        handle = k
    }
    deinit { clReleaseKernel(handle) }
}

/// Device memory for the OpenCL backend.
// @unchecked: `mem` is set in init and released in deinit; cl_mem handles are thread-safe (OpenCL 1.2, appendix A.2),
// and the contents are ordered by the backend's in-order compute queue (uploads on its transfer queue wait for, and are
// waited for by, the compute queue through events).
public final class OpenCLBuffer: Buffer, @unchecked Sendable {
    let mem: cl_mem
    init(context: CLContext, count: Int, dtype: DType) throws {
        var status: cl_int = 0
        let bytes = max(count, 1) * dtype.byteWidth
        guard let m = clCreateBuffer(context.handle, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status),
            status == CL_SUCCESS
        else {
            throw openCLError(status, "clCreateBuffer(\(bytes) bytes)")
        }
        do { try LatentOpenCL.check(status, "clCreateBuffer(\(bytes) bytes)") } catch {
            clReleaseMemObject(m)
            throw error
        }
        mem = m
        super.init(count: count, dtype: dtype)
    }
    deinit { clReleaseMemObject(mem) }
}
