// Which of OpenBLAS's kernels the CPU backend's GEMM runs. Debian's OpenBLAS is built for every x86-64 core and picks
// one by the CPU's model number; on a virtual machine whose CPU reports a model it does not know (this project's CI
// and development machines report "Intel(R) Xeon(R) Processor" and get the SSE3 kernels of the 2004 Prescott), it
// falls back to those, although the CPU has AVX2 or AVX-512. Here that made the step's GEMMs 3 to 4.5 times slower
// (`latentkit bench --filter gemm`: 42-62 GFLOP/s with Prescott's, 137-214 with SkylakeX's).

import CBLAS
import Foundation

enum OpenBLASKernels {
    /// The core OpenBLAS's GEMM runs on, selected once: OpenBLAS's own choice unless that choice has no AVX2 kernels
    /// while this CPU has AVX2 and FMA, and the user has not named one in `OPENBLAS_CORETYPE` (OpenBLAS's own setting,
    /// always obeyed). Then it re-runs OpenBLAS's selection with the best core the CPU's features allow, as
    /// `OPENBLAS_CORETYPE` would have at start-up. Must run before the first BLAS call.
    static let selected: String = {
        let chosen = corename()
        guard !namedByUser, lacksAVX2(chosen), let better = bestCore(for: cpuFlags()),
              let handle = dlopen(nil, RTLD_NOW),
              let quit = dlsym(handle, "gotoblas_dynamic_quit"), let initialise = dlsym(handle, "gotoblas_dynamic_init")
        else { return chosen }  // a build without run-time core selection (DYNAMIC_ARCH) has its one core
        typealias Hook = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", better, 1)  // the one way to name a core to gotoblas_dynamic_init
        unsafeBitCast(quit, to: Hook.self)()
        unsafeBitCast(initialise, to: Hook.self)()  // an unknown name falls back to OpenBLAS's own default
        unsetenv("OPENBLAS_CORETYPE")  // the user's environment stays as it was
        return corename()
    }()

    /// Whether the user named OpenBLAS's core (`OPENBLAS_CORETYPE`) when the process started; read before ``selected``.
    static let namedByUser = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil

    static func lacksAVX2(_ core: String) -> Bool { withoutAVX2.contains(core.lowercased()) }

    /// Whether OpenBLAS's core `name` has AVX-512 GEMM kernels.
    static func hasAVX512(_ core: String) -> Bool { withAVX512.contains(core.lowercased()) }

    /// OpenBLAS's x86-64 cores with AVX-512 GEMM kernels.
    static let withAVX512: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

    /// OpenBLAS's x86-64 cores that have neither AVX2 nor AVX-512 GEMM kernels.
    static let withoutAVX2: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "sandybridge",
                                            "barcelona", "opteron", "opteron_sse3", "bobcat", "bulldozer", "nano"]

    /// The OpenBLAS core for these /proc/cpuinfo flags: SkylakeX for AVX-512 (F, CD, BW, DQ, VL; its kernels use them
    /// all), Haswell for AVX2 with FMA, none otherwise.
    static func bestCore(for flags: Set<String>) -> String? {
        if flags.isSuperset(of: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// The features the kernel reports for the first CPU (Linux; empty elsewhere, which selects nothing). The kernel
    /// lists AVX-512 only when it saves that state, so a listed feature is one a process may use.
    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    static func corename() -> String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
