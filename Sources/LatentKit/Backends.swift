// Choosing a backend: what `--backend auto|cpu|opencl` means.

@_exported import LatentCPU
@_exported import LatentCore
@_exported import LatentOpenCL

/// A user's backend choice.
public enum BackendChoice: String, CaseIterable, Sendable {
    /// An OpenCL GPU if there is one, else the CPU backend.
    case auto
    case cpu
    /// The default OpenCL device (a GPU if present, else any device, e.g. PoCL on the CPU).
    case opencl
}

public enum Backends {
    /// The backend for `choice`. `.opencl` throws `BackendError.unavailable` when no OpenCL device exists;
    /// `.auto` never throws for that reason, it falls back to the CPU.
    public static func make(_ choice: BackendChoice) throws -> any Backend {
        switch choice {
        case .cpu: return CPUBackend.shared
        case .opencl: return try OpenCLBackend.shared()
        case .auto: return autoChoice()
        }
    }

    /// What `.auto` picks: the shared OpenCL backend when its device is a GPU, else the CPU backend.
    public static func autoChoice() -> any Backend {
        if let cl = try? OpenCLBackend.shared(), cl.device.isGPU { return cl }
        return CPUBackend.shared
    }
}
