// The one error type every backend throws: each case carries what a user needs to fix the problem.

/// An error raised at the backend boundary.
///
/// OpenCL and CLBlast status codes are mapped to ``openCL(call:code:name:)`` and ``clBlast(call:code:)``
/// with the symbolic name of the code, so a failure on a user's device reads like `clEnqueueNDRangeKernel
/// failed: CL_OUT_OF_RESOURCES (-5)` rather than a bare number.
public enum BackendError: Error, CustomStringConvertible, Equatable {
    /// A buffer made by one backend was passed to another.
    case foreignBuffer(String)
    /// Sizes, shapes or element types that do not fit the operation.
    case invalidArgument(String)
    /// The device could not allocate the memory asked for.
    case outOfMemory(String)
    /// No OpenCL platform or device could be found or opened.
    case unavailable(String)
    /// An OpenCL call returned an error code.
    case openCL(call: String, code: Int32, name: String)
    /// An OpenCL program did not build; `log` is the device compiler's build log.
    case buildFailed(program: String, device: String, log: String)
    /// A CLBlast routine returned an error code.
    case clBlast(call: String, code: Int32)

    public var description: String {
        switch self {
        case .foreignBuffer(let what): return "buffer belongs to another backend: \(what)"
        case .invalidArgument(let what): return "invalid argument: \(what)"
        case .outOfMemory(let what): return "device out of memory: \(what)"
        case .unavailable(let what): return "OpenCL unavailable: \(what)"
        case .openCL(let call, let code, let name): return "\(call) failed: \(name) (\(code))"
        case .buildFailed(let program, let device, let log):
            return "OpenCL program '\(program)' failed to build on \(device):\n\(log)"
        case .clBlast(let call, let code): return "\(call) failed: CLBlast status \(code)"
        }
    }
}

/// Throws ``BackendError/invalidArgument(_:)`` with `message` unless `condition` holds.
@inlinable
public func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw BackendError.invalidArgument(message()) }
}

extension String {
    /// The text of a C string that a C function wrote into `characters`: the bytes before the first NUL, as UTF-8.
    public init(nulTerminated characters: [CChar]) {
        self.init(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
