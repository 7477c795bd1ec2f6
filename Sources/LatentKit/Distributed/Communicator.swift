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
    /// This process's host name, which error lines name beside the rank (ranks on a cluster are on different hosts).
    public static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        return String(cString: name)
    }

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
        watchdog = CollectiveWatchdog(rank: Int(rank), timeout: try Self.collectiveTimeout())
        Self.made.set()
    }

    /// How long a collective may wait before the rank ends the job: `LATENTKIT_MPI_TIMEOUT` seconds (0: forever),
    /// default ``defaultCollectiveTimeout``.
    static func collectiveTimeout() throws -> Double {
        guard let text = ProcessInfo.processInfo.environment["LATENTKIT_MPI_TIMEOUT"] else { return defaultCollectiveTimeout }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
            throw DistributedError("LATENTKIT_MPI_TIMEOUT must be a number of seconds >= 0 (0: no limit), got '\(text)'")
        }
        return seconds
    }

    /// Ten minutes: a collective waits for the slowest rank's step, its data loading or its share of an evaluation, all
    /// far shorter; a rank that waits longer has lost a peer (a node down, a link cut) that MPI over TCP may take many
    /// minutes more to notice, if ever.
    public static let defaultCollectiveTimeout = 600.0

    private let watchdog: CollectiveWatchdog

    /// Runs one collective under the watchdog and checks its status.
    private func collective(_ call: String, _ body: () -> Int32) throws {
        let status = watchdog.guarding(call, body)
        guard status == 0 else { throw DistributedError("\(call) failed with MPI error code \(status) on rank \(rank)") }
    }

    /// MPI counts are 32-bit.
    private func elementCount(_ count: Int) throws -> Int32 {
        guard let n = Int32(exactly: count) else { throw DistributedError("an MPI message of \(count) elements exceeds MPI's 32-bit count") }
        return n
    }

    private func allreduce<T>(_ values: inout [T], _ type: lk_mpi_type, _ operation: lk_mpi_operation) throws {
        let count = try elementCount(values.count)
        try values.withUnsafeMutableBytes { buffer in try collective("MPI_Allreduce") { lk_mpi_allreduce(buffer.baseAddress, count, type, operation) } }
    }

    /// Every rank's `values` summed, on every rank.
    public func sum(_ values: inout [Float]) throws {
        try allreduce(&values, LK_MPI_FLOAT32, LK_MPI_SUM)
    }

    /// Starts summing every rank's `values` over the ranks, in place, without waiting (MPI_Iallreduce): `values` must
    /// stay allocated and untouched until ``finish(_:)`` returns. Every rank starts the same sums in the same order.
    public func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingSum {
        let count = try elementCount(values.count)
        var request: OpaquePointer?
        let status = lk_mpi_iallreduce(values.baseAddress, count, LK_MPI_FLOAT32, LK_MPI_SUM, &request)
        guard status == 0, let request else { throw DistributedError("MPI_Iallreduce failed with MPI error code \(status) on rank \(rank)") }
        return PendingSum(request: request)
    }

    /// Lets MPI move a started sum along (MPI_Test); true once it has completed.
    public func progress(_ sum: PendingSum) throws -> Bool {
        guard let request = sum.request else { return true }
        var done: Int32 = 0
        let status = lk_mpi_test(request, &done)
        guard status == 0 else { throw DistributedError("MPI_Test failed with MPI error code \(status) on rank \(rank)") }
        if done != 0 { sum.request = nil }
        return done != 0
    }

    /// Waits for a started sum to complete (MPI_Wait), under the collective timeout.
    public func finish(_ sum: PendingSum) throws {
        guard let request = sum.request else { return }
        try collective("MPI_Wait (a bucket of gradients)") { lk_mpi_wait(request) }
        sum.request = nil
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
        try values.withUnsafeMutableBytes { buffer in try collective("MPI_Bcast") { lk_mpi_broadcast(buffer.baseAddress, count, LK_MPI_FLOAT32, Int32(root)) } }
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
            throw DistributedError("the \(size) ranks disagree on \(what) (rank \(rank) on \(Self.hostName()) differs from at least one other); "
                                   + "every rank must be started with the same flags and data", isCollective: true)
        }
    }

    /// Ends every rank of the job with `code` (MPI_Abort): what a rank does after an error the others cannot know of, so
    /// that none waits in a collective for it.
    public func abort(code: Int32) -> Never {
        Self.abortJob(code: code)
    }

    /// MPI_Abort a moment after this rank's error line: the launcher forwards a rank's output through a pipe, and an
    /// abort that follows at once can tear the job down before the line is forwarded (MPICH's hydra lost the
    /// watchdog's line that way in 1 of 3 runs of the multinode check under load).
    static func abortJob(code: Int32) -> Never {
        fflush(nil)
        Thread.sleep(forTimeInterval: 1)
        _ = lk_mpi_abort(code)
        _exit(code)  // not exit: the watchdog calls this beside a main thread blocked in MPI, whose exit handlers could wait on it
    }

    /// MPI_Finalize: every rank calls it once, last, with the code it then exits with. After a run that succeeded, the
    /// ranks first meet in a barrier (under the collective timeout, as every collective), so each has finished its
    /// work. MPI_Finalize itself then runs under a deadline of the same timeout; past it the rank says so in one line
    /// and exits with `exitCode`. MPICH over UCX's TCP transport can hang in its teardown after all the work is done:
    /// one rank waits for a flush that its peer, already in the launcher's final barrier, never answers
    /// (openucx/ucx#8738; seen in the multinode check on 2026-12-05, both ranks in MPI_Finalize for minutes).
    public func finalize(exitCode: Int32 = 0) {
        if exitCode == 0 { try? collective("MPI_Barrier") { lk_mpi_barrier() } }
        let timeout = watchdog.timeout, rank = rank
        if timeout > 0 {
            let deadline = Thread {
                Thread.sleep(forTimeInterval: timeout)
                let line = "latentkit: rank \(rank) (\(Communicator.hostName())): MPI_Finalize has not returned in \(String(format: "%g", timeout)) s "
                    + "(LATENTKIT_MPI_TIMEOUT) after the work ended; exiting without it (MPI's transport hung in its teardown)\n"
                FileHandle.standardError.write(Data(line.utf8))
                fflush(nil)
                _exit(exitCode)
            }
            deadline.name = "latentkit MPI finalize deadline"
            deadline.start()
        }
        _ = lk_mpi_finalize()
    }
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

