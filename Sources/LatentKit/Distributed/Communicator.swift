// The ranks of an `mpirun` job, for data-parallel training and evaluation. MPI is loaded at run time (Sources/CMPI):
// the `latentkit` binary has no link-time dependency on it and runs as one process wherever `mpirun` did not start it.

import CMPI
import Foundation

public struct DistributedError: Error, CustomStringConvertible {
    public let description: String
    /// Thrown alike on every rank (a disagreement found by a collective), so every rank can report it and finalise MPI;
    /// any other error is one rank's, and that rank ends the job (``Communicator/abort(code:)``).
    public let isCollective: Bool
    public init(_ description: String, isCollective: Bool = false) {
        self.description = description
        self.isCollective = isCollective
    }
}

/// MPI_COMM_WORLD of the job this process belongs to: its rank, the number of ranks, and the collectives training needs.
/// Every collective is called by every rank in the same order; each one blocks until all ranks have joined it.
public final class Communicator: Sendable {
    public let rank: Int
    public let size: Int
    /// "Open MPI" or "MPICH".
    public let implementation: String

    public var isRoot: Bool { rank == 0 }

    /// Whether the environment says `mpirun` (Open MPI's, or a PMI launcher such as MPICH's Hydra) started this process.
    public static var launchedByMPI: Bool { LaunchEnvironment.startedByMPI }

    /// The job's communicator when `mpirun` started this process, made on first use (MPI_Init runs once per process);
    /// nil otherwise. Throws when MPI cannot be loaded or initialised.
    public static func world() throws -> Communicator? {
        guard launchedByMPI else { return nil }
        return try shared.get()
    }

    private static let shared = Result { try Communicator() }
    private static let made = SetOnceFlag()

    /// The communicator if ``world()`` has made one (to finalise or abort at exit), else nil.
    public static var ifMade: Communicator? { made.isSet ? try? shared.get() : nil }

    private init() throws {
        var message = [CChar](repeating: 0, count: 512)
        let path = ProcessInfo.processInfo.environment["LATENTKIT_MPI_LIBRARY"]
        let preferMPICH: Int32 = LaunchEnvironment.startedByOpenMPI ? 0 : 1
        let flavour = lk_mpi_load(path, preferMPICH, &message, message.count)
        guard flavour != LK_MPI_NONE else {
            throw DistributedError("mpirun started this process, but MPI could not be loaded: " + String(nulTerminated: message))
        }
        implementation = flavour == LK_MPI_OPEN_MPI ? "Open MPI" : "MPICH"
        var rank: Int32 = 0, size: Int32 = 0
        let status = lk_mpi_initialize(&rank, &size)
        guard status == 0 else { throw DistributedError("MPI_Init failed with error code \(status)") }
        self.rank = Int(rank)
        self.size = Int(size)
        Self.made.set()
    }

    private func check(_ status: Int32, _ call: String) throws {
        guard status == 0 else { throw DistributedError("\(call) failed with MPI error code \(status) on rank \(rank)") }
    }

    /// MPI counts are 32-bit.
    private func elementCount(_ count: Int) throws -> Int32 {
        guard let n = Int32(exactly: count) else { throw DistributedError("an MPI message of \(count) elements exceeds MPI's 32-bit count") }
        return n
    }

    private func allreduce<T>(_ values: inout [T], _ type: lk_mpi_type, _ operation: lk_mpi_operation) throws {
        let count = try elementCount(values.count)
        try values.withUnsafeMutableBytes { try check(lk_mpi_allreduce($0.baseAddress, count, type, operation), "MPI_Allreduce") }
    }

    /// Every rank's `values` summed, on every rank.
    public func sum(_ values: inout [Float]) throws {
        try allreduce(&values, LK_MPI_FLOAT32, LK_MPI_SUM)
    }

    /// Every rank's `values` summed, on every rank.
    public func sum(_ values: inout [Double]) throws {
        try allreduce(&values, LK_MPI_FLOAT64, LK_MPI_SUM)
    }

    /// The element-wise maximum over ranks, on every rank.
    public func maximum(_ values: inout [Double]) throws {
        try allreduce(&values, LK_MPI_FLOAT64, LK_MPI_MAX)
    }

    /// Rank `root`'s `values` on every rank (every rank passes an array of the same length).
    public func broadcast(_ values: inout [Float], from root: Int = 0) throws {
        let count = try elementCount(values.count)
        try values.withUnsafeMutableBytes { try check(lk_mpi_broadcast($0.baseAddress, count, LK_MPI_FLOAT32, Int32(root)), "MPI_Bcast") }
    }

    /// Throws the same error on every rank unless every rank passes the same `fingerprint` (a hash of what must agree:
    /// flags, data). `what` names it in the error.
    public func requireAgreement(on fingerprint: UInt64, _ what: String) throws {
        // two 32-bit halves as doubles (exact), maximum and negated maximum (= minimum): all ranks agree iff max == min
        let halves = [Double(fingerprint >> 32), Double(fingerprint & 0xFFFF_FFFF)]
        var extremes = halves + halves.map { -$0 }
        try maximum(&extremes)
        var differs = [halves == [extremes[0], extremes[1]] && halves == [-extremes[2], -extremes[3]] ? 0.0 : 1.0]
        try sum(&differs)
        guard differs[0] == 0 else {
            throw DistributedError("the \(size) ranks disagree on \(what) (rank \(rank) differs from at least one other); "
                                   + "every rank must be started with the same flags and data", isCollective: true)
        }
    }

    /// Ends every rank of the job with `code` (MPI_Abort): what a rank does after an error the others cannot know of, so
    /// that none waits in a collective for it.
    public func abort(code: Int32) -> Never {
        _ = lk_mpi_abort(code)
        exit(code)
    }

    /// MPI_Finalize: every rank calls it once, last.
    public func finalize() { _ = lk_mpi_finalize() }
}

/// A 64-bit FNV-1a hash, eight bytes at a time: the fingerprint of configurations and data that ranks compare.
public struct Fingerprint {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i + 8 <= bytes.count {
            value = (value ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01B3
            i += 8
        }
        while i < bytes.count {
            value = (value ^ UInt64(bytes[i])) &* 0x100_0000_01B3
            i += 1
        }
    }

    public mutating func add(_ text: String) { var t = text; t.withUTF8 { add(UnsafeRawBufferPointer($0)) } }
    public mutating func add(_ values: [Float]) { values.withUnsafeBytes { add($0) } }
}
