// What an MPI launcher (Open MPI's mpirun, or a PMI launcher such as MPICH's Hydra) tells the processes it starts, read
// from the environment: the backends use it below any MPI library (the GPU of a local rank, the CPU threads of one).

import Foundation

public enum LaunchEnvironment {
    /// Whether an MPI launcher started this process.
    public static var startedByMPI: Bool { first(["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]) != nil }
    /// Whether it was Open MPI's.
    public static var startedByOpenMPI: Bool { first(["OMPI_COMM_WORLD_SIZE"]) != nil }
    /// This process's rank among the ranks on its machine, when a launcher says.
    public static var localRank: Int? { first(["OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"]) }
    /// The number of ranks on this machine, when a launcher says.
    public static var localSize: Int? { first(["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE"]) }

    private static func first(_ names: [String]) -> Int? {
        let environment = ProcessInfo.processInfo.environment
        return names.lazy.compactMap { environment[$0].flatMap(Int.init) }.first
    }
}
