// OpenCL status codes to BackendError, with the code's symbolic name.

import COpenCL
import Foundation
import Synchronization
import LatentCore

let openCLErrorNames: [Int32: String] = [
    -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -3: "CL_COMPILER_NOT_AVAILABLE",
    -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
    -7: "CL_PROFILING_INFO_NOT_AVAILABLE", -8: "CL_MEM_COPY_OVERLAP", -9: "CL_IMAGE_FORMAT_MISMATCH",
    -10: "CL_IMAGE_FORMAT_NOT_SUPPORTED", -11: "CL_BUILD_PROGRAM_FAILURE", -12: "CL_MAP_FAILURE",
    -13: "CL_MISALIGNED_SUB_BUFFER_OFFSET", -14: "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST",
    -15: "CL_COMPILE_PROGRAM_FAILURE", -16: "CL_LINKER_NOT_AVAILABLE", -17: "CL_LINK_PROGRAM_FAILURE",
    -18: "CL_DEVICE_PARTITION_FAILED", -19: "CL_KERNEL_ARG_INFO_NOT_AVAILABLE",
    -30: "CL_INVALID_VALUE", -31: "CL_INVALID_DEVICE_TYPE", -32: "CL_INVALID_PLATFORM", -33: "CL_INVALID_DEVICE",
    -34: "CL_INVALID_CONTEXT", -35: "CL_INVALID_QUEUE_PROPERTIES", -36: "CL_INVALID_COMMAND_QUEUE",
    -37: "CL_INVALID_HOST_PTR", -38: "CL_INVALID_MEM_OBJECT", -39: "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR",
    -40: "CL_INVALID_IMAGE_SIZE", -41: "CL_INVALID_SAMPLER", -42: "CL_INVALID_BINARY", -43: "CL_INVALID_BUILD_OPTIONS",
    -44: "CL_INVALID_PROGRAM", -45: "CL_INVALID_PROGRAM_EXECUTABLE", -46: "CL_INVALID_KERNEL_NAME",
    -47: "CL_INVALID_KERNEL_DEFINITION", -48: "CL_INVALID_KERNEL", -49: "CL_INVALID_ARG_INDEX",
    -50: "CL_INVALID_ARG_VALUE", -51: "CL_INVALID_ARG_SIZE", -52: "CL_INVALID_KERNEL_ARGS",
    -53: "CL_INVALID_WORK_DIMENSION", -54: "CL_INVALID_WORK_GROUP_SIZE", -55: "CL_INVALID_WORK_ITEM_SIZE",
    -56: "CL_INVALID_GLOBAL_OFFSET", -57: "CL_INVALID_EVENT_WAIT_LIST", -58: "CL_INVALID_EVENT",
    -59: "CL_INVALID_OPERATION", -60: "CL_INVALID_GL_OBJECT", -61: "CL_INVALID_BUFFER_SIZE",
    -62: "CL_INVALID_MIP_LEVEL", -63: "CL_INVALID_GLOBAL_WORK_SIZE", -64: "CL_INVALID_PROPERTY",
    -65: "CL_INVALID_IMAGE_DESCRIPTOR", -66: "CL_INVALID_COMPILER_OPTIONS", -67: "CL_INVALID_LINKER_OPTIONS",
    -68: "CL_INVALID_DEVICE_PARTITION_COUNT", -1001: "CL_PLATFORM_NOT_FOUND_KHR",
]

/// The error for status `code` returned by `call`: allocation failures become ``BackendError/outOfMemory(_:)``.
func openCLError(_ code: Int32, _ call: String) -> BackendError {
    let name = openCLErrorNames[code] ?? "unknown OpenCL error"
    switch code {
    case -4, -5, -6:
        return .outOfMemory("\(call) failed: \(name) (\(code))")
    case -1001, -1:
        return .unavailable("\(call): \(name) (\(code)); is an OpenCL driver (ICD) installed, e.g. pocl-opencl-icd?")
    default:
        return .openCL(call: call, code: code, name: name)
    }
}

/// Throws unless `code` is `CL_SUCCESS` (or an injected fault fires for `call`).
@inline(__always)
func check(_ code: cl_int, _ call: @autoclosure () -> String) throws {
    if code != CL_SUCCESS { throw openCLError(code, call()) }
    if let fault = InjectedFault.armed { try fault.strike(call()) }
}

/// `LATENTKIT_OPENCL_INJECT_FAULT=CALL[@N][=CODE]`: the N-th (default the first) OpenCL call whose name starts with CALL
/// (`clEnqueueNDRangeKernel`, `clEnqueueNDRangeKernel(families_dirichlet_kl`, `clCreateBuffer`, `clEnqueueReadBuffer`, ...)
/// fails with CODE (a status name such as `CL_MEM_OBJECT_ALLOCATION_FAILURE`, or its number; default
/// `CL_OUT_OF_RESOURCES`) after the call itself succeeded: how the tests make a device fail at any enqueue or
/// allocation of a run, as a GPU does when it runs out of memory or resources. Later calls succeed again.
struct InjectedFault: Sendable {
    let prefix: String
    let target: Int
    let code: Int32
    private let seen = Counter()

    static let armed: InjectedFault? = ProcessInfo.processInfo.environment["LATENTKIT_OPENCL_INJECT_FAULT"].flatMap { parse($0) }

    /// The fault `spec` describes; nil (and a warning on standard error) for a malformed one, so a typo never passes as
    /// an injected fault that did not fire.
    static func parse(_ spec: String) -> InjectedFault? {
        var rest = Substring(spec), code: Int32 = -5, target = 1
        if let eq = rest.lastIndex(of: "=") {
            let name = String(rest[rest.index(after: eq)...])
            guard let c = Int32(name) ?? openCLErrorNames.first(where: { $0.value == name })?.key else {
                FileHandle.standardError.write(Data("LATENTKIT_OPENCL_INJECT_FAULT: unknown status '\(name)'\n".utf8))
                exit(2)
            }
            code = c
            rest = rest[..<eq]
        }
        if let at = rest.lastIndex(of: "@") {
            guard let n = Int(rest[rest.index(after: at)...]), n >= 1 else {
                FileHandle.standardError.write(Data("LATENTKIT_OPENCL_INJECT_FAULT: '@N' takes a count >= 1, in '\(spec)'\n".utf8))
                exit(2)
            }
            target = n
            rest = rest[..<at]
        }
        return InjectedFault(prefix: String(rest), target: target, code: code)
    }

    /// Throws the fault if `call` is the targeted one.
    func strike(_ call: String) throws {
        guard call.hasPrefix(prefix), seen.increment() == target else { return }
        throw openCLError(code, call + " (injected by LATENTKIT_OPENCL_INJECT_FAULT)")
    }

    /// Calls seen so far, from any thread.
    private final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func increment() -> Int { value.add(1, ordering: .relaxed).newValue }
    }
}