/// A sum over the ranks in flight (``Communicator/startSum(_:)``).
public final class PendingSum {
    fileprivate var request: OpaquePointer?
    fileprivate init(request: OpaquePointer) { self.request = request }
}

/// Ends the job when a collective has waited longer than its timeout. MPI over TCP notices a dead peer only when a
/// connection breaks: a killed process's does at once, but a node whose link is cut, or that hangs, leaves the others
/// waiting in a collective for as long as TCP retransmits (many minutes) or forever. A thread checks once a second how
/// long the collective in progress has waited; past the timeout it prints one line naming this rank and the call, and
/// calls MPI_Abort, which ends every rank that can still be reached (mpirun ends the rest when it exits).
final class CollectiveWatchdog: @unchecked Sendable {
    private let rank: Int
    let timeout: Double
    private let lock = NSLock()
    private var inFlight: (call: String, since: Date)?
    private var started = false

    init(rank: Int, timeout: Double) {
        self.rank = rank
        self.timeout = timeout
    }

    func guarding(_ call: String, _ body: () -> Int32) -> Int32 {
        guard timeout > 0 else { return body() }
        lock.lock()
        inFlight = (call, Date())
        if !started {
            started = true
            let thread = Thread { [self] in watch() }
            thread.name = "latentkit MPI watchdog"
            thread.start()
        }
        lock.unlock()
        defer {
            lock.lock()
            inFlight = nil
            lock.unlock()
        }
        return body()
    }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: min(1, timeout / 4))
            lock.lock()
            let waiting = inFlight.map { ($0.call, Date().timeIntervalSince($0.since)) }
            lock.unlock()
            guard let (call, seconds) = waiting, seconds > timeout else { continue }
            let line = "Error: rank \(rank) (\(Communicator.hostName())): \(call) has waited \(Int(seconds)) s for the other ranks, more than "
                + "LATENTKIT_MPI_TIMEOUT=\(String(format: "%g", timeout)) s: a rank, its node or the network between them is lost; ending the job\n"
            FileHandle.standardError.write(Data(line.utf8))
            Communicator.abortJob(code: 1)
        }
    }
}
